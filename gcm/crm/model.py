"""The CRM's state and time step.

Prognostic (per CRM of a batch of ``ncrm``): u (ncrm, nz, nx) and w (ncrm, nz + 1, nx), m/s,
and the scalars (ncrm, 3, nz, nx) named by ``SCALARS``: the thermodynamic variable "thermo"
(liquid-water static energy, J kg-1, by default as in SAM, or potential temperature, K: see
``thermodynamics`` for the choice), total water "qt" (vapour + cloud) and rain "qr", kg kg-1;
and the surface precipitation accumulated since the start, kg m-2 (ncrm, nx). Buoyancy
b = g θ′/θ0 dry, or with ``moist=True`` the moist buoyancy of ``saturation_adjustment``
(latent heating, vapour's virtual effect and condensate loading; cloud water diagnosed).

Time step, ``time_scheme`` (both are SAM-like in what they conserve; they differ in cost):

- "ab3" (default; SAM's, Khairoutdinov & Randall 2003): momentum by the third-order
  Adams–Bashforth scheme with one projection a step,
  u* = uⁿ + dt (23/12 Fⁿ − 16/12 Fⁿ⁻¹ + 5/12 Fⁿ⁻²), uⁿ⁺¹ = P u*, F the advection, mixing
  and buoyancy of state n (forward Euler, then AB2, on the first two steps: the past
  tendencies are part of the state, ``du_history``/``dw_history``, so restarts are exact);
  scalars by the two-stage strong-stability-preserving Runge–Kutta (Heun; Shu & Osher
  1988) with the mid-step velocity ū = (uⁿ + uⁿ⁺¹)/2, which is non-divergent,
  φ1 = T(φⁿ), φⁿ⁺¹ = ½ (φⁿ + T(φ1)), T one monotone forward step of ``scalar_transport``
  (its third-order fluxes with RK2: stable to Courant ≈ 0.87). Per step: one momentum
  tendency, one buoyancy, one projection, two transports of each scalar.
  ``scalar_scheme="one_step"`` instead moves the scalars forward in time once a step, as
  SAM does: φⁿ⁺¹ = T₁(φⁿ), T₁ the one-pass space-time FCT of ``one_step_transport`` with
  the same mid-step velocity (one transport of each scalar; refused past the 2-D
  donor-cell limit Cx + Cz ≤ 1).
- "rk3": three-stage SSP Runge–Kutta of everything (Shu & Osher 1988; the RK3 family
  Wicker & Skamarock 2002 advocate for advection),
  x1 = P E(xⁿ),  x2 = P(¾ xⁿ + ¼ E(x1)),  xⁿ⁺¹ = P(⅓ xⁿ + ⅔ E(x2)),
  E a forward Euler step of all terms and P the anelastic projection (velocities only):
  three of each per step.

In both, every scalar stage is a convex combination of monotone, conservative steps in a
non-divergent flow, so the step makes no new extrema and conserves Σ ρ0 φ to round-off.
Sub-grid mixing, ``mixing``: "constant" (ν, κ given, m2 s-1: ν ∇² on momentum, κ in the
transport's low-order fluxes) or "smagorinsky" (``smagorinsky``: ν and κ = ν/Pr from the
state at the start of the step, Smagorinsky–Lilly; the stress divergence is part of the
momentum tendency, and the scalars take one forward eddy-diffusion step after their
transport: once a step under "ab3", after each stage's transport under "rk3").

Processes (microphysics: ``microphysics.Kessler``; radiation, large-scale forcing: later)
are callables ``process(state, dt)`` applied in place after the dynamics, in order.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numba
import numpy as np

from gcm.constants import GRAVITY
from gcm.crm import smagorinsky, thermodynamics
from gcm.crm.base_state import BaseState
from gcm.crm.grid import CrmGrid
from gcm.crm.momentum import momentum_tendency
from gcm.crm.one_step_transport import transport_one_step
from gcm.crm.pressure import Projector
from gcm.crm.saturation_adjustment import MoistProfiles, moist_buoyancy
from gcm.crm.scalar_transport import transport

SCALARS = ("thermo", "qt", "qr")  # static energy J kg-1 or θ K; total water, rain kg kg-1
TIME_SCHEMES = ("ab3", "rk3")
SCALAR_SCHEMES = ("rk2", "one_step")  # of "ab3": SSP-RK2 of FCT steps, or one space-time FCT
MIXINGS = ("constant", "smagorinsky")
# Adams–Bashforth weights of the newest first tendencies, by how many are known
ADAMS_BASHFORTH = ((1.0,), (1.5, -0.5), (23.0 / 12.0, -16.0 / 12.0, 5.0 / 12.0))
# largest dt·ν·4(1/dx² + 1/dz²) of explicit mixing: forward Euler's 2, AB3's 6/11
MIXING_LIMIT = {"euler": 2.0, "ab3": 6.0 / 11.0}


@dataclass
class CrmState:
    """u (ncrm, nz, nx), w (ncrm, nz + 1, nx) m/s; scalars (ncrm, len(SCALARS), nz, nx);
    precipitation: surface precipitation accumulated, kg m-2 (ncrm, nx); du_history
    (depth, ncrm, nz, nx), dw_history (depth, ncrm, nz + 1, nx): the "ab3" scheme's past
    momentum tendencies, m s-2, newest first (depth ≤ 2; None before its first step);
    accumulated: other boundary fluxes summed over the steps by the processes that make
    them (name → (ncrm, nx) array, e.g. J m-2 or kg m-2: see ``boundary``)."""

    u: np.ndarray
    w: np.ndarray
    scalars: np.ndarray
    time: float = 0.0
    precipitation: np.ndarray | None = None
    du_history: np.ndarray | None = None
    dw_history: np.ndarray | None = None
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
    ``saturation_adjustment``), else g θ′/θ0 whatever the water tracers hold; time_scheme:
    one of TIME_SCHEMES; scalar_scheme: one of SCALAR_SCHEMES, how "ab3" moves the scalars;
    mixing: one of MIXINGS ("smagorinsky" needs nu = kappa = 0; see the module)."""

    grid: CrmGrid
    base: BaseState
    dt: float
    nu: float = 0.0
    kappa: float = 0.0
    processes: Sequence[Callable[[CrmState, float], None]] = field(default_factory=tuple)
    thermodynamic: str = "static_energy"
    moist: bool = False
    time_scheme: str = "ab3"
    mixing: str = "constant"
    scalar_scheme: str = "rk2"

    def __post_init__(self):
        thermodynamics.check_variable(self.thermodynamic)
        if self.time_scheme not in TIME_SCHEMES:
            raise ValueError(f"Crm: time_scheme {self.time_scheme!r} unknown; choose one of "
                             f"{TIME_SCHEMES}")
        if self.scalar_scheme not in SCALAR_SCHEMES:
            raise ValueError(f"Crm: scalar_scheme {self.scalar_scheme!r} unknown; choose one of "
                             f"{SCALAR_SCHEMES}")
        if self.scalar_scheme != "rk2" and self.time_scheme != "ab3":
            raise ValueError(f"Crm: scalar_scheme {self.scalar_scheme!r} is an option of "
                             f"time_scheme 'ab3', not {self.time_scheme!r}")
        if not self.dt > 0 or self.nu < 0 or self.kappa < 0:
            raise ValueError(f"Crm: need dt > 0, nu >= 0, kappa >= 0; got dt={self.dt}, "
                             f"nu={self.nu}, kappa={self.kappa}")
        per_m2 = 4.0 * (1.0 / self.grid.dx**2 + 1.0 / self.grid.dz**2)
        stability = MIXING_LIMIT["ab3" if self.time_scheme == "ab3" else "euler"]
        momentum = stability / per_m2
        for name, value, limit in (("ν", self.nu, momentum),
                                   ("κ", self.kappa, MIXING_LIMIT["euler"] / per_m2)):
            if self.dt * value > limit:
                raise ValueError(f"Crm: dt={self.dt} s too long for explicit mixing with "
                                 f"{self.time_scheme} (dt·{name} must be <= {limit:.3g} m2)")
        if self.mixing not in MIXINGS:
            raise ValueError(f"Crm: mixing {self.mixing!r} unknown; choose one of {MIXINGS}")
        if self.mixing == "smagorinsky" and (self.nu or self.kappa):
            raise ValueError(f"Crm: mixing='smagorinsky' computes ν and κ itself; got nu="
                             f"{self.nu}, kappa={self.kappa} (set both to 0)")
        self.projector = Projector(self.grid, self.base)
        self.profiles = MoistProfiles.build(self.thermodynamic, self.base)
        reference, scale = thermodynamics.reference_and_scale(self.thermodynamic, self.base)
        # b = g θ′/θ0 = (field − reference) × g / (scale θ0): ``thermodynamics.buoyancy``
        self.dry_reference, self.dry_coefficient = reference, GRAVITY / (scale * self.base.theta_c)
        self.nu_max = smagorinsky.viscosity_limit(self.dt, self.grid.dx, self.grid.dz,
                                                  self.base.rho_c, self.base.rho_f, stability)

    def rest_state(self, ncrm: int) -> CrmState:
        """ncrm CRMs at rest in the base state (θ′ = 0), without water."""
        g = self.grid
        scalars = np.zeros((ncrm, len(SCALARS), g.nz, g.nx))
        reference, _ = thermodynamics.reference_and_scale(self.thermodynamic, self.base)
        scalars[:, 0] = reference[:, None]
        return CrmState(np.zeros((ncrm, g.nz, g.nx)), np.zeros((ncrm, g.nz + 1, g.nx)), scalars)

    def step(self, state: CrmState) -> CrmState:
        """One step of dt: the new state (the old one is not modified)."""
        new = self._step_ab3(state) if self.time_scheme == "ab3" else self._step_rk3(state)
        new.accumulated = {name: total.copy() for name, total in state.accumulated.items()}
        for process in self.processes:
            process(new, self.dt)
        return new

    def _step_ab3(self, state: CrmState) -> CrmState:
        g, b, dt = self.grid, self.base, self.dt
        du, dw, kappa = self._momentum_tendency(state.u, state.w, state.scalars)
        u, du_history = _adams_bashforth_step(state.u, du, state.du_history, dt)
        w, dw_history = _adams_bashforth_step(state.w, dw, state.dw_history, dt)
        self.projector.project(u, w)
        u_mid, w_mid = _combine(state.u, 0.5, u, 0.5), _combine(state.w, 0.5, w, 0.5)
        args = (b.rho_c, b.rho_f, self.kappa, dt, g.dx, g.dz)
        if self.scalar_scheme == "one_step":
            scalars = transport_one_step(state.scalars, u_mid, w_mid, *args)
        else:
            first = transport(state.scalars, u_mid, w_mid, *args)
            scalars = _combine(state.scalars, 0.5, transport(first, u_mid, w_mid, *args), 0.5)
        if kappa is not None:
            scalars = smagorinsky.diffuse(scalars, kappa, b.rho_c, b.rho_f, dt, g.dx, g.dz)
        return CrmState(u, w, scalars, state.time + dt, state.precipitation.copy(),
                        du_history, dw_history)

    def _step_rk3(self, state: CrmState) -> CrmState:
        g = self.grid
        nu = None
        if self.mixing == "smagorinsky":  # ν from the state at the start, for all stages
            nu = smagorinsky.eddy_viscosity(state.u, state.w, state.scalars,
                                            *self._stability_profiles(), g.dx, g.dz,
                                            smagorinsky.length_scale_squared(g.dx, g.dz),
                                            self.nu_max)
        u1, w1, s1 = self._euler(state.u, state.w, state.scalars, nu)
        self.projector.project(u1, w1)
        u2, w2, s2 = self._euler(u1, w1, s1, nu)
        u2, w2, s2 = (0.75 * a + 0.25 * b for a, b in ((state.u, u2), (state.w, w2),
                                                         (state.scalars, s2)))
        self.projector.project(u2, w2)
        u3, w3, s3 = self._euler(u2, w2, s2, nu)
        u3, w3, s3 = ((a + 2.0 * b) / 3.0 for a, b in ((state.u, u3), (state.w, w3),
                                                       (state.scalars, s3)))
        self.projector.project(u3, w3)
        return CrmState(u3, w3, s3, state.time + self.dt, state.precipitation.copy())

    def run(self, state: CrmState, seconds: float) -> CrmState:
        """Steps of dt covering ``seconds`` (rounded to whole steps)."""
        for _ in range(int(round(seconds / self.dt))):
            state = self.step(state)
        return state

    def _euler(self, u, w, scalars, nu):
        """Forward Euler of advection, mixing and buoyancy from (u, w, scalars); nu: the
        Smagorinsky viscosity (ncrm, nz, nx) m2 s-1, or None for constant mixing."""
        g, b = self.grid, self.base
        du, dw = momentum_tendency(u, w, self._buoyancy(scalars), b.rho_c, b.rho_f, self.nu,
                                   g.dx, g.dz)
        new_scalars = transport(scalars, u, w, b.rho_c, b.rho_f, self.kappa, self.dt, g.dx, g.dz)
        if nu is not None:
            smagorinsky.add_stress(u, w, nu, b.rho_c, b.rho_f, g.dx, g.dz, du, dw)
            new_scalars = smagorinsky.diffuse(new_scalars, nu / smagorinsky.PRANDTL, b.rho_c,
                                              b.rho_f, self.dt, g.dx, g.dz)
        return u + self.dt * du, w + self.dt * dw, new_scalars

    def _momentum_tendency(self, u, w, scalars):
        """(du, dw, κ): the momentum tendency of advection, buoyancy and mixing, m s-2, and
        the Smagorinsky diffusivity (ncrm, nz, nx) m2 s-1 (None for constant mixing)."""
        g, b = self.grid, self.base
        du, dw = momentum_tendency(u, w, self._buoyancy(scalars), b.rho_c, b.rho_f, self.nu,
                                   g.dx, g.dz)
        if self.mixing == "constant":
            return du, dw, None
        kappa = smagorinsky.mixing_tendency(
            u, w, scalars, *self._stability_profiles(), b.rho_c, b.rho_f, g.dx, g.dz,
            smagorinsky.length_scale_squared(g.dx, g.dz), self.nu_max, du, dw)
        return du, dw, kappa

    def _stability_profiles(self):
        """(offset, factor, pressure, t0, moist): the N² arguments of ``smagorinsky``'s
        kernels."""
        p = self.profiles
        return p.offset, p.factor, p.pressure, p.t0, self.moist

    def _buoyancy(self, scalars):
        """Buoyancy at centres, m s-2, (ncrm, nz, nx), moist or dry as configured."""
        if self.moist:
            p = self.profiles
            return moist_buoyancy(scalars, p.offset, p.factor, p.pressure, p.t0)
        return _dry_buoyancy(scalars, self.dry_reference, self.dry_coefficient)


