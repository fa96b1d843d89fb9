"""Held–Suarez forcing of the dry dynamical core.

Held, I. M., and M. J. Suarez, 1994: A proposal for the intercomparison of the
dynamical cores of atmospheric general circulation models. Bull. Amer. Meteor.
Soc., 75, 1825-1830. Names follow the paper: k_f, k_a, k_s, sigma_b,
delta_T_y (their Delta T_y) and delta_theta_z (their Delta theta_z).

Rayleigh friction in the boundary layer,   dv/dt = -k_v v,
    k_v = k_f max(0, (sigma - sigma_b) / (1 - sigma_b));
Newtonian cooling towards T_eq,            dT/dt = -k_T (T - T_eq),
    k_T = k_a + (k_s - k_a) max(0, (sigma - sigma_b)/(1 - sigma_b)) cos^4(phi),
    T_eq = max(200 K, [315 K - dT_y sin^2 phi - dtheta_z ln(p/p0) cos^2 phi] (p/p0)^kappa).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from gcm.constants import KAPPA, P0, SECONDS_PER_DAY
from gcm.physics.column import ColumnScheme, ColumnState, ColumnTendencies


@dataclass
class HeldSuarez(ColumnScheme):
    """Held & Suarez (1994) forcing with the paper's parameters as defaults."""

    k_f: float = 1.0  # boundary-layer Rayleigh friction at the surface, day-1
    k_a: float = 1.0 / 40.0  # free-atmosphere Newtonian cooling, day-1
    k_s: float = 1.0 / 4.0  # surface Newtonian cooling at the equator, day-1
    sigma_b: float = 0.7  # top of the frictional boundary layer
    t_surface: float = 315.0  # equatorial surface T_eq, K
    t_min: float = 200.0  # stratospheric floor of T_eq, K
    delta_t_y: float = 60.0  # equator-to-pole T_eq difference, K
    delta_theta_z: float = 10.0  # static stability parameter, K

    name = "held_suarez"
    # Newtonian relaxation is not an energy-conserving process: no budget to close.
    closes_budgets = False

    def __call__(self, columns: ColumnState, dt: float) -> ColumnTendencies:
        out = ColumnTendencies.zeros(columns.ncol, columns.nlev)
        sigma = columns.pressure / columns.surface_pressure[:, None]
        _held_suarez_kernel(
            columns.temperature, columns.u, columns.v, columns.pressure, sigma,
            columns.latitude, self._rates_per_second(),
            np.array([self.t_surface, self.t_min, self.delta_t_y, self.delta_theta_z, KAPPA, P0]),
            out.temperature, out.u, out.v,
        )
        return out

    def _rates_per_second(self) -> np.ndarray:
        """[k_f, k_a, k_s] in s-1 and sigma_b, packed for the kernel."""
        per_day = np.array([self.k_f, self.k_a, self.k_s]) / SECONDS_PER_DAY
        return np.append(per_day, self.sigma_b)

    def equilibrium_temperature(self, pressure: np.ndarray, latitude: np.ndarray) -> np.ndarray:
        """T_eq (K) at pressure (Pa) and latitude (radians), broadcast together."""
        sin2 = np.sin(latitude) ** 2
        teq = (
            self.t_surface
            - self.delta_t_y * sin2
            - self.delta_theta_z * np.log(pressure / P0) * (1.0 - sin2)
        ) * (pressure / P0) ** KAPPA
        return np.maximum(self.t_min, teq)


@numba.njit(cache=True, parallel=True)
def _held_suarez_kernel(T, u, v, p, sigma, lat, rates, teq_params, dT, du, dv):
    """Fill dT (K s-1), du, dv (m s-2), all (ncol, nlev), from the HS94 formulas."""
    k_f, k_a, k_s, sigma_b = rates[0], rates[1], rates[2], rates[3]
    t_surf, t_min, dty, dthz, kappa, p0 = (
        teq_params[0], teq_params[1], teq_params[2], teq_params[3], teq_params[4], teq_params[5],
    )
    ncol, nlev = T.shape
    for i in numba.prange(ncol):
        sin2 = np.sin(lat[i]) ** 2
        cos2 = 1.0 - sin2
        for k in range(nlev):
            above_b = max(0.0, (sigma[i, k] - sigma_b) / (1.0 - sigma_b))
            k_v = k_f * above_b
            k_t = k_a + (k_s - k_a) * above_b * cos2 * cos2
            log_ratio = np.log(p[i, k] / p0)
            teq = (t_surf - dty * sin2 - dthz * log_ratio * cos2) * np.exp(kappa * log_ratio)
            teq = max(t_min, teq)
            dT[i, k] = -k_t * (T[i, k] - teq)
            du[i, k] = -k_v * u[i, k]
            dv[i, k] = -k_v * v[i, k]
