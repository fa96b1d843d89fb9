"""Monotone, conservative flux-form advection and mixing of CRM scalars (one forward step).

For a scalar φ (static energy, J kg-1, or a water mixing ratio, kg kg-1) at centres,

    ∂t φ = −(1/ρ0) [∂x F + ∂z G],   F = ρ0 u φ − ρ0 κ ∂x φ,   G = ρ0 w φ − ρ0 κ ∂z φ,

with G = 0 at ground and lid and periodic x, so Σ ρ0 φ dx dz changes only by round-off.
Zalesak's (1979, J. Comput. Phys., 31, 335–362) flux-corrected transport: the low-order
fluxes are first-order upwind plus mixing (monotone in a non-divergent flow at Courant and
diffusion numbers below one), the high-order fluxes third-order upwind-biased as Wicker &
Skamarock (2002) use with RK3 (second-order centred on the faces next to ground and lid);
their difference is limited so that no cell leaves the range of its own and its four
neighbours' old and low-order values. Each RK stage is such a step, so the
strong-stability-preserving RK3 of ``model`` keeps the whole step free of new extrema.
"""

import numba
import numpy as np


@numba.njit(cache=True)
def _fluxes(phi, mass_u, mass_w, rho_c, rho_f, kappa, dx, dz, low_x, anti_x, low_z, anti_z):
    """Low-order fluxes and antidiffusive (high − low) fluxes, kg m-2 s-1 × [φ]."""
    nz, nx = phi.shape
    for k in range(nz):
        for i in range(nx):
            im1 = i - 1 if i > 0 else nx - 1
            im2 = i - 2 if i > 1 else i - 2 + nx
            ip1 = i + 1 if i < nx - 1 else 0
            m = mass_u[k, i]
            mix = -rho_c[k] * kappa * (phi[k, i] - phi[k, im1]) / dx
            low = max(m, 0.0) * phi[k, im1] + min(m, 0.0) * phi[k, i]
            high = (m * (7.0 * (phi[k, i] + phi[k, im1]) - (phi[k, ip1] + phi[k, im2])) / 12.0
                    + abs(m) * ((phi[k, ip1] - phi[k, im2]) - 3.0 * (phi[k, i] - phi[k, im1]))
                    / 12.0)
            low_x[k, i] = low + mix
            anti_x[k, i] = high - low
    for k in range(1, nz):
        for i in range(nx):
            m = mass_w[k, i]
            mix = -rho_f[k] * kappa * (phi[k, i] - phi[k - 1, i]) / dz
            low = max(m, 0.0) * phi[k - 1, i] + min(m, 0.0) * phi[k, i]
            if 2 <= k <= nz - 2:
                high = (m * (7.0 * (phi[k, i] + phi[k - 1, i]) - (phi[k + 1, i] + phi[k - 2, i]))
                        / 12.0 + abs(m) * ((phi[k + 1, i] - phi[k - 2, i])
                                           - 3.0 * (phi[k, i] - phi[k - 1, i])) / 12.0)
            else:
                high = 0.5 * m * (phi[k, i] + phi[k - 1, i])
            low_z[k, i] = low + mix
            anti_z[k, i] = high - low


@numba.njit(cache=True)
def _apply(phi, fx, fz, rho_c, dt, dx, dz, out):
    """out = phi − dt/ρ0 (D_x fx + D_z fz)."""
    nz, nx = phi.shape
    for k in range(nz):
        for i in range(nx):
            ip1 = i + 1 if i < nx - 1 else 0
            out[k, i] = phi[k, i] - dt / rho_c[k] * ((fx[k, ip1] - fx[k, i]) / dx
                                                     + (fz[k + 1, i] - fz[k, i]) / dz)