def _adams_bashforth_step(x: np.ndarray, tendency: np.ndarray, history: np.ndarray | None,
                          dt: float) -> tuple[np.ndarray, np.ndarray]:
    """(x + dt Σ weights × tendencies, the newest ≤ 2 tendencies): AB of the order that
    ``history`` (depth, *x.shape), newest first, or None, allows."""
    if history is None:
        history = np.empty((0,) + x.shape)
    weights = np.array(ADAMS_BASHFORTH[min(len(history), 2)])
    return _adams_bashforth(x, tendency, history, weights, dt, min(len(history) + 1, 2))


@numba.njit(parallel=True, cache=True)
def _adams_bashforth(x, tendency, history, weights, dt, kept):
    """x + dt (weights[0] tendency + Σ_d weights[d + 1] history[d]), and the ``kept`` newest
    of (tendency, *history) stacked; any shape, C-contiguous; one pass over memory."""
    n = x.size
    depth = len(weights) - 1
    flat_x, flat_f = x.reshape(n), tendency.reshape(n)
    past = history.reshape(history.shape[0], n)
    out = np.empty(n)
    newest = np.empty((kept, n))
    if depth == 2 and kept == 2:  # every step after the second: a loop that vectorizes
        w0, w1, w2 = weights[0], weights[1], weights[2]
        for j in numba.prange(n):
            out[j] = flat_x[j] + dt * ((w0 * flat_f[j] + w1 * past[0, j]) + w2 * past[1, j])
            newest[0, j] = flat_f[j]
            newest[1, j] = past[0, j]
        return out.reshape(x.shape), newest.reshape((kept,) + x.shape)
    for j in numba.prange(n):
        total = weights[0] * flat_f[j]
        for d in range(depth):
            total += weights[d + 1] * past[d, j]
        out[j] = flat_x[j] + dt * total
        newest[0, j] = flat_f[j]
        for d in range(kept - 1):
            newest[d + 1, j] = past[d, j]
    return out.reshape(x.shape), newest.reshape((kept,) + x.shape)


@numba.njit(parallel=True, cache=True)
def _combine(first, a, second, b):
    """a first + b second (same shape, C-contiguous), in one pass."""
    n = first.size
    x, y = first.reshape(n), second.reshape(n)
    out = np.empty(n)
    for j in numba.prange(n):
        out[j] = a * x[j] + b * y[j]
    return out.reshape(first.shape)


@numba.njit(parallel=True, cache=True)
def _dry_buoyancy(scalars, reference, coefficient):
    """b = coefficient (thermo − reference), m s-2, (ncrm, nz, nx), from scalars
    (ncrm, nscalar, nz, nx) and per-level (nz,) profiles: ``thermodynamics.buoyancy`` to
    round-off, in one pass."""
    ncrm, _, nz, nx = scalars.shape
    out = np.empty((ncrm, nz, nx))
    for c in numba.prange(ncrm):
        for k in range(nz):
            for i in range(nx):
                out[c, k, i] = coefficient[k] * (scalars[c, 0, k, i] - reference[k])
    return out
