"""Smagorinsky–Lilly mixing of the CRM: ν against its closed form for a uniform shear (neutral,
stable, moist-neutral), the batch kernels against the per-CRM references, conservation of
the scalars and of x-momentum to round-off, and no new extrema at the viscosity cap."""

import numpy as np
import pytest

from gcm.constants import GRAVITY
from gcm.crm import BaseState, Crm, CrmGrid
from gcm.crm import moist_bubble as bubble
from gcm.crm import smagorinsky as sgs

GRID = CrmGrid(8, 12, 2000.0, 250.0)


def model_for(base, grid=GRID, moist=False, thermodynamic="static_energy", **kwargs):
    return Crm(grid, base, dt=kwargs.pop("dt", 5.0), moist=moist, thermodynamic=thermodynamic,
               mixing="smagorinsky", **kwargs)


def viscosity(model, state):
    """ν (ncrm, nz, nx) of ``state`` by the batch kernel."""
    g = model.grid
    return sgs.eddy_viscosity(state.u, state.w, state.scalars, *model._stability_profiles(),
                              g.dx, g.dz, sgs.length_scale_squared(g.dx, g.dz), model.nu_max)


def sheared(model, shear):
    """The rest state with u = shear × z (s-1)."""
    state = model.rest_state(1)
    state.u[:] = shear * model.grid.z_centres[None, :, None]
    return state


def test_uniform_shear_in_a_neutral_layer_gives_c_s_delta_squared_times_the_shear():
    model = model_for(BaseState.constant_theta(GRID))
    nu = viscosity(model, sheared(model, 0.01))[0]
    expected = 0.17**2 * GRID.dx * GRID.dz * 0.01  # (c_s Δ)² |S|, Δ² = dx dz: 14.45 m2/s
    np.testing.assert_allclose(nu[1:-1], expected, rtol=1e-9)
    # free slip: no shear at ground and lid, so the outer layers see half its square
    np.testing.assert_allclose(nu[[0, -1]], expected / np.sqrt(2.0), rtol=1e-9)


def test_uniform_shear_in_a_stable_layer_follows_lilly():
    shear, n = 0.02, 0.01  # Ri ≈ 0.25, below Pr = 1/3: ν is ≈ half the neutral one
    model = model_for(BaseState.constant_n(GRID, 300.0, n), thermodynamic="theta")
    nu = viscosity(model, sheared(model, shear))[0]
    theta = model.base.theta_c
    n2_faces = GRAVITY * np.diff(theta) / (theta[1:] * GRID.dz)  # the parcel N², θ variable
    n2 = 0.5 * (n2_faces[1:] + n2_faces[:-1])
    expected = 0.17**2 * GRID.dx * GRID.dz * np.sqrt(shear**2 - n2 / sgs.PRANDTL)
    np.testing.assert_allclose(nu[1:-1], expected[:, None] * np.ones(GRID.nx), rtol=1e-9)
    assert np.all(expected < 0.6 * 0.17**2 * GRID.dx * GRID.dz * shear)  # Lilly's factor bites


def test_strongly_stable_layer_has_no_mixing():
    model = model_for(BaseState.constant_n(GRID, 300.0, 0.02))  # Ri = 4 at 0.01 s-1
    state = sheared(model, 0.01)
    assert np.all(viscosity(model, state) == 0.0)
    before = state.u.copy()
    after = model.step(state)
    np.testing.assert_array_equal(after.u, before)  # nothing mixes the shear away


