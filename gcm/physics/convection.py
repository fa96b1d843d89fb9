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
from gcm.physics.column import ColumnState, ColumnTendencies, fill_into
from gcm.physics.condensation import saturation_adjustment, saturation_humidity_and_slope
from gcm.physics.saturation import EPSILON, saturation_vapour_pressure

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
class BettsMillerConvection:
    """Simplified Betts-Miller convection (Frierson 2007) with the Isca aquaplanet values."""

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
    """dT/dln p (K) of a saturated parcel at T (K), p (Pa) whose condensate falls out.

    With D = p - (1 - eps) e_s, q_s = eps e_s / D and dq_s/dT = q_s Lv p / (Rv T^2 D),

        (Rd T + Lv q_s p / D) / (cp + Lv dq_s/dT)
          = T^2 (Rd T D^2 + Lv eps e_s p) / (cp T^2 D^2 + (Lv^2 / Rv) eps e_s p),

    the form evaluated here: one division instead of five (the parcel ascent spends most
    of its time in this function, and divisions are its slowest operations)."""
    es = saturation_vapour_pressure(T)
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
    span = np.log(p_to / p_from)
    n = max(1, int(np.ceil(abs(span) / MAX_LOG_PRESSURE_STEP)))
    h = span / n
    half_ratio = np.exp(0.5 * h)  # pressure ratio over half a step
    p = p_from
    for _ in range(n):
        p_mid = p * half_ratio
        p_end = p_mid * half_ratio
        k1 = pseudoadiabatic_lapse_rate(T, p)
        k2 = pseudoadiabatic_lapse_rate(T + 0.5 * h * k1, p_mid)
        k3 = pseudoadiabatic_lapse_rate(T + 0.5 * h * k2, p_mid)
        k4 = pseudoadiabatic_lapse_rate(T + h * k3, p_end)
        T += h * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0
        p = p_end
    return T


@numba.njit(cache=True)
def lifting_condensation_level(T0, q0, p0, p_top):
    """(T_LCL in K, p_LCL in Pa) of a subsaturated parcel (T0 K, q0 > 0 kg kg-1, p0 Pa)
    lifted dry-adiabatically; p_LCL = 0 if it stays unsaturated up to p_top (Pa).

    Along the dry adiabat q and so e/p are conserved and p = p0 (T/T0)^(1/kappa), so the
    LCL solves ln e_s(T) - ln T / kappa = ln e0 - ln T0 / kappa (e0 the parcel's vapour
    pressure): Newton's method in u = 1/T, where the left side is concave and decreasing,
    safeguarded to the bracket [1/T0, 1/T_top]."""
    t_top = T0 * (p_top / p0) ** KAPPA
    qs_top, _ = saturation_humidity_and_slope(t_top, p_top)
    if q0 < qs_top:
        return t_top, 0.0
    e0 = q0 * p0 / (EPSILON + (1.0 - EPSILON) * q0)
    target = np.log(e0) - np.log(T0) / KAPPA
    u_low, u_high = 1.0 / T0, 1.0 / t_top
    u = u_low
    for _ in range(60):
        es = max(saturation_vapour_pressure(1.0 / u), 1e-300)
        residual = np.log(es) + np.log(u) / KAPPA - target
        slope = -LV / RV + 1.0 / (KAPPA * u)
        step = -residual / slope
        u_new = min(max(u + step, u_low), u_high)
        if abs(u_new - u) <= 1e-15 * u:
            u = u_new
            break
        u = u_new
    t_lcl = 1.0 / u
    return t_lcl, p0 * (t_lcl / T0) ** (1.0 / KAPPA)


BLOCK = 64  # columns lifted together: independent parcels keep the CPU's pipelines busy

# rows of the per-block scratch array of _lift_parcels, each (BLOCK,)
(_T0, _P0, _T_MOIST, _P_MOIST, _P_LCL, _CAPE, _STATE, _TP, _H, _HALF, _P_RK, _T_RK, _K1, _K2,
 _K3, _STEPS, _NSCRATCH) = range(17)
