"""Dataset pipeline speed: the overhead of ``generate`` over a plain teacher run,
conversion throughput (synthetic CBRAIN files) and statistics throughput, in samples
(columns) per second.

The generation overhead is timed in one process on one model stepping on: blocks of
``every x batch`` steps through a Simulation, alternately plain and sampling (the
ColumnSampler switched off and on; each sampling block takes one batch of samples,
appends it to a real store and writes the restart, as ``climnn generate`` does), after a
warm-up pair. overhead = median over pairs of (sampling block / plain block next to it)
- 1, so that a slow phase of a shared machine hits both sides of a pair.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

EVERY = 6  # steps between samples (the seed paper's every-3-hours at 30 min)
BATCH = 8  # samples a store append (generate's --checkpoint-every default)


def _small_config():
    import climnn
    from gcm.config import load_config

    return load_config(climnn.repository_file("run/aquaplanet.yaml"), **{
        "resolution.truncation": 31, "time.step_minutes": 30.0, "threads": 2,
        "initial.temperature": 285.0, "initial.humidity": 0.002,
        "output.restart_interval_days": 0})


class BlockClock:
    """Callback every block of steps: the wall time of each block, and the sampler
    switched on for every second one (sampling blocks come second in each pair)."""

    def __init__(self, sampler):
        self.sampler = sampler
        self.blocks: list[tuple[bool, float]] = []  # (sampling, seconds)
        self._start: float | None = None

    def __call__(self, sim) -> None:
        now = time.perf_counter()
        if self._start is None or self._start < sim.run_start[0]:
            self._start = sim.run_start[0]  # the first block of a run
        self.blocks.append((self.sampler.enabled, now - self._start))
        self.sampler.enabled = not self.sampler.enabled
        self._start = time.perf_counter()


def generate_overhead(pairs: int, folder: Path) -> dict:
    """Median relative cost of sampling every EVERY steps at T31L25 (see the module
    docstring), with the plain and sampling seconds per step (medians)."""
    from climnn.data.generate import sampling_simulation
    from gcm.model import Model

    model = Model(_small_config())
    for _ in range(4):  # compile and warm caches
        model.step()
    sim, sampler = sampling_simulation(model, folder / "gen.zarr", EVERY, BATCH,
                                       progress=False)
    sampler.enabled = False
    block = EVERY * BATCH
    clock = BlockClock(sampler)
    # the blocks line up with the sampling schedule: each sampling block takes BATCH
    # samples and appends them (a block of steps whose count starts a multiple of it)
    sim.run_steps(block - model.step_count % block)
    sim.add_callback(clock, every=block, name="block_clock")
    sim.run_steps(block * 2 * (pairs + 1))
    timed = clock.blocks[2:]  # the first pair warms up (the store is created there)
    ratios = [sampling / plain for (_, plain), (_, sampling) in zip(timed[::2], timed[1::2],
                                                                   strict=True)]
    return {"generate_overhead": statistics.median(ratios) - 1.0,
            "generate_overhead_max": max(ratios) - 1.0,
            "generate_step_s_plain": statistics.median(t for _, t in timed[::2]) / block,
            "generate_step_s_sampling": statistics.median(t for _, t in timed[1::2]) / block,
            "generate_samples_stored": sampler.samples}


def convert_and_stats(folder: Path, files: int) -> tuple[float, float]:
    from climnn.data import compute_statistics, sample_count, validate_store
    from climnn.data.convert import convert_cbrain
    from climnn.data.synthetic import spcam_file

    inputs = [spcam_file(folder / f"spcam_{i}.nc", 8 * i, i, ntime=8, nlat=32, nlon=64, nlev=30)
              for i in range(files)]
    start = time.perf_counter()
    out = convert_cbrain(inputs, folder / "cbrain.zarr")
    convert_s = time.perf_counter() - start
    samples = sample_count(validate_store(out, check_values=False))
    start = time.perf_counter()
    compute_statistics(out)
    stats_s = time.perf_counter() - start
    return samples / convert_s, samples / stats_s


def run(quick: bool = False) -> dict:
    from climnn.bench import machine

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        figures = generate_overhead(2 if quick else 8, folder)
        convert_rate, stats_rate = convert_and_stats(folder, 2 if quick else 6)
    return {**figures, "convert_samples_per_s": convert_rate,
            "stats_samples_per_s": stats_rate, "machine": machine()}