def test_saturated_moist_neutral_layer_is_neutral_and_its_dry_twin_is_stable():
    grid = CrmGrid(8, 20, 500.0, 500.0)
    model = model_for(bubble.moist_neutral_base(grid), grid, moist=True)
    state = sheared(model, 0.01)
    state.scalar("thermo")[0] = bubble.environment_field(model)[:, None]
    state.scalar("qt")[0] = bubble.TOTAL_WATER  # saturated, cloudy, uniform s_l and q_t
    saturated = viscosity(model, state)[0]
    np.testing.assert_allclose(saturated[1:-1], 0.17**2 * grid.dx * grid.dz * 0.01, rtol=1e-9)
    temperature, _, _ = bubble.environment(grid.z_centres, model.base.pi_c)
    state.scalar("thermo")[0] = model.profiles.field_from_liquid_temperature(
        temperature[:, None])
    state.scalar("qt")[0] = 0.0  # the same temperatures without water: dry-stable
    dry = viscosity(model, state)[0]
    assert np.all(dry[:15] == 0.0)  # below 7.5 km, where the moist adiabat is far from dry


def random_state(model, ncrm=3, seed=2):
    rng = np.random.default_rng(seed)
    state = model.rest_state(ncrm)
    state.u[:] = 5.0 * rng.standard_normal(state.u.shape)
    state.w[:, 1:-1] = 2.0 * rng.standard_normal(state.w[:, 1:-1].shape)
    model.projector.project(state.u, state.w)
    shape = state.scalar("thermo").shape
    state.scalar("thermo")[:] += 2000.0 * rng.standard_normal(shape)
    state.scalar("qt")[:] = rng.random(shape)
    state.scalar("qr")[:] = 1e-3 * rng.random(shape) ** 4
    return state


@pytest.mark.parametrize("moist", [False, True])
def test_batch_kernels_equal_the_per_crm_references(moist):
    model = model_for(BaseState.constant_n(GRID), moist=moist)
    g, b = model.grid, model.base
    state = random_state(model)
    state.scalar("qt")[:] *= 0.03  # some cells saturated, some not
    args = (*model._stability_profiles(), g.dx, g.dz, sgs.length_scale_squared(g.dx, g.dz),
            model.nu_max)
    nu = sgs.eddy_viscosity(state.u, state.w, state.scalars, *args)
    du, dw = np.ones(state.u.shape), np.ones(state.w.shape)
    kappa = sgs.mixing_tendency(state.u, state.w, state.scalars, *args[:5], b.rho_c, b.rho_f,
                                *args[5:], du, dw)
    diffused = sgs.diffuse(state.scalars, kappa, b.rho_c, b.rho_f, model.dt, g.dx, g.dz)
    assert 0.0 < np.mean(nu > 0.0) < 1.0  # mixing and stable cells both
    # the fast kernels: the same sums, division-free, in another order; moist N² to the
    # adjustment's STABILITY_TOLERANCE, which the square root near ν = 0 amplifies
    tolerance = 1e-4 if moist else 1e-13
    for c in range(3):
        reference = sgs.eddy_viscosity_column(state.u[c], state.w[c], state.scalars[c], *args)
        np.testing.assert_array_equal(nu[c], reference)
        close(kappa[c], reference / sgs.PRANDTL, tolerance)
        du_c, dw_c = sgs.stress_tendency_column(state.u[c], state.w[c], reference, b.rho_c,
                                                b.rho_f, g.dx, g.dz)
        close(du[c] - 1.0, du_c, tolerance)
        close(dw[c] - 1.0, dw_c, tolerance)
        du_rk3, dw_rk3 = np.zeros((1,) + du_c.shape), np.zeros((1,) + dw_c.shape)
        sgs.add_stress(state.u[c:c + 1], state.w[c:c + 1], nu[c:c + 1], b.rho_c, b.rho_f, g.dx,
                       g.dz, du_rk3, dw_rk3)  # the "rk3" scheme's kernel: the same bits
        np.testing.assert_array_equal(du_rk3[0], du_c)
        np.testing.assert_array_equal(dw_rk3[0], dw_c)
        for s in range(3):
            close(diffused[c, s], sgs.diffuse_column(state.scalars[c, s], kappa[c], b.rho_c,
                                                     b.rho_f, model.dt, g.dx, g.dz), 1e-13)


