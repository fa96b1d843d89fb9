"""Dataset pipeline speed: the overhead of ``generate`` over a plain teacher run,
conversion throughput (synthetic CBRAIN files) and statistics throughput, in samples
(columns) per second."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path


def _small_config():
    import climnn
    from gcm.config import load_config

    return load_config(climnn.repository_file("run/aquaplanet.yaml"), **{
        "resolution.truncation": 31, "time.step_minutes": 30.0, "threads": 2,
        "initial.temperature": 285.0, "initial.humidity": 0.002})


def generate_overhead(days: float, every: int, folder: Path) -> float:
    """(generation time - plain run time) / plain run time, same steps and physics."""
    from climnn.data.generate import generate
    from gcm.model import Model

    warm = Model(_small_config())  # compile and warm caches
    for _ in range(4):
        warm.step()
    model = Model(_small_config())
    nsteps = int(round(days * 86400 / model.dt))
    start = time.perf_counter()
    for _ in range(nsteps):
        model.step()
    plain = time.perf_counter() - start
    start = time.perf_counter()
    generate(_small_config(), folder / "gen.zarr", days, every, progress=False)
    return (time.perf_counter() - start - plain) / plain


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
        overhead = generate_overhead(0.5 if quick else 1.0, 6, folder)
        convert_rate, stats_rate = convert_and_stats(folder, 2 if quick else 6)
    return {"generate_overhead": overhead, "convert_samples_per_s": convert_rate,
            "stats_samples_per_s": stats_rate, "machine": machine()}
