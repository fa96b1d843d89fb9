"""Column energy and water of the CRM and their budgets with the boundary fluxes.

Per x-column, with Σ = Σ_k ρ0_k dz (kg m-2 per layer),

    water  W = Σ (q_t + q_r),                               kg m-2,
    energy H = Σ (s_l + Lv (q_t + q_r)) = Σ (cp T + g z + Lv q_v),   J m-2,

(s_l = cp T_l + g z; for the "theta" variable T_l = π0 θ_l). Transport moves both between
x-columns only, the saturation adjustment and the microphysics leave H alone, and what
crosses the boundaries is accumulated in the state: precipitation P (kg m-2,
``state.precipitation``), evaporation E (kg m-2), sensible heat SH and the radiative flux
convergence R (J m-2; ``state.accumulated``, from ``surface_fluxes`` and ``radiation``).
Summed over the domain (x-columns exchange by transport),

    Δ Σ_x W = Σ_x (E − P),      Δ Σ_x H = Σ_x (SH + Lv E + R).
"""

import numpy as np

from gcm.constants import CP, GRAVITY, LV
from gcm.crm.grid import CrmGrid
from gcm.crm.saturation_adjustment import MoistProfiles


def column_water(scalars: np.ndarray, grid: CrmGrid, profiles: MoistProfiles) -> np.ndarray:
    """W per CRM and x-column, kg m-2, (ncrm, nx), from scalars (ncrm, 3, nz, nx)."""
    return np.einsum("ckx,k->cx", scalars[:, 1] + scalars[:, 2], profiles.rho * grid.dz)


def column_energy(scalars: np.ndarray, grid: CrmGrid, profiles: MoistProfiles) -> np.ndarray:
    """H per CRM and x-column, J m-2, (ncrm, nx), from scalars (ncrm, 3, nz, nx)."""
    t_l = profiles.offset[:, None] + profiles.factor[:, None] * scalars[:, 0]
    s_l = CP * t_l + GRAVITY * grid.z_centres[:, None]
    return np.einsum("ckx,k->cx", s_l, profiles.rho * grid.dz) + LV * column_water(
        scalars, grid, profiles)


def boundary_totals(state) -> dict[str, np.ndarray]:
    """Domain sums per CRM, (ncrm,), of what has crossed the boundaries since the start:
    "water_in" = E − P (kg m-2), "energy_in" = SH + Lv E + R (J m-2); absent fluxes
    count zero."""
    zero = np.zeros_like(state.precipitation)
    got = {name: state.accumulated.get(name, zero) for name in
           ("evaporation", "sensible", "radiation")}
    water_in = got["evaporation"] - state.precipitation
    energy_in = got["sensible"] + LV * got["evaporation"] + got["radiation"]
    return {"water_in": water_in.sum(axis=-1), "energy_in": energy_in.sum(axis=-1)}


def budget_residuals(initial, state, grid: CrmGrid, profiles: MoistProfiles) -> dict:
    """Relative residuals per CRM, (ncrm,), of the domain budgets between the CrmStates
    ``initial`` and ``state``: (change − inflow) / (a scale: the domain's energy or water)."""
    start, end = boundary_totals(initial), boundary_totals(state)
    out = {}
    for name, amount, unit in (("water", column_water, "water_in"),
                               ("energy", column_energy, "energy_in")):
        before = amount(initial.scalars, grid, profiles).sum(axis=-1)
        after = amount(state.scalars, grid, profiles).sum(axis=-1)
        out[name] = (after - before - (end[unit] - start[unit])) / np.abs(before)
    return out
