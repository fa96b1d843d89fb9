"""Monotone, conservative flux-form advection and mixing of CRM scalars (one forward step).

For a scalar φ (static energy, J kg-1, or a water mixing ratio, kg kg-1) at centres,

    ∂t φ = −(1/ρ0) [∂x F + ∂z G],   F = ρ0 u φ − ρ0 κ ∂x φ,   G = ρ0 w φ − ρ0 κ ∂z φ,

with G = 0 at ground and lid and periodic x, so Σ ρ0 φ dx dz changes only by round-off.
Zalesak's (1979, J. Comput. Phys., 31, 335–362) flux-corrected transport: the low-order
fluxes are first-order upwind plus mixing (monotone in a non-divergent flow at Courant and
diffusion numbers below one), the high-order fluxes third-order upwind-biased as Wicker &
Skamarock (2002) use with RK3 (second-order centred on the faces next to ground and lid);
their difference is limited so that no cell leaves the range of its own and its four
neighbours' old and low-order values. Each Runge–Kutta stage of ``model`` (RK2 for the
scalars under "ab3", RK3 under "rk3", both strong-stability-preserving) is such a step, so
the whole step makes no new extrema.

``transport_column`` is the plain per-CRM reference; ``transport``, the batch kernel the
model calls, computes the same numbers bit for bit in fewer passes without allocating.
Their limiting passes (``limited_step``, ``limit_and_apply``) also serve
``one_step_transport``, the one-pass space-time alternative to RK2.
"""

import numba
import numpy as np

TWELFTH = 1.0 / 12.0


@numba.njit(cache=True, inline="always")
def upwind(m, west, east):
    """First-order upwind flux through a face with mass flux m (positive eastwards/up)."""
    return max(m, 0.0) * west + min(m, 0.0) * east


@numba.njit(cache=True, inline="always")
def _third_order(m, far_west, west, east, far_east):
    """Third-order upwind-biased flux through the face between ``west`` and ``east``."""
    return (m * (7.0 * (east + west) - (far_east + far_west))
            + abs(m) * ((far_east - far_west) - 3.0 * (east - west))) * TWELFTH


@numba.njit(cache=True)
def _fluxes(phi, mass_u, mass_w, rho_c, rho_f, kappa, dx, dz, low_x, anti_x, low_z, anti_z):
    """Low-order fluxes and antidiffusive (high − low) fluxes, kg m-2 s-1 × [φ]."""
    nz, nx = phi.shape
    for k in range(nz):
        mix = rho_c[k] * kappa / dx
        for i in range(nx):
            im1 = i - 1 if i > 0 else nx - 1
            im2 = i - 2 if i > 1 else i - 2 + nx
            ip1 = i + 1 if i < nx - 1 else 0
            m = mass_u[k, i]
            low = upwind(m, phi[k, im1], phi[k, i])
            high = _third_order(m, phi[k, im2], phi[k, im1], phi[k, i], phi[k, ip1])
            low_x[k, i] = low - mix * (phi[k, i] - phi[k, im1])
            anti_x[k, i] = high - low
    for k in range(1, nz):
        mix = rho_f[k] * kappa / dz
        for i in range(nx):
            m = mass_w[k, i]
            low = upwind(m, phi[k - 1, i], phi[k, i])
            if 2 <= k <= nz - 2:
                high = _third_order(m, phi[k - 2, i], phi[k - 1, i], phi[k, i], phi[k + 1, i])
            else:
                high = 0.5 * m * (phi[k, i] + phi[k - 1, i])
            low_z[k, i] = low - mix * (phi[k, i] - phi[k - 1, i])
            anti_z[k, i] = high - low


