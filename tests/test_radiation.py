"""Gray two-stream radiation: column energy budget, transparent and one-layer limits,
isothermal and radiative-equilibrium analytic solutions, shortwave bookkeeping, and
the water-vapour optical depth."""

from dataclasses import replace

import numpy as np
import pytest

from gcm.physics import budgets
from gcm.physics.column import ColumnState
from gcm.physics.insolation import Insolation
from gcm.physics.radiation import STEFAN_BOLTZMANN as SIGMA
from gcm.physics.radiation import GrayRadiation
from gcm.physics.testing import random_columns, realistic_columns

SCHEMES = {
    "frierson": GrayRadiation(),
    "frierson_sw": GrayRadiation(tau_sw=0.2),
    "water_vapour": GrayRadiation(longwave="water_vapour"),
    "water_vapour_sw": GrayRadiation(longwave="water_vapour", tau_sw=0.22, sw_exponent=2.0),
}


def make_columns(T, p_half, sst, lat=None, q=None, solin=None):
    """Columns with given temperature (ncol, nlev) and interfaces (ncol, nlev + 1)."""
    ncol = T.shape[0]
    return ColumnState(
        temperature=T, humidity=np.zeros_like(T) if q is None else q,
        u=np.zeros_like(T), v=np.zeros_like(T),
        pressure=0.5 * (p_half[:, 1:] + p_half[:, :-1]), pressure_half=p_half,
        surface_pressure=p_half[:, -1].copy(), sst=np.asarray(sst, dtype=float),
        insolation=np.zeros(ncol) if solin is None else np.asarray(solin, dtype=float),
        latitude=np.zeros(ncol) if lat is None else np.asarray(lat, dtype=float),
        longitude=np.zeros(ncol), time=0.0)


def extreme_columns():
    """Saturated, bone-dry, very cold, very hot, dark and thin-layered columns."""
    cases = [realistic_columns(32, relative_humidity=1.0, seed=3),
             realistic_columns(32, relative_humidity=0.0, seed=4)]
    cold = realistic_columns(32, seed=5)
    cold.temperature[:] = 150.0
    cold.sst[:] = 200.0
    cold.humidity[:] = 0.0
    hot = random_columns(32, seed=6)
    hot.temperature += 60.0
    hot.sst[:] = 340.0
    hot.insolation[:] = 0.0
    thin = random_columns(16, nlev=60, seed=7)
    thin.pressure_half[:, 1:4] = thin.pressure_half[:, 1:2]  # two empty layers
    return cases + [cold, hot, thin]


def all_columns():
    return [realistic_columns(), random_columns(), *extreme_columns()]


@pytest.mark.parametrize("name", SCHEMES)
def test_energy_budget_closes_to_round_off_and_nothing_else_is_touched(name):
    scheme = SCHEMES[name]
    dt = 1800.0
    for columns in all_columns():
        out = scheme(columns, dt)
        for field in (out.temperature, out.fsnt, out.fsns, out.flnt, out.flns):
            assert np.all(np.isfinite(field))
        energy = budgets.energy_residual(columns, out)
        assert np.all(np.abs(energy) <= 1e-12 * budgets.energy_scale(columns, out))
        water = budgets.water_residual(columns, out)
        assert np.all(np.abs(water) <= 1e-12 * budgets.water_scale(columns, out))
        assert np.all(columns.humidity + out.humidity * dt >= 0.0)
        for untouched in (out.humidity, out.u, out.v, out.precipitation, out.shf, out.lhf):
            assert not untouched.any()


def test_transparent_atmosphere_emits_the_surface_and_does_not_heat():
    columns = random_columns()
    out = GrayRadiation(tau_equator=0.0, tau_pole=0.0)(columns, 0.0)
    np.testing.assert_allclose(out.flnt, SIGMA * columns.sst**4, rtol=1e-14)
    np.testing.assert_allclose(out.flns, SIGMA * columns.sst**4, rtol=1e-14)
    assert not out.temperature.any()


