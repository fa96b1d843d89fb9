"""One-pass monotone transport of CRM scalars: one flux-corrected step a model step.

SAM advects its scalars forward in time once a step (MPDATA, later ULTIMATE-MACHO:
Yamaguchi, Randall & Khairoutdinov 2011, MWR 139, 3248–3264); ``scalar_transport``'s
scheme needs two FCT steps (SSP-RK2) instead. Here one step of Zalesak's (1979) FCT with
``scalar_transport``'s low-order fluxes (donor cell plus mixing) and limiter, but a
space-time high-order flux made with the step's (mid-step) velocity:

- along the face normal, Leonard's (1979, Comput. Methods Appl. Mech. Eng. 19, 59–98)
  QUICKEST face value ½(φW + φE) − ½ C (φE − φW) − (1 − C²)/6 × (upwind curvature), C the
  signed Courant number of the face: third order in space, its −½ C term the Lax–Wendroff
  time correction (second order, Lax–Wendroff itself on the z-faces next to ground and lid);
- across it, the cross term of the two-dimensional Lax–Wendroff expansion: for a
  non-divergent ρ0 v, ∂tt φ = (1/ρ0) ∇·(ρ0 v (v·∇φ)), so the x-face flux gains
  −(dt/2) ρ0 u (w ∂zφ) and the z-face flux −(dt/2) ρ0 w (u ∂xφ), with w ∂zφ and u ∂xφ
  centred at cell centres (one-sided ∂zφ in the lowest and highest layer) and averaged to
  the face. Without it the unsplit step would amplify diagonal waves (|G|² ≈ 1 + 2 Cx Cz
  k² dx dz for a wave of number k).

The fluxes are in flux form, so Σ ρ0 φ dx dz changes only by round-off; the limiter keeps
every cell within its own and its four neighbours' old and low-order values, whatever the
high-order flux. The low-order step is a convex combination, hence the whole step is
monotone, only if every cell's outgoing Courant numbers plus its diffusion number,
dt/(ρ0 dx) Σ_out ρ0 u + dt/(ρ0 dz) Σ_out ρ0 w + 2κ dt/dx² + κ dt Σ ρ0f/(ρ0 dz²), are at most
one (the 2-D donor-cell limit Cx + Cz ≤ 1): ``transport_one_step`` checks that of every
cell each step and refuses a step above it.

``one_step_column`` is the plain per-CRM reference; ``transport_one_step``, the batch
kernel ``model`` calls, computes the same numbers bit for bit.
"""

import numba
import numpy as np

from gcm.crm.scalar_transport import (
    TWELFTH,
    limit_and_apply,
    limited_step,
    mass_fluxes,
    pad_row,
    upwind,
)


@numba.njit(cache=True, inline="always")
def _lax_wendroff(m, courant, west, east):
    """Lax–Wendroff flux through a face with mass flux m and signed Courant number."""
    return m * (0.5 * (west + east) - 0.5 * courant * (east - west))


@numba.njit(cache=True, inline="always")
def _quickest(m, courant, far_west, west, east, far_east):
    """Leonard's QUICKEST flux through the face between ``west`` and ``east``: Lax–Wendroff
    less (1 − C²)/6 of the upwind side's curvature."""
    curvature = (m * ((far_west + far_east) - (west + east))
                 - abs(m) * ((far_east - far_west) - 3.0 * (east - west)))
    return _lax_wendroff(m, courant, west, east) - (1.0 - courant * courant) * TWELFTH * curvature


@numba.njit(cache=True)
def cross_factors(mass_u, mass_w, rho_c, rho_f, kappa, dt, dx, dz, along_x, along_z, donor):
    """One CRM's cross-term factors and its cells' donor-cell numbers.

    mass_u (nz, nx + 1) on x-faces 0 … nx (face i west of cell i; face nx = face 0),
    mass_w (nz + 1, nx), kg m-2 s-1; fills along_x = dt u/(8 dx) and along_z = dt w/(8 dz)
    at centres (nz, nx) (along_z doubled in the lowest and highest layer, whose ∂zφ is
    one-sided) and donor (nz, nx), each cell's outgoing Courant numbers plus its diffusion
    number."""
    nz, nx = mass_w.shape[0] - 1, mass_w.shape[1]
    for k in range(nz):
        to_x = dt / (16.0 * dx * rho_c[k])
        to_z = (2.0 if k == 0 or k == nz - 1 else 1.0) * dt / (16.0 * dz)
        below, above = 1.0 / rho_f[k], 1.0 / rho_f[k + 1]
        scale_x, scale_z = dt / (rho_c[k] * dx), dt / (rho_c[k] * dz)
        diffusion = kappa * dt * (2.0 / (dx * dx) + ((rho_f[k] if k > 0 else 0.0)
                                                     + (rho_f[k + 1] if k < nz - 1 else 0.0))
                                  / (rho_c[k] * dz * dz))
        for i in range(nx):
            west, east = mass_u[k, i], mass_u[k, i + 1]
            bottom, top = mass_w[k, i], mass_w[k + 1, i]
            along_x[k, i] = (west + east) * to_x
            along_z[k, i] = (bottom * below + top * above) * to_z
            donor[k, i] = (scale_x * (max(east, 0.0) - min(west, 0.0))
                           + scale_z * (max(top, 0.0) - min(bottom, 0.0)) + diffusion)


