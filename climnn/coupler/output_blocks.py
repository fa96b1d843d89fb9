"""The network's outputs widened, checked and conserved in one numba kernel that goes
through the columns in blocks of BLOCK: for each block the float32 outputs are widened to
float64 level-major profiles and checked, then the column budgets (residuals, and with
``enforce`` the three fixes of climnn.coupler.fixers and the bounds of the fixed outputs)
run level by level across the block's columns, while the block is still in the cache;
last the block's partial sums of the report's summary figures, added over the blocks at
the end (so the budgets' report costs no pass of its own over the columns).

Why so: a column's levels are 8 * ncol bytes apart in the host's level-major memory (a
power of two at T42), so a loop down each column neither vectorizes nor keeps its rows in
the cache. A block's outputs are first transposed into a small workspace whose rows are
ROW doubles apart, and every later pass runs over adjacent columns; every column's sum
still adds its levels from the top down, so the numbers do not depend on the host's
layout (tests/test_coupler.py). On a T42 step's outputs (8,192 columns, enforce, 1,593
clipped) this kernel takes 1.0 ms on one thread where the earlier per-column kernels
(widening, then conservation) took 1.9 ms, and 0.6 ms on two (docs/performance.md).

The plain version, which the tests compare this with, is the numpy one
(climnn.coupler.column_budgets, fixers, guards; ``Coupler.fused = False``). Only counts
come out of the checks: where a bad value lies is found afterwards, by the plain guards,
and only when a count is not zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from climnn.coupler.fused import FAST
from gcm.constants import CP, GRAVITY, LV

TINY = np.finfo(np.float64).tiny
#: columns a block: its rows of y, q and the sums stay in the L1/L2 cache between passes
BLOCK = 64
#: a block's rows in its workspace: a multiple of 8 doubles (the vectors' alignment) that is
#: not a power of two (rows 8 ncol bytes apart, as the host's are, a power of two at T42,
#: would evict each other from the cache)
ROW = BLOCK + 8
#: conservation modes as the kernel takes them
OFF, DIAGNOSE, ENFORCE = 0, 1, 2
#: rows of a block's per-column sums: energy, water and mass still to be divided by g,
#: water added by fix 1 and the sums after it, precipitation's excess (fix 2, 0 where not
#: clipped), the energy fix's temperature correction and the moistening fix 2 may take
_ENERGY, _WATER, _MASS, _ADDED, _ENERGY_FIXED, _WATER_FIXED, _EXCESS, _CORRECTION = range(8)
_SUPPLY = 8  # the moistening fix 2 may take, sum_k max(PHQ, 0) dp (after fix 1)
_ROWS = 9
#: a block's partial summary of a row of ``columns``: sums of w v, w |v| and w, the
#: largest |v| and its column
_STATS = 5


@numba.njit(parallel=True, cache=True, fastmath=FAST)
def outputs_conserved(y, profile_starts, profile_bounds, surface_starts, surface_bounds,
                      profiles, surfaces, mode, budget_rows, energy_weights, water_weights,
                      host_terms, q, dt, ps, hyai_p0, hybi, columns, fixed_bounds, area, stats,
                      threads):
    """Widen, check and conserve the network's outputs, block by block (module docstring).

    y : (ncol, n_out) float32, the forward pass's outputs
    profile_starts (nprofile,), surface_starts (nsurface,) : each output's first column in y
    profile_bounds (nprofile, 2), surface_bounds (nsurface, 2) : (low, high) each output is
        checked against as it is widened (finite only for the outputs the fixes change)
    profiles (nprofile, nlev, ncol), surfaces (nsurface, ncol) : float64, filled
    mode : OFF, DIAGNOSE or ENFORCE
    budget_rows : (3,) int, the profiles' rows of TPHYSTND and PHQ and the surfaces' row of
        PRECT (read when mode is not OFF)
    energy_weights, water_weights : (nsurface,) each surface output's share of the energy
        (W m-2) and water (kg m-2 s-1) entering the column (climnn.coupler.column_budgets:
        +1 FSNT, -1 FSNS, ..., 1 / Lv LHF)
    host_terms : (SHF, LHF, energy source), each (ncol,) or empty (absent): what enters
        besides, added after the outputs' terms, in this order (W m-2; LHF / Lv is water)
    q : (nlev, ncol) kg kg-1 before the step, any layout (read with ENFORCE); dt in s
    ps : (ncol,) Pa; layer thicknesses dp_k = hyai_p0[k] + hybi[k] ps from the (nlev,)
        differences of the interface coefficients
    columns : (5, ncol) out: energy and water residuals, then (ENFORCE) the negative
        humidity, water and energy fixes (climnn.coupler.coupler.BUDGET_COLUMNS)
    fixed_bounds : (3, 2) (low, high) of TPHYSTND, PHQ, PRECT, checked after the fixes
    area : (ncol,) the columns' weights in the summaries, or empty (equal weights)
    stats : (m, 4) out, m = rows of ``columns`` filled (0 when OFF): each row's mean,
        mean |value|, largest |value| and its column (climnn.coupler.report.summarize),
        from partial sums a block, added in the blocks' order
    threads : runs of blocks to share among numba's threads (numba.get_num_threads())

    Returns (outputs outside their bounds when widened (NaN and inf always are), columns
    where precipitation was clipped at 0, fixed values outside their bounds). The blocks
    are shared by numba's threads in contiguous runs, one workspace a run; each block's
    numbers depend on that block alone, so the bits do not depend on the thread count."""
    ncol, n_out = y.shape
    blocks = (ncol + BLOCK - 1) // BLOCK
    runs = max(1, min(threads, blocks))
    shf, lhf, source = host_terms
    partial = np.empty((blocks, stats.shape[0], _STATS))
    outside = clipped = outside_fixed = 0
    for run in numba.prange(runs):
        counts = _run_blocks(
            y, profile_starts, profile_bounds, surface_starts, surface_bounds, profiles,
            surfaces, mode, budget_rows, energy_weights, water_weights, shf, lhf, source,
            q, dt, ps, hyai_p0, hybi, columns, fixed_bounds, area, partial,
            run * blocks // runs, (run + 1) * blocks // runs)
        outside += counts[0]
        clipped += counts[1]
        outside_fixed += counts[2]
    _combine_stats(partial, stats)
    return outside, clipped, outside_fixed


@numba.njit(cache=True, fastmath=FAST)
def _run_blocks(y, profile_starts, profile_bounds, surface_starts, surface_bounds, profiles,
                surfaces, mode, budget_rows, energy_weights, water_weights, shf, lhf, source,
                q, dt, ps, hyai_p0, hybi, columns, fixed_bounds, area, partial, start, stop):
    """``outputs_conserved`` on blocks start ... stop - 1: its three counts, and each
    block's partial summary sums in ``partial`` (blocks, m, _STATS)."""
    ncol, n_out = y.shape
    nlev = profiles.shape[1]
    outside = clipped = outside_fixed = 0
    # a block's workspace, reused by the run's blocks (each writes what it reads): y
    # transposed (TPHYSTND's levels are rows t0 to t0 + nlev - 1, as in y), and its sums
    work = np.empty((n_out, ROW))
    sums = np.empty((_ROWS, BLOCK))
    host = np.empty((2, BLOCK))  # the block's host energy and water (_host_block)
    for block in range(start, stop):
        first = block * BLOCK
        last = min(first + BLOCK, ncol)
        _transpose_block(y, work, first, last)
        conserving = mode != OFF
        outside += _check_store_block(work, profile_starts, profile_bounds, surface_starts,
                                      surface_bounds, profiles, surfaces, conserving,
                                      budget_rows, first, last)
        if conserving:
            enforce = mode == ENFORCE
            t0, p0 = profile_starts[budget_rows[0]], profile_starts[budget_rows[1]]
            prect = surfaces[budget_rows[2]]
            _host_block(shf, lhf, source, host, first, last)
            _sums_block(work, t0, p0, q, nlev, dt, ps, hyai_p0, hybi, enforce, sums, first,
                        last)
            clipped_here = _columns_block(prect, surfaces, enforce, energy_weights,
                                          water_weights, host, sums, columns, first, last)
            if clipped_here:
                _reduce_moistening_block(work, t0, p0, q, nlev, dt, ps, hyai_p0, hybi, sums,
                                         first, last)
            clipped += clipped_here
            t, phq = profiles[budget_rows[0]], profiles[budget_rows[1]]
            if enforce:  # fix 3 on the way out
                outside_fixed += _correct_block(work, t0, p0, t, phq, prect, surfaces, host,
                                                energy_weights, sums, columns, fixed_bounds,
                                                first, last)
            else:
                _store_block(work, t0, t, first, last)
                _store_block(work, p0, phq, first, last)
            _block_stats(columns, area, partial[block], first, last)
    return outside, clipped, outside_fixed


