"""The coupler's per-step work besides the forward pass, fused into numba kernels: one pass
per input variable that copies it into the network's input matrix while checking it
(finite, within bounds), and the network scheme's dissipation integral. The outputs'
widening, checks, conservation and the report's summary figures are one kernel of their
own (climnn.coupler.output_blocks).

The plain versions are the numpy functions of climnn.coupler.guards, column_budgets,
fixers and report (``Coupler.fused = False``); tests/test_coupler.py compares the two.
Sums run in another order than numpy's, so results agree to round-off, not bit for bit.

Every kernel reads its arrays in their memory order: the host's profiles may be
(ncol, nlev) views of level-major memory (the GCM's), and then the input matrix is
feature-major too (climnn.coupler.coupler), so that filling it is a contiguous pass.
"""

from __future__ import annotations

import numba

from gcm.constants import GRAVITY

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
