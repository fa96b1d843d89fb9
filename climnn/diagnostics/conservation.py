"""Conservation of a run: the global energy and water budgets from its history, and the
time series of the fixers and of the coupler's residuals and corrections.

Budgets (global means per m2, between consecutive history snapshots t0 < t1; the fluxes
are the interval means the history stores for that interval):

    energy: [E(t1) - E(t0)] / (t1 - t0)  vs  FSNT - FLNT - FSNS + FLNS + SHF + LHF   (W m-2)
    water:  [W(t1) - W(t0)] / (t1 - t0)  vs  LHF / Lv - P                         (kg m-2 s-1)

with E = cp T + Lv q + k + Phi_s (``atmosphere_energy``) and W the column water
(``atmosphere_water``). The budget residual, tendency minus boundary fluxes, is what
the model gained or lost inside: for a model that conserves, zero to the accuracy of
the snapshots' time levels; the dynamical core's fixers and the coupler's enforcement
are what make it so, and their series show how hard they worked.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from climnn.diagnostics.mean_climate import latitude_weights
from gcm.constants import LV

#: History series (time,) of global fixers, residuals and corrections, with the
#: history's own units; those absent from a run (e.g. coupler_* in a teacher run) are
#: skipped.
SERIES = ("fixer_energy", "fixer_water", "fixer_mass", "hole_filling",
          "physics_energy_residual", "physics_water_residual",
          "coupler_energy_residual", "coupler_energy_fix", "coupler_energy_fix_abs",
          "coupler_water_residual", "coupler_water_fix", "coupler_water_fix_abs",
          "coupler_negative_humidity_fix")
ENERGY_FLUXES = {"fsnt": 1.0, "flnt": -1.0, "fsns": -1.0, "flns": 1.0, "hfss": 1.0,
                 "hfls": 1.0}


def global_series(ds: xr.Dataset) -> xr.Dataset:
    """The SERIES variables ``ds`` holds, loaded (they are small: one value a snapshot),
    the first snapshot (which holds no interval) dropped."""
    names = [n for n in SERIES if n in ds]
    return ds[names].isel(time=slice(1, None)).compute()


def area_mean(field: xr.DataArray) -> xr.DataArray:
    """Global area mean of (time, lat, lon) with Gaussian or cosine weights -> (time,)."""
    w = xr.DataArray(latitude_weights(field["lat"].values), dims="lat",
                     coords={"lat": field["lat"]})
    return (field.mean("lon") * w).sum("lat")


def global_budgets(ds: xr.Dataset) -> xr.Dataset:
    """Energy and water budgets (time,) per interval, the first snapshot dropped:
    ``energy_tendency``, ``energy_boundary_flux``, ``energy_residual`` (W m-2),
    ``water_tendency``, ``water_boundary_flux``, ``water_residual`` (kg m-2 s-1).
    Needs atmosphere_energy/-water and the fluxes of ENERGY_FLUXES and pr."""
    missing = [n for n in ("atmosphere_energy", "atmosphere_water", "pr", *ENERGY_FLUXES)
               if n not in ds]
    if missing:
        raise KeyError(f"the history has no {', '.join(missing)}: its budgets cannot be "
                       "closed")
    seconds = np.array([(b - a).total_seconds() for a, b in
                        zip(ds["time"].values[:-1], ds["time"].values[1:], strict=False)])
    later = ds.isel(time=slice(1, None))
    fluxes = sum(sign * area_mean(later[n]) for n, sign in ENERGY_FLUXES.items())
    water_flux = area_mean(later["hfls"] / LV - later["pr"])
    out = xr.Dataset(coords={"time": later["time"]})
    for name, stored, flux, units in (("energy", "atmosphere_energy", fluxes, "W m-2"),
                                      ("water", "atmosphere_water", water_flux,
                                       "kg m-2 s-1")):
        content = ds[stored].values
        tendency = np.diff(content) / seconds
        flux = flux.compute().values
        out[f"{name}_tendency"] = ("time", tendency, {"units": units})
        out[f"{name}_boundary_flux"] = ("time", flux, {"units": units})
        out[f"{name}_residual"] = ("time", tendency - flux, {"units": units})
    return out


def conservation_metrics(budgets: xr.Dataset, series: xr.Dataset) -> dict[str, float]:
    """Time means of the budgets' residuals (and their mean absolute values) and of
    each series, named with their units."""
    out = {}
    for name, units in (("energy", "w_m2"), ("water", "kg_m2_s")):
        residual = budgets[f"{name}_residual"].values
        out[f"{name}_budget_residual_mean_{units}"] = float(residual.mean())
        out[f"{name}_budget_residual_mean_abs_{units}"] = float(np.abs(residual).mean())
        out[f"{name}_boundary_flux_mean_{units}"] = float(
            budgets[f"{name}_boundary_flux"].values.mean())
    for name in series.data_vars:
        out[f"{name}_mean"] = float(series[name].values.mean())
    return out