@numba.njit(cache=True, fastmath=FAST, inline="always")
def _transpose_block(y, work, first, last):
    """work[c, m] = y[first + m, c] in float64: y read in memory order."""
    for m in range(last - first):
        for c in range(y.shape[1]):
            work[c, m] = y[first + m, c]


@numba.njit(cache=True, fastmath=FAST, inline="always")
def _check_store_block(work, profile_starts, profile_bounds, surface_starts, surface_bounds,
                       profiles, surfaces, conserving, budget_rows, first, last):
    """The block's outputs checked against their bounds and stored into profiles and
    surfaces, but for TPHYSTND and PHQ when ``conserving`` (only checked: the fixes store
    them): the count of values outside."""
    n = last - first
    nlev = profiles.shape[1]
    inside = 0
    for j in range(profile_starts.shape[0]):
        start, low, high = profile_starts[j], profile_bounds[j, 0], profile_bounds[j, 1]
        store = not (conserving and (j == budget_rows[0] or j == budget_rows[1]))
        for k in range(nlev):
            for m in range(n):
                v = work[start + k, m]
                if store:
                    profiles[j, k, first + m] = v
                inside += (v >= low) & (v <= high)
    for j in range(surface_starts.shape[0]):
        start, low, high = surface_starts[j], surface_bounds[j, 0], surface_bounds[j, 1]
        for m in range(n):
            v = work[start, m]
            surfaces[j, first + m] = v
            inside += (v >= low) & (v <= high)
    return n * (profile_starts.shape[0] * nlev + surface_starts.shape[0]) - inside


