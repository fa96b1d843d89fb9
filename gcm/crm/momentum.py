"""Momentum tendencies of the anelastic CRM (before the pressure projection), m s-2.

    ∂t u = −(1/ρ0) [∂x(ρ0 u u) + ∂z(ρ0 w u)] + ν ∇²u,
    ∂t w = −(1/ρ0) [∂x(ρ0 u w) + ∂z(ρ0 w w)] + ν ∇²w + b,

second-order centred flux form on the C grid (the momentum scheme of SAM, Khairoutdinov &
Randall 2003): the mass fluxes around each u and w cell are averages of those of the two
scalar cells it overlaps, so a uniform wind in a non-divergent flow stays uniform. Free slip
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


@numba.njit(parallel=True, cache=True)
def momentum_tendency(u, w, b, rho_c, rho_f, nu, dx, dz):
    """``momentum_tendency_column`` over a batch (leading axis ncrm), written in place
    (no per-CRM temporaries)."""
    du = np.empty(u.shape)
    dw = np.empty(w.shape)
    for c in numba.prange(u.shape[0]):
        _u_tendency(u[c], w[c], rho_c, rho_f, nu, dx, dz, du[c])
        _w_tendency(u[c], w[c], b[c], rho_c, rho_f, nu, dx, dz, dw[c])
    return du, dw
