"""Moist aquaplanet speed: simulated years per day (SYPD) at T31L25 and T42L25 and
where the step time goes (dynamics, spectral transforms, each physics scheme).

The model starts from rest (285 K, q = 5 g/kg) and is spun up for SPINUP_DAYS before
anything is timed: the physics costs more once the climate has developed (convection
and condensation in many more columns). At T42L25 a step at day 1 took ~0.9 of one at
day 20, which took ~0.97 of one at the end of a year (alternating timings in one
process). ``--quick`` skips the spin-up and times fewer steps.

Speed: the best and the median of five blocks of 24 steps (``step_s_``/``sypd_`` and
``step_s_median_``/``sypd_median_``), and at T42L25 a sustained figure: 10 simulated days
(--quick: 1) through a Simulation with daily history and restarts, wall time with the
output (``sypd_sustained_T42L25_2threads``; ``share_outside_step_sustained_...`` is the
share of that time outside the model's steps).

Shares come from the model's timing hook (``model.timer = gcm.timing.StepTimer()``).
Physics time is the time inside the column-physics schemes; dynamics time is the rest
of the step (transforms, grid-point dynamics, implicit solve, filters, fixers and the
gathering of columns), so physics_to_dynamics_ratio = physics / dynamics per step.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from climnn.bench.dycore import block_seconds_per_step
from gcm.simulation import Simulation, simulated_years_per_day
from gcm.timing import NULL_TIMER, StepTimer

CASES = (("T31L25", 31, 30.0), ("T42L25", 42, 20.0))
SPINUP_DAYS = 30
SUSTAINED_DAYS = 10  # after the spin-up, with daily history and restarts
SUSTAINED_DAYS_QUICK = 1


def aquaplanet_model(truncation: int, step_minutes: float, threads: int):
    import climnn
    from gcm.config import load_config
    from gcm.model import Model
    from gcm.physics.teacher import TeacherPhysics  # noqa: F401  (fail early if missing)

    config_path = climnn.repository_file("run/aquaplanet.yaml")
    config = load_config(config_path, **{"resolution.truncation": truncation,
                                         "time.step_minutes": step_minutes,
                                         "threads": threads, "initial.temperature": 285.0,
                                         "initial.humidity": 0.005})
    return Model(config)


def section_seconds(model, steps: int) -> dict:
    """Seconds spent in each gcm.timing section over ``steps`` steps of ``model`` (its
    timer put back to none afterwards)."""
    timer = StepTimer()
    model.timer = timer
    try:
        for _ in range(steps):
            model.step()
    finally:
        model.timer = NULL_TIMER
    return dict(timer.seconds)


def profile_shares(model, steps: int) -> dict:
    """Shares of the step (gcm.timing sections) over ``steps`` steps: the transforms,
    each physics scheme, and the dynamics (the step minus the schemes)."""
    seconds = section_seconds(model, steps)
    total = seconds["step"]
    schemes = {name: value for name, value in seconds.items() if name.startswith("physics_")}
    physics = sum(schemes.values())
    out = {"share_transforms": seconds["transforms"] / total}
    out.update({f"share_{name}": value / total for name, value in schemes.items()})
    out["share_dynamics"] = (total - physics) / total
    out["physics_to_dynamics_ratio"] = physics / (total - physics)
    return out


def sustained(model, days: float, folder: Path) -> dict:
    """A run as users make it: ``days`` through a Simulation with the history every
    output interval (daily) and restarts, timed on the wall clock, output included;
    the share of that time outside the model's steps (output, restarts, callbacks)
    from the step timer."""
    model.timer = StepTimer()
    try:
        sim = Simulation(model, folder / "sustained", progress=False)
        start = time.perf_counter()
        sim.run(days)
        wall = time.perf_counter() - start
    finally:
        model.timer = NULL_TIMER
    # the timing callback reads and resets the timer every output interval
    stepping = sum(record["sections"].get("step", 0.0) for record in sim.timing.records)
    return {"sypd_sustained": simulated_years_per_day(days * 86400.0, wall),
            "share_outside_step_sustained": 1.0 - stepping / wall}


def run(quick: bool = False) -> dict:
    from climnn.bench import machine

    figures = {}
    steps = 6 if quick else 24
    with tempfile.TemporaryDirectory() as folder:
        for name, trunc, minutes in CASES:
            model = aquaplanet_model(trunc, minutes, threads=2)
            spinup = 4 if quick else int(round(SPINUP_DAYS * 1440 / minutes))
            for _ in tqdm(range(spinup), desc=f"spin-up {name}", unit="step", leave=False,
                          disable=None):
                model.step()
            figures[f"spinup_days_{name}"] = spinup * minutes / 1440
            # best and median of five short blocks: on a shared machine a block of 24
            # steps at T42 (under a second) varied from 30 to 49 ms a step in one process
            blocks = block_seconds_per_step(model, steps, repeats=2 if quick else 5)
            for label, sec in (("", min(blocks)), ("median_", statistics.median(blocks))):
                figures[f"step_s_{label}{name}_2threads"] = sec
                figures[f"sypd_{label}{name}_2threads"] = simulated_years_per_day(model.dt, sec)
            shares = profile_shares(model, steps)
            figures.update({f"{key}_{name}": value for key, value in shares.items()})
            if name == "T42L25":
                figures["physics_to_dynamics_ratio"] = shares["physics_to_dynamics_ratio"]
                run_figures = sustained(model, SUSTAINED_DAYS_QUICK if quick else SUSTAINED_DAYS,
                                        Path(folder))
                figures.update({f"{key}_{name}_2threads": value
                                for key, value in run_figures.items()})
    figures["machine"] = machine()
    return figures
