"""Hybrid aquaplanet speed: the network as the physics (run/hybrid.yaml) against the
teacher, at T31L25 on 2 threads, in one process. T31 with the 30-minute step is what the
shipped network was trained on (the network scheme refuses another step), and both models
start from the shipped teacher state after a year of spin-up: at T42, from a 10-day
spin-up from rest, the hybrid left its training climate and its guards stopped it after
~700 steps, before the bench was done.

The teacher model starts from run/models/teacher_t31_state.npz (another truncation, as in
the tests: from rest, spun up for a few steps); each hybrid model (the shipped network in
float32 and in bfloat16, run/models/) then starts from the teacher's state, so all of them
step through the same developed climate. Step times are blocks of 24 steps
taken in turn (teacher, float32, bfloat16, teacher, ...; five rounds) and summarized by
their median: alternating blocks in one process put every side through the same load.

Figures:
- ``sypd_teacher_T31_2threads``, ``sypd_hybrid_<precision>_T31_2threads`` and
  ``sypd_hybrid_T31_2threads`` (the precision run/hybrid.yaml ships), with
  ``hybrid_to_teacher_sypd_ratio`` (the issue's bar: >= 0.7);
- ``step_s_torch_threads_{1,2,4}``: the hybrid step with torch's intra-op threads at 1,
  at numba's count (2: the coupler's setting, climnn.threads) and oversubscribed (4);
- per precision, from the model's timing hook over one more block: ``network_share``
  (the forward pass over the step) and ``coupler_overhead`` (everything the coupler adds
  besides the forward pass: input assembly, conservation, guards and the outputs, over
  the forward pass; bar <= 0.1), and the step's split into dynamics, the GCM's bulk
  surface fluxes and drag, and the coupler's phases (``share_*``).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import yaml

from climnn.bench.aquaplanet import aquaplanet_model, section_seconds
from climnn.bench.dycore import block_seconds_per_step
from gcm.simulation import simulated_years_per_day

TRUNCATION, STEP_MINUTES, THREADS = 31, 30.0, 2
STATE = "run/models/teacher_t31_state.npz"  # the teacher after a year, at T31
MODELS = {"float32": "run/models/hybrid_seed.pt", "bfloat16": "run/models/hybrid_seed_bf16.pt"}
COUPLER_SECTIONS = ("physics_inputs", "physics_conservation", "physics_guards",
                    "physics_outputs")


def shipped_precision() -> str:
    """The precision of the model file run/hybrid.yaml names."""
    import climnn

    config = yaml.safe_load(Path(climnn.repository_file("run/hybrid.yaml")).read_text())
    shipped = Path(config["physics"]["parameters"]["model"]).name
    for precision, path in MODELS.items():
        if Path(path).name == shipped:
            return precision
    raise ValueError(f"run/hybrid.yaml names {shipped}, none of the bench's {MODELS}")


def teacher_model():
    """The teacher at TRUNCATION, from the shipped state at T31 (else from rest)."""
    import climnn
    from gcm.config import load_config
    from gcm.model import Model

    if TRUNCATION != 31:
        return aquaplanet_model(TRUNCATION, STEP_MINUTES, threads=THREADS)
    return Model(load_config(climnn.repository_file("run/aquaplanet.yaml"), **{
        "resolution.truncation": TRUNCATION, "time.step_minutes": STEP_MINUTES,
        "threads": THREADS, "initial.kind": "restart",
        "initial.file": str(climnn.repository_file(STATE)), "time.start": "2001-01-01"}))


def hybrid_model(model_file: Path, teacher):
    """The hybrid model with ``model_file`` as its network, in the teacher's state."""
    import climnn
    from gcm.config import load_config
    from gcm.model import PHYSICS_STATE, Model

    if not model_file.is_file():
        raise FileNotFoundError(f"bench hybrid: {model_file} does not exist; the shipped "
                                "networks are made as run/README.md says (Hybrid run)")
    config = load_config(climnn.repository_file("run/hybrid.yaml"), **{
        "resolution.truncation": TRUNCATION, "time.step_minutes": STEP_MINUTES,
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
    import climnn
    from climnn.bench import machine

    steps, rounds = (6, 2) if quick else (24, 5)
    teacher = teacher_model()
    spinup = 0 if TRUNCATION == 31 else 4
    for _ in range(spinup):
        teacher.step()
    models = {"teacher": teacher}
    for precision, path in MODELS.items():
        models[precision] = hybrid_model(Path(climnn.repository_file(path)), teacher)
    for model in models.values():
        model.step()  # first calls: numba and torch warm
    blocks = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            blocks[name] += block_seconds_per_step(model, steps, repeats=1)
    figures = {"spinup_steps": spinup}
    res = f"T{TRUNCATION}"
    dt = STEP_MINUTES * 60.0
    sypd = {name: simulated_years_per_day(dt, statistics.median(b)) for name, b in blocks.items()}
    figures[f"sypd_teacher_{res}_2threads"] = sypd["teacher"]
    shipped = shipped_precision()
    for precision in MODELS:
        figures[f"sypd_hybrid_{precision}_{res}_2threads"] = sypd[precision]
        figures[f"hybrid_to_teacher_sypd_ratio_{precision}"] = sypd[precision] / sypd["teacher"]
        split = step_split(models[precision], steps)
        figures.update({f"{key}_{precision}": value for key, value in split.items()})
    figures.update(torch_thread_counts(models[shipped], steps, rounds))
    figures["shipped_precision"] = shipped
    figures[f"sypd_hybrid_{res}_2threads"] = sypd[shipped]
    figures["hybrid_to_teacher_sypd_ratio"] = sypd[shipped] / sypd["teacher"]
    figures["network_share"] = figures[f"network_share_{shipped}"]
    figures["coupler_overhead"] = figures[f"coupler_overhead_{shipped}"]
    figures["machine"] = machine()
    return figures
