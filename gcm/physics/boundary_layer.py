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
from gcm.physics.column import ColumnScheme, ColumnState, ColumnTendencies, fill_into
from gcm.physics.saturation import saturation_specific_humidity
from gcm.physics.surface_fluxes import reed_jablonowski_drag
from gcm.physics.vector_math import vexp, vlog

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
class BoundaryLayer(ColumnScheme):
    """Implicit, conservative boundary-layer diffusion with the Frierson et al. (2006)
    K-profile (default) or the Reed & Jablonowski (2012) one."""

    name = "boundary_layer"

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

    def momentum_tendencies(self, columns: ColumnState, dt: float) -> tuple[np.ndarray,
                                                                            np.ndarray]:
        """du/dt, dv/dt (ncol, nlev), m s-2, over the step dt (s): the momentum diffusion
        of ``__call__`` alone, bit for bit the same numbers, without the heat and moisture
        diffusion (for a host whose other physics gives those, e.g. a network). What the
        kinetic-energy dissipation (frictional heating) needs, -sum_k (u du + v dv) dp_k / g,
        follows from these and the columns. du and dv have the memory layout of
        ``columns.u`` (level-major for the model's views, which it then scatters without
        a copy)."""
        du, dv = np.empty_like(columns.u, dtype=np.float64), np.empty_like(columns.u,
                                                                           dtype=np.float64)
        self._run(columns, dt, None, diagnose=False, momentum=(du, dv))
        return du, dv

    def diffusivity(self, columns: ColumnState) -> BoundaryLayerDiagnostics:
        """K at the interfaces (0 at the top and the surface) and the boundary-layer
        height, without tendencies."""
        return self._run(columns, 0.0, ColumnTendencies.zeros(columns.ncol, columns.nlev),
                         diagnose=True)

    def _run(self, columns: ColumnState, dt: float, out: ColumnTendencies | None,
             diagnose: bool, momentum: tuple[np.ndarray, np.ndarray] | None = None):
        """Tendencies into out; the diffusivities are returned only if diagnose (else
        they stay in the kernel's scratch and the diagnostics hold (0, nlev + 1) arrays).
        With ``momentum`` = (du, dv) (and out None) only the momentum diffusion, into
        those."""
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
        if momentum is None:
            tendencies = (out.temperature, out.humidity, out.u, out.v)
        else:  # heat and moisture not diffused: their (0, nlev) outputs are not written
            tendencies = (np.empty((0, nlev)), np.empty((0, nlev)), *momentum)
        # no copies: the kernel gathers the model's transposed views block by block
        _boundary_layer_kernel(
            *(np.asarray(x, dtype=np.float64) for x in state),
            float(dt), K_PROFILES.index(self.k_profile), params, *tendencies,
            diagnose, momentum is not None, diag.k_heat, diag.k_momentum, diag.height,
        )
        return diag


COLUMNS = 64  # columns of a block, side by side in the work space: its loops vectorize

# rows of a block's work space, each (nlev + 1, COLUMNS): entry [row, k, j] is level (or
# interface) k of the block's column j. _CHI and _RHS are four rows each (theta, q, u, v:
# the diffused variables, and the right-hand sides of their Thomas sweeps, which become
# the increments); u and v share their matrix, so _COND_M, _SUP_M and _DENOM_M serve both
(_T, _P, _P_HALF, _LOG_P, _LOG_P_HALF, _Z, _Z_HALF, _EXNER, _EXNER_HALF, _THETA_V, _WIND2,
 _MASS, _KH, _KM, _STORAGE_THETA, _COND_THETA, _COND_Q, _COND_M, _SUP, _DENOM, _SUP_M,
 _DENOM_M, _FLUX, _TENDENCY, _CHI) = range(25)
