"""Sub-grid turbulent mixing: the Smagorinsky–Lilly eddy viscosity, the stress divergence it
gives the momentum, and the flux-form eddy diffusion of the scalars.

Eddy viscosity at centres (Smagorinsky 1963; Lilly 1962 for the stability correction; the
first-order closure SAM offers, Khairoutdinov & Randall 2003),

    ν = (c_s Δ)² |S| √max(0, 1 − Ri/Pr) = (c_s Δ)² √max(0, |S|² − N²/Pr),   κ = ν / Pr,

|S|² = 2 S_ij S_ij = 2 [(∂x u)² + (∂z w)²] + (∂z u + ∂x w)², Ri = N²/|S|², c_s = 0.17
(Lilly 1967's inertial-range value), Pr = 1/3 (SAM's and Deardorff 1980's κ = 3ν for a
mixing length equal to the grid length), Δ = (dx dz)^½ (the side of the square of the 2-D
cell's area; Deardorff's (dx dy dz)^⅓ in 2-D). The shear term lives at the cell corners
(zero at ground and lid: free slip) and its square is averaged to the centre.

N² is the local moist stability: the buoyancy of the cell above a z-face minus that of the
cell below lifted to it at constant s_l (or θ_l), q_t and q_r, divided by dz. Lifted
parcels are adjusted to saturation at the upper level (``saturation_adjustment.adjust``), so
N² is the dry N² in clear air and the moist (saturated) one in cloud, as in SAM's
closure; dry models (``moist=False``) ignore the water tracers. The faces' N² is averaged
to the centres (one face in the lowest and highest layers).

Stability of the explicit mixing: ν is capped by ``viscosity_limit`` (a scalar, m2 s-1) so
that the momentum stress (whose discrete operator is at most twice ν ∇²) stays inside the
time scheme's stability limit and the scalar diffusion step, forward Euler with κ at faces
averaged from centres, has non-negative weights (so it makes no new extrema).

Fluxes (conservative: every flux leaves one cell or u-cell and enters its neighbour):
τ_xx = 2 ρ0 ν ∂x u and τ_zz = 2 ρ0 ν ∂z w at centres, τ_xz = ρ0 ν (∂z u + ∂x w) at corners
(0 at ground and lid, ν averaged over the four cells); ∂t u = (1/ρ0)(∂x τ_xx + ∂z τ_xz),
∂t w = (1/ρ0)(∂x τ_xz + ∂z τ_zz). Scalars: F = −ρ0 κ ∂x φ, G = −ρ0 κ ∂z φ (0 at ground and
lid), κ at faces the mean of the two cells'.

``eddy_viscosity_column``, ``stress_tendency_column`` and ``diffuse_column`` are the plain
per-CRM references; ``eddy_viscosity`` and ``add_stress`` are the batch kernels the "rk3"
scheme calls (the same bits), ``mixing_tendency`` (ν, κ and the stress added to the momentum
tendency, one pass per CRM) and ``diffuse`` the fast ones of every step, equal to the
references to round-off (division-free, each corner's shear and stress formed once), but
for the moist N², whose saturation adjustments stop at ``STABILITY_TOLERANCE``.
"""

import numba
import numpy as np

from gcm.constants import GRAVITY
from gcm.crm.saturation_adjustment import adjust, density_buoyancy, row_buoyancy

SMAGORINSKY = 0.17  # c_s
PRANDTL = 1.0 / 3.0
# K: the fast kernel's saturation adjustment for N² stops here (N² then within
# g 1e-6 / (T0 dz) ≈ 1e-10 s-2 of the reference's, ν within ≈ 1e-6 of it where N² matters)
STABILITY_TOLERANCE = 1e-6


def length_scale_squared(dx: float, dz: float) -> float:
    """(c_s Δ)², m2, with Δ = (dx dz)^½."""
    return SMAGORINSKY**2 * dx * dz


def viscosity_limit(dt: float, dx: float, dz: float, rho_c: np.ndarray, rho_f: np.ndarray,
                    momentum_limit: float) -> float:
    """The largest ν (m2 s-1) explicit mixing takes at step dt (s): the stress's
    dt ν 8 (1/dx² + 1/dz²) ≤ momentum_limit (the scheme's stability bound on the negative
    real axis, e.g. 6/11 for AB3), and the scalar step's weights Σ dt κ ρ0_face/(ρ0 Δ²) ≤ 1
    in every layer (κ = ν/Pr)."""
    momentum = momentum_limit / (8.0 * dt * (1.0 / dx**2 + 1.0 / dz**2))
    weights = 2.0 / dx**2 + (rho_f[:-1] + rho_f[1:]) / (rho_c * dz**2)
    return float(min(momentum, PRANDTL / (dt * np.max(weights))))


