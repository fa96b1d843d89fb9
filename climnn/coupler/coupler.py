"""The coupler: an exported network run over a host's columns once a step, with the column
budgets diagnosed or enforced and every value guarded.

A step (:meth:`Coupler.step`):

1. inputs: the host's arrays checked (present, shaped, finite, within bounds) and copied
   into one preallocated (ncol, n_in) float32 matrix in the model's vector order (the
   matrix is reused while ncol stays). When the host's first profile is a view of
   level-major memory (a GCM's (nlev, ncol) fields, as gcm passes them) the matrix is
   feature-major, the transpose of an (n_in, ncol) array, so that filling it reads and
   writes memory in order; torch takes either layout (same numbers, same speed);
2. network: one forward pass over all columns under ``torch.inference_mode``;
3. the (ncol, n_out) outputs split into named float64 arrays (fresh each step: the host may
   keep them), checked finite; profiles are (ncol, nlev) views of level-major memory (the
   transposes of (nlev, ncol) arrays: a GCM scatters them onto its grid without a copy);
4. conservation: ``off`` nothing; ``diagnose`` the energy and water residuals of every
   column (climnn.coupler.column_budgets); ``enforce`` those and the fixes
   (climnn.coupler.fixers); then the outputs' bounds.

Step 1 runs as numba kernels (climnn.coupler.fused: each array checked in the pass that
copies it), steps 3 and 4 as one (climnn.coupler.output_blocks: per block of columns the
outputs widened and checked, the budgets, the fixes and the checks of the fixed outputs,
level by level across the block's columns), so that they cost a small part of the
forward pass; ``fused = False`` runs the plain numpy versions, which the kernels are
tested against. The timing phase "inputs" then includes the input guards, and
"conservation" the outputs' widening and all their checks ("outputs" stays 0); "guards"
is only the search for the place of a failure. The output kernel shares its blocks
among numba's threads (on a quiet 2-core machine it cut the T42 bfloat16 coupler overhead
by 0.7x); the input copies run on one thread. Under load a parallel region waits for a
worker that another process holds (medians of 9-16 ms against 1.3 ms serial for the output
kernel at a load of 6), as torch's forward pass does (docs/performance.md).

Threads: torch's intra-op threads are set once to numba's count and its inter-op threads to
1 (climnn.threads.match_torch_threads). The host's numba kernels and the network run one
after the other inside a step, never at once, so both use all the cores without
oversubscribing them; ``threads`` sets another count for torch.

Nothing here knows the GCM: the host is described by a HostDescription only.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from climnn.coupler import fused, output_blocks
from climnn.coupler.column_budgets import (
    energy_residual,
    layer_thickness,
    water_residual,
)
from climnn.coupler.errors import CouplerError
from climnn.coupler.fixers import enforce
from climnn.coupler.guards import check_arrays
from climnn.coupler.host import HostDescription, check_model_against_host
from climnn.coupler.model_file import load_module, read_model_metadata, torch
from climnn.coupler.output_blocks import FIXED, MODE_CODES, OutputLayout
from climnn.coupler.report import BudgetReport, budget_report, report_from_stats
from climnn.models.budgets import BUDGET_OUTPUTS, SURFACE_FLUXES
from climnn.threads import match_torch_threads

CONSERVATION_MODES = ("off", "diagnose", "enforce")
FINITE = (-np.finfo(np.float64).max, np.finfo(np.float64).max)  # the bounds of "finite"
NO_TARGET = np.empty((0, 0), dtype=np.float32)  # fused.copy_checked: check, copy nothing
NO_HUMIDITY = np.empty((0, 0))  # output_blocks' q when not enforcing
NO_AREA = np.empty(0)  # the output kernel: no area (equal weights), no PS, an absent host term
TIMING_PHASES = ("inputs", "network", "outputs", "conservation", "guards")
#: the report's per-column rows, in output_blocks.outputs_conserved's order (the first
#: two when diagnosing)
BUDGET_COLUMNS = ("energy_residual", "water_residual", "negative_humidity_fix", "water_fix",
                  "energy_fix")


@dataclass(frozen=True)
class CouplerResult:
    """outputs : schema name -> float64 (ncol, nlev) or (ncol,), SI units (after the fixes
    when enforce); report : the step's BudgetReport; timing : phase -> seconds (inputs:
    checking shapes and filling the input matrix; network: the forward pass; outputs:
    splitting it into float64 arrays (plain step only); conservation (with the outputs'
    widening in the fused step); guards)."""

    outputs: dict
    report: BudgetReport
    timing: dict


@dataclass(frozen=True)
class Slot:
    """One variable of the model's input or output vector: name, [start, stop), levels
    (nlev for a profile, 1 for a surface field, which the host passes as (ncol,))."""

    name: str
    start: int
    stop: int
    levels: int

    @property
    def surface(self) -> bool:
        return self.levels == 1


class Clock:
    """Seconds spent in each of TIMING_PHASES, summed over the laps of one step."""

    def __init__(self):
        self.times = dict.fromkeys(TIMING_PHASES, 0.0)
        self.last = time.perf_counter()

    def lap(self, phase: str) -> None:
        """Add the time since the previous lap to ``phase``."""
        now = time.perf_counter()
        self.times[phase] += now - self.last
        self.last = now


class Coupler:
    """An exported model (``climnn export``'s ``.pt`` or ``.pt2``) as a host's column physics.

    model_path : the exported file
    host : HostDescription; its variables, levels, coefficients and schema version must fit
        the model's metadata (CouplerError naming the first difference)
    conservation : "off" | "diagnose" | "enforce" (module docstring; climnn.coupler.fixers)
    bounds : schema name -> (low, high) for inputs or outputs, or None; a value outside
        stops the step with a GuardError (NaN and inf always do)
    device : torch device of the network (default CPU)
    threads : torch's intra-op threads (default: numba's count)
    """

    def __init__(self, model_path: str | Path, host: HostDescription, conservation: str = "off",
                 bounds: Mapping[str, tuple[float, float]] | None = None, device=None,
                 threads: int | None = None):
        if conservation not in CONSERVATION_MODES:
            raise CouplerError(f"conservation {conservation!r} is not one of "
                               f"{list(CONSERVATION_MODES)}")
        self.path, self.host, self.conservation = Path(model_path), host, conservation
        self.metadata = meta = read_model_metadata(self.path)
        self.inputs = [Slot(v["name"], v["start"], v["stop"], v["levels"]) for v in meta["inputs"]]
        self.outputs = [Slot(v["name"], v["start"], v["stop"], v["levels"])
                        for v in meta["outputs"]]
        self.n_in, self.n_out = int(meta["n_in"]), int(meta["n_out"])
        convention = meta["data"].get("surface_flux_convention", "included")
        self.included = convention == "included"
        self.host_fields = self._host_fields(conservation)
        check_model_against_host(meta, host, self.path, self.host_fields)
        self.bounds = self._checked_bounds(bounds)
        try:
            match_torch_threads(threads)
        except RuntimeError:
            pass  # inter-op threads already in use: the intra-op count is set all the same
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.module = load_module(self.path, self.device)
        self._buffer = np.empty((0, self.n_in), dtype=np.float32)
        self._tensor = torch.from_numpy(self._buffer)
        self._layout = None  # see _output_layout
        self._coefficients = None  # see _thickness_coefficients
        #: guards, input assembly, output splitting and conservation in numba kernels
        #: (climnn.coupler.fused); False runs the plain numpy versions they are tested with
        self.fused = True

    # ------------------------------------------------------------------ construction

    def _host_fields(self, conservation: str) -> tuple[str, ...]:
        """Arrays the host passes besides the network's inputs, for the budgets: PS (the
        layer thicknesses), the surface fluxes when the network does not give them, Q to
        enforce; none when conservation is off."""
        names = {s.name for s in self.outputs}
        inputs = {s.name for s in self.inputs}
        if conservation == "off":
            return ()
        missing = [n for n in BUDGET_OUTPUTS if n not in names]
        if missing:
            raise CouplerError(f"{self.path}: conservation {conservation!r} needs the outputs "
                               f"{list(BUDGET_OUTPUTS)}; the model lacks {missing}")
        pressure = ("PS",) if "PS" not in inputs else ()
        fluxes = tuple(n for n in SURFACE_FLUXES if n not in names) if self.included else ()
        humidity = ("Q",) if conservation == "enforce" and "Q" not in inputs else ()
        return pressure + fluxes + humidity

    def _checked_bounds(self, bounds) -> dict:
        known = {s.name for s in self.inputs + self.outputs} | set(self.host_fields)
        bounds = dict(bounds or {})
        for name, pair in bounds.items():
            if name not in known:
                raise CouplerError(f"bounds: {name} is neither an input nor an output of "
                                   f"{self.path} (those are {sorted(known)})")
            if len(pair) != 2 or not pair[0] <= pair[1]:
                raise CouplerError(f"bounds: {name} must be (low, high) with low <= high, "
                                   f"got {pair!r}")
        return bounds

    # ------------------------------------------------------------------ one step

    def step(self, columns: Mapping[str, np.ndarray], dt: float, *, area=None, lat=None,
             lon=None, energy_source=None, humidity=None) -> CouplerResult:
        """The network's outputs and budget report for one batch of columns.

        columns : schema name -> float64, (ncol, nlev) profiles (index 0 = top) or (ncol,)
            surface fields, SI units, any memory layout: the model's inputs and (see
            ``host_fields``) PS, the surface fluxes SHF, LHF of this step and Q
        dt : the host's time step (s): the negative-humidity fix keeps q + dt PHQ >= 0
        area : (ncol,) column areas (m2) to weight the report's means, or None (equal)
        lat, lon : (ncol,) degrees, named in the report and in guard messages, or None
        energy_source : (ncol,) W m-2 of heat the host's own processes put into the column
            and the network's heating holds (e.g. the frictional heating of the host's
            drag), counted in the energy budget beside the boundary fluxes; or None
        humidity : (ncol, nlev) kg kg-1, the humidity ``enforce`` keeps q + dt PHQ >= 0 from,
            or None (the columns' Q): a host that adds moistening of its own besides the
            network's (the surface fluxes' share in the "excluded" convention) passes the
            humidity after it
        Raises CouplerError for a missing or misshapen array, GuardError (a CouplerError)
        for a non-finite or out-of-bounds value.
        """
        clock = Clock()
        if not dt > 0:
            raise CouplerError(f"coupler step: dt must be a positive number of seconds, got {dt!r}")
        first = self.inputs[0]
        ncol = self._column_array(columns, first.name, first.levels).shape[0]
        area, lat, lon, source = (self._per_column(v, n, ncol) for v, n in
                                  ((area, "area"), (lat, "lat"), (lon, "lon"),
                                   (energy_source, "energy_source")))
        used = {s.name: self._column_array(columns, s.name, s.levels, ncol) for s in self.inputs}
        used.update({n: self._column_array(columns, n, self._levels(n), ncol)
                     for n in self.host_fields})
        if source is not None:
            used["energy_source"] = source  # guarded with the inputs
        if humidity is not None and self.conservation == "enforce":
            used["humidity"] = self._column_array({"humidity": humidity}, "humidity",
                                                        self.host.levels, ncol)
        clock.lap("inputs")
        if not self.fused:
            return self._plain_step(used, ncol, dt, area, lat, lon, clock)
        x = self._assemble_checked(used, ncol, lat, lon)  # the input guards fused in
        clock.lap("inputs")
        with torch.inference_mode():
            y = self.module(x).to("cpu", torch.float32).numpy()
        clock.lap("network")
        outputs, report = self._outputs_conserved(y, used, dt, area, lat, lon)
        clock.lap("conservation")  # with the outputs' widening and checks
        return CouplerResult(outputs, report, clock.times)

    def _plain_step(self, used, ncol, dt, area, lat, lon, clock) -> CouplerResult:
        """The step in plain numpy (``fused = False``): what the fused kernels are tested
        against."""
        check_arrays(used, "input", self.bounds, lat, lon)
        clock.lap("guards")
        x = self._assemble(used, ncol)
        clock.lap("inputs")
        with torch.inference_mode():
            y = self.module(x).to("cpu", torch.float32).numpy()
        clock.lap("network")
        outputs = {s.name: (y[:, s.start] if s.surface else y[:, s.start:s.stop]).astype(np.float64)
                   for s in self.outputs}
        clock.lap("outputs")
        check_arrays(outputs, "output", None, lat, lon)  # before the fixes spread a NaN
        clock.lap("guards")
        report = self._conserve(outputs, used, dt, area, lat, lon)
        clock.lap("conservation")
        check_arrays(outputs, "output", self.bounds, lat, lon)
        clock.lap("guards")
        return CouplerResult(outputs, report, clock.times)

    def _levels(self, name: str) -> int:
        return 1 if name in ("PS", *SURFACE_FLUXES) else self.host.levels

    def _column_array(self, columns, name: str, levels: int, ncol: int | None = None):
        if name not in columns:
            raise CouplerError(f"coupler step: the columns lack {name} (the model "
                               f"{self.path.name} needs it)")
        values = np.asarray(columns[name])
        n = values.shape[0] if ncol is None and values.ndim else ncol
        shape = (n,) if levels == 1 else (n, levels)
        if values.shape != shape:
            raise CouplerError(f"coupler step: {name} has shape {values.shape}, expected "
                               f"{shape} (ncol, nlev) or (ncol,)")
        return values

    @staticmethod
    def _per_column(values, name: str, ncol: int):
        if values is None:
            return None
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (ncol,):
            raise CouplerError(f"coupler step: {name} has shape {values.shape}, expected "
                               f"({ncol},)")
        return values

    def _assemble(self, used: dict, ncol: int):
        """The (ncol, n_in) float32 input tensor, in the preallocated buffer."""
        buffer = self._buffer_for(ncol, False)
        for s in self.inputs:
            target = buffer[:, s.start] if s.surface else buffer[:, s.start:s.stop]
            target[...] = used[s.name]
        return self._tensor if self.device.type == "cpu" else self._tensor.to(self.device)

    def _buffer_for(self, ncol: int, feature_major: bool):
        """The (ncol, n_in) float32 input matrix, reused while ncol and the layout stay:
        row-major, or (``feature_major``) the transpose of an (n_in, ncol) array."""
        if self._buffer.shape[0] != ncol or self._buffer.flags.f_contiguous != feature_major:
            if feature_major and ncol > 1:
                self._buffer = np.empty((self.n_in, ncol), dtype=np.float32).T
            else:
                self._buffer = np.empty((ncol, self.n_in), dtype=np.float32)
            self._tensor = torch.from_numpy(self._buffer)
        return self._buffer

    def _assemble_checked(self, used: dict, ncol: int, lat, lon):
        """The input tensor (as ``_assemble``), every array of ``used`` checked on the way
        (finite, within its bounds) in the same pass; a failure located and named by
        climnn.coupler.guards."""
        profile = next((used[s.name] for s in self.inputs if not s.surface), None)
        feature_major = profile is not None and profile.strides[0] < profile.strides[1]
        buffer = self._buffer_for(ncol, feature_major)
        slots = {s.name: s for s in self.inputs}
        for name, values in used.items():
            low, high = self.bounds.get(name, FINITE)
            slot = slots.get(name)
            column_major = values.reshape(ncol, -1)
            if column_major.dtype != np.float64:
                column_major = column_major.astype(np.float64)
            if not fused.copy_checked(column_major, buffer if slot else NO_TARGET,
                                      slot.start if slot else 0, low, high):
                check_arrays({name: values}, "input", self.bounds, lat, lon)
        return self._tensor if self.device.type == "cpu" else self._tensor.to(self.device)

    def _outputs_conserved(self, y: np.ndarray, used: dict, dt: float, area, lat,
                           lon) -> tuple[dict, BudgetReport]:
        """The outputs by name, fresh each step: (ncol, nlev) profiles as views of
        level-major memory (the transposes of (nlev, ncol) arrays, as a GCM lays out its
        fields) and (ncol,) surface fields; widened, checked (finite; the bounds of the
        outputs the fixes leave alone), conserved and the fixed ones checked in one kernel
        (climnn.coupler.output_blocks). A count of bad values sends the plain guards to
        name the first; the budgets' report."""
        ncol = y.shape[0]
        layout = self._output_layout()
        profiles = np.empty((layout.profile_starts.size, self.host.levels, ncol))
        surfaces = np.empty((layout.surface_starts.size, ncol))
        mode = self.conservation
        enforcing = mode == "enforce"
        names = BUDGET_COLUMNS if enforcing else BUDGET_COLUMNS[:2] if mode != "off" else ()
        columns = np.empty((len(names), ncol))
        stats = np.empty((len(names), 4))
        q = (np.asarray(used.get("humidity", used.get("Q")), dtype=np.float64).T
             if enforcing else NO_HUMIDITY)
        ps = np.asarray(used["PS"], dtype=np.float64) if names else NO_AREA
        outside, clipped, outside_fixed = output_blocks.outputs_conserved(
            y, layout.profile_starts, layout.profile_bounds, layout.surface_starts,
            layout.surface_bounds, profiles, surfaces, MODE_CODES[mode], layout.budget_rows,
            layout.energy_weights, layout.water_weights, self._host_terms(used), q, dt, ps,
            *self._thickness_coefficients(), columns, layout.fixed_bounds,
            NO_AREA if area is None else area, stats, numba.get_num_threads())
        if outside:  # found from y itself: the fixes may have spread a NaN since
            self._check_outputs(y, lat, lon)
        named = {**dict(zip(layout.profile_names, (p.T for p in profiles), strict=True)),
                 **dict(zip(layout.surface_names, surfaces, strict=True))}
        outputs = {s.name: named[s.name] for s in self.outputs}
        if outside_fixed:
            check_arrays({n: outputs[n] for n in FIXED}, "output", self.bounds, lat, lon)
        if mode == "off":
            return outputs, BudgetReport("off")
        return outputs, report_from_stats(mode, names, columns, stats, lat, lon, clipped)

    def _check_outputs(self, y: np.ndarray, lat, lon) -> None:
        """The plain guards on the outputs in y (ncol, n_out): finite, then the bounds of
        the outputs the fixes leave alone; GuardError naming the first bad value."""
        outputs = {s.name: (y[:, s.start] if s.surface else y[:, s.start:s.stop]
                            ).astype(np.float64) for s in self.outputs}
        check_arrays(outputs, "output", None, lat, lon)
        check_arrays(outputs, "output", {n: b for n, b in self.bounds.items()
                                         if n not in self._fixed()}, lat, lon)

    def _fixed(self) -> tuple[str, ...]:
        """The outputs the fixes change (their bounds are checked after them)."""
        return FIXED if self.conservation == "enforce" else ()

    def _host_terms(self, used: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What enters each column that the outputs do not give, as the output kernel
        takes it: the host's SHF and LHF (W m-2, when the network lacks them and the data's
        convention counts them) and its energy source (W m-2), each (ncol,) float64 or
        empty when absent (climnn.coupler.column_budgets.boundary_energy, evaporation)."""
        def term(name, wanted):
            if not wanted or name not in used:
                return NO_AREA
            return np.ascontiguousarray(used[name], dtype=np.float64)
        fluxes = self.included
        return (term("SHF", fluxes and "SHF" in self.host_fields),
                term("LHF", fluxes and "LHF" in self.host_fields),
                term("energy_source", self.conservation != "off"))

    def _thickness_coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        """dp_k = a_k + b_k ps: the (nlev,) a (Pa) and b of the host's interfaces, kept
        while the host description stays the same object."""
        host = self.host
        if self._coefficients is None or self._coefficients[0] is not host:
            self._coefficients = (host, np.diff(host.hyai) * host.p0, np.diff(host.hybi))
        return self._coefficients[1:]

    def _output_layout(self) -> OutputLayout:
        """The kernel's description of the outputs (OutputLayout), made again when the
        bounds change."""
        if self._layout is None or self._layout.bounds != self.bounds:
            self._layout = OutputLayout.of(self.outputs, self.bounds, self._fixed(),
                                           self.included)
        return self._layout

    def _budget_fields(self, outputs: dict, used: dict) -> dict:
        """The budgets' terms by name: the outputs, the host's surface fluxes (when the
        network does not give them) and its energy source (when given)."""
        fields = {**{n: np.asarray(used[n], dtype=np.float64) for n in self.host_fields
                     if n in SURFACE_FLUXES}, **outputs}
        if "energy_source" in used:
            fields["energy_source"] = used["energy_source"]
        return fields

    def _conserve(self, outputs: dict, used: dict, dt: float, area, lat, lon) -> BudgetReport:
        if self.conservation == "off":
            return BudgetReport("off")
        dp = layer_thickness(used["PS"], self.host.hyai, self.host.hybi, self.host.p0)
        fields = self._budget_fields(outputs, used)
        columns = {"energy_residual": energy_residual(fields, dp, self.included),
                   "water_residual": water_residual(fields, dp, self.included)}
        clipped = 0
        if self.conservation == "enforce":
            q = np.asarray(used.get("humidity", used["Q"]), dtype=np.float64)
            fixes, clipped = enforce(fields, q, dt, dp, self.included)
            columns.update(fixes)
            for name in ("TPHYSTND", "PHQ", "PRECT"):
                outputs[name] = fields[name]
        return budget_report(self.conservation, columns, area, lat, lon, clipped)
