"""The logistic-map experiment end to end: data, the hyperparameter search, the controls,
free iteration across r and the figures of merit (``climnn toy logistic``).

1. Time series of the true map at r in TRAIN_R (period 1 and 2 only) train the r network;
   series at r in VALIDATION_R (period 4) are its validation set (a split in r, toward the
   range it must extrapolate to). Each candidate of the search is trained; the one of the
   lowest validation one-step MSE is kept, as trained (never refitted on the validation r).
2. Controls with the kept settings: a network without r on the same series; return-map
   networks at RETURN_MAP_R alone and the line in r through them.
3. Every map is iterated from x0 across [R_LOW, R_HIGH]: attractor, Lyapunov exponent,
   period doublings and onset of chaos (``climnn.toy.logistic.transitions``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from climnn.threads import torch_threads
from climnn.toy.logistic import R_CHAOS, IterationSettings, LogisticMap, transitions
from climnn.toy.logistic_network import (
    NetworkMap,
    NetworkSettings,
    ReturnMapLine,
    search,
    series_pairs,
    train_network,
)

R_LOW, R_HIGH = 2.5, 4.0  # the range iterated and drawn
TRAIN_R, VALIDATION_R = (2.5, 3.4), (3.4, 3.5)
RETURN_MAP_R = (2.8, 3.3)  # the two single-r return maps of the control
SHOWN_R = (3.2, 3.45, 3.7, 3.9, 4.0)  # return maps drawn and measured
MAPS = ("true", "r_network", "no_r_network", "return_map_line")


def _candidates(epochs: int) -> list[NetworkSettings]:
    """The search: depth, width, activation and learning rate around the defaults."""
    grid = [(2, 32, "gelu", 1e-2), (2, 32, "gelu", 3e-3), (2, 32, "tanh", 1e-2),
            (2, 64, "gelu", 1e-2), (3, 32, "gelu", 1e-2), (3, 64, "gelu", 3e-3)]
    return [NetworkSettings(hidden_layers=d, width=w, activation=a, lr=lr, epochs=epochs)
            for d, w, a, lr in grid]


@dataclass(frozen=True)
class ExperimentSettings:
    """The experiment's sizes: r spacing of the training series, series per r and their
    length; the search's candidates; how orbits are iterated (``IterationSettings``)."""

    r_spacing: float = 0.01
    series_per_r: int = 4
    steps: int = 40
    candidates: tuple = field(default_factory=lambda: tuple(_candidates(200)))
    iteration: IterationSettings = field(default_factory=lambda: IterationSettings(
        transient=20_000, keep=1000, spacing=2e-3, refine=41))
    seed: int = 0


def quick_settings(seed: int = 0) -> ExperimentSettings:
    """A few seconds: the full search's choice alone (3 x 32 GELU, lr 1e-2), trained
    briefly on larger batches, iterated on a coarse grid."""
    chosen = dataclasses.replace(_candidates(40)[4], batch_size=512)
    return ExperimentSettings(
        r_spacing=0.02, series_per_r=4, steps=40, candidates=(chosen,),
        iteration=IterationSettings(transient=1500, keep=150, period_tolerance=1e-5,
                                    spacing=1e-2, refine=21),
        seed=seed)


@dataclass
class Outcome:
    """What the figures and metrics.json are made of: per map (MAPS) its transitions, its
    attractor on the grid, and the networks' return maps; the search table."""

    transitions: dict
    attractors: dict
    maps: dict
    search: list
    chosen: NetworkSettings
    pair_counts: dict
    seconds: float


def _band(band: tuple, spacing: float) -> np.ndarray:
    return np.arange(band[0], band[1] - 1e-12, spacing)