_RHS = _CHI + 4
_NWORK = _RHS + 4
# rows of a block's per-column scratch, each (COLUMNS,)
(_PS, _SST, _SPEED_A, _K_E, _K_M, _HEIGHT, _NLANE) = range(7)


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _boundary_layer_kernel(T, q, u, v, p, p_half, ps, sst, dt, profile, params,
                           dT, dq, du, dv, diagnose, momentum_only, k_heat, k_momentum,
                           height):
    """Tendencies dT (K s-1), dq (kg kg-1 s-1), du, dv (m s-2), all (ncol, nlev), from the
    state (ncol, nlev) [p_half (ncol, nlev + 1)], ps, sst (ncol,), dt (s); also fills
    height (ncol, m) and, if diagnose, k_heat and k_momentum (ncol, nlev + 1, m2 s-1;
    else they may be empty). Any memory layout: the model passes level-major views.
    If momentum_only, du and dv alone (dT and dq may be empty): the heat and moisture
    solves are skipped, and so is what only they need (the Exner function, theta and
    their conductances, unless the Frierson profile's Richardson numbers need theta);
    du and dv are bitwise those of a full call.

    Blocks of COLUMNS columns are solved side by side, level by level, in level-major
    work space: the arithmetic of the loops over a block's columns vectorizes (with the
    logarithms and exponentials of gcm.physics.vector_math), and the model's
    level-major arrays are read and written in their memory order. Each column's
    arithmetic is the same as if it were solved alone, so its bits do not depend on
    its neighbours. Helpers are inlined: as separate functions their array views cost
    atomic reference counts."""
    ncol, nlev = T.shape
    # columns of a block: known only at run time, so that LLVM vectorizes the loops over
    # them (a constant trip count gets them unrolled, and then not vectorized)
    width = min(COLUMNS, ncol)
    nblock = (ncol + width - 1) // width
    # blocks in chunks, so that work space is allocated once a chunk; the chunk's views
    # of the arrays are indexed from 0, which lets the loops over columns vectorize
    nchunk = min(nblock, 16)
    for c in numba.prange(nchunk):
        first_block, last_block = c * nblock // nchunk, (c + 1) * nblock // nchunk
        first, last = first_block * width, min(ncol, last_block * width)
        work = np.empty((_NWORK, nlev + 1, width))
        lane = np.empty((_NLANE, width))
        _zero_boundaries(work)
        state = (T[first:last], q[first:last], u[first:last], v[first:last],
                 p[first:last], p_half[first:last], ps[first:last], sst[first:last])
        out = (dT[first:last], dq[first:last], du[first:last], dv[first:last])
        for block in range(last_block - first_block):
            offset = block * width
            m = min(width, last - first - offset)  # columns in this block
            _load_block(offset, m, state, work, lane)
            _block_conductances(profile, params, momentum_only, work, lane)
            _block_tendencies(offset, m, dt, momentum_only, work, out)
            for j in range(m):
                height[first + offset + j] = lane[_HEIGHT, j]
            if diagnose:
                for i in range(nlev + 1):
                    for j in range(m):
                        k_heat[first + offset + j, i] = work[_KH, i, j]
                        k_momentum[first + offset + j, i] = work[_KM, i, j]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _zero_boundaries(work):
    """Zero the entries of the work space that stay 0: the Exner function, the
    diffusivities and the conductances at the model top and at the surface."""
    nlev = work.shape[1] - 1
    for row in (_EXNER_HALF, _KH, _KM, _COND_THETA, _COND_Q, _COND_M):
        for i in (0, nlev):
            work[row, i, :] = 0.0


