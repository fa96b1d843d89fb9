"""The Straka et al. (1993) density current, the CRM's dry validation case.

Straka, J. M., R. B. Wilhelmson, L. J. Wicker, J. R. Anderson and K. K. Droegemeier, 1993:
Numerical solutions of a non-linear density current: a benchmark solution and
comparisons. Int. J. Numer. Methods Fluids, 17, 1–22. Domain 51.2 km × 6.4 km, neutral
θ0 = 300 K, ν = κ = 75 m2/s, free slip; at t = 0 a cold bubble ΔT = −15 (1 + cos πL)/2 K
for L = √(((x − xc)/4 km)² + ((z − 3 km)/2 km)²) ≤ 1; run 900 s. Published (compressible,
converged): min θ′ ≈ −9.77 K, surface front (the −1 K contour) ≈ 15.5 km from the centre.
Here the domain is periodic with the bubble in its middle, which the fronts never reach, and
the thermodynamic variable is θ as in the paper by default (static energy is the other
choice: see ``thermodynamics`` for why its cold pool ends warmer).
"""

import numpy as np

from gcm.crm import thermodynamics
from gcm.crm.base_state import BaseState
from gcm.crm.grid import CrmGrid
from gcm.crm.model import Crm, CrmState

LENGTH = 51200.0  # m
DEPTH = 6400.0  # m
THETA0 = 300.0  # K
MIXING = 75.0  # ν = κ, m2 s-1
DURATION = 900.0  # s
PUBLISHED_MIN_THETA = -9.77  # K (unverified here; see /work/shared/REFERENCES.md)
PUBLISHED_FRONT = 15.5e3  # m


def straka_model(resolution: float, dt: float | None = None,
                 thermodynamic: str = "theta") -> Crm:
    """The CRM for the case at ``resolution`` m (dx = dz); dt defaults to resolution/100 s."""
    if LENGTH % resolution or DEPTH % resolution:
        raise ValueError(f"straka_model: resolution {resolution} m must divide "
                         f"{LENGTH:.0f} m and {DEPTH:.0f} m")
    grid = CrmGrid(int(LENGTH / resolution), int(DEPTH / resolution), resolution, resolution)
    return Crm(grid, BaseState.constant_theta(grid, THETA0),
               dt=dt if dt else resolution / 100.0, nu=MIXING, kappa=MIXING,
               thermodynamic=thermodynamic)


def initial_state(model: Crm) -> CrmState:
    """One CRM at rest with the cold bubble (ΔT, i.e. θ′ = ΔT/π0) in its middle."""
    g = model.grid
    state = model.rest_state(1)
    x = g.x_centres - g.length / 2
    distance = np.hypot(x[None, :] / 4000.0, (g.z_centres[:, None] - 3000.0) / 2000.0)
    cooling = np.where(distance <= 1.0, -15.0 * (1.0 + np.cos(np.pi * distance)) / 2.0, 0.0)
    theta_prime = cooling / model.base.pi_c[:, None]
    state.scalar("thermo")[0] = thermodynamics.from_theta_prime(model.thermodynamic, theta_prime,
                                                                model.base)
    return state


def theta_perturbation(model: Crm, state: CrmState) -> np.ndarray:
    """θ′, K, (ncrm, nz, nx)."""
    return thermodynamics.theta_prime(model.thermodynamic, state.scalar("thermo"), model.base)


def front_position(model: Crm, theta_prime: np.ndarray) -> float:
    """Distance (m) from the centre of the right-hand front: where θ′ in the lowest layer of
    the first CRM rises through −1 K, linearly interpolated between cell centres."""
    g = model.grid
    surface = theta_prime[0, 0]
    x = g.x_centres - g.length / 2
    cold = np.nonzero((surface <= -1.0) & (x >= 0))[0]
    if len(cold) == 0:
        return 0.0
    i = cold[-1]
    if i + 1 >= g.nx:
        return float(x[i])
    fraction = (-1.0 - surface[i]) / (surface[i + 1] - surface[i])
    return float(x[i] + fraction * g.dx)