@numba.njit(cache=True)
def _buoyancy_at(field, qt, qr, k, offset, factor, pressure, t0, moist):
    """Buoyancy (m s-2, without the base-state part) at level k of a parcel with the
    conserved variables (field, qt, qr)."""
    t_l = offset[k] + factor[k] * field
    if not moist:
        return GRAVITY * (t_l - t0[k]) / t0[k]
    temperature, qc = adjust(t_l, qt, qr, pressure[k])
    return density_buoyancy(temperature, qc, qt, qr, t0[k])


@numba.njit(cache=True)
def _stability(scalars, k, i, offset, factor, pressure, t0, moist, dz):
    """N² (s-2) on the z-face k (1 ≤ k < nz) of column i: the cell above minus the cell
    below lifted to level k, over dz."""
    field, qt, qr = scalars[0], scalars[1], scalars[2]
    above = _buoyancy_at(field[k, i], qt[k, i], qr[k, i], k, offset, factor, pressure, t0,
                         moist)
    lifted = _buoyancy_at(field[k - 1, i], qt[k - 1, i], qr[k - 1, i], k, offset, factor,
                          pressure, t0, moist)
    return (above - lifted) / dz


@numba.njit(cache=True)
def _viscosity_into(u, w, scalars, offset, factor, pressure, t0, moist, dx, dz, length2,
                    nu_max, face_n2, nu):
    """ν (nz, nx) written into ``nu``; face_n2 (nz + 1, nx) scratch."""
    nz, nx = u.shape
    for k in range(1, nz):
        for i in range(nx):
            face_n2[k, i] = _stability(scalars, k, i, offset, factor, pressure, t0, moist, dz)
    for k in range(nz):
        for i in range(nx):
            ip1 = i + 1 if i < nx - 1 else 0
            strain = 2.0 * (((u[k, ip1] - u[k, i]) / dx) ** 2
                            + ((w[k + 1, i] - w[k, i]) / dz) ** 2)
            shear = 0.0
            for kk in (k, k + 1):
                if 0 < kk < nz:
                    for ii in (i, ip1):
                        iim1 = ii - 1 if ii > 0 else nx - 1
                        s = (u[kk, ii] - u[kk - 1, ii]) / dz + (w[kk, ii] - w[kk, iim1]) / dx
                        shear += s * s
            if k == 0:
                n2 = face_n2[1, i]
            elif k == nz - 1:
                n2 = face_n2[k, i]
            else:
                n2 = 0.5 * (face_n2[k, i] + face_n2[k + 1, i])
            production = strain + 0.25 * shear - n2 / PRANDTL
            nu[k, i] = min(length2 * np.sqrt(max(production, 0.0)), nu_max)


@numba.njit(cache=True)
def eddy_viscosity_column(u, w, scalars, offset, factor, pressure, t0, moist, dx, dz, length2,
                          nu_max):
    """ν (m2 s-1, (nz, nx)) of one CRM: u (nz, nx), w (nz + 1, nx) m/s; scalars (3, nz, nx)
    as ``model.SCALARS``; offset, factor, pressure (Pa), t0 (K): ``MoistProfiles``' (nz,)
    profiles; moist: water in N²; dx, dz m; length2 = (c_s Δ)² m2; nu_max m2 s-1."""
    nz, nx = u.shape
    nu = np.empty((nz, nx))
    _viscosity_into(u, w, scalars, offset, factor, pressure, t0, moist, dx, dz, length2,
                    nu_max, np.zeros((nz + 1, nx)), nu)
    return nu


@numba.njit(cache=True)
def _add_stress(u, w, nu, rho_c, rho_f, dx, dz, du, dw):
    """du += (1/ρ0)(∂x τ_xx + ∂z τ_xz), dw += (1/ρ0)(∂x τ_xz + ∂z τ_zz) (interior faces)."""
    nz, nx = u.shape
    for k in range(nz):
        for i in range(nx):
            im1 = i - 1 if i > 0 else nx - 1
            ip1 = i + 1 if i < nx - 1 else 0
            east = 2.0 * rho_c[k] * nu[k, i] * (u[k, ip1] - u[k, i]) / dx
            west = 2.0 * rho_c[k] * nu[k, im1] * (u[k, i] - u[k, im1]) / dx
            top = _corner_stress(u, w, nu, rho_f, k + 1, i, dx, dz)
            bottom = _corner_stress(u, w, nu, rho_f, k, i, dx, dz)
            du[k, i] += ((east - west) / dx + (top - bottom) / dz) / rho_c[k]
    for k in range(1, nz):
        for i in range(nx):
            ip1 = i + 1 if i < nx - 1 else 0
            east = _corner_stress(u, w, nu, rho_f, k, ip1, dx, dz)
            west = _corner_stress(u, w, nu, rho_f, k, i, dx, dz)
            top = 2.0 * rho_c[k] * nu[k, i] * (w[k + 1, i] - w[k, i]) / dz
            bottom = 2.0 * rho_c[k - 1] * nu[k - 1, i] * (w[k, i] - w[k - 1, i]) / dz
            dw[k, i] += ((east - west) / dx + (top - bottom) / dz) / rho_f[k]