@numba.njit(cache=True, inline="always", error_model="numpy")
def _load_block(offset, m, state, work, lane):
    """The m columns offset.. of the chunk's state (T, q, u, v, p, p_half, ps, sst: its
    views of the model's arrays) into the block's work space and lanes; the lanes past m
    repeat the last column (they are computed but not written out)."""
    T, q, u, v, p, p_half, ps, sst = state
    _gather(T, offset, m, work[_T])
    _gather(q, offset, m, work[_CHI + 1])
    _gather(u, offset, m, work[_CHI + 2])
    _gather(v, offset, m, work[_CHI + 3])
    _gather(p, offset, m, work[_P])
    _gather(p_half, offset, m, work[_P_HALF])
    for j in range(work.shape[2]):
        lane[_PS, j], lane[_SST, j] = ps[offset + min(j, m - 1)], sst[offset + min(j, m - 1)]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _gather(x, offset, m, out):
    """Columns offset..offset+m-1 of x (columns, levels) into out (levels, width),
    reading x in its memory order (level by level if it is level-major, else column by
    column); the lanes past m get copies of the last column."""
    levels = x.shape[1]
    width = out.shape[1]
    if x.strides[0] <= x.strides[1]:
        for k in range(levels):
            for j in range(m):
                out[k, j] = x[offset + j, k]
    else:
        for j in range(m):
            for k in range(levels):
                out[k, j] = x[offset + j, k]
    for k in range(levels):
        for j in range(m, width):
            out[k, j] = out[k, m - 1]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _block_conductances(profile, params, momentum_only, work, lane):
    """From the block's state in work: heights, Exner function, potential temperature
    (into _CHI), the diffusivities (profile 0 Frierson, 1 Reed & Jablonowski) and
    boundary-layer height (into lane[_HEIGHT], m), and the conductances rho K / dz
    (kg m-2 s-1) and storages of the implicit solve; if momentum_only, those of momentum
    alone (and theta only for the Frierson profile's Richardson numbers)."""
    width = work.shape[2]
    nlev = work.shape[1] - 1
    T, q, u, v = work[_T], work[_CHI + 1], work[_CHI + 2], work[_CHI + 3]
    p, p_half = work[_P], work[_P_HALF]
    log_p, log_p_half = work[_LOG_P], work[_LOG_P_HALF]
    z, z_half = work[_Z], work[_Z_HALF]
    exner, exner_half = work[_EXNER], work[_EXNER_HALF]
    theta, theta_v, wind2, mass = work[_CHI], work[_THETA_V], work[_WIND2], work[_MASS]
    kh, km = work[_KH], work[_KM]
    gust2 = params[4]
    # logarithms of pressure once, for both the heights and the Exner function; vlog and
    # vexp (gcm.physics.vector_math) let these loops vectorize, libm's calls do not
    for k in range(nlev):
        for j in range(width):
            log_p[k, j] = vlog(p[k, j])
            log_p_half[k + 1, j] = vlog(p_half[k + 1, j])
    _block_heights(T, q, log_p, log_p_half, z, z_half)
    heat = not momentum_only
    if heat or profile == 0:  # theta: diffused, and the Frierson profile's stability
        for k in range(nlev):
            for j in range(width):
                exner[k, j] = vexp(KAPPA * (log_p[k, j] - LOG_P0))
    if heat:
        for i in range(1, nlev):
            for j in range(width):
                exner_half[i, j] = vexp(KAPPA * (log_p_half[i, j] - LOG_P0))
    if heat or profile == 0:
        for k in range(nlev):
            for j in range(width):
                theta[k, j] = T[k, j] / exner[k, j]
                theta_v[k, j] = theta[k, j] * (1.0 + VIRTUAL * q[k, j])
    for k in range(nlev):
        for j in range(width):
            wind2[k, j] = max(u[k, j] ** 2 + v[k, j] ** 2 + gust2, SPEED2_FLOOR)
            mass[k, j] = (p_half[k + 1, j] - p_half[k, j]) / GRAVITY
    for j in range(width):
        lane[_SPEED_A, j] = np.sqrt(wind2[nlev - 1, j])

    if profile == 0:
        kh[:] = 0.0
        for j in range(width):
            ps, sst = lane[_PS, j], lane[_SST, j]
            qs = saturation_specific_humidity(sst, ps)
            theta_v_surface = sst * (P0 / ps) ** KAPPA * (1.0 + VIRTUAL * qs)
            lane[_HEIGHT, j] = _frierson_diffusivity(
                theta_v[:nlev, j], wind2[:nlev, j], z[:nlev, j], z_half[:, j],
                theta_v_surface, lane[_SPEED_A, j], params, kh[:, j])
        km[:] = kh
    else:
        _block_reed_jablonowski_diffusivity(p_half, z, z_half, params, lane, kh, km)

    # conductances rho K / dz (kg m-2 s-1) at interfaces; 0 at the top and the surface
    cond_q, cond_m, cond_theta = work[_COND_Q], work[_COND_M], work[_COND_THETA]
    for i in range(1, nlev):
        for j in range(width):
            tv_half = 0.5 * (T[i - 1, j] * (1.0 + VIRTUAL * q[i - 1, j])
                             + T[i, j] * (1.0 + VIRTUAL * q[i, j]))
            rho_over_dz = p_half[i, j] / (RD * tv_half) / (z[i - 1, j] - z[i, j])
            cond_q[i, j] = rho_over_dz * kh[i, j]
            cond_m[i, j] = rho_over_dz * km[i, j]
    if momentum_only:
        return
    # heat: theta diffused with enthalpy weights (storage Pi dp/g, flux Pi_half F)
    for i in range(nlev + 1):
        for j in range(width):
            cond_theta[i, j] = cond_q[i, j] * exner_half[i, j]
    storage_theta = work[_STORAGE_THETA]
    for k in range(nlev):
        for j in range(width):
            storage_theta[k, j] = mass[k, j] * exner[k, j]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _block_heights(T, q, log_p, log_p_half, z, z_half):
    """Hypsometric heights above the surface (m) of the levels, z, and of the
    interfaces, z_half, each (nlev + 1, COLUMNS) (z_half[0] is set to inf), from T, q
    and ln p at the levels and ln p_half at the interfaces (entry 0 not used)."""
    width = z.shape[1]
    nlev = z.shape[0] - 1
    for j in range(width):
        z_half[nlev, j] = 0.0
    for k in range(nlev - 1, -1, -1):
        for j in range(width):
            scale = RD * T[k, j] * (1.0 + VIRTUAL * q[k, j]) / GRAVITY
            z[k, j] = z_half[k + 1, j] + scale * (log_p_half[k + 1, j] - log_p[k, j])
            if k > 0:
                z_half[k, j] = z_half[k + 1, j] + scale * (log_p_half[k + 1, j]
                                                           - log_p_half[k, j])
    for j in range(width):
        z_half[0, j] = np.inf


