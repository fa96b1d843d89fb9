"""The spectral model: grid, transforms, levels, dynamics, physics and the time step.

``Model(config)`` (or ``Model(config, physics=scheme)``) builds everything a run needs
from a ModelConfig; ``step()`` advances one leapfrog step; ``snapshot()`` gives the
grid-point state as an xarray.Dataset with CF metadata; ``run(days)`` is the short
notebook path (see gcm.simulation for runs with files, restarts and progress).

The model holds the state, the time and the order of a step; the parts live apart:
the dynamics in gcm.dynamics, the column physics' coupling in gcm.column_coupling, the
fixers and their ledger in gcm.conservation, the carried old level in
gcm.old_level_grid, the blow-up check in gcm.blow_up.
"""

from __future__ import annotations

import dataclasses
import datetime

import cftime
import numba
import numpy as np
import xarray as xr

from gcm import constants as const
from gcm import initial_conditions
from gcm.blow_up import BlowUpCheck, ModelBlowUpError, all_finite, nonfinite_arrays
from gcm.column_coupling import ColumnCoupling, PhysicsCall, diagnostic_names
from gcm.config import ModelConfig, PhysicsConfig
from gcm.conservation import (
    IntervalMeans,
    Ledger,
    apply_fixers,
    area_fraction,
    fixer_diagnostics,
    global_totals,
    physics_sources,
)
from gcm.dynamics import SpectralDynamics
from gcm.gaussian_grid import gaussian_grid
from gcm.moisture import fill_negative_humidity, hole_filling_tendency
from gcm.old_level_grid import OldLevelGrid
from gcm.physics import column as protocol
from gcm.physics.column import ColumnPhysics, ColumnState, PhysicsFailure
from gcm.physics.registry import build_scheme
from gcm.sigma_coordinates import sigma_coordinates
from gcm.spherical_harmonics import SpectralTransform
from gcm.state import SpectralState
from gcm.time_integration import robert_asselin_williams
from gcm.timing import NULL_TIMER

__all__ = ["Model", "ModelBlowUpError", "PhysicsCall"]

PHYSICS_STATE = "physics/"  # restart arrays of the physics scheme's own state


