"""Moist aquaplanet speed: simulated years per day (SYPD) at T31L25 and T42L25 and
where the step time goes (dynamics, spectral transforms, each physics scheme).

The model starts from rest (285 K, q = 5 g/kg) and is spun up for SPINUP_DAYS before
anything is timed: the physics costs more once the climate has developed (convection
and condensation in many more columns). At T42L25 a step at day 1 took ~0.9 of one at
day 20, which took ~0.97 of one at the end of a year (alternating timings in one
process). ``--quick`` skips the spin-up and times fewer steps.

Physics time is the time inside the column-physics schemes; dynamics time is the rest
of the step (transforms, grid-point dynamics, implicit solve, filters, fixers and the
gathering of columns), so physics_to_dynamics_ratio = physics / dynamics per step.
"""

from __future__ import annotations

import time
from collections import defaultdict

from tqdm import tqdm

from climnn.bench.dycore import seconds_per_step, sypd

CASES = (("T31L25", 31, 30.0), ("T42L25", 42, 20.0))
SPINUP_DAYS = 30
TRANSFORMS = ("to_grid", "to_spectral", "cos_uv_from_vordiv", "uv_from_vordiv",
              "vordiv_from_cos_uv", "vordiv_from_uv", "divergence_from_cos_uv", "cos_gradient")


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


class StepProfile:
    """Wall time spent in the transforms and in each physics scheme, by wrapping them."""

    def __init__(self, model):
        self.seconds = defaultdict(float)
        tr = model.transform
        for name in TRANSFORMS:
            setattr(tr, name, self._timed("transforms", getattr(tr, name)))
        schemes = getattr(model.physics, "schemes", {"physics": model.physics})
        for name, scheme in list(schemes.items()):
            schemes[name] = self._timed(f"physics_{name}", scheme)

    def _timed(self, key, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - start
        return wrapper


def profile_shares(model, steps: int) -> dict:
    profile = StepProfile(model)
    start = time.perf_counter()
    for _ in range(steps):
        model.step()
    total = time.perf_counter() - start
    physics = sum(v for k, v in profile.seconds.items() if k.startswith("physics_"))
    out = {f"share_{k}": v / total for k, v in profile.seconds.items()}
    out["share_dynamics"] = (total - physics) / total
    out["physics_to_dynamics_ratio"] = physics / (total - physics)
    return out


def run(quick: bool = False) -> dict:
    from climnn.bench import machine

    figures = {}
    steps = 6 if quick else 24
    for name, trunc, minutes in CASES:
        model = aquaplanet_model(trunc, minutes, threads=2)
        spinup = 4 if quick else int(round(SPINUP_DAYS * 1440 / minutes))
        for _ in tqdm(range(spinup), desc=f"spin-up {name}", unit="step", leave=False,
                      disable=None):
            model.step()
        figures[f"spinup_days_{name}"] = spinup * minutes / 1440
        # best of five short blocks: on a shared machine a block of 24 steps at T42
        # (under a second) varied from 30 to 49 ms a step within one process
        sec = seconds_per_step(model, steps, repeats=2 if quick else 5)
        figures[f"step_s_{name}_2threads"] = sec
        figures[f"sypd_{name}_2threads"] = sypd(sec, model.dt)
        shares = profile_shares(model, steps)
        figures.update({f"{key}_{name}": value for key, value in shares.items()})
        if name == "T42L25":
            figures["physics_to_dynamics_ratio"] = shares["physics_to_dynamics_ratio"]
    figures["machine"] = machine()
    return figures
