"""The GCM's bulk surface fluxes (``gcm.physics.surface_fluxes.SurfaceFluxes``, Reed &
Jablonowski 2012 coefficients, implicit in the lowest level) on every x-column of the CRM:
a ``Crm.processes`` entry.

Each x-column's lowest CRM layer (temperature and vapour from the saturation adjustment, u
averaged to the centre, mass ρ0 dz: see ``columns``) exchanges with a sea of prescribed
temperature ``sst`` through the GCM scheme, with the CRM step dt as the implicit interval.
The scheme's lowest-level tendencies enter the prognostic variables as fluxes into the
lowest layer, over dt:

    s_l += cp dt dT/dt  (sensible heat: SHF / (ρ0 dz) per unit time),
    q_t += dt dq/dt     (evaporation: LHF / (Lv ρ0 dz) per unit time),

and dt·SHF (J m-2) and dt·LHF/Lv (kg m-2) are added to ``state.accumulated["sensible"]``
and ``["evaporation"]``: the scheme reports the fluxes it applied (SHF = cp dT/dt dp/g), so
the budgets close to round-off. Momentum: the scheme's drag rate k = g ρ C_D |v| / dp
(s-1) of the two x-columns beside each u-face, averaged, damps u of the lowest layer
implicitly, u /= 1 + dt k (the scheme's backward Euler); the lost kinetic energy is not
turned into heat (as in the GCM); the flow is then projected again, so the anelastic
constraint still holds after the step.
"""

from dataclasses import dataclass, field

import numpy as np

from gcm.constants import CP, GRAVITY, LV, RD
from gcm.crm.base_state import BaseState
from gcm.crm.columns import (
    accumulate,
    centred_u,
    column_state,
    interface_pressure,
    temperature_and_vapour,
)
from gcm.crm.grid import CrmGrid
from gcm.crm.pressure import Projector
from gcm.crm.saturation_adjustment import MoistProfiles
from gcm.physics.column import ColumnState
from gcm.physics.surface_fluxes import SurfaceExchange, SurfaceFluxes


@dataclass
class CrmSurfaceFluxes:
    """Bulk surface exchange per CRM x-column over a sea at ``sst`` (K: scalar or per CRM,
    (ncrm,)); scheme: the GCM's scheme and its settings; drag: damp u as well."""

    grid: CrmGrid
    base: BaseState
    variable: str = "static_energy"
    sst: float | np.ndarray = 300.0
    scheme: SurfaceFluxes = field(default_factory=SurfaceFluxes)
    drag: bool = True

    def __post_init__(self):
        self.profiles = MoistProfiles.build(self.variable, self.base)
        self.pressure_half = interface_pressure(self.grid, self.base)[-2:]
        self.projector = Projector(self.grid, self.base)

    def columns(self, state) -> ColumnState:
        """The lowest layer of every x-column as GCM columns of one level (ncrm·nx)."""
        temperature, vapour = temperature_and_vapour(state.scalars, self.profiles, levels=1)
        return column_state(temperature, vapour, centred_u(state.u[:, :1]),
                            self.profiles.pressure[:1], self.pressure_half, self.sst, 0.0, 0.0,
                            state.time)

    def __call__(self, state, dt: float) -> None:
        """Apply the surface fluxes to ``state`` in place over dt (s) and accumulate them."""
        ncrm, nx = state.u.shape[0], self.grid.nx
        columns = self.columns(state)
        exchange = self.scheme.exchange(columns, dt)
        tend = exchange.tendencies
        state.scalar("thermo")[:, 0] += (dt * tend.temperature[:, -1].reshape(ncrm, nx)
                                         / self.profiles.factor[0])
        state.scalar("qt")[:, 0] += dt * tend.humidity[:, -1].reshape(ncrm, nx)
        accumulate(state, "sensible", dt * tend.shf.reshape(ncrm, nx))
        accumulate(state, "evaporation", dt * tend.lhf.reshape(ncrm, nx) / LV)
        if self.drag:
            rate = drag_rate(columns, exchange).reshape(ncrm, nx)
            face_rate = 0.5 * (rate + np.roll(rate, 1, axis=-1))  # face i: columns i − 1, i
            state.u[:, 0] /= 1.0 + dt * face_rate
            self.projector.project(state.u, state.w)


def drag_rate(columns: ColumnState, exchange: SurfaceExchange) -> np.ndarray:
    """The GCM scheme's drag rate k = g ρ C_D |v| / dp (s-1, (ncol,)) of the lowest level,
    with its air density ρ = p_N / (Rd T_N)."""
    rho = columns.pressure[:, -1] / (RD * columns.temperature[:, -1])
    dp = columns.pressure_half[:, -1] - columns.pressure_half[:, -2]
    return GRAVITY * rho * exchange.wind_speed * exchange.drag_coefficient / dp


@dataclass
class GcmSurfaceFluxes:
    """Surface fluxes computed on the GCM column and applied uniformly to its CRM's lowest
    layer (SPCAM's coupling: the host's surface scheme sees the host's lowest level, the
    CRM receives the fluxes): a ``Crm.processes`` entry. ``set(shf, evaporation)`` gives
    each CRM's sensible heat flux (W m-2) and evaporation (kg m-2 s-1), (ncrm,), held over
    the CRM steps until the next ``set``; each step adds them to s_l and q_t of the lowest
    layer as ``CrmSurfaceFluxes`` does and accumulates what it applied."""

    grid: CrmGrid
    base: BaseState
    variable: str = "static_energy"

    def __post_init__(self):
        self.profiles = MoistProfiles.build(self.variable, self.base)
        self.layer_mass = self.base.rho_c[0] * self.grid.dz  # kg m-2
        self.shf = np.zeros(0)
        self.evaporation = np.zeros(0)

    def set(self, shf: np.ndarray, evaporation: np.ndarray) -> None:
        self.shf = np.asarray(shf, dtype=np.float64)
        self.evaporation = np.asarray(evaporation, dtype=np.float64)

    def __call__(self, state, dt: float) -> None:
        """Apply the fluxes to ``state`` in place over dt (s) and accumulate them."""
        ncrm, nx = state.u.shape[0], self.grid.nx
        if self.shf.shape != (ncrm,) or self.evaporation.shape != (ncrm,):
            raise ValueError(f"GcmSurfaceFluxes: fluxes for {self.shf.shape} CRMs set, the "
                             f"state holds {ncrm}")
        heating = dt * self.shf / (CP * self.layer_mass)  # K of T_l
        state.scalar("thermo")[:, 0] += (heating / self.profiles.factor[0])[:, None]
        state.scalar("qt")[:, 0] += (dt * self.evaporation / self.layer_mass)[:, None]
        accumulate(state, "sensible", np.broadcast_to((dt * self.shf)[:, None], (ncrm, nx)))
        accumulate(state, "evaporation",
                   np.broadcast_to((dt * self.evaporation)[:, None], (ncrm, nx)))
