"""The exported network: raw physical inputs in, physical outputs out.

:class:`PhysicalModel` wraps a trained network (``climnn.models``: normalized input vector
-> normalized output vector) between the exact normalization of the loader
(``climnn.data.loader.VectorLayout``) and its inverse:

    normalized input   z = (x - shift_in) * factor_in          (float64, then float32)
    network            v = net(z)                               (float32 or bfloat16)
    physical output    y = v / factor_out + shift_out           (float64, then float32)

``shift_out`` is 0 for the loader's outputs (energy units: heating x cp, moistening x L,
fluxes x 1e-3 ...), so ``y = v / factor_out`` brings them back to SI (K s-1, kg kg-1 s-1,
W m-2, kg m-2 s-1). The normalization runs in float64, as the loader computes it, so
that the exported float32 model gives the training code's numbers.

In bfloat16 only the MLP's Linear layers run in bfloat16 (:class:`Bfloat16Net`); the
normalization, and the constrained network's budget arithmetic (float64), stay as they
are, so its budgets still close.
"""

from __future__ import annotations

import numpy as np

from climnn.extras import import_torch

torch = import_torch("climnn.export (exported models)")

PRECISIONS = ("float32", "bfloat16")


class Bfloat16Net(torch.nn.Module):
    """A network run in bfloat16: float32 (batch, n) in, float32 (batch, m) out."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net.to(torch.bfloat16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.to(torch.bfloat16)).float()


def in_precision(model: torch.nn.Module, precision: str) -> torch.nn.Module:
    """``model`` (a SeedMLP or a BudgetConstrainedMLP) with its MLP in ``precision``;
    the constrained network keeps its budget arithmetic in float64."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {list(PRECISIONS)}")
    if precision == "float32":
        return model
    if hasattr(model, "net"):  # BudgetConstrainedMLP: only its inner MLP
        model.net = Bfloat16Net(model.net)
        return model
    return Bfloat16Net(model)


class PhysicalModel(torch.nn.Module):
    """forward: physical inputs (batch, n_in) float32, in the input layout's order and the
    store's units -> physical outputs (batch, n_out) float32 in SI units.

    net : a trained network on normalized vectors (already in its precision)
    input_layout, output_layout : climnn.data.loader.VectorLayout of its training
    """

    def __init__(self, net: torch.nn.Module, input_layout, output_layout):
        super().__init__()
        self.net = net
        self.register_buffer("in_shift", _float64(input_layout.shift))
        self.register_buffer("in_factor", _float64(input_layout.factor))
        self.register_buffer("out_factor", _float64(output_layout.factor))
        self.register_buffer("out_shift", _float64(output_layout.shift))
        # outputs are not centred (energy units): skip adding zeros (a pass over the batch)
        self.out_shifted = bool(np.any(output_layout.shift != 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = ((x.double() - self.in_shift) * self.in_factor).float()
        y = self.net(z).double() / self.out_factor
        if self.out_shifted:
            y = y + self.out_shift
        return y.float()


def _float64(values) -> torch.Tensor:
    return torch.tensor(np.asarray(values, dtype=np.float64))