RISING, BUOYANT, STOPPED = 0.0, 1.0, 2.0  # parcel states: no CAPE yet, CAPE found, done


@numba.njit(cache=True)
def _start_parcel(i, T, q, p, parcel, p_lcl_out, w, j):
    """Lowest-level parcel of column i into scratch column j of w: its temperature,
    pressure and lifting condensation level (saturated start: condense the excess at p0,
    as Isca does in one linearized step), p_LCL (Pa) also into p_lcl_out[i], its start
    temperature into parcel[j]. Returns False if it cannot convect (dry or one level)."""
    nlev = T.shape[1]
    k0 = nlev - 1
    t0, q0, p0 = T[i, k0], q[i, k0], p[i, k0]
    if not q0 > 0.0 or nlev < 2:
        return False
    qs0, _ = saturation_humidity_and_slope(t0, p0)
    if q0 >= qs0:
        t_lcl = t0 - (LV / CP) * saturation_adjustment(t0, q0, p0, 1.0, 3)
        p_lcl = p0
        parcel[j, k0] = t_lcl
    else:
        t_lcl, p_lcl = lifting_condensation_level(t0, q0, p0, p[i, 0])
        parcel[j, k0] = t0
    w[_T0, j], w[_P0, j], w[_P_LCL, j] = t0, p0, p_lcl
    p_lcl_out[i] = p_lcl
    w[_T_MOIST, j], w[_P_MOIST, j] = t_lcl, p_lcl  # where the pseudo-adiabat has reached
    return True


@numba.njit(cache=True)
def _pseudoadiabats(w, active, n_active, k, p, first):
    """Carry every parcel of the block that is above its LCL at level k along its
    pseudo-adiabat from (T_MOIST, P_MOIST) to p[first + j, k], into w[_TP]. The same RK4
    steps as pseudoadiabat(), taken stage by stage across the parcels so that their
    independent chains of exp and divisions overlap instead of waiting on each other."""
    most = 0
    n_moist = 0
    moist = active[n_active:]  # the second half of active is scratch for this list
    for a in range(n_active):
        j = active[a]
        p_k = p[first + j, k]
        if p_k >= w[_P_LCL, j]:
            continue
        moist[n_moist] = j
        n_moist += 1
        span = np.log(p_k / w[_P_MOIST, j])
        n = max(1, int(np.ceil(abs(span) / MAX_LOG_PRESSURE_STEP)))
        w[_STEPS, j] = n
        w[_H, j] = span / n
        w[_HALF, j] = np.exp(0.5 * w[_H, j])
        w[_P_RK, j] = w[_P_MOIST, j]
        w[_T_RK, j] = w[_T_MOIST, j]
        most = max(most, n)
    for step in range(most):
        for m in range(n_moist):
            j = moist[m]
            if step < w[_STEPS, j]:
                w[_K1, j] = pseudoadiabatic_lapse_rate(w[_T_RK, j], w[_P_RK, j])
        for m in range(n_moist):
            j = moist[m]
            if step < w[_STEPS, j]:
                w[_K2, j] = pseudoadiabatic_lapse_rate(w[_T_RK, j] + 0.5 * w[_H, j] * w[_K1, j],
                                                       w[_P_RK, j] * w[_HALF, j])
        for m in range(n_moist):
            j = moist[m]
            if step < w[_STEPS, j]:
                w[_K3, j] = pseudoadiabatic_lapse_rate(w[_T_RK, j] + 0.5 * w[_H, j] * w[_K2, j],
                                                       w[_P_RK, j] * w[_HALF, j])
        for m in range(n_moist):
            j = moist[m]
            if step < w[_STEPS, j]:
                h, t = w[_H, j], w[_T_RK, j]
                p_end = w[_P_RK, j] * w[_HALF, j] * w[_HALF, j]
                k4 = pseudoadiabatic_lapse_rate(t + h * w[_K3, j], p_end)
                w[_T_RK, j] = t + h * (w[_K1, j] + 2.0 * w[_K2, j] + 2.0 * w[_K3, j] + k4) / 6.0
                w[_P_RK, j] = p_end
    for m in range(n_moist):
        j = moist[m]
        w[_T_MOIST, j] = w[_T_RK, j]
        w[_P_MOIST, j] = p[first + j, k]
        w[_TP, j] = w[_T_RK, j]


