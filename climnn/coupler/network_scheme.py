"""The ``network`` physics scheme of gcm: an exported network as the model's column
physics, run every step through the coupler (climnn.coupler.Coupler).

In a config (gcm finds the scheme through the entry point ``network`` of group
``gcm.physics`` in pyproject.toml; gcm never imports climnn)::

    physics:
      scheme: network
      parameters:
        model: run/models/hybrid_seed.pt   # climnn export's file (.pt or .pt2)
        conservation: enforce              # off | diagnose | enforce
        bounds: {T: [150, 350]}            # schema name -> [low, high]: stops the run
        surface_fluxes: {}                 # gcm.physics.surface_fluxes.SurfaceFluxes
        boundary_layer: {k_profile: reed_jablonowski}  # its momentum diffusion only

What each part of a step does (Rasp, Pritchard and Gentine 2018, the seed paper):

- The surface heat fluxes: by default the GCM's bulk scheme (SurfaceFluxes, here on the
  columns before physics, as the seed paper's host computed them before its
  superparameterized physics). Its SHF and LHF are the tendencies' ``shf``, ``lhf``; the
  network sees them one step later as SHFLX and LHFLX, exactly what it was trained on
  (climnn.data.generate: the previous step's fluxes). That previous step's pair is the
  scheme's own state, saved in restarts (``state_arrays``); the first call of a run,
  which has none, uses the bulk scheme's of its own step.
  A network that predicts SHF and LHF gives them instead (``network_fluxes``). Our
  teacher computes its bulk fluxes on the state after its convection, condensation and
  radiation (gcm.physics.teacher), which a host running a network cannot reproduce: on
  the T31 teacher's columns the bulk formula on the state before physics gives 23 % less
  latent and 25 % less sensible heat flux than the teacher's, and a hybrid run with them
  rained ~12 % less than the teacher. A network trained on the teacher's fluxes keeps
  the hybrid on the teacher's surface energy and water exchange.
- A network whose data are in the "excluded" convention (ClimSim's, or
  ``data.surface_flux_convention: excluded`` in training: climnn.data.surface_convention)
  gives its tendencies without the surface fluxes' share of the lowest level; the scheme
  adds the bulk scheme's (its SHF, LHF as heating and moistening of the lowest level), so
  that a chilled or dried boundary layer draws heat and water from the sea whatever the
  network makes of its SHFLX, LHFLX inputs.
- The network gives the temperature and humidity tendencies (TPHYSTND, PHQ: convection,
  condensation, radiation, the surface fluxes' and the boundary layer's heating and
  moistening, and frictional heating, as the teacher's totals hold them), precipitation
  and the radiative fluxes.
- The momentum drag, which the seed network does not predict: the bulk scheme's surface
  stress on the lowest level plus the boundary layer's vertical diffusion of momentum
  (BoundaryLayer on the columns after the surface fluxes, as in the teacher's order; its
  heat and moisture diffusion are left to the network). The kinetic energy this drag
  removes, D = -sum_k (u du/dt + v dv/dt) dp_k / g (W m-2), was turned into heat by the
  teacher and so is inside the network's TPHYSTND: the scheme declares
  ``frictional_heating``, and the coupler's energy budget counts D as a host energy
  source (``Coupler.step(energy_source=D)``), so ``enforce`` closes the DESIGN.md budget
  with frictional heating, and gcm's own budget check agrees.

``closes_budgets`` is true only with ``conservation: enforce``. A guard (NaN, inf, a value
outside ``bounds``) or any other refusal of the coupler during a step raises
gcm.physics.column.PhysicsFailure: the run stops with the restart of the last whole step
written and a message naming the step, the column (lat, lon), the level and the variable.

Timing (gcm.timing sections, in the run log and the model's timer): physics_surface_fluxes
and physics_boundary_layer (the GCM's bulk fluxes, and its drag with the kinetic energy the
drag dissipates: host physics, which the coupler takes as the host's energy source, as
another host would hand over its own frictional heating), physics_inputs (the columns by
schema name, the coupler's input matrix), physics_network (the forward pass),
physics_conservation, physics_guards, physics_outputs (splitting the network's outputs
and the tendencies handed back).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from climnn.coupler import fused
from climnn.coupler.coupler import Coupler
from climnn.coupler.errors import CouplerError
from climnn.coupler.host import HostDescription, check_model_against_host
from climnn.coupler.model_file import read_model_metadata
from climnn.coupler.report import UNITS
from gcm.physics.boundary_layer import BoundaryLayer
from gcm.physics.column import ColumnScheme, ColumnState, ColumnTendencies, PhysicsFailure
from gcm.physics.surface_fluxes import SurfaceFluxes
from gcm.timing import NULL_TIMER
from gcm.variables import QUANTITIES

PARAMETERS = "physics.parameters"

#: What the GCM hands the coupler, by schema name: the state before physics, the previous
#: step's surface fluxes (inputs) and this step's (for the budgets), with their units.
HOST_VARIABLES = {q.dataset: q.units for q in QUANTITIES
                  if q.source in ("columns", "previous") or q.dataset in ("SHF", "LHF")}

#: The outputs the scheme hands on, by ColumnTendencies field (absent ones stay zero).
NETWORK_OUTPUTS = {"temperature": "TPHYSTND", "humidity": "PHQ", "precipitation": "PRECT",
                   "fsnt": "FSNT", "fsns": "FSNS", "flnt": "FLNT", "flns": "FLNS"}

#: Outputs a network may not have here: the GCM's bulk scheme and drag give them.
HOST_OUTPUTS = ("UPHYS", "VPHYS")
#: Surface fluxes a network may give (both or neither): then they replace the bulk ones.
FLUX_OUTPUTS = ("SHF", "LHF")

#: Coupler timing phase -> gcm.timing section.
SECTIONS = {"inputs": "physics_inputs", "network": "physics_network",
            "outputs": "physics_outputs", "conservation": "physics_conservation",
            "guards": "physics_guards"}

#: The coupler's budget figures the scheme reports to the history each step, by mode:
#: history name -> (BudgetReport quantity, its Summary's statistic, long name).
HISTORY_DIAGNOSTICS = {
    "coupler_energy_residual": ("energy_residual", "mean_abs", "global mean of |column "
                                "energy budget residual| of the network, before the fixes"),
    "coupler_water_residual": ("water_residual", "mean_abs", "global mean of |column water "
                               "budget residual| of the network, before the fixes"),
    "coupler_energy_fix": ("energy_fix", "mean", "global mean of the coupler's energy "
                           "fix (mass-weighted temperature correction), signed"),
    "coupler_energy_fix_abs": ("energy_fix", "mean_abs", "global mean of |the coupler's "
                               "energy fix|"),
    "coupler_water_fix": ("water_fix", "mean", "global mean of the coupler's water fix "
                          "(precipitation made consistent), signed"),
    "coupler_water_fix_abs": ("water_fix", "mean_abs", "global mean of |the coupler's water "
                              "fix|"),
    "coupler_negative_humidity_fix": ("negative_humidity_fix", "mean", "global mean of the "
                                      "water the coupler added to remove negative humidity"),
}
MODE_DIAGNOSTICS = {"off": (), "diagnose": ("energy_residual", "water_residual"),
                    "enforce": ("energy_residual", "water_residual", "energy_fix",
                                "water_fix", "negative_humidity_fix")}

HOW_TO_MAKE = ("make one with: climnn generate --restart TEACHER_RESTART --out t31.zarr "
               "--days 110 --every 8; climnn stats t31.zarr; climnn train "
               "run/train_t31.yaml --data t31.zarr --out train/; climnn export train/ "
               "--out {path} (run/README.md, Hybrid run: the whole recipe)")


class NetworkScheme(ColumnScheme):
    """An exported network as gcm's column physics (module docstring).

    model : path of the exported model (``climnn export``), relative to the working
        directory
    conservation : "off" | "diagnose" | "enforce" (climnn.coupler)
    bounds : schema name -> [low, high] of an input or output; outside stops the run
    surface_fluxes, boundary_layer : fields of the bulk surface-flux scheme and of the
        boundary layer (whose momentum diffusion is the drag), as for the teacher
    threads : torch's intra-op threads (default: numba's; climnn.threads)
    """

    name = "network"
    frictional_heating = True

    def __init__(self, model: str | None = None, conservation: str = "diagnose",
                 bounds: dict | None = None, surface_fluxes: dict | None = None,
                 boundary_layer: dict | None = None, threads: int | None = None):
        self.path = _model_file(model)
        self.surface = _part(SurfaceFluxes, "surface_fluxes", surface_fluxes)
        self.drag = _part(BoundaryLayer, "boundary_layer", boundary_layer)
        try:
            meta = read_model_metadata(self.path)
            vertical = meta["vertical"]
            # the model's own levels until the first call shows the GCM's (_check_levels)
            host = HostDescription(HOST_VARIABLES, np.asarray(vertical["hyai"]),
                                   np.asarray(vertical["hybi"]), float(vertical["P0"]))
            self.coupler = Coupler(self.path, host, conservation, _bounds(bounds),
                                   threads=threads)
        except CouplerError as err:
            raise ValueError(f"{PARAMETERS} of scheme 'network': {err}") from None
        names = {s.name for s in self.coupler.outputs}
        taken = [name for name in HOST_OUTPUTS if name in names]
        if taken:
            raise ValueError(f"{PARAMETERS}.model {self.path}: the network predicts {taken}, "
                             f"which the network scheme takes from the GCM's surface stress "
                             f"and boundary layer; export a network without them")
        fluxes = [name for name in FLUX_OUTPUTS if name in names]
        #: the network's tendencies exclude the surface fluxes' share of the lowest level
        #: (its data's convention 'excluded'): the scheme adds the bulk scheme's
        self.adds_surface_fluxes = not self.coupler.included
        if self.adds_surface_fluxes and fluxes:
            raise ValueError(f"{PARAMETERS}.model {self.path}: the network predicts "
                             f"{fluxes} but its tendencies exclude the surface fluxes' share "
                             f"(convention 'excluded'); this scheme adds the bulk scheme's "
                             f"share, so export a network without SHF, LHF")
        if len(fluxes) == 1:
            raise ValueError(f"{PARAMETERS}.model {self.path}: the network predicts "
                             f"{fluxes[0]} but not the other surface flux; it needs both "
                             f"{list(FLUX_OUTPUTS)} or neither")
        #: the surface heat fluxes come from the network (it predicts them), else from
        #: the GCM's bulk scheme (module docstring)
        self.network_fluxes = bool(fluxes)
        self.closes_budgets = conservation == "enforce"
        self.diagnostic_attrs = {
            name: {"long_name": long_name, "units": UNITS[quantity]}
            for name, (quantity, _, long_name) in HISTORY_DIAGNOSTICS.items()
            if quantity in MODE_DIAGNOSTICS[conservation]}
        self.timer = NULL_TIMER  # gcm.timing: the model hands its own timer down
        self.last_report = None  # the coupler's BudgetReport of the last call
        self._previous = {"shf": np.zeros(0), "lhf": np.zeros(0)}  # W m-2, (ncol,)
        self._levels_checked = False
        self._trained_step: float | None = None  # s, the training data's step (0: unknown)
        self._geometry_cache: tuple | None = None  # see _geometry

    # ------------------------------------------------------------------ one step
    def __call__(self, columns: ColumnState, dt: float) -> ColumnTendencies:
        timer = self.timer
        if not self._levels_checked:
            self._check_levels(columns)
        self._check_time_step(dt)
        with timer.section("physics_surface_fluxes"):
            surface = self.surface(columns, dt)
        with timer.section("physics_boundary_layer"):  # the host's drag and its heating
            du, dv = self._momentum_drag(columns, surface, dt)
            dissipation = np.empty(columns.ncol)
            fused.dissipation(columns.u, columns.v, du, dv, columns.pressure_half, dissipation)
        with timer.section("physics_inputs"):
            fields = self._host_fields(columns, surface)
            lat, lon, area = self._geometry(columns)
        try:
            # the humidity the fixes keep non-negative: after the bulk fluxes' share when
            # the scheme adds it (the network's own tendency comes on top)
            humidity = (columns.humidity + dt * surface.humidity
                        if self.adds_surface_fluxes else None)
            result = self.coupler.step(fields, dt, area=area, lat=lat, lon=lon,
                                       energy_source=dissipation, humidity=humidity)
        except CouplerError as err:
            raise PhysicsFailure(f"{self.path.name}: {err}") from err
        for phase, seconds in result.timing.items():
            timer.add(SECTIONS.get(phase, f"physics_{phase}"), seconds)
        start = time.perf_counter()
        outputs = result.outputs
        network = {field: outputs[name] if name in outputs
                   else np.zeros_like(getattr(surface, field))
                   for field, name in NETWORK_OUTPUTS.items()}
        if self.adds_surface_fluxes:  # the bulk fluxes' heating and moistening
            network["temperature"] = network["temperature"] + surface.temperature
            network["humidity"] = network["humidity"] + surface.humidity
        if self.network_fluxes:
            shf, lhf = result.outputs["SHF"], result.outputs["LHF"]
        else:
            shf, lhf = surface.shf, surface.lhf
        out = ColumnTendencies(u=du, v=dv, shf=shf, lhf=lhf, **network)
        self._previous = {"shf": shf, "lhf": lhf}
        self.last_report = result.report
        timer.add("physics_outputs", time.perf_counter() - start)
        return out

    def step_diagnostics(self) -> dict[str, float]:
        """The last call's coupler figures for the history (HISTORY_DIAGNOSTICS)."""
        summaries = self.last_report.summaries
        return {name: getattr(summaries[HISTORY_DIAGNOSTICS[name][0]],
                              HISTORY_DIAGNOSTICS[name][1])
                for name in self.diagnostic_attrs}

    def _momentum_drag(self, columns: ColumnState, surface: ColumnTendencies, dt: float):
        """du/dt, dv/dt (ncol, nlev), m s-2, in the layout of columns.u: the surface stress
        on the lowest level and the boundary layer's momentum diffusion alone
        (BoundaryLayer.momentum_tendencies) of the columns after it (the teacher's order).
        The surface scheme changes the lowest level only, so the state after it is the
        columns' copied with that level stepped: the numbers of columns + dt * surface."""
        after = {}
        for f in ("temperature", "humidity", "u", "v"):
            after[f] = getattr(columns, f).copy(order="K")
            after[f][:, -1] += dt * getattr(surface, f)[:, -1]
        du, dv = self.drag.momentum_tendencies(replace(columns, **after), dt)
        du[:, -1] += surface.u[:, -1]
        dv[:, -1] += surface.v[:, -1]
        return du, dv

    def _host_fields(self, columns: ColumnState, surface: ColumnTendencies) -> dict:
        """The coupler's columns by schema name: the state before physics, the previous
        step's fluxes (SHFLX, LHFLX) and the bulk scheme's of this step (SHF, LHF: the
        budgets' when the network does not give them)."""
        fields = {q.dataset: getattr(columns, q.field) for q in QUANTITIES
                  if q.source == "columns"}
        previous = self._previous
        if previous["shf"].shape != surface.shf.shape:  # the first call: the bulk ones
            previous = {"shf": surface.shf, "lhf": surface.lhf}
        fields.update(SHFLX=previous["shf"], LHFLX=previous["lhf"], SHF=surface.shf,
                      LHF=surface.lhf)
        return fields

    def _check_levels(self, columns: ColumnState) -> None:
        """The GCM's levels (sigma: hyai 0, hybi = p_half / ps) against the model's; a
        mismatch stops at the first step with the first difference named."""
        sigma = columns.pressure_half[0] / columns.surface_pressure[0]
        host = HostDescription(HOST_VARIABLES, np.zeros_like(sigma), sigma,
                               self.coupler.host.p0)
        try:
            check_model_against_host(self.coupler.metadata, host, self.path,
                                     self.coupler.host_fields)
        except CouplerError as err:
            raise ValueError(f"{PARAMETERS}.model of scheme 'network': {err}") from None
        self.coupler.host = host  # the budgets' layer thicknesses: the GCM's own
        self._levels_checked = True

    def _check_time_step(self, dt: float) -> None:
        """The network learned tendencies over its teacher's physics interval (one step
        at the first, two on leapfrog steps): the teacher's condensation and convection
        tendencies depend on it. Another step stops the run at its first or second call
        (a host stepping 2 dt_trained passes its forward first step, not its leapfrog)."""
        trained = self._trained_step
        if trained is None:
            trained = self._trained_step = float(self.coupler.metadata.get(
                "data", {}).get("timestep_seconds") or 0.0)
        if trained and not any(abs(dt - k * trained) <= 1e-6 * trained for k in (1, 2)):
            raise ValueError(
                f"{PARAMETERS}.model {self.path}: the network learned the teacher's "
                f"tendencies over {trained:g}-s steps; this run's physics interval is "
                f"{dt:g} s (its step is not {trained / 60:g} minutes): set "
                f"time.step_minutes={trained / 60:g} or train on data of this step")

    def _geometry(self, columns: ColumnState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lat, lon) in degrees and each column's share of the sphere, (ncol,) each; kept
        while the columns' latitudes and longitudes stay the same (every step of a run)."""
        cached = self._geometry_cache
        if (cached is None or not np.array_equal(cached[0], columns.latitude)
                or not np.array_equal(cached[1], columns.longitude)):
            latitude = columns.latitude.copy()
            longitude = columns.longitude.copy()
            cached = (latitude, longitude, np.degrees(latitude), np.degrees(longitude),
                      column_area(latitude))
            self._geometry_cache = cached
        return cached[2], cached[3], cached[4]

    # ------------------------------------------------------------------ restarts
    def state_arrays(self) -> dict[str, np.ndarray]:
        """The previous step's SHF and LHF (ncol,), W m-2 (empty before the first call)."""
        return {"previous_shf": self._previous["shf"], "previous_lhf": self._previous["lhf"]}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self._previous = {"shf": np.array(arrays["previous_shf"], dtype=np.float64),
                          "lhf": np.array(arrays["previous_lhf"], dtype=np.float64)}


