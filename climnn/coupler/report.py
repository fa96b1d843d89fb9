"""The budget report of one coupler step: per-column residuals and corrections, and their
summary figures.

Names and units (the corrections in the units of the residual they remove):

    energy_residual        W m-2        the network's energy budget residual (before fixes)
    water_residual         kg m-2 s-1   the network's water budget residual (before fixes)
    negative_humidity_fix  kg m-2 s-1   water added where q + dt PHQ < 0 (enforce)
    water_fix              kg m-2 s-1   water residual removed (enforce; after the above)
    energy_fix             W m-2        energy residual removed by the temperature fix
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UNITS = {"energy_residual": "W m-2", "water_residual": "kg m-2 s-1",
         "negative_humidity_fix": "kg m-2 s-1", "water_fix": "kg m-2 s-1",
         "energy_fix": "W m-2"}


@dataclass(frozen=True)
class Summary:
    """One per-column quantity over all columns of a step.

    mean : global mean (area-weighted when the host gave areas); mean_abs : of |value|,
    same weights; max_abs : largest |value|, at column ``where`` (lat, lon in degrees
    when the host gave them, else None); units : the quantity's units
    """

    mean: float
    mean_abs: float
    max_abs: float
    where: int
    lat: float | None
    lon: float | None
    units: str


@dataclass(frozen=True)
class BudgetReport:
    """mode : "off" | "diagnose" | "enforce"
    columns : name -> (ncol,) float64 per column (names and units: module docstring; empty
        when off; the fixes only when enforce)
    summaries : name -> Summary of the same names
    precipitation_clipped : columns where making precipitation consistent would have made
        it negative (enforce): there PRECT is 0 and the column's moistening was reduced
    """

    mode: str
    columns: dict = field(default_factory=dict)
    summaries: dict = field(default_factory=dict)
    precipitation_clipped: int = 0


def summarize(values: np.ndarray, units: str, area: np.ndarray | None,
              lat: np.ndarray | None, lon: np.ndarray | None) -> Summary:
    """The Summary of (ncol,) ``values``; area (ncol,) m2 or None (equal weights)."""
    magnitude = np.abs(values)
    where = int(np.argmax(magnitude))
    if area is None:
        mean, mean_abs = float(values.mean()), float(magnitude.mean())
    else:
        total = float(area.sum())
        mean, mean_abs = float(area @ values) / total, float(area @ magnitude) / total
    return Summary(mean=mean, mean_abs=mean_abs, max_abs=float(magnitude[where]), where=where,
                   lat=None if lat is None else float(lat[where]),
                   lon=None if lon is None else float(lon[where]), units=units)


def budget_report(mode: str, columns: dict, area, lat, lon,
                  precipitation_clipped: int = 0) -> BudgetReport:
    """The BudgetReport of per-column ``columns`` (names of UNITS)."""
    summaries = {name: summarize(values, UNITS[name], area, lat, lon)
                 for name, values in columns.items()}
    return BudgetReport(mode, columns, summaries, precipitation_clipped)


def report_from_stats(mode: str, names, columns: np.ndarray, stats: np.ndarray, lat, lon,
                      precipitation_clipped: int = 0) -> BudgetReport:
    """The BudgetReport of the rows of ``columns`` (m, ncol), named ``names``, from their
    summary figures ``stats`` (m, 4): mean, mean |value|, largest |value|, its column
    (climnn.coupler.output_blocks.outputs_conserved, the kernel twin of :func:`summarize`)."""
    summaries = {}
    for name, (mean, mean_abs, max_abs, where) in zip(names, stats.tolist(), strict=True):
        where = int(where)
        summaries[name] = Summary(mean=mean, mean_abs=mean_abs, max_abs=max_abs, where=where,
                                  lat=None if lat is None else float(lat[where]),
                                  lon=None if lon is None else float(lon[where]),
                                  units=UNITS[name])
    return BudgetReport(mode, dict(zip(names, columns, strict=True)), summaries,
                        precipitation_clipped)
