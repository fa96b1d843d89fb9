"""Cloud water and temperature diagnosed from the CRM's prognostic water and energy variables,
and the moist buoyancy they give.

Formulation (SAM, Khairoutdinov & Randall 2003): the prognostic variables are the liquid-water
static energy s_l = cp T + g z − Lv (q_c + q_r) (or its θ counterpart, see below), the total
non-precipitating water q_t = q_v + q_c and rain q_r (all specific, kg kg-1). Cloud water is
not carried: each time it is needed it follows from saturation equilibrium at the base-state
pressure p0(z),

    q_c = max(0, q_t − q_s(T, p0)),    T = T_l + (Lv/cp)(q_c + q_r),

where the liquid-water temperature T_l = (s_l − g z)/cp is fixed by the prognostic variables
(for the "theta" variable, θ_l = θ − Lv (q_c + q_r)/(cp π0) and T_l = π0 θ_l). Unsaturated
cells (q_t ≤ q_s(T_l + Lv q_r / cp)) have q_c = 0. In a saturated cell T solves
g(T) = T − T_l − (Lv/cp)(q_t + q_r − q_s(T)) = 0; g is increasing and convex, so Newton's
method from the unsaturated temperature overshoots once and then converges monotonically
from above; it is iterated until the step is below ``TOLERANCE`` K. q_s is the GCM's
(``gcm.physics.saturation``), so CRM and GCM agree on what saturated means. Constant Lv, cp
of dry air, no heat capacity of water: SAM's simplifications.

Latent heating is thereby implicit: phase changes leave s_l (and q_t + q_r) unchanged and
show up only in the diagnosed T. Buoyancy (SAM's): the density-temperature anomaly, with
T_ρ = T (1 + (Rv/Rd − 1) q_v − q_c − q_r) (exact for specific humidities), linearized,

    b = g [(T − T0)/T0 + (Rv/Rd − 1) q_v − q_c − q_r]  −  its horizontal mean,

with T0 the base-state temperature. The horizontal mean is removed because the anelastic
projection removes it anyway (a horizontally uniform b is balanced by the mean pressure);
subtracting it first keeps w* small. Dry (q = 0) this is g θ′/θ0, the dry core's buoyancy.
"""

from dataclasses import dataclass

import numba
import numpy as np

from gcm.constants import CP, GRAVITY, LV, P0, RD, RV
from gcm.crm import thermodynamics
from gcm.crm.base_state import BaseState
from gcm.physics.saturation import (
    EPSILON,
    saturation_specific_humidity,
    saturation_vapour_pressure,
    saturation_vapour_pressure_vectorizable,
)

TOLERANCE = 1e-10  # K: the last Newton step of the adjustment
MAX_ITERATIONS = 40
VIRTUAL = RV / RD - 1.0  # ≈ 0.608: the virtual-temperature coefficient of vapour


@dataclass(frozen=True)
class MoistProfiles:
    """Per-level (nz,) coefficients: T_l = offset + factor × field (K); t0: base temperature,
    K; pressure: base pressure p0 = P0 π0^(cp/Rd), Pa; rho: base density, kg m-3."""

    offset: np.ndarray
    factor: np.ndarray
    t0: np.ndarray
    pressure: np.ndarray
    rho: np.ndarray

    @classmethod
    def build(cls, variable: str, base: BaseState) -> "MoistProfiles":
        """Coefficients for the thermodynamic ``variable`` ("static_energy" or "theta")."""
        reference, scale = thermodynamics.reference_and_scale(variable, base)
        factor = base.pi_c / scale
        return cls(base.t_c - factor * reference, factor, base.t_c.copy(),
                   P0 * base.pi_c ** (CP / RD), base.rho_c.copy())

    def field_from_liquid_temperature(self, t_l: np.ndarray) -> np.ndarray:
        """The thermodynamic field (..., nz, nx) for liquid-water temperature T_l (K)."""
        return (t_l - self.offset[:, None]) / self.factor[:, None]


