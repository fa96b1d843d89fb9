"""The CRM step: anelastic constraint after every step, mass-weighted scalar totals to
round-off (periodic x, no flux through ground and lid), water tracers within their bounds."""

import numpy as np
import pytest

from gcm.crm import BaseState, Crm, CrmGrid


def buoyant_state(model, ncrm=3, seed=1):
    """Random warm/cold blobs in s, qt in [0, 1] and qr a random positive field."""
    rng = np.random.default_rng(seed)
    state = model.rest_state(ncrm)
    shape = state.scalar("thermo").shape
    state.scalar("thermo")[:] += 3000.0 * rng.standard_normal(shape)  # ±3 K in cp T
    state.scalar("qt")[:] = rng.random(shape)
    state.scalar("qr")[:] = 1e-3 * rng.random(shape) ** 4
    return state


def totals(model, state):
    """Σ ρ0 φ dx dz per CRM and scalar, (ncrm, nscalar)."""
    weights = model.base.rho_c * model.grid.dx * model.grid.dz
    return np.einsum("csij,i->cs", state.scalars, weights)


@pytest.mark.parametrize(("scheme", "scalars"), [("ab3", "rk2"), ("ab3", "one_step"),
                                                 ("rk3", "rk2")])
@pytest.mark.parametrize("mixing", [0.0, 40.0])
def test_step_conserves_scalars_and_keeps_the_flow_non_divergent(mixing, scheme, scalars):
    grid = CrmGrid(16, 12, 1000.0, 500.0)
    model = Crm(grid, BaseState.constant_n(grid, 300.0, 0.01), dt=4.0, nu=mixing, kappa=mixing,
                time_scheme=scheme, scalar_scheme=scalars)
    state = buoyant_state(model)
    before = totals(model, state)
    for _ in range(25):
        state = model.step(state)
        assert model.projector.relative_divergence(state.u, state.w) < 1e-10
    assert np.max(np.abs(state.w)) > 0.1  # the blobs did move air
    change = np.abs(totals(model, state) - before) / np.abs(before)
    assert np.max(change) < 1e-13
    qt = state.scalar("qt")
    assert qt.min() >= -1e-13 and qt.max() <= 1 + 1e-13
    assert state.scalar("qr").min() >= -1e-16


def test_processes_run_after_the_dynamics_in_order():
    grid = CrmGrid(8, 6, 1000.0, 500.0)
    calls = []
    model = Crm(grid, BaseState.constant_theta(grid), dt=1.0,
                processes=(lambda s, dt: calls.append(("a", s.time)),
                           lambda s, dt: calls.append(("b", dt))))
    model.run(model.rest_state(1), 2.0)
    assert calls == [("a", 1.0), ("b", 1.0), ("a", 2.0), ("b", 1.0)]


def test_too_long_a_step_for_mixing_is_refused():
    grid = CrmGrid(8, 6, 100.0, 100.0)
    with pytest.raises(ValueError, match="too long for explicit mixing"):
        Crm(grid, BaseState.constant_theta(grid), dt=100.0, nu=75.0)
