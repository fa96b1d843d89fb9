"""Monotone scalar advection: a tracer between 0 and 1 gets no new extrema in a rotating,
sheared flow, keeps its mass, and moves (so the bounds are not met by standing still)."""

import numpy as np

from gcm.crm import BaseState, CrmGrid
from gcm.crm.pressure import divergence
from gcm.crm.scalar_transport import transport


def rotating_shear_flow(grid, base, speed=10.0):
    """Discretely non-divergent (u, w) from a streamfunction at cell corners: one overturning
    cell over the domain depth plus a shear, m/s."""
    xf = grid.x_centres - grid.dx / 2
    zf = grid.z_faces
    psi = (speed * grid.dz * grid.nz / np.pi
           * np.sin(np.pi * zf / zf[-1])[:, None] * np.sin(2 * np.pi * xf / grid.length)[None, :]
           + 0.5 * speed * zf[:, None] ** 2 / zf[-1])  # ρ0 u = −∂z ψ, ρ0 w = ∂x ψ
    mass_u = -(psi[1:] - psi[:-1]) / grid.dz
    mass_w = (np.roll(psi, -1, axis=1) - psi) / grid.dx
    mass_w[0] = mass_w[-1] = 0.0
    u = mass_u / base.rho_c[:, None]
    w = mass_w / base.rho_f[:, None]
    w[0] = w[-1] = 0.0
    return u[None], w[None]


def test_tracer_stays_within_zero_and_one_and_keeps_its_mass():
    grid = CrmGrid(40, 20, 500.0, 250.0)
    base = BaseState.constant_n(grid)
    u, w = rotating_shear_flow(grid, base)
    assert np.max(np.abs(divergence(u, w, base.rho_c, base.rho_f, grid.dx, grid.dz))) < 1e-12
    tracer = np.zeros((1, 1, grid.nz, grid.nx))
    tracer[0, 0, 6:12, 10:22] = 1.0  # a block with sharp edges: where schemes overshoot
    dt = 0.4 * min(grid.dx, grid.dz) / max(np.abs(u).max(), np.abs(w).max())
    mass = lambda q: np.sum(q[0, 0] * base.rho_c[:, None])  # noqa: E731
    start = mass(tracer)
    initial = tracer.copy()
    for _ in range(200):
        tracer = transport(tracer, u, w, base.rho_c, base.rho_f, 0.0, dt, grid.dx, grid.dz)
        assert tracer.min() >= -1e-14 and tracer.max() <= 1.0 + 1e-14
    assert np.max(np.abs(tracer - initial)) > 0.5
    assert 0.05 < tracer.max() and tracer.min() < 0.95
    assert abs(mass(tracer) - start) < 1e-13 * start