@numba.njit(cache=True)
def _apply(phi, fx, fz, rho_c, dt, dx, dz, out):
    """out = phi − dt/ρ0 (D_x fx + D_z fz)."""
    nz, nx = phi.shape
    for k in range(nz):
        scale_x, scale_z = dt / (rho_c[k] * dx), dt / (rho_c[k] * dz)
        for i in range(nx):
            ip1 = i + 1 if i < nx - 1 else 0
            out[k, i] = phi[k, i] - (scale_x * (fx[k, ip1] - fx[k, i])
                                     + scale_z * (fz[k + 1, i] - fz[k, i]))


@numba.njit(cache=True)
def _limiters(phi, low, anti_x, anti_z, rho_c, dt, dx, dz, r_plus, r_minus):
    """Zalesak's R+ and R−: the fraction of incoming/outgoing antidiffusion each cell allows."""
    nz, nx = phi.shape
    for k in range(nz):
        scale_x, scale_z = dt / (rho_c[k] * dx), dt / (rho_c[k] * dz)
        for i in range(nx):
            im1 = i - 1 if i > 0 else nx - 1
            ip1 = i + 1 if i < nx - 1 else 0
            hi = max(phi[k, i], low[k, i])
            lo = min(phi[k, i], low[k, i])
            for kk, ii in ((k, im1), (k, ip1), (k - 1, i), (k + 1, i)):
                if 0 <= kk < nz:
                    hi = max(hi, max(phi[kk, ii], low[kk, ii]))
                    lo = min(lo, min(phi[kk, ii], low[kk, ii]))
            p_in = (scale_x * (max(anti_x[k, i], 0.0) - min(anti_x[k, ip1], 0.0))
                    + scale_z * (max(anti_z[k, i], 0.0) - min(anti_z[k + 1, i], 0.0)))
            p_out = (scale_x * (max(anti_x[k, ip1], 0.0) - min(anti_x[k, i], 0.0))
                     + scale_z * (max(anti_z[k + 1, i], 0.0) - min(anti_z[k, i], 0.0)))
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
    return limited_step(phi, low_x, anti_x, low_z, anti_z, rho_c, dt, dx, dz)


@numba.njit(cache=True)
def limited_step(phi, low_x, anti_x, low_z, anti_z, rho_c, dt, dx, dz):
    """Zalesak's limiting of one CRM's fluxes and the step it makes: the low-order solution
    plus the limited antidiffusive fluxes, (nz, nx); the per-CRM reference of
    ``limit_and_apply``. low_x, anti_x (nz, nx) on x-faces, low_z, anti_z (nz + 1, nx) on
    z-faces (zero at ground and lid), kg m-2 s-1 × [φ]; anti_x/anti_z are overwritten."""
    nz, nx = phi.shape
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


@numba.njit(cache=True)
def pad_row(row, padded):
    """padded[2 : nx + 2] = row with two periodic halo columns each side, (nx + 4,)."""
    nx = row.shape[0]
    for i in range(nx):
        padded[i + 2] = row[i]
    padded[0] = row[nx - 2]
    padded[1] = row[nx - 1]
    padded[nx + 2] = row[0]
    padded[nx + 3] = row[1]


