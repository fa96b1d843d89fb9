"""History output of a model run: append snapshots to zarr or per-interval netCDF.

A run writes its history into one output directory::

    DIR/run.json                      run_id and format of the run that owns DIR
    DIR/history.zarr                  format="zarr": one store, one time step per chunk
    DIR/history/history_000000.nc     format="netcdf": one file per append

Every snapshot is an ``xr.Dataset`` with a ``time`` dimension of length 1 whose
coordinate holds cftime datetimes (any calendar). Time is encoded as float64
"days since <date of the first snapshot> 00:00:00" in the calendar of the cftime
objects (xarray writes this as "days since YYYY-MM-DD"). The units are fixed by the
first write and reused by every append, because xarray otherwise picks units from
the first write alone and can silently round later times (pydata/xarray#5969,
#10639). A CF bounds variable of time (named by the ``bounds`` attribute of ``time``,
e.g. ``time_bnds`` of interval means, see gcm.io.cf_metadata) is encoded the same way.

The zarr store carries consolidated metadata (rewritten after every append; a few
milliseconds), so ``xr.open_zarr(DIR / "history.zarr")`` opens it without a warning.
An append grows the arrays, writes the entry's chunks and rewrites the consolidated
metadata last (one atomic file), so plain xarray sees only complete entries at every
moment, even after a kill. ``open_history`` reads the arrays' own metadata.
``truncate_history`` cuts a history back to a restart's time, for a continued run.

Robustness against a killed process:

* netCDF files and ``run.json`` are written under a temporary name and renamed with
  ``os.replace`` (gcm.io.atomic), so a file either is complete or does not exist under
  its final name.
* The zarr store is created in a temporary directory and renamed into place. An
  append that is killed part way can leave the last time entry incomplete; every
  chunk is written even when it equals the fill value (``write_empty_chunks``), so
  an incomplete entry is detectable as a missing chunk. ``open_history`` hides such
  an entry and ``repair_history`` (called when a writer resumes) removes it.

Only numpy, xarray, zarr, netCDF4 and cftime are used; dask is used when it is
installed, to open histories lazily.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.util
import json
import os
import re
import shutil
import uuid
import warnings
from pathlib import Path

import cftime
import numpy as np
import xarray as xr
import zarr

from gcm.io.atomic import atomic_directory, atomic_path, write_json

__all__ = [
    "FORMATS",
    "OutputDirectoryError",
    "OutputWriter",
    "SnapshotError",
    "check_output_directory",
    "new_run_id",
    "open_history",
    "repair_history",
    "truncate_history",
]

FORMATS = ("zarr", "netcdf")
TIME = "time"
RUN_FILE = "run.json"
ZARR_NAME = "history.zarr"
NETCDF_DIR = "history"
_NETCDF_RE = re.compile(r"^history_(\d{6,})\.nc$")
# Writes consolidate the metadata (for plain xr.open_zarr); our own reads use the
# arrays' metadata, which an interrupted append may have left ahead of the consolidated.
_ZARR_WRITE = {"zarr_format": 3, "consolidated": True}
_ZARR_READ = {"zarr_format": 3, "consolidated": False}


class OutputDirectoryError(ValueError):
    """The output directory belongs to another run, or cannot be continued."""


class SnapshotError(ValueError):
    """A snapshot does not fit the history it is appended to."""


def new_run_id() -> str:
    """Return a fresh run id: UTC timestamp plus 8 random hex digits."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------- writer


