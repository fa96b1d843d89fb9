"""Momentum tendencies of the anelastic CRM (before the pressure projection), m s-2.

    ∂t u = −(1/ρ0) [∂x(ρ0 u u) + ∂z(ρ0 w u)] + ν ∇²u,
    ∂t w = −(1/ρ0) [∂x(ρ0 u w) + ∂z(ρ0 w w)] + ν ∇²w + b,

second-order centred flux form on the C grid (the momentum scheme of SAM, Khairoutdinov &
Randall 2003): the mass fluxes around each u and w cell are averages of those of the two
scalar cells it overlaps, so a uniform wind in a non-divergent flow stays uniform.
``momentum_tendency_column`` is the plain per-CRM reference; ``momentum_tendency``, the
batch kernel, computes the same to round-off without divisions or branches in its rows. Free slip
(∂z u = 0) and w = 0 at ground and lid, periodic x. b = g θ'/θ0 (m s-2) at centres comes from
``model.buoyancy``; the pressure gradient is the projection's.
"""

import numba
import numpy as np


@numba.njit(cache=True)
def _u_tendency(u, w, rho_c, rho_f, nu, dx, dz, du):
    nz, nx = u.shape
    for k in range(nz):
        for i in range(nx):
            im1 = i - 1 if i > 0 else nx - 1
            ip1 = i + 1 if i < nx - 1 else 0
            east = rho_c[k] * (0.5 * (u[k, i] + u[k, ip1])) ** 2
            west = rho_c[k] * (0.5 * (u[k, im1] + u[k, i])) ** 2
            top = 0.0
            if k < nz - 1:
                top = (rho_f[k + 1] * 0.5 * (w[k + 1, im1] + w[k + 1, i])
                       * 0.5 * (u[k, i] + u[k + 1, i]))
            bottom = 0.0
            if k > 0:
                bottom = rho_f[k] * 0.5 * (w[k, im1] + w[k, i]) * 0.5 * (u[k - 1, i] + u[k, i])
            above = u[k + 1, i] if k < nz - 1 else u[k, i]
            below = u[k - 1, i] if k > 0 else u[k, i]
            laplacian = ((u[k, ip1] - 2.0 * u[k, i] + u[k, im1]) / dx**2
                         + (above - 2.0 * u[k, i] + below) / dz**2)
            du[k, i] = -((east - west) / dx + (top - bottom) / dz) / rho_c[k] + nu * laplacian


@numba.njit(cache=True)
def _w_tendency(u, w, b, rho_c, rho_f, nu, dx, dz, dw):
    nz, nx = u.shape
    dw[0, :] = 0.0
    dw[nz, :] = 0.0
    for k in range(1, nz):
        for i in range(nx):
            im1 = i - 1 if i > 0 else nx - 1
            ip1 = i + 1 if i < nx - 1 else 0
            west = (0.5 * (rho_c[k - 1] * u[k - 1, i] + rho_c[k] * u[k, i])
                    * 0.5 * (w[k, im1] + w[k, i]))
            east = (0.5 * (rho_c[k - 1] * u[k - 1, ip1] + rho_c[k] * u[k, ip1])
                    * 0.5 * (w[k, i] + w[k, ip1]))
            top = (0.5 * (rho_f[k] * w[k, i] + rho_f[k + 1] * w[k + 1, i])
                   * 0.5 * (w[k, i] + w[k + 1, i]))
            bottom = (0.5 * (rho_f[k - 1] * w[k - 1, i] + rho_f[k] * w[k, i])
                      * 0.5 * (w[k - 1, i] + w[k, i]))
            laplacian = ((w[k, ip1] - 2.0 * w[k, i] + w[k, im1]) / dx**2
                         + (w[k + 1, i] - 2.0 * w[k, i] + w[k - 1, i]) / dz**2)
            dw[k, i] = (-((east - west) / dx + (top - bottom) / dz) / rho_f[k] + nu * laplacian
                        + 0.5 * (b[k - 1, i] + b[k, i]))


@numba.njit(cache=True)
def momentum_tendency_column(u, w, b, rho_c, rho_f, nu, dx, dz):
    """(du, dw) of one CRM, m s-2: u (nz, nx), w (nz + 1, nx) m/s, b (nz, nx) m s-2,
    rho_c (nz,), rho_f (nz + 1,) kg m-3, nu m2 s-1, dx, dz m."""
    du = np.empty(u.shape)
    dw = np.empty(w.shape)
    _u_tendency(u, w, rho_c, rho_f, nu, dx, dz, du)
    _w_tendency(u, w, b, rho_c, rho_f, nu, dx, dz, dw)
    return du, dw


