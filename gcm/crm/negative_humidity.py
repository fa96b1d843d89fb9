"""The SP scheme's humidity tendency kept from drying a GCM level below zero.

The CRM returns the change of its mean total water (vapour, cloud and rain, counted as
vapour) mapped conservatively onto the GCM's levels. Where the CRM's water differs from the
GCM level's vapour (condensate the GCM does not carry; one CRM layer spread over several
GCM levels of different humidity), that drying can exceed what the level holds: from the
SP aquaplanet's day-20 state, q + dt dq < 0 at some level of the lowest seven in 0.3-2 %
of the columns each step (T21, 8 x 4 km CRMs). Left to the dynamical core's hole filling,
those columns end the step with no vapour at all in their boundary layer, and the
dataset's targets hold the impossible drying, which a network then learns as "a dry
boundary layer dries on" (README, "A network trained on SP data").

:func:`keep_humidity_positive` raises the tendency to -q / dt where the level would go
negative, keeping the level's moist static energy (cp T + Lv q) as climnn's coupler does
(its fix 1), and takes the water it adds from the column's precipitation; where that is
too small, from the other levels in proportion to the vapour they hold after the step,
with its latent heat (the vapour moved, not made). The column budgets of the tendencies
close as before, to round-off, unless a column's whole vapour cannot pay what was added
(then the rest of the deficit stays, as the water budget's residual).
"""

from __future__ import annotations

import numpy as np

from gcm.constants import CP, GRAVITY, LV
from gcm.physics.column import ColumnTendencies


def keep_humidity_positive(q: np.ndarray, out: ColumnTendencies, dt: float,
                           dp: np.ndarray) -> np.ndarray:
    """Limit ``out`` (humidity, temperature and precipitation changed in place) so that
    q + dt out.humidity >= 0 at every level; returns the water added per column (ncol,),
    kg m-2 s-1.

    q : (ncol, nlev) kg kg-1, the columns' vapour before the step
    dt : s, the interval the tendencies are applied over
    dp : (ncol, nlev) Pa, the layer thicknesses
    """
    added = np.maximum(-(q + dt * out.humidity) / dt, 0.0)
    water = (added * dp).sum(axis=1) / GRAVITY
    if not np.any(water > 0):
        return water
    out.humidity += added
    out.temperature -= (LV / CP) * added
    taken = np.minimum(water, np.maximum(out.precipitation, 0.0))
    out.precipitation -= taken
    rest = water - taken
    if np.any(rest > 0):
        held = np.maximum(q + dt * out.humidity, 0.0)
        total = (held * dp).sum(axis=1) / GRAVITY  # kg m-2 after the step
        # at most what the column holds (a column with nothing left keeps its deficit)
        paid = np.minimum(rest, total / dt)
        rate = np.where(total > 0, paid / np.where(total > 0, total, 1.0), 0.0)
        moved = rate[:, None] * held
        out.humidity -= moved
        out.temperature += (LV / CP) * moved
    return water