@numba.njit(cache=True, fastmath=FAST, inline="always")
def _store_block(work, row, x, first, last):
    """x[k, first + m] = work[row + k, m] for the block's columns."""
    for k in range(x.shape[0]):
        for m in range(last - first):
            x[k, first + m] = work[row + k, m]


@numba.njit(cache=True, fastmath=FAST, inline="always")
def _sums_block(work, t0, p0, q, nlev, dt, ps, hyai_p0, hybi, enforce, sums, first, last):
    """One pass down the levels of the block's t, phq (work's rows from t0, p0): the
    column sums of the energy and water the network stores and the mass (rows _ENERGY,
    _WATER, _MASS), and if ``enforce`` fix 1 (negative humidity, from q (nlev, ncol): t,
    phq changed in place) with the water it adds and the sums after it (_ADDED,
    _ENERGY_FIXED, _WATER_FIXED, _SUPPLY)."""
    n = last - first
    for row in range(_ROWS):
        for m in range(n):
            sums[row, m] = 0.0
    for k in range(nlev):
        a, b = hyai_p0[k], hybi[k]
        for m in range(n):  # ``enforce`` is the same for every m: the loop is unswitched
            dp = a + b * ps[first + m]
            tk, pk = work[t0 + k, m], work[p0 + k, m]
            sums[_ENERGY, m] += (CP * tk + LV * pk) * dp
            sums[_WATER, m] += pk * dp
            sums[_MASS, m] += dp
            if enforce:
                added = max(-(q[k, first + m] + dt * pk) / dt, 0.0)
                pk += added
                tk -= (LV / CP) * added
                work[t0 + k, m], work[p0 + k, m] = tk, pk
                sums[_ADDED, m] += added * dp
                sums[_ENERGY_FIXED, m] += (CP * tk + LV * pk) * dp
                sums[_WATER_FIXED, m] += pk * dp
                sums[_SUPPLY, m] += max(pk, 0.0) * dp


@numba.njit(cache=True, fastmath=FAST, inline="always")
def _host_block(shf, lhf, source, host, first, last):
    """host[0, m], host[1, m]: the energy (W m-2) and water (kg m-2 s-1) the host's terms
    put into the block's column first + m: SHF + LHF + source and LHF / Lv, each term
    added only when given (non-empty), in that order."""
    for m in range(last - first):
        i = first + m
        energy = 0.0
        water = 0.0
        if shf.shape[0] > 0:
            energy += shf[i]
        if lhf.shape[0] > 0:
            energy += lhf[i]
            water += lhf[i] / LV
        if source.shape[0] > 0:
            energy += source[i]
        host[0, m] = energy
        host[1, m] = water


@numba.njit(cache=True, fastmath=FAST, inline="always")
def _boundary(surfaces, weights, host, i, m):
    """What enters column i (the block's m): the surface outputs' terms in order, then
    the host's (a row of _host_block's)."""
    total = 0.0
    for j in range(surfaces.shape[0]):
        total += weights[j] * surfaces[j, i]
    return total + host[m]


