"""The CRM's time schemes: Adams–Bashforth 3 (one projection a step, the default) converges
to the RK3 solution at second order in dt (its scalars see the mid-step velocity), carries
its past tendencies in the state so that a rebuilt state continues bit for bit, and has the
stricter mixing limit of AB3; an unknown scheme is refused."""

import dataclasses

import numpy as np
import pytest

from gcm.crm import BaseState, Crm, CrmGrid

GRID = CrmGrid(16, 12, 1000.0, 500.0)
BASE = BaseState.constant_n(GRID, 300.0, 0.01)


def warm_blob_run(scheme, dt, seconds=240.0):
    """w (m/s) after ``seconds`` of a 2 K Gaussian warm blob rising in a stable layer."""
    model = Crm(GRID, BASE, dt=dt, nu=20.0, kappa=20.0, time_scheme=scheme)
    state = model.rest_state(1)
    x = GRID.x_centres - GRID.length / 2
    blob = 2.0 * np.exp(-(x[None] / 3000.0) ** 2 - ((GRID.z_centres[:, None] - 2000.0)
                                                   / 1500.0) ** 2)
    state.scalar("thermo")[0] += 1004.0 * BASE.pi_c[:, None] * blob
    return model.run(state, seconds).w


def test_adams_bashforth_converges_at_second_order_to_rk3():
    reference = warm_blob_run("rk3", 0.25)
    assert np.abs(reference).max() > 1.0  # the blob did rise
    errors = [np.abs(warm_blob_run("ab3", dt) - reference).max() for dt in (8.0, 4.0, 2.0)]
    # measured 1.8e-4, 5.5e-5, 1.5e-5 m/s: ratios 3.3 and 3.6 (first-order would be 2)
    assert errors[0] / errors[1] > 3.0 and errors[1] / errors[2] > 3.0, errors
    assert errors[1] < 1e-4 * np.abs(reference).max()


def test_a_rebuilt_state_continues_bit_for_bit():
    model = Crm(GRID, BASE, dt=5.0, nu=20.0, kappa=20.0)
    state = model.rest_state(2)
    state.scalar("thermo")[:] += np.random.default_rng(0).standard_normal((2, 12, 16)) * 300.0
    state = model.run(state, 15.0)
    assert state.du_history.shape == (2, 2, 12, 16)  # both past tendencies are in the state
    copies = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    rebuilt = type(state)(**{k: v.copy() if isinstance(v, np.ndarray) else v
                             for k, v in copies.items()})
    one, two = model.run(state, 20.0), model.run(rebuilt, 20.0)
    assert np.array_equal(one.u, two.u) and np.array_equal(one.scalars, two.scalars)
    assert np.abs(one.w).max() > 0


def test_ab3_refuses_mixing_steps_that_rk3_takes():
    grid = CrmGrid(8, 6, 100.0, 100.0)
    base = BaseState.constant_theta(grid)
    # dt·ν·4(1/dx² + 1/dz²) = 2: forward Euler's limit, past AB3's 6/11
    Crm(grid, base, dt=2.5, nu=1000.0, time_scheme="rk3")
    with pytest.raises(ValueError, match="too long for explicit mixing with ab3"):
        Crm(grid, base, dt=2.5, nu=1000.0)


def test_unknown_time_scheme_is_refused():
    with pytest.raises(ValueError, match="time_scheme 'leapfrog' unknown"):
        Crm(GRID, BASE, dt=1.0, time_scheme="leapfrog")