@numba.njit(cache=True, inline="always")
def _corner_stress(u, w, nu, rho_f, k, i, dx, dz):
    """τ_xz at the corner of z-face k and x-face i (0 at ground and lid)."""
    nz, nx = u.shape
    if k == 0 or k == nz:
        return 0.0
    im1 = i - 1 if i > 0 else nx - 1
    viscosity = 0.25 * (nu[k - 1, im1] + nu[k - 1, i] + nu[k, im1] + nu[k, i])
    return rho_f[k] * viscosity * ((u[k, i] - u[k - 1, i]) / dz + (w[k, i] - w[k, im1]) / dx)


@numba.njit(cache=True)
def stress_tendency_column(u, w, nu, rho_c, rho_f, dx, dz):
    """(du, dw), m s-2, of the sub-grid stress of one CRM with viscosity nu (nz, nx)."""
    du = np.zeros(u.shape)
    dw = np.zeros(w.shape)
    _add_stress(u, w, nu, rho_c, rho_f, dx, dz, du, dw)
    return du, dw


@numba.njit(cache=True)
def _face_stability_fast(scalars, offset, factor, pressure, t0, moist, dz, n2, temperature):
    """``_stability`` on every interior z-face into n2 (nz + 1, nx); dry: to round-off,
    N² = g factor (φ[k] − φ[k − 1]) / (t0 dz), one product a face; moist: to
    ``STABILITY_TOLERANCE`` in T, each cell's buoyancy at its own level once, then one
    lifted parcel a face (Newton from the T of the cell it is lifted into), a row at a time
    (``saturation_adjustment.row_buoyancy``); temperature (nz, nx) scratch."""
    nz, nx = scalars.shape[1:]
    field, qt, qr = scalars[0], scalars[1], scalars[2]
    if not moist:
        for k in range(1, nz):
            c = GRAVITY * factor[k] / (t0[k] * dz)
            for i in range(nx):
                n2[k, i] = c * (field[k, i] - field[k - 1, i])
        return
    own = n2  # rows 0 … nz − 1 hold each cell's buoyancy first, then are overwritten
    lifted = np.empty(nx)
    ignored = np.empty(nx)
    for k in range(nz):
        row_buoyancy(field[k], qt[k], qr[k], k, offset, factor, pressure, t0,
                      np.zeros(nx), STABILITY_TOLERANCE, temperature[k], own[k])
    inv_dz = 1.0 / dz
    for k in range(nz - 1, 0, -1):  # downwards: row k − 1 still holds its own buoyancy
        row_buoyancy(field[k - 1], qt[k - 1], qr[k - 1], k, offset, factor, pressure, t0,
                      temperature[k], STABILITY_TOLERANCE, ignored, lifted)
        for i in range(nx):
            n2[k, i] = (own[k, i] - lifted[i]) * inv_dz


