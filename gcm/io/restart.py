"""Restart files: the exact model state plus metadata, in one ``.npz`` archive.

A restart file is an uncompressed zip of ``.npy`` members (the ``numpy.savez``
layout), so every array, complex128 and float64 included, is stored bit for bit.
The metadata is JSON, stored as a uint8 array of UTF-8 bytes under the member
``__metadata__``; it holds at least

    time         model time, ISO 8601 string (``cftime.datetime.isoformat()``)
    calendar     CF calendar of ``time`` (e.g. "360_day", "noleap")
    step_count   number of time steps taken
    config       run configuration (``ModelConfig.to_dict()``, or any JSON-serialisable
                 dict for other writers)
    config_hash  ``config_hash(config)`` (gcm.config): the first 16 hex digits of the
                 sha256 of ``json.dumps(config, sort_keys=True)`` with ``time.days``
                 removed, so that a run continued for longer keeps its hash; the same
                 value as ``ModelConfig.digest()`` and the ``config_hash`` attribute of
                 histories and teacher datasets

``restart_metadata`` builds such a dict (every writer of restarts uses it) and
``restart_time`` turns it back into a cftime datetime. Writes go through
gcm.io.atomic: a temporary file in the target directory, fsynced and renamed over the
final name, so a killed process leaves either the previous restart file or the new
one, never a half-written file.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import cftime
import numpy as np

from gcm.config import ModelConfig, config_hash
from gcm.io.atomic import atomic_open

__all__ = [
    "METADATA_KEY",
    "REQUIRED_METADATA",
    "config_hash",
    "latest_restart",
    "load_restart",
    "read_restart_metadata",
    "restart_metadata",
    "restart_time",
    "save_restart",
]

METADATA_KEY = "__metadata__"
REQUIRED_METADATA = ("time", "calendar", "step_count", "config", "config_hash")
FORMAT_VERSION = 1
_ZIP_MAGIC = b"PK\x03\x04"
_ISO_RE = re.compile(r"^(-?\d{4,})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$")


def _json_default(obj):
    """Serialise numpy scalars/arrays and paths as plain JSON values."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"value {obj!r} of type {type(obj).__name__} is not JSON serialisable")


