"""The anelastic pressure solver: project (u, w) onto ∂x(ρ0 u) + ∂z(ρ0 w) = 0.

Discretely on the C grid (see ``grid``), with D the divergence of the mass flux and G the
gradient from centres to faces (G_z = 0 at ground and lid, so w stays 0 there),

    L φ ≡ D(ρ0 G φ) = D(ρ0 u*),     u = u* − G φ,

which leaves D(ρ0 u) = 0 to round-off. φ (m2 s-1 per stage, i.e. p'/ρ0 times the stage
length) is found by a real FFT in x, where D_x G_x has eigenvalue −(4/dx²) sin²(π m / nx),
and per wavenumber m a tridiagonal system in z (Thomas algorithm, factors precomputed). The
mean mode m = 0 is singular only up to a constant: its first row is replaced by φ0 = 0, and
the dropped equation holds by compatibility (Σ_k of D(ρ0 u*) over the column is 0 since w*
vanishes at ground and lid). Khairoutdinov & Randall (2003, appendix) solve the same way.
"""

import ducc0
import numba
import numpy as np

from gcm.crm.base_state import BaseState
from gcm.crm.grid import CrmGrid


@numba.njit(cache=True)
def divergence_column(u, w, rho_c, rho_f, dx, dz):
    """D(ρ0 u) of one CRM, kg m-3 s-1, shape (nz, nx); u (nz, nx), w (nz + 1, nx) in m/s."""
    d = np.empty(u.shape)
    _divergence_into(u, w, rho_c, rho_f, dx, dz, d)
    return d


@numba.njit(cache=True)
def _divergence_into(u, w, rho_c, rho_f, dx, dz, d):
    """``divergence_column`` written into d (nz, nx)."""
    nz, nx = u.shape
    for k in range(nz):
        for i in range(nx):
            ip1 = i + 1 if i < nx - 1 else 0
            d[k, i] = (rho_c[k] * (u[k, ip1] - u[k, i]) / dx
                       + (rho_f[k + 1] * w[k + 1, i] - rho_f[k] * w[k, i]) / dz)


@numba.njit(cache=True)
def _divergence_fast(u, w, rho_dx, rho_dz, d):
    """``_divergence_into`` to round-off, division-free (rho_dx = ρc/dx, rho_dz = ρf/dz)
    and with the periodic end peeled off so that the rows vectorize."""
    nz, nx = u.shape
    for k in range(nz):
        for i in range(nx - 1):
            d[k, i] = (rho_dx[k] * (u[k, i + 1] - u[k, i])
                       + (rho_dz[k + 1] * w[k + 1, i] - rho_dz[k] * w[k, i]))
        d[k, nx - 1] = (rho_dx[k] * (u[k, 0] - u[k, nx - 1])
                        + (rho_dz[k + 1] * w[k + 1, nx - 1] - rho_dz[k] * w[k, nx - 1]))


@numba.njit(parallel=True, cache=True)
def divergence(u, w, rho_c, rho_f, dx, dz):
    """``divergence_column`` for a batch, to round-off: u (ncrm, nz, nx), w (ncrm, nz + 1,
    nx)."""
    out = np.empty(u.shape)
    rho_dx, rho_dz = rho_c / dx, rho_f / dz
    for c in numba.prange(u.shape[0]):
        _divergence_fast(u[c], w[c], rho_dx, rho_dz, out[c])
    return out


@numba.njit(parallel=True, cache=True)
def _solve_modes(rhs, lower, inv_pivot, upper_scaled):
    """Thomas solve of L_m φ = rhs per (crm, m); rhs (ncrm, nz, nm) complex, in place;
    all wavenumbers of a CRM at once (the contiguous inner loop vectorizes).

    lower (nz,): sub-diagonal; inv_pivot, upper_scaled (nz, nm): the factorization."""
    ncrm, nz, nm = rhs.shape
    for c in numba.prange(ncrm):
        x = rhs[c]
        for m in range(nm):
            x[0, m] = x[0, m] * inv_pivot[0, m]
        for k in range(1, nz):
            for m in range(nm):
                x[k, m] = (x[k, m] - lower[k] * x[k - 1, m]) * inv_pivot[k, m]
        for k in range(nz - 2, -1, -1):
            for m in range(nm):
                x[k, m] = x[k, m] - upper_scaled[k, m] * x[k + 1, m]


