"""Simplified Betts-Miller moist convection.

Frierson, D. M. W., 2007: The dynamics of idealized convection schemes and their effect
on the zonally averaged tropical circulation. J. Atmos. Sci., 64, 1959-1976 (section 2),
as configured in Isca (``qe_moist_convection``). Names follow Isca: ``tau_bm`` is the
paper's tau_SBM, ``rh_bm`` its RH_SBM.

1. A parcel from the lowest level is lifted along a dry adiabat to its lifting
   condensation level (exact for the saturation formula of gcm.physics.saturation; a
   saturated or supersaturated lowest level first condenses its excess at constant
   pressure), then along the pseudo-adiabat

       dT/dln p = (Rd T + Lv q_s p / (p - (1 - eps) e_s)) / (cp + Lv dq_s/dT),

   (cp dT - Rd T dln p + Lv dq_s = 0 with q_s of gcm.physics.saturation), integrated with
   fourth-order Runge-Kutta steps in ln p, until it is no longer buoyant above its level
   of free convection (LFC). The level of zero buoyancy (LZB) is the last buoyant level;
   buoyancy compares temperatures, as in Frierson (2007), because the dynamical core has
   no virtual-temperature effect. Convection is possible when the parcel has CAPE > 0.
2. Over the convecting levels (LZB to the lowest level) the reference profiles are
   T_ref = parcel temperature and q_ref = rh_bm q_s(T_ref, p), and the first guesses
   dT = -(T - T_ref)/tau, dq = -(q - q_ref)/tau with tau = max(tau_bm, dt) (so that a
   long step never relaxes past the reference; with tau_bm = dt the state reaches the
   reference in one step). With P_q = -sum dq dp/g and P_T = sum (cp/Lv) dT dp/g:
   - deep convection (P_q > 0 and P_T > 0): the precipitation is P_q, and T_ref is
     shifted by the same amount at every convecting level so that
     sum (cp dT + Lv dq) dp = 0 (Frierson's eqs. 5-6; the newer Isca code instead
     lengthens the humidity time scale when P_q > P_T, which is not done here);
   - shallow convection (P_q <= 0 < P_T): Frierson's "qref" shallow scheme (eqs. 11-15,
     the one SpeedyWeather implements; Isca uses his other, "shallower", option):
     q_ref is multiplied by sum q dp / sum q_ref dp and T_ref is shifted uniformly, so
     that both sum dq dp and sum dT dp vanish: no precipitation, only a vertical
     redistribution of heat and moisture;
   - otherwise (P_T <= 0) no convection.

The column budgets of DESIGN.md close to round-off by construction: the deep-convection
shift is computed from the final tendencies (applied twice, the second time removing
the round-off of the first), the precipitation is -sum dq dp / g of the returned
humidity tendency, and in the shallow case a last proportional correction removes the
round-off of sum dq dp. q + dq dt is a convex combination of q and q_ref >= 0, so
humidity that is not negative before the step is not negative after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from gcm.constants import CP, GRAVITY, KAPPA, LV, RD, RV
from gcm.physics.column import ColumnScheme, ColumnState, ColumnTendencies, fill_into
from gcm.physics.condensation import saturation_adjustment, saturation_humidity_and_slope
from gcm.physics.saturation import (
    EPSILON,
    saturation_vapour_pressure,
    saturation_vapour_pressure_vectorizable,
)

MAX_LOG_PRESSURE_STEP = 0.1  # largest Runge-Kutta step of the pseudo-adiabat in ln p

NO_CONVECTION, SHALLOW, DEEP = 0, 1, 2  # values of ConvectionDiagnostics.kind


@dataclass
class ConvectionDiagnostics:
    """What the scheme decided, per column; profiles (ncol, nlev), NaN where not computed."""

    parcel_temperature: np.ndarray  # (ncol, nlev) K, lifted parcel up to the LZB (T_ref
    #                                  before the shift), or as far as it was lifted
    reference_humidity: np.ndarray  # (ncol, nlev) kg kg-1, q_ref actually relaxed towards
    #                                  (after the shallow rescaling); NaN above the LZB
    level_of_zero_buoyancy: np.ndarray  # (ncol,) int, level index; -1 without CAPE
    lcl_pressure: np.ndarray  # (ncol,) Pa, lifting condensation level (0 if above the top)
    cape: np.ndarray  # (ncol,) J kg-1, sum of Rd (T_parcel - T) dp/p over buoyant levels
    kind: np.ndarray  # (ncol,) int: 0 none, 1 shallow, 2 deep


@dataclass
class BettsMillerConvection(ColumnScheme):
    """Simplified Betts-Miller convection (Frierson 2007) with the Isca aquaplanet values."""

    name = "convection"

    tau_bm: float = 7200.0  # relaxation time, s (Frierson 2007: 2 h)
    rh_bm: float = 0.7  # reference relative humidity (Frierson 2007: 0.7)
    t_min: float = 173.0  # K; a parcel this cold before it found CAPE stops (Isca Tmin)

    def __post_init__(self):
        if not self.tau_bm > 0.0:
            raise ValueError(f"BettsMillerConvection.tau_bm must be > 0 s, got {self.tau_bm}")
        if not 0.0 <= self.rh_bm <= 1.0:
            raise ValueError(f"BettsMillerConvection.rh_bm must be in [0, 1], got {self.rh_bm}")

    def __call__(self, columns: ColumnState, dt: float,
                 out: ColumnTendencies | None = None) -> ColumnTendencies:
        """Temperature (K s-1) and humidity (kg kg-1 s-1) tendencies, (ncol, nlev), and the
        convective precipitation (kg m-2 s-1, (ncol,)) over the step dt (s); written into
        ``out`` if given (gcm.physics.column), whose other fields are left alone."""
        return self._run(columns, dt, diagnose=False, out=out)[0]

    def diagnose(self, columns: ColumnState,
                 dt: float) -> tuple[ColumnTendencies, ConvectionDiagnostics]:
        """The tendencies of __call__ and the reference profiles, LZB and convection type."""
        return self._run(columns, dt, diagnose=True)

    def _run(self, columns: ColumnState, dt: float, diagnose: bool,
             out: ColumnTendencies | None = None) -> tuple[ColumnTendencies,
                                                           ConvectionDiagnostics]:
        if not dt > 0.0:
            raise ValueError(f"BettsMillerConvection: dt must be > 0 s, got {dt}")
        ncol, nlev = columns.ncol, columns.nlev
        # the kernel writes the convecting columns' levels only
        out = fill_into(out, columns, "BettsMillerConvection",
                        partly_written=("temperature", "humidity", "precipitation"))
        profile_shape = (ncol, nlev) if diagnose else (0, nlev)
        parcel = np.full(profile_shape, np.nan)
        qref = np.full(profile_shape, np.nan)
        klzb = np.full(ncol, -1, dtype=np.int64)
        kind = np.zeros(ncol, dtype=np.int64)
        cape = np.zeros(ncol)
        p_lcl = np.zeros(ncol)
        relaxation_rate = 1.0 / max(self.tau_bm, dt)
        _betts_miller_kernel(
            np.asarray(columns.temperature, dtype=np.float64),
            np.asarray(columns.humidity, dtype=np.float64),
            np.asarray(columns.pressure, dtype=np.float64),
            np.asarray(columns.pressure_half, dtype=np.float64),
            float(self.rh_bm), float(self.t_min), relaxation_rate, float(dt),
            out.temperature, out.humidity, out.precipitation, diagnose,
            parcel, qref, klzb, kind, cape, p_lcl,
        )
        diagnostics = ConvectionDiagnostics(parcel_temperature=parcel, reference_humidity=qref,
                                            level_of_zero_buoyancy=klzb, lcl_pressure=p_lcl,
                                            cape=cape, kind=kind)
        return out, diagnostics


@numba.njit(cache=True)
def pseudoadiabatic_lapse_rate(T, p):
    """dT/dln p (K) of a saturated parcel at T (K), p (Pa) whose condensate falls out."""
    return _lapse_rate_given_es(T, p, saturation_vapour_pressure(T))


@numba.njit(cache=True, error_model="numpy")
def _lapse_rate_given_es(T, p, es):
    """pseudoadiabatic_lapse_rate (K) at T (K), p (Pa) with es = e_s(T) (Pa) given, so that
    a block of parcels can take the exponentials in one loop and vectorize the rest.

    With D = p - (1 - eps) e_s, q_s = eps e_s / D and dq_s/dT = q_s Lv p / (Rv T^2 D),

        (Rd T + Lv q_s p / D) / (cp + Lv dq_s/dT)
          = T^2 (Rd T D^2 + Lv eps e_s p) / (cp T^2 D^2 + (Lv^2 / Rv) eps e_s p),

    the form evaluated here: one division instead of five (the parcel ascent spends most
    of its time in this function, and divisions are its slowest operations)."""
    if not es < p:  # no saturation possible at this (T, p): dry adiabat
        return RD * T / CP
    d2 = p - (1.0 - EPSILON) * es
    d2 *= d2
    t2 = T * T
    latent = EPSILON * es * p
    return t2 * (RD * T * d2 + LV * latent) / (CP * t2 * d2 + (LV * LV / RV) * latent)


@numba.njit(cache=True)
def pseudoadiabat(T, p_from, p_to):
    """Temperature (K) at p_to (Pa) of a saturated parcel at T (K), p_from (Pa), following
    the pseudo-adiabat with RK4 steps of at most MAX_LOG_PRESSURE_STEP in ln p."""
    n, h, half_ratio = _rk4_steps(p_from, p_to)
    p = p_from
    for _ in range(n):
        p_mid = p * half_ratio
        p_end = p_mid * half_ratio
        k1 = pseudoadiabatic_lapse_rate(T, p)
        k2 = pseudoadiabatic_lapse_rate(T + 0.5 * h * k1, p_mid)
        k3 = pseudoadiabatic_lapse_rate(T + 0.5 * h * k2, p_mid)
        k4 = pseudoadiabatic_lapse_rate(T + h * k3, p_end)
        T = _rk4_update(T, h, k1, k2, k3, k4)
        p = p_end
    return T


@numba.njit(cache=True, error_model="numpy")
def _rk4_steps(p_from, p_to):
    """Number of RK4 steps (at most MAX_LOG_PRESSURE_STEP in ln p) from p_from to p_to
    (Pa), their length h in ln p and the pressure ratio exp(h/2) over half a step."""
    span = np.log(p_to / p_from)
    n = max(1, int(np.ceil(abs(span) / MAX_LOG_PRESSURE_STEP)))
    h = span / n
    return n, h, np.exp(0.5 * h)


@numba.njit(cache=True, error_model="numpy")
def _rk4_update(T, h, k1, k2, k3, k4):
    """T (K) after one RK4 step of length h in ln p with stage lapse rates k1..k4 (K)."""
    return T + h * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0


LCL_ITERATIONS = 60  # most Newton steps for the LCL (4 at most in the T42 aquaplanet)


@numba.njit(cache=True)
def lifting_condensation_level(T0, q0, p0, p_top):
    """(T_LCL in K, p_LCL in Pa) of a subsaturated parcel (T0 K, q0 > 0 kg kg-1, p0 Pa)
    lifted dry-adiabatically; p_LCL = 0 if it stays unsaturated up to p_top (Pa).

    Along the dry adiabat q and so e/p are conserved and p = p0 (T/T0)^(1/kappa), so the
    LCL solves ln e_s(T) - ln T / kappa = ln e0 - ln T0 / kappa (e0 the parcel's vapour
    pressure): Newton's method in u = 1/T, where the left side is concave and decreasing,
    safeguarded to the bracket [1/T0, 1/T_top]."""
    saturates, t_top, target = _lcl_problem(T0, q0, p0, p_top)
    if not saturates:
        return t_top, 0.0
    u_low, u_high = 1.0 / T0, 1.0 / t_top
    u = u_low
    for _ in range(LCL_ITERATIONS):
        u_new = _lcl_newton_step(u, target, u_low, u_high)
        if _lcl_converged(u_new, u):
            u = u_new
            break
        u = u_new
    return _lcl_from_inverse_temperature(u, T0, p0)


@numba.njit(cache=True, error_model="numpy")
def _lcl_problem(T0, q0, p0, p_top):
    """(saturates below p_top, T (K) of the dry adiabat at p_top, the Newton target
    ln e0 - ln T0 / kappa) of lifting_condensation_level."""
    t_top = T0 * (p_top / p0) ** KAPPA
    qs_top, _ = saturation_humidity_and_slope(t_top, p_top)
    if q0 < qs_top:
        return False, t_top, 0.0
    e0 = q0 * p0 / (EPSILON + (1.0 - EPSILON) * q0)
    return True, t_top, np.log(e0) - np.log(T0) / KAPPA


@numba.njit(cache=True, error_model="numpy")
def _lcl_newton_step(u, target, u_low, u_high):
    """The next Newton iterate of lifting_condensation_level in u = 1/T (K-1)."""
    es = max(saturation_vapour_pressure(1.0 / u), 1e-300)
    residual = np.log(es) + np.log(u) / KAPPA - target
    slope = -LV / RV + 1.0 / (KAPPA * u)
    step = -residual / slope
    return min(max(u + step, u_low), u_high)


@numba.njit(cache=True, error_model="numpy")
def _lcl_converged(u_new, u):
    return abs(u_new - u) <= 1e-15 * u


@numba.njit(cache=True, error_model="numpy")
def _lcl_from_inverse_temperature(u, T0, p0):
    """(T_LCL in K, p_LCL in Pa) on the dry adiabat through (T0 K, p0 Pa) at T = 1/u."""
    t_lcl = 1.0 / u
    return t_lcl, p0 * (t_lcl / T0) ** (1.0 / KAPPA)


BLOCK = 64  # columns lifted together: independent parcels keep the CPU's pipelines busy
SIMD_SLOTS = 8  # RK4 stage loops cover whole vectors of this many slots (AVX-512 width)

# rows of the per-block scratch w of _lift_parcels, each (BLOCK,), indexed by the
# column's place j in the block; the LCL rows are the Newton iteration's
(_T0, _P0, _T_MOIST, _P_MOIST, _P_LCL, _CAPE, _STATE, _TP, _U, _U_LOW, _U_HIGH, _TARGET,
 _NSCRATCH) = range(13)
# rows of the Runge-Kutta scratch rk, each (BLOCK,), indexed by the place m of a parcel
# in the list of those above their LCL at the current level: contiguous rows, so that
# the arithmetic of the RK4 stages vectorizes across the parcels
(_T_RK, _P_RK, _H, _HALF, _STEPS, _K1, _K2, _K3, _K4, _T_STAGE, _P_STAGE,
 _NRK) = range(12)
RISING, BUOYANT, STOPPED = 0.0, 1.0, 2.0  # parcel states: no CAPE yet, CAPE found, done


@numba.njit(cache=True, error_model="numpy")
def _start_parcels(first, last, T, q, p, parcel, p_lcl_out, w, active, pending):
    """Lowest-level parcels of columns first..last-1 into w: their temperature, pressure
    and lifting condensation level (saturated start: condense the excess at p0, as Isca
    does in one linearized step), p_LCL (Pa) also into p_lcl_out, the start temperature
    into parcel (nlev, BLOCK). The indices j of the parcels that can convect (not
    dry, more than one level) go into active; returns their number. pending (BLOCK,) is
    scratch: the parcels whose LCL Newton iterations are not done, iterated together so
    that their independent chains of exp, log and divisions overlap."""
    nlev = T.shape[1]
    k0 = nlev - 1
    n_active = 0
    n_pending = 0
    for j in range(last - first):
        i = first + j
        t0, q0, p0 = T[i, k0], q[i, k0], p[i, k0]
        if not q0 > 0.0 or nlev < 2:
            continue
        active[n_active] = j
        n_active += 1
        w[_T0, j], w[_P0, j] = t0, p0
        qs0, _ = saturation_humidity_and_slope(t0, p0)
        if q0 >= qs0:
            parcel[k0, j] = t0 - (LV / CP) * saturation_adjustment(t0, q0, p0, 1.0, 3)
            w[_T_MOIST, j], w[_P_LCL, j] = parcel[k0, j], p0
            continue
        parcel[k0, j] = t0
        saturates, t_top, target = _lcl_problem(t0, q0, p0, p[i, 0])
        if not saturates:
            w[_T_MOIST, j], w[_P_LCL, j] = t_top, 0.0
            continue
        w[_P_LCL, j] = -1.0  # to be found by the Newton iterations below
        w[_U, j] = w[_U_LOW, j] = 1.0 / t0
        w[_U_HIGH, j] = 1.0 / t_top
        w[_TARGET, j] = target
        pending[n_pending] = j
        n_pending += 1
    for _ in range(LCL_ITERATIONS):
        if n_pending == 0:
            break
        still = 0
        for a in range(n_pending):
            j = pending[a]
            u_new = _lcl_newton_step(w[_U, j], w[_TARGET, j], w[_U_LOW, j], w[_U_HIGH, j])
            done = _lcl_converged(u_new, w[_U, j])
            w[_U, j] = u_new
            if not done:
                pending[still] = j
                still += 1
        n_pending = still
    for a in range(n_active):
        j = active[a]
        if w[_P_LCL, j] < 0.0:
            w[_T_MOIST, j], w[_P_LCL, j] = _lcl_from_inverse_temperature(
                w[_U, j], w[_T0, j], w[_P0, j])
    for a in range(n_active):
        j = active[a]
        p_lcl_out[first + j] = w[_P_LCL, j]
        w[_P_MOIST, j] = w[_P_LCL, j]  # where the pseudo-adiabat has reached
    return n_active


@numba.njit(cache=True, error_model="numpy")
def _pseudoadiabats(w, rk, active, n_active, moist, k, p, first):
    """Carry every parcel of the block that is above its LCL at level k along its
    pseudo-adiabat from (T_MOIST, P_MOIST) to p[first + j, k], into w[_TP]: the RK4 steps
    of pseudoadiabat(), taken stage by stage across the parcels. Their state is gathered
    into the contiguous rows of rk (moist (BLOCK,) gets their j), so that the arithmetic
    of a stage vectorizes and the exponentials of independent parcels overlap. The stage
    loops run over all BLOCK slots of rk; slots past the parcels have no steps to take
    and change nothing."""
    n_moist = 0
    most = 0
    for a in range(n_active):
        j = active[a]
        p_k = p[first + j, k]
        if p_k >= w[_P_LCL, j]:
            continue
        n, h, half_ratio = _rk4_steps(w[_P_MOIST, j], p_k)
        moist[n_moist] = j
        rk[_STEPS, n_moist], rk[_H, n_moist], rk[_HALF, n_moist] = n, h, half_ratio
        rk[_P_RK, n_moist], rk[_T_RK, n_moist] = w[_P_MOIST, j], w[_T_MOIST, j]
        n_moist += 1
        most = max(most, n)
    # the stage loops run over the parcels' slots rounded up to a multiple of SIMD_SLOTS:
    # whole vectors, and no work for the empty end of a block with few moist parcels
    slots = min(BLOCK, -(-n_moist // SIMD_SLOTS) * SIMD_SLOTS)
    for m in range(n_moist, slots):
        rk[_STEPS, m] = 0.0
    for step in range(most):
        for m in range(slots):
            rk[_T_STAGE, m] = rk[_T_RK, m]
            rk[_P_STAGE, m] = rk[_P_RK, m]
        _stage_lapse_rates(rk, _K1, slots)
        for m in range(slots):
            rk[_T_STAGE, m] = rk[_T_RK, m] + 0.5 * rk[_H, m] * rk[_K1, m]
            rk[_P_STAGE, m] = rk[_P_RK, m] * rk[_HALF, m]
        _stage_lapse_rates(rk, _K2, slots)
        for m in range(slots):
            rk[_T_STAGE, m] = rk[_T_RK, m] + 0.5 * rk[_H, m] * rk[_K2, m]
        _stage_lapse_rates(rk, _K3, slots)
        for m in range(slots):
            rk[_T_STAGE, m] = rk[_T_RK, m] + rk[_H, m] * rk[_K3, m]
            rk[_P_STAGE, m] = rk[_P_STAGE, m] * rk[_HALF, m]
        _stage_lapse_rates(rk, _K4, slots)
        for m in range(slots):
            stepped = _rk4_update(rk[_T_RK, m], rk[_H, m], rk[_K1, m], rk[_K2, m],
                                  rk[_K3, m], rk[_K4, m])
            taking = step < rk[_STEPS, m]  # parcels with fewer steps keep their end point
            rk[_T_RK, m] = stepped if taking else rk[_T_RK, m]
            rk[_P_RK, m] = rk[_P_STAGE, m] if taking else rk[_P_RK, m]
    for m in range(n_moist):
        j = moist[m]
        w[_T_MOIST, j] = rk[_T_RK, m]
        w[_P_MOIST, j] = p[first + j, k]
        w[_TP, j] = rk[_T_RK, m]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _stage_lapse_rates(rk, out, slots):
    """pseudoadiabatic_lapse_rate at (rk[_T_STAGE], rk[_P_STAGE]) into rk[out] for the
    first ``slots`` slots in one loop that vectorizes: e_s by the vectorizable exp of
    gcm.physics.vector_math (slots past the parcels compute values nobody reads)."""
    for m in range(slots):
        es = saturation_vapour_pressure_vectorizable(rk[_T_STAGE, m])
        rk[out, m] = _lapse_rate_given_es(rk[_T_STAGE, m], rk[_P_STAGE, m], es)


@numba.njit(cache=True, error_model="numpy")
def _lift_parcels(first, last, T, q, p, dp, t_min, parcel, klzb, cape, p_lcl, w, rk,
                  active, moist):
    """Lift the lowest-level parcels of columns first..last-1 (T K, q kg kg-1, p Pa,
    (ncol, nlev)) together, level by level, writing each parcel's temperature into
    parcel (nlev, BLOCK) from the lowest level up to its LZB (or, without CAPE, up
    to where it gets colder than t_min K, as in Isca: nothing that cold can still become
    buoyant in an Earth-like column, and it saves the ascent to the top); klzb gets the
    LZB index (-1 without CAPE), cape its CAPE (J kg-1) and p_lcl the LCL pressure (Pa).
    dp (nlev, BLOCK) holds the layer thicknesses (Pa); w (_NSCRATCH, BLOCK),
    rk (_NRK, BLOCK), active and moist (BLOCK,) are scratch."""
    nlev = T.shape[1]
    for i in range(first, last):
        klzb[i], cape[i], p_lcl[i] = -1, 0.0, 0.0
    n_active = _start_parcels(first, last, T, q, p, parcel, p_lcl, w, active, moist)
    for a in range(n_active):
        w[_CAPE, active[a]] = 0.0
        w[_STATE, active[a]] = RISING
    for k in range(nlev - 2, -1, -1):
        if n_active == 0:
            break
        for a in range(n_active):  # dry adiabat below the LCL
            j = active[a]
            p_k = p[first + j, k]
            if p_k >= w[_P_LCL, j]:
                w[_TP, j] = w[_T0, j] * (p_k / w[_P0, j]) ** KAPPA
        _pseudoadiabats(w, rk, active, n_active, moist, k, p, first)
        still = 0
        for a in range(n_active):
            j = active[a]
            i = first + j
            tp = w[_TP, j]
            if tp < t_min and w[_STATE, j] == RISING:
                w[_STATE, j] = STOPPED  # too cold to find CAPE: klzb stays -1
            elif tp > T[i, k]:
                w[_CAPE, j] += RD * (tp - T[i, k]) * dp[k, j] / p[i, k]
                w[_STATE, j] = BUOYANT
                parcel[k, j] = tp
            elif w[_STATE, j] == BUOYANT:
                w[_STATE, j] = STOPPED
                klzb[i], cape[i] = k + 1, w[_CAPE, j]
            else:
                parcel[k, j] = tp
            if w[_STATE, j] != STOPPED:
                active[still] = j
                still += 1
        n_active = still
    for a in range(n_active):  # buoyant up to the model top
        j = active[a]
        if w[_STATE, j] == BUOYANT:
            klzb[first + j], cape[first + j] = 0, w[_CAPE, j]


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _betts_miller_kernel(T, q, p, p_half, rh_bm, t_min, rate, dt, dT, dq, precip,
                         diagnose, parcel, qref, klzb, kind, cape, p_lcl):
    """Fill dT (K s-1), dq (kg kg-1 s-1) (ncol, nlev) and precip (kg m-2 s-1, (ncol,)),
    plus the diagnostics, from T (K), q (kg kg-1), p (Pa), all (ncol, nlev), and p_half
    (ncol, nlev + 1, Pa). rate = 1/max(tau_bm, dt) (s-1). The profiles parcel and qref
    (ncol, nlev) are filled only if diagnose (else they may be empty): the reference
    profiles live in per-block scratch, which spares the memory traffic of two more
    (ncol, nlev) arrays. dT, dq and precip are written in the convecting columns only,
    dT and dq from the LZB down. Any memory layout: the model passes level-major views.

    A block of BLOCK columns is worked on level by level, its profiles gathered into
    level-major scratch (nlev, BLOCK): the loops over its columns then vectorize, and
    the model's level-major arrays are read and written in their memory order."""
    ncol, nlev = T.shape
    nblock = (ncol + BLOCK - 1) // BLOCK
    for b in numba.prange(nblock):
        first, last = b * BLOCK, min(ncol, (b + 1) * BLOCK)
        w = np.empty((_NSCRATCH, BLOCK))
        rk = np.ones((_NRK, BLOCK))  # finite: stages compute on every slot
        active = np.empty(BLOCK, dtype=np.int64)
        moist = np.empty(BLOCK, dtype=np.int64)
        profiles = np.empty((_NPROFILES, nlev, BLOCK))
        _gather_block(T, first, last, profiles[_TB])
        _gather_block(q, first, last, profiles[_QB])
        _gather_block(p, first, last, profiles[_PB])
        _gather_thickness(p_half, first, last, profiles[_DP])
        profiles[_PARCEL] = np.nan
        _lift_parcels(first, last, T, q, p, profiles[_DP], t_min, profiles[_PARCEL], klzb,
                      cape, p_lcl, w, rk, active, moist)
        _relax_block(first, last, klzb, profiles, rh_bm, rate, dt, w, kind, precip)
        for i in range(first, last):  # the first level written out, nlev if none
            w[_TOP, i - first] = klzb[i] if kind[i] != NO_CONVECTION else nlev
        _scatter_block(profiles[_DTB], w[_TOP], dT[first:last])
        _scatter_block(profiles[_DQB], w[_TOP], dq[first:last])
        if diagnose:
            for k in range(nlev):
                for i in range(first, last):
                    parcel[i, k] = profiles[_PARCEL, k, i - first]
                    qref[i, k] = profiles[_QREF, k, i - first]


