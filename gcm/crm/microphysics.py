"""Kessler (1969) warm-rain microphysics as in Klemp & Wilhelmson (1978, KW78; rates as in
Soong & Ogura 1973), applied once a step after the dynamics (``Crm.processes``).

Per cell, with T and q_c from the saturation adjustment (``saturation_adjustment``):

- autoconversion A = k1 max(q_c − a, 0) and accretion C = k2 q_c q_r^0.875 (KW78 2.13),
  implicit in q_c: q_c′ = (q_c − dt A)/(1 + dt k2 q_r^0.875), so 0 ≤ q_c′ ≤ q_c; the
  difference moves from q_t to q_r;
- evaporation of rain in unsaturated air (q_c = 0), KW78 2.14 with ρ in g cm-3 and p in hPa,

      E = [1.6 + 124.9 (ρ q_r)^0.2046] (ρ q_r)^0.525 / [5.4e5 + 2.55e6/(p q_s)]
          × (1 − q_v/q_s) / ρ,

  limited to the rain there is and to the linearized deficit (q_s − q_v)/(1 + Lv/cp ∂q_s/∂T)
  that would saturate the cell; it moves from q_r to q_t;
- sedimentation with the terminal speed V = 36.34 (ρ q_r)^0.1364 √(ρ_1/ρ) m s-1 (KW78 2.15,
  ρ in g cm-3, ρ_1 the lowest level's): first-order upwind (from above) flux form, the
  step split into n sub-steps with Courant number V dt/(n dz) ≤ ``COURANT``, each cell's
  outflow capped at its content, so q_r stays ≥ 0 whatever V does within the step. What
  leaves the lowest layer is the surface precipitation, the only water that leaves the CRM.

The batch kernel (``kessler``) computes the same as the plain per-CRM ``convert_column``
and ``sediment_column`` to round-off: the adjustment a row at a time with the vectorizable
exp (``saturation_adjustment.row_adjust``), the evaporating cells' q_s from its e_s, each
cell's fall speed once a sub-step and x-columns without rain skipped.

Conservation (exact to round-off, the tests check it): the conversions change q_t and q_r by
opposite amounts and leave the energy variable alone (its value s_l already counts both
waters at their latent-heat deficit, so the temperature change of condensation, evaporation
and rain formation is implicit in the diagnosed T). Sedimentation moves q_r between layers
at constant T, i.e. the energy variable of a layer gains Lv/cp in T_l per kg kg-1 of rain
that leaves it and loses as much per rain that arrives. Hence, with P the surface
precipitation (kg m-2) over a step and Σ = Σ_cells ρ0 dz per x-column:

    Δ Σ (q_t + q_r) = −P,    Δ Σ s_l = +Lv P,    Δ Σ (s_l + Lv (q_t + q_r)) = 0,

the last being the moist static energy cp T + g z + Lv q_v (the rain's sensible heat is
neglected, as in SAM). For the "theta" variable s_l means cp π0 θ_l + g z, the same number.
"""

from dataclasses import dataclass

import numba
import numpy as np

from gcm.constants import CP, LV, RV
from gcm.crm.base_state import BaseState
from gcm.crm.grid import CrmGrid
from gcm.crm.saturation_adjustment import (
    TOLERANCE,
    MoistProfiles,
    adjust,
    row_adjust,
    saturation_and_slope,
)
from gcm.physics.saturation import EPSILON

COURANT = 0.5  # sedimentation sub-step Courant number (the outflow cap makes any value safe)
AUTOCONVERSION_RATE = 1e-3  # k1, s-1
AUTOCONVERSION_THRESHOLD = 1e-3  # a, kg kg-1
ACCRETION_RATE = 2.2  # k2, s-1


@numba.njit(cache=True)
def _evaporation(qr, qv, qs, slope, rho_cgs, p, dt):
    """Rain evaporated in one step (kg kg-1), KW78 2.14, limited as the module says."""
    if qr <= 0.0 or qv >= qs:
        return 0.0
    rain = rho_cgs * qr
    ventilation = (1.6 + 124.9 * rain**0.2046) * rain**0.525
    rate = ventilation / (5.4e5 + 2.55e8 / (p * qs)) * (1.0 - qv / qs) / rho_cgs
    return min(dt * rate, (qs - qv) / (1.0 + LV / CP * slope), qr)


