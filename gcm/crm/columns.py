"""The CRM's x-columns seen as GCM columns, so that the GCM's column schemes (gray radiation,
bulk surface fluxes: ``gcm.physics``) run on them unchanged.

Every x-column i of every CRM c becomes GCM column c·nx + i, on the CRM's own levels flipped
to the column contract's order (level 0 at the top, the last level nearest the surface):
CRM layer k is contract level nz − 1 − k. Temperature and vapour q_v = q_t − q_c come from
the saturation adjustment (``saturation_adjustment``); u is averaged from the two x-faces to
the centre; v = 0 (2-D).

Pressure: the anelastic CRM carries the mass of layer k as ρ0_k dz (kg m-2), so its
interfaces are placed hydrostatically for exactly that mass, from P0 at the ground upwards,

    p_half(ground) = P0,   p_half(top of layer k) = p_half(bottom of layer k) − g ρ0_k dz,

and dp_k / g = ρ0_k dz: a GCM heating g ΔF / (cp dp) then changes Σ ρ0 dz s_l by exactly
ΔF (to round-off), which is what closes the CRM's budgets with the scheme's fluxes. Mid-level
pressure is the base state's p0 = P0 π0^(cp/Rd) at the centres (it lies between its
interfaces to within the hydrostatic integrals' difference, < 1e-4 relative).
"""

import numpy as np

from gcm.constants import GRAVITY, P0
from gcm.crm.base_state import BaseState
from gcm.crm.grid import CrmGrid
from gcm.crm.saturation_adjustment import MoistProfiles, temperature_and_cloud
from gcm.physics.column import ColumnState


def interface_pressure(grid: CrmGrid, base: BaseState) -> np.ndarray:
    """Interface pressures, Pa, (nz + 1,), top first (contract order): dp_k = g ρ0_k dz."""
    from_ground = P0 - GRAVITY * grid.dz * np.concatenate(([0.0], np.cumsum(base.rho_c)))
    if from_ground[-1] <= 0.0:
        raise ValueError(f"CRM columns: the lid at {grid.z_faces[-1]:.0f} m lies above the "
                         "whole atmosphere's mass (p_half <= 0 there); lower the lid")
    return from_ground[::-1].copy()


def to_columns(field: np.ndarray) -> np.ndarray:
    """A CRM field (ncrm, nz, nx) as GCM profiles (ncrm·nx, nz), top level first."""
    ncrm, nz, nx = field.shape
    return np.ascontiguousarray(field.transpose(0, 2, 1)[:, :, ::-1]).reshape(ncrm * nx, nz)


def from_columns(profiles: np.ndarray, ncrm: int) -> np.ndarray:
    """The inverse of ``to_columns``: (ncrm·nx, nz) top first → (ncrm, nz, nx)."""
    ncol, nz = profiles.shape
    return np.ascontiguousarray(profiles.reshape(ncrm, ncol // ncrm, nz)[:, :, ::-1]
                                .transpose(0, 2, 1))


def per_column(value, ncrm: int, nx: int) -> np.ndarray:
    """A surface quantity given per CRM (scalar or (ncrm,)) repeated over its x-columns,
    (ncrm·nx,)."""
    value = np.broadcast_to(np.asarray(value, float), (ncrm,))
    return np.repeat(value, nx)


def temperature_and_vapour(scalars: np.ndarray, profiles: MoistProfiles, levels: int | None = None):
    """(T K, q_v kg kg-1), each (ncrm, levels, nx), of the lowest ``levels`` layers (all if
    None) from scalars (ncrm, 3, nz, nx), by the saturation adjustment."""
    temperature, qc = temperature_and_cloud(scalars, profiles, levels)
    return temperature, scalars[:, 1, :temperature.shape[1]] - qc


def centred_u(u: np.ndarray) -> np.ndarray:
    """u at the cell centres, (ncrm, nz, nx): the mean of the two x-faces of each cell."""
    return 0.5 * (u + np.roll(u, -1, axis=-1))


def column_state(temperature, vapour, u, pressure, pressure_half, sst, insolation, latitude,
                 time: float) -> ColumnState:
    """A ColumnState of the CRM's x-columns: temperature, vapour, u (ncrm, levels, nx) on the
    lowest ``levels`` CRM layers; pressure (levels,) and pressure_half (levels + 1,) top first,
    Pa; sst (K), insolation (W m-2), latitude (radians): scalars or per CRM (ncrm,)."""
    ncrm, levels, nx = temperature.shape
    ncol = ncrm * nx
    return ColumnState(
        temperature=to_columns(temperature), humidity=to_columns(vapour), u=to_columns(u),
        v=np.zeros((ncol, levels)),
        pressure=np.broadcast_to(pressure, (ncol, levels)).copy(),
        pressure_half=np.broadcast_to(pressure_half, (ncol, levels + 1)).copy(),
        surface_pressure=np.full(ncol, pressure_half[-1]),
        sst=per_column(sst, ncrm, nx), insolation=per_column(insolation, ncrm, nx),
        latitude=per_column(latitude, ncrm, nx), longitude=np.zeros(ncol), time=time)


def accumulate(state, name: str, amount: np.ndarray) -> None:
    """Add ``amount`` (ncrm, nx) to the state's running total ``name`` (created at zero)."""
    total = state.accumulated.setdefault(name, np.zeros_like(state.precipitation))
    total += amount
