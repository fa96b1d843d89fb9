"""A run of the model: the one time loop, with everything else hung on it as callbacks
on a schedule (after Oceananigans' Simulation).

    import gcm
    model = gcm.Model(gcm.load_config("run/held_suarez.yaml"))
    ds = gcm.Simulation(model).run(days=10)     # in memory: the daily snapshots
    sim = gcm.Simulation(model, "out/hs")       # files: history, restarts, log
    sim.add_callback(lambda s: print(s.model.time), every=OUTPUT_INTERVAL)
    sim.run(days=30)

A callback is ``action(simulation)`` called after the steps of its schedule: every N
steps (the step count a multiple of N, so schedules stay aligned across restarts), every
output interval (``every=OUTPUT_INTERVAL``), and once more at the end of each ``run()``
when ``at_end`` is set. The built-in ones, in the order they are called after a step:
``blow_up_check`` (every step), ``history`` (every output interval), ``restart`` (every
``output.restart_interval_days``), ``timing`` (IntervalTiming, every output interval and
at the end) and ``progress`` (ProgressBar, every step).

An action with state of its own (e.g. the previous step's fluxes of a dataset sampler)
offers ``state_arrays() -> dict[str, ndarray]`` and ``load_state_arrays(arrays)``: the
arrays go into every restart under ``callback/<name>/<key>``, bit for bit, and come back
into the callback of the same name when the run continues from that restart (whether the
callback is added before or after the restart is loaded). An action may also have
``close()``, called when a run ends, normally or not.

Restarts are consistent by construction: they are written only between whole steps
(at the start too, when the interval schedule is on),
after every callback of the step (the interval schedule, the end of a run, and a stop by
SIGINT or SIGTERM alike). While ``run()`` goes, these signals only ask the loop to stop:
it finishes the step it is in and its callbacks, writes a restart there and raises
RunInterrupted, which names it (a second Ctrl-C stops at once, and no restart is
written then). A KeyboardInterrupt that arrives in the middle of a step by other means
(e.g. ``run()`` in another thread, where no handler can be installed) writes no restart:
the latest one stays the place to continue from. A run that blows up writes none either,
except when the physics scheme stops it (gcm.physics.column.PhysicsFailure, e.g. a
network's guard): the restart of the last whole step is written, and ModelBlowUpError
names the step, the column, the level, the variable and that restart.

The files of a run appear when its first step is about to be taken, so a start that
fails leaves the output directory as it was. A simulation that continues a run
(``from_restart``) first cuts the history back to the restart's time (entries after it
were written by the run that went on past the restart and are written again).

Files in the output directory of a run:

    history.zarr (or history/*.nc)  snapshots every output interval, appended as the run goes
    restart/restart_<time>.npz      restart files (bitwise state of both leapfrog levels)
    config.yaml                     the configuration the run used
    run.log                         what happened, with the simulated years per day
"""

from __future__ import annotations

import datetime
import logging
import signal
import threading
import time as wallclock
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
import yaml
from tqdm.auto import tqdm

from gcm.blow_up import ModelBlowUpError
from gcm.config import config_from_dict
from gcm.io.history import OutputWriter, check_output_directory, truncate_history
from gcm.io.restart import load_restart, restart_metadata, save_restart
from gcm.model import Model
from gcm.physics.column import PhysicsFailure

logger = logging.getLogger("gcm")

#: ``Callback.every`` value: once every output interval of the simulation.
OUTPUT_INTERVAL = "output_interval"
#: Prefix of callback state in restart files: ``callback/<name>/<key>``.
CALLBACK_STATE = "callback/"

