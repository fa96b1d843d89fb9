"""Orthogonal matrices as products of Householder reflectors (Zhang, Lei & Dhillon 2018,
"Stabilizing gradients for deep neural networks via efficient SVD parameterization", ICML).

A reflector ``H(v) = I - 2 v vᵀ / (vᵀ v)`` is orthogonal for any non-zero v, so a product
of reflectors is orthogonal to round-off whatever gradient descent does to the vectors.
:class:`HouseholderOrthogonal` holds k vectors of length n and gives the n x k matrix

    Q = H(v_1) H(v_2) ... H(v_k) E_k,        E_k = the first k columns of I_n,

whose columns are orthonormal. As in a Householder QR, v_i has zeros above entry i and 1 at
entry i (the entries below are the parameters), so the k reflectors hold
k n - k (k + 1) / 2 numbers: every n x k matrix with orthonormal columns is such a product
up to the signs of its columns (what a QR's R diagonal carries). The product is formed in
the compact WY form (:func:`householder_matrix`); :func:`reflect` is the plain loop over
reflectors the tests compare it with.
"""

from __future__ import annotations

from climnn.extras import import_torch

torch = import_torch("climnn.models (the networks)")


def reflector_vectors(below: torch.Tensor) -> torch.Tensor:
    """(n, k) strictly-lower parameters -> (n, k) vectors v_i: zeros above the diagonal,
    1 on it, ``below``'s entries under it."""
    n, k = below.shape
    eye = torch.eye(n, k, dtype=below.dtype, device=below.device)
    return torch.tril(below, -1) + eye


def householder_matrix(below: torch.Tensor) -> torch.Tensor:
    """(n, k) parameters -> the (n, k) matrix H(v_1)...H(v_k) E_k (orthonormal columns).

    In the compact WY form (Joffrain et al. 2006, "Accumulating Householder transformations,
    revisited", ACM TOMS): H(v_1)...H(v_k) = I - V S⁻¹ Vᵀ with S the upper triangle of VᵀV
    whose diagonal is halved, so that the product and its gradient are a few matrix
    products and one triangular solve (LAPACK's householder_product differentiates one
    reflector at a time, much slower in training)."""
    v = reflector_vectors(below)
    n, k = v.shape
    gram = v.T @ v
    s = torch.triu(gram, 1) + torch.diag(torch.diagonal(gram) / 2)
    # E_k - V S⁻¹ (Vᵀ E_k), Vᵀ E_k = the first k rows of V, transposed
    solved = torch.linalg.solve_triangular(s, v[:k].T, upper=True)
    return torch.eye(n, k, dtype=v.dtype, device=v.device) - v @ solved


def reflect(below: torch.Tensor) -> torch.Tensor:
    """The same matrix as :func:`householder_matrix`, by applying one reflector at a time to
    E_k, the last first (the reference: O(n k²) in k small steps)."""
    n, k = below.shape
    v = reflector_vectors(below)
    q = torch.eye(n, k, dtype=below.dtype, device=below.device)
    for i in reversed(range(k)):
        u = v[:, i : i + 1]
        q = q - (2.0 / (u * u).sum()) * u @ (u.T @ q)
    return q


class HouseholderOrthogonal(torch.nn.Module):
    """forward() -> (n, k) float32 matrix with orthonormal columns, k <= n, a product of k
    Householder reflectors of length n; ``parameter_count`` numbers are trained."""

    def __init__(self, n: int, k: int, generator: torch.Generator | None = None):
        super().__init__()
        if not 1 <= k <= n:
            raise ValueError(f"Householder product of {k} reflectors of length {n}: need "
                             f"1 <= k <= n")
        rows, cols = torch.tril_indices(n, k, -1)
        self.shape = (n, k)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)
        # small random vectors: a random start near the identity's first k columns
        self.values = torch.nn.Parameter(torch.randn(rows.numel(), generator=generator)
                                         / n**0.5)

    @property
    def parameter_count(self) -> int:
        """n k - k (k + 1) / 2."""
        return self.values.numel()

    def below(self) -> torch.Tensor:
        """(n, k): the trained numbers under the diagonal, zeros elsewhere."""
        below = self.values.new_zeros(self.shape)
        return below.index_put((self.rows, self.cols), self.values)

    def forward(self) -> torch.Tensor:
        return householder_matrix(self.below())
