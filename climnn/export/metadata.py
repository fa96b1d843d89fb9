"""The metadata an exported model carries inside (``climnn.json``).

Stored as an extra file of the TorchScript archive and of the ``.pt2`` program, so that
torch alone reads it back::

    extra = {"climnn.json": ""}
    module = torch.jit.load("model.pt", _extra_files=extra)
    meta = json.loads(extra["climnn.json"])

It holds the input and output vectors (variables in order, their slices, levels, units,
long names, the normalization inside the model), the store's vertical coordinate
(hyai, hybi, P0) and provenance (schema, source model, config hash, resolution, time
range, time step), the training (config, split, epochs, best validation loss), the
precision, and the code that wrote it (climnn version, git commit, torch version, time).
"""

from __future__ import annotations

import datetime
import json
import subprocess
import zipfile
from pathlib import Path

import zarr

import climnn
from climnn.data.schema import VARIABLES

#: Name of the metadata's extra file inside an exported model.
METADATA_FILE = "climnn.json"
#: Identity of this metadata's layout; a reader checks it before trusting the keys.
FORMAT, FORMAT_VERSION = "climnn-exported-model", 1
#: Store group attributes copied into the metadata's "data" section.
PROVENANCE = ("schema", "schema_version", "source_model", "config_hash", "resolution",
              "time_range", "timestep_seconds", "surface_flux_convention")


def build_metadata(trained, train_dir: Path, checkpoint: str, precision: str,
                   torch_version: str) -> dict:
    """The metadata of an export of ``trained`` (climnn.export.trained.Trained)."""
    store = Path(trained.record["store"])
    geometry = trained.geometry
    losses = [line["validation_loss"] for line in trained.history]
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "call": "forward(x): x (batch, n_in) float32 physical inputs in the order of "
                "'inputs' -> (batch, n_out) float32 physical outputs in the order of "
                "'outputs', SI units; profiles run from the model top (index 0) down",
        "inputs": variables(trained.input_layout), "outputs": variables(trained.output_layout),
        "n_in": trained.input_layout.size, "n_out": trained.output_layout.size,
        "levels": max(trained.input_layout.levels + trained.output_layout.levels),
        "normalization": {
            "input": trained.config.data.input_normalization,
            "input_layout": trained.input_layout.as_metadata(),
            "output_layout": trained.output_layout.as_metadata(),
            "formula": "normalized = (physical - shift) * factor, done inside the model"},
        "vertical": {"hyai": geometry["hyai"].tolist(), "hybi": geometry["hybi"].tolist(),
                     "P0": geometry["p0"],
                     "pressure": "p_k+1/2 = hyai_k+1/2 P0 + hybi_k+1/2 PS (Pa)"},
        # the targets' surface-flux convention: the store's, or the training's conversion
        "data": {"store": str(store), **store_provenance(store),
                 "surface_flux_convention": geometry["convention"],
                 # every store the training pooled (the first gives the provenance above)
                 "stores": trained.record.get("stores", [str(store)])},
        "training": {"directory": str(Path(train_dir).resolve()),
                     "config": trained.config.to_dict(), "split": trained.config.split.__dict__,
                     "model_kind": trained.config.model.kind,
                     "epochs_trained": len(trained.history), "checkpoint": checkpoint,
                     "checkpoint_epoch": trained.epoch,
                     "best_validation_loss": min(losses) if losses else None},
        "precision": precision,
        "climnn_version": climnn.__version__, "git_commit": git_commit(),
        "torch_version": torch_version,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def variables(layout) -> list[dict]:
    """Each variable of a VectorLayout: name, start and stop in the vector, levels, units,
    long name."""
    return [{"name": name, "start": where.start, "stop": where.stop, "levels": levels,
             "units": units, "long_name": VARIABLES[name].long_name}
            for (name, where), levels, units in zip(layout.slices.items(), layout.levels,
                                                    layout.units, strict=True)]


def store_provenance(store: Path) -> dict:
    """The provenance group attributes of a climnn store (those it has)."""
    attrs = dict(zarr.open_group(store, mode="r").attrs)
    return {key: attrs[key] for key in PROVENANCE if key in attrs}


def git_commit() -> str:
    """The commit of the checkout this climnn runs from ('+dirty' with uncommitted
    changes), or 'unknown' outside a git checkout."""
    here = Path(climnn.__file__).resolve().parent
    try:
        head = _git(here, "rev-parse", "HEAD")
        dirty = _git(here, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _git(where: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True,
                          timeout=10, check=True)
    return done.stdout.strip()


def read_metadata(path: str | Path) -> dict:
    """The metadata dict of an exported model (``.pt`` or ``.pt2``), read from the archive
    without loading the network. Raises ValueError naming the file when it holds none."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(f"/extra/{METADATA_FILE}")]
            if not names:
                raise ValueError(f"{path}: no {METADATA_FILE} inside; not a climnn export")
            meta = json.loads(archive.read(names[0]))
    except zipfile.BadZipFile:
        raise ValueError(f"{path}: not a TorchScript or torch.export archive") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: {METADATA_FILE} is not of format {FORMAT!r}")
    return meta
