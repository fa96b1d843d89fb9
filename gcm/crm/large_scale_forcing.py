"""The GCM's large-scale forcing of the CRMs: a ``Crm.processes`` entry.

Superparameterization (Grabowski 2001, J. Atmos. Sci., 58, 978–997; Khairoutdinov &
Randall 2001, Geophys. Res. Lett., 28, 3617–3620): each GCM call the CRM's horizontal mean
is pulled to the GCM column's state by rates that are uniform in x,

    F_x = (x_GCM − ⟨x⟩_CRM) / τ,    x = T_l, q_t + q_r and u, on the CRM's layers,

τ the CRM's time over the call, so that the forcing carries what the GCM's dynamics (and
the schemes the GCM runs itself, e.g. radiation) did to the column since the last call. T_l
and q_t + q_r are the GCM's T and q after all condensate has evaporated at constant
moist static energy (cp T_l + g z + Lv (q_t + q_r) = cp T + g z + Lv q_v), which is what
the GCM, without condensate, holds. The forcing goes into s_l (cp T_l) and q_t; u gets its
rate too (a uniform u stays non-divergent), so the CRM's mean wind follows the GCM's as in
SPCAM; the CRM's momentum is not returned to the GCM.

Water: a negative q_t forcing is applied in proportion to each cell's q_t (the same mean
change, no new negatives), limited to removing it all; what was applied is summed per layer
in ``applied`` (K and kg kg-1, (ncrm, nz)), so that the CRM's own tendency, the change of
its mean less the forcing applied, is exact whatever the limit did.
"""

import numba
import numpy as np

from gcm.crm.saturation_adjustment import MoistProfiles


class LargeScaleForcing:
    """Rates set by ``set`` (each (ncrm, nz), K s-1, kg kg-1 s-1, m s-2), applied every step;
    ``applied`` sums the horizontal-mean changes made, {"temperature", "water"}."""

    def __init__(self, profiles: MoistProfiles):
        self.profiles = profiles
        self.rates: dict[str, np.ndarray] = {}
        self.applied: dict[str, np.ndarray] = {}

    def set(self, temperature: np.ndarray, water: np.ndarray, u: np.ndarray) -> None:
        """New rates, and ``applied`` back to zero."""
        self.rates = {"temperature": temperature, "water": water, "u": u}
        self.applied = {"temperature": np.zeros_like(temperature),
                        "water": np.zeros_like(water)}

    def reset_applied(self) -> None:
        """``applied`` back to zero, the rates kept (a call run again from its start)."""
        self.applied = {name: np.zeros_like(total) for name, total in self.applied.items()}

    def __call__(self, state, dt: float) -> None:
        """Apply the rates over dt (s) to ``state`` (CrmState) in place."""
        r = self.rates
        water = _force(state.scalars, state.u, r["temperature"] / self.profiles.factor[None, :],
                       r["water"], r["u"], dt)
        self.applied["temperature"] += dt * r["temperature"]
        self.applied["water"] += water


@numba.njit(parallel=True, cache=True)
def _force(scalars, u, thermo_rate, water_rate, u_rate, dt):
    """The forcing of the module over dt, in place on scalars (ncrm, 3, nz, nx) and u
    (ncrm, nz, nx), rates (ncrm, nz) (thermo_rate in the energy variable's units per s);
    returns the change of the mean q_t per layer, (ncrm, nz), summed in a fixed order."""
    ncrm, _, nz, nx = scalars.shape
    applied = np.empty((ncrm, nz))
    for c in numba.prange(ncrm):
        for k in range(nz):
            before = 0.0
            for i in range(nx):
                before += scalars[c, 1, k, i]
            before /= nx
            change = dt * water_rate[c, k]
            factor = 1.0
            if change < 0.0 and before > 0.0:
                factor = max(1.0 + change / before, 0.0)
            after = 0.0
            for i in range(nx):
                scalars[c, 0, k, i] += dt * thermo_rate[c, k]
                if change >= 0.0:
                    scalars[c, 1, k, i] += change
                else:
                    scalars[c, 1, k, i] *= factor
                after += scalars[c, 1, k, i]
                u[c, k, i] += dt * u_rate[c, k]
            applied[c, k] = after / nx - before
    return applied