def test_fast_moist_stability_equals_the_reference_to_its_tolerance():
    model = model_for(BaseState.constant_n(GRID), moist=True)
    state = random_state(model, ncrm=1)
    state.scalar("qt")[:] *= 0.03
    scalars = state.scalars[0]
    profiles = model._stability_profiles()
    fast = np.zeros((GRID.nz + 1, GRID.nx))
    sgs._face_stability_fast(scalars, *profiles, GRID.dz, fast, np.empty((GRID.nz, GRID.nx)))
    reference = np.array([[sgs._stability(scalars, k, i, *profiles, GRID.dz)
                           for i in range(GRID.nx)] for k in range(1, GRID.nz)])
    bound = GRAVITY * sgs.STABILITY_TOLERANCE / (model.profiles.t0.min() * GRID.dz)
    assert np.abs(fast[1:GRID.nz] - reference).max() < 2.0 * bound
    assert np.abs(reference).max() > 1e4 * bound


def close(fast, reference, tolerance):
    """Equal to ``tolerance`` times the reference's largest magnitude."""
    np.testing.assert_allclose(fast, reference, rtol=0,
                               atol=tolerance * np.abs(reference).max())


@pytest.mark.parametrize("scheme", ["ab3", "rk3"])
@pytest.mark.parametrize("moist", [False, True])
def test_step_conserves_scalars_and_x_momentum_to_round_off(scheme, moist):
    model = model_for(BaseState.constant_n(GRID), moist=moist, time_scheme=scheme)
    state = random_state(model)
    weights = model.base.rho_c * GRID.dx * GRID.dz
    before = np.einsum("csij,i->cs", state.scalars, weights)
    momentum = np.einsum("cij,i->c", state.u, weights)
    assert viscosity(model, state).max() > 50.0  # it mixes hard
    for _ in range(10):
        state = model.step(state)
    change = np.abs(np.einsum("csij,i->cs", state.scalars, weights) - before) / np.abs(before)
    assert change.max() < 1e-13
    scale = np.einsum("cij,i->c", np.abs(state.u), weights)
    assert np.max(np.abs(np.einsum("cij,i->c", state.u, weights) - momentum) / scale) < 1e-13
    assert model.projector.relative_divergence(state.u, state.w) < 1e-10


def test_diffusion_at_the_cap_makes_no_new_extrema_and_beyond_it_does():
    model = model_for(BaseState.constant_n(GRID), dt=30.0)
    g, b = model.grid, model.base
    tracer = (np.random.default_rng(3).random((g.nz, g.nx)) > 0.5).astype(float)  # 0 or 1
    at_cap = np.full((g.nz, g.nx), model.nu_max / sgs.PRANDTL)
    phi = tracer
    for _ in range(20):
        phi = sgs.diffuse_column(phi, at_cap, b.rho_c, b.rho_f, model.dt, g.dx, g.dz)
        assert phi.min() >= -1e-15 and phi.max() <= 1.0 + 1e-15
    beyond = sgs.diffuse_column(tracer, 2.5 * at_cap, b.rho_c, b.rho_f, model.dt, g.dx, g.dz)
    assert beyond.min() < -1e-3 or beyond.max() > 1.0 + 1e-3


def test_shear_beyond_the_cap_is_capped_and_the_run_stays_bounded():
    model = model_for(BaseState.constant_theta(GRID), dt=30.0)
    state = sheared(model, 1.0)  # (c_s Δ)² |S| = 1445 m2/s, beyond the cap at dt = 30 s
    assert viscosity(model, state).max() == model.nu_max
    speed = np.abs(state.u).max()
    for _ in range(20):
        state = model.step(state)
    assert np.abs(state.u).max() <= speed  # mixing only takes from the shear


def test_bad_mixing_settings_are_refused():
    base = BaseState.constant_theta(GRID)
    with pytest.raises(ValueError, match="mixing 'tke' unknown"):
        Crm(GRID, base, dt=1.0, mixing="tke")
    with pytest.raises(ValueError, match="computes ν and κ itself"):
        Crm(GRID, base, dt=1.0, nu=10.0, mixing="smagorinsky")