@numba.njit(cache=True)
def _lift_parcels(first, last, T, q, p, dp, t_min, parcel, klzb, cape, p_lcl, w, active):
    """Lift the lowest-level parcels of columns first..last-1 (T K, q kg kg-1, p Pa,
    (ncol, nlev)) together, level by level, writing each parcel's temperature into
    parcel (last - first, nlev) from the lowest level up to its LZB (or, without CAPE, up
    to where it gets colder than t_min K, as in Isca: nothing that cold can still become
    buoyant in an Earth-like column, and it saves the ascent to the top); klzb gets the
    LZB index (-1 without CAPE), cape its CAPE (J kg-1) and p_lcl the LCL pressure (Pa).
    dp (last - first, nlev) holds the layer thicknesses (Pa); w (_NSCRATCH, BLOCK) and
    active (2 BLOCK,) are scratch."""
    nlev = T.shape[1]
    n_active = 0
    for j in range(last - first):
        i = first + j
        klzb[i], cape[i], p_lcl[i] = -1, 0.0, 0.0
        if _start_parcel(i, T, q, p, parcel, p_lcl, w, j):
            w[_CAPE, j] = 0.0
            w[_STATE, j] = RISING
            active[n_active] = j
            n_active += 1
    for k in range(nlev - 2, -1, -1):
        if n_active == 0:
            break
        for a in range(n_active):  # dry adiabat below the LCL
            j = active[a]
            p_k = p[first + j, k]
            if p_k >= w[_P_LCL, j]:
                w[_TP, j] = w[_T0, j] * (p_k / w[_P0, j]) ** KAPPA
        _pseudoadiabats(w, active, n_active, k, p, first)
        still = 0
        for a in range(n_active):
            j = active[a]
            i = first + j
            tp = w[_TP, j]
            if tp < t_min and w[_STATE, j] == RISING:
                w[_STATE, j] = STOPPED  # too cold to find CAPE: klzb stays -1
            elif tp > T[i, k]:
                w[_CAPE, j] += RD * (tp - T[i, k]) * dp[j, k] / p[i, k]
                w[_STATE, j] = BUOYANT
                parcel[j, k] = tp
            elif w[_STATE, j] == BUOYANT:
                w[_STATE, j] = STOPPED
                klzb[i], cape[i] = k + 1, w[_CAPE, j]
            else:
                parcel[j, k] = tp
            if w[_STATE, j] != STOPPED:
                active[still] = j
                still += 1
        n_active = still
    for a in range(n_active):  # buoyant up to the model top
        j = active[a]
        if w[_STATE, j] == BUOYANT:
            klzb[first + j], cape[first + j] = 0, w[_CAPE, j]


@numba.njit(cache=True, parallel=True)
def _betts_miller_kernel(T, q, p, p_half, rh_bm, t_min, rate, dt, dT, dq, precip,
                         diagnose, parcel, qref, klzb, kind, cape, p_lcl):
    """Fill dT (K s-1), dq (kg kg-1 s-1) (ncol, nlev) and precip (kg m-2 s-1, (ncol,)),
    plus the diagnostics, from T (K), q (kg kg-1), p (Pa), all (ncol, nlev), and p_half
    (ncol, nlev + 1, Pa). rate = 1/max(tau_bm, dt) (s-1). The profiles parcel and qref
    (ncol, nlev) are filled only if diagnose (else they may be empty): the reference
    profiles live in per-block scratch, which spares the memory traffic of two more
    (ncol, nlev) arrays. Any memory layout: the model passes transposed views."""
    ncol, nlev = T.shape
    nblock = (ncol + BLOCK - 1) // BLOCK
    for b in numba.prange(nblock):
        first, last = b * BLOCK, min(ncol, (b + 1) * BLOCK)
        w = np.empty((_NSCRATCH, BLOCK))
        active = np.empty(2 * BLOCK, dtype=np.int64)
        dp = np.empty((last - first, nlev))
        for k in range(nlev):
            for i in range(first, last):
                dp[i - first, k] = p_half[i, k + 1] - p_half[i, k]
        parcel_block = np.full((last - first, nlev), np.nan)
        qref_block = np.full((last - first, nlev), np.nan)
        _lift_parcels(first, last, T, q, p, dp, t_min, parcel_block, klzb, cape,
                      p_lcl, w, active)
        for i in range(first, last):
            if klzb[i] >= 0:
                _relax_column(i, klzb[i], T, q, p, dp[i - first], parcel_block[i - first],
                              qref_block[i - first], rh_bm, rate, dt, dT, dq, precip, kind)
        if diagnose:
            parcel[first:last] = parcel_block
            qref[first:last] = qref_block


