"""Vertical diffusion of heat, moisture and momentum in the boundary layer.

Frierson, D. M. W., I. M. Held, and P. Zurita-Gotor, 2006: A gray-radiation aquaplanet
moist GCM. Part I: Static stability and eddy scale. J. Atmos. Sci., 63, 2548-2566,
section 2c (the K-profile, as configured in Isca): the default ``k_profile="frierson"``.
Reed, K. A., and C. Jablonowski, 2012: Idealized tropical cyclone simulations of
intermediate complexity. J. Adv. Model. Earth Syst., 4, M04001 (DCMIP-2016 simple
physics): ``k_profile="reed_jablonowski"``.

Frierson K-profile (the same K for heat, moisture and momentum). With z_a the height of
the lowest level, theta_v virtual potential temperature and |v| = sqrt(u^2+v^2+gust^2):

- surface bulk Richardson number Ri_a = g z_a (theta_v,a - theta_v,s) / (theta_v,s |v_a|^2),
  theta_v,s from the SST and saturated air at the surface pressure;
- friction velocity u* = sqrt(C) |v_a|, with Frierson's drag C = (kappa / ln(z_a/z0))^2,
  multiplied by (1 - Ri_a/Ri_c)^2 for 0 < Ri_a < Ri_c and 0 for Ri_a >= Ri_c;
- boundary-layer height h: the height where Ri(z) = g z (theta_v(z) - theta_v,a) /
  (theta_v,a |v(z)|^2) first reaches Ri_c = 1 going up (linear between levels; the
  highest level if it never does);
- surface layer z < f_b h (f_b = 0.1): K = kappa u* z, divided for a stable surface
  (Ri_a > 0) by 1 + (Ri_a/Ri_c) ln(z/z0) / (1 - Ri_a/Ri_c) (Frierson's stability
  correction, with Ri_a standing for the stability of the whole boundary layer);
- f_b h < z < h: K = K(f_b h) (z / (f_b h)) (1 - (z - f_b h) / ((1 - f_b) h))^2, which
  decays as a cubic to 0 at h; K = 0 above h.

Reed & Jablonowski: K_E = C_E |v_a| z_a for heat and moisture and K_m = C_D(|v_a|) |v_a| z_a
for momentum (C_D of gcm.physics.surface_fluxes.reed_jablonowski_drag) where p >= p_top
= 850 hPa, times exp(-((p_top - p)/p_strato)^2), p_strato = 100 hPa, above. As in the
DCMIP-2016 version of their scheme, heat is diffused as potential temperature; |v_a|
includes the gustiness here too.

Numerics (both profiles). K is computed from the state before the step, at the
interfaces between levels, with heights from the hypsometric equation (virtual
temperature). The upward flux of a variable chi across interface k+1/2 (below level k)
is F_{k+1/2} = rho K (chi_{k+1} - chi_k) / (z_k - z_{k+1}), zero at the model top and at
the surface (the surface fluxes are SurfaceFluxes' job). Heat is diffused as potential
temperature theta = T / Pi, Pi = (p/p0)^kappa, so a dry-adiabatic column is neutral,
with the enthalpy flux cp Pi_{k+1/2} F_{k+1/2}:

    (dp_k / g) Pi_k dtheta_k/dt = (Pi F)_{k+1/2} - (Pi F)_{k-1/2},
    i.e.        cp dT_k/dt = g cp ((Pi F)_{k+1/2} - (Pi F)_{k-1/2}) / dp_k,

and q, u, v likewise with Pi = 1. The fluxes are evaluated at the end of the step
(backward Euler over dt: one tridiagonal system per variable and column, stable for any
dt, creating no new extrema of theta, q, u or v and keeping q >= 0). The interface fluxes
of that implicit solution are then applied in flux form, so that sum_k cp dT_k dp_k/g,
sum_k dq_k dp_k/g and sum_k du_k dp_k/g vanish to round-off. No frictional heating: the
kinetic energy the diffusion removes is not returned as heat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from gcm.constants import GRAVITY, KAPPA, P0, RD, RV
from gcm.physics.column import ColumnState, ColumnTendencies, fill_into
from gcm.physics.saturation import saturation_specific_humidity
from gcm.physics.surface_fluxes import reed_jablonowski_drag

K_PROFILES = ("frierson", "reed_jablonowski")
VIRTUAL = RV / RD - 1.0  # T_v = T (1 + VIRTUAL q)
SPEED2_FLOOR = 1.0e-6  # smallest squared wind speed in a Richardson number, m2 s-2
LOG_P0 = float(np.log(P0))  # ln of the reference pressure of theta


@dataclass
class BoundaryLayerDiagnostics:
    """The diffusivities and boundary-layer height of ncol columns."""

    k_heat: np.ndarray  # (ncol, nlev + 1) diffusivity of theta and q at interfaces, m2 s-1
    k_momentum: np.ndarray  # (ncol, nlev + 1) diffusivity of u and v at interfaces, m2 s-1
    height: np.ndarray  # (ncol,) boundary-layer height h (frierson) or of p_top, m


@dataclass
class BoundaryLayer:
    """Implicit, conservative boundary-layer diffusion with the Frierson et al. (2006)
    K-profile (default) or the Reed & Jablonowski (2012) one."""

    k_profile: str = "frierson"  # "frierson" (Frierson et al. 2006) or "reed_jablonowski"
    critical_richardson: float = 1.0  # Ri_c, top of the boundary layer (Frierson 2006)
    surface_layer_fraction: float = 0.1  # f_b, surface layer depth / h (Frierson 2006)
    von_karman: float = 0.4  # von Karman constant kappa (Frierson 2006)
    roughness_length: float = 3.21e-5  # z0 of the ocean, m (Frierson 2006)
    gustiness: float = 1.0  # added in quadrature to wind speeds, m s-1 (as in SurfaceFluxes)
    exchange_coefficient: float = 1.1e-3  # C_E of the RJ12 profile, dimensionless
    top_pressure: float = 85000.0  # p_top of the RJ12 profile, Pa
    decay_pressure: float = 10000.0  # p_strato, e-folding of K above p_top (RJ12), Pa

    def __post_init__(self):
        if self.k_profile not in K_PROFILES:
            raise ValueError(f"BoundaryLayer.k_profile must be one of {K_PROFILES}, "
                             f"got {self.k_profile!r}")
        positive = ("critical_richardson", "von_karman", "roughness_length",
                    "top_pressure", "decay_pressure")
        for name in positive:
            if not getattr(self, name) > 0.0:
                raise ValueError(f"BoundaryLayer.{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 < self.surface_layer_fraction < 1.0:
            raise ValueError("BoundaryLayer.surface_layer_fraction must be in (0, 1), "
                             f"got {self.surface_layer_fraction}")
        for name in ("gustiness", "exchange_coefficient"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"BoundaryLayer.{name} must be >= 0, got {getattr(self, name)}")

    def __call__(self, columns: ColumnState, dt: float,
                 out: ColumnTendencies | None = None) -> ColumnTendencies:
        """Tendencies of T, q, u, v (ncol, nlev) over the step dt (s), written into ``out``
        if given (gcm.physics.column; its surface fields are left alone)."""
        out = fill_into(out, columns, "BoundaryLayer")  # the kernel writes every entry
        self._run(columns, dt, out, diagnose=False)
        return out

    def diffusivity(self, columns: ColumnState) -> BoundaryLayerDiagnostics:
        """K at the interfaces (0 at the top and the surface) and the boundary-layer
        height, without tendencies."""
        return self._run(columns, 0.0, ColumnTendencies.zeros(columns.ncol, columns.nlev),
                         diagnose=True)

    def _run(self, columns: ColumnState, dt: float, out: ColumnTendencies, diagnose: bool):
        """Tendencies into out; the diffusivities are returned only if diagnose (else
        they stay in the kernel's scratch and the diagnostics hold (0, nlev + 1) arrays)."""
        if not dt >= 0.0:
            raise ValueError(f"BoundaryLayer: the time step must be >= 0 s, got {dt}")
        ncol, nlev = columns.ncol, columns.nlev
        shape = (ncol if diagnose else 0, nlev + 1)
        diag = BoundaryLayerDiagnostics(k_heat=np.zeros(shape), k_momentum=np.zeros(shape),
                                        height=np.zeros(ncol))
        params = np.array([self.critical_richardson, self.surface_layer_fraction,
                           self.von_karman, self.roughness_length, self.gustiness**2,
                           self.exchange_coefficient, self.top_pressure, self.decay_pressure])
        state = (columns.temperature, columns.humidity, columns.u, columns.v,
                 columns.pressure, columns.pressure_half, columns.surface_pressure, columns.sst)
        # no copies: the kernel gathers the model's transposed views block by block
        _boundary_layer_kernel(
            *(np.asarray(x, dtype=np.float64) for x in state),
            float(dt), K_PROFILES.index(self.k_profile), params,
            out.temperature, out.humidity, out.u, out.v,
            diagnose, diag.k_heat, diag.k_momentum, diag.height,
        )
        return diag


@numba.njit(cache=True, inline="always")
def _heights(T, q, log_p, log_p_half, z, z_half):
    """Hypsometric heights above the surface (m) of the levels, z (nlev,), and of the
    interfaces, z_half (nlev + 1,), from T, q (nlev,) and ln p (nlev,), ln p_half
    (nlev + 1,; entry 0, possibly ln 0, is not used and z_half[0] is set to inf)."""
    nlev = T.size
    z_half[nlev] = 0.0
    for k in range(nlev - 1, -1, -1):
        scale = RD * T[k] * (1.0 + VIRTUAL * q[k]) / GRAVITY
        z[k] = z_half[k + 1] + scale * (log_p_half[k + 1] - log_p[k])
        if k > 0:
            z_half[k] = z_half[k + 1] + scale * (log_p_half[k + 1] - log_p_half[k])
    z_half[0] = np.inf


@numba.njit(cache=True, inline="always")
def _frierson_diffusivity(theta_v, wind2, z, z_half, theta_v_surface, speed_a, params, k_out):
    """Frierson et al. (2006) K (m2 s-1) at the interior interfaces into k_out (nlev + 1,);
    returns the boundary-layer height h (m)."""
    ric, fb, karman, z0 = params[0], params[1], params[2], params[3]
    nlev = z.size
    za = z[nlev - 1]
    tva = theta_v[nlev - 1]
    # h: where the bulk Richardson number relative to the lowest level reaches Ri_c
    h = z[0]
    ri_below = 0.0  # Ri of the lowest level relative to itself
    for k in range(nlev - 2, -1, -1):
        ri = GRAVITY * z[k] * (theta_v[k] - tva) / (tva * wind2[k])
        if ri >= ric:
            h = z[k + 1] + (ric - ri_below) / (ri - ri_below) * (z[k] - z[k + 1])
            break
        ri_below = ri
    ri_a = GRAVITY * za * (tva - theta_v_surface) / (theta_v_surface * speed_a * speed_a)
    if ri_a >= ric:
        return h  # no turbulence: the surface drag vanishes and with it u*
    drag = (karman / np.log(max(za, 10.0 * z0) / z0)) ** 2
    stable = ri_a > 0.0
    if stable:
        drag *= (1.0 - ri_a / ric) ** 2
    ustar = np.sqrt(drag) * speed_a
    zs = fb * h  # top of the surface layer
    for i in range(1, nlev):
        zi = z_half[i]
        if zi >= h:
            continue
        zk = max(min(zi, zs), z0)  # K is evaluated at the surface-layer height above zs
        k = karman * ustar * zk
        if stable:
            k /= 1.0 + (ri_a / ric) * np.log(zk / z0) / (1.0 - ri_a / ric)
        if zi > zs:
            k *= (zi / zs) * (1.0 - (zi - zs) / ((1.0 - fb) * h)) ** 2
        k_out[i] = k
    return h


@numba.njit(cache=True, inline="always")
def _reed_jablonowski_diffusivity(p_half, z, z_half, speed_a, params, kh_out, km_out):
    """Reed & Jablonowski (2012) K_E, K_m (m2 s-1) at the interior interfaces; returns the
    height (m) of p_top, interpolated in ln p between interfaces (0 if below the first)."""
    ce, p_top, p_strato = params[5], params[6], params[7]
    nlev = z.size
    za = z[nlev - 1]
    ke = ce * speed_a * za
    km = reed_jablonowski_drag(speed_a) * speed_a * za
    for i in range(1, nlev):
        decay = 1.0
        if p_half[i] < p_top:
            decay = np.exp(-(((p_top - p_half[i]) / p_strato) ** 2))
        kh_out[i] = ke * decay
        km_out[i] = km * decay
    height = 0.0
    for i in range(nlev - 1, 0, -1):
        if p_half[i] <= p_top:
            w = np.log(p_half[i + 1] / p_top) / np.log(p_half[i + 1] / p_half[i])
            height = z_half[i + 1] + w * (z_half[i] - z_half[i + 1])
            break
    return height


@numba.njit(cache=True, inline="always")
def _implicit_fluxes(chi, storage, conductance, dt, flux, sup, rhs, delta):
    """Backward-Euler diffusion of each row j of chi (m, nlev) with its own matrix:

        storage_jk (chi'_jk - chi_jk) / dt = G_j,k+1 - G_jk,
        G_ji = conductance_ji (chi'_ji - chi'_j,i-1),

    (storage (m, nlev), conductance (m, nlev + 1), 0 at both ends) for the increment
    chi' - chi by the Thomas algorithm (the matrix is a diagonally dominant M-matrix, so
    no pivoting is needed and chi' has no new extrema), and writes the upward interface
    fluxes G of the solution into flux (m, nlev + 1). sup, rhs, delta (m, nlev) are work
    space. The rows are solved together, level by level, so that their chains of
    divisions overlap instead of waiting on each other."""
    m, n = chi.shape
    for k in range(n):
        for j in range(m):
            below = dt * conductance[j, k + 1]
            above = dt * conductance[j, k]
            r = 0.0
            if k + 1 < n:
                r += below * (chi[j, k + 1] - chi[j, k])
            denominator = storage[j, k] + above + below  # a_k = -above
            if k > 0:
                r -= above * (chi[j, k] - chi[j, k - 1])
                denominator += above * sup[j, k - 1]
                rhs[j, k] = (r + above * rhs[j, k - 1]) / denominator
            else:
                rhs[j, k] = (r + above * 0.0) / denominator
            sup[j, k] = -below / denominator
    for j in range(m):
        delta[j, n - 1] = rhs[j, n - 1]
    for k in range(n - 2, -1, -1):
        for j in range(m):
            delta[j, k] = rhs[j, k] - sup[j, k] * delta[j, k + 1]
    for j in range(m):
        flux[j, 0] = 0.0
        flux[j, n] = 0.0
        for i in range(1, n):
            flux[j, i] = conductance[j, i] * ((chi[j, i] - chi[j, i - 1])
                                              + (delta[j, i] - delta[j, i - 1]))


# rows of the work space of _column, each (nlev + 1,); _CHI .. _FLUX are four rows each
# (theta, q, u, v), _STORAGE and _COND likewise (their storage and conductances)
(_Z, _Z_HALF, _EXNER, _EXNER_HALF, _THETA_V, _WIND2, _MASS, _LOG_P, _LOG_P_HALF, _KH, _KM,
 _STORAGE, _COND, _SUP, _CHI, _RHS, _DELTA, _FLUX) = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                      11, 15, 19, 23, 27, 31, 35)
