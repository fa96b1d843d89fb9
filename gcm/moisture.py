"""Hole filling of specific humidity on the Gaussian grid.

Spectral transport of a positive tracer makes small negative values near sharp
gradients (the Gibbs effect). Before the physics sees the humidity, negative values
are set to zero and the water this adds is taken back from the positive values of the
whole globe in proportion to their mass, so the global water mass is unchanged to
round-off. The water moved is returned so that the model can report it.
"""

from __future__ import annotations

import numba
import numpy as np


def fill_negative_humidity(q: np.ndarray, layer_mass: np.ndarray, point_weight: np.ndarray
                           ) -> tuple[np.ndarray, float]:
    """Non-negative copy of q (kg kg-1, (nlev, nlat, nlon)) with the same mass-weighted
    sum, and the water moved (in units of mass x q). Returns q itself when nothing is
    negative.

    The air mass each value stands for is layer_mass[k] * point_weight[j, i], e.g.
    dsigma_k / g (nlev,) times ps * area fraction (nlat, nlon): kg m-2 of the global mean.
    """
    nlev = q.shape[0]
    flat_q = np.ascontiguousarray(q).reshape(nlev, -1)
    weight = np.ascontiguousarray(point_weight, dtype=np.float64).reshape(-1)
    if weight.size != flat_q.shape[1] or np.shape(layer_mass) != (nlev,):
        raise ValueError(f"hole filling: q {q.shape} does not match layer_mass "
                         f"{np.shape(layer_mass)} and point_weight {np.shape(point_weight)}")
    negative, positive = _signed_water_by_level(flat_q, weight)
    deficit = float(np.dot(layer_mass, negative))
    if deficit == 0.0:
        return q, 0.0
    available = float(np.dot(layer_mass, positive))
    if available <= deficit:
        raise FloatingPointError(
            f"humidity hole filling impossible: negative water {deficit:.3e} exceeds "
            f"positive water {available:.3e}")
    filled = _clip_and_scale(flat_q, 1.0 - deficit / available)
    return filled.reshape(q.shape), deficit


@numba.njit(cache=True, parallel=True)
def _signed_water_by_level(q, weight):
    """Per level k: (-sum of q w where q < 0, sum of q w where q > 0); q (nlev, npts).
    Each level's sum is one iteration, so the result does not depend on the threads."""
    nlev, npts = q.shape
    negative = np.zeros(nlev)
    positive = np.zeros(nlev)
    for k in numba.prange(nlev):
        below = 0.0
        above = 0.0
        for i in range(npts):
            x = q[k, i] * weight[i]
            if x < 0.0:
                below -= x
            else:
                above += x
        negative[k] = below
        positive[k] = above
    return negative, positive


@numba.njit(cache=True, parallel=True)
def _clip_and_scale(q, factor):
    """q * factor where q >= 0, else 0, (nlev, npts); NaN stays NaN, for the blow-up
    check to see."""
    out = np.empty_like(q)
    for k in numba.prange(q.shape[0]):
        for i in range(q.shape[1]):
            x = q[k, i]
            out[k, i] = 0.0 if x < 0.0 else x * factor
    return out


def hole_filling_tendency(filled: np.ndarray, q: np.ndarray, dt: float) -> np.ndarray:
    """The humidity tendency (filled - q) / dt, kg kg-1 s-1, of hole filling over the
    interval dt (s); filled and q as fill_negative_humidity's, (nlev, nlat, nlon)."""
    if filled.shape != q.shape:
        raise ValueError(f"hole filling tendency: filled {filled.shape} and q {q.shape} differ")
    nlev = q.shape[0]
    return _difference_over(np.ascontiguousarray(filled).reshape(nlev, -1),
                            np.ascontiguousarray(q).reshape(nlev, -1), dt).reshape(q.shape)


@numba.njit(cache=True)
def _difference_over(a, b, dt):
    """(a - b) / dt, (nlev, npts): one subtraction and one division per value, the bits of
    numpy's, in one pass instead of numpy's two. Serial: a parallel region this small
    (0.1 ms at T42L25) loses more than it saves whenever another process holds a core."""
    out = np.empty_like(a)
    for k in range(a.shape[0]):
        for i in range(a.shape[1]):
            out[k, i] = (a[k, i] - b[k, i]) / dt
    return out