@numba.njit(cache=True, error_model="numpy")
def _fct_fused(phi, mass_u, mass_w, rho_c, rho_f, kappa, dt, dx, dz, work, out):
    """``transport_column``'s arithmetic, bit for bit, in three branch-free passes over
    padded rows (so that LLVM vectorizes the inner loops) and no allocation.

    mass_u (nz, nx + 1): ρ0 u on the x-faces 0 … nx (face nx = face 0); mass_w (nz + 1, nx);
    work (9, nz + 1, nx + 4) scratch; out (nz, nx) receives the new φ."""
    nz, nx = phi.shape
    pad, low_x, anti_x, low_z, anti_z = work[0], work[1], work[2], work[3], work[4]
    for k in range(nz):
        pad_row(phi[k], pad[k])
    # pass 1: low-order and antidiffusive fluxes (x: faces 0 … nx; z: faces 1 … nz − 1)
    for k in range(nz):
        p, mix = pad[k], rho_c[k] * kappa / dx
        for i in range(nx + 1):
            m = mass_u[k, i]
            lo = upwind(m, p[i + 1], p[i + 2])
            high = _third_order(m, p[i], p[i + 1], p[i + 2], p[i + 3])
            low_x[k, i] = lo - mix * (p[i + 2] - p[i + 1])
            anti_x[k, i] = high - lo
    for i in range(nx):
        low_z[0, i] = low_z[nz, i] = anti_z[0, i] = anti_z[nz, i] = 0.0
    for k in range(1, nz):
        above, below, mix = pad[k], pad[k - 1], rho_f[k] * kappa / dz
        centred = k < 2 or k > nz - 2
        top, bottom = pad[min(k + 1, nz - 1)], pad[max(k - 2, 0)]
        for i in range(2, nx + 2):
            m = mass_w[k, i - 2]
            lo = upwind(m, below[i], above[i])
            if centred:
                high = 0.5 * m * (above[i] + below[i])
            else:
                high = _third_order(m, bottom[i], below[i], above[i], top[i])
            low_z[k, i - 2] = lo - mix * (above[i] - below[i])
            anti_z[k, i - 2] = high - lo
    limit_and_apply(work, rho_c, dt, dx, dz, out)


@numba.njit(cache=True, error_model="numpy")
def limit_and_apply(work, rho_c, dt, dx, dz, out):
    """The fused kernels' last three passes: the low-order solution, Zalesak's limiter and
    the limited step into ``out`` (nz, nx). work (≥ 9, nz + 1, nx + 4) as ``_fct_fused``
    leaves it: the padded φ, low_x, anti_x (x-faces 0 … nx), low_z, anti_z (z-faces 0 … nz,
    zero at ground and lid); the rest is scratch."""
    nz, nx = out.shape
    pad, low_x, anti_x, low_z, anti_z = work[0], work[1], work[2], work[3], work[4]
    low, upper, lower = work[5], work[6], work[7]  # low padded by 1; bounds padded by 1
    # pass 2: the low-order solution and each cell's own bounds max/min(φ, low)
    for k in range(nz):
        scale_x, scale_z = dt / (rho_c[k] * dx), dt / (rho_c[k] * dz)
        for i in range(nx):
            value = pad[k, i + 2] - (scale_x * (low_x[k, i + 1] - low_x[k, i])
                                     + scale_z * (low_z[k + 1, i] - low_z[k, i]))
            low[k, i + 1] = value
            upper[k, i + 1] = max(pad[k, i + 2], value)
            lower[k, i + 1] = min(pad[k, i + 2], value)
        for a in (low[k], upper[k], lower[k]):
            a[0] = a[nx]
            a[nx + 1] = a[1]
    # pass 3: Zalesak's R+ and R− (padded by 1); the padded φ is not needed any more
    r_plus, r_minus = work[8], pad
    for k in range(nz):
        up, down = max(k - 1, 0), min(k + 1, nz - 1)
        scale_x, scale_z = dt / (rho_c[k] * dx), dt / (rho_c[k] * dz)
        for i in range(1, nx + 1):
            hi = max(max(upper[k, i], upper[k, i - 1]), max(upper[k, i + 1],
                                                             max(upper[up, i], upper[down, i])))
            lo = min(min(lower[k, i], lower[k, i - 1]), min(lower[k, i + 1],
                                                             min(lower[up, i], lower[down, i])))
            ax_w, ax_e = anti_x[k, i - 1], anti_x[k, i]
            az_b, az_t = anti_z[k, i - 1], anti_z[k + 1, i - 1]
            p_in = (scale_x * (max(ax_w, 0.0) - min(ax_e, 0.0))
                    + scale_z * (max(az_b, 0.0) - min(az_t, 0.0)))
            p_out = (scale_x * (max(ax_e, 0.0) - min(ax_w, 0.0))
                     + scale_z * (max(az_t, 0.0) - min(az_b, 0.0)))
            r_plus[k, i] = min(1.0, (hi - low[k, i]) / p_in) if p_in > 0.0 else 0.0
            r_minus[k, i] = min(1.0, (low[k, i] - lo) / p_out) if p_out > 0.0 else 0.0
        for a in (r_plus[k], r_minus[k]):
            a[0] = a[nx]
            a[nx + 1] = a[1]
    # pass 4: limit the antidiffusive fluxes on the fly and apply them to the low solution
    for k in range(nz):
        scale_x, scale_z = dt / (rho_c[k] * dx), dt / (rho_c[k] * dz)
        below, above = max(k - 1, 0), min(k + 1, nz - 1)
        for i in range(1, nx + 1):
            a = anti_x[k, i - 1]  # into cell i − 1 (padded i) from its west neighbour
            west = a * (min(r_plus[k, i], r_minus[k, i - 1]) if a >= 0.0
                        else min(r_plus[k, i - 1], r_minus[k, i]))
            a = anti_x[k, i]
            east = a * (min(r_plus[k, i + 1], r_minus[k, i]) if a >= 0.0
                        else min(r_plus[k, i], r_minus[k, i + 1]))
            a = anti_z[k, i - 1]
            bottom = a * (min(r_plus[k, i], r_minus[below, i]) if a >= 0.0
                          else min(r_plus[below, i], r_minus[k, i]))
            a = anti_z[k + 1, i - 1]
            top = a * (min(r_plus[above, i], r_minus[k, i]) if a >= 0.0
                       else min(r_plus[k, i], r_minus[above, i]))
            out[k, i - 1] = low[k, i] - (scale_x * (east - west) + scale_z * (top - bottom))


