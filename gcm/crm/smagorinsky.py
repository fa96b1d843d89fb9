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
per-CRM references; ``eddy_viscosity``, ``add_stress``, ``mixing_tendency`` (ν, κ and the
stress added to the momentum tendency, one pass per CRM) and ``diffuse`` are the batch
kernels, bit for bit the same.
"""

import numba
import numpy as np

from gcm.constants import GRAVITY
from gcm.crm.saturation_adjustment import VIRTUAL, adjust

SMAGORINSKY = 0.17  # c_s
PRANDTL = 1.0 / 3.0


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
    return GRAVITY * ((temperature - t0[k]) / t0[k] + VIRTUAL * (qt - qc) - qc - qr)


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


@numba.njit(parallel=True, cache=True)
def mixing_tendency(u, w, scalars, offset, factor, pressure, t0, moist, rho_c, rho_f, dx, dz,
                    length2, nu_max, du, dw):
    """Batch: adds each CRM's stress tendency to du (ncrm, nz, nx) and dw (ncrm, nz + 1, nx)
    in place and returns κ = ν/Pr (ncrm, nz, nx), m2 s-1 (arguments as the column
    functions', with a leading ncrm axis)."""
    ncrm, nz, nx = u.shape
    kappa = np.empty(u.shape)
    for c in numba.prange(ncrm):
        nu = np.empty((nz, nx))
        _viscosity_into(u[c], w[c], scalars[c], offset, factor, pressure, t0, moist, dx, dz,
                        length2, nu_max, np.zeros((nz + 1, nx)), nu)
        _add_stress(u[c], w[c], nu, rho_c, rho_f, dx, dz, du[c], dw[c])
        for k in range(nz):
            for i in range(nx):
                kappa[c, k, i] = nu[k, i] / PRANDTL
    return kappa


@numba.njit(parallel=True, cache=True)
def eddy_viscosity(u, w, scalars, offset, factor, pressure, t0, moist, dx, dz, length2, nu_max):
    """``eddy_viscosity_column`` over a batch: ν (ncrm, nz, nx), m2 s-1."""
    ncrm, nz, nx = u.shape
    nu = np.empty(u.shape)
    for c in numba.prange(ncrm):
        _viscosity_into(u[c], w[c], scalars[c], offset, factor, pressure, t0, moist, dx, dz,
                        length2, nu_max, np.zeros((nz + 1, nx)), nu[c])
    return nu


@numba.njit(parallel=True, cache=True)
def add_stress(u, w, nu, rho_c, rho_f, dx, dz, du, dw):
    """``stress_tendency_column`` over a batch, added to du and dw in place."""
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


@numba.njit(parallel=True, cache=True)
def diffuse(scalars, kappa, rho_c, rho_f, dt, dx, dz):
    """``diffuse_column`` over a batch: scalars (ncrm, nscalar, nz, nx), kappa (ncrm, nz, nx);
    returns the new scalars."""
    ncrm, nscalar = scalars.shape[:2]
    out = np.empty(scalars.shape)
    for item in numba.prange(ncrm * nscalar):
        c, s = item // nscalar, item % nscalar
        _diffuse_into(scalars[c, s], kappa[c], rho_c, rho_f, dt, dx, dz, out[c, s])
    return out
