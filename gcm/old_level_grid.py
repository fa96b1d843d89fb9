"""The old time level on the grid, carried from step to step instead of synthesized.

The physics of a leapfrog step sees the old level (time n-1). Its grid fields are
linear in the spectral state, and every step already synthesizes the now level for
the dynamics, so the old level can be rebuilt in grid space instead of costing a
second synthesis of 4 nlev + 1 fields (about a tenth of a T42L25 moist step).

The Robert–Asselin–Williams filter of step n (gcm.time_integration.raw_filter) is, with
d = nu/2 (X_old - 2 X_now + X_raw):  next old = X_now + alpha d,  next now =
fix(X_raw - (1 - alpha) d), where ``fix`` is the global fixers' known change
(gcm.conservation.apply_fixers). Eliminating X_raw gives (the filter solved for its
next old level in terms of its next now level, so it is written here in that inverse
form, with kappa read off raw_filter itself: OldLevelGrid.filter_weight)

    next old = X_now + kappa (X_old - 2 X_now + fix^-1(next now)),
    kappa = alpha nu/2 / (1 - (1 - alpha) nu/2),

so that, on the grid, the next old level is a *partial* sum P = N + kappa (G - 2 N),
known at the end of step n from its old (G) and now (N) grids, plus kappa times the
un-fixed now grid of step n+1. Synthesis is linear, so this equals the synthesized
old level up to round-off (a few ulp; errors do not grow, each step scales the
carried part by kappa ~ 0.05). A step without the filter (the first, forward, step)
has kappa = 0: its old level is its now level, exactly.

Fields are carried in the dynamics' form: U = u cos(phi), V = v cos(phi), T' = T - T_ref,
q, ln ps; the physics gets u, v, T, q, ps. The partial sum is part of the restart, so a
run continued from a restart is bitwise the straight run; without it (an older
restart) the first old level is synthesized, as before this module existed.
The model synthesizes afresh too when its ``old`` or ``now`` state is replaced by
another object between steps; an edit in place of ``model.old``'s arrays is not seen
(assign a new state instead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from gcm.time_integration import raw_filter


@dataclass
class Unfix:
    """The inverse of the fixers' change to the now level: T' - temperature (K),
    q / humidity_factor, ln ps - log_pressure."""

    temperature: float = 0.0
    humidity_factor: float = 1.0
    log_pressure: float = 0.0


class OldLevelGrid:
    """Carries the partial old-level sum P, (4 nlev + 1, nlat, nlon): U, V, T', q, ln ps."""

    def __init__(self, nlev: int, nlat: int, nlon: int):
        self.nlev = nlev
        self.partial = np.zeros((4 * nlev + 1, nlat, nlon))
        self.weight = 1.0  # kappa of the last filter; 1 with P = 0 means "old = now"
        self.unfix = Unfix()

    @staticmethod
    def filter_weight(nu: float, alpha: float) -> float:
        """kappa = alpha nu/2 / (1 - (1 - alpha) nu/2) of the Robert–Asselin–Williams filter,
        read off the filter itself: it is linear, and on a unit old level (1, 0, 0) it
        gives the filtered now level a = alpha nu/2 and new level -b = -(1 - alpha) nu/2;
        kappa = a / (1 - b) (exactly these roundings: the halving is exact)."""
        a, minus_b = raw_filter(1.0, 0.0, 0.0, nu, alpha)
        return a / (1.0 + minus_b)

    def reset_to_now(self) -> None:
        """The next old level is the now level itself (a forward first step)."""
        self.partial[...] = 0.0
        self.weight = 1.0
        self.unfix = Unfix()

    def reset_to(self, U, V, tdev, q, lnps) -> None:
        """The next old level is exactly these grids (synthesized from the spectral old
        level, e.g. after a restart that carries no partial sum)."""
        n = self.nlev
        p = self.partial
        p[:n], p[n:2 * n], p[2 * n:3 * n], p[3 * n:4 * n], p[4 * n] = U, V, tdev, q, lnps
        self.weight = 0.0
        self.unfix = Unfix()

    def advance(self, U, V, tdev, q, lnps, next_weight, inv_cos, t_ref) -> dict:
        """The old level's physics grids from the now level's, and the partial sum for
        the next step.

        U, V, tdev, q: (nlev, nlat, nlon) now-level grids (m s-1, m s-1, K, kg kg-1);
        lnps (nlat, nlon); next_weight: kappa of this step's filter (0 if none);
        inv_cos (nlat,) 1/cos(phi); t_ref (nlev,) K. Returns dict(u, v, T, q, ps) of the
        old level: winds m s-1, T K, q kg kg-1 (nlev, nlat, nlon), ps Pa (nlat, nlon).
        """
        n, (nlat, nlon) = self.nlev, lnps.shape
        out = np.empty((4 * n + 1, nlat, nlon))
        f = self.unfix
        _advance_kernel(self.partial, U, V, tdev, q, lnps, self.weight, f.temperature,
                        1.0 / f.humidity_factor, f.log_pressure, next_weight, inv_cos, t_ref,
                        out)
        self.weight = next_weight
        self.unfix = Unfix()
        return dict(u=out[:n], v=out[n:2 * n], T=out[2 * n:3 * n], q=out[3 * n:4 * n],
                    ps=out[4 * n])

    # ---------------------------------------------------------------- restart
    def arrays(self) -> dict[str, np.ndarray]:
        f = self.unfix
        return {"old_level_grid/partial": self.partial,
                "old_level_grid/parameters": np.array(
                    [self.weight, f.temperature, f.humidity_factor, f.log_pressure])}

    def load(self, arrays: dict[str, np.ndarray]) -> bool:
        """Take the carried sum from restart arrays; False if they hold none."""
        if "old_level_grid/partial" not in arrays:
            return False
        partial = np.asarray(arrays["old_level_grid/partial"], dtype=np.float64)
        if partial.shape != self.partial.shape:
            raise ValueError(f"restart: old_level_grid/partial has shape {partial.shape}, "
                             f"the model needs {self.partial.shape}")
        self.partial[...] = partial
        weight, temperature, factor, log_pressure = (
            float(x) for x in arrays["old_level_grid/parameters"])
        self.weight = weight
        self.unfix = Unfix(temperature, factor, log_pressure)
        return True


