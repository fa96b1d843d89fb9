"""Bulk surface fluxes: budgets closed to round-off from the tendencies alone, signs,
a column worked by hand, the implicit limit, dew, and the Reed & Jablonowski drag."""

import numpy as np
import pytest

from gcm.constants import CP, GRAVITY, KAPPA, LV, RD, RV
from gcm.physics import budgets
from gcm.physics.column import ColumnState
from gcm.physics.surface_fluxes import SurfaceFluxes, reed_jablonowski_drag
from gcm.physics.testing import random_columns, realistic_columns, surface_extreme_columns

DT = 1800.0


def lowest_level_column(T=295.0, q=0.012, u=6.0, v=-8.0, sst=300.0, p_n=99000.0,
                        p_top_of_layer=98000.0, ps=1.0e5):
    """A 3-level column whose lowest level has the given values (arrays broadcast)."""
    T, q, u, v, sst = np.broadcast_arrays(*map(np.atleast_1d, (T, q, u, v, sst)))
    n = T.size
    ones = np.ones((n, 1))
    p = np.array([30000.0, 70000.0, p_n]) * ones
    p_half = np.array([0.0, 50000.0, p_top_of_layer, ps]) * ones
    return ColumnState(
        temperature=np.column_stack([230.0 * ones[:, 0], 270.0 * ones[:, 0], T]),
        humidity=np.column_stack([1e-5 * ones[:, 0], 3e-3 * ones[:, 0], q]),
        u=np.column_stack([20.0 * ones[:, 0], 10.0 * ones[:, 0], u]),
        v=np.column_stack([0.0 * ones[:, 0], 0.0 * ones[:, 0], v]),
        pressure=p, pressure_half=p_half, surface_pressure=ps * ones[:, 0],
        sst=sst.astype(float), insolation=np.zeros(n), latitude=np.zeros(n),
        longitude=np.zeros(n), time=0.0)


ALL_COLUMNS = {"random": random_columns(), "realistic": realistic_columns(),
               **surface_extreme_columns()}


@pytest.mark.parametrize("drag_formula", ["constant", "reed_jablonowski"])
@pytest.mark.parametrize("dt", [0.0, DT, 1e9])
@pytest.mark.parametrize("kind", sorted(ALL_COLUMNS))
def test_budgets_close_to_round_off(kind, dt, drag_formula):
    columns = ALL_COLUMNS[kind]
    out = SurfaceFluxes(drag_formula=drag_formula)(columns, dt)
    for field in ("temperature", "humidity", "u", "v"):
        assert np.isfinite(getattr(out, field)).all()
        assert np.all(getattr(out, field)[:, :-1] == 0.0)  # only the lowest level changes
    energy = budgets.energy_residual(columns, out)
    water = budgets.water_residual(columns, out)
    assert np.all(np.abs(energy) <= 1e-12 * budgets.energy_scale(columns, out))
    assert np.all(np.abs(water) <= 1e-12 * budgets.water_scale(columns, out))
    assert np.all(out.precipitation == 0.0)
    assert np.all(columns.humidity + dt * out.humidity >= 0.0)


def test_flux_signs():
    # warm sea under cool, dry, westerly air; then a cold sea under warm, humid easterly air
    warm = lowest_level_column(T=290.0, q=2e-3, u=[10.0], v=[3.0], sst=300.0)
    ex = SurfaceFluxes().exchange(warm, DT)
    assert ex.tendencies.shf[0] > 0 and ex.tendencies.lhf[0] > 0
    assert ex.tendencies.temperature[0, -1] > 0 and ex.tendencies.humidity[0, -1] > 0
    # the stress is the downward momentum flux along the wind; the wind decelerates
    assert ex.taux[0] > 0 and ex.tauy[0] > 0
    assert ex.tendencies.u[0, -1] < 0 and ex.tendencies.v[0, -1] < 0
    cold = lowest_level_column(T=300.0, q=0.03, u=[-10.0], v=[-3.0], sst=285.0)
    ex = SurfaceFluxes().exchange(cold, DT)
    assert ex.tendencies.shf[0] < 0 and ex.tendencies.lhf[0] < 0  # dew
    assert ex.taux[0] < 0 and ex.tendencies.u[0, -1] > 0


def test_explicit_limit_matches_the_bulk_formulae_by_hand():
    T, q, u, v, sst, p_n, ps, dp = 295.0, 0.012, 6.0, -8.0, 300.0, 99000.0, 1.0e5, 2000.0
    speed = np.sqrt(6.0**2 + 8.0**2 + 1.0**2)  # gustiness 1 m/s
    rho = p_n / (RD * T)
    t_a = T * (ps / p_n) ** KAPPA
    es = 610.78 * np.exp(-(LV / RV) * (1.0 / sst - 1.0 / 273.16))
    eps = RD / RV
    qs = eps * es / (ps - (1.0 - eps) * es)
    shf = rho * CP * 1.1e-3 * speed * (sst - t_a)
    lhf = rho * LV * 1.1e-3 * speed * (qs - q)
    taux, tauy = rho * 1.1e-3 * speed * u, rho * 1.1e-3 * speed * v
    assert 10.0 < shf < 200.0 and 50.0 < lhf < 500.0  # plausible tropical values, W m-2

    columns = lowest_level_column(T=T, q=q, u=u, v=v, sst=sst)
    for dt, rtol in ((0.0, 1e-13), (1e-3, 1e-6)):
        ex = SurfaceFluxes().exchange(columns, dt)
        out = ex.tendencies
        np.testing.assert_allclose(out.shf, shf, rtol=rtol)
        np.testing.assert_allclose(out.lhf, lhf, rtol=rtol)
        np.testing.assert_allclose([ex.taux[0], ex.tauy[0]], [taux, tauy], rtol=rtol)
        np.testing.assert_allclose(out.temperature[0, -1], GRAVITY * shf / (CP * dp), rtol=rtol)
        np.testing.assert_allclose(out.humidity[0, -1], GRAVITY * lhf / (LV * dp), rtol=rtol)
        np.testing.assert_allclose(out.u[0, -1], -GRAVITY * taux / dp, rtol=rtol)

    # backward Euler over a finite step: the explicit rate divided by 1 + dt k Pi
    k_heat = GRAVITY * rho * 1.1e-3 * speed / dp
    pi = (ps / p_n) ** KAPPA
    implicit = SurfaceFluxes()(columns, DT)
    np.testing.assert_allclose(implicit.shf, shf / (1.0 + DT * k_heat * pi), rtol=1e-13)


