"""Columns for tests of physics schemes: random ones and realistic tropical and
midlatitude soundings on given sigma levels."""

from __future__ import annotations

import numpy as np

from gcm.constants import P0
from gcm.physics.column import ColumnState
from gcm.physics.saturation import saturation_specific_humidity
from gcm.sigma_coordinates import sigma_coordinates


def realistic_columns(ncol: int = 64, sigma_set: str = "frierson_l25", nlev: int = 25,
                      seed: int = 0, relative_humidity: float | None = None) -> ColumnState:
    """Soundings from pole to pole: a moist-adiabat-like troposphere (6.5 K/km lapse rate
    from a surface temperature following the APE SST), an isothermal stratosphere at
    200 K, relative humidity 0.3-1.0 (random, or fixed), winds of 0-30 m/s; SST within
    2 K of the lowest air temperature."""
    rng = np.random.default_rng(seed)
    sigma = sigma_coordinates(sigma_set, nlev)
    lat = np.linspace(-np.pi / 2 * 0.98, np.pi / 2 * 0.98, ncol)
    ps = P0 * (1.0 + 0.02 * rng.normal(size=ncol))
    p = ps[:, None] * sigma.full[None, :]
    p_half = ps[:, None] * sigma.half[None, :]
    sst = 273.15 + np.where(np.abs(lat) < np.pi / 3, 27.0 * (1 - np.sin(1.5 * lat) ** 2), 0.0)
    t_surface = sst - 1.0 + rng.uniform(-1.0, 1.0, size=ncol)
    # dry-adiabat-ish lapse rate in pressure: T = Ts (p/ps)^(R Gamma/g)
    T = t_surface[:, None] * (p / ps[:, None]) ** (287.04 * 0.0065 / 9.80616)
    T = np.maximum(T, 200.0)
    rh = (rng.uniform(0.3, 1.0, size=T.shape) if relative_humidity is None
          else np.full(T.shape, relative_humidity))
    q = rh * saturation_specific_humidity(T, p)
    q[p < 1e4] = 3e-6  # dry stratosphere
    u = rng.uniform(-10.0, 30.0, size=T.shape)
    v = rng.uniform(-10.0, 10.0, size=T.shape)
    return ColumnState(temperature=T, humidity=q, u=u, v=v, pressure=p, pressure_half=p_half,
                       surface_pressure=ps, sst=sst, insolation=rng.uniform(0, 1360, ncol),
                       latitude=lat, longitude=rng.uniform(0, 2 * np.pi, ncol), time=0.0)


def random_columns(ncol: int = 64, nlev: int = 25, seed: int = 1) -> ColumnState:
    """Columns with random (but physical) temperature 180-320 K, humidity 0-0.03
    kg/kg (some supersaturated), winds, surface pressure 0.9-1.05e5 Pa and random,
    unevenly spaced sigma levels."""
    rng = np.random.default_rng(seed)
    half = np.sort(rng.uniform(0.0, 1.0, size=(ncol, nlev - 1)), axis=1)
    half = np.concatenate([np.zeros((ncol, 1)), half, np.ones((ncol, 1))], axis=1)
    full = 0.5 * (half[:, 1:] + half[:, :-1])
    ps = rng.uniform(0.9e5, 1.05e5, size=ncol)
    T = rng.uniform(180.0, 320.0, size=(ncol, nlev))
    q = rng.uniform(0.0, 0.03, size=(ncol, nlev))
    return ColumnState(
        temperature=T, humidity=q, u=rng.normal(0, 15, (ncol, nlev)),
        v=rng.normal(0, 10, (ncol, nlev)), pressure=ps[:, None] * full,
        pressure_half=ps[:, None] * half, surface_pressure=ps,
        sst=rng.uniform(270.0, 305.0, ncol), insolation=rng.uniform(0, 1400, ncol),
        latitude=rng.uniform(-np.pi / 2, np.pi / 2, ncol),
        longitude=rng.uniform(0, 2 * np.pi, ncol), time=0.0,
    )


def surface_extreme_columns() -> dict[str, ColumnState]:
    """Columns at the edges of what a surface or boundary-layer scheme meets, by name:
    saturated, bone dry, very cold air over a freezing sea, calm (no wind), and a sea
    10 K warmer than usual (a strongly unstable surface layer)."""
    saturated = realistic_columns(relative_humidity=1.0, seed=4)
    dry = realistic_columns(seed=5)
    dry.humidity[:] = 0.0
    cold = realistic_columns(seed=6)
    cold.temperature = np.maximum(cold.temperature - 80.0, 150.0)
    cold.humidity[:] = 1e-7
    cold.sst = np.full(cold.ncol, 271.0)
    calm = realistic_columns(seed=7)
    calm.u[:] = 0.0
    calm.v[:] = 0.0
    warm_sea = realistic_columns(seed=8)
    warm_sea.sst = warm_sea.sst + 10.0
    return {"saturated": saturated, "bone_dry": dry, "very_cold": cold, "calm": calm,
            "warm_sea": warm_sea}


def set_relative_humidity(columns: ColumnState, rh) -> ColumnState:
    """``columns`` with q = rh q_s(T, p) (rh broadcast to (ncol, nlev)) and a dry
    stratosphere (3e-6 kg/kg above 100 hPa); modified in place and returned."""
    q = rh * saturation_specific_humidity(columns.temperature, columns.pressure)
    q[columns.pressure < 1e4] = 3e-6
    columns.humidity = q
    return columns


def assert_column_budgets_close(columns: ColumnState, out, frictional_heating: bool = False,
                                rtol: float = 1e-12) -> None:
    """Assert the DESIGN.md energy and water budgets close in every column to ``rtol`` of
    their largest term (gcm.physics.budgets), with finite tendencies and P >= 0."""
    from gcm.physics import budgets

    for field in (out.temperature, out.humidity, out.precipitation):
        assert np.all(np.isfinite(field))
    energy = budgets.energy_residual(columns, out, frictional_heating=frictional_heating)
    water = budgets.water_residual(columns, out)
    assert np.all(np.abs(energy) <= rtol * budgets.energy_scale(columns, out))
    assert np.all(np.abs(water) <= rtol * budgets.water_scale(columns, out))
    assert np.all(out.precipitation >= 0.0)
