"""CRM cell updates per second for a batch of CRMs stepped together (the parallel numba
path): dry and moist (saturation adjustment in the buoyancy, Kessler microphysics), each
time scheme ("ab3" with its RK2 or its one-pass scalar transport, "one_step"; "rk3"), in
alternating blocks in one process. One JSON line.

    PYTHONPATH=$PWD python benchmarks/crm_speed.py --ncrm 32 --nx 32 --nz 24

A cell update is one full time step of one grid cell. The issue's bar for
``crm_cell_updates_per_s`` (dry, default scheme) is 5e7 on 2 cores. Blocks of the six
cases (dry/moist × ab3/one_step/rk3; "one_step" is "ab3" with ``scalar_scheme="one_step"``)
alternate, so each case sees the same machine load on average;
``*_median`` are medians over blocks, ``*_per_cpu_s`` cell updates per CPU second of the
process (what the work costs, whatever share of the cores the process got),
``ratio_ab3_over_rk3`` (wall), ``ratio_ab3_over_rk3_cpu`` and ``ratio_one_step_over_ab3``
(``_cpu``: the one-pass transport's speed over RK2's) medians of per-round ratios
(the figures a loaded machine spoils least), ``cpu_per_wall`` CPU seconds of the process over
wall seconds (2.0: both cores busy) and ``load_average`` the machine's 1-minute load before
the run. Figures and their history: docs/performance.md.

``--baseline REV`` instead times this tree's CRM against gcm/crm of git revision REV
(exported to a temporary package, imports renamed), in alternating blocks of old and new
(dry and moist, "ab3", constant ν = κ as above) and prints per-round old/new time ratios.
"""

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numba

from climnn.bench.sp import build
from gcm.crm import BaseState, CrmGrid

CASES = tuple((kind, scheme) for kind in ("dry", "moist") for scheme in ("ab3", "one_step", "rk3"))
# (the ratio's name, numerator case's scheme, denominator's)
RATIOS = (("ab3_over_rk3", "ab3", "rk3"), ("one_step_over_ab3", "one_step", "ab3"))


def baseline_package(revision: str):
    """gcm/crm as of git ``revision``, imported as package crm_baseline_<sha> (kept under
    the temporary directory so that its numba cache survives between runs)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sha = subprocess.check_output(["git", "-C", root, "rev-parse", "--short", revision],
                                  text=True).strip()
    name = f"crm_baseline_{sha}"
    folder = os.path.join(tempfile.gettempdir(), "crm_baselines")
    target = os.path.join(folder, name)
    os.makedirs(target, exist_ok=True)
    files = subprocess.check_output(["git", "-C", root, "ls-tree", "--name-only",
                                     f"{sha}:gcm/crm"], text=True).split()
    for file in (f for f in files if f.endswith(".py")):
        text = subprocess.check_output(["git", "-C", root, "show", f"{sha}:gcm/crm/{file}"],
                                       text=True).replace("gcm.crm", name)
        path = os.path.join(target, file)
        if not os.path.exists(path) or open(path).read() != text:
            with open(path, "w") as handle:
                handle.write(text)
    sys.path.insert(0, folder)
    package = importlib.import_module(name)
    for module in ("model", "microphysics"):
        importlib.import_module(f"{name}.{module}")
    return package


def against_baseline(args, grid: CrmGrid, base: BaseState) -> dict:
    """Per-round old/new ratios of wall and CPU time, dry and moist "ab3"."""
    old = baseline_package(args.baseline)
    runs = {(kind, version): list(build(grid, base, args.ncrm, kind == "moist", "ab3",
                                        package=old if version == "old" else None))
            for kind in ("dry", "moist") for version in ("old", "new")}
    times = {case: [] for case in runs}
    for _ in range(args.blocks):
        for case, run in runs.items():
            model, state = run
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(args.steps):
                state = model.step(state)
            times[case].append((time.perf_counter() - start, time.process_time() - start_cpu))
            run[1] = state
    out = {"baseline": args.baseline, "ncrm": args.ncrm, "nx": grid.nx, "nz": grid.nz,
           "threads": args.threads, "steps": args.steps, "blocks": args.blocks,
           "load_average": os.getloadavg()[0]}
    for kind in ("dry", "moist"):
        for index, clock in enumerate(("wall", "cpu")):
            ratios = [a[index] / b[index] for a, b in zip(times[(kind, "old")],
                                                          times[(kind, "new")], strict=True)]
            out[f"{kind}_old_over_new_{clock}"] = statistics.median(ratios)
            out[f"{kind}_old_over_new_{clock}_range"] = [min(ratios), max(ratios)]
            for version in ("old", "new"):
                out[f"{kind}_{version}_ms_{clock}"] = 1e3 * statistics.median(
                    t[index] for t in times[(kind, version)]) / args.steps
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ncrm", type=int, default=32)
    parser.add_argument("--nx", type=int, default=32)
    parser.add_argument("--nz", type=int, default=24)
    parser.add_argument("--steps", type=int, default=30, help="steps a block")
    parser.add_argument("--blocks", type=int, default=5, help="rounds of the four cases")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--baseline", help="a git revision to time against (see above)")
    args = parser.parse_args()
    numba.set_num_threads(args.threads)
    grid = CrmGrid(args.nx, args.nz, 4000.0, 500.0)
    base = BaseState.constant_n(grid)
    if args.baseline:
        print(json.dumps(_rounded(against_baseline(args, grid, base))))
        return
    runs = {(kind, scheme): list(build(grid, base, args.ncrm, kind == "moist",
                                       "ab3" if scheme == "one_step" else scheme,
                                       scalar_scheme="one_step" if scheme == "one_step" else "rk2"))
            for kind, scheme in CASES}
    cells = args.ncrm * grid.nx * grid.nz * args.steps
    rates = {case: [] for case in CASES}
    cpu_rates = {case: [] for case in CASES}
    load = os.getloadavg()[0]
    wall = cpu = 0.0
    for _ in range(args.blocks):
        for case in CASES:
            model, state = runs[case]
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(args.steps):
                state = model.step(state)
            seconds = time.perf_counter() - start
            cpu_seconds = time.process_time() - start_cpu
            wall += seconds
            cpu += cpu_seconds
            runs[case][1] = state
            rates[case].append(cells / seconds)
            cpu_rates[case].append(cells / cpu_seconds)
    out = {"ncrm": args.ncrm, "nx": grid.nx, "nz": grid.nz, "threads": args.threads,
           "crm_cell_updates_per_s": statistics.median(rates[("dry", "ab3")]), "bar": 5e7}
    for (kind, scheme), values in rates.items():
        out[f"{kind}_{scheme}_median"] = statistics.median(values)
        out[f"{kind}_{scheme}_best"] = max(values)
        out[f"{kind}_{scheme}_per_cpu_s"] = statistics.median(cpu_rates[(kind, scheme)])
    for kind in ("dry", "moist"):
        for ratio, top, bottom in RATIOS:
            for name, table in (("", rates), ("_cpu", cpu_rates)):
                out[f"{kind}_ratio_{ratio}{name}"] = statistics.median(
                    a / b for a, b in zip(table[(kind, top)], table[(kind, bottom)], strict=True))
    out.update(cpu_per_wall=round(cpu / wall, 2), load_average=load)
    print(json.dumps(_rounded(out)))


def _rounded(figures: dict) -> dict:
    """Floats to 3 significant digits (lists too)."""
    def three(v):
        return float(f"{v:.3g}") if isinstance(v, float) else v
    return {k: [three(x) for x in v] if isinstance(v, list) else three(v)
            for k, v in figures.items()}


if __name__ == "__main__":
    main()