class OutputWriter:
    """Append model snapshots to the history of one run.

    Parameters
    ----------
    directory : path
        Output directory of the run; created if missing.
    format : {"zarr", "netcdf"}
        History format (see module docstring).
    run_id : str, optional
        Identity of the run; a fresh one (``new_run_id()``) if omitted. Must be
        given with ``resume=True``.
    resume : bool
        Continue the history of the same ``run_id`` already in ``directory``.

    Raises
    ------
    OutputDirectoryError
        If ``directory`` holds another run's history (or history of an unknown
        run), or holds this run's history and ``resume`` is false. Nothing in
        the directory is touched in that case.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        format: str = "zarr",
        run_id: str | None = None,
        resume: bool = False,
    ) -> None:
        if format not in FORMATS:
            raise ValueError(f"OutputWriter: format must be one of {FORMATS}, got {format!r}")
        if resume and run_id is None:
            raise ValueError("OutputWriter: resume=True needs the run_id of the run to continue")
        self.directory = Path(directory)
        self.format = format
        self.run_id = run_id if run_id is not None else new_run_id()
        _claim_directory(self.directory, self.run_id, format, resume)
        self.directory.mkdir(parents=True, exist_ok=True)
        if _read_run_record(self.directory) is None:
            write_json(self.directory / RUN_FILE, self._run_record())
        # State of the history on disk; filled by the first append or by resuming.
        self._units: str | None = None
        self._calendar: str | None = None
        self._schema: dict[str, tuple] | None = None
        self._static: xr.Dataset | None = None
        self._last_time: cftime.datetime | None = None
        self._count = 0  # time entries (zarr) or next file index (netcdf)
        if _history_exists(self.directory, format):
            self._load_state()

    @property
    def path(self) -> Path:
        """Location of the history: the zarr store or the netCDF file directory."""
        name = ZARR_NAME if self.format == "zarr" else NETCDF_DIR
        return self.directory / name

    def append(self, ds: xr.Dataset) -> None:
        """Append one snapshot to the history; it is complete on disk on return.

        Parameters
        ----------
        ds : xr.Dataset
            Dims ("time", ...) with time length 1; the ``time`` coordinate holds
            a cftime datetime later than every time already written. Variables,
            dims, dtypes and time-independent coordinates must match earlier
            snapshots.

        Raises
        ------
        SnapshotError
            If the snapshot is malformed, does not match the history, or is not
            later than the last time written. Nothing is written then.
        """
        time = _snapshot_time(ds)
        ds = _prepare(ds)
        if self._schema is None:
            self._start(ds, time)
        else:
            self._check_fits(ds, time)
            self._write_next(ds)
        self._last_time = time

    # -- internals ---------------------------------------------------------------

    def _run_record(self) -> dict:
        created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        return {"run_id": self.run_id, "format": self.format, "created": created}

    def _start(self, ds: xr.Dataset, time: cftime.datetime) -> None:
        """Write the first snapshot, which fixes units, schema and static fields."""
        self._units = f"days since {time.year:04d}-{time.month:02d}-{time.day:02d} 00:00:00"
        self._calendar = time.calendar
        if self.format == "zarr":
            _zarr_create(self.path, ds, self._encoding(ds))
        else:
            _netcdf_write(self.path, 0, ds, self._encoding(ds))
        self._count = 1
        self._schema = _schema(ds)
        self._static = ds.drop_dims(TIME)

    def _write_next(self, ds: xr.Dataset) -> None:
        if self.format == "zarr":
            # Time-independent variables are already in the store and were
            # checked equal; leaving them out avoids rewriting them each append.
            dynamic = ds.drop_vars(list(ds.drop_dims(TIME).variables))
            try:
                _zarr_append(self.path, dynamic, self._count)
            except BaseException:
                # A failure after xarray resized some arrays would leave a torn
                # last entry that later appends would build on; remove it now.
                with contextlib.suppress(Exception):
                    repair_history(self.directory)
                raise
        else:
            _netcdf_write(self.path, self._count, ds, self._encoding(ds))
        self._count += 1

    def _encoding(self, ds: xr.Dataset) -> dict:
        """Encoding for a write that creates variables: time units, chunks."""
        time_enc = {"units": self._units, "calendar": self._calendar, "dtype": "float64"}
        if self.format == "netcdf":
            # CF: coordinate variables (and their bounds) must not have missing values.
            return {name: {**time_enc, "_FillValue": None} for name in _time_names(ds)}
        enc = {}
        for name, var in ds.variables.items():
            if TIME in var.dims:
                # One time step per chunk: an append only ever creates new chunks.
                chunks = tuple(
                    1 if d == TIME else n for d, n in zip(var.dims, var.shape, strict=True)
                )
                enc[name] = {"chunks": chunks}
        for name in _time_names(ds):
            enc[name].update(time_enc)
        return enc

    def _check_fits(self, ds: xr.Dataset, time: cftime.datetime) -> None:
        """Raise SnapshotError unless ``ds`` can be appended to the history."""
        where = str(self.path)
        if time.calendar != self._calendar:
            raise SnapshotError(
                f"snapshot time {time} is in calendar {time.calendar!r} but {where} "
                f"uses calendar {self._calendar!r}"
            )
        if self._last_time is not None and not time > self._last_time:
            raise SnapshotError(
                f"{where} already holds times up to {self._last_time} ({self._calendar}), "
                f"at or after the snapshot being appended ({time}); nothing was written "
                "and nothing was dropped. The run was probably restarted from a restart "
                "file older than its history: restart from the latest restart file, or "
                "write to a new output directory."
            )
        _check_schema(self._schema, _schema(ds), where)
        _check_static(self._static, ds, where)

    def _load_state(self) -> None:
        """Read units, calendar, schema, static fields and last time of the history."""
        if self.format == "zarr":
            dropped = repair_history(self.directory)
            if dropped:
                warnings.warn(
                    f"{self.path}: dropped {dropped} incomplete time entry left by an "
                    "interrupted append",
                    stacklevel=3,
                )
            with open_history(self.directory) as ds:
                self._adopt(ds, ds[TIME].encoding)
                self._count = ds.sizes[TIME]
        else:
            files = _netcdf_files(self.directory)
            with xr.open_dataset(files[0], decode_times=False, decode_timedelta=False) as first:
                time_attrs = dict(first[TIME].attrs)
            with _open_netcdf_one(files[-1]) as ds:
                self._adopt(ds, time_attrs)
            self._count = _netcdf_index(files[-1]) + 1

    def _adopt(self, ds: xr.Dataset, time_enc: dict) -> None:
        """Take the writer state from an opened history ``ds``."""
        try:
            self._units, self._calendar = time_enc["units"], time_enc["calendar"]
        except KeyError as err:
            raise OutputDirectoryError(
                f"{self.path}: time variable lacks {err.args[0]!r}; expected units and "
                "calendar written by OutputWriter"
            ) from None
        self._schema = _schema(ds)
        self._static = ds.drop_dims(TIME).load()
        self._last_time = ds[TIME].values[-1]


# ------------------------------------------------------------------ directory / run.json


def check_output_directory(directory: str | os.PathLike, run_id: str, fmt: str,
                           resume: bool) -> None:
    """Raise OutputDirectoryError unless run ``run_id`` may write its history in format
    ``fmt`` into ``directory`` (``resume``: continue its history there); reads only."""
    _claim_directory(Path(directory), run_id, fmt, resume)


def _claim_directory(directory: Path, run_id: str, fmt: str, resume: bool) -> None:
    """Raise OutputDirectoryError unless this run may write into ``directory``."""
    record = _read_run_record(directory)
    found = _history_names(directory)
    if record is None:
        if found:
            raise OutputDirectoryError(
                f"output directory {directory} holds {', '.join(found)} but no {RUN_FILE}, "
                "so the run that wrote it is unknown; choose another --out"
            )
        return
    owner = record.get("run_id")
    held = ", ".join(found) if found else "no history yet"
    if owner != run_id:
        raise OutputDirectoryError(
            f"output directory {directory} already holds run {owner!r} ({held}); choose "
            "another --out or pass --restart to continue that run"
        )
    if record.get("format") != fmt:
        raise OutputDirectoryError(
            f"output directory {directory} holds run {owner!r} in format "
            f"{record.get('format')!r} but this writer was asked for {fmt!r}"
        )
    if found and not resume:
        raise OutputDirectoryError(
            f"output directory {directory} already holds run {owner!r} ({held}); pass "
            "--restart to continue that run or choose another --out"
        )


def _read_run_record(directory: Path) -> dict | None:
    """Return the parsed ``run.json`` of ``directory``, or None if there is none."""
    path = directory / RUN_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        raise OutputDirectoryError(
            f"{path} is not valid JSON ({err}); expected a run record"
        ) from None
    if not isinstance(record, dict) or "run_id" not in record:
        raise OutputDirectoryError(f"{path}: expected a JSON object with 'run_id', found {text!r}")
    return record


def _history_names(directory: Path) -> list[str]:
    """Names of the histories (of any format) present in ``directory``."""
    names = []
    if (directory / ZARR_NAME).exists():
        names.append(ZARR_NAME)
    files = _netcdf_files(directory)
    if files:
        names.append(f"{NETCDF_DIR}/ with {len(files)} file(s)")
    return names


def _history_exists(directory: Path, fmt: str) -> bool:
    if fmt == "zarr":
        return (directory / ZARR_NAME).exists()
    return bool(_netcdf_files(directory))


# ----------------------------------------------------------------------- snapshots


def _snapshot_time(ds: xr.Dataset) -> cftime.datetime:
    """Return the single cftime time of snapshot ``ds``; raise SnapshotError if malformed."""
    if not isinstance(ds, xr.Dataset):
        raise SnapshotError(f"snapshot must be an xarray.Dataset, found {type(ds).__name__}")
    if ds.sizes.get(TIME) != 1 or TIME not in ds.coords:
        raise SnapshotError(
            f"snapshot must have a '{TIME}' coordinate of length 1, found dims {dict(ds.sizes)}"
        )
    time = ds[TIME].values[0]
    if not isinstance(time, cftime.datetime):
        raise SnapshotError(
            f"snapshot coordinate '{TIME}' must hold cftime datetimes, found "
            f"{type(time).__module__}.{type(time).__name__} ({time!r})"
        )
    return time


def _time_names(ds: xr.Dataset) -> list[str]:
    """``time`` and its CF bounds variable (if the ``bounds`` attribute names one in ``ds``)."""
    bounds = ds[TIME].attrs.get("bounds")
    return [TIME] + ([bounds] if bounds in ds.variables else [])


def _prepare(ds: xr.Dataset) -> xr.Dataset:
    """Copy of ``ds`` ready to write: no inherited encoding, no time units in attrs."""
    ds = ds.drop_encoding()
    # Units and calendar of time are set by the writer; xarray refuses to encode
    # a variable whose attrs already carry them.
    for name in _time_names(ds):
        var = ds[name].variable.copy(deep=False)
        var.attrs = {k: v for k, v in var.attrs.items() if k not in ("units", "calendar")}
        ds = ds.assign_coords({TIME: var}) if name == TIME else ds.assign({name: var})
    return ds


def _schema(ds: xr.Dataset) -> dict[str, tuple]:
    """Map variable name -> (dims, sizes of non-time dims, dtype) for every variable
    (no dtype for time and its bounds: cftime objects in a snapshot, float64 on disk)."""
    schema = {}
    times = _time_names(ds)
    for name, var in ds.variables.items():
        sizes = tuple(n for d, n in zip(var.dims, var.shape, strict=True) if d != TIME)
        dtype = np.dtype(var.encoding.get("dtype", var.dtype)) if name not in times else None
        schema[str(name)] = (tuple(var.dims), sizes, dtype)
    return schema


def _check_schema(expected: dict, found: dict, where: str) -> None:
    """Raise SnapshotError naming the first variable whose layout differs."""
    for name in sorted(set(found) - set(expected)):
        raise SnapshotError(
            f"snapshot variable {name!r} is not in {where}, which holds "
            f"{sorted(expected)}; all snapshots of a run must have the same variables"
        )
    for name in sorted(set(expected) - set(found)):
        raise SnapshotError(f"snapshot lacks variable {name!r}, which {where} holds")
    for name, (dims, sizes, dtype) in expected.items():
        f_dims, f_sizes, f_dtype = found[name]
        if f_dims != dims:
            raise SnapshotError(
                f"variable {name!r}: {where} holds dims {dims}, the snapshot has dims {f_dims}"
            )
        for dim, n, f_n in zip([d for d in dims if d != TIME], sizes, f_sizes, strict=True):
            if n != f_n:
                raise SnapshotError(
                    f"variable {name!r}: dimension {dim!r} has size {f_n} in the snapshot "
                    f"but {n} in {where}"
                )
        if dtype is not None and f_dtype != dtype:
            raise SnapshotError(
                f"variable {name!r}: {where} holds dtype {dtype}, the snapshot has {f_dtype}"
            )


def _check_static(expected: xr.Dataset, ds: xr.Dataset, where: str) -> None:
    """Raise SnapshotError if a time-independent variable changed value."""
    for name, var in expected.variables.items():
        if not var.equals(ds[name].variable):
            raise SnapshotError(
                f"time-independent variable {name!r} of the snapshot differs from the "
                f"values in {where}; coordinates must not change during a run"
            )


# ---------------------------------------------------------------------------- zarr


def _zarr_create(path: Path, ds: xr.Dataset, encoding: dict) -> None:
    """Create the store at ``path`` from the first snapshot, atomically by rename."""
    with atomic_directory(path) as tmp, _quiet_consolidation():
        ds.to_zarr(tmp, mode="w", encoding=encoding, write_empty_chunks=True, **_ZARR_WRITE)


@contextlib.contextmanager
def _quiet_consolidation():
    """Silence zarr's note that consolidated metadata is not yet in the zarr v3 spec
    (zarr-python and xarray read it; we write it for them)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        yield