@pytest.mark.parametrize("latitude", [0.0, np.pi / 4, np.pi / 2])
def test_one_layer_matches_the_slab_solution(latitude):
    Ts, T = 300.0, 260.0
    columns = make_columns(np.array([[T]]), np.array([[0.0, 1e5]]), [Ts], lat=[latitude])
    tau = 6.0 + (1.5 - 6.0) * np.sin(latitude) ** 2  # f_l s + (1 - f_l) s^4 = 1 at s = 1
    out = GrayRadiation()(columns, 0.0)
    olr = SIGMA * Ts**4 * np.exp(-tau) + SIGMA * T**4 * (1 - np.exp(-tau))
    back = SIGMA * T**4 * (1 - np.exp(-tau))
    assert out.flnt[0] == pytest.approx(olr, rel=1e-13)
    assert out.flns[0] == pytest.approx(SIGMA * Ts**4 - back, rel=1e-13)


def test_isothermal_atmosphere_matches_the_exact_solution_on_any_levels():
    """For uniform B the solution depends on the total optical depth only."""
    columns = random_columns(seed=11)
    T = 230.0
    columns.temperature[:] = T
    scheme = GrayRadiation()
    tau = scheme.longwave_optical_depth(columns)[:, -1]
    tau0 = 6.0 - 4.5 * np.sin(columns.latitude) ** 2
    np.testing.assert_allclose(tau, tau0, rtol=1e-13)
    out = scheme(columns, 0.0)
    trans = np.exp(-tau0)
    np.testing.assert_allclose(
        out.flnt, SIGMA * columns.sst**4 * trans + SIGMA * T**4 * (1 - trans), rtol=1e-12)
    np.testing.assert_allclose(
        out.flns, SIGMA * columns.sst**4 - SIGMA * T**4 * (1 - trans), rtol=1e-12)


def radiative_equilibrium_error(nlev, olr=240.0):
    """Gray two-stream radiative equilibrium (no diffusivity factor): with tau counted
    from the top, B = F (1 + tau)/2, U = F (1 + tau/2), D = F tau/2; returns the largest
    relative departure of the net upward flux from F, and the largest heating rate."""
    scheme = GrayRadiation()
    p_half = np.linspace(0.0, 1e5, nlev + 1)[None, :]
    probe = make_columns(np.full((1, nlev), 250.0), p_half, [290.0])
    tau = scheme.longwave_optical_depth(probe)
    tau_mid = 0.5 * (tau[:, 1:] + tau[:, :-1])
    T = (olr * (1 + tau_mid) / 2 / SIGMA) ** 0.25
    sst = (olr * (1 + tau[:, -1] / 2) / SIGMA) ** 0.25
    columns = make_columns(T, p_half, sst)
    fluxes = scheme.fluxes(columns)
    net = fluxes.lw_up - fluxes.lw_down
    heating = scheme(columns, 0.0).temperature
    return np.abs(net / olr - 1).max(), np.abs(heating).max()


def test_radiative_equilibrium_is_reached_with_second_order_accuracy():
    coarse, heating_coarse = radiative_equilibrium_error(100)
    fine, heating_fine = radiative_equilibrium_error(400)
    assert fine < 2e-4
    assert heating_fine * 86400 < 0.01  # K/day
    assert coarse / fine > 12.0  # ~16 for second order


@pytest.mark.parametrize("longwave", ["frierson", "water_vapour"])
def test_global_mean_olr_of_realistic_columns_is_earthlike(longwave):
    columns = realistic_columns(128)
    columns.insolation = Insolation(profile="frierson")(columns.latitude, 0.0, 0.0)
    out = GrayRadiation(longwave=longwave)(columns, 0.0)
    weights = np.cos(columns.latitude)
    mean_olr = (out.flnt * weights).sum() / weights.sum()
    assert 200.0 < mean_olr < 300.0
    # the troposphere cools radiatively on average
    assert budgets.column_integral(out.temperature, columns.thickness).mean() < 0.0