@numba.njit(cache=True, fastmath=FAST, inline="always")
def _columns_block(prect, surfaces, enforce, energy_weights, water_weights, host, sums,
                   columns, first, last):
    """The residuals of the block's columns into ``columns`` and, if ``enforce``, their
    negative humidity and water fixes and fix 2 on prect; the excess of the clipped
    columns into row _EXCESS (0 elsewhere): the count of clipped columns."""
    clipped = 0
    for m in range(last - first):
        i = first + m
        boundary = _boundary(surfaces, energy_weights, host[0], i, m)
        evaporation = _boundary(surfaces, water_weights, host[1], i, m)
        columns[0, i] = sums[_ENERGY, m] / GRAVITY - boundary
        columns[1, i] = sums[_WATER, m] / GRAVITY - (evaporation - prect[i])
        if enforce:
            columns[2, i] = sums[_ADDED, m] / GRAVITY
            removed = sums[_WATER_FIXED, m] / GRAVITY - (evaporation - prect[i])
            precipitation = prect[i] - removed
            columns[3, i] = removed
            prect[i] = max(precipitation, 0.0)
            sums[_EXCESS, m] = max(-precipitation, 0.0)
            clipped += precipitation < 0.0
    return clipped


@numba.njit(cache=True, fastmath=FAST, inline="always")
def _reduce_moistening_block(work, t0, p0, q, nlev, dt, ps, hyai_p0, hybi, sums, first,
                             last):
    """climnn.coupler.fixers.reduced_moistening on the block's phq where row _EXCESS is
    not 0, level by level across the block (a column without excess keeps its phq: it
    loses 0 times finite numbers); row _ENERGY_FIXED holds the stored energy after it
    (times g) for those columns."""
    n = last - first
    per_column = np.zeros((5, BLOCK))  # dry weight, share, rest, held water, energy
    for m in range(n):
        supply = sums[_SUPPLY, m] / GRAVITY
        excess = sums[_EXCESS, m]
        per_column[1, m] = min(1.0, excess / max(supply, TINY))
        per_column[2, m] = excess - per_column[1, m] * supply
    for k in range(nlev):
        for m in range(n):
            pk = work[p0 + k, m]
            pk -= per_column[1, m] * max(pk, 0.0)
            work[p0 + k, m] = pk
            per_column[3, m] += (max(q[k, first + m] + dt * pk, 0.0)
                                 * (hyai_p0[k] + hybi[k] * ps[first + m]))
    for m in range(n):  # the weights' factors: 1 / held water, or 1 / mass where dry
        held = per_column[3, m] / GRAVITY
        dry = held <= TINY
        per_column[3, m] = 0.0 if dry else 1.0 / held
        per_column[0, m] = GRAVITY / sums[_MASS, m] if dry else 0.0
    for k in range(nlev):
        for m in range(n):
            dp = hyai_p0[k] + hybi[k] * ps[first + m]
            pk = work[p0 + k, m]
            weight = (max(q[k, first + m] + dt * pk, 0.0) * per_column[3, m]
                      + per_column[0, m])
            pk -= per_column[2, m] * weight
            work[p0 + k, m] = pk
            per_column[4, m] += (CP * work[t0 + k, m] + LV * pk) * dp
    for m in range(n):
        if sums[_EXCESS, m] > 0.0:
            sums[_ENERGY_FIXED, m] = per_column[4, m]


@numba.njit(cache=True, fastmath=FAST, inline="always")
def _correct_block(work, t0, p0, t, phq, prect, surfaces, host, energy_weights, sums,
                   columns, bounds, first, last):
    """Fix 3 on the block (its energy fix into columns[4], the block's t lowered by one
    temperature tendency a column) written out to t, phq (nlev, ncol), and the check of
    the fixed t, phq, prect against the rows of ``bounds``: the count of values
    outside."""
    n = last - first
    correction = sums[_CORRECTION]
    for m in range(n):
        i = first + m
        removed = (sums[_ENERGY_FIXED, m] / GRAVITY
                   - _boundary(surfaces, energy_weights, host[0], i, m))
        columns[4, i] = removed
        correction[m] = removed / (CP * (sums[_MASS, m] / GRAVITY))
    inside = 0
    for k in range(t.shape[0]):
        for m in range(n):
            v = work[t0 + k, m] - correction[m]
            w = work[p0 + k, m]
            t[k, first + m] = v
            phq[k, first + m] = w
            inside += (v >= bounds[0, 0]) & (v <= bounds[0, 1])
            inside += (w >= bounds[1, 0]) & (w <= bounds[1, 1])
    for i in range(first, last):
        inside += (prect[i] >= bounds[2, 0]) & (prect[i] <= bounds[2, 1])
    return n * (2 * t.shape[0] + 1) - inside


