"""The CRM's state and time step.

Prognostic (per CRM of a batch of ``ncrm``): u (ncrm, nz, nx) and w (ncrm, nz + 1, nx), m/s,
and the scalars (ncrm, 3, nz, nx) named by ``SCALARS``: the thermodynamic variable "thermo"
(liquid-water static energy, J kg-1, by default as in SAM, or potential temperature, K: see
``thermodynamics`` for the choice), total water "qt" (vapour + cloud) and rain "qr", kg kg-1;
and the surface precipitation accumulated since the start, kg m-2 (ncrm, nx). Buoyancy
b = g θ′/θ0 dry, or with ``moist=True`` the moist buoyancy of ``saturation_adjustment``
(latent heating, vapour's virtual effect and condensate loading; cloud water diagnosed).

Time step: three-stage strong-stability-preserving Runge–Kutta (Shu & Osher 1988; the RK3
family Wicker & Skamarock 2002 advocate for advection),

    x1 = P E(xⁿ),  x2 = P(¾ xⁿ + ¼ E(x1)),  xⁿ⁺¹ = P(⅓ xⁿ + ⅔ E(x2)),

with E a forward Euler step of all terms and P the anelastic projection (velocities only).
Convex combinations of monotone, conservative, non-divergent stages stay so. Processes
(microphysics: ``microphysics.Kessler``; radiation, large-scale forcing: later) are callables
``process(state, dt)`` applied in place after the dynamics, in order.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from gcm.crm import thermodynamics
from gcm.crm.base_state import BaseState
from gcm.crm.grid import CrmGrid
from gcm.crm.momentum import momentum_tendency
from gcm.crm.pressure import Projector
from gcm.crm.saturation_adjustment import MoistProfiles, moist_buoyancy
from gcm.crm.scalar_transport import transport

SCALARS = ("thermo", "qt", "qr")  # static energy J kg-1 or θ K; total water, rain kg kg-1


@dataclass
class CrmState:
    """u (ncrm, nz, nx), w (ncrm, nz + 1, nx) m/s; scalars (ncrm, len(SCALARS), nz, nx);
    precipitation: surface precipitation accumulated, kg m-2 (ncrm, nx); accumulated: other
    boundary fluxes summed over the steps by the processes that make them (name → (ncrm, nx)
    array, e.g. J m-2 or kg m-2: see ``boundary``)."""

    u: np.ndarray
    w: np.ndarray
    scalars: np.ndarray
    time: float = 0.0
    precipitation: np.ndarray | None = None
    accumulated: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        if self.precipitation is None:
            self.precipitation = np.zeros((self.u.shape[0], self.u.shape[2]))

    def scalar(self, name: str) -> np.ndarray:
        """The scalar ``name`` (one of SCALARS), shape (ncrm, nz, nx), a view."""
        if name not in SCALARS:
            raise KeyError(f"CrmState.scalar: unknown scalar {name!r}; known: {SCALARS}")
        return self.scalars[:, SCALARS.index(name)]


@dataclass
class Crm:
    """A batch of CRMs on one grid and base state.

    dt: step, s; nu, kappa: constant eddy viscosity and diffusivity, m2 s-1; processes:
    callables ``process(state, dt)`` applied after the dynamics each step; thermodynamic:
    "static_energy" or "theta" (see ``thermodynamics``); moist: buoyancy with water (see
    ``saturation_adjustment``), else g θ′/θ0 whatever the water tracers hold."""

    grid: CrmGrid
    base: BaseState
    dt: float
    nu: float = 0.0
    kappa: float = 0.0
    processes: Sequence[Callable[[CrmState, float], None]] = field(default_factory=tuple)
    thermodynamic: str = "static_energy"
    moist: bool = False

    def __post_init__(self):
        thermodynamics.check_variable(self.thermodynamic)
        if not self.dt > 0 or self.nu < 0 or self.kappa < 0:
            raise ValueError(f"Crm: need dt > 0, nu >= 0, kappa >= 0; got dt={self.dt}, "
                             f"nu={self.nu}, kappa={self.kappa}")
        limit = 0.5 / (1.0 / self.grid.dx**2 + 1.0 / self.grid.dz**2)
        if self.dt * max(self.nu, self.kappa) > limit:
            raise ValueError(f"Crm: dt={self.dt} s too long for explicit mixing "
                             f"(dt·max(ν, κ) must be <= {limit:.3g} m2)")
        self.projector = Projector(self.grid, self.base)
        self.profiles = MoistProfiles.build(self.thermodynamic, self.base)

    def rest_state(self, ncrm: int) -> CrmState:
        """ncrm CRMs at rest in the base state (θ′ = 0), without water."""
        g = self.grid
        scalars = np.zeros((ncrm, len(SCALARS), g.nz, g.nx))
        reference, _ = thermodynamics.reference_and_scale(self.thermodynamic, self.base)
        scalars[:, 0] = reference[:, None]
        return CrmState(np.zeros((ncrm, g.nz, g.nx)), np.zeros((ncrm, g.nz + 1, g.nx)), scalars)

    def step(self, state: CrmState) -> CrmState:
        """One step of dt: the new state (the old one is not modified)."""
        u1, w1, s1 = self._euler(state.u, state.w, state.scalars)
        self.projector.project(u1, w1)
        u2, w2, s2 = self._euler(u1, w1, s1)
        u2, w2, s2 = (0.75 * a + 0.25 * b for a, b in ((state.u, u2), (state.w, w2),
                                                         (state.scalars, s2)))
        self.projector.project(u2, w2)
        u3, w3, s3 = self._euler(u2, w2, s2)
        u3, w3, s3 = ((a + 2.0 * b) / 3.0 for a, b in ((state.u, u3), (state.w, w3),
                                                       (state.scalars, s3)))
        self.projector.project(u3, w3)
        new = CrmState(u3, w3, s3, state.time + self.dt, state.precipitation.copy(),
                       {name: total.copy() for name, total in state.accumulated.items()})
        for process in self.processes:
            process(new, self.dt)
        return new

    def run(self, state: CrmState, seconds: float) -> CrmState:
        """Steps of dt covering ``seconds`` (rounded to whole steps)."""
        for _ in range(int(round(seconds / self.dt))):
            state = self.step(state)
        return state

    def _euler(self, u, w, scalars):
        """Forward Euler of advection, mixing and buoyancy from (u, w, scalars)."""
        g, b = self.grid, self.base
        if self.moist:
            p = self.profiles
            buoy = moist_buoyancy(scalars, p.offset, p.factor, p.pressure, p.t0)
        else:
            buoy = thermodynamics.buoyancy(self.thermodynamic, scalars[:, 0], b)
        du, dw = momentum_tendency(u, w, buoy, b.rho_c, b.rho_f, self.nu, g.dx, g.dz)
        new_scalars = transport(scalars, u, w, b.rho_c, b.rho_f, self.kappa, self.dt, g.dx, g.dz)
        return u + self.dt * du, w + self.dt * dw, new_scalars
