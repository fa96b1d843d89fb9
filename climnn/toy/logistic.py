"""The logistic map x -> r x (1 - x) (May 1976, Nature 261, 459) and what its iteration shows.

Any map of the same form can be iterated here, the true one or a learned one: a *map* is an
object with ``step(x, r)`` -> x_next and ``step_and_slope(x, r)`` -> (x_next, d x_next / dx),
both on float64 arrays of shape (n,), one orbit per entry of ``r`` (:class:`LogisticMap` is
the true map; ``climnn.toy.logistic_network.NetworkMap`` a network's).

- :func:`attractor`: the points an orbit visits after a transient, and its Lyapunov exponent
  lambda = mean ln|f'(x_n)| along the orbit (nats per iteration);
- :func:`periods`: the smallest period of those points (0: none up to ``max_period``);
- :func:`transitions`: the first period doublings (period 1 -> 2, 2 -> 4, 4 -> 8) and the
  onset of chaos (the first r whose Lyapunov exponent exceeds ``chaos_threshold``), found on
  a grid of r and refined on a finer grid inside the bracketing interval.

Known values the tests check against: doublings at r = 3, 1 + sqrt(6) and 3.5440903596
(May 1976; Feigenbaum 1978), the accumulation point r = 3.5699456719 beyond which the map
is chaotic (except in windows), lambda = ln|2 - r| on the stable fixed point (1 < r < 3)
and lambda = ln 2 at r = 4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: r of the first three period doublings (1 -> 2, 2 -> 4, 4 -> 8) and of their accumulation.
DOUBLINGS = (3.0, 1.0 + math.sqrt(6.0), 3.5440903596)
R_CHAOS = 3.5699456719
#: |x| beyond which an orbit has escaped (the true map sends x < 0 or x > 1 to -infinity).
ESCAPE = 1e3


class LogisticMap:
    """The true map, x and r float64 arrays of one shape."""

    @staticmethod
    def step(x: np.ndarray, r: np.ndarray) -> np.ndarray:
        return r * x * (1.0 - x)

    @staticmethod
    def step_and_slope(x: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return r * x * (1.0 - x), r * (1.0 - 2.0 * x)


def time_series(r: np.ndarray, x0: np.ndarray, steps: int) -> np.ndarray:
    """(steps + 1, n): the true map's orbits from ``x0`` at ``r`` (both (n,)), x0 first."""
    series = np.empty((steps + 1, np.size(r)))
    series[0] = x0
    for n in range(steps):
        series[n + 1] = LogisticMap.step(series[n], r)
    return series


@dataclass
class IterationSettings:
    """How orbits are iterated and read.

    transient : iterations discarded before the attractor is read (the distance to it
        shrinks like |multiplier|^n, slowly next to a bifurcation: this sets how close to
        one a bifurcation can be located)
    keep : iterations read on the attractor (points and Lyapunov exponent)
    x0 : the initial value of every orbit
    period_tolerance : points closer than this are the same point (periods)
    max_period : the longest period looked for
    chaos_threshold : a Lyapunov exponent above this is chaos (transitions)
    spacing : the grid of r that brackets a transition (transitions)
    refine : points of the finer grid inside the bracket
    """

    transient: int = 100_000
    keep: int = 4000
    x0: float = 0.3
    period_tolerance: float = 1e-6
    max_period: int = 64
    chaos_threshold: float = 0.01
    spacing: float = 1e-3
    refine: int = 101


@dataclass
class Attractor:
    """Orbits at values ``r`` (n,): ``points`` (keep, n), ``lyapunov`` (n,) in nats per
    iteration (NaN where the orbit escaped, -inf on a superstable cycle)."""

    r: np.ndarray
    points: np.ndarray
    lyapunov: np.ndarray


