"""Saturation of water vapour over a liquid surface, as in Frierson et al. (2006):
Clausius-Clapeyron with a constant latent heat,

    e_s(T) = e0 exp(-(Lv / Rv) (1/T - 1/T0)),   q_s = eps e_s / (p - (1 - eps) e_s),

with e0 = 610.78 Pa at T0 = 273.16 K and eps = Rd/Rv. One formula serves the surface
fluxes, convection and condensation, so that they agree on what saturated means.
"""

from __future__ import annotations

import numba
import numpy as np

from gcm.constants import LV, RD, RV
from gcm.physics.vector_math import vexp

E0 = 610.78  # saturation vapour pressure at T0, Pa
T0 = 273.16  # K
EPSILON = RD / RV  # ratio of gas constants, dry air / water vapour


@numba.njit(cache=True)
def saturation_vapour_pressure(T):
    """e_s (Pa) at temperature T (K); arrays or scalars."""
    return E0 * np.exp(-(LV / RV) * (1.0 / T - 1.0 / T0))


@numba.njit(cache=True, inline="always", error_model="numpy")
def saturation_vapour_pressure_vectorizable(T):
    """saturation_vapour_pressure of a scalar T (K), in Pa, with the exp of
    gcm.physics.vector_math, so that a kernel's loop over it vectorizes; within 1 ulp of
    the exp of saturation_vapour_pressure (the same formula, not the same bits)."""
    return E0 * vexp(-(LV / RV) * (1.0 / T - 1.0 / T0))


@numba.njit(cache=True)
def saturation_specific_humidity(T, p):
    """q_s (kg kg-1) at temperature T (K) and pressure p (Pa)."""
    es = saturation_vapour_pressure(T)
    return EPSILON * es / (p - (1.0 - EPSILON) * es)


@numba.njit(cache=True)
def saturation_specific_humidity_derivative(T, p):
    """d q_s / dT (kg kg-1 K-1) at T (K), p (Pa): q_s Lv / (Rv T^2) p / (p - (1-eps) e_s)."""
    es = saturation_vapour_pressure(T)
    qs = EPSILON * es / (p - (1.0 - EPSILON) * es)
    return qs * (LV / (RV * T * T)) * p / (p - (1.0 - EPSILON) * es)