@numba.njit(cache=True)
def one_step_column(phi, mass_u, mass_w, rho_c, rho_f, kappa, dt, dx, dz):
    """One monotone forward-in-time step of one scalar of one CRM; the new φ, (nz, nx).

    phi (nz, nx); mass_u = ρ0 u (nz, nx) and mass_w = ρ0 w (nz + 1, nx), kg m-2 s-1, the
    step's non-divergent mass flux; kappa: eddy diffusivity, m2 s-1; dt: s; dx, dz: m. The
    donor-cell limit is not checked here (see ``transport_one_step``)."""
    nz, nx = phi.shape
    faces = np.empty((nz, nx + 1))  # mass_u with face nx = face 0
    faces[:, :nx] = mass_u
    faces[:, nx] = mass_u[:, 0]
    along_x, along_z = np.empty((nz, nx)), np.empty((nz, nx))
    cross_factors(faces, mass_w, rho_c, rho_f, kappa, dt, dx, dz, along_x, along_z,
                  np.empty((nz, nx)))
    cross_z, cross_x = np.empty((nz, nx)), np.empty((nz, nx))  # (dt/8) w ∂zφ dz, u ∂xφ dx
    for k in range(nz):
        up, down = min(k + 1, nz - 1), max(k - 1, 0)
        for i in range(nx):
            cross_z[k, i] = along_z[k, i] * (phi[up, i] - phi[down, i])
            cross_x[k, i] = along_x[k, i] * (phi[k, (i + 1) % nx] - phi[k, (i - 1) % nx])
    low_x, anti_x = np.empty((nz, nx)), np.empty((nz, nx))
    low_z, anti_z = np.zeros((nz + 1, nx)), np.zeros((nz + 1, nx))
    for k in range(nz):
        mix, courant = rho_c[k] * kappa / dx, dt / (rho_c[k] * dx)
        for i in range(nx):
            im2, im1, ip1 = (i - 2) % nx, (i - 1) % nx, (i + 1) % nx
            m = mass_u[k, i]
            low = upwind(m, phi[k, im1], phi[k, i])
            high = (_quickest(m, m * courant, phi[k, im2], phi[k, im1], phi[k, i], phi[k, ip1])
                    - m * (cross_z[k, im1] + cross_z[k, i]))
            low_x[k, i] = low - mix * (phi[k, i] - phi[k, im1])
            anti_x[k, i] = high - low
    for k in range(1, nz):
        mix, courant = rho_f[k] * kappa / dz, dt / (rho_f[k] * dz)
        for i in range(nx):
            m = mass_w[k, i]
            low = upwind(m, phi[k - 1, i], phi[k, i])
            if 2 <= k <= nz - 2:
                high = _quickest(m, m * courant, phi[k - 2, i], phi[k - 1, i], phi[k, i],
                                 phi[k + 1, i])
            else:
                high = _lax_wendroff(m, m * courant, phi[k - 1, i], phi[k, i])
            high -= m * (cross_x[k - 1, i] + cross_x[k, i])
            low_z[k, i] = low - mix * (phi[k, i] - phi[k - 1, i])
            anti_z[k, i] = high - low
    return limited_step(phi, low_x, anti_x, low_z, anti_z, rho_c, dt, dx, dz)


