"""The coupler's per-step work besides the forward pass, fused into numba kernels: one pass
per input variable that copies it into the network's input matrix while checking it
(finite, within bounds), one pass that widens all the outputs to float64 while checking
them, and one pass over the columns for the budgets, the fixes and the checks of the fixed
outputs, with the report's summary figures in a last short pass.

The plain versions are the numpy functions of climnn.coupler.guards, column_budgets,
fixers and report (``Coupler.fused = False``); tests/test_coupler.py compares the two.
Sums run in another order than numpy's, so results agree to round-off, not bit for bit.

Every kernel reads its arrays in their memory order: the host's profiles may be
(ncol, nlev) views of level-major memory (the GCM's), and then the input matrix is
feature-major too (climnn.coupler.coupler), so that filling it is a contiguous pass.
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
    checking every value in the same pass: True when all lie within [low, high] (finite
    bounds, so NaN and inf never do). ``dst`` may be an empty (0, 0) array: check only.
    Any layouts; the loops follow src's memory order."""
    ncol, nlev = src.shape
    copy = dst.shape[0] > 0
    if src.strides[0] <= src.strides[1]:  # level-major: a level's columns are adjacent
        inside = _copy_checked_in_order(src, dst, 0, start, copy, low, high)
    else:
        inside = _copy_checked_in_order(src.T, dst.T, start, 0, copy, low, high)
    return inside == ncol * nlev


@numba.njit(cache=True, fastmath=FAST, inline="always")
def _copy_checked_in_order(src, dst, row, column, copy, low, high):
    """copy_checked over src (m, n) with src[:, j] adjacent in memory, into
    dst[row + i, column + j] if ``copy``: the count of values inside [low, high].
    Branch-free but for ``copy`` (the same in every iteration), so that the loops
    vectorize (dst is passed whole: numba then knows its layout)."""
    inside = 0
    for j in range(src.shape[1]):
        for i in range(src.shape[0]):
            v = src[i, j]
            if copy:
                dst[row + i, column + j] = v
            inside += (v >= low) & (v <= high)
    return inside


@numba.njit(cache=True, fastmath=FAST)
def split_checked(y, profile_starts, profiles, surface_starts, surfaces, profile_bounds,
                  surface_bounds):
    """The network's outputs y (ncol, n_out) float32 widened to float64 in one pass:
    ``profiles[j]`` (ncol, nlev) = y[:, profile_starts[j]:+nlev], ``surfaces[j]`` (ncol,)
    = y[:, surface_starts[j]]; each value checked within its variable's (low, high) row
    of ``profile_bounds`` (nprofile, 2) or ``surface_bounds`` (nsurface, 2). Returns the
    number of values outside (NaN and inf always are)."""
    ncol = y.shape[0]
    nlev = profiles.shape[2]
    outside = 0
    for i in range(ncol):
        for j in range(profiles.shape[0]):
            start = profile_starts[j]
            low, high = profile_bounds[j, 0], profile_bounds[j, 1]
            inside = 0
            for k in range(nlev):
                v = np.float64(y[i, start + k])
                profiles[j, i, k] = v
                inside += (v >= low) & (v <= high)
            outside += nlev - inside
        for j in range(surfaces.shape[0]):
            v = np.float64(y[i, surface_starts[j]])
            surfaces[j, i] = v
            outside += 1 - ((v >= surface_bounds[j, 0]) & (v <= surface_bounds[j, 1]))
    return outside


@numba.njit(cache=True, fastmath=FAST)
def _column_sums(t, phq, dp, i):
    """sum_k (cp T + Lv PHQ) dp / g, sum_k PHQ dp / g and the column mass of column i
    (dp: that column's (nlev,) layer thicknesses)."""
    energy = 0.0
    water = 0.0
    mass = 0.0
    for k in range(dp.shape[0]):
        energy += (CP * t[i, k] + LV * phq[i, k]) * dp[k]
        water += phq[i, k] * dp[k]
        mass += dp[k]
    return energy / GRAVITY, water / GRAVITY, mass / GRAVITY


@numba.njit(cache=True, fastmath=FAST)
def _reduce_moistening(phq, q, dt, dp, i, excess):
    """climnn.coupler.fixers.reduced_moistening for column i, applied to phq in place."""
    nlev = dp.shape[0]
    supply = 0.0
    for k in range(nlev):
        supply += max(phq[i, k], 0.0) * dp[k]
    supply /= GRAVITY
    share = min(1.0, excess / max(supply, TINY))
    rest = excess - share * supply
    held_total = 0.0
    mass = 0.0
    for k in range(nlev):
        change = share * max(phq[i, k], 0.0)
        phq[i, k] -= change
        held_total += max(q[i, k] + dt * phq[i, k], 0.0) * dp[k]
        mass += dp[k]
    held_total /= GRAVITY
    mass /= GRAVITY
    for k in range(nlev):
        if held_total <= TINY:
            weight = 1.0 / mass
        else:
            weight = max(q[i, k] + dt * phq[i, k], 0.0) / held_total
        phq[i, k] -= rest * weight


