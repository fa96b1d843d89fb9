"""The CRM's boundary fluxes from the GCM's schemes (gray radiation, bulk surface fluxes):
the batched processes equal a per-x-column reference that calls the GCM scheme one column
at a time; energy and water budgets close with the accumulated fluxes to round-off; the
anelastic constraint holds after the drag; a sea warmer than the air makes the CRM convect."""

import numpy as np
import pytest

from gcm.constants import CP, GRAVITY, LV, P0
from gcm.crm import BaseState, Crm, CrmGrid
from gcm.crm.budgets import budget_residuals, column_energy, column_water
from gcm.crm.microphysics import Kessler
from gcm.crm.radiation import CrmRadiation
from gcm.crm.saturation_adjustment import adjust
from gcm.crm.surface_fluxes import CrmSurfaceFluxes, drag_rate
from gcm.physics.column import ColumnState
from gcm.physics.radiation import GrayRadiation
from gcm.physics.saturation import saturation_specific_humidity
from gcm.physics.surface_fluxes import SurfaceFluxes

SST = np.array([301.0, 299.0])  # per CRM, K


def setting(nx=8, nz=20, dz=600.0):
    grid = CrmGrid(nx, nz, 2000.0, dz)
    base = BaseState.constant_n(grid, 300.0, 0.011)
    return grid, base


def moist_state(model, ncrm=2, seed=4):
    """Near-saturated lower troposphere (RH 50–105 %), some rain, random winds."""
    rng = np.random.default_rng(seed)
    state = model.rest_state(ncrm)
    g, p = model.grid, model.profiles
    shape = (ncrm, g.nz, g.nx)
    t_l = p.t0[:, None] + rng.uniform(-1.0, 1.0, shape)
    state.scalar("thermo")[...] = p.field_from_liquid_temperature(t_l)
    qs = saturation_specific_humidity(p.t0, p.pressure)[:, None]
    state.scalar("qt")[...] = qs * rng.uniform(0.5, 1.05, shape)
    state.scalar("qr")[...] = rng.uniform(0.0, 1e-3, shape) * (g.z_centres > 3000.0)[:, None]
    state.u[...] = rng.normal(0.0, 4.0, shape)
    state.w[:, 1:-1] = rng.normal(0.0, 0.5, (ncrm, g.nz - 1, g.nx))
    model.projector.project(state.u, state.w)
    return state


def one_column(state, profiles, grid, c, i, u=0.0):
    """GCM column (ncol 1) of x-column i of CRM c, built cell by cell: (ColumnState, T)."""
    nz = grid.nz
    temperature, vapour = np.empty(nz), np.empty(nz)
    for k in range(nz):
        t_l = profiles.offset[k] + profiles.factor[k] * state.scalars[c, 0, k, i]
        temperature[k], qc = adjust(t_l, state.scalars[c, 1, k, i], state.scalars[c, 2, k, i],
                                    profiles.pressure[k])
        vapour[k] = state.scalars[c, 1, k, i] - qc
    p_half = [P0]
    for k in range(nz):
        p_half.append(p_half[-1] - GRAVITY * profiles.rho[k] * grid.dz)
    profile = np.zeros((1, nz))
    columns = ColumnState(temperature[None, ::-1].copy(), vapour[None, ::-1].copy(),
                          profile + u, profile.copy(), profiles.pressure[None, ::-1].copy(),
                          np.array(p_half[::-1])[None], np.array([P0]), np.array([SST[c]]),
                          np.array([400.0]), np.array([0.1]), np.zeros(1), 0.0)
    return columns


def test_radiation_equals_the_gcm_scheme_column_by_column():
    grid, base = setting()
    model = Crm(grid, base, dt=10.0, moist=True)
    state = moist_state(model)
    scheme = GrayRadiation(longwave="water_vapour", tau_sw=0.2)
    process = CrmRadiation(grid, base, sst=SST, insolation=400.0, latitude=0.1, scheme=scheme)
    after = process_copy(state)
    process(after, 10.0)
    p = process.profiles
    for c in range(2):
        for i in range(grid.nx):
            out = scheme(one_column(state, p, grid, c, i), 0.0)
            expected = state.scalars[c, 0, :, i] + 10.0 * out.temperature[0, ::-1] / p.factor
            assert np.allclose(after.scalars[c, 0, :, i], expected, rtol=1e-14, atol=0)
            net = (out.fsnt - out.fsns) - (out.flnt - out.flns)
            assert np.isclose(after.accumulated["radiation"][c, i], 10.0 * net[0], rtol=1e-12)
    assert np.array_equal(after.scalars[:, 1:], state.scalars[:, 1:])  # water untouched
    assert np.abs(after.scalars[:, 0] - state.scalars[:, 0]).max() > 0.1  # J kg-1 (~1 K/day)


def process_copy(state):
    return type(state)(state.u.copy(), state.w.copy(), state.scalars.copy(), state.time,
                       state.precipitation.copy())


