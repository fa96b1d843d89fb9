"""The mean climate of a run against a reference run: zonal and time means, their area-
and mass-weighted bias and RMSE, and global means.

Both runs are gcm histories (gcm.io.history.open_history), read lazily with dask: a
multi-year daily history never has to fit in memory. The comparison covers the last
``years`` of each run (years of the run's own calendar: 360 days in the aquaplanet's
``360_day`` calendar). Weights:

- latitude: the Gaussian quadrature weight of each row when the latitudes are Gaussian
  (gcm's grids), else cos(latitude); both sum to one over the rows;
- level: the layer's share of the column's mass, d(sigma), from ``lev_bnds``.

So the RMSE of a zonal mean (K for ``ta``) is that of the field's mass-weighted global
average of squares: sqrt(sum_jk w_j dsigma_k (a - b)_jk^2).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
import xarray as xr

#: Zonal-mean fields (lev, lat) compared, with their units.
PROFILE_FIELDS = {"ta": "K", "hus": "kg kg-1", "ua": "m s-1"}
#: Surface fields (lat) compared by zonal mean and global mean, with their units.
SURFACE_FIELDS = {"pr": "kg m-2 s-1", "flnt": "W m-2"}
SECONDS_PER_DAY = 86400.0


class ComparisonError(ValueError):
    """Two histories that cannot be compared; the message names what differs."""


@dataclass(frozen=True)
class FieldComparison:
    """One field's zonal-and-time mean in the run and the reference.

    run, reference : xr.DataArray (lev, lat) or (lat,), the zonal and time means
    (reference None when the run is judged alone)
    bias : weighted mean of run - reference; rmse : weighted RMSE (NaN without a
    reference); units : the field's
    """

    name: str
    run: xr.DataArray
    reference: xr.DataArray | None
    bias: float
    rmse: float
    units: str


def last_years(ds: xr.Dataset, years: float, what: str = "run") -> xr.Dataset:
    """The times of ``ds`` in its last ``years`` (the calendar's own year length; the
    first snapshot of a run, which holds no interval mean, is dropped)."""
    times = ds["time"].values
    if times.size < 2:
        raise ComparisonError(f"{what}: the history holds {times.size} time(s); a mean "
                              "climate needs at least two")
    days = years * days_per_year(ds)
    start = times[-1] - datetime.timedelta(days=days)
    keep = np.array([t > start for t in times]) & (np.arange(times.size) > 0)
    covered = (times[-1] - times[0]).total_seconds() / SECONDS_PER_DAY
    if covered < days - 1e-6:
        raise ComparisonError(f"{what}: the history covers {covered:g} days, fewer than "
                              f"the {years:g} years ({days:g} days) asked for")
    return ds.isel(time=np.flatnonzero(keep))


def days_per_year(ds: xr.Dataset) -> float:
    calendar = getattr(ds["time"].values[0], "calendar", "standard")
    return {"360_day": 360.0, "365_day": 365.0, "noleap": 365.0, "366_day": 366.0,
            "all_leap": 366.0}.get(calendar, 365.25)


def latitude_weights(lat: np.ndarray) -> np.ndarray:
    """(nlat,) weights summing to 1: Gaussian quadrature weights on a Gaussian grid (the
    nodes match to 1e-6 degrees), else cos(latitude)."""
    lat = np.asarray(lat, dtype=np.float64)
    nodes, weights = np.polynomial.legendre.leggauss(lat.size)
    gaussian = np.degrees(np.arcsin(nodes))
    order = np.argsort(lat)
    if np.allclose(np.sort(lat), gaussian, atol=1e-6):
        w = np.empty_like(lat)
        w[order] = weights
    else:
        w = np.cos(np.radians(lat))
    return w / w.sum()


def level_weights(ds: xr.Dataset) -> np.ndarray:
    """(nlev,) d(sigma) of each layer from ``lev_bnds``, summing to 1."""
    if "lev_bnds" not in ds:
        raise ComparisonError("the history has no lev_bnds: the layers' masses are unknown")
    bounds = np.asarray(ds["lev_bnds"].values, dtype=np.float64)
    dsigma = np.abs(bounds[:, 1] - bounds[:, 0])
    return dsigma / dsigma.sum()


def zonal_time_mean(da: xr.DataArray) -> xr.DataArray:
    """Mean over time and longitude, computed (dask) into memory."""
    return da.mean(dim=("time", "lon")).compute()


def weighted_bias_rmse(difference: xr.DataArray, lat_w: np.ndarray,
                       lev_w: np.ndarray | None) -> tuple[float, float]:
    """(weighted mean, weighted RMS) of a zonal-mean difference (lev, lat) or (lat,)."""
    d = np.asarray(difference.values, dtype=np.float64)
    w = lat_w if d.ndim == 1 else np.outer(lev_w, lat_w)
    return float((w * d).sum()), float(np.sqrt((w * d * d).sum()))


def check_comparable(run: xr.Dataset, reference: xr.Dataset) -> None:
    """Same latitudes and levels, or one ComparisonError naming the first difference."""
    for coord in ("lat", "lev"):
        a, b = run[coord].values, reference[coord].values
        if a.shape != b.shape or not np.allclose(a, b, atol=1e-6):
            raise ComparisonError(f"the run and the reference differ in {coord}: "
                                  f"{a.size} values against {b.size}"
                                  + ("" if a.shape != b.shape else " (same count, other values)"))


def compare_mean_climate(run: xr.Dataset, reference: xr.Dataset | None, years: float,
                         names: tuple[str, str] = ("run", "reference")
                         ) -> dict[str, FieldComparison]:
    """Each field of PROFILE_FIELDS and SURFACE_FIELDS present in both histories, over
    the last ``years`` of each, by name; ``names`` label the two in error messages.
    Without a reference, the run's means alone (reference None, bias and RMSE NaN)."""
    if reference is not None:
        check_comparable(run, reference)
    run = last_years(run, years, names[0])
    if reference is not None:
        reference = last_years(reference, years, names[1])
    lat_w, lev_w = latitude_weights(run["lat"].values), level_weights(run)
    out = {}
    for name, units in {**PROFILE_FIELDS, **SURFACE_FIELDS}.items():
        if name not in run or (reference is not None and name not in reference):
            continue
        a = zonal_time_mean(run[name])
        if reference is None:
            out[name] = FieldComparison(name, a, None, float("nan"), float("nan"), units)
            continue
        b = zonal_time_mean(reference[name])
        bias, rmse = weighted_bias_rmse(a - b, lat_w, lev_w)
        out[name] = FieldComparison(name, a, b, bias, rmse, units)
    return out


def global_mean(zonal: xr.DataArray) -> float:
    """Area-weighted global mean of a zonal mean (lat,)."""
    return float((latitude_weights(zonal["lat"].values) * zonal.values).sum())


def mean_climate_metrics(comparison: dict[str, FieldComparison]) -> dict[str, float]:
    """Flat figures: ``<name>_bias``, ``<name>_rmse`` for each field, and for the surface
    fields the global means of run and reference and their relative difference."""
    metrics = {}
    for name, c in comparison.items():
        if c.reference is None:
            if name in SURFACE_FIELDS:
                metrics[f"{name}_global_mean"] = global_mean(c.run)
            continue
        metrics[f"{name}_zonal_mean_bias"] = c.bias
        metrics[f"{name}_zonal_mean_rmse"] = c.rmse
        if name in SURFACE_FIELDS:
            run, ref = global_mean(c.run), global_mean(c.reference)
            metrics[f"{name}_global_mean"] = run
            metrics[f"{name}_global_mean_reference"] = ref
            metrics[f"{name}_global_mean_relative_difference"] = (
                (run - ref) / ref if ref != 0.0 else (0.0 if run == ref else float("nan")))
    return metrics
