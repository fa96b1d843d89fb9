"""Timing of the spherical harmonic transforms per model level.

Usage: ``python benchmarks/bench_transforms.py`` prints, for T31 and T42 with 8 and 25
levels and for 1 and 2 numba threads, the cost per level in µs of to_grid,
to_spectral, cos_uv_from_vordiv and vordiv_from_cos_uv (best of ``repeats`` batches,
after compilation).  Each call transforms all levels at once, as the model does.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gcm.gaussian_grid import gaussian_grid  # noqa: E402
from gcm.spherical_harmonics import SpectralTransform  # noqa: E402

OPERATIONS = ("to_grid", "to_spectral", "cos_uv_from_vordiv", "vordiv_from_cos_uv")


def _best_time(func, repeats: int, inner: int) -> float:
    """Best over ``repeats`` of the mean time of ``inner`` calls, in seconds."""
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            func()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


def measure(truncation: int, nlev: int, repeats: int = 10, threads: int | None = None) -> dict:
    """Time the transforms at truncation T with nlev levels batched in one call.

    Parameters
    ----------
    truncation : int
    nlev : int
        Number of levels (leading batch dimension).
    repeats : int
        Number of timed batches; the best is reported.
    threads : int, optional
        numba thread count for the measurement (restored afterwards).

    Returns
    -------
    dict with keys truncation, nlev, threads and, for each operation, the time per
    level in µs.
    """
    st = SpectralTransform(gaussian_grid(truncation))
    rng = np.random.default_rng(1)
    shape = (nlev,) + st.spec_shape
    spec = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * st.valid
    spec[..., 0, :] = spec[..., 0, :].real
    vor = spec.copy()
    div = 0.1 * spec[::-1].copy()
    grid = st.to_grid(spec)
    u_cos, v_cos = st.cos_uv_from_vordiv(vor, div)
    calls = {
        "to_grid": lambda: st.to_grid(spec),
        "to_spectral": lambda: st.to_spectral(grid),
        "cos_uv_from_vordiv": lambda: st.cos_uv_from_vordiv(vor, div),
        "vordiv_from_cos_uv": lambda: st.vordiv_from_cos_uv(u_cos, v_cos),
    }
    old_threads = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        result = {"truncation": truncation, "nlev": nlev, "threads": numba.get_num_threads()}
        for name in OPERATIONS:
            calls[name]()  # compile / warm caches
            inner = max(1, 400 // nlev)
            result[name] = _best_time(calls[name], repeats, inner) / nlev * 1e6
    finally:
        numba.set_num_threads(old_threads)
    return result


def main() -> None:
    thread_counts = sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)})
    header = f"{'case':<16}" + "".join(f"{name:>20}" for name in OPERATIONS)
    print("µs per level (best of batched calls)")
    print(header)
    print("-" * len(header))
    for threads in thread_counts:
        for truncation in (31, 42):
            for nlev in (8, 25):
                r = measure(truncation, nlev, repeats=10, threads=threads)
                case = f"T{truncation}L{nlev} {r['threads']}thr"
                print(f"{case:<16}" + "".join(f"{r[name]:>20.1f}" for name in OPERATIONS))


if __name__ == "__main__":
    main()