def attractor(mapping, r: np.ndarray, settings: IterationSettings) -> Attractor:
    """Iterate ``mapping`` (module docstring) from settings.x0 at every value of ``r`` (n,)."""
    r = np.asarray(r, dtype=np.float64)
    x = np.full(r.shape, settings.x0)
    for _ in range(settings.transient):
        x = _escaped_to_nan(mapping.step(x, r))
    points = np.empty((settings.keep,) + r.shape)
    log_slope = np.zeros(r.shape)
    with np.errstate(divide="ignore", invalid="ignore"):  # slope 0: ln 0 = -inf is right
        for n in range(settings.keep):
            points[n] = x
            x, slope = mapping.step_and_slope(x, r)
            x = _escaped_to_nan(x)
            log_slope += np.log(np.abs(slope))
    return Attractor(r, points, log_slope / settings.keep)


def _escaped_to_nan(x: np.ndarray) -> np.ndarray:
    return np.where(np.abs(x) < ESCAPE, x, np.nan)


def periods(points: np.ndarray, tolerance: float, max_period: int) -> np.ndarray:
    """(n,) int: the smallest p <= max_period with |x_{k+p} - x_k| < tolerance for all the
    ``points`` (keep, n) of an orbit; 0 when there is none (chaos or a longer period), -1
    for an orbit that escaped."""
    found = np.zeros(points.shape[1], dtype=np.int64)
    with np.errstate(invalid="ignore"):  # escaped orbits: NaN - NaN
        for p in range(1, max_period + 1):
            close = np.all(np.abs(points[p:] - points[:-p]) < tolerance, axis=0)
            found = np.where((found == 0) & close, p, found)
    return np.where(np.isfinite(points).all(axis=0), found, -1)


def _conditions(settings: IterationSettings) -> dict:
    """{transition name: function of an Attractor -> (n,) bool, True past the transition}."""
    def past_period(order):
        def past(a: Attractor) -> np.ndarray:
            p = periods(a.points, settings.period_tolerance, settings.max_period)
            # no period found: chaos past every doubling, or an orbit still converging
            # next to a bifurcation (Lyapunov exponent about 0), which is not past it
            return (p >= 2 ** order) | ((p == 0) & (a.lyapunov > settings.chaos_threshold))
        return past

    conditions = {f"period_doubling_{k}": past_period(k) for k in (1, 2, 3)}
    conditions["chaos_onset"] = lambda a: a.lyapunov > settings.chaos_threshold
    return conditions


def transitions(mapping, r_low: float, r_high: float,
                settings: IterationSettings) -> tuple[dict, Attractor]:
    """The first r in [r_low, r_high] past each transition (``period_doubling_1..3``,
    ``chaos_onset``; None where the grid never gets past it, r_low where it starts past
    it), to within settings.spacing / (settings.refine - 1) and the transient's reach; and
    the attractor on the grid of settings.spacing (for the bifurcation diagram)."""
    grid = np.linspace(r_low, r_high, round((r_high - r_low) / settings.spacing) + 1)
    coarse = attractor(mapping, grid, settings)
    conditions = _conditions(settings)
    brackets = {}
    for name, past in conditions.items():
        index = np.flatnonzero(past(coarse))
        brackets[name] = None if index.size == 0 else int(index[0])
    fine = [np.linspace(grid[i - 1], grid[i], settings.refine)
            for i in brackets.values() if i]  # 0: past at r_low already
    found = {name: (None if i is None else float(grid[i])) for name, i in brackets.items()}
    if fine:
        refined = attractor(mapping, np.concatenate(fine), settings)
        start = 0
        for name, i in brackets.items():
            if not i:
                continue
            part = slice(start, start + settings.refine)
            first = np.flatnonzero(conditions[name](_part(refined, part)))
            found[name] = float(refined.r[part][first[0]]) if first.size else found[name]
            start += settings.refine
    return found, coarse


def _part(a: Attractor, part: slice) -> Attractor:
    return Attractor(a.r[part], a.points[:, part], a.lyapunov[part])