@numba.njit(cache=True)
def _limiters(phi, low, anti_x, anti_z, rho_c, dt, dx, dz, r_plus, r_minus):
    """Zalesak's R+ and R−: the fraction of incoming/outgoing antidiffusion each cell allows."""
    nz, nx = phi.shape
    for k in range(nz):
        for i in range(nx):
            im1 = i - 1 if i > 0 else nx - 1
            ip1 = i + 1 if i < nx - 1 else 0
            hi = max(phi[k, i], low[k, i])
            lo = min(phi[k, i], low[k, i])
            for kk, ii in ((k, im1), (k, ip1), (k - 1, i), (k + 1, i)):
                if 0 <= kk < nz:
                    hi = max(hi, max(phi[kk, ii], low[kk, ii]))
                    lo = min(lo, min(phi[kk, ii], low[kk, ii]))
            scale = dt / rho_c[k]
            p_in = scale * ((max(anti_x[k, i], 0.0) - min(anti_x[k, ip1], 0.0)) / dx
                            + (max(anti_z[k, i], 0.0) - min(anti_z[k + 1, i], 0.0)) / dz)
            p_out = scale * ((max(anti_x[k, ip1], 0.0) - min(anti_x[k, i], 0.0)) / dx
                             + (max(anti_z[k + 1, i], 0.0) - min(anti_z[k, i], 0.0)) / dz)
            r_plus[k, i] = min(1.0, (hi - low[k, i]) / p_in) if p_in > 0.0 else 0.0
            r_minus[k, i] = min(1.0, (low[k, i] - lo) / p_out) if p_out > 0.0 else 0.0


@numba.njit(cache=True)
def transport_column(phi, mass_u, mass_w, rho_c, rho_f, kappa, dt, dx, dz):
    """One monotone forward step of one scalar of one CRM; returns the new φ, (nz, nx).

    phi (nz, nx); mass_u = ρ0 u (nz, nx) and mass_w = ρ0 w (nz + 1, nx), kg m-2 s-1, a
    non-divergent mass flux; kappa: eddy diffusivity, m2 s-1; dt: s; dx, dz: m."""
    nz, nx = phi.shape
    low_x = np.empty((nz, nx))
    anti_x = np.empty((nz, nx))
    low_z = np.zeros((nz + 1, nx))
    anti_z = np.zeros((nz + 1, nx))
    _fluxes(phi, mass_u, mass_w, rho_c, rho_f, kappa, dx, dz, low_x, anti_x, low_z, anti_z)
    low = np.empty((nz, nx))
    _apply(phi, low_x, low_z, rho_c, dt, dx, dz, low)
    r_plus = np.empty((nz, nx))
    r_minus = np.empty((nz, nx))
    _limiters(phi, low, anti_x, anti_z, rho_c, dt, dx, dz, r_plus, r_minus)
    for k in range(nz):
        for i in range(nx):
            im1 = i - 1 if i > 0 else nx - 1
            a = anti_x[k, i]  # positive: into cell i from cell i − 1
            c = min(r_plus[k, i], r_minus[k, im1]) if a >= 0.0 else min(r_plus[k, im1],
                                                                         r_minus[k, i])
            anti_x[k, i] = c * a
            if k > 0:
                a = anti_z[k, i]
                c = min(r_plus[k, i], r_minus[k - 1, i]) if a >= 0.0 else min(
                    r_plus[k - 1, i], r_minus[k, i])
                anti_z[k, i] = c * a
    out = np.empty((nz, nx))
    _apply(low, anti_x, anti_z, rho_c, dt, dx, dz, out)
    return out


@numba.njit(parallel=True, cache=True)
def transport(scalars, u, w, rho_c, rho_f, kappa, dt, dx, dz):
    """``transport_column`` over a batch: scalars (ncrm, nscalar, nz, nx), u (ncrm, nz, nx),
    w (ncrm, nz + 1, nx) in m/s; returns the new scalars."""
    ncrm, nscalar, nz, nx = scalars.shape
    out = np.empty(scalars.shape)
    for cs in numba.prange(ncrm * nscalar):
        c = cs // nscalar
        s = cs % nscalar
        mass_u = u[c] * rho_c.reshape(nz, 1)
        mass_w = w[c] * rho_f.reshape(nz + 1, 1)
        out[c, s] = transport_column(scalars[c, s], mass_u, mass_w, rho_c, rho_f, kappa, dt,
                                     dx, dz)
    return out