# the block's profiles in the scratch of _betts_miller_kernel, each (nlev, BLOCK):
# T, q, p, dp, the parcel's temperature, q_ref, dT and dq
(_TB, _QB, _PB, _DP, _PARCEL, _QREF, _DTB, _DQB, _NPROFILES) = range(9)
# rows of w that _relax_block uses after the ascent, each (BLOCK,): the column sums; then
# the first level of each column that the kernel writes
(_DRYING, _WARMING, _MASS, _TOTAL_Q, _TOTAL_QREF, _IMBALANCE, _EXCESS, _AFTER,
 _TOP) = range(9)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _gather_block(x, first, last, out):
    """Columns first..last-1 of x (ncol, nlev) into out (nlev, BLOCK), reading x in its
    memory order (level by level if it is level-major, else column by column)."""
    nlev = x.shape[1]
    if x.strides[0] <= x.strides[1]:
        for k in range(nlev):
            for i in range(first, last):
                out[k, i - first] = x[i, k]
    else:
        for i in range(first, last):
            for k in range(nlev):
                out[k, i - first] = x[i, k]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _gather_thickness(p_half, first, last, dp):
    """Layer thicknesses p_half[i, k + 1] - p_half[i, k] (Pa) of columns first..last-1
    into dp (nlev, BLOCK), reading p_half (ncol, nlev + 1) in its memory order."""
    nlev = dp.shape[0]
    if p_half.strides[0] <= p_half.strides[1]:
        for k in range(nlev):
            for i in range(first, last):
                dp[k, i - first] = p_half[i, k + 1] - p_half[i, k]
    else:
        for i in range(first, last):
            for k in range(nlev):
                dp[k, i - first] = p_half[i, k + 1] - p_half[i, k]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _scatter_block(x, top, out):
    """x (nlev, BLOCK) into the block's rows of out (columns, nlev) from level top[j]
    (BLOCK,) of each column j down, writing out in its memory order."""
    n, nlev = out.shape
    if out.strides[0] <= out.strides[1]:
        for k in range(nlev):
            for j in range(n):
                if k >= top[j]:
                    out[j, k] = x[k, j]
    else:
        for j in range(n):
            for k in range(int(top[j]), nlev):
                out[j, k] = x[k, j]


