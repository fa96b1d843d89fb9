"""Hybrid aquaplanet speed: the network as the physics against the teacher, on 2 threads,
in one process, at T42L25 (20-minute step; run/hybrid_t42.yaml, the issue's resolution)
and T31L25 (30-minute step; run/hybrid.yaml, the 5-year run's). Each network learned the
tendencies of its teacher's step (the network scheme refuses another), and each resolution
starts from its shipped teacher state after a year of spin-up.

At each resolution the teacher model starts from the shipped state (another truncation, as
in the tests: from rest, spun up for a few steps); each hybrid model (the shipped network in
float32 and in bfloat16, run/models/) then starts from the teacher's state, so all of them
step through the same developed climate. Step times are blocks of 24 steps taken in turn
(teacher, float32, bfloat16, teacher, ...; five rounds) and summarized by their median:
alternating blocks in one process put every side through the same load.

Figures, per resolution TN (T42, T31):
- ``sypd_teacher_TN_2threads``, ``sypd_hybrid_<precision>_TN_2threads`` and
  ``sypd_hybrid_TN_2threads`` (the precision the resolution's config ships), with
  ``hybrid_to_teacher_sypd_ratio_<precision>_TN``;
- per precision, from the model's timing hook over one more block:
  ``network_share_<precision>_TN`` (the forward pass over the step) and
  ``coupler_overhead_<precision>_TN`` (everything the coupler adds besides the forward
  pass: input assembly, conservation, guards and the outputs, over the forward pass; bar
  <= 0.1), and the step's split into dynamics, the GCM's bulk surface fluxes and drag, and
  the coupler's phases (``share_*``);
and for the first resolution (T42), unsuffixed: ``hybrid_to_teacher_sypd_ratio`` (the
issue's bar: >= 0.7), ``network_share``, ``coupler_overhead`` and ``shipped_precision`` of
the shipped configuration, and ``step_s_torch_threads_{1,2,4}``: its hybrid step with
torch's intra-op threads at 1, at numba's count (2: the coupler's setting, climnn.threads)
and oversubscribed (4).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from climnn.bench.aquaplanet import aquaplanet_model, section_seconds
from climnn.bench.dycore import block_seconds_per_step
from gcm.simulation import simulated_years_per_day

THREADS = 2


@dataclass(frozen=True)
class Setup:
    """One resolution of the bench: its truncation and step, the hybrid configuration, the
    teacher's state after a year at that truncation (None: from rest) and the network file
    of each precision, all relative to the repository."""

    truncation: int
    step_minutes: float
    config: str
    state: str | None
    models: dict


SETUPS = (
    Setup(42, 20.0, "run/hybrid_t42.yaml", "run/models/teacher_t42_state.npz",
          {"float32": "run/models/hybrid_t42.pt", "bfloat16": "run/models/hybrid_t42_bf16.pt"}),
    Setup(31, 30.0, "run/hybrid.yaml", "run/models/teacher_t31_state.npz",
          {"float32": "run/models/hybrid_seed.pt", "bfloat16": "run/models/hybrid_seed_bf16.pt"}),
)
COUPLER_SECTIONS = ("physics_inputs", "physics_conservation", "physics_guards",
                    "physics_outputs")


def shipped_precision(setup: Setup) -> str:
    """The precision of the model file the setup's hybrid configuration names."""
    import climnn

    config = yaml.safe_load(Path(climnn.repository_file(setup.config)).read_text())
    shipped = Path(config["physics"]["parameters"]["model"]).name
    for precision, path in setup.models.items():
        if Path(path).name == shipped:
            return precision
    raise ValueError(f"{setup.config} names {shipped}, none of the bench's {setup.models}")


def teacher_model(setup: Setup):
    """The teacher at the setup's truncation, from its shipped state (else from rest)."""
    import climnn
    from gcm.config import load_config
    from gcm.model import Model

    if setup.state is None:
        return aquaplanet_model(setup.truncation, setup.step_minutes, threads=THREADS)
    return Model(load_config(climnn.repository_file("run/aquaplanet.yaml"), **{
        "resolution.truncation": setup.truncation, "time.step_minutes": setup.step_minutes,
        "threads": THREADS, "initial.kind": "restart",
        "initial.file": str(climnn.repository_file(setup.state)), "time.start": "2001-01-01"}))


