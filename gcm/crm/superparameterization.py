"""Superparameterization: one 2-D CRM in every GCM column, as a column-physics scheme
(``physics.scheme: superparameterized``), after SPCAM (Khairoutdinov & Randall 2001,
Geophys. Res. Lett., 28, 3617–3620; Khairoutdinov, Randall & DeMott 2005, J. Atmos. Sci.,
62, 2136–2154) and Grabowski's CRCP (2001, J. Atmos. Sci., 58, 978–997).

One batched ``Crm`` holds a CRM per GCM column (ncrm = ncol; the kernels run the CRMs in
parallel with numba), oriented east–west, with Kessler rain; its state persists between
calls and is the scheme's restart state (``state_arrays``).

Surface fluxes (``crm.surface``): by default, as in SPCAM, the GCM's bulk scheme runs on
the GCM column's lowest level (as for the teacher) and its sensible heat flux and
evaporation enter the CRM's lowest layer uniformly in x, held over the call
(``surface_fluxes.GcmSurfaceFluxes``). ``crm_columns`` instead runs the scheme on each CRM
x-column's lowest layer: that layer is 0-750 m thick, its layer-mean air drier and colder
and its wind stronger than the GCM's lowest level (~100 m), and in a T21 run its fluxes
came out ~1.8x the teacher's evaporation (5.8 against 3.2 mm/day after two days) and
warmed the troposphere by ~0.7 K a day.

Vertical: the batched CRM has one grid and one base state, so its layers sit on fixed
heights (nz × dz, a uniform grid; SPCAM instead put its CRM on the lowest GCM levels, which
needs a grid per column). The base state is the RCE sounding (``rce.initial_base_state``)
for ``base_sst``; its layers are fixed in σ = p/P0, as the GCM's are, and ``level_map``
maps states GCM → CRM and tendencies CRM → GCM conservatively in mass (the column's energy
and water changes are the CRM's exactly). GCM levels above the lid get no CRM tendency.

Each call (the model calls once a step Δ with dt = 2Δ, the leapfrog interval; dt = Δ on
the forward first step), the CRM runs τ = dt/2 in whole steps of crm.dt, so that its time
follows the model's:

1. the GCM column's T, q, u on the CRM's layers are the targets; the large-scale forcing
   (``large_scale_forcing``) pulls the CRM's mean T_l, q_t + q_r and u to them over τ,
   uniformly in x (the first call starts the CRMs from the column, at rest, with
   ``noise`` K of fixed random θ′ in the lowest kilometre);
2. the CRM runs τ/crm.dt steps: dynamics, forcing, Kessler rain, surface fluxes (the
   GCM column's, set at the start of the call);
3. returned: the CRM's own mean tendencies of T_l and q_t + q_r (change of the mean less the
   forcing applied, over τ) mapped to the GCM's levels: the GCM has no condensate, so cloud
   and rain count as vapour at the latent heat they cost; the mean surface precipitation,
   sensible and latent heat flux of the CRM's x-columns over τ. The CRM's round-off
   departure from its own budget (≈ 4e-9 W m-2 in the tests) is removed uniformly in mass
   so that the column budgets close to the sums' round-off, and reported
   (``sp_energy_fix``, ``sp_water_fix``). Where that drying would take a GCM level below
   zero vapour it is limited to what the level holds, the water taken from precipitation
   (``crm.keep_humidity_positive``, gcm.crm.negative_humidity; reported as
   ``sp_negative_humidity_fix``).

Radiation: the GCM's gray scheme on the GCM column, whole (its heating reaches the CRM in
the next call's forcing). The gray scheme has no cloud optics and its optical depth depends
on p/ps only (or on q_v), so on the CRM's x-columns it would differ from this through the
σT⁴ nonlinearity of the CRM's small T anomalies only, while a lidded CRM column would miss
the atmosphere above its lid. Momentum: the CRM's is not returned (as in SPCAM); the drag
is the GCM's bulk surface stress and boundary-layer momentum diffusion on the GCM column (as
for the hybrid), whose dissipated kinetic energy becomes heat (``frictional_heating``). The
CRM's own surface drag is off: its mean wind follows the GCM's, which feels the drag, and
the drag's re-projection of the flow cost a fifth of the CRM's time.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from gcm.constants import CP, LV, P0
from gcm.crm.columns import interface_pressure
from gcm.crm.grid import CrmGrid
from gcm.crm.large_scale_forcing import LargeScaleForcing
from gcm.crm.level_map import LevelMap, horizontal_mean, product
from gcm.crm.microphysics import Kessler
from gcm.crm.model import MIXINGS, SCALAR_SCHEMES, TIME_SCHEMES, Crm, CrmState
from gcm.crm.negative_humidity import keep_humidity_positive
from gcm.crm.rce import RceConfig, initial_base_state
from gcm.crm.surface_fluxes import CrmSurfaceFluxes, GcmSurfaceFluxes
from gcm.physics.boundary_layer import BoundaryLayer
from gcm.physics.column import ColumnScheme, ColumnState, ColumnTendencies, PhysicsFailure
from gcm.physics.radiation import GrayRadiation
from gcm.physics.surface_fluxes import SurfaceFluxes
from gcm.timing import NULL_TIMER

NOISE_DEPTH = 1000.0  # m: the initial θ′ noise fills the layers below
SIGMA_DECIMALS = 12
PARTS = ("crm", "radiation", "surface_fluxes", "boundary_layer")
LOWEST_LID = 0.3  # σ: a lid below it would cut off deep convection
logger = logging.getLogger("gcm")
#: crm.surface: the bulk fluxes from the GCM column's lowest level, applied uniformly to
#: its CRM (SPCAM's way), or from each CRM x-column's lowest layer
SURFACES = {"gcm_column": "from the GCM column, uniform over the CRM",
            "crm_columns": "from each CRM x-column's lowest layer"}


@dataclass(frozen=True)
class CrmSettings:
    """physics.parameters.crm: nx columns of dx (m), nz layers of dz (m), step dt (s), eddy
    viscosity nu and diffusivity kappa (m2 s-1), time_scheme (``model.TIME_SCHEMES``),
    scalar_scheme (``model.SCALAR_SCHEMES``),
    base_sst (K: the base state is the RCE sounding for it), noise (K: initial θ′),
    surface (``SURFACES``: where the bulk surface fluxes are computed), max_halvings (a
    call whose CRM crosses the one-step transport's Courant limit is run again from its
    start with dt halved, at most this many times; 0: the run stops there),
    keep_humidity_positive (the returned drying limited to what each GCM level holds,
    gcm.crm.negative_humidity; false: as the runs before 2026-12-05)."""

    nx: int = 32
    dx: float = 4000.0
    nz: int = 24
    dz: float = 750.0
    dt: float = 20.0
    nu: float = 30.0
    kappa: float = 0.0
    # constant ν (cheaper: Smagorinsky costs the moist step 1.6x, docs/performance.md)
    mixing: str = "constant"
    time_scheme: str = "ab3"
    scalar_scheme: str = "one_step"  # 1.2-1.3x faster than "rk2" (docs/performance.md)
    base_sst: float = 300.0
    noise: float = 0.1
    surface: str = "gcm_column"
    max_halvings: int = 2
    keep_humidity_positive: bool = True

    @classmethod
    def from_dict(cls, values: dict) -> CrmSettings:
        """Settings from a config mapping; TypeError naming an unknown key."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise TypeError(f"crm: unknown key(s) {unknown}; known: {known}")
        settings = cls(**values)
        if settings.time_scheme not in TIME_SCHEMES:
            raise TypeError(f"crm.time_scheme {settings.time_scheme!r} unknown; choose one "
                            f"of {TIME_SCHEMES}")
        if settings.mixing not in MIXINGS:
            raise TypeError(f"crm.mixing {settings.mixing!r} unknown; choose one of {MIXINGS}")
        if not isinstance(settings.max_halvings, int) or settings.max_halvings < 0:
            raise TypeError(f"crm.max_halvings must be a whole number >= 0, got "
                            f"{settings.max_halvings!r}")
        if settings.surface not in SURFACES:
            raise TypeError(f"crm.surface {settings.surface!r} unknown; choose one of "
                            f"{tuple(SURFACES)}")
        if settings.scalar_scheme not in SCALAR_SCHEMES:
            raise TypeError(f"crm.scalar_scheme {settings.scalar_scheme!r} unknown; choose one "
                            f"of {SCALAR_SCHEMES}")
        return settings


