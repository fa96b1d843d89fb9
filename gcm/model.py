"""The spectral model: grid, transforms, levels, dynamics, physics and the time step.

``Model(config)`` builds everything a run needs from a ModelConfig; ``step()``
advances one leapfrog step; ``snapshot()`` gives the grid-point state as an
xarray.Dataset with CF metadata; ``run(days)`` is the short notebook path (see
gcm.simulation for runs with files, restarts and progress).
"""

from __future__ import annotations

import collections
import datetime
from dataclasses import dataclass

import cftime
import numba
import numpy as np
import xarray as xr

from gcm import constants as const
from gcm import initial_conditions
from gcm.config import ModelConfig
from gcm.conservation import IntervalMeans, Ledger, area_fraction, global_totals, physics_sources
from gcm.gaussian_grid import gaussian_grid
from gcm.moisture import fill_negative_humidity
from gcm.old_level_grid import OldLevelGrid
from gcm.physics import SCHEMES, ColumnState, ColumnTendencies
from gcm.primitive_equations import VerticalOperators, grid_tendencies
from gcm.sigma_coordinates import sigma_coordinates
from gcm.spherical_harmonics import SpectralTransform
from gcm.state import SpectralState
from gcm.time_integration import (
    ImplicitOperator,
    damp,
    hyperdiffusion_rates,
    leapfrog_damped,
    robert_asselin_williams,
)
from gcm.timing import NULL_TIMER


def level_product(matrix: np.ndarray, spec: np.ndarray) -> np.ndarray:
    """sum_j matrix[k, j] spec[j, ...] for a real matrix (nlev, nlev) or vector (nlev,)
    and complex spectral fields (nlev, T+1, T+1)."""
    if matrix.ndim == 1:
        return _level_matvec(matrix[None, :], spec)[0]
    return _level_matvec(matrix, spec)


@numba.njit(cache=True, parallel=True)
def _level_matvec(matrix, spec):
    # a plain loop: BLAS threads fight numba's for these small products
    nout, nlev = matrix.shape
    out = np.zeros((nout,) + spec.shape[1:], dtype=np.complex128)
    for k in numba.prange(nout):
        for j in range(nlev):
            c = matrix[k, j]
            if c != 0.0:
                # explicit loops: out[k] += c * spec[j] would allocate a temporary
                for m in range(spec.shape[1]):
                    for n in range(spec.shape[2]):
                        out[k, m, n] += c * spec[j, m, n]
    return out


@numba.njit(cache=True, parallel=True)
def _largest_angular_speed(u, v, inv_cos):
    """max over latitudes of (max |u| / cos(phi) + max |v|), the maxima over levels and
    longitudes of each row; u, v (nlev, nlat, nlon) m s-1, inv_cos (nlat,). One pass,
    no temporaries. NaN propagates."""
    nlev, nlat, nlon = u.shape
    rows = np.empty(nlat)
    for j in numba.prange(nlat):
        zonal = 0.0
        meridional = 0.0
        for k in range(nlev):
            for i in range(nlon):
                a = abs(u[k, j, i])
                b = abs(v[k, j, i])
                # written so that a NaN wins (max() would keep the old value)
                zonal = a if not a <= zonal else zonal
                meridional = b if not b <= meridional else meridional
        rows[j] = zonal * inv_cos[j] + meridional
    return rows.max()


@dataclass
class PhysicsCall:
    """One call of the column physics during a step: what it saw and what it returned.

    The arrays may be the model's or the scheme's reusable buffers, valid until the next
    step: copy what you keep. ``dt`` is the interval (s) over which the tendencies are
    applied (2 dt on a leapfrog step, dt on the first, forward, step)."""

    columns: ColumnState
    tendencies: ColumnTendencies
    dt: float


class ModelBlowUpError(FloatingPointError):
    """The state holds NaN or inf; the message names the field, step and time."""