@numba.njit(cache=True)
def convert_column(field, qt, qr, offset, factor, pressure, rho, dt):
    """Autoconversion, accretion and rain evaporation of one CRM over dt (s), in place on
    qt, qr (nz, nx), kg kg-1; ``field`` (the energy variable) is unchanged by them."""
    nz, nx = field.shape
    for k in range(nz):
        rho_cgs = 1e-3 * rho[k]
        for i in range(nx):
            temperature, qc = adjust(offset[k] + factor[k] * field[k, i], qt[k, i], qr[k, i],
                                     pressure[k])
            if qc > 0.0:
                automatic = AUTOCONVERSION_RATE * max(qc - AUTOCONVERSION_THRESHOLD, 0.0)
                # max: advection may leave round-off negatives (−1e-20) of rain
                remaining = (qc - dt * automatic) / (1.0 + dt * ACCRETION_RATE
                                                     * max(qr[k, i], 0.0) ** 0.875)
                change = qc - max(remaining, 0.0)
            elif qr[k, i] > 0.0:  # (no rain, nothing evaporates: skip q_s's exp)
                qs, slope = saturation_and_slope(temperature, pressure[k])
                change = -_evaporation(qr[k, i], qt[k, i], qs, slope, rho_cgs, pressure[k],
                                       dt)
            else:
                change = 0.0
            qt[k, i] -= change
            qr[k, i] += change


@numba.njit(cache=True)
def terminal_velocity(qr, rho, rho_surface):
    """Rain's fall speed, m s-1 (≥ 0), KW78 2.15: qr kg kg-1, densities kg m-3."""
    if qr <= 0.0:
        return 0.0
    return 36.34 * (1e-3 * rho * qr) ** 0.1364 * np.sqrt(rho_surface / rho)


@numba.njit(cache=True)
def sediment_column(field, qr, precipitation, factor, rho, dz, dt):
    """Rain fall of one CRM over dt (s), in place: qr (nz, nx) kg kg-1, the energy field
    (its T_l changes at constant T), precipitation (nx,) += kg m-2 reaching the ground."""
    nz, nx = qr.shape
    outflow = np.empty(nz)
    for i in range(nx):
        fastest = 0.0
        for k in range(nz):
            fastest = max(fastest, terminal_velocity(qr[k, i], rho[k], rho[0]))
        substeps = max(1, int(np.ceil(fastest * dt / (COURANT * dz))))
        sub = dt / substeps
        for _ in range(substeps):
            for k in range(nz):  # mass leaving layer k downwards, kg m-2
                fraction = min(terminal_velocity(qr[k, i], rho[k], rho[0]) * sub / dz, 1.0)
                outflow[k] = rho[k] * dz * qr[k, i] * fraction
            for k in range(nz):
                gained = outflow[k + 1] if k < nz - 1 else 0.0
                net = (gained - outflow[k]) / (rho[k] * dz)  # Δq_r, kg kg-1
                qr[k, i] += net
                field[k, i] -= LV / CP * net / factor[k]
            precipitation[i] += outflow[0]


@numba.njit(cache=True, error_model="numpy")
def _convert_rows(field, qt, qr, offset, factor, pressure, rho, dt, temperature, qc, es,
                  guess):
    """``convert_column`` of one CRM to round-off, a row at a time (``row_adjust``);
    temperature, qc, es, guess (nx,) scratch (guess zeros)."""
    nz, nx = field.shape
    for k in range(nz):
        row_adjust(field[k], qt[k], qr[k], k, offset, factor, pressure, guess, TOLERANCE,
                   temperature, qc, es)
        rho_cgs, p = 1e-3 * rho[k], pressure[k]
        for i in range(nx):
            if qc[i] > 0.0:
                automatic = AUTOCONVERSION_RATE * max(qc[i] - AUTOCONVERSION_THRESHOLD, 0.0)
                rain = max(qr[k, i], 0.0)
                accretion = ACCRETION_RATE * rain**0.875 if rain > 0.0 else 0.0
                remaining = (qc[i] - dt * automatic) / (1.0 + dt * accretion)
                change = qc[i] - max(remaining, 0.0)
            elif qr[k, i] > 0.0:  # unsaturated: T is the unsaturated T, es its e_s
                t, denominator = temperature[i], p - (1.0 - EPSILON) * es[i]
                qs = EPSILON * es[i] / denominator
                slope = qs * (LV / (RV * t * t)) * p / denominator
                change = -_evaporation(qr[k, i], qt[k, i], qs, slope, rho_cgs, p, dt)
            else:
                continue
            qt[k, i] -= change
            qr[k, i] += change