def column_area(latitude: np.ndarray) -> np.ndarray:
    """Each column's share of the sphere (ncol,), summing to 1, on the Gaussian grid of these
    latitudes (radians): the Gauss-Legendre weight of its row shared by the row's columns."""
    rows = np.unique(latitude)
    nodes, weights = np.polynomial.legendre.leggauss(rows.size)
    row = np.searchsorted(nodes, np.sin(latitude) - 0.5 * np.diff(nodes).min())
    row = np.clip(row, 0, rows.size - 1)
    columns_in_row = np.bincount(row, minlength=rows.size)
    return weights[row] / weights.sum() / columns_in_row[row]


def _model_file(model) -> Path:
    """The model parameter as an existing file, or one ValueError naming the key, the
    file and how to make it."""
    if model is None or not str(model):
        raise ValueError(f"{PARAMETERS}.model: the network scheme needs the exported model "
                         f"file; {HOW_TO_MAKE.format(path='MODEL.pt')}")
    path = Path(model)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise ValueError(f"{PARAMETERS}.model: {path} {what} (relative to {Path.cwd()}); "
                         f"{HOW_TO_MAKE.format(path=path)}")
    return path


def _bounds(bounds) -> dict:
    """The bounds parameter as name -> (low, high), or one ValueError naming it."""
    if bounds is None:
        return {}
    if not isinstance(bounds, dict) or not all(
            isinstance(pair, list | tuple) and len(pair) == 2 for pair in bounds.values()):
        raise ValueError(f"{PARAMETERS}.bounds must map schema names to [low, high], got "
                         f"{bounds!r}")
    return {name: (float(low), float(high)) for name, (low, high) in bounds.items()}


def _part(cls, key: str, fields: dict | None):
    """``cls(**fields)``, a bad field named under its key."""
    try:
        return cls(**(fields or {}))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{PARAMETERS}.{key}: {err}") from None
