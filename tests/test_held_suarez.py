"""Held & Suarez (1994): the forcing formulas, a short stable symmetric run, and the
long-run climatology (slow)."""

import numpy as np
import pytest

from gcm.config import load_config
from gcm.model import Model
from gcm.physics.column import ColumnState
from gcm.physics.held_suarez import HeldSuarez


def columns(T, p, ps, lat, u=None):
    n = T.shape[0]
    u = np.zeros_like(T) if u is None else u
    return ColumnState(temperature=T, humidity=np.zeros_like(T), u=u, v=-u, pressure=p,
                       pressure_half=np.zeros((n, T.shape[1] + 1)), surface_pressure=ps,
                       sst=np.zeros(n), insolation=np.zeros(n), latitude=lat,
                       longitude=np.zeros(n), time=0.0)


def test_equilibrium_temperature_and_rates_follow_the_paper():
    hs = HeldSuarez()
    lat = np.deg2rad([0.0, 90.0, 0.0, 45.0])
    p = np.array([[1e5], [1e5], [1e4], [5e4]])
    teq = hs.equilibrium_temperature(p[:, 0], lat)
    kappa = 287.04 / 1004.64
    expected = [315.0, 255.0, 200.0,
                (315 - 30 - 10 * np.log(0.5) * 0.5) * 0.5**kappa]
    np.testing.assert_allclose(teq, expected, rtol=1e-12)
    T = teq[:, None] + 10.0  # 10 K warmer than equilibrium everywhere
    u = np.full_like(T, 20.0)
    out = hs(columns(T, p, np.full(4, 1e5), lat, u), 1800.0)
    day = 86400.0
    # surface at the equator: k_T = k_s = 1/4 day; pole surface: cos^4 = 0 -> k_a
    np.testing.assert_allclose(out.temperature[:, 0],
                               -10.0 * np.array([1 / 4, 1 / 40, 1 / 40, 1 / 40]) / day,
                               rtol=1e-12)
    np.testing.assert_allclose(out.u[:, 0], -20.0 * np.array([1, 1, 0, 0]) / day, rtol=1e-12)
    np.testing.assert_allclose(out.v[:, 0], 20.0 * np.array([1, 1, 0, 0]) / day, rtol=1e-12)


def zonal_means(model):
    g = model.grid_state()
    return g["u"].mean(axis=2), g["T"].mean(axis=2)


def test_short_run_is_stable_and_hemispherically_symmetric():
    config = load_config("run/held_suarez.yaml", **{
        "resolution.truncation": 21, "resolution.levels": 10, "resolution.sigma": "equal",
        "time.step_minutes": 40.0})
    model = Model(config)
    for _ in range(int(30 * 86400 / model.dt)):
        model.step()
    model.check_finite()
    u, T = zonal_means(model)
    assert np.abs(T - T[:, ::-1]).max() < 2.0  # K, latitude mirrored
    assert np.abs(u - u[:, ::-1]).max() < 3.0  # m/s
    assert 180 < T.min() and T.max() < 320
    assert u.max() > 10.0  # westerlies have formed


@pytest.mark.slow
def test_climatology_600_days_t42(tmp_path):
    """Zonal-mean zonal wind averaged over days 200-600: westerly jets of 25-35 m/s
    near 40-50 degrees in the upper troposphere of both hemispheres."""
    from gcm.io.history import open_history
    from gcm.simulation import Simulation

    config = load_config("run/held_suarez.yaml")
    Simulation(Model(config), tmp_path / "hs", progress=False).run(600)
    check_held_suarez_jets(open_history(tmp_path / "hs"))


def check_held_suarez_jets(history):
    ua = history["ua"].isel(time=slice(200, None)).mean(["time", "lon"]).load()
    lat, lev = ua["lat"].values, ua["lev"].values
    upper = (lev > 0.15) & (lev < 0.45)
    for hemisphere in (lat > 0, lat < 0):
        jet = ua.values[np.ix_(upper, hemisphere)]
        k, j = np.unravel_index(jet.argmax(), jet.shape)
        assert 25.0 < jet.max() < 35.0
        assert 35.0 < abs(lat[hemisphere][j]) < 52.0
    # weak surface easterlies in the tropics, westerlies in midlatitudes at the surface
    surface = ua.values[-1]
    assert surface[np.abs(lat) < 10].mean() < 0.0
    assert surface[(np.abs(lat) > 35) & (np.abs(lat) < 55)].mean() > 0.0