@numba.njit(cache=True, error_model="numpy")
def _relax_block(first, last, klzb, profiles, rh_bm, rate, dt, w, kind, precip):
    """Relaxation of columns first..last-1 towards the reference profiles over their
    convecting levels klzb..nlev-1 (see the module docstring), from their T, q, p, dp and
    parcel temperature in profiles (_NPROFILES, nlev, BLOCK); writes q_ref there, dT and
    dq (where kind is not NO_CONVECTION, from the LZB down), kind, and precip of the
    convecting columns. The columns go down together level by level, each one's sums
    in the order of its levels (so the bits are those of one column at a time); w
    (_NSCRATCH, BLOCK) is scratch."""
    nlev = profiles.shape[1]
    n = last - first
    T, q, p, dp = profiles[_TB], profiles[_QB], profiles[_PB], profiles[_DP]
    parcel, qref = profiles[_PARCEL], profiles[_QREF]
    dT, dq = profiles[_DTB], profiles[_DQB]
    lv_cp = LV / CP
    top = nlev  # the highest LZB of the block
    for i in range(first, last):
        if klzb[i] >= 0:
            top = min(top, klzb[i])
    qref[:] = np.nan
    for r in (_DRYING, _WARMING, _MASS, _TOTAL_Q, _TOTAL_QREF):
        w[r] = 0.0
    for k in range(top, nlev):
        for j in range(n):
            if _convecting_level(klzb[first + j], k):
                qs, _ = saturation_humidity_and_slope(parcel[k, j], p[k, j])
                qref[k, j] = rh_bm * qs
        for j in range(n):
            on = _convecting_level(klzb[first + j], k)
            # sum (q - q_ref) dp: P_q tau g; sum (T_ref - T) dp: P_T tau g Lv / cp;
            # the mass sum dp of the convecting levels
            w[_DRYING, j] = _add_if(on, w[_DRYING, j], (q[k, j] - qref[k, j]) * dp[k, j])
            w[_WARMING, j] = _add_if(on, w[_WARMING, j], (parcel[k, j] - T[k, j]) * dp[k, j])
            w[_MASS, j] = _add_if(on, w[_MASS, j], dp[k, j])
            w[_TOTAL_Q, j] = _add_if(on, w[_TOTAL_Q, j], q[k, j] * dp[k, j])
            w[_TOTAL_QREF, j] = _add_if(on, w[_TOTAL_QREF, j], qref[k, j] * dp[k, j])
    for j in range(n):
        i = first + j
        if klzb[i] < 0 or not w[_WARMING, j] > 0.0 or not w[_MASS, j] > 0.0:
            kind[i] = NO_CONVECTION
            for k in range(max(klzb[i], 0), nlev):
                qref[k, j] = np.nan
            continue
        kind[i] = DEEP if w[_DRYING, j] > 0.0 else SHALLOW
        precip[i] = 0.0
        if kind[i] == SHALLOW:
            # Frierson's "qref" shallow scheme: scale q_ref so that sum dq dp = 0
            total_qref = w[_TOTAL_QREF, j]
            scale = w[_TOTAL_Q, j] / total_qref if total_qref > 0.0 else 0.0
            for k in range(klzb[i], nlev):
                qref[k, j] *= scale
    for k in range(top, nlev):
        for j in range(n):
            dq[k, j] = -(q[k, j] - qref[k, j]) * rate
            dT[k, j] = -(T[k, j] - parcel[k, j]) * rate
    # uniform shift of T_ref: deep conserves enthalpy (cp dT + Lv dq), shallow has no
    # net heating (and no net moistening); the second pass removes round-off
    for _ in range(2):
        w[_IMBALANCE] = 0.0
        for k in range(top, nlev):
            for j in range(n):
                deep = kind[first + j] == DEEP
                heating = dT[k, j] + lv_cp * dq[k, j] if deep else dT[k, j]
                w[_IMBALANCE, j] = _add_if(_convecting_level(klzb[first + j], k),
                                           w[_IMBALANCE, j], heating * dp[k, j])
        for k in range(top, nlev):
            for j in range(n):
                dT[k, j] -= w[_IMBALANCE, j] / w[_MASS, j]
    # shallow: remove the round-off of sum dq dp in proportion to each level's humidity
    # after the step, which keeps it non-negative; deep: precipitation, -sum dq dp / g
    w[_EXCESS] = 0.0
    w[_AFTER] = 0.0
    for k in range(top, nlev):
        for j in range(n):
            on = _convecting_level(klzb[first + j], k)
            w[_EXCESS, j] = _add_if(on, w[_EXCESS, j], dq[k, j] * dp[k, j])
            w[_AFTER, j] = _add_if(on, w[_AFTER, j],
                                   max(q[k, j] + dq[k, j] * dt, 0.0) * dp[k, j])
    for k in range(top, nlev):
        for j in range(n):
            correct = kind[first + j] == SHALLOW and w[_AFTER, j] > 0.0
            after = max(q[k, j] + dq[k, j] * dt, 0.0)
            if correct:
                dq[k, j] -= w[_EXCESS, j] * after / w[_AFTER, j]
    for j in range(n):
        column = w[_EXCESS, j]
        if kind[first + j] == DEEP and column < 0.0:
            precip[first + j] = -column / GRAVITY


@numba.njit(cache=True, inline="always")
def _convecting_level(klzb, k):
    """Whether level k is among the convecting levels of a column whose LZB is klzb."""
    return klzb >= 0 and k >= klzb


@numba.njit(cache=True, inline="always")
def _add_if(on, total, term):
    """total + term where on, else total: one column's sum over its own levels, written
    so that a loop over the columns of a block vectorizes."""
    return total + term if on else total