def _zarr_time_arrays(group: zarr.Group) -> dict[str, zarr.Array]:
    """Arrays of ``group`` that have a time dimension."""
    return {
        name: arr for name, arr in group.arrays() if TIME in (arr.metadata.dimension_names or ())
    }


def _zarr_lengths(path: Path) -> tuple[int, dict[str, int]]:
    """Return (complete, lengths) of the store at ``path``.

    ``lengths`` maps each time-dependent array to its length along time;
    ``complete`` is the number of leading time entries present in every array.
    Only the entry of an interrupted append can be incomplete, since an append
    adds one entry and every chunk is written.
    """
    group = zarr.open_group(path, mode="r", zarr_format=3, use_consolidated=False)
    arrays = _zarr_time_arrays(group)
    lengths = {n: a.shape[a.metadata.dimension_names.index(TIME)] for n, a in arrays.items()}
    shortest = min(lengths.values())
    if len(set(lengths.values())) > 1:
        # Killed between resizing arrays: the short ones were not touched yet.
        return shortest, lengths
    if any(a.nchunks_initialized < a.nchunks for a in arrays.values()):
        return shortest - 1, lengths
    return shortest, lengths


def _zarr_append(path: Path, ds: xr.Dataset, index: int) -> None:
    """Write ``ds`` (time-dependent variables only) as time entry ``index`` of the store.

    Order, so that plain ``xr.open_zarr`` (which reads the consolidated metadata) sees
    only complete entries at every moment: the arrays' own metadata is grown first, the
    chunks of the entry are written next (a region write: xarray's append rewrites the
    root group, consolidated metadata included, before it resizes the arrays, which
    left readers with arrays of different lengths), and the consolidated metadata,
    which makes the entry visible, last (one atomic file replacement).
    """
    group = zarr.open_group(path, mode="r+", zarr_format=3, use_consolidated=False)
    for arr in _zarr_time_arrays(group).values():
        _resize_time(arr, index + 1)
    # without its index, since xarray leaves index coordinates out of region writes
    ds.drop_indexes(TIME).to_zarr(path, region={TIME: slice(index, index + 1)},
                                  mode="r+", write_empty_chunks=True, zarr_format=3,
                                  consolidated=False)
    with _quiet_consolidation():
        zarr.consolidate_metadata(group.store, zarr_format=3)


