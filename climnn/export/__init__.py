"""Exporting a trained network as one self-describing file (issue 12, DESIGN.md "Exported
model"): raw physical inputs in, physical outputs out, metadata inside.

    climnn export DIR --out model.pt [--precision float32|bfloat16] [--checkpoint best|last]
                      [--no-pt2]

- :func:`export_model` writes ``model.pt`` (TorchScript: what Python, libtorch and FTorch
  load) and ``model.pt2`` (a ``torch.export`` program of the same model).
- :func:`load_exported` loads ``model.pt`` (torch alone does too: ``torch.jit.load``).
- :func:`read_metadata` reads the metadata (``climnn.json`` inside) as a dict.

The names are imported on first use, so that ``climnn``'s command line (which registers
``climnn.export.command``) starts without torch.
"""

from climnn.extras import lazy_attributes

_HOMES = {"export_model": "writer", "load_exported": "writer", "read_metadata": "metadata",
          "METADATA_FILE": "metadata", "PRECISIONS": "physical"}

__all__ = sorted(_HOMES)

__getattr__ = lazy_attributes(__name__, _HOMES)