class _Timed:
    """A CRM process whose calls the owner's timer counts under ``section``."""

    def __init__(self, process, section: str, owner):
        self.process, self.section, self.owner = process, section, owner

    def __call__(self, state, dt: float) -> None:
        with self.owner.timer.section(self.section):
            self.process(state, dt)


class Superparameterized(ColumnScheme):
    """The SP scheme; keyword arguments are dicts: ``crm`` (CrmSettings), ``radiation``,
    ``surface_fluxes`` (the GCM's schemes' fields; the surface scheme serves the CRM's
    x-columns and the GCM's drag) and ``boundary_layer`` (its momentum diffusion only)."""

    name = "superparameterized"
    frictional_heating = True
    diagnostic_attrs = {
        "sp_energy_fix": {"long_name": "largest CRM energy round-off removed",
                          "units": "W m-2"},
        "sp_water_fix": {"long_name": "largest CRM water round-off removed",
                         "units": "kg m-2 s-1"},
        "sp_negative_humidity_fix": {"long_name": "largest water a column's humidity limiter "
                                                  "added (gcm.crm.negative_humidity)",
                                     "units": "kg m-2 s-1"},
        "sp_crm_dt_halvings": {"long_name": "times the CRM step was halved to stay within "
                                            "the transport's Courant limit (0: none)",
                               "units": "1"},
    }

    def __init__(self, crm: dict | None = None, radiation: dict | None = None,
                 surface_fluxes: dict | None = None, boundary_layer: dict | None = None,
                 **unknown):
        if unknown:
            raise TypeError(f"unknown part(s) {sorted(unknown)}; the parts are {list(PARTS)}")
        self.settings = CrmSettings.from_dict(crm or {})
        s = self.settings
        self.radiation = _part(GrayRadiation, "radiation", radiation)
        self.surface = _part(SurfaceFluxes, "surface_fluxes", surface_fluxes)
        self.drag = _part(BoundaryLayer, "boundary_layer", boundary_layer)
        try:
            grid = CrmGrid(s.nx, s.nz, s.dx, s.dz)
            base = initial_base_state(RceConfig(nx=s.nx, dx=s.dx, nz=s.nz, dz=s.dz,
                                                sst=s.base_sst))
            self.crm_pressure_half = interface_pressure(grid, base)
            lid = self.crm_pressure_half[0] / P0
            if lid > LOWEST_LID:
                raise ValueError(f"the lid at {grid.z_faces[-1]:.0f} m (σ = {lid:.3f}) is "
                                 f"below σ = {LOWEST_LID}: the CRM must hold the troposphere "
                                 "(raise crm.nz × crm.dz)")
            self.forcing = LargeScaleForcing(None)
            if s.surface == "gcm_column":
                self.crm_surface = GcmSurfaceFluxes(grid, base)
            else:
                self.crm_surface = CrmSurfaceFluxes(grid, base, scheme=self.surface,
                                                    drag=False)
            self.crm = Crm(grid, base, dt=s.dt, nu=s.nu, kappa=s.kappa, moist=True,
                           mixing=s.mixing, time_scheme=s.time_scheme,
                           scalar_scheme=s.scalar_scheme, processes=(
                               _Timed(self.forcing, "physics_crm_forcing", self),
                               _Timed(Kessler(grid, base), "physics_crm_microphysics", self),
                               _Timed(self.crm_surface, "physics_crm_surface", self)))
        except ValueError as err:
            raise TypeError(f"crm: {err}") from None
        self.forcing.profiles = self.crm.profiles
        self.state: CrmState | None = None
        self.level_map: LevelMap | None = None
        self.fixes = {name: 0.0 for name in self.diagnostic_attrs}
        self._crms = {0: self.crm}
        self.timer = NULL_TIMER

    def provenance(self) -> dict:
        """The CRM configuration, for dataset and run metadata."""
        return {"crm_" + k: v for k, v in asdict(self.settings).items()}

    # ------------------------------------------------------------------ one call
    def __call__(self, columns: ColumnState, dt: float) -> ColumnTendencies:
        timer = self.timer
        tau = 0.5 * dt
        steps = self._steps(tau)
        with timer.section("physics_crm_coupling"):
            self._prepare(columns)
            start = self._means(self.state)
            lmap = self.level_map
            self.forcing.set((lmap.to_crm(columns.temperature) - start[0]) / tau,
                             (lmap.to_crm(columns.humidity) - start[1]) / tau,
                             (lmap.to_crm(columns.u) - horizontal_mean(self.state.u)) / tau)
            surface = self.surface(columns, dt)  # the GCM's bulk scheme on the column
            if isinstance(self.crm_surface, GcmSurfaceFluxes):
                self.crm_surface.set(surface.shf, surface.lhf / LV)
            else:
                self.crm_surface.sst = np.asarray(columns.sst, float)
            state = self.state
            state.precipitation = np.zeros_like(state.precipitation)
            state.accumulated = {}
        with timer.section("physics_crm"):
            state = self._run_crm(state, steps)
        self.state = state
        with timer.section("physics_crm_coupling"):
            out = self._crm_tendencies(columns, start, tau)
            if self.settings.keep_humidity_positive:
                added = keep_humidity_positive(columns.humidity, out, dt, columns.thickness)
                self.fixes["sp_negative_humidity_fix"] = float(added.max(initial=0.0))
        with timer.section("physics_radiation"):
            rad = self.radiation(columns, dt)
        out.temperature += rad.temperature
        for name in ("fsnt", "fsns", "flnt", "flns"):
            setattr(out, name, getattr(rad, name).copy())
        with timer.section("physics_boundary_layer"):
            out.u, out.v = self._momentum_drag(columns, surface, dt)
        out.temperature -= (columns.u * out.u + columns.v * out.v) / CP  # frictional heating
        return out

    def step_diagnostics(self) -> dict[str, float]:
        return dict(self.fixes)

    def _run_crm(self, start: CrmState, steps: int) -> CrmState:
        """The CRMs after ``steps`` steps of crm.dt from ``start`` (left as it is); how often
        dt was halved goes to the diagnostics (``sp_crm_dt_halvings``). A step past the
        one-step transport's Courant limit (a ValueError naming the cell) sends the whole
        call back to ``start`` with dt halved and twice the steps, the Adams–Bashforth
        history restarted (it holds tendencies of the other dt), up to crm.max_halvings
        times (as SAM subcycles its CRM when the Courant number grows); the state after a
        halved call has no history either, so the next call's multistep starts anew at
        crm.dt. Past the last halving: PhysicsFailure (the run writes the restart of the
        last whole step and stops)."""
        failure = None
        for halvings in range(self.settings.max_halvings + 1):
            crm = self._crm_halved(halvings)
            state = start if halvings == 0 else replace(start, du_history=None,
                                                        dw_history=None)
            if halvings:
                self.forcing.reset_applied()  # what the failed attempt applied is undone
            try:
                for _ in range(steps * 2**halvings):
                    state = crm.step(state)
            except ValueError as err:  # e.g. the one-step transport's Courant limit
                failure = err
                continue
            if halvings:
                state.du_history = state.dw_history = None
                logger.warning("superparameterized: crm.dt halved %d time%s at CRM time "
                               "%.0f s (%s)", halvings, "" if halvings == 1 else "s",
                               start.time, failure)
            self.fixes["sp_crm_dt_halvings"] = float(halvings)
            return state
        raise PhysicsFailure(f"superparameterized: {failure} (CRM n is GCM column n; crm.dt "
                             f"was halved {self.settings.max_halvings} times)") from failure

    def _crm_halved(self, halvings: int) -> Crm:
        """The CRM with dt / 2**halvings (made once, its processes shared)."""
        if halvings not in self._crms:
            self._crms[halvings] = replace(self.crm, dt=self.crm.dt / 2**halvings)
        return self._crms[halvings]

    def _steps(self, tau: float) -> int:
        """Whole CRM steps in τ (s); ValueError unless crm.dt divides it."""
        steps = int(round(tau / self.settings.dt))
        if steps < 1 or abs(steps * self.settings.dt - tau) > 1e-9 * tau:
            raise ValueError(f"superparameterized: crm.dt = {self.settings.dt:g} s does not "
                             f"divide the CRM's time per GCM call, {tau:g} s (half the physics "
                             "interval: the GCM step, or half of it on the first step)")
        return steps

    def _prepare(self, columns: ColumnState) -> None:
        """The level map and, at the first call, the CRMs (``_initial_state``)."""
        # σ = p/ps of a column, rounded: its last bits vary with the column and the step,
        # and the map must not (permuted columns and restarts give the same bits)
        sigma = np.round(np.asarray(columns.pressure_half[0]) / columns.surface_pressure[0],
                         SIGMA_DECIMALS)
        if self.level_map is None or not np.array_equal(sigma, self.level_map.sigma_half):
            self.level_map = LevelMap(sigma, self.crm_pressure_half)
        if self.state is None:
            self.state = self._initial_state(columns)
        if self.state.u.shape[0] != columns.ncol:
            raise ValueError(f"superparameterized: the CRM state holds {self.state.u.shape[0]} "
                             f"CRMs, the GCM gives {columns.ncol} columns")

    def _initial_state(self, columns: ColumnState) -> CrmState:
        """CRMs at rest in the columns' T, q, u with the same θ′ noise in each."""
        lmap, grid, profiles = self.level_map, self.crm.grid, self.crm.profiles
        state = self.crm.rest_state(columns.ncol)
        noise = np.random.default_rng(0).normal(0.0, self.settings.noise, (grid.nz, grid.nx))
        noise *= (grid.z_centres < NOISE_DEPTH)[:, None]
        t_l = lmap.to_crm(columns.temperature)[:, :, None] + noise[None]
        state.scalar("thermo")[...] = profiles.field_from_liquid_temperature(t_l)
        state.scalar("qt")[...] = np.maximum(lmap.to_crm(columns.humidity), 0.0)[:, :, None]
        state.u[...] = lmap.to_crm(columns.u)[:, :, None]
        return state

    def _means(self, state: CrmState) -> tuple[np.ndarray, np.ndarray]:
        """Horizontal means (ncrm, nz): T_l (K) and q_t + q_r (kg kg-1)."""
        p = self.crm.profiles
        thermo = horizontal_mean(state.scalar("thermo"))
        water = horizontal_mean(state.scalar("qt") + state.scalar("qr"))
        return p.offset[None, :] + p.factor[None, :] * thermo, water

    def _crm_tendencies(self, columns: ColumnState, start, tau: float) -> ColumnTendencies:
        """The CRM's own tendencies over τ on the GCM's levels, its surface fluxes and
        precipitation; its round-off departure from its budgets removed (see the module)."""
        end = self._means(self.state)
        applied = self.forcing.applied
        dT = (end[0] - start[0] - applied["temperature"]) / tau
        dq = (end[1] - start[1] - applied["water"]) / tau
        acc = self.state.accumulated
        shf = horizontal_mean(acc["sensible"]) / tau
        evaporation = horizontal_mean(acc["evaporation"]) / tau
        precipitation = horizontal_mean(self.state.precipitation) / tau
        mass = self.level_map.crm_mass[::-1, None]  # ground first, as dT and dq
        total = float(mass.sum())
        water_fix = (product(dq, mass)[:, 0] - (evaporation - precipitation)) / total
        dq -= water_fix[:, None]
        energy_fix = (product(CP * dT + LV * dq, mass)[:, 0] - (shf + LV * evaporation)) / total
        dT -= (energy_fix / CP)[:, None]
        self.fixes.update(sp_energy_fix=float(np.abs(energy_fix).max(initial=0.0) * total),
                          sp_water_fix=float(np.abs(water_fix).max(initial=0.0) * total))
        out = ColumnTendencies.zeros(columns.ncol, columns.nlev)
        dp = columns.thickness
        out.temperature[...] = self.level_map.to_gcm(dT, dp)
        out.humidity[...] = self.level_map.to_gcm(dq, dp)
        out.precipitation[...] = precipitation
        out.shf[...] = shf
        out.lhf[...] = LV * evaporation
        return out

    def _momentum_drag(self, columns: ColumnState, surface: ColumnTendencies, dt: float):
        """du/dt, dv/dt (ncol, nlev), m s-2: the bulk surface stress (``surface``, the GCM
        scheme's tendencies on the columns) on the lowest level and the boundary layer's
        momentum diffusion of the columns after it (the teacher's order)."""
        after = {}
        for f in ("temperature", "humidity", "u", "v"):
            after[f] = np.array(getattr(columns, f), copy=True)
            after[f][:, -1] += dt * getattr(surface, f)[:, -1]
        du, dv = self.drag.momentum_tendencies(replace(columns, **after), dt)
        du[:, -1] += surface.u[:, -1]
        dv[:, -1] += surface.v[:, -1]
        return du, dv

    # ------------------------------------------------------------------ restart
    def state_arrays(self) -> dict[str, np.ndarray]:
        """The CRMs' state (first axis: the CRM, i.e. the GCM column); zero CRMs before the
        first call. Histories are (ncrm, depth, ...), depth 0 when there are none."""
        g = self.crm.grid
        s = self.state
        if s is None:
            return {"u": np.zeros((0, g.nz, g.nx)), "w": np.zeros((0, g.nz + 1, g.nx)),
                    "scalars": np.zeros((0, 3, g.nz, g.nx)),
                    "du_history": np.zeros((0, 0, g.nz, g.nx)),
                    "dw_history": np.zeros((0, 0, g.nz + 1, g.nx)), "time": np.zeros(0)}
        return {"u": s.u, "w": s.w, "scalars": s.scalars,
                "du_history": _history(s.du_history, s.u),
                "dw_history": _history(s.dw_history, s.w),
                "time": np.full(s.u.shape[0], s.time)}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        a = {k: np.array(v, dtype=np.float64) for k, v in arrays.items()}
        if a["u"].shape[0] == 0:
            self.state = None
            return
        history = {k: None if a[k].shape[1] == 0 else np.ascontiguousarray(a[k].swapaxes(0, 1))
                   for k in ("du_history", "dw_history")}
        self.state = CrmState(a["u"], a["w"], a["scalars"], float(a["time"][0]),
                              du_history=history["du_history"],
                              dw_history=history["dw_history"])


def _history(history: np.ndarray | None, like: np.ndarray) -> np.ndarray:
    """A CrmState history (depth, ncrm, ...) or None as (ncrm, depth, ...)."""
    if history is None:
        return np.zeros((like.shape[0], 0) + like.shape[1:])
    return np.ascontiguousarray(history.swapaxes(0, 1))


def _part(cls, name: str, values: dict | None):
    """The GCM scheme ``cls`` built from its config fields; TypeError naming ``name``."""
    try:
        return cls(**(values or {}))
    except TypeError as err:
        raise TypeError(f"{name}: {err}") from None