@numba.njit(cache=True, error_model="numpy")
def _fall_speeds(qr, i, fall_factor, velocity):
    """Fall speeds (m s-1) of x-column i into velocity (nz,), KW78 2.15 with the per-level
    part fall_factor = 36.34 (1e-3 ρ)^0.1364 √(ρ_1/ρ) taken out; returns the fastest."""
    fastest = 0.0
    for k in range(qr.shape[0]):
        v = fall_factor[k] * qr[k, i] ** 0.1364 if qr[k, i] > 0.0 else 0.0
        velocity[k] = v
        fastest = max(fastest, v)
    return fastest


@numba.njit(cache=True, error_model="numpy")
def _sediment_fast(field, qr, precipitation, factor, rho, fall_factor, dz, dt, velocity,
                   outflow):
    """``sediment_column`` of one CRM to round-off; velocity, outflow (nz,) scratch."""
    nz, nx = qr.shape
    heat = LV / CP
    for i in range(nx):
        fastest = _fall_speeds(qr, i, fall_factor, velocity)
        if fastest == 0.0:  # no rain in this x-column: nothing moves
            continue
        substeps = max(1, int(np.ceil(fastest * dt / (COURANT * dz))))
        sub = dt / substeps
        for s in range(substeps):
            if s > 0:
                _fall_speeds(qr, i, fall_factor, velocity)
            for k in range(nz):
                fraction = min(velocity[k] * sub / dz, 1.0)
                outflow[k] = rho[k] * dz * qr[k, i] * fraction
            for k in range(nz):
                gained = outflow[k + 1] if k < nz - 1 else 0.0
                net = (gained - outflow[k]) / (rho[k] * dz)
                qr[k, i] += net
                field[k, i] -= heat * net / factor[k]
            precipitation[i] += outflow[0]


@numba.njit(parallel=True, cache=True)
def kessler(scalars, precipitation, offset, factor, pressure, rho, dz, dt):
    """``convert_column`` then ``sediment_column`` for a batch, in place, to round-off (see
    the module): scalars (ncrm, 3, nz, nx) as in ``model.SCALARS``, precipitation (ncrm, nx)
    kg m-2."""
    ncrm, _, nz, nx = scalars.shape
    fall_factor = 36.34 * (1e-3 * rho) ** 0.1364 * np.sqrt(rho[0] / rho)
    for c in numba.prange(ncrm):
        temperature, qc, es, guess = np.empty(nx), np.empty(nx), np.empty(nx), np.zeros(nx)
        velocity, outflow = np.empty(nz), np.empty(nz)
        _convert_rows(scalars[c, 0], scalars[c, 1], scalars[c, 2], offset, factor, pressure,
                      rho, dt, temperature, qc, es, guess)
        _sediment_fast(scalars[c, 0], scalars[c, 2], precipitation[c], factor, rho,
                       fall_factor, dz, dt, velocity, outflow)


@dataclass
class Kessler:
    """The warm-rain process for ``Crm.processes``: ``Kessler(grid, base, variable)``."""

    grid: CrmGrid
    base: BaseState
    variable: str = "static_energy"

    def __post_init__(self):
        self.profiles = MoistProfiles.build(self.variable, self.base)

    def __call__(self, state, dt: float) -> None:
        """Apply the microphysics over dt (s) to ``state`` in place (CrmState)."""
        p = self.profiles
        kessler(state.scalars, state.precipitation, p.offset, p.factor, p.pressure, p.rho,
                self.grid.dz, dt)