@numba.njit(cache=True, error_model="numpy")
def _one_step_fused(phi, mass_u, mass_w, along_x, along_z, rho_c, rho_f, kappa, dt, dx, dz,
                    work, out):
    """``one_step_column``'s arithmetic, bit for bit, over padded rows without allocation.

    mass_u (nz, nx + 1) on x-faces 0 … nx; mass_w (nz + 1, nx); along_x, along_z (nz, nx)
    from ``cross_factors``; work (11, nz + 1, nx + 4) scratch; out (nz, nx): the new φ."""
    nz, nx = phi.shape
    pad, low_x, anti_x, low_z, anti_z = work[0], work[1], work[2], work[3], work[4]
    cross_z, cross_x = work[9], work[10]  # cross_z padded by 1 in x
    for k in range(nz):
        pad_row(phi[k], pad[k])
    for k in range(nz):
        row, above, below = pad[k], pad[min(k + 1, nz - 1)], pad[max(k - 1, 0)]
        for i in range(nx):
            cross_z[k, i + 1] = along_z[k, i] * (above[i + 2] - below[i + 2])
            cross_x[k, i] = along_x[k, i] * (row[i + 3] - row[i + 1])
        cross_z[k, 0] = cross_z[k, nx]
        cross_z[k, nx + 1] = cross_z[k, 1]
    # low-order and antidiffusive fluxes (x: faces 0 … nx; z: faces 1 … nz − 1)
    for k in range(nz):
        p, across = pad[k], cross_z[k]
        mix, courant = rho_c[k] * kappa / dx, dt / (rho_c[k] * dx)
        for i in range(nx + 1):
            m = mass_u[k, i]
            lo = upwind(m, p[i + 1], p[i + 2])
            high = (_quickest(m, m * courant, p[i], p[i + 1], p[i + 2], p[i + 3])
                    - m * (across[i] + across[i + 1]))
            low_x[k, i] = lo - mix * (p[i + 2] - p[i + 1])
            anti_x[k, i] = high - lo
    for i in range(nx):
        low_z[0, i] = low_z[nz, i] = anti_z[0, i] = anti_z[nz, i] = 0.0
    for k in range(1, nz):
        above, below = pad[k], pad[k - 1]
        mix, courant = rho_f[k] * kappa / dz, dt / (rho_f[k] * dz)
        centred = k < 2 or k > nz - 2
        top, bottom = pad[min(k + 1, nz - 1)], pad[max(k - 2, 0)]
        across_below, across_above = cross_x[k - 1], cross_x[k]
        for i in range(2, nx + 2):
            m = mass_w[k, i - 2]
            lo = upwind(m, below[i], above[i])
            if centred:
                high = _lax_wendroff(m, m * courant, below[i], above[i])
            else:
                high = _quickest(m, m * courant, bottom[i], below[i], above[i], top[i])
            high -= m * (across_below[i - 2] + across_above[i - 2])
            low_z[k, i - 2] = lo - mix * (above[i] - below[i])
            anti_z[k, i - 2] = high - lo
    limit_and_apply(work, rho_c, dt, dx, dz, out)


def transport_one_step(scalars, u, w, rho_c, rho_f, kappa, dt, dx, dz):
    """``one_step_column`` over a batch, bit for bit: scalars (ncrm, nscalar, nz, nx), u
    (ncrm, nz, nx), w (ncrm, nz + 1, nx) m/s (the step's mid-step velocity); returns the new
    scalars. ValueError, naming the CRM and cell, if a cell's donor-cell number exceeds 1."""
    out, donor = _one_step_blocks(scalars, u, w, rho_c, rho_f, kappa, dt, dx, dz,
                                  numba.get_num_threads())
    if donor.max() > 1.0:
        crm, k, i = np.unravel_index(np.argmax(donor), donor.shape)
        raise ValueError(
            f"one-step scalar transport: CRM {crm}, layer {k}, column {i} has Cx + Cz + "
            f"diffusion number {donor[crm, k, i]:.3f} > 1 at dt = {dt} s (the 2-D donor-cell "
            "limit, past which the step is neither monotone nor stable): shorten dt or use "
            "scalar_scheme='rk2'")
    return out


@numba.njit(parallel=True, cache=True, error_model="numpy")
def _one_step_blocks(scalars, u, w, rho_c, rho_f, kappa, dt, dx, dz, threads):
    """(new scalars, donor (ncrm, nz, nx): every cell's donor-cell number). Each CRM's mass
    fluxes and cross factors first, in parallel over CRMs; then the (CRM, scalar) pairs,
    split into ``threads`` contiguous blocks with one scratch each."""
    ncrm, nscalar, nz, nx = scalars.shape
    mass_u, mass_w = np.empty((ncrm, nz, nx + 1)), np.empty((ncrm, nz + 1, nx))
    along, donor = np.empty((ncrm, 2, nz, nx)), np.empty((ncrm, nz, nx))
    for c in numba.prange(ncrm):
        mass_fluxes(u[c], w[c], rho_c, rho_f, mass_u[c], mass_w[c])
        cross_factors(mass_u[c], mass_w[c], rho_c, rho_f, kappa, dt, dx, dz, along[c, 0],
                      along[c, 1], donor[c])
    out = np.empty(scalars.shape)
    items = ncrm * nscalar
    blocks = max(1, min(threads, items))
    for block in numba.prange(blocks):
        work = np.empty((11, nz + 1, nx + 4))
        for item in range(block * items // blocks, (block + 1) * items // blocks):
            c, s = item // nscalar, item % nscalar
            _one_step_fused(scalars[c, s], mass_u[c], mass_w[c], along[c, 0], along[c, 1],
                            rho_c, rho_f, kappa, dt, dx, dz, work, out[c, s])
    return out, donor