@numba.njit(cache=True)
def _mixing_fast(u, w, scalars, offset, factor, pressure, t0, moist, rho_c, rho_f, dx, dz,
                 length2, nu_max, work, du, dw, kappa):
    """ν, the stress tendency (added to du, dw) and κ = ν/Pr (into kappa) of one CRM, equal
    to ``eddy_viscosity_column`` + ``stress_tendency_column`` to round-off: each corner
    shear, corner stress and centre stress formed once, no divisions in the loops.
    work (4, nz + 1, nx) scratch."""
    nz, nx = u.shape
    n2, shear, nu, tau = work[0], work[1], work[2], work[3]
    _face_stability_fast(scalars, offset, factor, pressure, t0, moist, dz, n2, work[4])
    inv_dx, inv_dz, inv_pr = 1.0 / dx, 1.0 / dz, 1.0 / PRANDTL
    for i in range(nx):
        shear[0, i] = shear[nz, i] = 0.0
    for k in range(1, nz):  # corner shear ∂z u + ∂x w (x-face i, z-face k)
        shear[k, 0] = (u[k, 0] - u[k - 1, 0]) * inv_dz + (w[k, 0] - w[k, nx - 1]) * inv_dx
        for i in range(1, nx):
            shear[k, i] = (u[k, i] - u[k - 1, i]) * inv_dz + (w[k, i] - w[k, i - 1]) * inv_dx
    for k in range(nz):
        top, bottom = min(k + 1, nz - 1), max(k, 1)  # the faces whose N² this layer averages
        half = 0.5 * inv_pr
        for i in range(nx):
            ip1 = i + 1 if i < nx - 1 else 0
            strain = 2.0 * (((u[k, ip1] - u[k, i]) * inv_dx) ** 2
                            + ((w[k + 1, i] - w[k, i]) * inv_dz) ** 2)
            corners = (shear[k, i] ** 2 + shear[k, ip1] ** 2 + shear[k + 1, i] ** 2
                       + shear[k + 1, ip1] ** 2)
            production = strain + 0.25 * corners - half * (n2[bottom, i] + n2[top, i])
            nu[k, i] = min(length2 * np.sqrt(max(production, 0.0)), nu_max)
            kappa[k, i] = nu[k, i] * inv_pr
    for k in range(1, nz):  # corner stress τ_xz, ν the mean of the four cells
        c = 0.25 * rho_f[k]
        tau[k, 0] = c * ((nu[k - 1, nx - 1] + nu[k - 1, 0]) + (nu[k, nx - 1] + nu[k, 0])
                         ) * shear[k, 0]
        for i in range(1, nx):
            tau[k, i] = c * ((nu[k - 1, i - 1] + nu[k - 1, i]) + (nu[k, i - 1] + nu[k, i])
                             ) * shear[k, i]
    for i in range(nx):
        tau[0, i] = tau[nz, i] = 0.0
    for k in range(nz):
        cx = 2.0 * inv_dx * inv_dx  # (1/ρ0) ∂x (2 ρ0 ν ∂x u): ρ0 cancels in a layer
        cz = inv_dz / rho_c[k]
        for i in range(nx):
            im1 = i - 1 if i > 0 else nx - 1
            ip1 = i + 1 if i < nx - 1 else 0
            du[k, i] += (cx * (nu[k, i] * (u[k, ip1] - u[k, i])
                               - nu[k, im1] * (u[k, i] - u[k, im1]))
                         + cz * (tau[k + 1, i] - tau[k, i]))
    for k in range(1, nz):
        cx = inv_dx / rho_f[k]
        above = 2.0 * rho_c[k] * inv_dz * inv_dz / rho_f[k]
        below = 2.0 * rho_c[k - 1] * inv_dz * inv_dz / rho_f[k]
        for i in range(nx):
            ip1 = i + 1 if i < nx - 1 else 0
            dw[k, i] += (cx * (tau[k, ip1] - tau[k, i])
                         + above * nu[k, i] * (w[k + 1, i] - w[k, i])
                         - below * nu[k - 1, i] * (w[k, i] - w[k - 1, i]))


@numba.njit(parallel=True, cache=True)
def mixing_tendency(u, w, scalars, offset, factor, pressure, t0, moist, rho_c, rho_f, dx, dz,
                    length2, nu_max, du, dw):
    """Batch: adds each CRM's stress tendency to du (ncrm, nz, nx) and dw (ncrm, nz + 1, nx)
    in place and returns κ = ν/Pr (ncrm, nz, nx), m2 s-1 (arguments as the column
    functions', with a leading ncrm axis); the same as the column functions to round-off
    (``_mixing_fast``)."""
    ncrm, nz, nx = u.shape
    kappa = np.empty(u.shape)
    for c in numba.prange(ncrm):
        work = np.empty((5, nz + 1, nx))
        _mixing_fast(u[c], w[c], scalars[c], offset, factor, pressure, t0, moist, rho_c, rho_f,
                     dx, dz, length2, nu_max, work, du[c], dw[c], kappa[c])
    return kappa


@numba.njit(parallel=True, cache=True)
def eddy_viscosity(u, w, scalars, offset, factor, pressure, t0, moist, dx, dz, length2, nu_max):
    """``eddy_viscosity_column`` over a batch, the same bits: ν (ncrm, nz, nx), m2 s-1."""
    ncrm, nz, nx = u.shape
    nu = np.empty(u.shape)
    for c in numba.prange(ncrm):
        _viscosity_into(u[c], w[c], scalars[c], offset, factor, pressure, t0, moist, dx, dz,
                        length2, nu_max, np.zeros((nz + 1, nx)), nu[c])
    return nu


