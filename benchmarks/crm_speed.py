"""CRM cell updates per second for a batch of CRMs stepped together (the parallel numba
path): dry and moist (saturation adjustment in the buoyancy, Kessler microphysics), each
time scheme, in alternating blocks in one process. One JSON line.

    PYTHONPATH=$PWD python benchmarks/crm_speed.py --ncrm 32 --nx 32 --nz 24

A cell update is one full time step of one grid cell. The issue's bar for
``crm_cell_updates_per_s`` (dry, default scheme) is 5e7 on 2 cores. Blocks of the four
cases (dry/moist × ab3/rk3) alternate, so each case sees the same machine load on average;
``*_median`` are medians over blocks, ``*_per_cpu_s`` cell updates per CPU second of the
process (what the work costs, whatever share of the cores the process got),
``ratio_ab3_over_rk3`` (wall) and ``ratio_ab3_over_rk3_cpu`` medians of per-round ratios
(the figures a loaded machine spoils least), ``cpu_per_wall`` CPU seconds of the process over
wall seconds (2.0: both cores busy) and ``load_average`` the machine's 1-minute load before
the run. Figures and their history: docs/performance.md.
"""

import argparse
import json
import os
import statistics
import time

import numba
import numpy as np

from gcm.crm import BaseState, Crm, CrmGrid
from gcm.crm.microphysics import Kessler
from gcm.physics.saturation import saturation_specific_humidity

CASES = (("dry", "ab3"), ("dry", "rk3"), ("moist", "ab3"), ("moist", "rk3"))


def initial_state(model: Crm, ncrm: int, moist: bool, rng: np.random.Generator):
    """Noisy θ′ (≈ 0.1 K rms); moist: q_t at 85 % ± 10 % of saturation at T0 below 6 km
    (so that some cells are cloudy and rain forms), 10 % above."""
    state = model.rest_state(ncrm)
    thermo = state.scalar("thermo")
    thermo += 100.0 * rng.standard_normal(thermo.shape)
    if moist:
        p = model.profiles
        qs = saturation_specific_humidity(p.t0, p.pressure)[:, None]
        humidity = np.where(model.grid.z_centres[:, None] < 6000.0, 0.85, 0.1)
        qt = state.scalar("qt")
        qt[:] = qs * humidity * (1.0 + 0.1 * rng.standard_normal(qt.shape))
    return state


def build(grid: CrmGrid, base: BaseState, ncrm: int, moist: bool, scheme: str):
    """(model, state) of one case, stepped once (compiles or loads numba's cache)."""
    processes = (Kessler(grid, base),) if moist else ()
    model = Crm(grid, base, dt=10.0, nu=50.0, kappa=50.0, moist=moist, processes=processes,
                time_scheme=scheme)
    state = initial_state(model, ncrm, moist, np.random.default_rng(0))
    return model, model.step(state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ncrm", type=int, default=32)
    parser.add_argument("--nx", type=int, default=32)
    parser.add_argument("--nz", type=int, default=24)
    parser.add_argument("--steps", type=int, default=30, help="steps a block")
    parser.add_argument("--blocks", type=int, default=5, help="rounds of the four cases")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    numba.set_num_threads(args.threads)
    grid = CrmGrid(args.nx, args.nz, 4000.0, 500.0)
    base = BaseState.constant_n(grid)
    runs = {case: list(build(grid, base, args.ncrm, case[0] == "moist", case[1]))
            for case in CASES}
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
        for name, table in (("", rates), ("_cpu", cpu_rates)):
            out[f"{kind}_ratio_ab3_over_rk3{name}"] = statistics.median(
                a / b for a, b in zip(table[(kind, "ab3")], table[(kind, "rk3")], strict=True))
    out.update(cpu_per_wall=round(cpu / wall, 2), load_average=load)
    print(json.dumps({k: (float(f"{v:.3g}") if isinstance(v, float) else v)
                      for k, v in out.items()}))


if __name__ == "__main__":
    main()
