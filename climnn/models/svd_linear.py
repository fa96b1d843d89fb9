"""A linear layer in SVD form with bounded singular values (Zhang, Lei & Dhillon 2018, ICML).

    W = U diag(σ) Vᵀ          (out, in) = (out, k) (k,) (k, in),   k = min(out, in)

U and V have orthonormal columns, each a product of k Householder reflectors
(:mod:`climnn.models.householder`: of length ``out`` for U, ``in`` for V), and

    σ = σ_mid + r tanh(p),    σ_mid = (σ_min + σ_max) / 2,   r = (σ_max - σ_min) / 2

so that every singular value of W lies in [σ_min, σ_max] whatever values the optimizer gives
p (clamped as well, against a rounding of σ_mid + r one ulp outside). The layer's Lipschitz
constant is then σ_max and its smallest gain σ_min (on the k-dimensional row space). At the
start p = 0: every σ is σ_mid, U and V random.

Parameters: (out k - k(k+1)/2) + (in k - k(k+1)/2) + k (+ out for the bias), about the
dense layer's out x in. The exported network holds the dense W (:meth:`SVDLinear.dense`),
so the coupler sees an ordinary linear layer.
"""

from __future__ import annotations

import math

from climnn.extras import import_torch
from climnn.models.householder import HouseholderOrthogonal
from climnn.models.parameterized_linear import ParameterizedLinear

torch = import_torch("climnn.models (the networks)")


class SVDLinear(ParameterizedLinear):
    """forward: (batch, in_features) -> (batch, out_features), x Wᵀ + b with W in SVD form
    and its singular values inside [sigma_min, sigma_max] (0 <= sigma_min <= sigma_max)."""

    def __init__(self, in_features: int, out_features: int, sigma_min: float = 0.5,
                 sigma_max: float = 2.0, bias: bool = True):
        super().__init__()
        if not 0 <= sigma_min <= sigma_max:
            raise ValueError(f"SVDLinear: singular values in [{sigma_min}, {sigma_max}]: need "
                             f"0 <= sigma_min <= sigma_max")
        self.in_features, self.out_features = in_features, out_features
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)
        k = min(in_features, out_features)
        self.u = HouseholderOrthogonal(out_features, k)
        self.v = HouseholderOrthogonal(in_features, k)
        self.p = torch.nn.Parameter(torch.zeros(k))
        bound = 1 / math.sqrt(in_features)  # torch.nn.Linear's bias start
        self.bias = (torch.nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
                     if bias else None)

    def singular_values(self) -> torch.Tensor:
        """(k,) singular values σ of W, in [sigma_min, sigma_max], in the order of U's and
        V's columns (not sorted)."""
        mid = (self.sigma_min + self.sigma_max) / 2
        half = (self.sigma_max - self.sigma_min) / 2
        return torch.clamp(mid + half * torch.tanh(self.p), self.sigma_min, self.sigma_max)

    @property
    def weight(self) -> torch.Tensor:
        """The dense (out_features, in_features) weight U diag(σ) Vᵀ."""
        return (self.u() * self.singular_values()) @ self.v().T

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"sigma in [{self.sigma_min}, {self.sigma_max}]")