@numba.njit(cache=True, inline="always")
def _frierson_diffusivity(theta_v, wind2, z, z_half, theta_v_surface, speed_a, params, k_out):
    """Frierson et al. (2006) K (m2 s-1) of one column at the interior interfaces into
    k_out (nlev + 1,), from theta_v, |v|^2 and z (nlev,), z_half (nlev + 1,); returns the
    boundary-layer height h (m)."""
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


@numba.njit(cache=True, inline="always", error_model="numpy")
def _block_reed_jablonowski_diffusivity(p_half, z, z_half, params, lane, kh, km):
    """Reed & Jablonowski (2012) K_E, K_m (m2 s-1) of the block at the interior interfaces
    into kh, km (nlev + 1, COLUMNS), from p_half and the heights; lane[_HEIGHT] gets the
    height (m) of p_top, interpolated in ln p between interfaces (0 if below the first)."""
    width = z.shape[1]
    ce, p_top, p_strato = params[5], params[6], params[7]
    nlev = z.shape[0] - 1
    for j in range(width):
        speed_a, za = lane[_SPEED_A, j], z[nlev - 1, j]
        lane[_K_E, j] = ce * speed_a * za
        lane[_K_M, j] = reed_jablonowski_drag(speed_a) * speed_a * za
    for i in range(1, nlev):
        for j in range(width):
            decay = 1.0
            if p_half[i, j] < p_top:
                decay = vexp(-(((p_top - p_half[i, j]) / p_strato) ** 2))
            kh[i, j] = lane[_K_E, j] * decay
            km[i, j] = lane[_K_M, j] * decay
    for j in range(width):
        height = 0.0
        for i in range(nlev - 1, 0, -1):
            if p_half[i, j] <= p_top:
                w = (np.log(p_half[i + 1, j] / p_top)
                     / np.log(p_half[i + 1, j] / p_half[i, j]))
                height = z_half[i + 1, j] + w * (z_half[i, j] - z_half[i + 1, j])
                break
        lane[_HEIGHT, j] = height


