"""Conservation enforced per column ("enforce"): three fixes in this order, each recorded in
the units of the residual it removes (climnn.coupler.report).

1. Negative humidity: where q + dt PHQ < 0, PHQ is raised to -q / dt (q + dt PHQ = 0)
   and the level's temperature tendency lowered by Lv / cp times the moisture added, so
   that the level's moist static energy (cp T + Lv q) is unchanged. Recorded: the water
   added, sum_k dPHQ dp / g (kg m-2 s-1).
2. Water: precipitation made consistent with the column's moisture change and evaporation,
   PRECT = LHF / Lv - sum_k PHQ dp / g (i.e. PRECT minus the water residual). Where that is
   negative, PRECT = 0 and the column's moistening is reduced by the excess instead: the
   positive PHQ scaled down (which cannot make q negative), and what scaling to zero
   cannot remove (only when the surface takes up water: dew) taken from each level in
   proportion to the water it holds after the step. The energy fix then balances the
   latent heat this removes.
   Recorded: the water residual removed (kg m-2 s-1).
3. Energy: the residual removed by one temperature tendency uniform in the column (each
   kilogram of air heated alike: mass-weighted), dT = -residual / (cp sum_k dp / g).
   Recorded: the residual removed (W m-2).

Afterwards both budgets close to round-off of their terms.
"""

from __future__ import annotations

import numpy as np

from climnn.coupler.column_budgets import column_integral, energy_residual, water_residual
from gcm.constants import CP, GRAVITY, LV


def remove_negative_humidity(fields: dict, q: np.ndarray, dt: float,
                             dp: np.ndarray) -> np.ndarray:
    """Fix 1 on ``fields`` (PHQ, TPHYSTND changed in place); returns the water added per
    column (ncol,), kg m-2 s-1. q (ncol, nlev) kg kg-1 before the step, dt in s."""
    added = np.maximum(-(q + dt * fields["PHQ"]) / dt, 0.0)
    fields["PHQ"] += added
    fields["TPHYSTND"] -= (LV / CP) * added
    return column_integral(added, dp)


def close_water(fields: dict, q: np.ndarray, dt: float, dp: np.ndarray,
                included: bool) -> tuple[np.ndarray, int]:
    """Fix 2 on ``fields`` (PRECT, PHQ changed in place); returns (the water residual
    removed (ncol,) kg m-2 s-1, the number of columns where PRECT was clipped at 0)."""
    removed = water_residual(fields, dp, included)
    precipitation = fields["PRECT"] - removed
    excess = np.maximum(-precipitation, 0.0)  # moistening the surface cannot supply
    fields["PRECT"] = np.maximum(precipitation, 0.0)
    clipped = excess > 0
    if np.any(clipped):
        fields["PHQ"][clipped] -= reduced_moistening(fields["PHQ"][clipped], q[clipped], dt,
                                                     dp[clipped], excess[clipped])
    return removed, int(clipped.sum())


def reduced_moistening(phq: np.ndarray, q: np.ndarray, dt: float, dp: np.ndarray,
                       excess: np.ndarray) -> np.ndarray:
    """The change of PHQ (ncol, nlev) that removes ``excess`` (ncol,) kg m-2 s-1 of the
    column's moistening: first the positive PHQ scaled down (by at most all of it), then
    what remains in proportion to the water each level holds after the step (q + dt PHQ,
    so that q stays >= 0 unless the surface takes up more than the whole column holds in
    one step; then in proportion to mass)."""
    tiny = np.finfo(np.float64).tiny
    moistening = np.maximum(phq, 0.0)
    supply = column_integral(moistening, dp)
    share = np.minimum(1.0, excess / np.maximum(supply, tiny))
    change = share[:, None] * moistening
    rest = excess - share * supply
    held = np.maximum(q + dt * (phq - change), 0.0)
    held_total = column_integral(held, dp)
    mass = dp.sum(1) / GRAVITY
    dry = held_total <= tiny
    weights = np.where(dry[:, None], 1.0 / mass[:, None],
                       held / np.maximum(held_total, tiny)[:, None])
    return change + rest[:, None] * weights


def close_energy(fields: dict, dp: np.ndarray, included: bool) -> np.ndarray:
    """Fix 3 on ``fields`` (TPHYSTND changed in place); returns the energy residual removed
    per column (ncol,), W m-2."""
    removed = energy_residual(fields, dp, included)
    mass = dp.sum(1) / GRAVITY  # kg m-2
    fields["TPHYSTND"] -= (removed / (CP * mass))[:, None]
    return removed


def enforce(fields: dict, q: np.ndarray, dt: float, dp: np.ndarray,
            included: bool) -> tuple[dict, int]:
    """The three fixes in order on ``fields`` (float64 outputs and the boundary fluxes;
    TPHYSTND, PHQ, PRECT changed in place); returns ({fix name: (ncol,)}, clipped count)."""
    negative = remove_negative_humidity(fields, q, dt, dp)
    water, clipped = close_water(fields, q, dt, dp, included)
    energy = close_energy(fields, dp, included)
    return {"negative_humidity_fix": negative, "water_fix": water,
            "energy_fix": energy}, clipped