def _resize_time(arr: zarr.Array, length: int) -> None:
    """Give ``arr`` ``length`` entries along time (chunks beyond it are deleted)."""
    shape = list(arr.shape)
    shape[arr.metadata.dimension_names.index(TIME)] = length
    arr.resize(tuple(shape))


def repair_history(directory: str | os.PathLike) -> int:
    """Remove an incomplete last time entry left in the zarr history by a kill, and
    rewrite the store's consolidated metadata from the arrays' own.

    Parameters
    ----------
    directory : path
        Output directory holding ``history.zarr``. netCDF histories never need
        repair (each file is renamed into place complete), so 0 is returned.

    Returns
    -------
    int
        Number of time entries removed (0 or 1).
    """
    path = Path(directory) / ZARR_NAME
    if not path.exists():
        return 0
    complete, lengths = _zarr_lengths(path)
    group = zarr.open_group(path, mode="r+", zarr_format=3, use_consolidated=False)
    if complete < max(lengths.values()):
        for arr in _zarr_time_arrays(group).values():
            _resize_time(arr, complete)
    # also when nothing was cut: a kill after the last array grew but before the
    # consolidation leaves the consolidated metadata one entry behind
    with _quiet_consolidation():
        zarr.consolidate_metadata(group.store, zarr_format=3)
    return max(lengths.values()) - complete