def test_lowest_level_temperature_choice():
    columns = lowest_level_column(T=295.0, sst=300.0)
    adiabatic = SurfaceFluxes()(columns, 0.0).shf[0]
    plain = SurfaceFluxes(adiabatic_surface_air=False)(columns, 0.0).shf[0]
    # T_N brought down to 1000 hPa is warmer than T_N: less sensible heating
    assert 0 < adiabatic < plain
    rho, speed = 99000.0 / (RD * 295.0), np.sqrt(101.0)
    np.testing.assert_allclose(plain, rho * CP * 1.1e-3 * speed * 5.0, rtol=1e-13)


@pytest.mark.parametrize("adiabatic", [True, False])
def test_huge_step_does_not_overshoot(adiabatic):
    rng = np.random.default_rng(2)
    n = 200
    T = rng.uniform(260.0, 310.0, n)
    q = rng.uniform(0.0, 0.03, n)
    u = rng.normal(0.0, 15.0, n)
    v = rng.normal(0.0, 15.0, n)
    sst = rng.uniform(271.0, 305.0, n)
    # a thin lowest layer (2 hPa), where explicit fluxes would overshoot at once
    columns = lowest_level_column(T=T, q=q, u=u, v=v, sst=sst, p_n=99900.0,
                                  p_top_of_layer=99800.0)
    scheme = SurfaceFluxes(drag_formula="reed_jablonowski", adiabatic_surface_air=adiabatic)
    for dt in (DT, 1e6):
        ex = scheme.exchange(columns, dt)
        out = ex.tendencies
        t_new = T + dt * out.temperature[:, -1]
        pi = (1.0e5 / 99900.0) ** KAPPA if adiabatic else 1.0
        t_sea = sst / pi  # the sea's temperature brought to the lowest level
        assert np.all((t_new - T) * (t_new - t_sea) <= 1e-12)
        q_new = q + dt * out.humidity[:, -1]
        assert np.all((q_new - q) * (q_new - ex.surface_humidity) <= 1e-18)
        assert np.all(q_new >= 0.0)
        u_new = u + dt * out.u[:, -1]
        assert np.all(u_new * u >= 0.0) and np.all(np.abs(u_new) <= np.abs(u))
    # and after a very long step the level has reached the sea's values
    out = scheme(columns, 1e9)
    np.testing.assert_allclose(T + 1e9 * out.temperature[:, -1], t_sea, rtol=1e-6)


def test_dew_never_makes_humidity_negative():
    # air far above saturation over a very cold sea, and air with no water at all
    columns = lowest_level_column(T=[300.0, 300.0], q=[0.03, 0.0], u=[30.0, 30.0],
                                  v=[0.0, 0.0], sst=[271.0, 271.0], p_n=99990.0,
                                  p_top_of_layer=99980.0)
    for dt in (1.0, DT, 1e12):
        out = SurfaceFluxes()(columns, dt)
        assert out.lhf[0] < 0 < out.lhf[1]
        assert np.all(columns.humidity[:, -1] + dt * out.humidity[:, -1] >= 0.0)


def test_reed_jablonowski_drag_coefficient():
    speeds = np.array([0.0, 10.0, 19.9, 20.0, 35.0])
    expected = [7e-4, 7e-4 + 6.5e-4, 7e-4 + 6.5e-5 * 19.9, 2e-3, 2e-3]
    np.testing.assert_allclose(reed_jablonowski_drag(speeds), expected, rtol=1e-12)
    columns = lowest_level_column(u=[10.0], v=[0.0])
    ex = SurfaceFluxes(drag_formula="reed_jablonowski", gustiness=0.0).exchange(columns, 0.0)
    rho = 99000.0 / (RD * 295.0)
    np.testing.assert_allclose(ex.taux, rho * (7e-4 + 6.5e-4) * 10.0 * 10.0, rtol=1e-13)


def test_bad_configuration_is_rejected():
    with pytest.raises(ValueError, match="drag_formula"):
        SurfaceFluxes(drag_formula="monin_obukhov")
    with pytest.raises(ValueError, match="gustiness"):
        SurfaceFluxes(gustiness=-1.0)
    with pytest.raises(ValueError, match="time step"):
        SurfaceFluxes()(realistic_columns(ncol=2), -1.0)
