"""The one-pass scalar transport (``one_step_transport``, ``Crm(scalar_scheme="one_step")``):
the batch kernel equals its per-CRM reference bit for bit, Σ ρ0 φ is kept to round-off with
no new extrema, its error is at most RK2-FCT's (smaller in a translation, equal in a
swirling flow), it converges faster than second order, it refuses steps past the 2-D
donor-cell limit, and the model and SP settings take it only where it applies."""

import numpy as np
import pytest

from gcm.crm import BaseState, Crm, CrmGrid
from gcm.crm.one_step_transport import _one_step_blocks, one_step_column, transport_one_step
from gcm.crm.pressure import divergence
from gcm.crm.scalar_transport import transport
from gcm.crm.superparameterization import CrmSettings


def rk2_fct(phi, u, w, *args):
    """The "ab3" scheme's default scalar step: SSP-RK2 of two FCT steps."""
    return 0.5 * (phi + transport(transport(phi, u, w, *args), u, w, *args))


def swirl(n: int, speed: float = 10.0):
    """(grid, base, u, w): a square n × n domain of 12 km holding one smooth overturning
    cell, ψ ∝ ρ0 sin²(πz/H) sin²(πx/L) at cell corners, so discretely non-divergent; m/s."""
    grid = CrmGrid(n, n, 12000.0 / n, 12000.0 / n)
    base = BaseState.constant_n(grid)
    depth = grid.z_faces[-1]
    corners = grid.x_centres - grid.dx / 2
    psi = (speed * depth / np.pi * base.rho_f[:, None]
           * np.sin(np.pi * grid.z_faces / depth)[:, None] ** 2
           * np.sin(np.pi * corners / grid.length)[None, :] ** 2)
    u = -(psi[1:] - psi[:-1]) / grid.dz / base.rho_c[:, None]
    w = (np.roll(psi, -1, axis=1) - psi) / grid.dx / base.rho_f[:, None]
    w[0] = w[-1] = 0.0
    assert np.abs(divergence(u[None], w[None], base.rho_c, base.rho_f, grid.dx,
                             grid.dz)).max() < 1e-12
    return grid, base, u[None], w[None]


def there_and_back(step, phi, u, w, base, grid, dt, steps):
    """φ after ``steps`` steps of the flow and as many of the reversed flow (exactly φ)."""
    args = (base.rho_c, base.rho_f, 0.0, dt, grid.dx, grid.dz)
    for sign in (1.0, -1.0):
        for _ in range(steps):
            phi = step(phi, sign * u, sign * w, *args)
    return phi


def blob(grid, width=0.15):
    """A smooth Gaussian, 1 at its centre (0.35 L, 0.35 H), shape (1, 1, nz, nx)."""
    x = grid.x_centres / grid.length - 0.35
    z = grid.z_centres / grid.z_faces[-1] - 0.35
    return np.exp(-((x[None] / width) ** 2 + (z[:, None] / width) ** 2))[None, None]


@pytest.mark.parametrize(("nx", "nz"), [(4, 3), (5, 4), (17, 6)])
def test_batch_kernel_equals_the_per_crm_reference_for_any_split(nx, nz):
    grid = CrmGrid(nx, nz, 700.0, 300.0)
    base = BaseState.constant_n(grid)
    rng = np.random.default_rng(nx)
    u = 4.0 * rng.standard_normal((3, nz, nx))
    w = 4.0 * rng.standard_normal((3, nz + 1, nx))
    w[:, 0] = w[:, -1] = 0.0
    scalars = rng.random((3, 2, nz, nx))
    args = (base.rho_c, base.rho_f, 30.0, 7.0, grid.dx, grid.dz)
    reference = np.stack([[one_step_column(scalars[c, s], u[c] * base.rho_c[:, None],
                                           w[c] * base.rho_f[:, None], *args)
                           for s in range(2)] for c in range(3)])
    assert np.abs(reference - scalars).max() > 0.01
    for threads in (1, 2, 4, 7):
        new, donor = _one_step_blocks(scalars, u, w, *args, threads)
        assert np.array_equal(new, reference)
        assert 0.1 < donor.max(axis=(1, 2)).min() and donor.max() < 1.0


def test_no_new_extrema_and_the_mass_is_kept():
    grid, base, u, w = swirl(32)
    tracer = np.zeros((1, 1, grid.nz, grid.nx))
    tracer[0, 0, 6:14, 8:20] = 1.0  # a block with sharp edges: where schemes overshoot
    _, donor = _one_step_blocks(tracer, u, w, base.rho_c, base.rho_f, 0.0, 1.0, grid.dx,
                                grid.dz, 1)
    dt = 0.95 / donor.max()  # s: 0.95 of the donor-cell limit
    mass = lambda q: np.sum(q[0, 0] * base.rho_c[:, None])  # noqa: E731
    start, initial = mass(tracer), tracer.copy()
    for _ in range(150):
        tracer = transport_one_step(tracer, u, w, base.rho_c, base.rho_f, 0.0, dt, grid.dx,
                                    grid.dz)
        assert tracer.min() >= -1e-14 and tracer.max() <= 1.0 + 1e-14
    assert np.max(np.abs(tracer - initial)) > 0.5  # it moved
    assert abs(mass(tracer) - start) < 1e-13 * start


