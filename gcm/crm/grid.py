"""The CRM's staggered (Arakawa-C) x–z grid.

Periodic in x with ``nx`` columns of width ``dx`` (m); ``nz`` layers of uniform depth
``dz`` (m) between a flat bottom (z = 0) and a rigid lid (z = nz dz). Scalars sit at cell
centres, shape (nz, nx); u at x-faces, shape (nz, nx), ``u[k, i]`` on the face between
columns i − 1 and i (periodic); w at z-faces, shape (nz + 1, nx), ``w[k, i]`` on the bottom
face of layer k, with ``w[0] = w[nz] = 0`` (no flow through ground and lid).
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CrmGrid:
    """nx: columns (≥ 4); nz: layers (≥ 3); dx, dz: spacings, m."""

    nx: int
    nz: int
    dx: float
    dz: float

    def __post_init__(self):
        if self.nx < 4 or self.nz < 3:
            raise ValueError(f"CrmGrid: need nx >= 4 and nz >= 3, got nx={self.nx}, nz={self.nz}")
        if not (self.dx > 0 and self.dz > 0):
            raise ValueError(f"CrmGrid: spacings must be positive, got dx={self.dx}, dz={self.dz}")

    @property
    def z_centres(self) -> np.ndarray:
        """Heights of layer centres, m, shape (nz,)."""
        return (np.arange(self.nz) + 0.5) * self.dz

    @property
    def z_faces(self) -> np.ndarray:
        """Heights of layer faces, m, shape (nz + 1,)."""
        return np.arange(self.nz + 1) * self.dz

    @property
    def x_centres(self) -> np.ndarray:
        """x of column centres, m, shape (nx,), from dx/2."""
        return (np.arange(self.nx) + 0.5) * self.dx

    @property
    def length(self) -> float:
        """Domain length, m."""
        return self.nx * self.dx
