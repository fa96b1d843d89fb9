"""A finished training read back from its directory (``climnn train ... --out DIR``).

The directory holds ``train.json`` (configuration, store, both vector layouts),
``best.pt`` (weights of the best validation loss), ``checkpoint.pt`` (the last epoch) and
``metrics.jsonl`` (one record an epoch); see ``climnn.training.trainer``. Everything the
export needs comes from there, and the store's geometry and provenance from the store the
record names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from climnn.data.loader import VectorLayout
from climnn.extras import import_torch
from climnn.models import build_model, column_geometry
from climnn.training.config import TrainConfig, train_config_from_dict
from climnn.training.trainer import BEST, CHECKPOINT, METRICS, RECORD

torch = import_torch("climnn.export (exported models)")

#: --checkpoint choices: the weights of the best validation loss, or of the last epoch.
CHECKPOINTS = {"best": BEST, "last": CHECKPOINT}


@dataclass
class Trained:
    """A trained network and what it was trained on.

    model : the network (eval mode, float32) on normalized vectors
    config : its training configuration
    input_layout, output_layout : the vectors and their normalization (of ``train.json``)
    record : ``train.json`` as read
    history : ``metrics.jsonl``, one dict an epoch
    geometry : the store's hyai, hybi, p0 and surface-flux convention
    epoch : the epoch whose weights ``model`` holds (1-based)
    """

    model: torch.nn.Module
    config: TrainConfig
    input_layout: VectorLayout
    output_layout: VectorLayout
    record: dict
    history: list
    geometry: dict
    epoch: int


def load_trained(train_dir: str | Path, checkpoint: str = "best") -> Trained:
    """Read the training in ``train_dir`` with the weights of ``checkpoint`` (best | last).

    Raises FileNotFoundError or ValueError, one message naming the directory or file and
    what is wrong: not a directory, no finished training, the store gone, weights of
    another architecture than ``train.json`` describes.
    """
    train_dir = Path(train_dir)
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"checkpoint {checkpoint!r} is not one of {list(CHECKPOINTS)}")
    if not train_dir.is_dir():
        what = "is not a directory" if train_dir.exists() else "does not exist"
        raise FileNotFoundError(f"{train_dir} {what}; give the --out directory of a "
                                f"'climnn train' run")
    weights_path = train_dir / CHECKPOINTS[checkpoint]
    for path in (train_dir / RECORD, weights_path):
        if not path.is_file():
            raise FileNotFoundError(f"{train_dir} holds no trained model ({path.name} is "
                                    f"missing); train one with 'climnn train ... --out "
                                    f"{train_dir}' first")
    record = json.loads((train_dir / RECORD).read_text())
    config = train_config_from_dict(record["config"], str(train_dir / RECORD))
    layouts = (layout_from_metadata(record["input_layout"]),
               layout_from_metadata(record["output_layout"]))
    geometry = _geometry(Path(record["store"]), train_dir, config.data.surface_flux_convention)
    model = build_model(config.model, *layouts, geometry)
    epoch = _load_weights(model, weights_path)
    history = _history(train_dir / METRICS)
    return Trained(model.eval(), config, *layouts, record, history, geometry, epoch)


def layout_from_metadata(meta: dict) -> VectorLayout:
    """The VectorLayout of its ``as_metadata()`` dict."""
    return VectorLayout(tuple(meta["names"]), tuple(meta["levels"]), tuple(meta["units"]),
                        np.asarray(meta["shift"], dtype=np.float64),
                        np.asarray(meta["factor"], dtype=np.float64))


def _geometry(store: Path, train_dir: Path, convention: str | None) -> dict:
    if not store.exists():
        raise FileNotFoundError(f"{store}: the store {train_dir} was trained on is not found; "
                                f"the export records its levels and provenance")
    return column_geometry(store, convention)


def _load_weights(model: torch.nn.Module, path: Path) -> int:
    """Load the weights of ``path`` into ``model``; the epoch they are of."""
    # checkpoint.pt holds numpy random states besides the weights: not weights_only
    saved = torch.load(path, map_location="cpu", weights_only=False)
    try:
        model.load_state_dict(saved["model"])
    except RuntimeError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        first = lines[1] if len(lines) > 1 else lines[0]  # the first mismatch, not the title
        raise ValueError(f"{path}: weights of another architecture than {RECORD} describes "
                         f"({first.rstrip('.')}); export the directory the weights were "
                         f"trained in") from None
    return int(saved["epoch"] if "epoch" in saved else saved["state"]["epoch"])


def _history(path: Path) -> list:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
