"""The MLP as fused oneDNN calls: each layer's matrix product, bias and activation in one.

Run layer by layer, torch reads and writes every activation (batch x 256) three times: the
product, the bias and the activation, each its own pass over memory, and each its own
parallel region. For a T42 grid (8,192 columns) those passes cost as much as the products
(2 threads: the plain network ran at ~0.4 of the GFLOP/s of ``torch.matmul`` of its layer
shapes). oneDNN's linear with a post-op (``torch.ops.mkldnn._linear_pointwise``, the kernel
torch's own CPU compiler emits for Linear + activation) adds bias and activation while the
product's tile is still in cache, and runs at about the speed of the bare product, in
float32 and in bfloat16 (AMX / AVX512-BF16). The op is part of libtorch's CPU library, so
the TorchScript file still loads in C++ libtorch and FTorch.

:func:`fused_available` says whether this torch has it; :class:`FusedMLP` holds a
``climnn.models.SeedMLP``'s weights and calls it once a layer.
"""

from __future__ import annotations

from typing import List, Optional, Union  # noqa: UP035  TorchScript's spelling

from climnn.export.quiet import torchscript_quiet
from climnn.extras import import_torch

torch = import_torch("climnn.export (exported models)")


def fused_available() -> bool:
    """Whether torch has oneDNN's fused linear (CPU builds with mkldnn)."""
    return bool(torch.backends.mkldnn.is_available()
                and hasattr(torch.ops.mkldnn, "_linear_pointwise"))


def post_op(activation: torch.nn.Module) -> tuple:
    """oneDNN's (name, scalars, algorithm) of an activation module of SeedMLP."""
    if isinstance(activation, torch.nn.LeakyReLU):
        return "leaky_relu", [float(activation.negative_slope)], ""
    if isinstance(activation, torch.nn.GELU):
        return "gelu", [], activation.approximate
    names = {torch.nn.ReLU: "relu", torch.nn.Tanh: "tanh"}
    if type(activation) not in names:
        raise ValueError(f"activation {type(activation).__name__} has no fused form")
    return names[type(activation)], [], ""


class FusedLinear(torch.nn.Module):
    """activation(x @ weight.T + bias) in one oneDNN call; ``post_op`` is
    :func:`post_op`'s triple ('none' for a last, linear layer).

    Scripted, not traced (a trace cannot record the op's list of optional scalars)."""

    def __init__(self, linear: torch.nn.Linear, post_op: tuple):
        super().__init__()
        self.weight, self.bias = linear.weight, linear.bias
        self.name, scalars, self.algorithm = post_op
        self.slope = float(scalars[0]) if scalars else 0.0  # leaky_relu's only scalar
        self.with_slope = bool(scalars)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the op's "Scalar?[]", spelled so TorchScript accepts it
        scalars: List[Optional[Union[int, float, complex]]] = []  # noqa: UP006, UP007, UP045
        if self.with_slope:
            scalars.append(self.slope)
        return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, self.name,
                                                  scalars, self.algorithm)


class FusedMLP(torch.nn.Module):
    """forward: (batch, n_in) float32 -> (batch, n_out) float32, the SeedMLP ``mlp``'s
    numbers, each Linear + activation one oneDNN call in ``dtype`` (float32 | bfloat16)."""

    def __init__(self, mlp: torch.nn.Sequential, dtype: torch.dtype = torch.float32):
        super().__init__()
        linears = [m.to(dtype) for m in mlp if isinstance(m, torch.nn.Linear)]
        post_ops = [post_op(m) for m in mlp if not isinstance(m, torch.nn.Linear)]
        post_ops.append(("none", [], ""))
        with torchscript_quiet():
            self.layers = torch.nn.Sequential(*(torch.jit.script(FusedLinear(lin, op))
                                                for lin, op in zip(linears, post_ops,
                                                                   strict=True)))
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.to(self.dtype)).float()