class Model:
    """A primitive-equation aquaplanet (or dry) model built from a ModelConfig."""

    def __init__(self, config: ModelConfig | None = None):
        self.config = (config or ModelConfig()).validate()
        cfg = self.config
        if cfg.threads > 0:
            numba.set_num_threads(min(cfg.threads, numba.config.NUMBA_NUM_THREADS))
        self.grid = gaussian_grid(cfg.resolution.truncation, cfg.resolution.grid)
        self.transform = SpectralTransform(self.grid, radius=const.RADIUS)
        self.sigma = sigma_coordinates(cfg.resolution.sigma, cfg.resolution.levels)
        self.dt = cfg.time.step_minutes * 60.0
        self.vertical = VerticalOperators.build(
            self.sigma, cfg.dynamics.reference_temperature, const.RD, const.KAPPA
        )
        self._build_implicit_operators()
        self.physics = self._build_physics()
        lat2d, lon2d = np.meshgrid(np.deg2rad(self.grid.lat), np.deg2rad(self.grid.lon),
                                   indexing="ij")
        self._lat2d, self._lon2d = lat2d, lon2d
        self._coriolis = 2.0 * const.OMEGA * self.grid.mu
        self._one_minus_mu2 = 1.0 - self.grid.mu**2
        self.start_time = cftime.datetime.strptime(
            cfg.time.start, "%Y-%m-%d", calendar=cfg.time.calendar
        ) if len(cfg.time.start) == 10 else cftime.datetime.strptime(
            cfg.time.start, "%Y-%m-%dT%H:%M:%S", calendar=cfg.time.calendar
        )
        self.step_count = 0
        self.old: SpectralState | None = None
        self.now: SpectralState = self._initial_state()
        self._allocate_work_arrays()
        self._fraction = area_fraction(self.grid.weights, self.grid.nlon)
        # spectral coefficient (0, 0) of a field equal to 1 everywhere
        self._unit_coefficient = self.transform.to_spectral(np.ones(self._lat2d.shape))[0, 0].real
        self.ledger = Ledger(self.global_totals())
        self.means = IntervalMeans()
        self._corrections = None
        self._boundary = None
        self._inv_cos = 1.0 / self.grid.coslat
        self._old_grid = (OldLevelGrid(self.sigma.nlev, self.grid.nlat, self.grid.nlon)
                          if self._uses_grid_physics else None)
        # the (old, now) states the carried old-level grid belongs to; any other pair
        # (a new initial state, a restart without it) is synthesized afresh
        self._old_grid_for: tuple | None = None
        self._courant = collections.deque(maxlen=10)
        # the latest call of the column physics (see PhysicsCall); None before the first
        self.last_physics: PhysicsCall | None = None
        self.timer = NULL_TIMER

    @property
    def timer(self):
        """The timing hook (gcm.timing): sections of the step are timed by it. Setting it
        hands it to the transforms and to a physics scheme that has a ``timer``."""
        return self._timer

    @timer.setter
    def timer(self, timer) -> None:
        self._timer = timer
        self.transform.timer = timer
        if hasattr(self.physics, "timer"):
            self.physics.timer = timer

    # ----------------------------------------------------------------- set-up
    def _build_physics(self):
        cfg = self.config.physics
        if cfg.scheme not in SCHEMES:
            raise ValueError(f"physics.scheme: unknown scheme {cfg.scheme!r}; "
                             f"choose one of {sorted(SCHEMES)}")
        try:
            return SCHEMES[cfg.scheme](**cfg.parameters)
        except TypeError as err:
            raise ValueError(f"physics.parameters for {cfg.scheme!r}: {err}") from None

    def _build_implicit_operators(self):
        T = self.grid.truncation
        G = self.sigma.geopotential_matrix(const.RD)
        H = self.vertical.temperature_matrix()
        n = np.arange(T + 1)
        cn = n * (n + 1.0) / const.RADIUS**2
        rt = const.RD * self.vertical.reference_temperature
        self.implicit = {
            delta: ImplicitOperator.build(delta, G, H, self.sigma.thickness, rt, cn)
            for delta in (self.dt, 0.5 * self.dt)
        }
        dyn = self.config.dynamics
        tau = dyn.diffusion.timescale_hours * 3600.0
        sponge = dyn.sponge
        rates = hyperdiffusion_rates(
            self.transform.n_index, T, dyn.diffusion.order, tau, self.sigma.nlev,
            sponge.levels, sponge.timescale_hours * 3600.0,
        )
        # implicit damping factors 1 / (1 + 2 delta K) for both step lengths
        self._damping = {
            delta: (1.0 / (1.0 + 2.0 * delta * rates),
                    1.0 / (1.0 + 2.0 * delta * rates * dyn.diffusion.divergence_factor))
            for delta in self.implicit
        }

    def _allocate_work_arrays(self):
        nlev, nlat, nlon = self.sigma.nlev, self.grid.nlat, self.grid.nlon
        self._A = np.empty((nlev, nlat, nlon))
        self._B = np.empty((nlev, nlat, nlon))
        self._FX = np.empty((2 * nlev, nlat, nlon))
        self._FY = np.empty((2 * nlev, nlat, nlon))
        self._S = np.empty((3 * nlev + 1, nlat, nlon))
        self._zero_grid = np.zeros((nlev, nlat, nlon))
        # shared zeros (absent forcing, dry humidity): only ever read. Not flagged
        # read-only: numba would compile the kernels again for read-only arguments

    def _initial_state(self) -> SpectralState:
        ini = self.config.initial
        args = (self._lat2d, self._lon2d, self.sigma.full)
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
        first = self.old is None
        delta = 0.5 * self.dt if first else self.dt
        old = self.now if first else self.old
        now = self.now
        nu, alpha = self.config.dynamics.robert_filter, self.config.dynamics.williams_alpha
        now_grid = self.dynamics_grid(now)
        forcing = self._physics_forcing(old, 2.0 * delta, now_grid,
                                        0.0 if first else OldLevelGrid.filter_weight(nu, alpha))
        tend = self.dynamics_tendencies(now, forcing, now_grid)
        new = self._implicit_step(old, tend, delta)
        if not first:
            for name, x_new in new.arrays().items():
                robert_asselin_williams(getattr(old, name), getattr(now, name), x_new, nu, alpha)
        self._apply_fixers(new)
        self.old, self.now = now, new
        self._old_grid_for = (self.old, self.now) if self._uses_grid_physics else None
        self.step_count += 1
        if not np.isfinite(new.log_surface_pressure).all():
            # name the non-finite inputs and outputs of this step, to find where it began
            where = [f"{label}.{name}" for label, state in (("old", old), ("now", now),
                                                            ("tendency", tend), ("new", new))
                     for name, x in state.arrays().items() if not np.isfinite(x).all()]
            self._raise_blow_up("log_surface_pressure; non-finite: " + ", ".join(where))

    def _raise_blow_up(self, field: str):
        hint = ""
        if self._courant:
            hint = (f"; the advective Courant number dt T (|u|/(a cos lat) + |v|/a) reached "
                    f"{max(self._courant):.2f} in the last {len(self._courant)} steps"
                    + (" (above 1: reduce time.step_minutes)" if max(self._courant) > 1 else ""))
        raise ModelBlowUpError(
            f"the model state became non-finite ({field}) at step {self.step_count}, "
            f"model time {self.time.isoformat()}; output written before this step is kept"
            + hint)

    def _record_courant_number(self, u: np.ndarray, v: np.ndarray) -> None:
        """Keep the largest advective Courant number of the last few steps, for the
        blow-up message; u, v (nlev, nlat, nlon) m s-1."""
        speed = _largest_angular_speed(u, v, self._inv_cos)
        self._courant.append(speed * self.dt * self.grid.truncation / const.RADIUS)

    def check_finite(self) -> None:
        """Raise ModelBlowUpError if any prognostic field holds NaN or inf."""
        for state in (self.old, self.now):
            if state is not None and (bad := state.first_nonfinite()):
                self._raise_blow_up(bad)

    def dynamics_grid(self, s: SpectralState) -> dict[str, np.ndarray]:
        """The grid fields the dynamics needs from a state: vor, div (s-1), tdev = T - T_ref
        (K), q (kg kg-1), U = u cos(phi), V = v cos(phi) (m s-1), each (nlev, nlat, nlon);
        gx, gy = cos(phi) grad ln ps (m-1) and, in a model with grid physics (which reads
        the old level from these, see gcm.old_level_grid), lnps, each (nlat, nlon)."""
        tr = self.transform
        nlev = self.sigma.nlev
        moist = self.config.dynamics.humidity
        fields = [s.vorticity, s.divergence, s.temperature] + ([s.humidity] if moist else [])
        with_lnps = self._uses_grid_physics
        if with_lnps:
            fields.append(s.log_surface_pressure[None])
        scalars = tr.to_grid(np.concatenate(fields))
        U, V = tr.cos_uv_from_vordiv(s.vorticity, s.divergence)
        gx, gy = tr.cos_gradient(s.log_surface_pressure)
        return dict(vor=scalars[:nlev], div=scalars[nlev:2 * nlev],
                    tdev=scalars[2 * nlev:3 * nlev],
                    q=scalars[3 * nlev:4 * nlev] if moist else self._zero_grid,
                    U=U, V=V, gx=gx, gy=gy, lnps=scalars[-1] if with_lnps else None)

    def dynamics_tendencies(self, s: SpectralState, forcing: dict | None = None,
                            grid: dict | None = None) -> SpectralState:
        """Explicit (non-implicit) tendencies N of every prognostic variable, spectral.

        ``forcing``: grid-point tendencies from the physics, "u", "v" (m s-2), "T" (K s-1),
        "q" (kg kg-1 s-1), each (nlev, nlat, nlon); added to the dynamics' own grid terms
        before their analysis, so the physics costs no transforms of its own.
        ``grid``: ``dynamics_grid(s)`` when the caller has it already."""
        tr = self.transform
        nlev = self.sigma.nlev
        vo = self.vertical
        moist = self.config.dynamics.humidity
        g = self.dynamics_grid(s) if grid is None else grid
        U, V, gx, gy = g["U"], g["V"], g["gx"], g["gy"]
        A, B, FX, FY, S = self._A, self._B, self._FX, self._FY, self._S
        z = self._zero_grid
        f = forcing or {}
        grid_tendencies(
            U, V, g["vor"], g["div"], g["tdev"], g["q"], gx, gy,
            self._coriolis, self._one_minus_mu2, vo.thickness, vo.half, vo.alpha,
            vo.log_ratio, vo.reference_temperature, vo.gas_constant, vo.kappa,
            A, B, FX, FY, S, f.get("u", z), f.get("v", z), f.get("T", z), f.get("q", z),
            forcing is not None, moist,
        )
        dry_humidity_forcing = None
        if forcing is not None and not moist and forcing["q"].any():
            dry_humidity_forcing = forcing["q"]
        vor_t, div_ab = tr.vordiv_from_cos_uv(A, B)
        if moist:
            flux_div = tr.divergence_from_cos_uv(FX, FY)
            spec = tr.to_spectral(S)
        else:  # skip the humidity fluxes and the humidity rest-term
            flux_div = tr.divergence_from_cos_uv(FX[:nlev], FY[:nlev])
            spec = np.empty((3 * nlev + 1,) + s.log_surface_pressure.shape, complex)
            spec[: 2 * nlev] = tr.to_spectral(S[: 2 * nlev])
            spec[3 * nlev] = tr.to_spectral(S[3 * nlev])
        implicit = self.implicit[self.dt]
        div_t = div_ab - tr.laplacian(spec[:nlev] + self.surface_geopotential)
        t_t = spec[nlev : 2 * nlev] - flux_div[:nlev] + level_product(implicit.H, s.divergence)
        p_t = spec[3 * nlev] + level_product(implicit.thickness, s.divergence)
        if self.config.dynamics.humidity:
            q_t = spec[2 * nlev : 3 * nlev] - flux_div[nlev:]
        else:
            q_t = np.zeros_like(s.humidity)
            if dry_humidity_forcing is not None:
                q_t += tr.to_spectral(dry_humidity_forcing)
        return SpectralState(vor_t, div_t, t_t, p_t, q_t)

    def _implicit_step(self, old: SpectralState, tend: SpectralState, delta: float):
        op = self.implicit[delta]
        damping, divergence_damping = self._damping[delta]
        new = SpectralState(
            vorticity=np.empty_like(old.vorticity),
            divergence=np.zeros_like(old.divergence),  # the solve writes only n >= m
            temperature=np.zeros_like(old.temperature),
            log_surface_pressure=np.zeros_like(old.log_surface_pressure),
            humidity=np.empty_like(old.humidity),
        )
        leapfrog_damped(old.vorticity, tend.vorticity, delta, damping, new.vorticity)
        leapfrog_damped(old.humidity, tend.humidity, delta, damping, new.humidity)
        op.solve(old.divergence, old.temperature, old.log_surface_pressure,
                 tend.divergence, tend.temperature, tend.log_surface_pressure,
                 new.divergence, new.temperature, new.log_surface_pressure)
        damp(new.temperature, damping)
        damp(new.divergence, divergence_damping)
        return new

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
        return self._columns_from_grid(self.grid_state(s))

    def _columns_from_grid(self, g: dict, seconds: float | None = None) -> ColumnState:
        seconds = self.elapsed_seconds if seconds is None else seconds
        ps = g["ps"].reshape(-1)

        def gather(x):
            # a (ncol, nlev) view of level-major memory: no copy, numba takes any layout
            return x.reshape(x.shape[0], -1).T

        boundary = self.boundary_fields(seconds)
        # pressures level-major too, like the profiles: the schemes that go down blocks of
        # columns level by level then read them in memory order (bitwise the same
        # physics, ~1 ms a T42L25 step faster than column-major pressures)
        return ColumnState(
            temperature=gather(g["T"]), humidity=gather(g["q"]), u=gather(g["u"]),
            v=gather(g["v"]), pressure=(self.sigma.full[:, None] * ps[None, :]).T,
            pressure_half=(self.sigma.half[:, None] * ps[None, :]).T, surface_pressure=ps,
            sst=boundary["sst"].reshape(-1), insolation=boundary["insolation"].reshape(-1),
            latitude=self._lat2d.reshape(-1), longitude=self._lon2d.reshape(-1),
            time=seconds,
        )

    def _scatter(self, x: np.ndarray) -> np.ndarray:
        """(ncol, nlev) -> (nlev, nlat, nlon)."""
        return np.ascontiguousarray(x.T).reshape(-1, self.grid.nlat, self.grid.nlon)

    @property
    def _uses_grid_physics(self) -> bool:
        fixers = self.config.dynamics.fixers
        return self.config.physics.scheme != "none" or fixers.mass or fixers.water or fixers.energy

    def boundary_fields(self, seconds: float | None = None) -> dict[str, np.ndarray]:
        """Sea-surface temperature (K) and top-of-atmosphere insolation (W m-2) on the
        grid, (nlat, nlon), at ``seconds`` since the start (default: the current time)."""
        seconds = self.elapsed_seconds if seconds is None else seconds
        from gcm.physics.insolation import Insolation
        from gcm.physics.sea_surface import sea_surface_temperature

        if self._boundary is None:
            surface = self.config.surface
            insolation = Insolation(**self.config.insolation)
            self._boundary = dict(
                sst=sea_surface_temperature(surface.sst, self._lat2d, surface.sst_offset),
                insolation=insolation,
                # without diurnal or seasonal cycle the insolation never changes
                fixed=None if insolation.diurnal_cycle or insolation.seasonal_cycle
                else insolation(self._lat2d, self._lon2d, 0.0))
        b = self._boundary
        solin = b["fixed"] if b["fixed"] is not None else b["insolation"](
            self._lat2d, self._lon2d, seconds)
        return dict(sst=b["sst"], insolation=solin)

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
        (``now_grid``, see dynamics_grid) and the carried sum of gcm.old_level_grid;
        ``filter_weight`` is that module's kappa for this step's filter (0 if none).
        Returns the grid-point tendencies (see dynamics_tendencies), or None for a model
        without grid physics."""
        if not self._uses_grid_physics:
            return None
        g = self._old_level_grid(s, now_grid, filter_weight)
        self._record_courant_number(g["u"], g["v"])
        totals = self.global_totals(g)
        diagnostics = {}
        zero = self._zero_grid
        forcing = dict(u=zero, v=zero, T=zero, q=zero)
        if self.config.dynamics.hole_filling:
            filled, moved = fill_negative_humidity(g["q"], *self._air_mass_factors(g["ps"]))
            if filled is not g["q"]:
                forcing["q"] = np.subtract(filled, g["q"])
                forcing["q"] /= dt_phys
            g["q"] = filled
            diagnostics["hole_filling"] = moved / dt_phys
        water_source = energy_source = 0.0
        if self.config.physics.scheme != "none":
            with self._timer.section("physics"):
                # the old level's time: one step back, except at the first (forward) step
                seconds = self.elapsed_seconds - (0.0 if self.old is None else self.dt)
                columns = self._columns_from_grid(g, seconds)
                out = self.physics(columns, dt_phys)
                self.last_physics = PhysicsCall(columns, out, dt_phys)
                grid_tend = {name: self._scatter(getattr(out, field)) for name, field in
                             (("T", "temperature"), ("q", "humidity"), ("u", "u"), ("v", "v"))}
                water_source, energy_source = physics_sources(
                    g, grid_tend, self.sigma.thickness, self._fraction)
                if forcing["q"] is zero:
                    forcing["q"] = grid_tend["q"]
                else:  # hole filling and physics: a new array (grid_tend["q"] is the teacher's)
                    forcing["q"] += grid_tend["q"]
                forcing.update(u=grid_tend["u"], v=grid_tend["v"], T=grid_tend["T"])
                diagnostics.update(self._surface_diagnostics(columns, out))
        self._corrections = self.ledger.deviation(totals)
        dyn = self.config.dynamics
        first = self.old is None
        self.ledger.advance(water_source, energy_source, dt_phys,
                            None if first else (dyn.robert_filter, dyn.williams_alpha))
        fixers = self.config.dynamics.fixers
        diagnostics["fixer_mass"] = self._corrections.mass / dt_phys * fixers.mass
        diagnostics["fixer_water"] = self._corrections.water / dt_phys * fixers.water
        diagnostics["fixer_energy"] = self._corrections.energy / dt_phys * fixers.energy
        self._totals_old = totals
        self.means.add(diagnostics)
        return forcing

    def diagnostic_names(self) -> tuple[list[str], list[str]]:
        """Names of the interval-mean diagnostics this model reports: (2-D fields, global
        scalars)."""
        fields, scalars = [], []
        if not self._uses_grid_physics:
            return fields, scalars
        if self.config.dynamics.hole_filling:
            scalars.append("hole_filling")
        scalars += ["fixer_mass", "fixer_water", "fixer_energy"]
        if self.config.physics.scheme != "none":
            fields += ["precipitation", "shf", "lhf", "fsnt", "fsns", "flnt", "flns",
                       "insolation"]
            if getattr(self.physics, "closes_budgets", True):
                scalars += ["physics_energy_residual", "physics_water_residual"]
        return fields, scalars

    def _surface_diagnostics(self, columns: ColumnState, out) -> dict:
        shape = (self.grid.nlat, self.grid.nlon)
        diag = {name: getattr(out, name).reshape(shape) for name in
                ("precipitation", "shf", "lhf", "fsnt", "fsns", "flnt", "flns")}
        diag["insolation"] = columns.insolation.reshape(shape)
        if not getattr(self.physics, "closes_budgets", True):
            return diag
        from gcm.physics.budgets import column_residuals

        heating = getattr(self.physics, "frictional_heating", False)
        e_res, w_res = (r.reshape(shape) for r in
                        column_residuals(columns, out, frictional_heating=heating))
        diag["physics_energy_residual"] = float((np.abs(e_res) * self._fraction).sum())
        diag["physics_water_residual"] = float((np.abs(w_res) * self._fraction).sum())
        return diag

    def _old_level_grid(self, s: SpectralState, now_grid: dict, filter_weight: float
                        ) -> dict[str, np.ndarray]:
        """Grid fields u, v, T, q, ps (see grid_state) of the old level ``s``, rebuilt
        from the now level's grid by gcm.old_level_grid, and that carry advanced."""
        carry = self._old_grid
        if self.old is None:
            carry.reset_to_now()
        elif self._old_grid_for is None or self._old_grid_for[0] is not self.old \
                or self._old_grid_for[1] is not self.now:
            old = self.dynamics_grid(s)
            carry.reset_to(old["U"], old["V"], old["tdev"], old["q"], old["lnps"])
        g = now_grid
        return carry.advance(g["U"], g["V"], g["tdev"], g["q"], g["lnps"], filter_weight,
                             self._inv_cos, self.vertical.reference_temperature)

    def _apply_fixers(self, new: SpectralState) -> None:
        """Remove the measured global errors from the new level (see gcm.conservation),
        and tell the carried old-level grid what was changed."""
        d = self._corrections
        if d is None:
            return
        fixers, old = self.config.dynamics.fixers, self._totals_old
        unfix = self._old_grid.unfix
        if fixers.mass and d.mass:
            unfix.log_pressure = np.log1p(d.mass / old.mass)
            new.log_surface_pressure[0, 0] += self._unit_coefficient * unfix.log_pressure
        # a dry atmosphere carries only round-off humidity: scaling noise by the ratio
        # of two noise-level totals would amplify it, so the fixer needs real water
        if fixers.water and d.water and old.water > 1e-6:
            unfix.humidity_factor = 1.0 + d.water / old.water
            new.humidity *= unfix.humidity_factor
        if fixers.energy and d.energy:
            unfix.temperature = d.energy / (const.CP * old.mass)
            new.temperature[:, 0, 0] += self._unit_coefficient * unfix.temperature
        self._corrections = None

    # ----------------------------------------------------------------- output
    def snapshot(self) -> xr.Dataset:
        """The current state on the Gaussian grid with CF metadata; dims
        (time, lev, lat, lon). Interval means are those since the last
        ``start_output_interval()``; nothing is reset."""
        from gcm.cf_metadata import snapshot_dataset

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
        return arrays

    def load_restart_arrays(self, arrays: dict[str, np.ndarray], step_count: int) -> None:
        def level(prefix):
            return {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith(prefix)}

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
