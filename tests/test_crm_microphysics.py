"""Kessler warm rain in the CRM: water and energy budgets closed by the surface precipitation
to round-off, positivity, rain forming and evaporating where it should, sedimentation safe at
any step, the batch kernel against its per-CRM reference, and the whole moist model."""

import numpy as np
import pytest

from gcm.constants import CP, GRAVITY, LV
from gcm.crm import BaseState, Crm, CrmGrid
from gcm.crm.microphysics import (
    Kessler,
    convert_column,
    kessler,
    sediment_column,
    terminal_velocity,
)
from gcm.crm.saturation_adjustment import MoistProfiles, temperature_and_cloud
from gcm.physics.saturation import saturation_specific_humidity


def setting(variable="static_energy", nx=12, nz=16, dz=400.0):
    grid = CrmGrid(nx, nz, 1000.0, dz)
    base = BaseState.constant_n(grid, 300.0, 0.01)
    return grid, base, MoistProfiles.build(variable, base)


def rainy_scalars(grid, base, profiles, ncrm=3, seed=2):
    """Near-saturated air (relative humidity 60–110 % of q_s at T0), some rain aloft."""
    rng = np.random.default_rng(seed)
    shape = (ncrm, grid.nz, grid.nx)
    scalars = np.empty((ncrm, 3, grid.nz, grid.nx))
    t_l = base.t_c[:, None] + rng.uniform(-2.0, 2.0, shape)
    scalars[:, 0] = profiles.field_from_liquid_temperature(t_l)
    qs = saturation_specific_humidity(base.t_c, profiles.pressure)[:, None]
    scalars[:, 1] = qs * rng.uniform(0.6, 1.4, shape)
    scalars[:, 2] = rng.uniform(0.0, 3e-3, shape) * (grid.z_centres > 2000.0)[:, None]
    return scalars


def energy(scalars, grid, profiles):
    """Σ ρ0 dz s_l per CRM and x-column, J m-2, (ncrm, nx): s_l = cp T_l + g z."""
    t_l = profiles.offset[:, None] + profiles.factor[:, None] * scalars[:, 0]
    s_l = CP * t_l + GRAVITY * grid.z_centres[:, None]
    return np.einsum("ckx,k->cx", s_l, profiles.rho * grid.dz)


def water(scalars, grid, profiles):
    """Σ ρ0 dz (q_t + q_r) per CRM and x-column, kg m-2, (ncrm, nx)."""
    return np.einsum("ckx,k->cx", scalars[:, 1] + scalars[:, 2], profiles.rho * grid.dz)


@pytest.mark.parametrize("variable", ["static_energy", "theta"])
def test_budgets_close_with_the_surface_precipitation(variable):
    grid, base, profiles = setting(variable)
    scalars = rainy_scalars(grid, base, profiles)
    precipitation = np.zeros((scalars.shape[0], grid.nx))
    water0, energy0 = water(scalars, grid, profiles), energy(scalars, grid, profiles)
    rain0 = scalars[:, 2].copy()
    for _ in range(60):
        kessler(scalars, precipitation, profiles.offset, profiles.factor, profiles.pressure,
                profiles.rho, grid.dz, 10.0)
        assert scalars[:, 1:].min() >= 0.0
    assert precipitation.min() > 0.1  # kg m-2: it rained in every column
    assert np.abs(scalars[:, 2] - rain0).max() > 1e-4  # and rain moved and formed
    water_error = water(scalars, grid, profiles) - water0 + precipitation
    assert np.max(np.abs(water_error)) < 1e-14 * water0.max()
    energy_error = energy(scalars, grid, profiles) - energy0 - LV * precipitation
    assert np.max(np.abs(energy_error)) < 1e-14 * energy0.max()
    # moist static energy s_l + Lv (q_t + q_r) is conserved outright
    mse = energy(scalars, grid, profiles) + LV * water(scalars, grid, profiles)
    mse0 = energy0 + LV * water0
    assert np.max(np.abs(mse - mse0)) < 1e-14 * mse0.max()