@numba.njit(cache=True, parallel=True)
def _advance_kernel(partial, U, V, tdev, q, lnps, weight, unfix_t, inv_q_factor, unfix_lnps,
                    next_weight, inv_cos, t_ref, out):
    """Per field row: G = P + weight unfix(N); out = physics form of G;
    P = N + next_weight (G - 2 N). Rows are U, V, T', q (nlev each) and ln ps."""
    nlev = U.shape[0]
    nlat, nlon = lnps.shape
    for r in numba.prange(4 * nlev + 1):
        group, k = r // nlev, r % nlev
        # the row's source and its un-fix (now * scale - shift), chosen once per row so
        # that the point loop has no branches and vectorizes
        scale, shift, offset = 1.0, 0.0, 0.0
        if group == 0:
            now = U[k]
        elif group == 1:
            now = V[k]
        elif group == 2:
            now, shift, offset = tdev[k], unfix_t, t_ref[k]
        elif group == 3:
            now, scale = q[k], inv_q_factor
        else:
            now, shift = lnps, unfix_lnps
        for j in range(nlat):
            to_true = inv_cos[j] if group <= 1 else 1.0
            for i in range(nlon):
                g = partial[r, j, i] + weight * (now[j, i] * scale - shift)
                partial[r, j, i] = now[j, i] + next_weight * (g - 2.0 * now[j, i])
                out[r, j, i] = g * to_true + offset
        if group == 4:
            for j in range(nlat):
                for i in range(nlon):
                    out[r, j, i] = math.exp(out[r, j, i])
