"""The map between a GCM column's sigma levels and the CRM's layers, conservative in mass.

The CRM's layers sit on fixed heights with one base state for every GCM column (the batched
``Crm`` has one grid and one ρ0); layer j (j = 0 at the ground) holds the mass
m_j = ρ0_j dz (kg m-2) between the interface pressures of ``columns.interface_pressure``,
i.e. between σ_c = p/P0 values that are the same for every CRM. The GCM's sigma layers
have fixed σ too, so in σ both grids are fixed and their overlaps O[k, j] (the σ-length
shared by GCM layer k, contract order, and CRM layer j) form one matrix for all columns.

- GCM → CRM (states: T, q, u): the σ-weighted mean of the GCM layers a CRM layer overlaps,
  x_c[j] = Σ_k O[k, j] x_g[k] / Δσ_c[j] (a CRM layer lies wholly inside the GCM column,
  whose σ runs from 0 to 1).
- CRM → GCM (tendencies): each CRM layer's change, as an amount per m² (x_c[j] m_j, e.g.
  W m-2), is shared among the GCM layers it overlaps in proportion to the overlap, then
  divided by their mass dp_k/g,
  x_g[k] = Σ_j (O[k, j]/Δσ_c[j]) m_j x_c[j] / (dp_k/g),
  so that Σ_k x_g[k] dp_k/g = Σ_j x_c[j] m_j exactly (up to the sums' round-off): the
  column's energy and water change in the GCM is the CRM's. Per unit mass the GCM gets
  the CRM's tendency times (mass of the CRM's σ-range)/(the GCM's), i.e. ≈ P0/p_s, within
  a few per cent on an aquaplanet.
GCM layers above the CRM's lid get nothing from the CRM.
"""

from dataclasses import dataclass

import numpy as np

from gcm.constants import GRAVITY, P0


@dataclass(frozen=True)
class LevelMap:
    """sigma_half: the GCM's interface σ (nlev + 1,), top first; crm_pressure_half: the
    CRM's interface pressures (nz + 1,), top first (``columns.interface_pressure``), Pa."""

    sigma_half: np.ndarray
    crm_pressure_half: np.ndarray

    def __post_init__(self):
        crm_sigma = self.crm_sigma_half
        if crm_sigma[0] < self.sigma_half[0]:
            raise ValueError(f"superparameterization: the CRM's lid (σ = {crm_sigma[0]:.4f}) "
                             f"lies above the GCM's top (σ = {self.sigma_half[0]:.4f}); lower "
                             "the lid (crm.nz × crm.dz)")
        if abs(crm_sigma[-1] - 1.0) > 1e-12:
            raise ValueError("superparameterization: the CRM's ground must be at σ = 1 "
                             f"(its interface pressures end at {self.crm_pressure_half[-1]} Pa)")
        top, bottom = self.sigma_half[:-1, None], self.sigma_half[1:, None]
        overlap = (np.minimum(bottom, crm_sigma[None, 1:]) - np.maximum(top, crm_sigma[None, :-1]))
        object.__setattr__(self, "overlap", np.maximum(overlap, 0.0))  # (nlev, nz) top first

    @property
    def crm_sigma_half(self) -> np.ndarray:
        """The CRM's interfaces as σ = p/P0, (nz + 1,), top first."""
        return np.asarray(self.crm_pressure_half, float) / P0

    @property
    def crm_mass(self) -> np.ndarray:
        """m_j = Δp_c/g, kg m-2, (nz,), top first."""
        return np.diff(self.crm_pressure_half) / GRAVITY

    @property
    def lid_level(self) -> int:
        """The GCM level that holds the CRM's lid (levels above it get nothing)."""
        return int(np.nonzero(self.overlap.sum(axis=1) > 0)[0][0])

    def to_crm(self, profiles: np.ndarray) -> np.ndarray:
        """GCM profiles (ncol, nlev), top first → CRM layers (ncol, nz), ground first."""
        weights = self.overlap / np.diff(self.crm_sigma_half)[None, :]
        return product(profiles, weights)[:, ::-1]

    def to_gcm(self, tendencies: np.ndarray, thickness: np.ndarray) -> np.ndarray:
        """CRM tendencies (ncol, nz), ground first → GCM (ncol, nlev), conservative in the
        amount per m²; thickness: the GCM layers' dp (ncol, nlev), Pa."""
        shares = self.overlap / np.diff(self.crm_sigma_half)[None, :]  # columns sum to 1
        amounts = tendencies[:, ::-1] * self.crm_mass[None, :]
        return product(amounts, shares.T) * GRAVITY / thickness


def product(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """x @ weights for x (ncol, n), weights (n, m), summed term by term in a fixed order:
    BLAS and numpy's reductions may round differently for another memory layout or
    alignment of the same numbers, and a restarted run must repeat the bits."""
    out = np.zeros((x.shape[0], weights.shape[1]))
    for i, j in zip(*np.nonzero(weights), strict=True):
        out[:, j] += x[:, i] * weights[i, j]
    return out


def horizontal_mean(field: np.ndarray) -> np.ndarray:
    """The mean over the last axis, summed in a fixed order (see ``product``)."""
    total = field[..., 0].copy()
    for i in range(1, field.shape[-1]):
        total += field[..., i]
    return total / field.shape[-1]