def truncate_history(directory: str | os.PathLike, time: cftime.datetime) -> int:
    """Remove every entry after ``time`` from the history in ``directory`` (and an
    incomplete one a kill left), so that a run continued from a restart of ``time``
    appends to it; returns the number of entries removed.

    zarr: the time arrays are cut to the entries at or before ``time`` and the
    consolidated metadata rewritten; netCDF: the files after ``time`` are deleted,
    newest first, so that a kill in between leaves a history without gaps.
    """
    directory = Path(directory)
    removed = repair_history(directory)
    if (directory / ZARR_NAME).exists():
        return removed + _truncate_zarr(directory / ZARR_NAME, time)
    for path in reversed(_netcdf_files(directory)):
        with _open_netcdf_one(path) as ds:
            if ds[TIME].values[0] <= time:
                break
        path.unlink()
        removed += 1
    return removed


def _truncate_zarr(path: Path, time: cftime.datetime) -> int:
    with xr.open_dataset(path, engine="zarr", **_decode_kw(), **_ZARR_READ) as ds:
        times = ds[TIME].values
    keep = int(np.count_nonzero(times <= time))
    if keep == len(times):
        return 0
    if keep == 0:  # a restart before the first entry: the whole store goes
        shutil.rmtree(path)
        return len(times)
    group = zarr.open_group(path, mode="r+", zarr_format=3, use_consolidated=False)
    for arr in _zarr_time_arrays(group).values():
        _resize_time(arr, keep)
    with _quiet_consolidation():
        zarr.consolidate_metadata(group.store, zarr_format=3)
    return len(times) - keep