@numba.njit(cache=True, inline="always")
def saturation_and_slope(temperature, p):
    """(q_s, dq_s/dT) of ``gcm.physics.saturation``, the same bits, from one exp."""
    es = saturation_vapour_pressure(temperature)
    qs = EPSILON * es / (p - (1.0 - EPSILON) * es)
    return qs, qs * (LV / (RV * temperature * temperature)) * p / (p - (1.0 - EPSILON) * es)


@numba.njit(cache=True)
def adjust(t_l, qt, qr, p):
    """(T, q_c): temperature (K) and cloud water (kg kg-1) in equilibrium for liquid-water
    temperature t_l (K), total water qt, rain qr (kg kg-1) and pressure p (Pa)."""
    temperature = t_l + LV / CP * qr
    if qt <= saturation_specific_humidity(temperature, p):
        return temperature, 0.0
    for _ in range(MAX_ITERATIONS):
        qs, dqs_dt = saturation_and_slope(temperature, p)
        residual = temperature - t_l - LV / CP * (qt + qr - qs)
        slope = 1.0 + LV / CP * dqs_dt
        step = residual / slope
        temperature -= step
        if abs(step) < TOLERANCE:
            break
    qc = max(qt - saturation_specific_humidity(temperature, p), 0.0)
    return t_l + LV / CP * (qc + qr), qc


@numba.njit(cache=True)
def cloud_column(field, qt, qr, offset, factor, pressure):
    """(T, q_c), each (nz, nx), of one CRM from its field, qt, qr (nz, nx)."""
    nz, nx = field.shape
    temperature = np.empty((nz, nx))
    qc = np.empty((nz, nx))
    for k in range(nz):
        for i in range(nx):
            temperature[k, i], qc[k, i] = adjust(offset[k] + factor[k] * field[k, i],
                                                 qt[k, i], qr[k, i], pressure[k])
    return temperature, qc


@numba.njit(cache=True)
def buoyancy_column(field, qt, qr, offset, factor, pressure, t0):
    """Moist buoyancy (m s-2, (nz, nx)) of one CRM, horizontal mean removed per level."""
    nz, nx = field.shape
    temperature, qc = cloud_column(field, qt, qr, offset, factor, pressure)
    b = np.empty((nz, nx))
    for k in range(nz):
        mean = 0.0
        for i in range(nx):
            qv = qt[k, i] - qc[k, i]
            b[k, i] = GRAVITY * ((temperature[k, i] - t0[k]) / t0[k] + VIRTUAL * qv
                                 - qc[k, i] - qr[k, i])
            mean += b[k, i]
        mean /= nx
        for i in range(nx):
            b[k, i] -= mean
    return b


@numba.njit(cache=True, inline="always")
def density_buoyancy(temperature, qc, qt, qr, t0):
    """g [(T − T0)/T0 + 0.608 q_v − q_c − q_r], m s-2 (before the mean is removed)."""
    return GRAVITY * ((temperature - t0) / t0 + VIRTUAL * (qt - qc) - qc - qr)


@numba.njit(cache=True, error_model="numpy")
def row_adjust(field, qt, qr, k, offset, factor, pressure, guess, tolerance, temperature, qc,
               es_unsaturated):
    """``adjust`` for a row at level k (field, qt, qr each (nx,)) into temperature (K) and
    qc (kg kg-1), to round-off: Newton from max(guess, the unsaturated T) in all saturated
    cells at once until every step is below ``tolerance`` (K), with the vectorizable exp
    (within 1 ulp of exp), so that the loops vectorize. es_unsaturated (nx,) receives e_s
    (Pa) at the unsaturated T = T_l + Lv q_r / cp, which is every q_c = 0 cell's T. Returns
    the number of saturated cells."""
    nx = field.shape[0]
    p, lv_cp = pressure[k], LV / CP
    wet_cells = 0
    for i in range(nx):
        t_l = offset[k] + factor[k] * field[i]
        warm = t_l + lv_cp * qr[i]
        es = saturation_vapour_pressure_vectorizable(warm)
        es_unsaturated[i] = es
        wet = qt[i] > EPSILON * es / (p - (1.0 - EPSILON) * es)
        qc[i] = 1.0 if wet else 0.0  # the saturated flag until the last loop
        wet_cells += 1 if wet else 0
        temperature[i] = max(guess[i], warm) if wet else warm
    for _ in range(MAX_ITERATIONS if wet_cells else 0):
        moving = 0
        for i in range(nx):
            t = temperature[i]
            es = saturation_vapour_pressure_vectorizable(t)
            denominator = p - (1.0 - EPSILON) * es
            qs = EPSILON * es / denominator
            slope = qs * (LV / (RV * t * t)) * p / denominator
            t_l = offset[k] + factor[k] * field[i]
            step = qc[i] * (t - t_l - lv_cp * (qt[i] + qr[i] - qs)) / (1.0 + lv_cp * slope)
            temperature[i] = t - step
            moving += 1 if abs(step) >= tolerance else 0
        if moving == 0:
            break
    for i in range(nx):
        t_l = offset[k] + factor[k] * field[i]
        cloud = qc[i] * max(CP / LV * (temperature[i] - t_l) - qr[i], 0.0)
        temperature[i] = t_l + lv_cp * (cloud + qr[i])
        qc[i] = cloud
    return wet_cells