@numba.njit(cache=True)
def _relax_column(i, top, T, q, p, dp, parcel, qref, rh_bm, rate, dt, dT, dq, precip, kind):
    """Relaxation of column i towards the reference profiles over its convecting levels
    top..nlev-1 (see the module docstring); dp, parcel, qref (nlev,) are its layer
    thicknesses (Pa), parcel temperature (K) and reference humidity (kg kg-1, written)."""
    nlev = T.shape[1]
    lv_cp = LV / CP
    for k in range(top, nlev):
        qs, _ = saturation_humidity_and_slope(parcel[k], p[i, k])
        qref[k] = rh_bm * qs
    drying = 0.0  # sum (q - q_ref) dp: P_q tau g
    warming = 0.0  # sum (T_ref - T) dp: P_T tau g Lv / cp
    mass = 0.0  # sum dp over the convecting levels
    for k in range(top, nlev):
        drying += (q[i, k] - qref[k]) * dp[k]
        warming += (parcel[k] - T[i, k]) * dp[k]
        mass += dp[k]
    if not warming > 0.0 or not mass > 0.0:
        for k in range(top, nlev):
            qref[k] = np.nan
        return
    if drying > 0.0:
        kind[i] = DEEP
    else:
        kind[i] = SHALLOW
        # Frierson's "qref" shallow scheme: scale q_ref so that sum dq dp = 0
        total_q = 0.0
        total_qref = 0.0
        for k in range(top, nlev):
            total_q += q[i, k] * dp[k]
            total_qref += qref[k] * dp[k]
        scale = total_q / total_qref if total_qref > 0.0 else 0.0
        for k in range(top, nlev):
            qref[k] *= scale
    for k in range(top, nlev):
        dq[i, k] = -(q[i, k] - qref[k]) * rate
        dT[i, k] = -(T[i, k] - parcel[k]) * rate
    # uniform shift of T_ref: deep conserves enthalpy (cp dT + Lv dq), shallow has no
    # net heating (and no net moistening); the second pass removes round-off
    for _ in range(2):
        imbalance = 0.0
        for k in range(top, nlev):
            if kind[i] == DEEP:
                imbalance += (dT[i, k] + lv_cp * dq[i, k]) * dp[k]
            else:
                imbalance += dT[i, k] * dp[k]
        shift = imbalance / mass
        for k in range(top, nlev):
            dT[i, k] -= shift
    if kind[i] == SHALLOW:
        # remove the round-off of sum dq dp in proportion to each level's humidity
        # after the step, which keeps it non-negative
        excess = 0.0
        after = 0.0
        for k in range(top, nlev):
            excess += dq[i, k] * dp[k]
            after += max(q[i, k] + dq[i, k] * dt, 0.0) * dp[k]
        if after > 0.0:
            for k in range(top, nlev):
                dq[i, k] -= excess * max(q[i, k] + dq[i, k] * dt, 0.0) / after
        precip[i] = 0.0
    else:
        column = 0.0
        for k in range(top, nlev):
            column += dq[i, k] * dp[k]
        precip[i] = -column / GRAVITY if column < 0.0 else 0.0