def test_a_smooth_profile_around_a_periodic_domain_beats_rk2():
    grid = CrmGrid(64, 3, 1000.0, 500.0)
    base = BaseState.constant_n(grid)
    x = grid.x_centres / grid.length - 0.5
    phi = np.broadcast_to(np.exp(-(x / 0.1) ** 2), (1, 1, 3, 64)).copy()
    u, w = np.full((1, 3, 64), 10.0), np.zeros((1, 4, 64))
    dt = 50.0  # s: Courant number 0.5; 128 steps go once around
    errors = {}
    for name, step in (("one_step", transport_one_step), ("rk2", rk2_fct)):
        moved = phi
        for _ in range(128):
            moved = step(moved, u, w, base.rho_c, base.rho_f, 0.0, dt, grid.dx, grid.dz)
        errors[name] = np.sqrt(np.mean((moved - phi) ** 2))
    # measured: one_step 7.6e-3, rk2 2.2e-2 (at Courant 0.8: 3.5e-3 against 4.4e-2)
    assert errors["one_step"] < 0.5 * errors["rk2"], errors
    assert errors["one_step"] < 1e-2, errors


def test_a_blob_swirled_and_back_is_as_accurate_as_rk2_and_converges():
    errors = {}
    for n in (24, 48):
        grid, base, u, w = swirl(n)
        dt = 0.6 * grid.dx / max(np.abs(u).max(), np.abs(w).max())
        steps = int(round(0.6 * grid.length / 10.0 / dt))
        phi = blob(grid)
        for name, step in (("one_step", transport_one_step), ("rk2", rk2_fct)):
            back = there_and_back(step, phi, u, w, base, grid, dt, steps)
            errors[name, n] = np.sqrt(np.mean((back - phi) ** 2))
    # measured: one_step 2.07e-2, 4.61e-3; rk2 2.19e-2, 4.68e-3 (without the cross term
    # the one-step error would be 4.0e-2, 2.4e-2: first order)
    for n in (24, 48):
        assert errors["one_step", n] < 1.05 * errors["rk2", n], errors
    assert errors["one_step", 24] / errors["one_step", 48] > 4.0, errors


def test_a_courant_number_of_one_shifts_exactly_and_past_it_is_refused():
    grid = CrmGrid(8, 3, 1000.0, 500.0)
    base = BaseState.constant_n(grid)
    phi = np.random.default_rng(0).random((2, 1, 3, 8))
    u, w = np.full((2, 3, 8), 10.0), np.zeros((2, 4, 8))
    args = (base.rho_c, base.rho_f, 0.0, 100.0, grid.dx, grid.dz)
    np.testing.assert_allclose(transport_one_step(phi, u, w, *args), np.roll(phi, 1, axis=3),
                               rtol=0, atol=1e-14)
    u[1, 2, 5] = 11.0  # the face west of column 5: column 4's outflow (the check only)
    with pytest.raises(ValueError, match=r"CRM 1, layer 2, column 4 has Cx \+ Cz \+ diffusion "
                                         r"number 1.100 > 1 at dt = 100.0 s"):
        transport_one_step(phi, u, w, *args)
    kappa_args = (base.rho_c, base.rho_f, 2000.0, 50.0, grid.dx, grid.dz)  # 0.5 + 0.2 + 0.8
    with pytest.raises(ValueError, match="number 1.500 > 1"):
        transport_one_step(phi, u[:1], w[:1], *kappa_args)


def test_the_model_step_with_one_step_scalars_stays_close_to_rk3():
    grid = CrmGrid(16, 12, 1000.0, 500.0)
    base = BaseState.constant_n(grid, 300.0, 0.01)
    runs = {}
    for time_scheme, scalars, dt in (("rk3", "rk2", 0.5), ("ab3", "one_step", 4.0)):
        model = Crm(grid, base, dt=dt, nu=20.0, kappa=20.0, time_scheme=time_scheme,
                    scalar_scheme=scalars)
        state = model.rest_state(1)
        x = grid.x_centres - grid.length / 2
        warm = 2.0 * np.exp(-(x[None] / 3000.0) ** 2
                            - ((grid.z_centres[:, None] - 2000.0) / 1500.0) ** 2)
        state.scalar("thermo")[0] += 1004.0 * base.pi_c[:, None] * warm
        runs[time_scheme] = model.run(state, 240.0)
    reference, w = runs["rk3"].w, runs["ab3"].w
    assert np.abs(reference).max() > 1.0  # the blob did rise
    # measured 7.8e-5 m/s of 2.1 (RK2 scalars at dt 4 s: 5.0e-5)
    assert np.abs(w - reference).max() < 1.5e-4


def test_the_option_is_refused_where_it_does_not_apply():
    grid = CrmGrid(8, 6, 1000.0, 500.0)
    base = BaseState.constant_theta(grid)
    with pytest.raises(ValueError, match="scalar_scheme 'mpdata' unknown"):
        Crm(grid, base, dt=1.0, scalar_scheme="mpdata")
    with pytest.raises(ValueError, match="is an option of time_scheme 'ab3', not 'rk3'"):
        Crm(grid, base, dt=1.0, time_scheme="rk3", scalar_scheme="one_step")
    with pytest.raises(TypeError, match="crm.scalar_scheme 'mpdata' unknown"):
        CrmSettings.from_dict({"scalar_scheme": "mpdata"})
