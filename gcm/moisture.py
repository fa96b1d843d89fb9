"""Hole filling of specific humidity on the Gaussian grid.

Spectral transport of a positive tracer makes small negative values near sharp
gradients (the Gibbs effect). Before the physics sees the humidity, negative values
are set to zero and the water this adds is taken back from the positive values of the
whole globe in proportion to their mass, so the global water mass is unchanged to
round-off. The water moved is returned so that the model can report it.
"""

from __future__ import annotations

import numpy as np


def fill_negative_humidity(q: np.ndarray, mass: np.ndarray) -> tuple[np.ndarray, float]:
    """Non-negative copy of q (kg kg-1, any shape) with the same mass-weighted sum, and
    the water moved (kg, in units of ``mass`` x q).

    ``mass`` (same shape as q) is the air mass each value stands for, e.g.
    dp/g * cell area (kg) or dp/g * area fraction (kg m-2 of the global mean).
    """
    negative = q < 0.0
    if not negative.any():
        return q, 0.0
    deficit = -float((q[negative] * mass[negative]).sum())
    filled = np.where(negative, 0.0, q)
    available = float((filled * mass).sum())
    if available <= deficit:
        raise FloatingPointError(
            f"humidity hole filling impossible: negative water {deficit:.3e} exceeds "
            f"positive water {available:.3e}")
    filled *= 1.0 - deficit / available
    return filled, deficit
