"""The GCM's gray radiation (``gcm.physics.radiation.GrayRadiation``, Frierson et al. 2006)
on every x-column of the CRM: a ``Crm.processes`` entry.

Each x-column, on the CRM's own levels (see ``columns``: interfaces placed so that
dp/g = ρ0 dz), is one column of the GCM scheme; its heating dT/dt (K s-1) enters the energy
variable at fixed water, i.e. T_l (and T) rise by dt·dT/dt: s_l += cp dt dT/dt. As in SAM,
radiation sees the diagnosed temperature and vapour, not the cloud (the gray scheme has no
cloud optics). The column's radiative flux convergence, (FSNT − FSNS) − (FLNT − FLNS) W m-2,
times dt is added to ``state.accumulated["radiation"]`` (J m-2), and the net top-of-atmosphere
flux FSNT − FLNT and the OLR FLNT to "toa_net" and "olr" (J m-2), so that

    Δ Σ ρ0 dz s_l (radiation's part) = accumulated["radiation"]   to round-off.

Forward in time (radiation is a rate), evaluated after the dynamics each step, or every
``interval`` steps with the last heating held in between (SAM calls its radiation every few
minutes); the budget then still closes, as the applied heating is what is accumulated.
"""

from dataclasses import dataclass, field

import numpy as np

from gcm.crm.base_state import BaseState
from gcm.crm.columns import (
    accumulate,
    centred_u,
    column_state,
    from_columns,
    interface_pressure,
    temperature_and_vapour,
)
from gcm.crm.grid import CrmGrid
from gcm.crm.saturation_adjustment import MoistProfiles
from gcm.physics.column import ColumnTendencies
from gcm.physics.radiation import GrayRadiation


@dataclass
class CrmRadiation:
    """Gray radiation per CRM x-column. sst (K), insolation (top-of-atmosphere SOLIN, W m-2),
    latitude (radians): scalars or per CRM (ncrm,); scheme: the GCM's scheme and its
    settings; interval: steps between radiation calls (≥ 1)."""

    grid: CrmGrid
    base: BaseState
    variable: str = "static_energy"
    sst: float | np.ndarray = 300.0
    insolation: float | np.ndarray = 0.0
    latitude: float | np.ndarray = 0.0
    scheme: GrayRadiation = field(default_factory=GrayRadiation)
    interval: int = 1

    def __post_init__(self):
        if self.interval < 1:
            raise ValueError(f"CrmRadiation: interval must be >= 1 step, got {self.interval}")
        self.profiles = MoistProfiles.build(self.variable, self.base)
        self.pressure_half = interface_pressure(self.grid, self.base)
        self._calls = 0
        self._held: tuple | None = None

    def tendencies(self, state) -> ColumnTendencies:
        """The GCM scheme's output for all x-columns of ``state`` (ncrm·nx columns)."""
        temperature, vapour = temperature_and_vapour(state.scalars, self.profiles)
        columns = column_state(temperature, vapour, centred_u(state.u),
                               self.profiles.pressure[::-1], self.pressure_half, self.sst,
                               self.insolation, self.latitude, state.time)
        return self.scheme(columns, 0.0)

    def __call__(self, state, dt: float) -> None:
        """Heat ``state`` in place over dt (s) and accumulate the boundary fluxes."""
        if self._held is None or self._calls % self.interval == 0:
            self._held = self._heating_and_fluxes(state)
        self._calls += 1
        heating, fluxes = self._held
        state.scalar("thermo")[...] += dt * heating / self.profiles.factor[:, None]
        for name, flux in fluxes.items():
            accumulate(state, name, dt * flux)

    def _heating_and_fluxes(self, state):
        """(dT/dt K s-1 (ncrm, nz, nx), {name: W m-2 (ncrm, nx)}) of the current state."""
        ncrm, nx = state.u.shape[0], self.grid.nx
        out = self.tendencies(state)
        fluxes = {"radiation": (out.fsnt - out.fsns) - (out.flnt - out.flns),
                  "toa_net": out.fsnt - out.flnt, "olr": out.flnt}
        return (from_columns(out.temperature, ncrm),
                {name: flux.reshape(ncrm, nx) for name, flux in fluxes.items()})