@numba.njit(parallel=True, cache=True)
def add_stress(u, w, nu, rho_c, rho_f, dx, dz, du, dw):
    """``stress_tendency_column`` over a batch, the same bits, added to du and dw in place."""
    for c in numba.prange(u.shape[0]):
        _add_stress(u[c], w[c], nu[c], rho_c, rho_f, dx, dz, du[c], dw[c])


@numba.njit(cache=True)
def _diffuse_into(phi, kappa, rho_c, rho_f, dt, dx, dz, out):
    """out = φ − dt/ρ0 (∂x F + ∂z G), F = −ρ0 κ ∂x φ, G = −ρ0 κ ∂z φ (0 at ground, lid)."""
    nz, nx = phi.shape
    for k in range(nz):
        for i in range(nx):
            im1 = i - 1 if i > 0 else nx - 1
            ip1 = i + 1 if i < nx - 1 else 0
            east = -rho_c[k] * 0.5 * (kappa[k, i] + kappa[k, ip1]) * (phi[k, ip1] - phi[k, i]) / dx
            west = -rho_c[k] * 0.5 * (kappa[k, im1] + kappa[k, i]) * (phi[k, i] - phi[k, im1]) / dx
            top = 0.0
            if k < nz - 1:
                top = (-rho_f[k + 1] * 0.5 * (kappa[k, i] + kappa[k + 1, i])
                       * (phi[k + 1, i] - phi[k, i]) / dz)
            bottom = 0.0
            if k > 0:
                bottom = (-rho_f[k] * 0.5 * (kappa[k - 1, i] + kappa[k, i])
                          * (phi[k, i] - phi[k - 1, i]) / dz)
            out[k, i] = phi[k, i] - dt / rho_c[k] * ((east - west) / dx + (top - bottom) / dz)


@numba.njit(cache=True)
def diffuse_column(phi, kappa, rho_c, rho_f, dt, dx, dz):
    """One forward step of eddy diffusion of one scalar of one CRM: the new φ (nz, nx);
    kappa (nz, nx) m2 s-1 at centres, dt s."""
    out = np.empty(phi.shape)
    _diffuse_into(phi, kappa, rho_c, rho_f, dt, dx, dz, out)
    return out


@numba.njit(cache=True)
def _diffuse_fast(phi, kappa, factors, out):
    """``_diffuse_into`` to round-off without divisions: factors (3, nz) = dt/(2 dx²),
    dt ρf[k+1]/(2 ρc dz²) (0 at the lid), dt ρf[k]/(2 ρc dz²) (0 at the ground)."""
    nz, nx = phi.shape
    for k in range(nz):
        ka, kb = min(k + 1, nz - 1), max(k - 1, 0)
        cx, ct, cb = factors[0, k], factors[1, k], factors[2, k]
        for i in range(nx):
            im1 = i - 1 if i > 0 else nx - 1
            ip1 = i + 1 if i < nx - 1 else 0
            p, kc = phi[k, i], kappa[k, i]
            out[k, i] = p + (cx * ((kc + kappa[k, ip1]) * (phi[k, ip1] - p)
                                   - (kappa[k, im1] + kc) * (p - phi[k, im1]))
                             + ct * (kc + kappa[ka, i]) * (phi[ka, i] - p)
                             - cb * (kappa[kb, i] + kc) * (p - phi[kb, i]))


@numba.njit(parallel=True, cache=True)
def diffuse(scalars, kappa, rho_c, rho_f, dt, dx, dz):
    """``diffuse_column`` over a batch, to round-off (``_diffuse_fast``): scalars
    (ncrm, nscalar, nz, nx), kappa (ncrm, nz, nx); returns the new scalars."""
    ncrm, nscalar, nz, _ = scalars.shape
    factors = np.zeros((3, nz))
    for k in range(nz):
        factors[0, k] = 0.5 * dt / dx**2
        if k < nz - 1:
            factors[1, k] = 0.5 * dt * rho_f[k + 1] / (rho_c[k] * dz**2)
        if k > 0:
            factors[2, k] = 0.5 * dt * rho_f[k] / (rho_c[k] * dz**2)
    out = np.empty(scalars.shape)
    for item in numba.prange(ncrm * nscalar):
        c, s = item // nscalar, item % nscalar
        _diffuse_fast(scalars[c, s], kappa[c], factors, out[c, s])
    return out
