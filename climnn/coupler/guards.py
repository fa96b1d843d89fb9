"""Guards: a non-finite value, or one outside the host's bounds, stops the step with a
GuardError naming the variable, the column (lat, lon), the level and the value.

The common case costs one pass per array (its sum is finite exactly when every value is,
short of an overflow, which then takes the slow path and finds nothing), plus ``a.min()``
and ``a.max()`` for a bounded one; the offending entry is located only when there is one.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from climnn.coupler.errors import GuardError


def check_arrays(arrays: Mapping[str, np.ndarray], side: str, bounds: Mapping | None,
                 lat: np.ndarray | None, lon: np.ndarray | None) -> None:
    """Raise GuardError for the first array of ``arrays`` (schema name -> (ncol, nlev) or
    (ncol,)) holding a NaN or inf, or a value outside ``bounds[name]`` = (low, high).
    side : "input" or "output" (said in the message)."""
    for name, values in arrays.items():
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is looked into
            total = values.sum()
        if not np.isfinite(total):
            bad = ~np.isfinite(values)
            if bad.any():
                _raise_at(name, values, bad, side, "not finite", lat, lon)
        if bounds and name in bounds:
            low, high = bounds[name]
            if values.min() < low or values.max() > high:
                outside = (values < low) | (values > high)
                _raise_at(name, values, outside, side, f"outside the bounds [{low}, {high}]",
                          lat, lon)


def _raise_at(name: str, values: np.ndarray, bad: np.ndarray, side: str, why: str,
              lat, lon) -> None:
    index = np.unravel_index(int(np.flatnonzero(bad)[0]), values.shape)
    column = int(index[0])
    level = int(index[1]) if values.ndim == 2 else None
    value = float(values[index])
    where = f"column {column}"
    col_lat = None if lat is None else float(lat[column])
    col_lon = None if lon is None else float(lon[column])
    if col_lat is not None or col_lon is not None:
        where += f" (lat {_degrees(col_lat)}, lon {_degrees(col_lon)})"
    if level is not None:
        where += f", level {level}"
    count = int(bad.sum())
    others = f" ({count - 1} more values of {name} too)" if count > 1 else ""
    raise GuardError(f"coupler {side} {name} at {where}: {value!r} is {why}{others}",
                     variable=name, side=side, column=column, level=level, value=value,
                     lat=col_lat, lon=col_lon)


def _degrees(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f} deg"
