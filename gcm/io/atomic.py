"""Atomic writes: a file or a directory appears under its final name complete, or not at all.

Every writer of the project that publishes a file or a store (history files and
``run.json``, restart files, the zarr history when it is created, the climnn column
stores) goes through this module:

* ``atomic_path(final)`` yields a temporary path beside ``final``; when the block ends
  normally the file is fsynced and renamed over ``final`` with ``os.replace`` and the
  directory is fsynced, so the rename survives a crash. On an exception the temporary
  file is removed and ``final`` is untouched. ``atomic_open`` is the same with an open
  file; ``write_json`` writes a JSON document this way.
* ``atomic_directory(final)`` yields a temporary directory beside ``final`` that is
  renamed into place by ``publish_directory`` when the block ends normally.

A process killed at any point leaves either the old content or the new one under the
final name (plus, at worst, a hidden ``.NAME.*.tmp`` leftover). The files inside a
published directory are not fsynced one by one (a store has thousands of chunks), so
after a power failure a directory store may need its writer's repair.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "atomic_directory",
    "atomic_open",
    "atomic_path",
    "fsync_dir",
    "publish_directory",
    "write_json",
]


def fsync_dir(path: str | os.PathLike) -> None:
    """Make renames in directory ``path`` durable (a no-op where directories cannot be
    opened, e.g. on Windows)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_file(path: str | os.PathLike) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path in the directory of ``final`` (created if missing);
    on normal exit the file is fsynced and renamed over ``final``."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _fsync_file(tmp)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(final.parent)


@contextlib.contextmanager
def atomic_open(final: str | os.PathLike, mode: str = "wb", **kwargs):
    """``open(tmp, mode, **kwargs)`` on a temporary file that replaces ``final`` when the
    block ends normally (see ``atomic_path``)."""
    with atomic_path(final) as tmp, open(tmp, mode, **kwargs) as f:
        yield f


def write_json(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented, key-sorted JSON (UTF-8, final newline) to ``path``
    atomically."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


@contextlib.contextmanager
def atomic_directory(final: str | os.PathLike, replace: bool = False) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``final``; when the block ends normally
    it becomes ``final`` (see ``publish_directory``), else it is removed."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        publish_directory(tmp, final, replace=replace)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def publish_directory(source: str | os.PathLike, final: str | os.PathLike,
                      replace: bool = False) -> Path:
    """Rename the complete directory ``source`` to ``final`` (same file system) and fsync
    the parent directory.

    With ``replace`` an existing ``final`` is first renamed aside to ``final.replaced``
    and removed after the new directory is in place, so ``final`` is at every moment
    either the old directory, absent for the instant between two renames, or the new one.
    Without it an existing ``final`` raises FileExistsError and nothing is moved.
    """
    source, final = Path(source), Path(final)
    if not final.exists():
        os.rename(source, final)
    elif not replace:
        raise FileExistsError(f"cannot publish {source} as {final}: {final} exists")
    else:
        retired = final.with_name(final.name + ".replaced")
        if retired.exists():
            shutil.rmtree(retired)
        os.rename(final, retired)
        os.rename(source, final)
        shutil.rmtree(retired)
    fsync_dir(final.parent)
    return final
