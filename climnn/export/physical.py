"""The exported network: raw physical inputs in, physical outputs out.

:class:`PhysicalModel` wraps a trained network (``climnn.models``: normalized input vector
-> normalized output vector) between the exact normalization of the loader
(``climnn.data.loader.VectorLayout``) and its inverse:

    normalized input   z = (x - shift_in) * factor_in           (float32)
    network            v = net(z)                               (float32 or bfloat16)
    physical output    y = v / factor_out + shift_out           (float32)

``shift_out`` is 0 for the loader's outputs (energy units: heating x cp, moistening x L,
fluxes x 1e-3 ...), so ``y = v / factor_out`` brings them back to SI (K s-1, kg kg-1 s-1,
W m-2, kg m-2 s-1). The loader normalizes in float64; here the shift is split into its
float32 value and the remainder, so that ``x - shift`` loses nothing where x is near the
shift (a surface pressure near 1e5 Pa) and z is within two float32 roundings of the
loader's. In float64 the same passes over the batch take a sizeable share of a bfloat16
forward pass.

In bfloat16 only the MLP's Linear layers run in bfloat16 (:func:`for_inference`); the
normalization, and the constrained network's budget arithmetic (float64), stay as they
are, so its budgets still close.
"""

from __future__ import annotations

import numpy as np

from climnn.export.fused import FusedMLP
from climnn.extras import import_torch
from climnn.models import TangentMLP, inference_form
from climnn.models.seed_mlp import SeedMLP

torch = import_torch("climnn.export (exported models)")

PRECISIONS = ("float32", "bfloat16")


class CastMLP(torch.nn.Module):
    """A network run in ``dtype``: float32 (batch, n) in, (batch, m) in ``dtype`` out (the
    plain layers; :class:`climnn.export.fused.FusedMLP` is the fast form). The caller's
    next operation brings the output back to float32 or float64: a pass fewer."""

    def __init__(self, net: torch.nn.Module, dtype: torch.dtype):
        super().__init__()
        self.net = net.to(dtype)
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.to(self.dtype))


def for_inference(model: torch.nn.Module, precision: str, fused: bool) -> torch.nn.Module:
    """``model`` (a SeedMLP, or a BudgetConstrainedMLP whose ``net`` is one) with its MLP
    in ``precision``, as fused oneDNN layers (``fused``) or plain ones; the constrained
    network keeps its budget arithmetic in float64. Modifies ``model``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {list(PRECISIONS)}")
    dtype = getattr(torch, precision)

    def fast(mlp):
        return FusedMLP(mlp, dtype) if fused else CastMLP(mlp, dtype)

    model = inference_form(model)  # plain Linear layers (issue 16's are reparameterized)
    if isinstance(model, SeedMLP):
        return fast(model)
    if isinstance(model, TangentMLP):  # a linearized network: not an MLP of fused layers
        return CastMLP(model, dtype)
    model.net = fast(model.net)  # BudgetConstrainedMLP: only its inner MLP
    return model


class PhysicalModel(torch.nn.Module):
    """forward: physical inputs (batch, n_in) float32, in the input layout's order and the
    store's units -> physical outputs (batch, n_out) float32 in SI units.

    net : a trained network on normalized vectors (already in its precision)
    input_layout, output_layout : climnn.data.loader.VectorLayout of its training
    """

    def __init__(self, net: torch.nn.Module, input_layout, output_layout):
        super().__init__()
        self.net = net
        shift = np.asarray(input_layout.shift, dtype=np.float64)
        factor = np.asarray(input_layout.factor, dtype=np.float64)
        high = shift.astype(np.float32)
        self.register_buffer("shift_high", _float32(high))
        self.register_buffer("shift_low_scaled", _float32(-(shift - high) * factor))
        self.register_buffer("in_factor", _float32(factor))
        self.register_buffer("out_scale", _float32(1.0 / np.asarray(output_layout.factor)))
        self.register_buffer("out_shift", _float32(output_layout.shift))
        # outputs are not centred (energy units): skip adding zeros (a pass over the batch)
        self.out_shifted = bool(np.any(output_layout.shift != 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.addcmul(self.shift_low_scaled, x - self.shift_high, self.in_factor)
        y = self.net(z) * self.out_scale  # float32 also from a bfloat16 network (promotion)
        if self.out_shifted:
            y = y + self.out_shift
        return y


def _float32(values) -> torch.Tensor:
    return torch.tensor(np.asarray(values, dtype=np.float64), dtype=torch.float32)