@numba.njit(cache=True, fastmath=FAST)
def _enforce_column(t, phq, prect, boundary, evaporation, q, dt, dp, i, fixes):
    """climnn.coupler.fixers.enforce for column i: t, phq, prect changed in place, the
    fixes into fixes[2:5, i] (negative humidity, water, energy); True when precipitation
    was clipped at 0."""
    nlev = dp.shape[0]
    added_total = 0.0
    for k in range(nlev):  # 1. negative humidity, keeping moist static energy
        added = max(-(q[i, k] + dt * phq[i, k]) / dt, 0.0)
        phq[i, k] += added
        t[i, k] -= (LV / CP) * added
        added_total += added * dp[k]
    fixes[2, i] = added_total / GRAVITY
    _, water, _ = _column_sums(t, phq, dp, i)  # 2. precipitation made consistent
    removed = water - (evaporation[i] - prect[i])
    precipitation = prect[i] - removed
    fixes[3, i] = removed
    clipped = precipitation < 0.0
    if clipped:
        prect[i] = 0.0
        _reduce_moistening(phq, q, dt, dp, i, -precipitation)
    else:
        prect[i] = precipitation
    energy, _, mass = _column_sums(t, phq, dp, i)  # 3. energy, mass-weighted
    removed = energy - boundary[i]
    fixes[4, i] = removed
    correction = removed / (CP * mass)
    for k in range(nlev):
        t[i, k] -= correction
    return clipped


@numba.njit(cache=True, fastmath=FAST)
def _outside(x, i, low, high):
    """How many of row i of x (ncol, nlev) lie outside [low, high] (NaN always does)."""
    inside = 0
    for k in range(x.shape[1]):
        inside += (x[i, k] >= low) & (x[i, k] <= high)
    return x.shape[1] - inside


@numba.njit(cache=True, fastmath=FAST)
def conserve(enforce, t, phq, prect, boundary, evaporation, q, dt, ps, hyai_p0, hybi,
             columns, bounds):
    """The column budgets of every column in one pass: the residuals (climnn.coupler.
    column_budgets) into columns[0] (energy, W m-2) and columns[1] (water, kg m-2 s-1)
    and, if ``enforce``, the fixes of climnn.coupler.fixers in order (t, phq, prect
    changed in place; columns[2:5] = negative humidity, water, energy fixes) followed by
    the check of the fixed t, phq, prect against the rows (low, high) of ``bounds``
    (3, 2).

    t, phq (ncol, nlev); prect, boundary (W m-2 into the column), evaporation
    (kg m-2 s-1), ps (Pa), all (ncol,); q (ncol, nlev) kg kg-1 before the step (any
    layout; only read if enforce); dt (s); layer thicknesses dp_k = hyai_p0[k] +
    hybi[k] ps from the (nlev,) differences of the interface coefficients (hyai times
    P0). Returns (columns where precipitation was clipped at 0, fixed values outside
    their bounds)."""
    ncol, nlev = t.shape
    dp = np.empty(nlev)
    clipped = 0
    outside = 0
    for i in range(ncol):
        for k in range(nlev):
            dp[k] = hyai_p0[k] + hybi[k] * ps[i]
        energy, water, _ = _column_sums(t, phq, dp, i)
        columns[0, i] = energy - boundary[i]
        columns[1, i] = water - (evaporation[i] - prect[i])
        if enforce:
            clipped += _enforce_column(t, phq, prect, boundary, evaporation, q, dt, dp, i,
                                       columns)
            outside += _outside(t, i, bounds[0, 0], bounds[0, 1])
            outside += _outside(phq, i, bounds[1, 0], bounds[1, 1])
            outside += 1 - ((prect[i] >= bounds[2, 0]) & (prect[i] <= bounds[2, 1]))
    return clipped, outside


@numba.njit(cache=True, fastmath=FAST)
def summaries(columns, area, stats):
    """climnn.coupler.report.summarize of each row of ``columns`` (m, ncol): stats[j] =
    (mean, mean of |value|, largest |value|, its column), weighted by ``area`` (ncol,),
    or equally when area is empty."""
    m, ncol = columns.shape
    weighted = area.shape[0] > 0
    total = 0.0
    for i in range(ncol):
        total += area[i] if weighted else 1.0
    for j in range(m):
        mean = 0.0
        mean_abs = 0.0
        largest = -1.0
        where = 0
        for i in range(ncol):
            v = columns[j, i]
            w = area[i] if weighted else 1.0
            mean += w * v
            mean_abs += w * abs(v)
            if abs(v) > largest:
                largest, where = abs(v), i
        stats[j, 0], stats[j, 1] = mean / total, mean_abs / total
        stats[j, 2], stats[j, 3] = largest, where


@numba.njit(cache=True, fastmath=FAST)
def dissipation(u, v, du, dv, p_half, out):
    """The kinetic energy a momentum tendency removes, -sum_k (u du + v dv) dp_k / g, into
    ``out`` (ncol,) W m-2, from u, v (m s-1), du, dv (m s-2), each (ncol, nlev), and the
    interface pressures p_half (ncol, nlev + 1) Pa, dp_k = p_half[k + 1] - p_half[k] (for
    the network scheme's frictional heating). Any layouts; level-major arrays are read in
    memory order."""
    ncol, nlev = u.shape
    out[:] = 0.0
    if u.strides[0] <= u.strides[1]:
        for k in range(nlev):
            for i in range(ncol):
                out[i] -= ((u[i, k] * du[i, k] + v[i, k] * dv[i, k])
                           * (p_half[i, k + 1] - p_half[i, k]))
    else:
        for i in range(ncol):
            for k in range(nlev):
                out[i] -= ((u[i, k] * du[i, k] + v[i, k] * dv[i, k])
                           * (p_half[i, k + 1] - p_half[i, k]))
    for i in range(ncol):
        out[i] /= GRAVITY