def _open_zarr_history(path: Path) -> xr.Dataset:
    complete, lengths = _zarr_lengths(path)
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"{path} was interrupted in the middle of an append: arrays have different "
            f"lengths along '{TIME}' ({lengths}); call gcm.io.history.repair_history"
            f"({str(path.parent)!r}) or resume the run to drop the incomplete entry"
        )
    ds = xr.open_dataset(path, engine="zarr", chunks=_chunks(), **_decode_kw(), **_ZARR_READ)
    if complete < ds.sizes[TIME]:
        warnings.warn(
            f"{path}: hiding the incomplete last time entry of an interrupted append",
            stacklevel=3,
        )
        ds = ds.isel({TIME: slice(0, complete)})
    return ds


# -------------------------------------------------------------------------- netCDF


def _netcdf_files(directory: Path) -> list[Path]:
    """History files of ``directory`` sorted by index (temporary files excluded)."""
    folder = directory / NETCDF_DIR
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if _NETCDF_RE.match(p.name)]
    return sorted(files, key=_netcdf_index)


def _netcdf_index(path: Path) -> int:
    return int(_NETCDF_RE.match(path.name).group(1))


def _netcdf_write(folder: Path, index: int, ds: xr.Dataset, encoding: dict) -> None:
    """Write ``ds`` to ``folder/history_{index:06d}.nc`` via a temporary file."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"history_{index:06d}.nc"
    with atomic_path(final) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding, unlimited_dims=[TIME])


def _open_netcdf_one(path: Path) -> xr.Dataset:
    return xr.open_dataset(path, engine="netcdf4", **_decode_kw())


def _open_netcdf_history(files: list[Path]) -> xr.Dataset:
    # The writer already checked that time-independent variables agree, so they
    # are taken from the first file instead of being compared again.
    combine = {"data_vars": "minimal", "coords": "minimal", "compat": "override"}
    if _chunks() is not None:
        return xr.open_mfdataset(
            files,
            combine="nested",
            concat_dim=TIME,
            join="exact",
            engine="netcdf4",
            **combine,
            **_decode_kw(),
        )
    # Without dask, open_mfdataset is unavailable: load each file and concatenate.
    parts = []
    for path in files:
        with _open_netcdf_one(path) as part:
            parts.append(part.load())
    return xr.concat(parts, dim=TIME, join="exact", combine_attrs="override", **combine)


# -------------------------------------------------------------------------- reading


def _chunks() -> dict | None:
    """Lazy dask chunks when dask is installed, else None (xarray's lazy arrays)."""
    return {} if importlib.util.find_spec("dask") is not None else None


def _decode_kw() -> dict:
    # cftime for every calendar, so the time axis has one type whatever the
    # calendar; timedeltas stay numbers with their units attribute.
    return {
        "decode_times": xr.coders.CFDatetimeCoder(use_cftime=True),
        "decode_timedelta": False,
    }


def open_history(directory: str | os.PathLike) -> xr.Dataset:
    """Open the whole history in ``directory`` (zarr or netCDF) as one Dataset.

    Parameters
    ----------
    directory : path
        Output directory of a run written by ``OutputWriter``.

    Returns
    -------
    xr.Dataset
        Lazily loaded; ``time`` decoded to cftime datetimes. An incomplete last
        entry left by an interrupted zarr append is left out (with a warning).

    Raises
    ------
    FileNotFoundError
        If ``directory`` holds no history.
    """
    directory = Path(directory)
    record = _read_run_record(directory) if directory.is_dir() else None
    order = [record["format"]] if record and record.get("format") in FORMATS else []
    for fmt in order + list(FORMATS):
        if _history_exists(directory, fmt):
            if fmt == "zarr":
                return _open_zarr_history(directory / ZARR_NAME)
            return _open_netcdf_history(_netcdf_files(directory))
    raise FileNotFoundError(
        f"no history in {directory}: expected {directory / ZARR_NAME} or "
        f"{directory / NETCDF_DIR}/history_NNNNNN.nc"
    )
