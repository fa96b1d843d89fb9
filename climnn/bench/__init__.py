"""Benchmarks behind ``climnn bench NAME``: each returns a flat dict of figures
(stable names, numbers) plus a ``machine`` entry."""

from __future__ import annotations

import os
import platform


def machine() -> dict:
    """Cores, CPU and library versions of this machine."""
    import numba
    import numpy

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return dict(cores=os.cpu_count(), cpu=cpu, python=platform.python_version(),
                numpy=numpy.__version__, numba=numba.__version__)


def format_table(name: str, figures: dict) -> str:
    rows = [f"climnn bench {name}"]
    width = max((len(key) for key in figures), default=0)
    for key, value in figures.items():
        if key == "machine":
            continue
        rows.append(f"  {key:<{width}} {value:>12.4g}" if isinstance(value, float)
                    else f"  {key:<{width}} {value!s:>12}")
    m = figures.get("machine", {})
    rows.append("  machine: " + ", ".join(f"{k}={v}" for k, v in m.items()))
    return "\n".join(rows)


def _dycore(quick=False):
    from climnn.bench.dycore import run

    return run(quick=quick)


def _aquaplanet(quick=False):
    from climnn.bench.aquaplanet import run

    return run(quick=quick)


def _data(quick=False):
    from climnn.bench.data import run

    return run(quick=quick)


def _train(quick=False):
    from climnn.bench.train import run

    return run(quick=quick)


def _hybrid(quick=False):
    from climnn.bench.hybrid import run

    return run(quick=quick)


def _sp(quick=False):
    from climnn.bench.sp import run

    return run(quick=quick)


BENCHMARKS = {"dycore": _dycore, "aquaplanet": _aquaplanet, "data": _data, "train": _train,
              "hybrid": _hybrid, "sp": _sp}
