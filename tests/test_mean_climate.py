"""The mean-climate comparison on fields with known answers: a run against itself, a
uniform offset, one perturbed zonal-mean point, the window of the last years."""

import cftime
import numpy as np
import pytest
import xarray as xr

from climnn.diagnostics.mean_climate import (
    ComparisonError,
    compare_mean_climate,
    last_years,
    latitude_weights,
    mean_climate_metrics,
)

NLAT, NLON, NLEV = 8, 16, 5


def history(days: int, ta_offset=0.0, pr_factor=1.0, seed=0) -> xr.Dataset:
    """A daily history on a Gaussian grid, 360_day calendar; ta varies in time and space."""
    rng = np.random.default_rng(seed)
    lat = np.degrees(np.arcsin(np.polynomial.legendre.leggauss(NLAT)[0]))
    half = np.linspace(0.0, 1.0, NLEV + 1) ** 1.5
    time = [cftime.Datetime360Day(2000, 1, 1) + np.timedelta64(d, "D").item()
            for d in range(days)]
    ta = 250.0 + 30.0 * np.cos(np.radians(lat))[None, None, :, None] \
        + rng.normal(0.0, 1.0, (days, NLEV, NLAT, NLON))
    pr = pr_factor * (1e-5 + 1e-6 * rng.random((days, NLAT, NLON)))
    return xr.Dataset(
        {"ta": (("time", "lev", "lat", "lon"), ta + ta_offset),
         "pr": (("time", "lat", "lon"), pr),
         "lev_bnds": (("lev", "nbnd"), np.stack([half[:-1], half[1:]], axis=1))},
        coords={"time": time, "lat": lat, "lon": np.arange(NLON) * 360.0 / NLON,
                "lev": 0.5 * (half[:-1] + half[1:])}).chunk({"time": 1})


def test_a_run_against_itself_differs_by_nothing():
    ds = history(40)
    metrics = mean_climate_metrics(compare_mean_climate(ds, ds, years=0.1))
    assert metrics["ta_zonal_mean_rmse"] == 0.0 and metrics["pr_zonal_mean_rmse"] == 0.0
    assert metrics["pr_global_mean_relative_difference"] == 0.0


def test_a_uniform_offset_is_the_bias_and_the_rmse():
    metrics = mean_climate_metrics(compare_mean_climate(history(40, ta_offset=2.0),
                                                        history(40), years=0.1))
    assert metrics["ta_zonal_mean_bias"] == pytest.approx(2.0, rel=1e-12)
    assert metrics["ta_zonal_mean_rmse"] == pytest.approx(2.0, rel=1e-12)
    scaled = mean_climate_metrics(compare_mean_climate(history(40, pr_factor=1.1),
                                                       history(40), years=0.1))
    assert scaled["pr_global_mean_relative_difference"] == pytest.approx(0.1, rel=1e-12)


def test_one_perturbed_point_weighs_by_its_mass_and_area():
    ref = history(40)
    run = ref.copy(deep=True)
    run["ta"] = run["ta"].where(~((run.lev == run.lev[3]) & (run.lat == run.lat[2])),
                                run["ta"] + 4.0)
    rmse = compare_mean_climate(run, ref, years=0.1)["ta"].rmse
    dsigma = np.diff(np.linspace(0.0, 1.0, NLEV + 1) ** 1.5)
    expected = 4.0 * np.sqrt(dsigma[3] * latitude_weights(ref.lat.values)[2])
    assert rmse == pytest.approx(expected, rel=1e-12)


def test_the_last_years_are_the_last_days_of_the_calendar_year():
    ds = history(400)
    window = last_years(ds, 1.0)
    assert window.sizes["time"] == 360
    assert window.time.values[-1] == ds.time.values[-1]
    with pytest.raises(ComparisonError, match="covers 399 days, fewer than the 2 years"):
        last_years(ds, 2.0)


def test_gaussian_weights_on_gaussian_latitudes_and_cosine_otherwise():
    nodes, weights = np.polynomial.legendre.leggauss(NLAT)
    assert np.allclose(latitude_weights(np.degrees(np.arcsin(nodes))), weights / 2.0)
    regular = np.linspace(-80.0, 80.0, 9)
    w = latitude_weights(regular)
    assert np.allclose(w, np.cos(np.radians(regular)) / np.cos(np.radians(regular)).sum())


def test_histories_of_other_grids_are_refused():
    small = history(40).isel(lat=slice(0, 6))
    with pytest.raises(ComparisonError, match="differ in lat: 6 values against 8"):
        compare_mean_climate(small, history(40), years=0.1)
