"""Best and median seconds a step, over 7 blocks of 24 steps, for the dry Held–Suarez
T42L25 and the moist aquaplanet T42L25 (2 days from rest at 285 K, q 5 g/kg), 2 threads:
one JSON line. To compare two checkouts, alternate processes:

    for i in 1 2 3; do for repo in /path/a /path/b; do
        (cd $repo && PYTHONPATH=$repo python benchmarks/step_blocks.py); done; done
"""

import json
import statistics

import numba

from climnn.bench.dycore import block_seconds_per_step
from gcm.config import load_config
from gcm.model import Model

CASES = (
    ("dry", "run/held_suarez.yaml", {"resolution.truncation": 42, "resolution.levels": 25,
                                     "resolution.sigma": "frierson_l25",
                                     "time.step_minutes": 30.0, "threads": 2}),
    ("moist", "run/aquaplanet.yaml", {"threads": 2, "initial.temperature": 285.0,
                                      "initial.humidity": 0.005}),
)


def blocks(model: Model, spinup: int = 144, count: int = 7, steps: int = 24) -> list[float]:
    """Seconds a step of ``count`` blocks of ``steps`` steps, after ``spinup`` steps."""
    for _ in range(spinup):
        model.step()
    return block_seconds_per_step(model, steps, repeats=count)


if __name__ == "__main__":
    numba.set_num_threads(2)
    figures = {}
    for name, path, overrides in CASES:
        seconds = blocks(Model(load_config(path, **overrides)))
        figures[name] = {"best_s": min(seconds), "median_s": statistics.median(seconds)}
    print(json.dumps(figures))
