"""A linear layer with symmetric weights, globally or block-wise (Hu, Zagoruyko &
Komodakis 2019, "Exploring weight symmetry in deep neural networks", CVIU).

The weight (out, in) is tiled by square b x b blocks from its top-left corner; each whole
block is symmetric and stored as its upper triangle, b (b + 1) / 2 numbers instead of b².

- ``block = 0`` (global): b = min(out, in): a square layer's weight is one symmetric
  matrix, n (n + 1) / 2 parameters instead of n².
- ``block = b > 0``: every whole b x b block symmetric; smaller blocks save less (a
  block-diagonal-free tiling, as the paper's "block-wise" variant over channel groups).

Non-square layers (the first, in -> width; the last, width -> out) and sizes that b does
not divide: what the whole blocks do not cover (the strips right of and below them) stays
dense. So a layer holds R C b (b + 1) / 2 + (out in - R C b²) weights (R = out // b,
C = in // b), plus its bias. The exported network holds the dense weight
(:meth:`SymmetricLinear.dense`).
"""

from __future__ import annotations

import math

from climnn.extras import import_torch
from climnn.models.parameterized_linear import ParameterizedLinear

torch = import_torch("climnn.models (the networks)")


def triangle_index(b: int) -> torch.Tensor:
    """(b, b) long: entry (i, j) -> the place of (min(i, j), max(i, j)) in the row-major
    upper triangle of a b x b matrix (b (b + 1) / 2 places)."""
    i, j = torch.triu_indices(b, b)
    index = torch.empty(b, b, dtype=torch.long)
    places = torch.arange(i.numel())
    index[i, j] = places
    index[j, i] = places
    return index


class SymmetricLinear(ParameterizedLinear):
    """forward: (batch, in_features) -> (batch, out_features), x Wᵀ + b with W's whole
    b x b blocks symmetric (``block`` = b; 0: one block of min(out, in))."""

    def __init__(self, in_features: int, out_features: int, block: int = 0, bias: bool = True):
        super().__init__()
        if block < 0:
            raise ValueError(f"SymmetricLinear: block = {block}: need >= 0 (0: global)")
        self.in_features, self.out_features = in_features, out_features
        b = min(in_features, out_features) if block == 0 else min(block, in_features,
                                                                   out_features)
        self.block, self.rows, self.cols = b, out_features // b, in_features // b
        bound = 1 / math.sqrt(in_features)  # torch.nn.Linear's start, entry by entry

        def uniform(*shape):
            return torch.nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))

        self.upper = uniform(self.rows * self.cols, b * (b + 1) // 2)
        self.right = uniform(self.rows * b, in_features - self.cols * b)
        self.bottom = uniform(out_features - self.rows * b, in_features)
        self.register_buffer("index", triangle_index(b), persistent=False)
        self.bias = uniform(out_features) if bias else None

    @property
    def parameter_count(self) -> int:
        """Trained numbers: the blocks' triangles, the dense strips and the bias."""
        return sum(p.numel() for p in self.parameters())

    @property
    def weight(self) -> torch.Tensor:
        """The dense (out_features, in_features) weight."""
        b, rows, cols = self.block, self.rows, self.cols
        blocks = self.upper[:, self.index]  # (rows cols, b, b), each symmetric
        tiled = blocks.reshape(rows, cols, b, b).transpose(1, 2).reshape(rows * b, cols * b)
        return torch.cat([torch.cat([tiled, self.right], 1), self.bottom], 0)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"symmetric blocks of {self.block}")
