"""The time split: which time indices of a store each of train / validation / test uses.

Ranges are half-open ``[start, end)`` over the time axis, as fractions of its length or as
ISO dates compared with the store's time coordinate (cftime or numpy datetimes). A time
step belongs to at most one split, so no column of a time step is seen by two of them.
"""

from __future__ import annotations

import numpy as np

from climnn.training.config import SPLITS, SplitConfig, iso_fields, iso_text
from gcm.config import ConfigError


def split_times(split: SplitConfig, times: np.ndarray, source: str = "config",
                required: tuple[str, ...] = ("train", "validation")) -> dict:
    """{split name: int64 array of time indices} for the store's time coordinate ``times``
    (1-d, increasing). Raises ConfigError naming a ``required`` split that selects no time
    step (evaluation requires only the test period)."""
    out = {}
    for name in SPLITS:
        start, end = getattr(split, name)
        if isinstance(start, float):
            n = times.size
            first, last = int(round(start * n)), int(round(end * n))
            chosen = np.arange(first, last, dtype=np.int64)
        else:
            low, high = (_as_time(v, times[0]) for v in (start, end))
            chosen = np.flatnonzero([low <= t < high for t in times]).astype(np.int64)
        if name in required and chosen.size == 0:
            raise ConfigError(
                f"{source}: split.{name}: [{start}, {end}) holds no time step of the store "
                f"({times.size} steps, {times[0]} to {times[-1]})")
        out[name] = chosen
    return out


def _as_time(iso: str, like):
    """ISO text -> a time comparable with ``like`` (a cftime datetime or numpy datetime64)."""
    fields = iso_fields(iso)
    if isinstance(like, np.datetime64):
        return np.datetime64(iso_text(fields))
    return type(like)(*fields, calendar=like.calendar)