@numba.njit(cache=True)
def _row_factors(rho_c, rho_f, nu, dx, dz):
    """Per-level factors of the fast kernels (divisions done once), (10, nz + 1):
    u rows: 0 0.25/dx, 1 0.25 ρf[k+1]/(ρc dz) (0 at the lid), 2 0.25 ρf[k]/(ρc dz) (0 at
    the ground); w rows (faces k): 3 0.25 ρc[k−1]/(ρf dx), 4 0.25 ρc[k]/(ρf dx),
    5 0.25 ρf[k+1]/(ρf dz), 6 0.25/dz, 7 0.25 ρf[k−1]/(ρf dz); 8 ν/dx², 9 ν/dz²."""
    nz = rho_c.shape[0]
    f = np.zeros((10, nz + 1))
    for k in range(nz):
        f[0, k] = 0.25 / dx
        if k < nz - 1:
            f[1, k] = 0.25 * rho_f[k + 1] / (rho_c[k] * dz)
        if k > 0:
            f[2, k] = 0.25 * rho_f[k] / (rho_c[k] * dz)
            f[3, k] = 0.25 * rho_c[k - 1] / (rho_f[k] * dx)
            f[4, k] = 0.25 * rho_c[k] / (rho_f[k] * dx)
            f[5, k] = 0.25 * rho_f[k + 1] / (rho_f[k] * dz)
            f[6, k] = 0.25 / dz
            f[7, k] = 0.25 * rho_f[k - 1] / (rho_f[k] * dz)
    f[8, :] = nu / dx**2
    f[9, :] = nu / dz**2
    return f


@numba.njit(cache=True, inline="always")
def _u_cell(u, w, f, k, ka, kb, i, im1, ip1):
    """du at (k, i) from the row factors f; ka, kb: the rows above and below (k itself at
    lid and ground, where f's flux factors are 0)."""
    c = u[k, i]
    advection = (f[0, k] * ((c + u[k, ip1]) ** 2 - (u[k, im1] + c) ** 2)
                 + f[1, k] * (w[k + 1, im1] + w[k + 1, i]) * (c + u[ka, i])
                 - f[2, k] * (w[k, im1] + w[k, i]) * (u[kb, i] + c))
    return (f[8, k] * (u[k, ip1] - 2.0 * c + u[k, im1])
            + f[9, k] * (u[ka, i] - 2.0 * c + u[kb, i]) - advection)


@numba.njit(cache=True, inline="always")
def _w_cell(u, w, b, f, k, i, im1, ip1):
    """dw at the interior face (k, i) from the row factors f."""
    c = w[k, i]
    advection = ((f[3, k] * u[k - 1, ip1] + f[4, k] * u[k, ip1]) * (c + w[k, ip1])
                 - (f[3, k] * u[k - 1, i] + f[4, k] * u[k, i]) * (w[k, im1] + c)
                 + (f[6, k] * c + f[5, k] * w[k + 1, i]) * (c + w[k + 1, i])
                 - (f[7, k] * w[k - 1, i] + f[6, k] * c) * (w[k - 1, i] + c))
    return (f[8, k] * (w[k, ip1] - 2.0 * c + w[k, im1])
            + f[9, k] * (w[k + 1, i] - 2.0 * c + w[k - 1, i]) - advection
            + 0.5 * (b[k - 1, i] + b[k, i]))


@numba.njit(cache=True)
def _tendencies_fast(u, w, b, f, du, dw):
    """``momentum_tendency_column``'s tendencies (to round-off: other operation order) of
    one CRM, division-free, the periodic ends peeled off so that the rows vectorize."""
    nz, nx = u.shape
    for k in range(nz):
        ka, kb = min(k + 1, nz - 1), max(k - 1, 0)
        du[k, 0] = _u_cell(u, w, f, k, ka, kb, 0, nx - 1, 1)
        for i in range(1, nx - 1):
            du[k, i] = _u_cell(u, w, f, k, ka, kb, i, i - 1, i + 1)
        du[k, nx - 1] = _u_cell(u, w, f, k, ka, kb, nx - 1, nx - 2, 0)
    for i in range(nx):
        dw[0, i] = 0.0
        dw[nz, i] = 0.0
    for k in range(1, nz):
        dw[k, 0] = _w_cell(u, w, b, f, k, 0, nx - 1, 1)
        for i in range(1, nx - 1):
            dw[k, i] = _w_cell(u, w, b, f, k, i, i - 1, i + 1)
        dw[k, nx - 1] = _w_cell(u, w, b, f, k, nx - 1, nx - 2, 0)


@numba.njit(parallel=True, cache=True)
def momentum_tendency(u, w, b, rho_c, rho_f, nu, dx, dz):
    """``momentum_tendency_column`` over a batch (leading axis ncrm), equal to it to
    round-off: division-free, branch-free rows (``_tendencies_fast``)."""
    du = np.empty(u.shape)
    dw = np.empty(w.shape)
    f = _row_factors(rho_c, rho_f, nu, dx, dz)
    for c in numba.prange(u.shape[0]):
        _tendencies_fast(u[c], w[c], b[c], f, du[c], dw[c])
    return du, dw
