"""The SP scheme's cost at T21 against the teacher's and the hybrid's (issue 15's
``sp_seconds_per_day_T21`` and ``sp_to_hybrid_cost_ratio``), part of ``climnn bench sp``.

Three models on 2 threads in one process, all from the same state (the T21 teacher after a
year, ``climnn/demo/teacher_t21_state.npz``; the hybrid from the teacher's state after its
warm-up step): the SP run of ``run/aquaplanet_sp.yaml``, the teacher
(``run/aquaplanet.yaml`` at T21, 30-minute step) and the hybrid (``run/hybrid_sp.yaml``).
The SP model takes ``warmup`` GCM steps (its first call starts the CRMs; the first leapfrog
call is the first full one), then rounds alternate one timed SP step with a block of
``block`` teacher steps and one of hybrid steps, so that all three meet the same load; each
figure is the median over the rounds.

The hybrid's network: there is no trained T21 network yet, and an untrained one costs what
a trained one does (the same layers and sizes), so the bench builds the seed network
(9 x 256, leaky ReLU) with random weights and the inputs, outputs, normalization, levels
(frierson_l25: the T21 grid's 25 levels) and precision of the shipped T31 network, and
exports it as ``climnn export`` does (TorchScript, the same fused layers). The JSON says so
(``hybrid_network``).

The SP step's split (``sp_step_s_<part>_T21``, seconds a GCM step) comes from the model's
StepTimer over the timed SP steps: ``crm_dynamics`` (the CRM steps less the processes
below), ``microphysics`` (Kessler), ``crm_surface_fluxes``, ``forcing`` (the large-scale
forcing inside the CRM steps) and ``rest`` (everything else of the step: the GCM's dynamics,
the coupling's averages and level maps, radiation, drag).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

from climnn.bench.dycore import block_seconds_per_step
from climnn.bench.hybrid import (
    SETUPS,
    THREADS,
    Setup,
    hybrid_model,
    shipped_precision,
    teacher_model,
)
from gcm.timing import NULL_TIMER, StepTimer

STEPS_PER_DAY = 48  # 30-minute GCM steps
#: StepTimer sections inside ``physics_crm`` (the CRM's processes) -> split names
CRM_PROCESSES = {"physics_crm_microphysics": "microphysics",
                 "physics_crm_surface": "crm_surface_fluxes",
                 "physics_crm_forcing": "forcing"}
RANDOM_NETWORK_NOTE = ("random weights, for timing only: no trained T21 network exists; the "
                       "seed network (9 x 256) with the inputs, outputs, normalization, "
                       "levels and precision of {like}, which cost what trained weights do")


@dataclass(frozen=True)
class SpCase:
    """What the bench times: the SP configuration (relative to the repository) with
    ``overrides`` (dotted keys, e.g. a smaller CRM for the tests), the teacher state all
    three start from (relative to the repository; None: each from its configuration's rest
    state), SP warm-up steps, rounds (one timed SP step each) and the teacher's and the
    hybrid's block of steps a round."""

    config: str = "run/aquaplanet_sp.yaml"
    overrides: tuple = ()
    state: str | None = "climnn/demo/teacher_t21_state.npz"
    warmup: int = 2
    rounds: int = 4
    block: int = 12

    def hybrid_setup(self) -> Setup:
        """The hybrid bench's Setup of this case (T21, 30-minute step, run/hybrid_sp.yaml)."""
        return Setup(21, 30.0, "run/hybrid_sp.yaml", self.state, {})


SP_CASE = SpCase()
SP_CASE_QUICK = replace(SP_CASE, warmup=1, rounds=2, block=4)


def sp_model(case: SpCase):
    """The SP model of ``case`` on THREADS threads, from the case's state."""
    import climnn
    from gcm.config import load_config
    from gcm.model import Model

    overrides = {"threads": THREADS, **dict(case.overrides)}
    if case.state is not None:
        overrides.update({"initial.kind": "restart", "time.start": "2001-01-01",
                          "initial.file": str(climnn.repository_file(case.state))})
    return Model(load_config(climnn.repository_file(case.config), **overrides))