def _canonical_json(obj) -> str:
    """Key-sorted, whitespace-free JSON: equal dicts give equal text."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


def restart_metadata(time: cftime.datetime, step_count: int, config: ModelConfig | dict,
                     **extra) -> dict:
    """Build the metadata dict of a restart at model ``time`` after ``step_count`` steps.

    ``config`` is the run's ModelConfig (stored as its ``to_dict()``) or a plain dict;
    ``extra`` entries (JSON-serialisable, e.g. ``run_id``) are added as they are.
    """
    if isinstance(config, ModelConfig):
        config = config.to_dict()
    elif not isinstance(config, dict):
        raise TypeError(
            f"restart_metadata: config must be a ModelConfig or a dict, found "
            f"{type(config).__name__}"
        )
    return {
        "format_version": FORMAT_VERSION,
        "time": time.isoformat(),
        "calendar": time.calendar,
        "step_count": int(step_count),
        "config": config,
        "config_hash": config_hash(config),
        **extra,
    }


def restart_time(metadata: dict) -> cftime.datetime:
    """Return the model time of restart ``metadata`` as a cftime datetime."""
    text, calendar = metadata.get("time"), metadata.get("calendar")
    match = _ISO_RE.match(text) if isinstance(text, str) else None
    if match is None or not isinstance(calendar, str):
        raise ValueError(
            "restart metadata: expected 'time' as an ISO string like "
            f"'2000-01-30T06:00:00' and a 'calendar', found time={text!r}, "
            f"calendar={calendar!r}"
        )
    *fields, micro = match.groups()
    micro = int((micro or "0").ljust(6, "0"))
    return cftime.datetime(*(int(f) for f in fields), micro, calendar=calendar)


# --------------------------------------------------------------------------- save


def save_restart(path: str | os.PathLike, arrays: dict[str, np.ndarray], metadata: dict) -> None:
    """Write ``arrays`` and ``metadata`` to the restart file ``path`` atomically.

    Parameters
    ----------
    path : path
        Final file name (chosen by the caller); its directory is created if needed.
    arrays : dict of str -> ndarray
        Model state; any shape, any non-object dtype, stored bitwise.
    metadata : dict
        JSON-serialisable; must hold the keys in ``REQUIRED_METADATA``.

    Raises
    ------
    ValueError
        If an array name or dtype cannot be stored or metadata keys are missing.
    """
    path = Path(path)
    members = _members(path, arrays, metadata)
    with atomic_open(path, "wb") as f:
        _write_npz(f, members)


def _members(path: Path, arrays: dict, metadata: dict) -> dict[str, np.ndarray]:
    """Validate inputs and return the archive members, metadata included."""
    missing = [k for k in REQUIRED_METADATA if k not in metadata]
    if missing:
        raise ValueError(
            f"restart {path}: metadata lacks {missing}; expected at least "
            f"{list(REQUIRED_METADATA)} (see gcm.io.restart.restart_metadata)"
        )
    members = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not name or name == METADATA_KEY:
            raise ValueError(
                f"restart {path}: array name {name!r} is not allowed; expected a non-empty "
                f"string other than {METADATA_KEY!r}"
            )
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise ValueError(
                f"restart {path}: array {name!r} has dtype {array.dtype}; object arrays "
                "cannot be stored exactly, expected a numeric dtype"
            )
        members[name] = array
    try:
        text = _canonical_json(metadata)
    except (TypeError, ValueError) as err:
        raise ValueError(f"restart {path}: metadata is not JSON serialisable: {err}") from None
    members[METADATA_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return members


def _write_npz(f, members: dict[str, np.ndarray]) -> None:
    """Write ``members`` to the open binary file ``f`` in the ``np.savez`` layout.

    Written member by member (not with ``np.savez(**arrays)``) so that array
    names such as "file" cannot collide with savez's own keyword arguments.
    """
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, array in members.items():
            with zf.open(f"{name}.npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


# --------------------------------------------------------------------------- load


def load_restart(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Read a restart file written by ``save_restart``.

    Returns
    -------
    arrays : dict of str -> ndarray
        Bitwise the arrays that were saved.
    metadata : dict
        The metadata that was saved (JSON types: tuples come back as lists).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is not a restart file or is corrupted (truncated, bad CRC).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"restart file {path} does not exist")
    if not path.is_file() or _magic(path) != _ZIP_MAGIC:
        raise ValueError(
            f"{path} is not a restart file: expected a .npz (zip) archive written by "
            "gcm.io.restart.save_restart"
        )
    try:
        return _read_npz(path)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as err:
        if isinstance(err, _NotRestartError):
            raise
        raise ValueError(
            f"restart file {path} is corrupted or truncated ({type(err).__name__}: {err})"
        ) from err


class _NotRestartError(ValueError):
    """A readable archive that is not a restart file."""


def _magic(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(len(_ZIP_MAGIC))


def _read_npz(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    # allow_pickle=False: a restart file never needs pickles, and loading one
    # would execute code from the file.
    # The file is opened here, not by np.load, which leaks its handle when the
    # zip directory is unreadable.
    with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
        if METADATA_KEY not in npz.files:
            raise _NotRestartError(
                f"{path} is not a restart file: it has no {METADATA_KEY!r} member "
                f"(members: {sorted(npz.files)})"
            )
        arrays = {name: npz[name] for name in npz.files if name != METADATA_KEY}
        raw = npz[METADATA_KEY]
    metadata = json.loads(raw.tobytes().decode("utf-8"))
    if not isinstance(metadata, dict):
        raise _NotRestartError(f"{path}: metadata is {type(metadata).__name__}, expected a dict")
    return arrays, metadata


def read_restart_metadata(path: str | os.PathLike) -> dict:
    """The metadata of restart file ``path``, without reading its arrays; ValueError
    (naming the file) if it is not a readable restart file."""
    path = Path(path)
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            raw = npz[METADATA_KEY]
        metadata = json.loads(raw.tobytes().decode("utf-8"))
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as err:
        raise ValueError(f"{path} is not a readable restart file "
                         f"({type(err).__name__}: {err})") from None
    if not isinstance(metadata, dict) or "step_count" not in metadata:
        raise ValueError(f"{path}: its metadata has no step_count")
    return metadata


def latest_restart(directory: str | os.PathLike) -> Path:
    """The restart file of ``directory/restart/`` with the most steps (the newest state
    of the run in ``directory``); FileNotFoundError naming the folder if there is none."""
    folder = Path(directory) / "restart"
    files = sorted(folder.glob("restart_*.npz")) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no restart file in {folder}: the run in {directory} wrote "
                                "none before it stopped; start it again")
    return max(files, key=lambda f: int(read_restart_metadata(f)["step_count"]))
