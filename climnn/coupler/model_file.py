"""Loading an exported model (``climnn export``): its metadata and its module, or one
CouplerError naming the file.

``.pt`` is loaded as TorchScript (``climnn.export.load_exported``), ``.pt2`` as a
``torch.export`` program (its ``.module()``); both take (batch, n_in) float32 physical
inputs and return (batch, n_out) float32 physical outputs.
"""

from __future__ import annotations

from pathlib import Path

from climnn.coupler.errors import CouplerError
from climnn.export.metadata import FORMAT_VERSION, read_metadata
from climnn.export.writer import load_exported
from climnn.extras import import_torch

torch = import_torch("climnn.coupler (the network's coupler)")

#: Metadata keys the coupler reads.
REQUIRED_KEYS = ("inputs", "outputs", "n_in", "n_out", "vertical", "data")


def read_model_metadata(path: str | Path) -> dict:
    """The metadata of the exported model ``path``; CouplerError naming the file when it is
    missing, not an exported model, or of a metadata layout this coupler cannot read."""
    path = Path(path)
    if not path.is_file():
        raise CouplerError(f"{path}: no such model file")
    try:
        meta = read_metadata(path)
    except (ValueError, OSError) as err:  # read_metadata's messages name the file
        raise CouplerError(f"{err}") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise CouplerError(f"{path}: metadata format_version {meta.get('format_version')!r}, "
                           f"this coupler reads {FORMAT_VERSION}")
    missing = [key for key in REQUIRED_KEYS if key not in meta]
    if missing:
        raise CouplerError(f"{path}: the model's metadata lacks {missing}")
    return meta


def load_module(path: str | Path, device):
    """The callable network of the exported model ``path`` on ``device`` (torch.device);
    CouplerError naming the file when torch cannot load it (a truncated or corrupted
    archive whose metadata still reads)."""
    path = Path(path)
    try:
        if path.suffix == ".pt2":
            with open(path, "rb") as f:
                module = torch.export.load(f).module()
        else:
            module = load_exported(path)
    except Exception as err:  # noqa: BLE001  torch raises many kinds; one message for all
        first = (str(err).splitlines() or [""])[0].split(". ")[0]  # torch's advice follows
        raise CouplerError(f"{path}: torch cannot load the model ({type(err).__name__}: "
                           f"{first})") from None
    return module.to(device)
