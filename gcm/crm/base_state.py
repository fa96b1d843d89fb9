"""The anelastic base state: hydrostatic Exner function π0(z), potential temperature θ0(z),
temperature T0 = θ0 π0, density ρ0(z) and dry static energy s0 = cp T0 + g z.

Hydrostatic balance in Exner form, dπ0/dz = −g / (cp θ0(z)), π0(0) = 1 (surface pressure
p0 = 1000 hPa), integrated by composite Simpson on a fine sub-grid; ρ0 = p0 π0^(cv/Rd) /
(Rd θ0). Constructors for a given sounding θ0(z) and for the constant-θ, constant-N and
isothermal cases.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gcm.constants import CP, GRAVITY, P0, RD
from gcm.crm.grid import CrmGrid

SUBSTEPS = 64  # Simpson sub-intervals per layer half for the hydrostatic integral


@dataclass(frozen=True)
class BaseState:
    """Profiles at centres (shape (nz,)) and faces (shape (nz + 1,)).

    rho_c, rho_f: density, kg m-3; theta_c: potential temperature, K; pi_c: Exner function;
    t_c: temperature, K; s_c: dry static energy cp T0 + g z, J kg-1.
    """

    rho_c: np.ndarray
    rho_f: np.ndarray
    theta_c: np.ndarray
    pi_c: np.ndarray
    t_c: np.ndarray
    s_c: np.ndarray

    @classmethod
    def from_theta(cls, grid: CrmGrid, theta: Callable[[np.ndarray], np.ndarray]) -> "BaseState":
        """Hydrostatic base state for the sounding ``theta(z)`` (K, z in m)."""
        pi_c = _exner(theta, grid.z_centres)
        pi_f = _exner(theta, grid.z_faces)
        theta_c = np.asarray(theta(grid.z_centres), float)
        theta_f = np.asarray(theta(grid.z_faces), float)
        if np.any(pi_f <= 0) or np.any(theta_f <= 0):
            raise ValueError("BaseState: sounding gives non-positive θ0 or π0 inside the domain "
                             f"(top {grid.z_faces[-1]:.0f} m): lower the lid or warm the sounding")
        cv_over_rd = CP / RD - 1.0
        rho_c = P0 * pi_c**cv_over_rd / (RD * theta_c)
        rho_f = P0 * pi_f**cv_over_rd / (RD * theta_f)
        t_c = theta_c * pi_c
        return cls(rho_c, rho_f, theta_c, pi_c, t_c, CP * t_c + GRAVITY * grid.z_centres)

    @classmethod
    def constant_theta(cls, grid: CrmGrid, theta0: float = 300.0) -> "BaseState":
        """Neutral base state of uniform θ0 (K)."""
        return cls.from_theta(grid, lambda z: np.full_like(np.asarray(z, float), theta0))

    @classmethod
    def constant_n(cls, grid: CrmGrid, theta_surface: float = 300.0,
                   buoyancy_frequency: float = 0.01) -> "BaseState":
        """θ0 = θs exp(N² z / g): constant Brunt–Väisälä frequency N (s-1)."""
        n2 = buoyancy_frequency**2
        return cls.from_theta(grid, lambda z: theta_surface * np.exp(n2 * np.asarray(z) / GRAVITY))

    @classmethod
    def isothermal(cls, grid: CrmGrid, temperature: float = 250.0) -> "BaseState":
        """Isothermal base state, T0 (K): θ0 = T0 exp(g z / (cp T0))."""
        return cls.from_theta(
            grid, lambda z: temperature * np.exp(GRAVITY * np.asarray(z) / (CP * temperature)))


def _exner(theta: Callable[[np.ndarray], np.ndarray], heights: np.ndarray) -> np.ndarray:
    """π0 at ``heights`` (m): 1 − (g/cp) ∫0^z dz'/θ0(z'), composite Simpson."""
    out = np.empty(len(heights))
    for j, z in enumerate(heights):
        zz = np.linspace(0.0, z, 2 * SUBSTEPS + 1)
        f = 1.0 / np.asarray(theta(zz), float)
        h = z / (2 * SUBSTEPS)
        integral = h / 3.0 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum())
        out[j] = 1.0 - GRAVITY / CP * integral
    return out