def hybrid_model(setup: Setup, model_file: Path, teacher):
    """The hybrid model with ``model_file`` as its network, in the teacher's state."""
    import climnn
    from gcm.config import load_config
    from gcm.model import PHYSICS_STATE, Model

    if not model_file.is_file():
        raise FileNotFoundError(f"bench hybrid: {model_file} does not exist; the shipped "
                                "networks are made as run/README.md says")
    config = load_config(climnn.repository_file(setup.config), **{
        "resolution.truncation": setup.truncation, "time.step_minutes": setup.step_minutes,
        "threads": THREADS, "physics.parameters.model": str(model_file),
        "initial.kind": "rest", "initial.file": ""})
    model = Model(config)
    arrays = teacher.restart_arrays()
    # the network scheme's own state (the previous step's fluxes): none yet, so the first
    # step uses its own, as a new run does
    arrays.update({f"{PHYSICS_STATE}previous_shf": np.zeros(0),
                   f"{PHYSICS_STATE}previous_lhf": np.zeros(0)})
    model.load_restart_arrays(arrays, teacher.step_count)
    return model


def step_split(model, steps: int) -> dict:
    """network_share, coupler_overhead and the step's shares (module docstring)."""
    seconds = section_seconds(model, steps)
    step, network = seconds["step"], seconds["physics_network"]
    coupler = sum(seconds.get(name, 0.0) for name in COUPLER_SECTIONS)
    gcm_physics = seconds.get("physics_surface_fluxes", 0.0) + seconds.get(
        "physics_boundary_layer", 0.0)
    physics = seconds.get("physics", network + coupler + gcm_physics)
    out = {"network_share": network / step, "coupler_overhead": coupler / network,
           "share_dynamics": (step - physics) / step,
           "share_surface_fluxes_and_drag": gcm_physics / step}
    out.update({f"share_{name}": seconds.get(name, 0.0) / step for name in COUPLER_SECTIONS})
    return out


def torch_thread_counts(model, steps: int, rounds: int) -> dict:
    """The hybrid step with torch's intra-op threads at 1, 2 (numba's count: the coupler's
    setting) and 4 (oversubscribed), in alternating blocks: ``step_s_torch_threads_N``
    (median seconds a step); torch's count is put back afterwards."""
    import torch

    kept = torch.get_num_threads()
    counts = (1, 2, 4)
    blocks = {n: [] for n in counts}
    try:
        for _ in range(rounds):
            for n in counts:
                torch.set_num_threads(n)
                blocks[n] += block_seconds_per_step(model, steps, repeats=1)
    finally:
        torch.set_num_threads(kept)
    return {f"step_s_torch_threads_{n}": statistics.median(b) for n, b in blocks.items()}


def run(quick: bool = False) -> dict:
    from climnn.bench import machine

    steps, rounds = (6, 2) if quick else (24, 5)
    figures = {}
    for k, setup in enumerate(SETUPS):
        figures.update(resolution_figures(setup, steps, rounds, headline=k == 0))
    figures["machine"] = machine()
    return figures


def resolution_figures(setup: Setup, steps: int, rounds: int, headline: bool) -> dict:
    """The figures of one resolution (module docstring); ``headline`` adds the unsuffixed
    ones and the thread counts."""
    import climnn

    teacher = teacher_model(setup)
    spinup = 0 if setup.state else 4
    for _ in range(spinup):
        teacher.step()
    models = {"teacher": teacher}
    for precision, path in setup.models.items():
        models[precision] = hybrid_model(setup, Path(climnn.repository_file(path)), teacher)
    for model in models.values():
        model.step()  # first calls: numba and torch warm
    blocks = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            blocks[name] += block_seconds_per_step(model, steps, repeats=1)
    res = f"T{setup.truncation}"
    figures = {f"spinup_steps_{res}": spinup}
    dt = setup.step_minutes * 60.0
    sypd = {name: simulated_years_per_day(dt, statistics.median(b)) for name, b in blocks.items()}
    figures[f"sypd_teacher_{res}_2threads"] = sypd["teacher"]
    shipped = shipped_precision(setup)
    for precision in setup.models:
        figures[f"sypd_hybrid_{precision}_{res}_2threads"] = sypd[precision]
        figures[f"hybrid_to_teacher_sypd_ratio_{precision}_{res}"] = (sypd[precision]
                                                                      / sypd["teacher"])
        split = step_split(models[precision], steps)
        figures.update({f"{key}_{precision}_{res}": value for key, value in split.items()})
    figures[f"sypd_hybrid_{res}_2threads"] = sypd[shipped]
    if headline:
        figures.update(torch_thread_counts(models[shipped], steps, rounds))
        figures["shipped_precision"] = shipped
        figures["hybrid_to_teacher_sypd_ratio"] = sypd[shipped] / sypd["teacher"]
        figures["network_share"] = figures[f"network_share_{shipped}_{res}"]
        figures["coupler_overhead"] = figures[f"coupler_overhead_{shipped}_{res}"]
    return figures