def transport(scalars, u, w, rho_c, rho_f, kappa, dt, dx, dz):
    """``transport_column`` over a batch, the same numbers bit for bit: scalars
    (ncrm, nscalar, nz, nx), u (ncrm, nz, nx), w (ncrm, nz + 1, nx) in m/s; returns the new
    scalars. The (CRM, scalar) pairs are split into one contiguous block per thread, each
    with its own scratch, and the mass fluxes are formed once per CRM of a block."""
    return _transport_blocks(scalars, u, w, rho_c, rho_f, kappa, dt, dx, dz,
                             numba.get_num_threads())


@numba.njit(parallel=True, cache=True, error_model="numpy")
def _transport_blocks(scalars, u, w, rho_c, rho_f, kappa, dt, dx, dz, threads):
    """``transport`` with the pairs split into ``threads`` blocks."""
    ncrm, nscalar, nz, nx = scalars.shape
    out = np.empty(scalars.shape)
    items = ncrm * nscalar
    blocks = max(1, min(threads, items))
    for block in numba.prange(blocks):
        work = np.empty((9, nz + 1, nx + 4))
        mass_u = np.empty((nz, nx + 1))
        mass_w = np.empty((nz + 1, nx))
        current = -1
        for item in range(block * items // blocks, (block + 1) * items // blocks):
            c, s = item // nscalar, item % nscalar
            if c != current:
                current = c
                mass_fluxes(u[c], w[c], rho_c, rho_f, mass_u, mass_w)
            _fct_fused(scalars[c, s], mass_u, mass_w, rho_c, rho_f, kappa, dt, dx, dz, work,
                       out[c, s])
    return out


@numba.njit(cache=True)
def mass_fluxes(u, w, rho_c, rho_f, mass_u, mass_w):
    """mass_u (nz, nx + 1) = ρ0 u on the x-faces 0 … nx (face nx = face 0) and mass_w
    (nz + 1, nx) = ρ0 w, kg m-2 s-1, of one CRM's u (nz, nx) and w (nz + 1, nx), m/s."""
    nz, nx = u.shape
    for k in range(nz):
        for i in range(nx):
            mass_u[k, i] = u[k, i] * rho_c[k]
        mass_u[k, nx] = mass_u[k, 0]
    for k in range(nz + 1):
        for i in range(nx):
            mass_w[k, i] = w[k, i] * rho_f[k]
