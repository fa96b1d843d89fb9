"""The coupler's per-step work besides the forward pass, fused into numba kernels: one pass
per variable that copies it into the network's input matrix while checking it (finite,
within bounds), one that copies each output out while checking it, and one pass over the
columns for the budgets and the fixes.

The plain versions are the numpy functions of climnn.coupler.guards, column_budgets and
fixers; tests/test_coupler_fused.py compares every kernel with them. Sums run in another
order than numpy's, so results agree to round-off, not bit for bit.
"""

from __future__ import annotations

import numba
import numpy as np

from gcm.constants import CP, GRAVITY, LV

TINY = np.finfo(np.float64).tiny


#: numba's fast-math flags for these kernels: sums may be reassociated (vectorized), but
#: NaN and inf keep their meaning, so that the checks still see them
FAST = {"reassoc", "contract", "nsz", "arcp"}


@numba.njit(cache=True, fastmath=FAST)
def copy_checked(src, dst, start, low, high):
    """Copy ``src`` (ncol, nlev) float64 into ``dst[:, start:start + nlev]`` (float32),
    checking every value: True when all lie within [low, high] (finite bounds, so NaN and
    inf never do). ``dst`` may be an empty (0, 0) array: check only. Branch-free, so that
    it vectorizes: a count of the comparisons that fail (a NaN fails both)."""
    ncol, nlev = src.shape
    outside = 0
    if dst.shape[0] > 0:
        for i in range(ncol):
            for k in range(nlev):
                dst[i, start + k] = src[i, k]
    for i in range(ncol):
        for k in range(nlev):
            v = src[i, k]
            outside += 1 - ((v >= low) & (v <= high))
    return outside == 0


@numba.njit(cache=True, fastmath=FAST)
def split_checked(y, start, out):
    """``out`` (ncol, nlev) float64 = ``y[:, start:start + nlev]`` (float32); True when
    every value is finite."""
    ncol, nlev = out.shape
    largest = np.finfo(np.float32).max
    nonfinite = 0
    for i in range(ncol):
        for k in range(nlev):
            v = y[i, start + k]
            out[i, k] = np.float64(v)
            nonfinite += 1 - (abs(v) <= largest)
    return nonfinite == 0


@numba.njit(cache=True, fastmath=FAST)
def _column_sums(t, phq, dp, i):
    """sum_k (cp T + Lv PHQ) dp / g, sum_k PHQ dp / g and the column mass of column i."""
    energy = 0.0
    water = 0.0
    mass = 0.0
    for k in range(dp.shape[1]):
        energy += (CP * t[i, k] + LV * phq[i, k]) * dp[i, k]
        water += phq[i, k] * dp[i, k]
        mass += dp[i, k]
    return energy / GRAVITY, water / GRAVITY, mass / GRAVITY


@numba.njit(cache=True, fastmath=FAST)
def residuals(t, phq, prect, boundary, evaporation, dp, energy_res, water_res):
    """The column budgets' residuals (climnn.coupler.column_budgets) into ``energy_res``
    (W m-2) and ``water_res`` (kg m-2 s-1), each (ncol,). ``boundary``: the energy
    entering at the column's boundaries (ncol,) W m-2; ``evaporation`` (ncol,) kg m-2 s-1."""
    for i in range(dp.shape[0]):
        energy, water, _ = _column_sums(t, phq, dp, i)
        energy_res[i] = energy - boundary[i]
        water_res[i] = water - (evaporation[i] - prect[i])


@numba.njit(cache=True, fastmath=FAST)
def _reduce_moistening(phq, q, dt, dp, i, excess):
    """climnn.coupler.fixers.reduced_moistening for column i, applied to phq in place."""
    nlev = dp.shape[1]
    supply = 0.0
    for k in range(nlev):
        supply += max(phq[i, k], 0.0) * dp[i, k]
    supply /= GRAVITY
    share = min(1.0, excess / max(supply, TINY))
    rest = excess - share * supply
    held_total = 0.0
    mass = 0.0
    for k in range(nlev):
        change = share * max(phq[i, k], 0.0)
        phq[i, k] -= change
        held_total += max(q[i, k] + dt * phq[i, k], 0.0) * dp[i, k]
        mass += dp[i, k]
    held_total /= GRAVITY
    mass /= GRAVITY
    for k in range(nlev):
        if held_total <= TINY:
            weight = 1.0 / mass
        else:
            weight = max(q[i, k] + dt * phq[i, k], 0.0) / held_total
        phq[i, k] -= rest * weight


@numba.njit(cache=True, fastmath=FAST)
def enforce_columns(t, phq, prect, boundary, evaporation, q, dt, dp, negative_fix,
                    water_fix, energy_fix):
    """climnn.coupler.fixers.enforce, one column at a time: t, phq, prect changed in place;
    the three fixes written into (ncol,) arrays; returns the number of columns where
    precipitation was clipped at 0. Residuals must be taken before (``residuals``)."""
    clipped = 0
    nlev = dp.shape[1]
    for i in range(dp.shape[0]):
        added_total = 0.0
        for k in range(nlev):  # 1. negative humidity, keeping moist static energy
            added = max(-(q[i, k] + dt * phq[i, k]) / dt, 0.0)
            phq[i, k] += added
            t[i, k] -= (LV / CP) * added
            added_total += added * dp[i, k]
        negative_fix[i] = added_total / GRAVITY
        _, water, _ = _column_sums(t, phq, dp, i)  # 2. precipitation made consistent
        removed = water - (evaporation[i] - prect[i])
        precipitation = prect[i] - removed
        water_fix[i] = removed
        if precipitation < 0.0:
            prect[i] = 0.0
            clipped += 1
            _reduce_moistening(phq, q, dt, dp, i, -precipitation)
        else:
            prect[i] = precipitation
        energy, _, mass = _column_sums(t, phq, dp, i)  # 3. energy, mass-weighted
        removed = energy - boundary[i]
        energy_fix[i] = removed
        correction = removed / (CP * mass)
        for k in range(nlev):
            t[i, k] -= correction
    return clipped