def run_experiment(settings: ExperimentSettings) -> Outcome:
    """Steps 1-3 of the module docstring (torch on one thread)."""
    start = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    train_r = _band(TRAIN_R, settings.r_spacing)
    train = series_pairs(train_r, settings.series_per_r, settings.steps, rng)
    validation = series_pairs(_band(VALIDATION_R, settings.r_spacing), settings.series_per_r,
                              settings.steps, rng)
    candidates = [dataclasses.replace(c, seed=settings.seed) for c in settings.candidates]
    single = train_r.size * settings.series_per_r  # as many pairs as the r network's
    with torch_threads(1):
        r_net, chosen, table = search(train, validation, candidates)
        no_r, _ = train_network(train, validation, chosen, uses_r=False)
        singles = [train_network(series_pairs([r], single, settings.steps, rng), None, chosen,
                                 uses_r=False)[0] for r in RETURN_MAP_R]
        maps = {"true": LogisticMap, "r_network": NetworkMap(r_net),
                "no_r_network": NetworkMap(no_r),
                "return_map_line": ReturnMapLine(singles[0], RETURN_MAP_R[0], singles[1],
                                                 RETURN_MAP_R[1])}
        found, attractors = {}, {}
        for name, mapping in maps.items():
            found[name], attractors[name] = transitions(mapping, R_LOW, R_HIGH,
                                                        settings.iteration)
    return Outcome(found, attractors, maps, table, chosen,
                   {"train": train.size, "validation": validation.size},
                   time.perf_counter() - start)


def return_map_figures(mapping, r: float, points: int = 201) -> dict:
    """How far the return map x -> f(x, r) of ``mapping`` is from the true one, and from a
    parabola: max and RMS of f - r x (1 - x) over x in [0, 1], the RMS residual of the
    least-squares parabola and its coefficients (the true map's: -r, r, 0)."""
    x = np.linspace(0.0, 1.0, points)
    f = mapping.step(x, np.full_like(x, r))
    error = f - LogisticMap.step(x, r)
    coefficients = np.polyfit(x, f, 2)
    residual = f - np.polyval(coefficients, x)
    return {"max_error": float(np.max(np.abs(error))),
            "rms_error": float(np.sqrt(np.mean(error ** 2))),
            "parabola_rms_residual": float(np.sqrt(np.mean(residual ** 2))),
            "parabola_coefficients": [float(c) for c in coefficients]}


def metrics(outcome: Outcome, settings: ExperimentSettings, quick: bool) -> dict:
    """metrics.json: per map its transitions against the true map's, the Lyapunov
    exponent's mean absolute error over the chaotic range [R_CHAOS, R_HIGH] and over all
    of [R_LOW, R_HIGH] (against the true map iterated alike), and its return maps at
    SHOWN_R; the search table and the kept settings."""
    true = outcome.attractors["true"]
    chaos = true.r >= R_CHAOS
    per_map = {}
    for name in MAPS:
        attractor = outcome.attractors[name]
        error = np.abs(attractor.lyapunov - true.lyapunov)
        entry = {**outcome.transitions[name],
                 "lyapunov_mae_chaos": _finite_mean(error[chaos]),
                 "lyapunov_mae_all": _finite_mean(error),
                 "escaped_fraction": float(np.mean(np.isnan(attractor.lyapunov)))}
        if name != "true":
            entry["return_maps"] = {f"{r:g}": return_map_figures(outcome.maps[name], r)
                                    for r in SHOWN_R}
        per_map[name] = entry
    return {"toy": "logistic", "quick": quick, "seed": settings.seed,
            "known": {"period_doubling_1": 3.0, "period_doubling_2": 1.0 + 6 ** 0.5,
                      "period_doubling_3": 3.5440903596, "chaos_onset": R_CHAOS},
            "train_r": list(TRAIN_R), "validation_r": list(VALIDATION_R),
            "return_map_r": list(RETURN_MAP_R), "pairs": outcome.pair_counts,
            "chosen": dataclasses.asdict(outcome.chosen), "search": outcome.search,
            "iteration": dataclasses.asdict(settings.iteration), "maps": per_map,
            "seconds": outcome.seconds}


def _finite_mean(values: np.ndarray) -> float | None:
    """The mean of the finite values (superstable -inf and escaped NaN left out)."""
    finite = values[np.isfinite(values)]
    return float(np.mean(finite)) if finite.size else None
