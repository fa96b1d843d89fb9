"""Superparameterization speed: CRM cell updates per second of a batch of CRMs stepped
together (issue 15's ``crm_cell_updates_per_s``, bar 5e7 on 2 cores), dry and moist, constant
and Smagorinsky mixing, in alternating blocks in one process; and seconds per simulated day
of an SP run at T21, of the teacher and of the hybrid there, and the SP/hybrid cost ratio
(``climnn.bench.sp_cost``).

The case (also ``benchmarks/crm_speed.py``'s): 32 CRMs of 32 × 24 cells, dx 4 km, dz
500 m, dt 10 s, the default time scheme ("ab3"), θ′ noise of ≈ 0.1 K; moist: q_t at
85 ± 10 % of saturation below 6 km (so that some cells are cloudy and rain forms) with
Kessler microphysics. A cell update is one time step of one grid cell. ``*_one_step_*``:
the same with the one-pass scalar transport (``scalar_scheme="one_step"``) instead of RK2;
``*_over_rk2_cpu``: its speed over RK2's, the median of per-round CPU-time ratios.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

NCRM, NX, NZ, DX, DZ, DT = 32, 32, 24, 4000.0, 500.0, 10.0
CONSTANT_MIXING = 50.0  # m2 s-1, ν = κ of the constant-mixing cases
BAR = 5e7
# (figure name, moist, mixing)
CASES = (("crm_cell_updates_per_s", False, "constant"),
         ("crm_moist_cell_updates_per_s", True, "constant"),
         ("crm_smagorinsky_cell_updates_per_s", False, "smagorinsky"),
         ("crm_moist_smagorinsky_cell_updates_per_s", True, "smagorinsky"))
# the one-pass scalar transport (Crm(scalar_scheme="one_step")) beside CASES' first two,
# RK2's: (figure name, moist, the RK2 figure it is compared with)
ONE_STEP_CASES = (("crm_one_step_cell_updates_per_s", False, "crm_cell_updates_per_s"),
                  ("crm_moist_one_step_cell_updates_per_s", True, "crm_moist_cell_updates_per_s"))


def initial_state(model, ncrm: int, moist: bool, rng: np.random.Generator):
    """Noisy θ′ (≈ 0.1 K rms); moist: q_t at 85 % ± 10 % of saturation at T0 below 6 km,
    10 % above."""
    from gcm.physics.saturation import saturation_specific_humidity

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


def build(grid, base, ncrm: int, moist: bool, scheme: str = "ab3", mixing: str = "constant",
          package=None, scalar_scheme: str = "rk2"):
    """(model, state) of one case, stepped once (compiles or loads numba's cache).
    package: another CRM package with ``model`` and ``microphysics`` modules (an old
    revision's, see ``benchmarks/crm_speed.py --baseline``) instead of gcm.crm."""
    if package is None:
        from gcm.crm import microphysics
        from gcm.crm import model as crm_model
    else:
        microphysics, crm_model = package.microphysics, package.model
    processes = (microphysics.Kessler(grid, base),) if moist else ()
    options = dict(moist=moist, processes=processes, time_scheme=scheme)
    if scalar_scheme != "rk2":  # an old revision's Crm may not know the option
        options.update(scalar_scheme=scalar_scheme)
    if mixing == "constant":
        options.update(nu=CONSTANT_MIXING, kappa=CONSTANT_MIXING)
    else:
        options.update(mixing=mixing)
    model = crm_model.Crm(grid, base, dt=DT, **options)
    state = initial_state(model, ncrm, moist, np.random.default_rng(0))
    return model, model.step(state)


def crm_rates(steps: int, blocks: int, threads: int) -> dict:
    """Median cell updates per wall second and per CPU second of each of CASES, blocks of
    ``steps`` steps alternating over ``blocks`` rounds, ``threads`` numba threads."""
    import numba

    from gcm.crm import BaseState, CrmGrid

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    grid = CrmGrid(NX, NZ, DX, DZ)
    base = BaseState.constant_n(grid)
    runs = {name: list(build(grid, base, NCRM, moist, mixing=mixing))
            for name, moist, mixing in CASES}
    runs.update({name: list(build(grid, base, NCRM, moist, scalar_scheme="one_step"))
                 for name, moist, _ in ONE_STEP_CASES})
    cells = NCRM * NX * NZ * steps
    wall = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    for _ in range(blocks):
        for name, run in runs.items():
            model, state = run
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(steps):
                state = model.step(state)
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
            run[1] = state
    out = {}
    for name in runs:
        out[name] = cells / statistics.median(wall[name])
        out[f"{name.removesuffix('_per_s')}_per_cpu_s"] = cells / statistics.median(cpu[name])
    for name, _, rk2 in ONE_STEP_CASES:  # per-round ratios: what a loaded machine spoils least
        out[f"{name.removesuffix('_cell_updates_per_s')}_over_rk2_cpu"] = statistics.median(
            a / b for a, b in zip(cpu[rk2], cpu[name], strict=True))
    out["cpu_per_wall"] = sum(map(sum, cpu.values())) / sum(map(sum, wall.values()))
    out["threads"] = numba.get_num_threads()
    return out


def run(quick: bool = False) -> dict:
    from climnn.bench import machine

    load_before = os.getloadavg()[0]
    figures = crm_rates(steps=10 if quick else 30, blocks=2 if quick else 5, threads=2)
    figures.update(crm_cell_updates_bar=BAR, grid=f"{NCRM} CRMs x {NX}x{NZ}",
                   load_average_before=load_before)
    figures.update(sp_scheme_figures(quick))
    figures.update(load_average_after=os.getloadavg()[0], machine=machine())
    return figures


def sp_scheme_figures(quick: bool) -> dict:
    """The SP scheme's cost at T21 against the teacher's and the hybrid's
    (climnn.bench.sp_cost)."""
    from climnn.bench import sp_cost

    return sp_cost.sp_cost_figures(sp_cost.SP_CASE_QUICK if quick else sp_cost.SP_CASE)
