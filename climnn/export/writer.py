"""Writing an exported model: one TorchScript file, and a torch.export program beside it.

``export_model(DIR, "model.pt")`` reads the training in DIR (:mod:`climnn.export.trained`),
wraps its network between the normalization and its inverse
(:class:`climnn.export.physical.PhysicalModel`), traces and freezes it to TorchScript with
the metadata inside (:mod:`climnn.export.metadata`), checks the file against the eager
model, and publishes it atomically; ``model.pt2`` is the same model as a
``torch.export`` program with the same metadata.

Tracing rather than scripting: the networks have no data-dependent control flow, and the
trace keeps the batch dimension dynamic (it records ``x.size(0)``); the exported module is
checked at two batch sizes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from climnn.export.fused import fused_available
from climnn.export.metadata import METADATA_FILE, build_metadata
from climnn.export.physical import PRECISIONS, PhysicalModel, for_inference
from climnn.export.quiet import torchscript_quiet
from climnn.export.trained import CHECKPOINTS, load_trained
from climnn.extras import import_torch
from gcm.io.atomic import atomic_path

torch = import_torch("climnn.export (exported models)")

#: Largest difference allowed between a written file and the eager model of the same layers,
#: relative to each output's largest magnitude over the check's samples (bfloat16: the
#: bfloat16 rounding of one value may flip with the order of a sum).
CHECK_TOLERANCE = {"float32": 1e-6, "bfloat16": 1e-3}
CHECK_BATCHES = (5, 64)  # sample columns of the checks: a batch other than the traced one


def export_model(train_dir: str | Path, out: str | Path, *, precision: str = "float32",
                 checkpoint: str = "best", pt2: bool = True, portable: bool = False) -> Path:
    """Export the training in ``train_dir`` to the TorchScript file ``out`` (and, with
    ``pt2``, the torch.export program ``out`` with suffix ``.pt2``); returns ``out``.

    precision : "float32", or "bfloat16" (the MLP's Linear layers; the normalization stays
        float32, the constrained network's budgets float64)
    checkpoint : "best" (best validation loss) or "last" (the last finished epoch)
    portable : plain torch layers in the TorchScript file instead of oneDNN's fused ones
        (:mod:`climnn.export.fused`; used where this torch lacks them): slower, but loads
        in a libtorch built without oneDNN. The .pt2 program always has plain layers.

    Raises FileExistsError when ``out`` (or its .pt2) exists, FileNotFoundError or
    ValueError naming what is missing or wrong in ``train_dir``; nothing is written then.
    """
    out = Path(out)
    program = out.with_suffix(".pt2")
    if precision not in PRECISIONS:
        raise ValueError(f"--precision {precision!r} is not one of {list(PRECISIONS)}")
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"--checkpoint {checkpoint!r} is not one of {list(CHECKPOINTS)}")
    for path in (out, program) if pt2 else (out,):
        if path.exists() or path.is_symlink():
            raise FileExistsError(f"{path} exists; choose another --out or remove it "
                                  f"(nothing was written)")
    trained = load_trained(train_dir, checkpoint)
    fused = fused_available() and not portable
    plain = physical_model(trained, precision, fused=False)
    fast = physical_model(trained, precision, fused) if fused else plain
    meta = build_metadata(trained, Path(train_dir), checkpoint, precision, torch.__version__)
    meta["layers"] = "onednn_fused" if fused else "plain"
    extra = {METADATA_FILE: json.dumps(meta, indent=1, sort_keys=True)}
    samples = sample_inputs(trained.input_layout, max(CHECK_BATCHES))
    # both built before either is written: a model that cannot be exported leaves nothing
    scripted = to_torchscript(fast, samples[: min(CHECK_BATCHES)])
    exported = to_program(plain, samples) if pt2 else None
    with atomic_path(out) as tmp:
        with torchscript_quiet():
            torch.jit.save(scripted, str(tmp), _extra_files=extra)
        check_against(fast, load_exported(tmp), samples, precision, out)
    if pt2:
        # through open files: torch.export refuses paths not ending in .pt2 (the temporary)
        with atomic_path(program) as tmp:
            with open(tmp, "wb") as f:
                torch.export.save(exported, f, extra_files=extra)
            with open(tmp, "rb") as f:
                check_against(plain, torch.export.load(f).module(), samples, precision,
                              program)
    return out


def physical_model(trained, precision: str, fused: bool) -> PhysicalModel:
    """The exported module of a :class:`climnn.export.trained.Trained` (a copy of its
    network in ``precision``, fused or plain layers), eval mode, no gradients."""
    net = for_inference(copy.deepcopy(trained.model), precision, fused)
    model = PhysicalModel(net, trained.input_layout, trained.output_layout).eval()
    return model.requires_grad_(False)


def sample_inputs(layout, batch: int, seed: int = 0) -> torch.Tensor:
    """(batch, n_in) float32 physical inputs about the training data: each entry its mean
    plus a normalized unit of random spread."""
    rng = np.random.default_rng(seed)
    normalized = rng.uniform(-0.5, 0.5, (batch, layout.size))
    return torch.tensor(layout.denormalize(normalized), dtype=torch.float32)


def to_torchscript(model: torch.nn.Module, example: torch.Tensor):
    """The traced, frozen TorchScript module of ``model`` (eval mode, no gradients)."""
    with torchscript_quiet(), torch.no_grad():
        traced = torch.jit.trace(model, example, check_trace=False)
        return torch.jit.freeze(traced)


def to_program(model: torch.nn.Module, example: torch.Tensor):
    """The torch.export program of ``model`` with a dynamic batch dimension."""
    batch = torch.export.Dim("batch")
    with torch.no_grad():
        return torch.export.export(model, (example,), dynamic_shapes=({0: batch},))


def load_exported(path: str | Path):
    """The TorchScript module of an exported model file (what torch.jit.load gives, without
    its deprecation warnings); its metadata: :func:`climnn.export.read_metadata`."""
    with torchscript_quiet():
        return torch.jit.load(str(path), map_location="cpu")


def check_against(model, exported, samples: torch.Tensor, precision: str, path: Path) -> None:
    """Raise RuntimeError naming ``path`` when ``exported`` differs from the eager ``model``
    (the same layers) on the first CHECK_BATCHES of ``samples`` beyond CHECK_TOLERANCE of
    each output's largest size over ``samples``."""
    with torch.no_grad():
        scale = model(samples).double().abs().amax(0).clamp_min(torch.finfo(torch.float32).tiny)
        for batch in CHECK_BATCHES:
            x = samples[:batch]
            worst = float(((exported(x).double() - model(x).double()).abs() / scale).max())
            if not worst <= CHECK_TOLERANCE[precision]:
                raise RuntimeError(f"{path}: the exported model differs from the trained one "
                                   f"by {worst:.3g} of an output's size at batch {batch} "
                                   f"(tolerance {CHECK_TOLERANCE[precision]}); not written")