_NWORK = 39


@numba.njit(cache=True, parallel=True)
def _boundary_layer_kernel(T, q, u, v, p, p_half, ps, sst, dt, profile, params,
                           dT, dq, du, dv, diagnose, k_heat, k_momentum, height):
    """Tendencies dT (K s-1), dq (kg kg-1 s-1), du, dv (m s-2), all (ncol, nlev), from the
    state (ncol, nlev) [p_half (ncol, nlev + 1)], ps, sst (ncol,), dt (s); also fills
    height (ncol, m) and, if diagnose, k_heat and k_momentum (ncol, nlev + 1, m2 s-1;
    else they may be empty). Helpers are inlined: as separate functions their array
    views cost atomic reference counts, a third of the kernel's time."""
    ncol, nlev = T.shape
    # columns in blocks, so that work space is allocated once a block rather than once a
    # column
    nblock = min(ncol, 64)
    for b in numba.prange(nblock):
        work = np.zeros((_NWORK, nlev + 1))
        first, last = b * ncol // nblock, (b + 1) * ncol // nblock
        # the block's T, q, u, v gathered level by level into C order: in the model's
        # transposed views one column's levels lie a power of two apart, which thrashes
        # the cache when read column by column
        state = np.empty((4, last - first, nlev))
        for k in range(nlev):
            for c in range(first, last):
                state[0, c - first, k] = T[c, k]
                state[1, c - first, k] = q[c, k]
                state[2, c - first, k] = u[c, k]
                state[3, c - first, k] = v[c, k]
        for c in range(first, last):
            work[_KH] = 0.0
            work[_KM] = 0.0
            _column(c, c - first, state, p, p_half, ps, sst, dt, profile, params,
                    dT, dq, du, dv, height, work)
            if diagnose:
                k_heat[c] = work[_KH]
                k_momentum[c] = work[_KM]


