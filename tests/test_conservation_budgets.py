"""The global energy and water budgets of a history on synthetic fields with a known
imbalance."""

import cftime
import numpy as np
import pytest
import xarray as xr

from climnn.diagnostics.conservation import (
    ENERGY_FLUXES,
    conservation_metrics,
    global_budgets,
    global_series,
)
from gcm.constants import LV

NT, NLAT, NLON = 12, 6, 8
LAT = np.degrees(np.arcsin(np.polynomial.legendre.leggauss(NLAT)[0]))


def history(energy_leak_w_m2=0.0, water_leak=0.0, seed=0):
    """Daily snapshots whose content follows its fluxes, plus a leak per interval."""
    rng = np.random.default_rng(seed)
    time = [cftime.Datetime360Day(2000, 1, 1) + np.timedelta64(d, "D").item()
            for d in range(NT)]
    flux_fields = {n: rng.normal(0.0, 50.0, (NT, NLAT, NLON)) for n in ENERGY_FLUXES}
    flux_fields["pr"] = rng.uniform(0.0, 1e-4, (NT, NLAT, NLON))
    w = np.polynomial.legendre.leggauss(NLAT)[1] / 2.0
    glob = {n: (f.mean(axis=2) * w).sum(axis=1) for n, f in flux_fields.items()}
    energy_flux = sum(sign * glob[n] for n, sign in ENERGY_FLUXES.items())
    water_flux = glob["hfls"] / LV - glob["pr"]
    energy = 2.5e9 + np.concatenate([[0.0], np.cumsum(
        (energy_flux[1:] + energy_leak_w_m2) * 86400.0)])
    water = 25.0 + np.concatenate([[0.0], np.cumsum((water_flux[1:] + water_leak) * 86400.0)])
    ds = xr.Dataset({n: (("time", "lat", "lon"), f) for n, f in flux_fields.items()},
                    coords={"time": time, "lat": LAT, "lon": np.arange(NLON) * 45.0})
    ds["atmosphere_energy"] = ("time", energy)
    ds["atmosphere_water"] = ("time", water)
    ds["fixer_energy"] = ("time", np.full(NT, 3.0), {"units": "W m-2"})
    return ds


def test_a_history_whose_content_follows_its_fluxes_closes_both_budgets():
    b = global_budgets(history())
    assert np.abs(b["energy_residual"]).max() < 1e-6  # W m-2, round-off of 2.5e9 J m-2
    assert np.abs(b["water_residual"]).max() < 1e-15


def test_a_leak_shows_as_the_residual_with_its_sign():
    b = global_budgets(history(energy_leak_w_m2=-1.5, water_leak=2e-8))
    assert np.allclose(b["energy_residual"], -1.5, atol=1e-6)
    assert np.allclose(b["water_residual"], 2e-8, atol=1e-15)
    m = conservation_metrics(b, global_series(history()))
    assert m["energy_budget_residual_mean_w_m2"] == pytest.approx(-1.5, abs=1e-6)
    assert m["fixer_energy_mean"] == 3.0


def test_a_history_without_the_fluxes_says_which_are_missing():
    with pytest.raises(KeyError, match="no hfls"):
        global_budgets(history().drop_vars("hfls"))
