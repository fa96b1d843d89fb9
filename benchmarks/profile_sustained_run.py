"""Where a run's wall time and cores go: the step's sections against the callbacks.

Usage: ``python benchmarks/profile_sustained_run.py [--days 20] [--out DIR] [--config YAML]
[--set KEY=VALUE ...] [--progress]``

Runs ``gcm.simulation.Simulation`` as ``climnn run`` does (history, restarts, progress bar
with --progress) with a timer that records, per section, wall seconds, process CPU seconds
(all threads) and main-thread CPU seconds: the step's own sections (``model.timer``:
step, physics, physics_<scheme>, transforms) and, wrapped from outside, the callbacks
(blow-up check, snapshot, zarr append, restart). Prints one JSON object: per section the
share of the run's wall time, its CPU use (process CPU / wall; 2.0 = both cores busy) and
its main-thread share (main-thread CPU / wall); the remainder (loop, progress bar); and
the per-step wall times as best / median of 24-step blocks and per day, so that the
bench's "best of 24-step blocks" can be set beside a sustained figure. On a shared
machine read shares and ratios, not absolute seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
BLOCK = 24  # steps per block, as climnn bench aquaplanet


def clocks() -> tuple[float, float, float]:
    """(wall, process CPU, main-thread CPU) seconds now."""
    return time.perf_counter(), time.process_time(), time.thread_time()


class CpuTimer:
    """A model timer (gcm.timing's protocol) that also sums process and thread CPU time."""

    def __init__(self):
        self.totals = defaultdict(lambda: [0.0, 0.0, 0.0])
        self.calls = defaultdict(int)
        self.step_walls: list[float] = []

    @contextlib.contextmanager
    def section(self, name: str):
        start = clocks()
        try:
            yield
        finally:
            spent = [b - a for a, b in zip(start, clocks(), strict=True)]
            for i, value in enumerate(spent):
                self.totals[name][i] += value
            self.calls[name] += 1
            if name == "step":
                self.step_walls.append(spent[0])

    def wrap(self, name: str, function):
        def timed(*args, **kwargs):
            with self.section(name):
                return function(*args, **kwargs)
        return timed


def instrument(sim, timer: CpuTimer) -> None:
    """Hand ``timer`` to the model and wrap the callbacks' pieces (no gcm source edited)."""
    model = sim.model
    model.timer = timer
    model.snapshot = timer.wrap("snapshot", model.snapshot)
    if sim.writer is not None:
        sim.writer.append = timer.wrap("history_append", sim.writer.append)
    names = {"check_blow_up": "blow_up_check", "write_output": "output",
             "write_restart": "restart"}
    for callback in sim.callbacks:
        callback.action = timer.wrap(names.get(callback.action.__name__,
                                               callback.action.__name__), callback.action)
    # the loop calls these two directly too: the first snapshot and the final restart
    sim.write_output = timer.wrap("initial_output", sim.write_output)
    sim.write_restart = timer.wrap("restart", sim.write_restart)


def block_figures(step_walls: list[float], steps_per_day: int) -> dict:
    blocks = [sum(step_walls[i:i + BLOCK]) / BLOCK
              for i in range(0, len(step_walls) - BLOCK + 1, BLOCK)]
    days = [sum(step_walls[i:i + steps_per_day])
            for i in range(0, len(step_walls) - steps_per_day + 1, steps_per_day)]
    return {"step_ms_best_block": 1e3 * min(blocks), "step_ms_median_block":
            1e3 * statistics.median(blocks), "step_ms_worst_block": 1e3 * max(blocks),
            "step_seconds_per_day_first_last": [days[0], days[-1]] if days else None}


def report(timer: CpuTimer, total: tuple[float, float, float], steps: int, dt: float) -> dict:
    wall = total[0]
    sections = {name: {"wall_share": round(v[0] / wall, 4), "cpu_use": round(v[1] / v[0], 2),
                       "main_thread_use": round(v[2] / v[0], 2), "calls": timer.calls[name]}
                for name, v in sorted(timer.totals.items()) if v[0] > 0}
    loop_parts = ("step", "blow_up_check", "output", "restart", "initial_output")
    outside = [total[i] - sum(timer.totals[n][i] for n in loop_parts) for i in range(3)]
    sections["loop_and_progress"] = {"wall_share": round(outside[0] / wall, 4),
                                     "cpu_use": round(outside[1] / max(outside[0], 1e-9), 2)}
    step = timer.totals["step"][0] / steps
    return {"steps": steps, "run_cpu_use": round(total[1] / wall, 2),
            "run_main_thread_use": round(total[2] / wall, 2),
            "step_over_run_wall": round(timer.totals["step"][0] / wall, 4),
            "sypd_run": round(steps * dt / wall * 86400 / (365 * 86400), 1),
            "sypd_inside_step": round(dt / step * 86400 / (365 * 86400), 1),
            **{k: (round(v, 2) if isinstance(v, float) else v)
               for k, v in block_figures(timer.step_walls, round(86400 / dt)).items()},
            "sections": sections}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=REPOSITORY / "run/aquaplanet.yaml")
    parser.add_argument("--days", type=float, default=20.0)
    parser.add_argument("--out", type=Path, help="run directory (default: a temporary one)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--progress", action="store_true", help="show tqdm's bar, as climnn run")
    args = parser.parse_args()
    sys.path.insert(0, str(REPOSITORY))
    from climnn.cli import parse_overrides
    from gcm.config import load_config
    from gcm.model import Model
    from gcm.simulation import Simulation

    out = args.out or Path(tempfile.mkdtemp(prefix="profile_run_")) / "run"
    sim = Simulation(Model(load_config(args.config, **parse_overrides(args.set))), out,
                     progress=args.progress)
    timer = CpuTimer()
    instrument(sim, timer)
    start = clocks()
    sim.run(args.days)
    total = tuple(b - a for a, b in zip(start, clocks(), strict=True))
    print(json.dumps(report(timer, total, timer.calls["step"], sim.model.dt)))


if __name__ == "__main__":
    main()