@numba.njit(cache=True, inline="always", error_model="numpy")
def _block_tendencies(offset, m, dt, momentum_only, work, out):
    """Backward-Euler diffusion of theta, q, u, v over dt (s) with the block's storages
    and conductances, and the flux-form tendencies of its first m columns into rows
    offset.. of the chunk's dT (K s-1), dq (kg kg-1 s-1), du and dv (m s-2) in out, each
    (columns, nlev); if momentum_only, u and v alone. u and v share the factorization of
    their matrix (the same storage and conductances, so the same bits as two)."""
    dT, dq, du, dv = out
    if not momentum_only:
        _solve_and_write(work, _CHI, _STORAGE_THETA, _COND_THETA, _SUP, _DENOM, _RHS, dt,
                         False, offset, m, dT)
        _solve_and_write(work, _CHI + 1, _MASS, _COND_Q, _SUP, _DENOM, _RHS + 1, dt,
                         False, offset, m, dq)
    _solve_and_write(work, _CHI + 2, _MASS, _COND_M, _SUP_M, _DENOM_M, _RHS + 2, dt,
                     False, offset, m, du)
    _solve_and_write(work, _CHI + 3, _MASS, _COND_M, _SUP_M, _DENOM_M, _RHS + 3, dt,
                     True, offset, m, dv)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _solve_and_write(work, chi, storage, cond, sup, denom, rhs, dt, factored, offset, m,
                     out):
    """One variable of _block_tendencies: chi, storage, cond, sup, denom, rhs are rows
    of work (see _forward_sweep)."""
    _forward_sweep(work, chi, storage, cond, sup, denom, rhs, dt, factored)
    _back_substitution(work, sup, rhs)
    _write_tendency(work, chi, cond, rhs, offset, m, out)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _forward_sweep(work, chi, storage, cond, sup, denom, rhs, dt, factored):
    """Forward sweep of the Thomas algorithm for the increment chi' - chi of

        storage_k (chi'_k - chi_k) / dt = G_k+1 - G_k,   G_i = cond_i (chi'_i - chi'_i-1),

    (rows of work: storage (nlev,), cond (nlev + 1,), 0 at both ends) in every column of
    the block; the matrix is a diagonally dominant M-matrix, so no pivoting is needed
    and chi' has no new extrema. Writes the right-hand sides into row rhs and, unless
    the matrix is already factored, the super-diagonal and pivots into rows sup, denom
    (else it reads them)."""
    width = work.shape[2]
    n = work.shape[1] - 1
    for k in range(n):
        for j in range(width):
            below = dt * work[cond, k + 1, j]
            above = dt * work[cond, k, j]
            r = 0.0
            if k + 1 < n:
                r += below * (work[chi, k + 1, j] - work[chi, k, j])
            if factored:
                denominator = work[denom, k, j]
            else:
                denominator = work[storage, k, j] + above + below  # a_k = -above
                if k > 0:
                    denominator += above * work[sup, k - 1, j]
                work[denom, k, j] = denominator
                work[sup, k, j] = -below / denominator
            if k > 0:
                r -= above * (work[chi, k, j] - work[chi, k - 1, j])
                work[rhs, k, j] = (r + above * work[rhs, k - 1, j]) / denominator
            else:
                work[rhs, k, j] = (r + above * 0.0) / denominator


@numba.njit(cache=True, inline="always", error_model="numpy")
def _back_substitution(work, sup, rhs):
    """The increments delta_k = rhs_k - sup_k delta_k+1 of the Thomas algorithm, in
    place of the right-hand sides in row rhs of work."""
    width = work.shape[2]
    n = work.shape[1] - 1
    for k in range(n - 2, -1, -1):
        for j in range(width):
            work[rhs, k, j] = work[rhs, k, j] - work[sup, k, j] * work[rhs, k + 1, j]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _write_tendency(work, chi, cond, delta, offset, m, out):
    """The upward interface fluxes G of the implicit solution chi + delta (rows of work)
    applied in flux form, (G_k+1 - G_k) / (dp_k / g), into rows offset..offset+m-1 of
    out (columns, nlev), written in out's memory order."""
    width = work.shape[2]
    n = work.shape[1] - 1
    flux = work[_FLUX]
    for j in range(width):
        flux[0, j] = 0.0
        flux[n, j] = 0.0
    for i in range(1, n):
        for j in range(width):
            flux[i, j] = work[cond, i, j] * ((work[chi, i, j] - work[chi, i - 1, j])
                                             + (work[delta, i, j] - work[delta, i - 1, j]))
    tendency, mass = work[_TENDENCY], work[_MASS]
    for k in range(n):
        for j in range(width):
            tendency[k, j] = (flux[k + 1, j] - flux[k, j]) / mass[k, j]
    if out.strides[0] <= out.strides[1]:
        for k in range(n):
            for j in range(m):
                out[offset + j, k] = tendency[k, j]
    else:
        for j in range(m):
            for k in range(n):
                out[offset + j, k] = tendency[k, j]