class Model:
    """A primitive-equation aquaplanet (or dry) model built from a ModelConfig.

    ``physics``: a column scheme (gcm.physics.column.ColumnPhysics) to use instead of the
    one the config names (physics.scheme, built by gcm.physics.registry). The model's
    ``config`` then names the scheme by its ``name`` (with no parameters, unless it is
    the config's own scheme), so that output and restarts say what ran; a restart of
    such a run is continued by passing the scheme again (Simulation.from_restart)."""

    def __init__(self, config: ModelConfig | None = None,
                 physics: ColumnPhysics | None = None):
        cfg = (config or ModelConfig()).validate()
        if physics is None:
            physics = build_scheme(cfg.physics.scheme, cfg.physics.parameters)
        elif protocol.scheme_name(physics) != cfg.physics.scheme:
            cfg = dataclasses.replace(
                cfg, physics=PhysicsConfig(scheme=protocol.scheme_name(physics)))
        self.config = cfg
        self._physics = physics
        if cfg.threads > 0:
            numba.set_num_threads(min(cfg.threads, numba.config.NUMBA_NUM_THREADS))
        self.grid = gaussian_grid(cfg.resolution.truncation, cfg.resolution.grid)
        self.transform = SpectralTransform(self.grid, radius=const.RADIUS)
        self.sigma = sigma_coordinates(cfg.resolution.sigma, cfg.resolution.levels)
        self.dt = cfg.time.step_minutes * 60.0
        # grid physics: the physics, hole filling and fixers act on the old level's grid
        fixers = cfg.dynamics.fixers
        self._uses_grid_physics = (protocol.has_physics(physics)
                                   or fixers.mass or fixers.water or fixers.energy)
        self.dynamics = SpectralDynamics(cfg, self.grid, self.transform, self.sigma, self.dt,
                                         with_lnps=self._uses_grid_physics)
        self.vertical = self.dynamics.vertical
        lat2d, lon2d = np.meshgrid(np.deg2rad(self.grid.lat), np.deg2rad(self.grid.lon),
                                   indexing="ij")
        self._lat2d, self._lon2d = lat2d, lon2d
        self.start_time = cftime.datetime.strptime(
            cfg.time.start, "%Y-%m-%d", calendar=cfg.time.calendar
        ) if len(cfg.time.start) == 10 else cftime.datetime.strptime(
            cfg.time.start, "%Y-%m-%dT%H:%M:%S", calendar=cfg.time.calendar
        )
        self.step_count = 0
        self.old: SpectralState | None = None
        self.now: SpectralState = self._initial_state()
        self._fraction = area_fraction(self.grid.weights, self.grid.nlon)
        self.coupling = ColumnCoupling(self.sigma, lat2d, lon2d, self._fraction, cfg.surface,
                                       cfg.insolation)
        # spectral coefficient (0, 0) of a field equal to 1 everywhere
        self._unit_coefficient = self.transform.to_spectral(np.ones(self._lat2d.shape))[0, 0].real
        self.ledger = Ledger(self.global_totals())
        self.means = IntervalMeans()
        self._corrections = None
        self._inv_cos = 1.0 / self.grid.coslat
        self._old_grid = (OldLevelGrid(self.sigma.nlev, self.grid.nlat, self.grid.nlon)
                          if self._uses_grid_physics else None)
        # the (old, now) states the carried old-level grid belongs to; any other pair
        # (a new initial state, a restart without it) is synthesized afresh
        self._old_grid_for: tuple | None = None
        self.blow_up = BlowUpCheck(self.dt, self.grid.truncation, self._inv_cos)
        # whether the latest call of the column physics is kept (see last_physics)
        self.keep_physics_call = False
        self._last_physics: PhysicsCall | None = None
        self.timer = NULL_TIMER

    @property
    def physics(self) -> ColumnPhysics:
        """The column scheme the model calls (gcm.physics.column). It may be replaced
        (e.g. by a wrapper that records its calls), but a model built without physics
        has no place for one: build it with the scheme instead."""
        return self._physics

    @physics.setter
    def physics(self, scheme: ColumnPhysics) -> None:
        if protocol.has_physics(scheme) and not protocol.has_physics(self._physics):
            raise ValueError(f"physics scheme {protocol.scheme_name(scheme)!r}: this model was "
                             f"built without physics; pass it as Model(config, physics=...)")
        self._physics = scheme
        protocol.hand_timer(scheme, self._timer)

    @property
    def last_physics(self) -> PhysicsCall | None:
        """The latest call of the column physics (gcm.column_coupling.PhysicsCall: the
        columns, tendencies and interval of the step just taken; None before the first
        step), kept only when asked: set ``keep_physics_call = True`` (a Simulation keeps
        it for a callback added with ``needs_physics_call``). Kept, its arrays live
        through the dynamics half of the next step instead of being reused there: a
        moist T42L25 step took ~4 % more CPU time (docs/performance.md)."""
        if not self.keep_physics_call:
            raise RuntimeError("model.last_physics: the latest physics call is kept only when "
                               "asked; set model.keep_physics_call = True before stepping (or "
                               "add the Simulation callback with needs_physics_call=True)")
        return self._last_physics

    @property
    def timer(self):
        """The timing hook (gcm.timing): sections of the step are timed by it. Setting it
        hands it to the transforms and to a physics scheme that has a ``timer``."""
        return self._timer

    @timer.setter
    def timer(self, timer) -> None:
        self._timer = timer
        self.transform.timer = timer
        protocol.hand_timer(self.physics, timer)

    # ----------------------------------------------------------------- set-up
    def _initial_state(self) -> SpectralState:
        ini = self.config.initial
        args = (self._lat2d, self._lon2d, self.sigma.full)
        if ini.kind == "restart":
            return self._state_of_restart(ini.file)
        if ini.kind == "rest":
            fields = initial_conditions.rest(
                *args, temperature=ini.temperature, surface_pressure=ini.surface_pressure,
                perturbation=ini.perturbation, humidity=ini.humidity, seed=ini.seed)
        elif ini.kind == "solid_body":
            fields = initial_conditions.solid_body(
                *args, wind=ini.wind, temperature=ini.temperature,
                surface_pressure=ini.surface_pressure, humidity=ini.humidity)
        else:
            fields = initial_conditions.jablonowski_williamson(
                *args, wind=ini.wind or 35.0, perturbation=ini.perturbation,
                humidity=ini.humidity)
        return self.state_from_grid(**fields)

    def _state_of_restart(self, file: str) -> SpectralState:
        """The ``now`` state and surface geopotential of restart ``file`` (initial.kind
        'restart'): a new run from another run's state, physics and output free to differ.
        The run starts with a forward step, as from any initial state."""
        from gcm.config import config_from_dict
        from gcm.io.restart import load_restart

        arrays, meta = load_restart(file)
        saved = config_from_dict(meta["config"], f"{file} (saved configuration)")
        mine = self.config
        for key in ("resolution.truncation", "resolution.levels", "resolution.sigma",
                    "resolution.grid", "dynamics.reference_temperature"):
            section, name = key.split(".")
            a, b = getattr(getattr(mine, section), name), getattr(getattr(saved, section), name)
            if a != b:
                raise ValueError(f"initial.file {file}: its run has {key} = {b!r}, this "
                                 f"configuration {a!r}; the state cannot be carried over")
        self.surface_geopotential = np.array(arrays["surface_geopotential"])
        return SpectralState.from_arrays(
            {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("now/")})

    def state_from_grid(self, u, v, T, q, ps, phis=None) -> SpectralState:
        """Spectral state from grid fields (see gcm.initial_conditions for units);
        also sets the surface geopotential when given."""
        tr = self.transform
        if phis is not None:
            self.surface_geopotential = tr.to_spectral(phis)
        elif not hasattr(self, "surface_geopotential"):
            self.surface_geopotential = tr.to_spectral(np.zeros(ps.shape))
        vor, div = tr.vordiv_from_uv(u, v)
        t_dev = T - self.vertical.reference_temperature[:, None, None]
        return SpectralState(
            vorticity=vor, divergence=div, temperature=tr.to_spectral(t_dev),
            log_surface_pressure=tr.to_spectral(np.log(ps)), humidity=tr.to_spectral(q),
        )

    # ----------------------------------------------------------------- time
    @property
    def time(self) -> cftime.datetime:
        """Model time of the current state (the ``now`` level)."""
        return self.start_time + datetime.timedelta(seconds=self.step_count * self.dt)

    @property
    def elapsed_seconds(self) -> float:
        return self.step_count * self.dt

    # ----------------------------------------------------------------- step
    def step(self) -> None:
        """Advance one time step: a forward step first, leapfrog afterwards."""
        with self._timer.section("step"):
            self._step()

    def _step(self) -> None:
        # a kept physics call is released before this step allocates: kept alive into the
        # step, its arrays could not be reused and a dry T42L25 step took ~10 % longer
        self._last_physics = None
        first = self.old is None
        delta = 0.5 * self.dt if first else self.dt
        old = self.now if first else self.old
        now = self.now
        nu, alpha = self.config.dynamics.robert_filter, self.config.dynamics.williams_alpha
        now_grid = self.dynamics.grid_fields(now)
        try:
            forcing = self._physics_forcing(
                old, 2.0 * delta, now_grid, 0.0 if first else OldLevelGrid.filter_weight(nu, alpha))
        except PhysicsFailure as err:
            # the carried old-level grid has advanced into this step: a restart written now
            # rebuilds the old level's grid from the spectral state instead
            self._old_grid_for = None
            raise PhysicsFailure(f"physics scheme {protocol.scheme_name(self.physics)!r} failed "
                                 f"in step {self.step_count + 1} (from model time "
                                 f"{self.time.isoformat()}): {err}") from err
        tend = self.dynamics.tendencies(now, self.surface_geopotential, forcing, now_grid)
        new = self.dynamics.implicit_step(old, tend, delta)
        if not first:
            for name, x_new in new.arrays().items():
                robert_asselin_williams(getattr(old, name), getattr(now, name), x_new, nu, alpha)
        self._apply_fixers(new)
        self.old, self.now = now, new
        self._old_grid_for = (self.old, self.now) if self._uses_grid_physics else None
        self.step_count += 1
        if not np.isfinite(new.log_surface_pressure).all():
            # name the non-finite inputs and outputs of this step, to find where it began
            where = nonfinite_arrays(dict(old=old, now=now, tendency=tend, new=new))
            self._raise_blow_up("log_surface_pressure; non-finite: " + ", ".join(where))

    def _raise_blow_up(self, field: str):
        raise self.blow_up.error(field, self.step_count, self.time.isoformat())

    def check_finite(self) -> None:
        """Raise ModelBlowUpError if any prognostic field holds NaN or inf."""
        states = [s for s in (self.old, self.now) if s is not None]
        if all_finite([x for s in states for x in s.arrays().values()]):
            return
        for state in states:
            if bad := state.first_nonfinite():
                self._raise_blow_up(bad)

    # ----------------------------------------------------------------- physics
    def grid_state(self, s: SpectralState | None = None, fill_holes: bool = False
                   ) -> dict[str, np.ndarray]:
        """Grid-point fields of a state: u, v, T, q (nlev, nlat, nlon) and ps (nlat, nlon).

        With ``fill_holes`` (and dynamics.hole_filling on) q is the hole-filled field the
        physics sees: non-negative, with the same global water."""
        s = self.now if s is None else s
        if fill_holes and self.config.dynamics.hole_filling:
            g = self.grid_state(s)
            g["q"], _ = fill_negative_humidity(g["q"], *self._air_mass_factors(g["ps"]))
            return g
        tr = self.transform
        if self.config.dynamics.humidity:
            scalars = tr.to_grid(np.stack([s.temperature, s.humidity]))
            q = scalars[1]
        else:
            scalars = tr.to_grid(s.temperature[None])
            q = np.zeros_like(scalars[0])
        u, v = tr.uv_from_vordiv(s.vorticity, s.divergence)
        T = scalars[0] + self.vertical.reference_temperature[:, None, None]
        ps = np.exp(tr.to_grid(s.log_surface_pressure))
        return dict(u=u, v=v, T=T, q=q, ps=ps)

    def columns(self, s: SpectralState | None = None) -> ColumnState:
        """The state gathered into (ncol, nlev) columns for the physics contract."""
        return self.coupling.gather(self.grid_state(s), self.elapsed_seconds)

    def boundary_fields(self, seconds: float | None = None) -> dict[str, np.ndarray]:
        """Sea-surface temperature (K) and top-of-atmosphere insolation (W m-2) on the
        grid, (nlat, nlon), at ``seconds`` since the start (default: the current time)."""
        return self.coupling.boundary_fields(
            self.elapsed_seconds if seconds is None else seconds)

    def global_totals(self, grid: dict | None = None):
        """Global mass, water and energy (per m2) of a grid state (default: now)."""
        grid = self.grid_state() if grid is None else grid
        return global_totals(grid, self.sigma.thickness, self._surface_geopotential_grid(),
                             self._fraction)

    def _surface_geopotential_grid(self) -> np.ndarray:
        """Surface geopotential on the grid, m2 s-2, (nlat, nlon); transformed again only
        when the spectral field is replaced (new initial state or restart)."""
        cached = getattr(self, "_phis_cache", None)
        if cached is None or cached[0] is not self.surface_geopotential:
            self._phis_cache = (self.surface_geopotential,
                                self.transform.to_grid(self.surface_geopotential))
        return self._phis_cache[1]

    def _air_mass_factors(self, ps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Air mass of each grid value as a share of the global mean (kg m-2), as the
        product of a factor per level, dsigma / g (nlev,), and one per point, ps times
        the area fraction (nlat, nlon)."""
        return self.sigma.thickness / const.GRAVITY, ps * self._fraction

    def _physics_forcing(self, s: SpectralState, dt_phys: float, now_grid: dict,
                         filter_weight: float) -> dict | None:
        """Evaluate the column physics on the old level ``s`` (forward in time, as the
        leapfrog needs for damping terms), fill humidity holes, and measure the global
        totals for the fixers. The old level's grid is rebuilt from the now level's
        (``now_grid``, see SpectralDynamics.grid_fields) and the carried sum of
        gcm.old_level_grid; ``filter_weight`` is that module's kappa for this step's filter
        (0 if none). Returns the grid-point tendencies (see SpectralDynamics.tendencies),
        or None for a model without grid physics."""
        if not self._uses_grid_physics:
            return None
        g = self._old_level_grid(s, now_grid, filter_weight)
        self.blow_up.record_courant_number(g["u"], g["v"])
        totals = self.global_totals(g)
        diagnostics = {}
        zero = self.dynamics.zero_grid
        forcing = dict(u=zero, v=zero, T=zero, q=zero)
        if self.config.dynamics.hole_filling:
            filled, moved = fill_negative_humidity(g["q"], *self._air_mass_factors(g["ps"]))
            if filled is not g["q"]:
                forcing["q"] = hole_filling_tendency(filled, g["q"], dt_phys)
            g["q"] = filled
            diagnostics["hole_filling"] = moved / dt_phys
        water_source = energy_source = 0.0
        if protocol.has_physics(self.physics):
            with self._timer.section("physics"):
                # the old level's time: one step back, except at the first (forward) step
                seconds = self.elapsed_seconds - (0.0 if self.old is None else self.dt)
                call, grid_tend, surface = self.coupling.call(self.physics, g, seconds, dt_phys)
                if self.keep_physics_call:
                    self._last_physics = call
                water_source, energy_source = physics_sources(
                    g, grid_tend, self.sigma.thickness, self._fraction)
                if forcing["q"] is zero:
                    forcing["q"] = grid_tend["q"]
                else:  # hole filling and physics: a new array (grid_tend["q"] is the teacher's)
                    forcing["q"] += grid_tend["q"]
                forcing.update(u=grid_tend["u"], v=grid_tend["v"], T=grid_tend["T"])
                diagnostics.update(surface)
        self._corrections = self.ledger.deviation(totals)
        dyn = self.config.dynamics
        first = self.old is None
        self.ledger.advance(water_source, energy_source, dt_phys,
                            None if first else (dyn.robert_filter, dyn.williams_alpha))
        diagnostics.update(fixer_diagnostics(self._corrections, dt_phys, dyn.fixers))
        self._totals_old = totals
        self.means.add(diagnostics)
        return forcing

    def diagnostic_names(self) -> tuple[list[str], list[str]]:
        """Names of the interval-mean diagnostics this model reports: (2-D fields, global
        scalars)."""
        if not self._uses_grid_physics:
            return [], []
        scalars = ["hole_filling"] if self.config.dynamics.hole_filling else []
        scalars += ["fixer_mass", "fixer_water", "fixer_energy"]
        fields, physics_scalars = diagnostic_names(self.physics)
        return fields, scalars + physics_scalars

    def _old_level_grid(self, s: SpectralState, now_grid: dict, filter_weight: float
                        ) -> dict[str, np.ndarray]:
        """Grid fields u, v, T, q, ps (see grid_state) of the old level ``s``, rebuilt
        from the now level's grid by gcm.old_level_grid, and that carry advanced."""
        carry = self._old_grid
        if self.old is None:
            carry.reset_to_now()
        elif self._old_grid_for is None or self._old_grid_for[0] is not self.old \
                or self._old_grid_for[1] is not self.now:
            old = self.dynamics.grid_fields(s)
            carry.reset_to(old["U"], old["V"], old["tdev"], old["q"], old["lnps"])
        g = now_grid
        return carry.advance(g["U"], g["V"], g["tdev"], g["q"], g["lnps"], filter_weight,
                             self._inv_cos, self.vertical.reference_temperature)

    def _apply_fixers(self, new: SpectralState) -> None:
        """Remove the measured global errors from the new level (gcm.conservation), and
        tell the carried old-level grid what was changed."""
        if self._corrections is None:
            return
        apply_fixers(new, self._corrections, self._totals_old, self.config.dynamics.fixers,
                     self._old_grid.unfix, self._unit_coefficient)
        self._corrections = None

    # ----------------------------------------------------------------- output
    def snapshot(self) -> xr.Dataset:
        """The current state on the Gaussian grid with CF metadata; dims
        (time, lev, lat, lon). Interval means are those since the last
        ``start_output_interval()``; nothing is reset."""
        from gcm.io.cf_metadata import snapshot_dataset

        return snapshot_dataset(self)

    def start_output_interval(self) -> None:
        """Begin a new interval of the interval means (pr, fluxes, fixers, ...) at the
        current step; the history writer calls it after each snapshot it writes.
        ``snapshot()`` itself changes nothing."""
        self.means.reset(self.step_count)

    # ----------------------------------------------------------------- restart
    def restart_arrays(self) -> dict[str, np.ndarray]:
        arrays = {f"now/{k}": v for k, v in self.now.arrays().items()}
        if self.old is not None:
            arrays.update({f"old/{k}": v for k, v in self.old.arrays().items()})
        arrays["surface_geopotential"] = self.surface_geopotential
        arrays.update(self.ledger.arrays())
        arrays.update(self.means.arrays())
        if self._old_grid_for is not None:
            arrays.update(self._old_grid.arrays())
        arrays.update({f"{PHYSICS_STATE}{k}": v
                       for k, v in protocol.state_arrays(self.physics).items()})
        return arrays

    def load_restart_arrays(self, arrays: dict[str, np.ndarray], step_count: int) -> None:
        """Continue from ``restart_arrays()`` of a model of the same configuration, at
        model step ``step_count``; ValueError if the physics scheme's own state in the
        arrays is not the one it has (see gcm.physics.column.load_state_arrays)."""
        def level(prefix):
            return {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith(prefix)}

        protocol.load_state_arrays(self.physics, level(PHYSICS_STATE))
        self.now = SpectralState.from_arrays(level("now/"))
        old = level("old/")
        self.old = SpectralState.from_arrays(old) if old else None
        self.surface_geopotential = np.array(arrays["surface_geopotential"])
        self.step_count = int(step_count)
        self.ledger.load(arrays)
        self.means.load(arrays)
        carried = (self.old is not None and self._old_grid is not None
                   and self._old_grid.load(arrays))
        self._old_grid_for = (self.old, self.now) if carried else None