@numba.njit(cache=True, fastmath=FAST, inline="always")
def _block_stats(columns, area, partial, first, last):
    """partial[j] = (sum of w v, of w |v|, of w, largest |v|, its column) over the block's
    columns of each of the first len(partial) rows of ``columns``; w = area, or 1 where
    area is empty."""
    weighted = area.shape[0] > 0
    for j in range(partial.shape[0]):
        mean = mean_abs = total = 0.0
        largest = -1.0
        where = first
        for i in range(first, last):
            v = columns[j, i]
            w = area[i] if weighted else 1.0
            mean += w * v
            mean_abs += w * abs(v)
            total += w
            if abs(v) > largest:
                largest, where = abs(v), i
        partial[j, 0], partial[j, 1], partial[j, 2] = mean, mean_abs, total
        partial[j, 3], partial[j, 4] = largest, where


@numba.njit(cache=True)
def _combine_stats(partial, stats):
    """stats (m, 4) from the blocks' partial sums (blocks, m, _STATS), blocks in order
    (so the first column of the largest |value| wins, as numpy's argmax)."""
    for j in range(stats.shape[0]):
        mean = mean_abs = total = 0.0
        largest = -1.0
        where = 0.0
        for b in range(partial.shape[0]):
            mean += partial[b, j, 0]
            mean_abs += partial[b, j, 1]
            total += partial[b, j, 2]
            if partial[b, j, 3] > largest:
                largest, where = partial[b, j, 3], partial[b, j, 4]
        stats[j, 0], stats[j, 1] = mean / total, mean_abs / total
        stats[j, 2], stats[j, 3] = largest, where


#: Coupler.conservation -> the kernel's mode
MODE_CODES = {"off": OFF, "diagnose": DIAGNOSE, "enforce": ENFORCE}
#: each surface output's sign in the energy entering the column (column_budgets)
RADIATION_SIGNS = {"FSNT": 1.0, "FSNS": -1.0, "FLNT": -1.0, "FLNS": 1.0}
#: the variables the fixes change, in the order of outputs_conserved's fixed_bounds
FIXED = ("TPHYSTND", "PHQ", "PRECT")


@dataclass(frozen=True)
class OutputLayout:
    """outputs_conserved's description of a model's outputs, made once (:meth:`of`): the
    names and first columns in y of its profiles and surface fields, the bounds each is
    checked against when widened and those of the fixed outputs, the rows of TPHYSTND,
    PHQ and PRECT, and the surface outputs' weights in the budgets' boundary terms."""

    bounds: dict
    profile_names: tuple
    surface_names: tuple
    profile_starts: np.ndarray
    surface_starts: np.ndarray
    profile_bounds: np.ndarray
    surface_bounds: np.ndarray
    budget_rows: np.ndarray
    energy_weights: np.ndarray
    water_weights: np.ndarray
    fixed_bounds: np.ndarray

    @classmethod
    def of(cls, outputs, bounds: dict, fixed: tuple, included: bool) -> OutputLayout:
        """From the model's output slots (climnn.coupler.coupler.Slot), the host's
        bounds (name -> (low, high)), the outputs the fixes change (checked finite when
        widened, their bounds after the fixes) and the surface-flux convention."""
        finite = (-np.finfo(np.float64).max, np.finfo(np.float64).max)
        profiles = [s for s in outputs if not s.surface]
        surfaces = [s for s in outputs if s.surface]

        def widened_bounds(group):
            return np.array([finite if s.name in fixed else bounds.get(s.name, finite)
                             for s in group], dtype=np.float64).reshape(-1, 2)

        def row(group, name):
            names = [s.name for s in group]
            return names.index(name) if name in names else 0

        flux = 1.0 if included else 0.0
        energy = {**RADIATION_SIGNS, "SHF": flux, "LHF": flux}
        water = {"LHF": flux / LV}
        return cls(
            dict(bounds), tuple(s.name for s in profiles), tuple(s.name for s in surfaces),
            np.array([s.start for s in profiles], dtype=np.int64),
            np.array([s.start for s in surfaces], dtype=np.int64),
            widened_bounds(profiles), widened_bounds(surfaces),
            np.array([row(profiles, "TPHYSTND"), row(profiles, "PHQ"),
                      row(surfaces, "PRECT")], dtype=np.int64),
            np.array([energy.get(s.name, 0.0) for s in surfaces]),
            np.array([water.get(s.name, 0.0) for s in surfaces]),
            np.array([bounds.get(n, finite) for n in FIXED], dtype=np.float64))
