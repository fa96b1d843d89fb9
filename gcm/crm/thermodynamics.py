"""The CRM's thermodynamic variable: liquid-water static energy or potential temperature.

Both are carried in the scalar slot "thermo" and are linear in θ′ (K) at fixed height:
field = reference(z) + scale(z) θ′, with

- "static_energy": s = cp T + g z (− L_v (q_c + q_r) once there is condensate), J kg-1;
  reference s0 = cp T0 + g z, scale cp π0. SAM's choice (Khairoutdinov & Randall 2003):
  Σ ρ0 s is the energy the GCM coupling must close and phase changes leave it unchanged,
  so it is conserved to round-off by this CRM. Its cost: a parcel moved adiabatically
  changes T by −g dz/cp instead of −(T/T0) g dz/cp, an error of θ′/θ0 in the lapse rate
  (≈ 5 % for the −16 K Straka bubble, which ends ≈ 1.3 K too warm; < 1 % in convection).
- "theta": θ, K; reference θ0, scale 1. Exact dry adiabats whatever θ′ (what Straka et al.
  1993 integrate); with water it is θ_l = θ − Lv (q_c + q_r)/(cp π0), so latent heating
  is implicit as for s_l (see ``saturation_adjustment``), but advection conserves Σ ρ0 θ_l
  rather than Σ ρ0 (cp T + g z), which is then conserved only approximately.

Buoyancy b = g θ′/θ0 (m s-2) in both (anelastic: the base-state pressure).
"""

import numpy as np

from gcm.constants import CP, GRAVITY
from gcm.crm.base_state import BaseState

VARIABLES = ("static_energy", "theta")


def check_variable(variable: str) -> None:
    """Raise a clear error unless ``variable`` is one of VARIABLES."""
    if variable not in VARIABLES:
        raise ValueError(f"CRM thermodynamic variable {variable!r} unknown; choose one of "
                         f"{VARIABLES}")


def reference_and_scale(variable: str, base: BaseState) -> tuple[np.ndarray, np.ndarray]:
    """(reference, scale), each (nz,): field = reference + scale θ′."""
    check_variable(variable)
    if variable == "static_energy":
        return base.s_c, CP * base.pi_c
    return base.theta_c, np.ones_like(base.theta_c)


def theta_prime(variable: str, field: np.ndarray, base: BaseState) -> np.ndarray:
    """θ′ (K) from the thermodynamic field (..., nz, nx)."""
    reference, scale = reference_and_scale(variable, base)
    return (field - reference[:, None]) / scale[:, None]


def from_theta_prime(variable: str, perturbation: np.ndarray, base: BaseState) -> np.ndarray:
    """The thermodynamic field for θ′ = ``perturbation`` (K, (..., nz, nx))."""
    reference, scale = reference_and_scale(variable, base)
    return reference[:, None] + scale[:, None] * perturbation


def buoyancy(variable: str, field: np.ndarray, base: BaseState) -> np.ndarray:
    """b = g θ′/θ0, m s-2, same shape as ``field``. Dry: water terms come with microphysics."""
    return GRAVITY * theta_prime(variable, field, base) / base.theta_c[:, None]