@pytest.mark.parametrize("drag", [False, True])
def test_surface_fluxes_equal_the_gcm_scheme_column_by_column(drag):
    grid, base = setting()
    model = Crm(grid, base, dt=10.0, moist=True)
    state = moist_state(model)
    scheme = SurfaceFluxes(drag_formula="reed_jablonowski")
    process = CrmSurfaceFluxes(grid, base, sst=SST, scheme=scheme, drag=drag)
    after = process_copy(state)
    process(after, 30.0)
    p = process.profiles
    rates = np.empty((2, grid.nx))
    for c in range(2):
        for i in range(grid.nx):
            u = 0.5 * (state.u[c, 0, i] + state.u[c, 0, (i + 1) % grid.nx])
            columns = one_column(state, p, grid, c, i, u)
            exchange = scheme.exchange(columns, 30.0)
            tend = exchange.tendencies
            assert np.isclose(after.scalars[c, 0, 0, i], state.scalars[c, 0, 0, i]
                              + 30.0 * tend.temperature[0, -1] / p.factor[0], rtol=1e-14)
            assert np.isclose(after.scalars[c, 1, 0, i], state.scalars[c, 1, 0, i]
                              + 30.0 * tend.humidity[0, -1], rtol=1e-14)
            assert np.isclose(after.accumulated["evaporation"][c, i], 30.0 * tend.lhf[0] / LV,
                              rtol=1e-12)
            assert np.isclose(after.accumulated["sensible"][c, i], 30.0 * tend.shf[0],
                              rtol=1e-12)
            rates[c, i] = drag_rate(columns, exchange)[0]
    assert np.array_equal(after.scalars[:, :, 1:], state.scalars[:, :, 1:])
    assert np.abs(after.accumulated["evaporation"]).min() > 0
    if not drag:
        assert np.array_equal(after.u, state.u)
        return
    u = state.u.copy()
    w = state.w.copy()
    u[:, 0] /= 1.0 + 30.0 * 0.5 * (rates + np.roll(rates, 1, axis=-1))
    model.projector.project(u, w)
    assert np.allclose(after.u, u, rtol=0, atol=1e-12) and np.allclose(after.w, w, atol=1e-12)
    assert np.abs(after.u - state.u).max() > 1e-3  # m/s: the drag acted
    assert model.projector.relative_divergence(after.u, after.w) < 1e-12


def test_budgets_close_with_the_boundary_fluxes():
    grid, base = setting()
    model = Crm(grid, base, dt=10.0, nu=20.0, kappa=10.0, moist=True)
    model.processes = (Kessler(grid, base),
                       CrmSurfaceFluxes(grid, base, sst=SST),
                       CrmRadiation(grid, base, sst=SST, insolation=400.0, interval=3))
    state = moist_state(model)
    initial = state
    for _ in range(40):
        state = model.step(state)
        assert model.projector.relative_divergence(state.u, state.w) < 1e-12
    p = model.profiles
    residuals = budget_residuals(initial, state, grid, p)
    # the fluxes through the boundaries changed the content by far more than round-off
    energy_change = column_energy(state.scalars, grid, p) - column_energy(initial.scalars,
                                                                          grid, p)
    water_change = column_water(state.scalars, grid, p) - column_water(initial.scalars, grid, p)
    energy = np.abs(column_energy(initial.scalars, grid, p)).sum(axis=-1)
    water = column_water(initial.scalars, grid, p).sum(axis=-1)
    assert np.all(np.abs(energy_change.sum(axis=-1)) > 1e-7 * energy)
    assert np.all(np.abs(water_change.sum(axis=-1)) > 1e-5 * water)
    assert state.precipitation.max() > 0 and state.accumulated["evaporation"].min() > 0
    assert np.abs(residuals["energy"]).max() < 1e-14
    assert np.abs(residuals["water"]).max() < 1e-13
    # without the radiation's record, the energy budget fails by far more
    del state.accumulated["radiation"]
    assert np.abs(budget_residuals(initial, state, grid, p)["energy"]).min() > 1e-9


def test_a_warmer_sea_makes_the_column_convect():
    """Neutral dry air at rest, seeded with 0.001 K noise, over a sea 5 K warmer than its
    lowest layer (a dry sea: sensible heat only): the heated lowest layer overturns; over a
    sea at the lowest layer's own temperature brought to the surface the seed barely moves."""
    grid = CrmGrid(16, 12, 400.0, 200.0)
    base = BaseState.constant_theta(grid, 300.0)
    speeds = []
    for excess in (0.0, 5.0):
        sst = base.theta_c[0] + excess  # θ0: the lowest layer's T brought to P0 dry-adiabatically
        scheme = SurfaceFluxes(gustiness=10.0, moisture_exchange_coefficient=0.0)
        model = Crm(grid, base, dt=4.0, nu=2.0, kappa=2.0, moist=True,
                    processes=(CrmSurfaceFluxes(grid, base, sst=sst, scheme=scheme),))
        state = model.rest_state(1)
        noise = np.random.default_rng(0).standard_normal((3, grid.nx))
        state.scalar("thermo")[0, :3] += CP * 0.001 * noise
        state = model.run(state, 2400.0)
        speeds.append(np.abs(state.w).max())
    assert speeds[0] < 0.05 and speeds[1] > 0.5, speeds