@numba.njit(cache=True, error_model="numpy")
def row_buoyancy(field, qt, qr, k, offset, factor, pressure, t0, guess, tolerance,
                 temperature, out):
    """Buoyancy (m s-2) at level k of a row of parcels (field, qt, qr each (nx,)) into out,
    their T into temperature (``row_adjust``)."""
    nx = field.shape[0]
    qc = np.empty(nx)
    es = np.empty(nx)
    row_adjust(field, qt, qr, k, offset, factor, pressure, guess, tolerance, temperature, qc,
               es)
    for i in range(nx):
        out[i] = density_buoyancy(temperature[i], qc[i], qt[i], qr[i], t0[k])


@numba.njit(parallel=True, cache=True)
def moist_buoyancy(scalars, offset, factor, pressure, t0):
    """``buoyancy_column`` over a batch, to round-off (``row_adjust``, a row at a time):
    scalars (ncrm, 3, nz, nx) as in ``model.SCALARS``."""
    ncrm, _, nz, nx = scalars.shape
    out = np.empty((ncrm, nz, nx))
    for c in numba.prange(ncrm):
        guess = np.zeros(nx)
        temperature, qc, es = np.empty(nx), np.empty(nx), np.empty(nx)
        for k in range(nz):
            row = out[c, k]
            qt, qr = scalars[c, 1, k], scalars[c, 2, k]
            row_adjust(scalars[c, 0, k], qt, qr, k, offset, factor, pressure, guess, TOLERANCE,
                       temperature, qc, es)
            for i in range(nx):
                row[i] = density_buoyancy(temperature[i], qc[i], qt[i], qr[i], t0[k])
            mean = 0.0
            for i in range(nx):
                mean += row[i]
            mean /= nx
            for i in range(nx):
                row[i] -= mean
    return out


@numba.njit(parallel=True, cache=True)
def cloud_batch(scalars, offset, factor, pressure, levels):
    """``cloud_column`` of the lowest ``levels`` layers of every CRM, the same bits:
    (T K, q_c kg kg-1), each (ncrm, levels, nx), from scalars (ncrm, 3, nz, nx)."""
    ncrm, _, _, nx = scalars.shape
    temperature = np.empty((ncrm, levels, nx))
    qc = np.empty((ncrm, levels, nx))
    for c in numba.prange(ncrm):
        for k in range(levels):
            for i in range(nx):
                temperature[c, k, i], qc[c, k, i] = adjust(
                    offset[k] + factor[k] * scalars[c, 0, k, i], scalars[c, 1, k, i],
                    scalars[c, 2, k, i], pressure[k])
    return temperature, qc


def temperature_and_cloud(scalars: np.ndarray, profiles: MoistProfiles, levels: int | None = None):
    """(T K, q_c kg kg-1), each (ncrm, levels, nx), of the lowest ``levels`` layers (all if
    None) from scalars (ncrm, 3, nz, nx)."""
    top = scalars.shape[2] if levels is None else levels
    return cloud_batch(scalars, profiles.offset, profiles.factor, profiles.pressure, top)