def cloud(profiles, base, cloud_water, rain):
    """Scalars (1, 3, nz, nx) whose adjustment gives T = T0 and q_c = ``cloud_water`` (nx,)
    exactly: q_t = q_s(T0) + q_c and T_l = T0 − Lv (q_c + q_r)/cp; rain (nx,)."""
    qs = saturation_specific_humidity(base.t_c, profiles.pressure)[:, None]
    t_l = base.t_c[:, None] - LV / CP * (cloud_water + rain)[None, :]
    return np.stack([profiles.field_from_liquid_temperature(t_l), qs + cloud_water + 0 * qs,
                     rain + 0 * qs])[None]


def converted(scalars, profiles, dt=10.0):
    """(thermo, qt, qr) of one CRM after ``convert_column``."""
    thermo, qt, qr = (scalars[0, j].copy() for j in range(3))
    convert_column(thermo, qt, qr, profiles.offset, profiles.factor, profiles.pressure,
                   profiles.rho, dt)
    return thermo, qt, qr


def test_rain_forms_in_thick_cloud_and_evaporates_in_dry_air():
    grid, base, profiles = setting(nx=4, nz=4, dz=500.0)
    scalars = cloud(profiles, base, np.array([5e-4, 3e-3, 3e-3, 0.0]),
                    np.array([0.0, 0.0, 1e-3, 0.0]))
    assert np.allclose(temperature_and_cloud(scalars, profiles)[1][0], [5e-4, 3e-3, 3e-3, 0.0],
                       rtol=1e-9)
    thermo, qt, qr = converted(scalars, profiles)
    assert np.array_equal(thermo, scalars[0, 0])  # conversions leave the energy variable alone
    assert np.all(qr[:, 0] == 0)  # cloud water below 1 g/kg: no autoconversion
    assert np.allclose(qr[:, 1], 10.0 * 1e-3 * 2e-3, rtol=1e-12)  # k1 (q_c − a) dt
    assert np.all(qr[:, 2] - 1e-3 > 2 * qr[:, 1])  # with rain: accretion adds more
    assert np.allclose(qt + qr, scalars[0, 1] + scalars[0, 2], rtol=0, atol=1e-17)
    dry = scalars.copy()
    dry[0, 1] *= 0.3  # far below saturation
    dry[0, 2] = 1e-3
    thermo, qt, qr = converted(dry, profiles)
    evaporated = 1e-3 - qr
    assert np.all(evaporated > 1e-6) and np.all(evaporated < 1e-3)
    assert np.allclose(qt - dry[0, 1], evaporated, rtol=0, atol=1e-17)
    nearly = scalars.copy()
    nearly[0, 1] = 0.99 * (scalars[0, 1] - 3e-3)  # 99 % relative humidity, much rain
    nearly[0, 2] = 5e-3
    nearly[0, 0] = profiles.field_from_liquid_temperature(base.t_c[:, None] - LV / CP * 5e-3
                                                          + 0 * nearly[0, 0])
    thermo, qt, qr = converted(nearly, profiles, dt=600.0)
    after = np.stack([thermo, qt, qr])[None]
    assert temperature_and_cloud(after, profiles)[1].max() < 1e-6  # not driven far past


def test_sedimentation_is_positive_and_conservative_at_any_step():
    grid, base, profiles = setting(nx=4, nz=20, dz=100.0)
    qr = np.zeros((grid.nz, grid.nx))
    qr[10:15] = 5e-3
    start = qr.copy()
    rain = np.sum(qr * (profiles.rho * grid.dz)[:, None], axis=0)
    assert terminal_velocity(5e-3, profiles.rho[10], profiles.rho[0]) * 600.0 > 30 * grid.dz
    field = np.zeros((grid.nz, grid.nx))
    precipitation = np.zeros(grid.nx)
    sediment_column(field, qr, precipitation, profiles.factor, profiles.rho, grid.dz, 600.0)
    assert qr.min() >= 0.0
    left = np.sum(qr * (profiles.rho * grid.dz)[:, None], axis=0)
    assert np.allclose(left + precipitation, rain, rtol=1e-14)
    assert np.all(precipitation > 0.5 * rain)  # 1.5 km of fall in 600 s at ≈ 6 m/s
    assert np.allclose(field * CP * profiles.factor[:, None], -LV * (qr - start), atol=1e-12)