def test_shortwave_bookkeeping():
    columns = random_columns()
    solin = columns.insolation
    out = GrayRadiation()(columns, 0.0)
    np.testing.assert_allclose(out.fsns, (1 - 0.31) * solin, rtol=1e-14)
    np.testing.assert_allclose(out.fsnt, out.fsns, rtol=1e-14)  # nothing absorbed aloft
    # with absorption: Beer's law to the surface, reflection escapes untouched
    scheme = GrayRadiation(tau_sw=0.2)
    out = scheme(columns, 0.0)
    reach = solin * np.exp(-0.2)
    np.testing.assert_allclose(out.fsns, (1 - 0.31) * reach, rtol=1e-13)
    np.testing.assert_allclose(out.fsnt, solin - 0.31 * reach, rtol=1e-13)
    fluxes = scheme.fluxes(columns)
    assert np.all(fluxes.sw_up == 0.31 * reach[:, None])
    # the downward beam only weakens: shortwave heats every layer
    assert np.all(np.diff(fluxes.sw_down, axis=1) <= 0.0)


def test_water_vapour_optical_depth_and_drier_columns_emit_more():
    columns = realistic_columns(64, relative_humidity=0.8)
    scheme = GrayRadiation(longwave="water_vapour")
    # dtau = (a + b q) dp/ps summed over the column
    tau = scheme.longwave_optical_depth(columns)[:, -1]
    ps = columns.pressure_half[:, -1]
    expected = 0.8678 + 1997.9 * (columns.humidity * columns.thickness).sum(axis=1) / ps
    np.testing.assert_allclose(tau, expected, rtol=1e-12)
    olr_moist = scheme(columns, 0.0).flnt
    columns.humidity *= 0.5
    olr_dry = scheme(columns, 0.0).flnt
    assert np.all(olr_dry > olr_moist)
    # negative humidity (a network's) absorbs like dry air rather than amplifying
    columns.humidity[:] = -1e-3
    negative = scheme(columns, 0.0)
    columns.humidity[:] = 0.0
    assert np.array_equal(negative.flnt, scheme(columns, 0.0).flnt)
    # the prescribed (Frierson) optical depth ignores humidity
    frierson = GrayRadiation()
    assert np.array_equal(frierson(columns, 0.0).flnt,
                          frierson(realistic_columns(64, relative_humidity=0.8), 0.0).flnt)


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="longwave"):
        GrayRadiation(longwave="byrne")
    with pytest.raises(ValueError, match="albedo"):
        GrayRadiation(albedo=1.5)


@pytest.mark.parametrize("name", SCHEMES)
def test_boundary_fluxes_are_the_interface_fluxes_and_views_read_like_copies(name):
    """__call__ keeps the interface fluxes in scratch: its four boundary fluxes must be
    those of fluxes(), and the model's transposed views must give the C-ordered result."""
    scheme = SCHEMES[name]
    columns = realistic_columns(70, relative_humidity=0.8)
    views = replace(columns, **{field: np.asfortranarray(getattr(columns, field))
                                for field in ("temperature", "humidity")})
    out = scheme(views, 0.0)
    fl = scheme.fluxes(columns)
    np.testing.assert_array_equal(out.fsnt, fl.sw_down[:, 0] - fl.sw_up[:, 0])
    np.testing.assert_array_equal(out.fsns, fl.sw_down[:, -1] - fl.sw_up[:, -1])
    np.testing.assert_array_equal(out.flnt, fl.lw_up[:, 0] - fl.lw_down[:, 0])
    np.testing.assert_array_equal(out.flns, fl.lw_up[:, -1] - fl.lw_down[:, -1])
    np.testing.assert_array_equal(out.temperature, scheme(columns, 0.0).temperature)