@numba.njit(parallel=True, cache=True)
def _subtract_gradient(u, w, phi, dx, dz):
    """u −= G_x φ, w −= G_z φ in place (w at ground and lid untouched); division-free,
    periodic end peeled."""
    ncrm, nz, nx = u.shape
    inv_dx, inv_dz = 1.0 / dx, 1.0 / dz
    for c in numba.prange(ncrm):
        for k in range(nz):
            u[c, k, 0] -= (phi[c, k, 0] - phi[c, k, nx - 1]) * inv_dx
            for i in range(1, nx):
                u[c, k, i] -= (phi[c, k, i] - phi[c, k, i - 1]) * inv_dx
        for k in range(1, nz):
            for i in range(nx):
                w[c, k, i] -= (phi[c, k, i] - phi[c, k - 1, i]) * inv_dz


class Projector:
    """The exact anelastic projection for one grid and base state (factors precomputed)."""

    def __init__(self, grid: CrmGrid, base: BaseState):
        self.grid, self.base = grid, base
        nz, nx, dz = grid.nz, grid.nx, grid.dz
        wavenumbers = np.arange(nx // 2 + 1)
        eigen_x = -4.0 / grid.dx**2 * np.sin(np.pi * wavenumbers / nx) ** 2
        lower = np.zeros(nz)
        upper = np.zeros(nz)
        lower[1:] = base.rho_f[1:nz] / dz**2
        upper[:-1] = base.rho_f[1:nz] / dz**2
        self.lower = lower
        self.inv_pivot = np.empty((nz, len(wavenumbers)))
        self.upper_scaled = np.zeros((nz, len(wavenumbers)))
        for m, lam in enumerate(eigen_x):
            diag = base.rho_c * lam - lower - upper
            up, low = upper.copy(), lower.copy()
            if m == 0:  # pin φ = 0 in the bottom layer: the mean mode's free constant
                diag[0], up[0] = 1.0, 0.0
            self._factor(m, low, diag, up)

    def _factor(self, m, lower, diag, upper):
        """Thomas factors of one wavenumber's tridiagonal (rows lower, diag, upper)."""
        nz = len(diag)
        pivot = diag[0]
        self.inv_pivot[0, m] = 1.0 / pivot
        self.upper_scaled[0, m] = upper[0] / pivot
        for k in range(1, nz):
            pivot = diag[k] - lower[k] * self.upper_scaled[k - 1, m]
            self.inv_pivot[k, m] = 1.0 / pivot
            self.upper_scaled[k, m] = upper[k] / pivot

    def project(self, u: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Make (u, w) anelastically non-divergent in place; return φ, shape (ncrm, nz, nx).

        u (ncrm, nz, nx), w (ncrm, nz + 1, nx) in m/s, float64 and C-contiguous."""
        g, b = self.grid, self.base
        rhs = divergence(u, w, b.rho_c, b.rho_f, g.dx, g.dz)
        # ducc0's FFTs (the GCM's): 2x numpy's on short CRM rows
        rhs_hat = ducc0.fft.r2c(rhs, axes=(2,))
        rhs_hat[:, 0, 0] = 0.0  # the pinned row of the mean mode
        _solve_modes(rhs_hat, self.lower, self.inv_pivot, self.upper_scaled)
        phi = ducc0.fft.c2r(rhs_hat, axes=(2,), lastsize=g.nx, forward=False, inorm=2)
        _subtract_gradient(u, w, phi, g.dx, g.dz)
        return phi

    def relative_divergence(self, u: np.ndarray, w: np.ndarray) -> float:
        """max |D(ρ0 u)| / max(ρ0 |u| / dx, ρ0 |w| / dz): the constraint's relative residual."""
        g, b = self.grid, self.base
        d = divergence(u, w, b.rho_c, b.rho_f, g.dx, g.dz)
        scale = max(np.max(np.abs(u) * b.rho_c[:, None]) / g.dx,
                    np.max(np.abs(w) * b.rho_f[:, None]) / g.dz, 1e-300)
        return float(np.max(np.abs(d)) / scale)