def random_network(out: Path, seed: int = 0) -> tuple[Path, str]:
    """Export to ``out`` a network of the shipped T31 network's shape, vectors and precision
    with random weights (torch's default initialization after ``manual_seed(seed)``);
    returns ``out`` and the note the JSON carries."""
    import json

    import climnn
    from climnn.export import METADATA_FILE, read_metadata
    from climnn.export.fused import fused_available
    from climnn.export.quiet import torchscript_quiet
    from climnn.export.trained import layout_from_metadata
    from climnn.export.writer import physical_model, sample_inputs, to_torchscript
    from climnn.extras import import_torch
    from climnn.models import build_model
    from climnn.training.config import train_config_from_dict
    from gcm.io.atomic import atomic_path

    torch = import_torch("climnn bench sp (the hybrid's network)")
    t31 = SETUPS[-1]
    precision = shipped_precision(t31)
    like = t31.models[precision]
    meta = read_metadata(climnn.repository_file(like))
    layouts = [layout_from_metadata(meta["normalization"][f"{side}_layout"])
               for side in ("input", "output")]
    config = train_config_from_dict(meta["training"]["config"], like)
    torch.manual_seed(seed)
    net = SimpleNamespace(model=build_model(config.model, *layouts), input_layout=layouts[0],
                          output_layout=layouts[1])
    fused = fused_available() and meta.get("layers") == "onednn_fused"
    module = to_torchscript(physical_model(net, precision, fused), sample_inputs(layouts[0], 5))
    note = RANDOM_NETWORK_NOTE.format(like=like)
    meta.update(weights=note, training={"random_weights": True, "seed": seed})
    with atomic_path(out) as tmp, torchscript_quiet():
        torch.jit.save(module, str(tmp), _extra_files={METADATA_FILE: json.dumps(meta)})
    return out, note


def sp_split(seconds: dict, steps: int) -> dict:
    """Seconds a GCM step of each part (module docstring) from a StepTimer's ``seconds``
    over ``steps`` SP steps."""
    parts = {name: seconds.get(section, 0.0) for section, name in CRM_PROCESSES.items()}
    crm = seconds.get("physics_crm", 0.0)
    split = {"crm_dynamics": crm - sum(parts.values()), **parts,
             "rest": seconds["step"] - crm}
    return {f"sp_step_s_{name}_T21": value / steps for name, value in split.items()}


def sp_cost_figures(case: SpCase) -> dict:
    """The SP, teacher and hybrid step times at T21 (module docstring), as figures."""
    sp = sp_model(case)
    for _ in range(case.warmup):
        sp.step()
    setup = case.hybrid_setup()
    teacher = teacher_model(setup)
    teacher.step()
    with tempfile.TemporaryDirectory() as folder:
        network, note = random_network(Path(folder) / "random_t21.pt")
        hybrid = hybrid_model(setup, network, teacher)
        hybrid.step()  # torch's first call
        sp_steps, blocks = [], {"teacher": [], "hybrid": []}
        timer = StepTimer()
        sp.timer = timer
        try:
            for _ in range(case.rounds):
                start = time.perf_counter()
                sp.step()
                sp_steps.append(time.perf_counter() - start)
                sp.timer = NULL_TIMER
                for name, model in (("teacher", teacher), ("hybrid", hybrid)):
                    blocks[name] += block_seconds_per_step(model, case.block, repeats=1)
                sp.timer = timer
        finally:
            sp.timer = NULL_TIMER
    step = {"sp": statistics.median(sp_steps),
            **{name: statistics.median(b) for name, b in blocks.items()}}
    figures = {f"{name}_seconds_per_day_T21": STEPS_PER_DAY * s for name, s in step.items()}
    figures.update(sp_step_s_T21=step["sp"], teacher_step_s_T21=step["teacher"],
                   hybrid_step_s_T21=step["hybrid"],
                   sp_to_hybrid_cost_ratio=step["sp"] / step["hybrid"],
                   sp_to_teacher_cost_ratio=step["sp"] / step["teacher"],
                   hybrid_network=note, sp_warmup_steps=case.warmup,
                   sp_steps_timed=case.rounds, sp_crm=crm_description(sp))
    figures.update(sp_split(timer.seconds, case.rounds))
    return figures


def crm_description(model) -> str:
    """The SP model's CRM configuration in one line."""
    s = model.physics.settings
    return f"{s.nx} x {s.dx / 1000:g} km, {s.nz} x {s.dz:g} m, dt {s.dt:g} s, {s.time_scheme}"