@numba.njit(cache=True, inline="always")
def _column(c, j, state, p, p_half, ps, sst, dt, profile, params,
            dT, dq, du, dv, height, work):
    """Column c of _boundary_layer_kernel, whose T, q, u, v are state[0:4, j] (nlev,);
    work (_NWORK, nlev + 1) is scratch space whose first and last entries of the interface
    rows (exner_half, cond_*) stay 0, and whose rows _KH, _KM (the diffusivities) must
    come in zero."""
    nlev = state.shape[2]
    gust2 = params[4]
    z, z_half = work[_Z, :nlev], work[_Z_HALF]
    exner, exner_half = work[_EXNER, :nlev], work[_EXNER_HALF]
    theta_v, wind2, mass = work[_THETA_V, :nlev], work[_WIND2, :nlev], work[_MASS, :nlev]
    # the four diffused variables theta, q, u, v; their storages and conductances
    chi, storage = work[_CHI:_CHI + 4, :nlev], work[_STORAGE:_STORAGE + 4, :nlev]
    cond = work[_COND:_COND + 4]
    theta = chi[0]
    log_p, log_p_half = work[_LOG_P, :nlev], work[_LOG_P_HALF]
    kh, km = work[_KH], work[_KM]
    # logarithms of pressure once, for both the heights and the Exner function
    for k in range(nlev):
        log_p[k] = np.log(p[c, k])
        log_p_half[k + 1] = np.log(p_half[c, k + 1])
    _heights(state[0, j], state[1, j], log_p, log_p_half, z, z_half)
    for k in range(nlev):
        exner[k] = np.exp(KAPPA * (log_p[k] - LOG_P0))
        theta[k] = state[0, j, k] / exner[k]
        chi[1, k], chi[2, k], chi[3, k] = state[1, j, k], state[2, j, k], state[3, j, k]
        theta_v[k] = theta[k] * (1.0 + VIRTUAL * state[1, j, k])
        wind2[k] = max(state[2, j, k] ** 2 + state[3, j, k] ** 2 + gust2, SPEED2_FLOOR)
        mass[k] = (p_half[c, k + 1] - p_half[c, k]) / GRAVITY
    for i in range(1, nlev):
        exner_half[i] = np.exp(KAPPA * (log_p_half[i] - LOG_P0))
    speed_a = np.sqrt(wind2[nlev - 1])

    if profile == 0:
        qs = saturation_specific_humidity(sst[c], ps[c])
        theta_v_surface = sst[c] * (P0 / ps[c]) ** KAPPA * (1.0 + VIRTUAL * qs)
        height[c] = _frierson_diffusivity(theta_v, wind2, z, z_half, theta_v_surface,
                                          speed_a, params, kh)
        for i in range(nlev + 1):
            km[i] = kh[i]
    else:
        height[c] = _reed_jablonowski_diffusivity(p_half[c], z, z_half, speed_a, params,
                                                  kh, km)

    # conductances rho K / dz (kg m-2 s-1) at interfaces; 0 at the top and the surface
    for i in range(1, nlev):
        tv_half = 0.5 * (state[0, j, i - 1] * (1.0 + VIRTUAL * state[1, j, i - 1])
                         + state[0, j, i] * (1.0 + VIRTUAL * state[1, j, i]))
        rho_over_dz = p_half[c, i] / (RD * tv_half) / (z[i - 1] - z[i])
        cond[1, i] = rho_over_dz * kh[i]
        cond[2, i] = rho_over_dz * km[i]
        cond[3, i] = cond[2, i]

    # heat: theta diffused with enthalpy weights (storage Pi dp/g, flux Pi_half F)
    for k in range(nlev):
        storage[0, k] = mass[k] * exner[k]
        storage[1, k] = storage[2, k] = storage[3, k] = mass[k]
    for i in range(nlev + 1):
        cond[0, i] = cond[1, i] * exner_half[i]
    flux = work[_FLUX:_FLUX + 4]
    _implicit_fluxes(chi, storage, cond, dt, flux, work[_SUP:_SUP + 4, :nlev],
                     work[_RHS:_RHS + 4, :nlev], work[_DELTA:_DELTA + 4, :nlev])
    for k in range(nlev):
        dT[c, k] = (flux[0, k + 1] - flux[0, k]) / mass[k]
        dq[c, k] = (flux[1, k + 1] - flux[1, k]) / mass[k]
        du[c, k] = (flux[2, k + 1] - flux[2, k]) / mass[k]
        dv[c, k] = (flux[3, k + 1] - flux[3, k]) / mass[k]