def test_terminal_velocity_of_one_gram_per_kilogram_near_the_ground():
    # 36.34 (1e-3 × 1.2 × 1e-3)^0.1364 = 5.66 m/s: KW78's formula, the usual few m/s of rain
    assert terminal_velocity(1e-3, 1.2, 1.2) == pytest.approx(5.66, abs=0.01)
    assert terminal_velocity(0.0, 1.2, 1.2) == 0.0
    assert terminal_velocity(1e-3, 0.6, 1.2) > terminal_velocity(1e-3, 1.2, 1.2)


def test_batch_kernel_equals_the_per_column_ones():
    grid, base, profiles = setting()
    scalars = rainy_scalars(grid, base, profiles)
    batch = scalars.copy()
    precipitation = np.zeros((scalars.shape[0], grid.nx))
    kessler(batch, precipitation, profiles.offset, profiles.factor, profiles.pressure,
            profiles.rho, grid.dz, 30.0)
    for c in range(scalars.shape[0]):
        thermo, qt, qr = (scalars[c, j].copy() for j in range(3))
        rain = np.zeros(grid.nx)
        convert_column(thermo, qt, qr, profiles.offset, profiles.factor, profiles.pressure,
                       profiles.rho, 30.0)
        sediment_column(thermo, qr, rain, profiles.factor, profiles.rho, grid.dz, 30.0)
        # the batch adjusts a row at a time with the vectorizable exp (and Newton stops by
        # rows): to round-off, 1e-12 of the largest water content
        np.testing.assert_allclose(batch[c, 0], thermo, rtol=1e-13, atol=0)
        water_scale = scalars[:, 1].max()
        np.testing.assert_allclose(batch[c, 1:], np.stack([qt, qr]), rtol=0,
                                   atol=1e-12 * water_scale)
        np.testing.assert_allclose(precipitation[c], rain, rtol=0, atol=1e-12 * rain.max())
    changed = np.abs(batch - scalars).max(axis=(0, 2, 3))
    assert changed[1] > 1e-4 and changed[2] > 1e-4  # conversions and rain fall both acted


def test_moist_model_with_rain_closes_its_budgets_and_stays_non_divergent():
    grid, base, _ = setting(nx=16, nz=12, dz=500.0)
    model = Crm(grid, base, dt=5.0, nu=30.0, kappa=30.0, moist=True)
    model.processes = (Kessler(grid, base),)
    profiles = model.profiles
    state = model.rest_state(2)
    state.scalars[:] = rainy_scalars(grid, base, profiles, ncrm=2, seed=7)
    water0, energy0 = water(state.scalars, grid, profiles), energy(state.scalars, grid, profiles)
    for _ in range(40):
        state = model.step(state)
        assert model.projector.relative_divergence(state.u, state.w) < 1e-10
    assert np.max(np.abs(state.w)) > 0.5 and state.precipitation.min() > 0
    assert state.scalars[:, 1:].min() >= -1e-16  # advection's round-off, as in the dry core
    # advection redistributes between x-columns: budgets close over each CRM
    water_error = (water(state.scalars, grid, profiles) - water0 + state.precipitation).sum(-1)
    assert np.max(np.abs(water_error)) < 1e-13 * water0.sum(-1).max()
    energy_error = (energy(state.scalars, grid, profiles) - energy0
                    - LV * state.precipitation).sum(-1)
    assert np.max(np.abs(energy_error)) < 1e-13 * energy0.sum(-1).max()
