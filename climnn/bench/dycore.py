"""Held–Suarez speed of the dynamical core: seconds per step and simulated years per
day (SYPD) at T31L8 and T42L25 with 1 and 2 numba threads, after compile, and the
time to compile from an empty numba cache (measured in a fresh process)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

# (name, truncation, levels, sigma set, step minutes)
CASES = (("T31L8", 31, 8, "equal", 40.0), ("T42L25", 42, 25, "frierson_l25", 30.0))


def held_suarez_config(truncation, levels, sigma, step_minutes):
    from gcm.config import ModelConfig

    cfg = ModelConfig(name=f"bench_T{truncation}L{levels}")
    cfg.resolution.truncation, cfg.resolution.levels = truncation, levels
    cfg.resolution.sigma = sigma
    cfg.time.step_minutes = step_minutes
    cfg.initial.perturbation = 1.0
    return cfg.validate()


def block_seconds_per_step(model, steps: int, repeats: int = 3) -> list[float]:
    """Seconds per step of each of ``repeats`` blocks of ``steps`` steps."""
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            model.step()
        out.append((time.perf_counter() - start) / steps)
    return out


def compile_seconds() -> float:
    """Wall time to build a T31L8 model and take two steps with an empty numba cache,
    minus the same after the cache is warm: the price of a first run."""
    code = ("import time; t=time.perf_counter();"
            "from climnn.bench.dycore import held_suarez_config as c;"
            "from gcm.model import Model; m=Model(c(31,8,'equal',40.0)); m.step(); m.step();"
            "print(time.perf_counter()-t)")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold = float(subprocess.check_output([sys.executable, "-c", code], env=env))
        warm = float(subprocess.check_output([sys.executable, "-c", code], env=env))
    return cold - warm


def run(quick: bool = False) -> dict:
    import numba

    from climnn.bench import machine
    from gcm.model import Model
    from gcm.simulation import simulated_years_per_day

    figures = {}
    steps = 10 if quick else 40
    for name, trunc, nlev, sigma, minutes in CASES:
        model = Model(held_suarez_config(trunc, nlev, sigma, minutes))
        for threads in (1, 2):
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            model.step()  # compile / warm caches for this thread count
            # the best block: the least disturbed by other load
            sec = min(block_seconds_per_step(model, steps, repeats=2 if quick else 3))
            label = "1thread" if threads == 1 else f"{threads}threads"
            figures[f"step_s_{name}_{label}"] = sec
            figures[f"sypd_{name}_{label}"] = simulated_years_per_day(model.dt, sec)
    figures["compile_s"] = compile_seconds()
    figures["machine"] = machine()
    return figures
