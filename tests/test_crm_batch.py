"""The parallel batch kernels of the CRM equal their plain per-CRM versions."""

import numpy as np
import pytest

from gcm.crm import BaseState, CrmGrid
from gcm.crm.momentum import momentum_tendency, momentum_tendency_column
from gcm.crm.pressure import divergence, divergence_column
from gcm.crm.scalar_transport import _transport_blocks, transport, transport_column


def test_batch_kernels_equal_the_per_column_ones():
    grid = CrmGrid(12, 8, 1000.0, 400.0)
    base = BaseState.constant_n(grid)
    rng = np.random.default_rng(3)
    ncrm = 4
    u = rng.standard_normal((ncrm, grid.nz, grid.nx))
    w = rng.standard_normal((ncrm, grid.nz + 1, grid.nx))
    w[:, 0] = w[:, -1] = 0.0
    b = rng.standard_normal((ncrm, grid.nz, grid.nx))
    scalars = rng.random((ncrm, 3, grid.nz, grid.nx))
    args = (base.rho_c, base.rho_f)
    du, dw = momentum_tendency(u, w, b, *args, 20.0, grid.dx, grid.dz)
    new = transport(scalars, u, w, *args, 20.0, 5.0, grid.dx, grid.dz)
    div = divergence(u, w, *args, grid.dx, grid.dz)
    for c in range(ncrm):
        du_c, dw_c = momentum_tendency_column(u[c], w[c], b[c], *args, 20.0, grid.dx, grid.dz)
        # the batch kernel is division-free: the same sums in another order
        np.testing.assert_allclose(du[c], du_c, rtol=0, atol=1e-13 * np.abs(du_c).max())
        np.testing.assert_allclose(dw[c], dw_c, rtol=0, atol=1e-13 * np.abs(dw_c).max())
        reference = divergence_column(u[c], w[c], *args, grid.dx, grid.dz)
        np.testing.assert_allclose(div[c], reference, rtol=0,
                                   atol=1e-13 * np.abs(reference).max())
        for s in range(3):
            column = transport_column(scalars[c, s], u[c] * base.rho_c[:, None],
                                      w[c] * base.rho_f[:, None], *args, 20.0, 5.0, grid.dx,
                                      grid.dz)
            assert np.array_equal(new[c, s], column)
    assert np.abs(du).max() > 0 and np.abs(new - scalars).max() > 0


@pytest.mark.parametrize(("nx", "nz"), [(4, 3), (5, 4), (17, 6)])
def test_fused_transport_equals_the_per_column_one_for_any_split(nx, nz):
    """Bit for bit on small and odd grids (the halo and ground/lid rows are where a fused,
    padded kernel goes wrong), whatever the number of thread blocks."""
    grid = CrmGrid(nx, nz, 700.0, 300.0)
    base = BaseState.constant_n(grid)
    rng = np.random.default_rng(nx)
    ncrm = 3
    u = 4.0 * rng.standard_normal((ncrm, nz, nx))
    w = 4.0 * rng.standard_normal((ncrm, nz + 1, nx))
    w[:, 0] = w[:, -1] = 0.0
    scalars = rng.random((ncrm, 2, nz, nx))
    args = (base.rho_c, base.rho_f, 30.0, 7.0, grid.dx, grid.dz)
    reference = np.stack([[transport_column(scalars[c, s], u[c] * base.rho_c[:, None],
                                            w[c] * base.rho_f[:, None], *args)
                           for s in range(2)] for c in range(ncrm)])
    assert np.abs(reference - scalars).max() > 0.01
    for threads in (1, 2, 4, 7):
        assert np.array_equal(_transport_blocks(scalars, u, w, *args, threads), reference)
