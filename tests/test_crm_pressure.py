"""The CRM's anelastic projection: exact non-divergence, idempotence, and a second-order
solution of a known Poisson problem."""

import numpy as np
import pytest

from gcm.crm import BaseState, CrmGrid
from gcm.crm.pressure import Projector


def random_flow(grid, ncrm=3, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((ncrm, grid.nz, grid.nx))
    w = np.zeros((ncrm, grid.nz + 1, grid.nx))
    w[:, 1:-1] = rng.standard_normal((ncrm, grid.nz - 1, grid.nx))
    return u, w


@pytest.mark.parametrize("nx", [16, 17])
def test_projection_is_divergence_free_and_idempotent(nx):
    grid = CrmGrid(nx, 12, 2000.0, 400.0)
    projector = Projector(grid, BaseState.constant_n(grid, 300.0, 0.012))
    u, w = random_flow(grid)
    assert projector.relative_divergence(u, w) > 0.1
    projector.project(u, w)
    assert projector.relative_divergence(u, w) < 1e-12
    assert np.all(w[:, 0] == 0) and np.all(w[:, -1] == 0)
    u2, w2 = u.copy(), w.copy()
    projector.project(u2, w2)
    assert np.max(np.abs(u2 - u)) < 1e-12 * np.max(np.abs(u))
    assert np.max(np.abs(w2 - w)) < 1e-12 * np.max(np.abs(w))


def test_projection_keeps_a_non_divergent_mean_wind():
    grid = CrmGrid(16, 8, 1000.0, 500.0)
    projector = Projector(grid, BaseState.constant_theta(grid))
    u = np.full((1, grid.nz, grid.nx), 7.0)
    w = np.zeros((1, grid.nz + 1, grid.nx))
    projector.project(u, w)
    assert np.allclose(u, 7.0, atol=1e-12) and np.allclose(w, 0.0, atol=1e-12)


def poisson_error(n):
    """Max error of φ recovered from u* = ∇φ_exact (constant ρ0) on an n × n/2 grid."""
    length, depth = 10000.0, 5000.0
    grid = CrmGrid(n, n // 2, length / n, depth / (n // 2))
    ones_c, ones_f = np.ones(grid.nz), np.ones(grid.nz + 1)
    base = BaseState(ones_c, ones_f, 300 * ones_c, ones_c, 300 * ones_c, ones_c)
    kx, kz = 2 * np.pi / length, np.pi / depth
    x_faces = grid.x_centres - grid.dx / 2
    zc, zf, xc = grid.z_centres, grid.z_faces, grid.x_centres
    u = (-kx * np.sin(kx * x_faces)[None, :] * np.cos(kz * zc)[:, None])[None]
    w = (-kz * np.cos(kx * xc)[None, :] * np.sin(kz * zf)[:, None])[None]
    phi = Projector(grid, base).project(u, w)[0]
    exact = np.cos(kx * xc)[None, :] * np.cos(kz * zc)[:, None]
    return np.max(np.abs((phi - phi.mean()) - (exact - exact.mean())))


def test_poisson_solution_converges_at_second_order():
    coarse, fine = poisson_error(16), poisson_error(32)
    assert fine < 0.02
    assert 3.5 < coarse / fine < 4.5