SECONDS_PER_YEAR = 365.0 * 86400.0
#: Signals that stop a run at the next step boundary, with a restart written there.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by a signal (or KeyboardInterrupt).

    signum : the signal (signal.SIGINT for a KeyboardInterrupt)
    restart : the restart file to continue from (None if the run has written none)
    time : ISO model time of that restart, or of the state when no restart was written
    written : True if the restart was written at the stop (the state of the stop);
        False if the stop fell inside a step and ``restart`` is an earlier one
    """

    def __init__(self, signum: int, restart: Path | None, time: str, written: bool):
        super().__init__(signum, restart, time, written)
        self.signum, self.restart, self.time, self.written = signum, restart, time, written

    def __str__(self) -> str:
        name = signal.Signals(self.signum).name
        if self.restart is None:
            return f"stopped by {name} at {self.time}; no restart file was written yet"
        how = "restart written" if self.written else "stopped inside a step; latest restart"
        return (f"stopped by {name}; {how}: {self.restart} ({self.time}); continue with "
                f"climnn run --restart {self.restart}")


def simulated_years_per_day(simulated_seconds: float, wall_seconds: float) -> float:
    """Simulated years per wall-clock day (SYPD; a year of 365 days)."""
    return simulated_seconds / SECONDS_PER_YEAR / (max(wall_seconds, 1e-9) / 86400.0)


@dataclass
class Callback:
    """``action(simulation)`` on a schedule.

    action : called with the Simulation after each step of its schedule
    every : steps between calls (the step count a multiple of it), or OUTPUT_INTERVAL
    at_end : also call it at the end of every ``run()``, unless its schedule already did
        at that step
    name : names the callback (unique in a simulation); the key of its state in restarts.
        Default: the action's ``name`` attribute, or its function or class name, with
        ``_2``, ``_3``, ... appended when a callback of that name is already added.
    needs_physics_call : the action reads ``model.last_physics``, so the model keeps it
        (Model.keep_physics_call); also set by an action's own ``needs_physics_call``
        attribute
    """

    action: Callable[[Simulation], object]
    every: int | str = 1
    at_end: bool = False
    name: str = ""
    needs_physics_call: bool = False


class Simulation:
    """Runs a Model, writing into ``output_dir`` (None: nothing written, snapshots kept
    in memory).

    interval_hours : output interval (default: the config's ``output.interval_hours``)
    history : False writes no snapshots (restarts and callbacks only)
    restart_file : write every restart to this one file (replaced atomically) instead of
        ``output_dir/restart/restart_<time>.npz``
    run_id, resume : continue the history of run ``run_id`` in ``output_dir``
    """

    def __init__(self, model: Model, output_dir=None, progress: bool = True,
                 interval_hours: float | None = None, run_id: str | None = None,
                 resume: bool = False, *, history: bool = True, restart_file=None):
        self.model = model
        cfg = model.config
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.restart_file = Path(restart_file) if restart_file is not None else None
        hours = cfg.output.interval_hours if interval_hours is None else interval_hours
        self.output_every = _steps(hours * 3600.0, model.dt, "output interval")
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.history = history
        self.snapshots: list[xr.Dataset] = []
        self._writer: OutputWriter | None = None
        self._opened = False  # files of the output directory created
        self.resumed = resume
        self.last_restart: Path | None = None
        self.simulated_years_per_day: float | None = None
        # (wall clock, step count) when the current run() began, and the step it stops at
        self.run_start: tuple[float, int] = (wallclock.perf_counter(), model.step_count)
        self.stop_step = model.step_count
        self._restart_step: int | None = None  # step count of the latest restart written
        self._callbacks: list[tuple[Callback, int]] = []
        self._restored_state: dict[str, dict[str, np.ndarray]] = {}
        self._restored_from: Path | None = None  # the restart file of _restored_state
        # steps the run that wrote the restart had still to go (0: it had finished)
        self.unfinished_steps = 0
        self._stop_signal: int | None = None  # a stop asked for by a signal
        self._in_step = False  # between the start of a step and the end of its callbacks
        if self.output_dir is not None and history:
            # refused now, before anything is written
            check_output_directory(self.output_dir, self.run_id, cfg.output.format, resume)
        self.timing = IntervalTiming()
        self.add_callback(Simulation.check_blow_up, name="blow_up_check")
        if history:
            self.add_callback(Simulation.write_output, every=OUTPUT_INTERVAL, name="history")
        if self.output_dir is not None and cfg.output.restart_interval_days > 0:
            self.add_callback(Simulation.write_restart, name="restart", every=_steps(
                cfg.output.restart_interval_days * 86400.0, model.dt, "restart interval"))
        self.add_callback(self.timing, every=OUTPUT_INTERVAL, at_end=True, name="timing")
        if progress:
            self.add_callback(ProgressBar(cfg.name), name="progress")

    # ------------------------------------------------------------------ callbacks
    def add_callback(self, action: Callback | Callable, every: int | str = 1,
                     at_end: bool = False, name: str = "", needs_physics_call: bool = False
                     ) -> Callback:
        """Call ``action(simulation)`` every ``every`` steps (or OUTPUT_INTERVAL), after
        the callbacks added before it; give a Callback or its fields. Returns the
        Callback. State the restart holds for a callback of this name is loaded into it."""
        callback = action if isinstance(action, Callback) else Callback(
            action, every, at_end, name, needs_physics_call)
        if callback.needs_physics_call or getattr(callback.action, "needs_physics_call", False):
            self.model.keep_physics_call = True
        taken = {c.name for c in self.callbacks}
        if callback.name in taken:
            raise ValueError(f"Simulation.add_callback: a callback named {callback.name!r} "
                             "is already added; give another name")
        if not callback.name:
            callback.name = _unique(_default_name(callback.action), taken)
        steps = callback.every
        if steps == OUTPUT_INTERVAL:
            steps = self.output_every
        if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
            raise ValueError(f"callback {callback.name!r}: every={callback.every!r}; expected "
                             f"a number of steps >= 1 or {OUTPUT_INTERVAL!r}")
        self._callbacks.append((callback, int(steps)))
        if callback.name in self._restored_state:
            self._load_callback_state(callback)
        return callback

    @property
    def writer(self) -> OutputWriter | None:
        """The history writer (None without an output directory or history); asking for
        it creates the files of the output directory (see ``open_output``)."""
        self.open_output()
        return self._writer

    def open_output(self) -> None:
        """Create the output directory's files: run.log, config.yaml, and the history
        (a continued run's cut back to the current time first). ``run()`` does this just
        before its first step; before then a failed start leaves nothing behind."""
        if self._opened or self.output_dir is None:
            return
        self._opened = True
        cfg = self.model.config
        self._start_log()
        if not self.resumed:
            (self.output_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
        if not self.history:
            return
        if self.resumed:
            dropped = truncate_history(self.output_dir, self.model.time)
            if dropped:
                logger.warning("history cut back to %s: %d later entr%s removed (written "
                               "after the restart)", self.model.time.isoformat(), dropped,
                               "y" if dropped == 1 else "ies")
        self._writer = OutputWriter(self.output_dir, format=cfg.output.format,
                                    run_id=self.run_id, resume=self.resumed)

    @property
    def callbacks(self) -> list[Callback]:
        """The callbacks in the order they are called."""
        return [c for c, _ in self._callbacks]

    def check_blow_up(self) -> None:
        """Raise ModelBlowUpError on a non-finite state, logged first so that the run's
        log says how it ended (climnn diagnose reads it)."""
        try:
            self.model.check_finite()
        except ModelBlowUpError as err:
            logger.error("%s", err)
            raise

    def write_output(self) -> None:
        """Append a snapshot to the history (or keep it in memory) and start the next
        interval of the interval means."""
        ds = self.model.snapshot()
        self.model.start_output_interval()
        if self.output_dir is None:
            self.snapshots.append(ds)
        else:
            self.writer.append(ds)
            logger.info("output written for %s", self.model.time.isoformat())

    # ------------------------------------------------------------------ restart
    @classmethod
    def from_restart(cls, path, output_dir=None, progress=True, config=None, physics=None):
        """Continue the run saved in restart file ``path``; output goes on into
        ``output_dir`` (default: the directory that holds the restart's folder).
        ``physics``: the scheme object of a run whose model was given one (gcm.Model)."""
        path = Path(path)
        arrays, meta = load_restart(path)
        saved = config_from_dict(meta["config"], f"{path} (saved configuration)")
        _check_same_config(path, config, saved)
        out = Path(output_dir) if output_dir is not None else path.parent.parent
        sim = cls(Model(saved, physics=physics), out, progress=progress,
                  run_id=meta["run_id"], resume=True)
        sim._restore(path, arrays, meta)
        return sim

    def load_restart(self, path, callback_state: bool = True) -> dict:
        """Put the state of restart file ``path`` (written by a run of the same
        configuration) into this simulation's model and callbacks; returns its metadata.
        ``callback_state=False`` takes the model's state alone and drops the callbacks'
        (e.g. a spin-up run's history means, when sampling starts from its end)."""
        path = Path(path)
        arrays, meta = load_restart(path)
        saved = config_from_dict(meta["config"], f"{path} (saved configuration)")
        _check_same_config(path, self.model.config, saved)
        if not callback_state:
            arrays = {k: v for k, v in arrays.items() if not k.startswith(CALLBACK_STATE)}
        self._restore(path, arrays, meta)
        return meta

    def _restore(self, path: Path, arrays: dict, meta: dict) -> None:
        model_arrays = {k: v for k, v in arrays.items() if not k.startswith(CALLBACK_STATE)}
        try:
            self.model.load_restart_arrays(model_arrays, meta["step_count"])
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        self._restored_state, self._restored_from = {}, path
        for key, value in arrays.items():
            if key.startswith(CALLBACK_STATE):
                name, _, field = key[len(CALLBACK_STATE):].partition("/")
                self._restored_state.setdefault(name, {})[field] = value
        for callback, _ in self._callbacks:
            if callback.name in self._restored_state:
                self._load_callback_state(callback)
        self._restart_step = self.model.step_count
        self.last_restart = path
        self.unfinished_steps = max(int(meta.get("stop_step", 0)) - self.model.step_count, 0)

    def _load_callback_state(self, callback: Callback) -> None:
        arrays = self._restored_state.pop(callback.name)
        where = f"{self._restored_from}: callback {callback.name!r}"
        load = getattr(callback.action, "load_state_arrays", None)
        if load is None:
            raise ValueError(f"{where}: the restart holds state for it ({sorted(arrays)}) "
                             "but it has no load_state_arrays()")
        try:
            load(arrays)
        except (ValueError, KeyError) as err:
            raise ValueError(f"{where}: {err}") from None

    def restart_arrays(self) -> dict[str, np.ndarray]:
        """The model's restart arrays and each stateful callback's, under
        ``callback/<name>/<key>``."""
        arrays = dict(self.model.restart_arrays())
        for callback, _ in self._callbacks:
            state = getattr(callback.action, "state_arrays", None)
            if state is None:
                continue
            for key, value in state().items():
                arrays[f"{CALLBACK_STATE}{callback.name}/{key}"] = value
        return arrays

    def _restart_path(self) -> Path | None:
        """Where a restart of the current time goes (None without an output directory)."""
        if self.restart_file is not None:
            return self.restart_file
        if self.output_dir is None:
            return None
        stamp = self.model.time.strftime("%Y-%m-%dT%H%M%S")
        return self.output_dir / "restart" / f"restart_{stamp}.npz"

    def write_restart(self) -> Path | None:
        """Write the restart of the current step (nothing without an output directory
        or restart file); returns its path."""
        path = self._restart_path()
        if path is None:
            return None
        save_restart(path, *self._restart_contents())
        logger.info("restart written: %s", path)
        return path

    def take_restart(self) -> tuple[Path | None, dict[str, np.ndarray], dict]:
        """The restart of the current step, to be written later (e.g. by another thread,
        with ``gcm.io.restart.save_restart(*taken)``): its path (None without an output
        directory or restart file), copies of its arrays and its metadata."""
        arrays, metadata = self._restart_contents()
        return self._restart_path(), {k: np.array(v) for k, v in arrays.items()}, metadata

    def _restart_contents(self) -> tuple[dict[str, np.ndarray], dict]:
        m = self.model
        arrays = self.restart_arrays()  # first: a callback may store data it vouches for
        self._restart_step = m.step_count
        self.last_restart = self._restart_path()
        return arrays, restart_metadata(m.time, m.step_count, m.config,
                                        run_id=self.run_id, stop_step=self.stop_step)

    # ------------------------------------------------------------------ loop
    def run(self, days: float) -> xr.Dataset | None:
        """Advance ``days`` (a whole number of steps); return the in-memory snapshots
        (when there is no output directory) as one Dataset."""
        return self.run_steps(_steps(days * 86400.0, self.model.dt, "run length"))

    def run_steps(self, nsteps: int) -> xr.Dataset | None:
        """Advance ``nsteps`` steps; see ``run``."""
        model = self.model
        if nsteps < 0:
            raise ValueError(f"Simulation.run_steps: nsteps={nsteps}; expected >= 0")
        if self._restored_state:
            logger.warning("the restart holds state of callback(s) %s, which this simulation "
                           "does not have: it is ignored", sorted(self._restored_state))
            self._restored_state = {}
        self.stop_step = model.step_count + nsteps
        self.open_output()
        try:
            with _StopSignals(self):
                self._run_loop(nsteps)
        finally:
            for callback in self.callbacks:
                close = getattr(callback.action, "close", None)
                if close is not None:
                    close()
        wall = wallclock.perf_counter() - self.run_start[0]
        sypd = simulated_years_per_day(nsteps * model.dt, wall)
        logger.info("finished at %s; %.1f simulated years per day", model.time.isoformat(), sypd)
        self.simulated_years_per_day = sypd
        if self._restart_step != model.step_count:
            self.write_restart()
        if self.history and self.writer is None:
            return (xr.concat(self.snapshots, dim="time", data_vars="minimal", coords="minimal",
                              compat="override", join="exact") if self.snapshots else None)
        return None

    def _run_loop(self, nsteps: int) -> None:
        """The first snapshot and the loop; a stop by signal or KeyboardInterrupt ends
        in RunInterrupted, with a restart written if the state is that of a whole step."""
        model = self.model
        self._stop_signal, self._in_step = None, True
        try:
            if not self.resumed and model.step_count == 0:
                if self.history:
                    self.write_output()
                if any(c.name == "restart" for c in self.callbacks):
                    self.write_restart()  # so that a run killed at once can be resumed
            logger.info("run %s: %d steps of %.0f s from %s", self.run_id, nsteps, model.dt,
                        model.time.isoformat())
            self.run_start = (wallclock.perf_counter(), model.step_count)
            self._in_step = False
            self._loop()
        except KeyboardInterrupt as err:
            if isinstance(err, RunInterrupted):
                raise
            self._stop_signal = signal.SIGINT
            if self._in_step:
                logger.warning("interrupted inside step %d: no restart written; the latest "
                               "is %s", model.step_count, self.last_restart)
                when = self._restart_step if self.last_restart is not None else None
                raise RunInterrupted(signal.SIGINT, self.last_restart,
                                     self._step_time(when), False) from None
        if self._stop_signal is not None:
            self._stop()

    def _stop(self) -> None:
        """Write the restart of the current (whole) step and raise RunInterrupted."""
        name = signal.Signals(self._stop_signal).name
        logger.warning("%s at %s: writing a restart and stopping", name,
                       self.model.time.isoformat())
        if self._restart_step != self.model.step_count or self.last_restart is None:
            self.write_restart()
        raise RunInterrupted(self._stop_signal, self.last_restart, self.model.time.isoformat(),
                             self.last_restart is not None)

    def _step_time(self, step: int | None) -> str:
        """ISO model time after ``step`` steps (None: the current time)."""
        m = self.model
        if step is None:
            return m.time.isoformat()
        return (m.start_time + datetime.timedelta(seconds=step * m.dt)).isoformat()

    def request_stop(self, signum: int = signal.SIGINT) -> None:
        """Ask the loop to stop at the end of the current step (what SIGINT and SIGTERM
        do while ``run()`` goes); a second request while one is pending interrupts at
        once."""
        if self._stop_signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self._stop_signal = signum

    def _loop(self) -> None:
        model, callbacks = self.model, self._callbacks
        while model.step_count < self.stop_step and self._stop_signal is None:
            self._in_step = True
            try:
                model.step()
            except PhysicsFailure as err:
                self._stop_after_physics_failure(err)
            for callback, every in callbacks:
                if model.step_count % every == 0:
                    callback.action(self)
            self._in_step = False
        if self._stop_signal is not None:
            return
        for callback, every in callbacks:
            if callback.at_end and model.step_count % every != 0:
                callback.action(self)

    def _stop_after_physics_failure(self, err: PhysicsFailure) -> None:
        """Write the restart of the last whole step (the model changes no state a restart
        holds before its physics has run) and stop with a ModelBlowUpError."""
        self._in_step = False
        path = self.write_restart()
        where = f"; restart of the last whole step: {path}" if path is not None else ""
        logger.error("%s%s", err, where)
        raise ModelBlowUpError(f"{err}{where}; output written before is kept") from err

    def _start_log(self):
        self.output_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.output_dir / "run.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        for old in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


class _StopSignals:
    """While the block runs (in the main thread only: Python delivers signals there),
    SIGINT and SIGTERM call ``simulation.request_stop`` instead of their handlers; the
    previous handlers come back after it."""

    def __init__(self, simulation: Simulation):
        self.simulation = simulation
        self.previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        self.simulation.request_stop(signum)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            # None: a handler not installed from Python, which cannot be put back
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        self.previous = {}


class IntervalTiming:
    """Callback: the wall time and simulated years per day of each interval between its
    calls (the first from the start of the run), with the seconds of each timer section
    when ``model.timer`` is a gcm.timing.StepTimer (which it then resets, so that each
    record covers its own interval). Logged, and kept in ``records``: dicts of
    ``step``, ``steps``, ``wall_s``, ``sypd`` and ``sections`` ({name: seconds})."""

    def __init__(self):
        self.records: list[dict] = []
        self._last: tuple[float, int] | None = None

    def __call__(self, sim: Simulation) -> None:
        now, step = wallclock.perf_counter(), sim.model.step_count
        if self._last is None or self._last[0] < sim.run_start[0]:
            self._last = sim.run_start
        wall, steps = now - self._last[0], step - self._last[1]
        self._last = (now, step)
        if steps <= 0:
            return
        timer = sim.model.timer
        sections = dict(getattr(timer, "seconds", {}))
        if sections:
            timer.reset()
            if "step" in sections and "physics" in sections:
                sections["dynamics"] = sections["step"] - sections["physics"]
        record = dict(step=step, steps=steps, wall_s=wall, sections=sections,
                      sypd=simulated_years_per_day(steps * sim.model.dt, wall))
        self.records.append(record)
        shares = ", ".join(f"{name} {seconds / wall:.0%}" for name, seconds in
                           sorted(sections.items()))
        logger.info("%d steps to %s in %.2f s: %.1f SYPD%s", steps, sim.model.time.isoformat(),
                    wall, record["sypd"], f"; {shares}" if shares else "")


class ProgressBar:
    """Callback every step: a tqdm bar over the steps of each run, with the simulated
    years per day and the model day."""

    def __init__(self, description: str):
        self.description = description
        self._bar = None

    def __call__(self, sim: Simulation) -> None:
        if self._bar is None:
            # disable=None: no bar when the output is not a terminal
            self._bar = tqdm(total=sim.stop_step - sim.run_start[1], unit="step",
                             desc=self.description, disable=None)
        bar = self._bar
        bar.update()
        if bar.n % 50 == 0:
            wall = wallclock.perf_counter() - sim.run_start[0]
            bar.set_postfix(sypd=f"{simulated_years_per_day(bar.n * sim.model.dt, wall):.0f}",
                            day=f"{sim.model.elapsed_seconds / 86400:.1f}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _default_name(action) -> str:
    return (getattr(action, "name", "") or getattr(action, "__name__", "")
            or type(action).__name__)


def _unique(name: str, taken: set[str]) -> str:
    suffix = 2
    unique = name
    while unique in taken:
        unique, suffix = f"{name}_{suffix}", suffix + 1
    return unique


def _check_same_config(path: Path, config, saved) -> None:
    if config is not None and config.digest() != saved.digest():
        diffs = _differences(config.to_dict(), saved.to_dict())
        raise ValueError(f"{path}: the restart was written with a different configuration "
                         f"({'; '.join(diffs[:5])}); run without a config or with the same one")


def _steps(seconds: float, dt: float, what: str) -> int:
    n = seconds / dt
    if abs(n - round(n)) > 1e-9 * max(1.0, n):
        raise ValueError(f"{what} of {seconds / 3600:g} h is not a whole number of "
                         f"{dt / 60:g}-minute steps")
    return int(round(n))


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _differences(va, vb, f"{prefix}{key}.")
        elif va != vb and not (isinstance(va, float) and np.isclose(va, vb)):
            out.append(f"{prefix}{key}: {va!r} != {vb!r}")
    return out
