"""A run of the model: the time loop with output, restarts, NaN guard, progress and
log hung on it as scheduled callbacks (after Oceananigans' Simulation).

Files in the output directory of a run:

    history.zarr (or history/*.nc)  snapshots every output interval, appended as the run goes
    restart/restart_<time>.npz      restart files (bitwise state of both leapfrog levels)
    config.yaml                     the configuration the run used
    run.log                         what happened, with the simulated years per day
"""

from __future__ import annotations

import logging
import time as wallclock
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
import yaml
from tqdm.auto import tqdm

from gcm.config import config_from_dict
from gcm.io.history import OutputWriter
from gcm.io.restart import load_restart, save_restart

logger = logging.getLogger("gcm")


@dataclass
class Callback:
    """Call ``action(simulation)`` every ``every`` steps (and at the end if ``at_end``)."""

    every: int
    action: Callable
    at_end: bool = False


class Simulation:
    """Runs a Model for a number of days, writing into ``output_dir`` (None: in memory)."""

    def __init__(self, model, output_dir=None, progress: bool = True,
                 interval_hours: float | None = None, run_id: str | None = None,
                 resume: bool = False):
        self.model = model
        cfg = model.config
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.progress = progress
        hours = cfg.output.interval_hours if interval_hours is None else interval_hours
        self.output_every = _steps(hours * 3600.0, model.dt, "output interval")
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.snapshots: list[xr.Dataset] = []
        self.callbacks = [Callback(1, Simulation.check_blow_up),
                          Callback(self.output_every, Simulation.write_output)]
        self.writer = None
        if self.output_dir is not None:
            self.writer = OutputWriter(self.output_dir, format=cfg.output.format,
                                       run_id=self.run_id, resume=resume)
            self._start_log()
            if not resume:
                (self.output_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
            if cfg.output.restart_interval_days > 0:
                self.callbacks.append(Callback(
                    _steps(cfg.output.restart_interval_days * 86400.0, model.dt,
                           "restart interval"), Simulation.write_restart))
        self.resumed = resume

    # ------------------------------------------------------------------ restart
    @classmethod
    def from_restart(cls, path, output_dir=None, progress=True, config=None, physics=None):
        """Continue the run saved in restart file ``path``; output goes on into
        ``output_dir`` (default: the directory that holds the restart's folder).
        ``physics``: the scheme object of a run whose model was given one (gcm.Model)."""
        from gcm.model import Model

        path = Path(path)
        arrays, meta = load_restart(path)
        saved = config_from_dict(meta["config"], f"{path} (saved configuration)")
        if config is not None and config.digest() != saved.digest():
            diffs = _differences(config.to_dict(), saved.to_dict())
            raise ValueError(f"{path}: the restart was written with a different configuration "
                             f"({'; '.join(diffs[:5])}); run without a config or with the same one")
        model = Model(saved, physics=physics)
        try:
            model.load_restart_arrays(arrays, meta["step_count"])
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        out = Path(output_dir) if output_dir is not None else path.parent.parent
        return cls(model, out, progress=progress, run_id=meta["run_id"], resume=True)

    def restart_metadata(self) -> dict:
        m = self.model
        return dict(run_id=self.run_id, step_count=m.step_count, time=m.time.isoformat(),
                    calendar=m.time.calendar, config=m.config.to_dict(),
                    config_hash=m.config.digest())

    def _latest_restart_path(self) -> Path | None:
        """Where a restart of the current time goes (None without an output directory)."""
        if self.output_dir is None:
            return None
        stamp = self.model.time.strftime("%Y-%m-%dT%H%M%S")
        return self.output_dir / "restart" / f"restart_{stamp}.npz"

    def write_restart(self) -> Path | None:
        path = self._latest_restart_path()
        if path is None:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        save_restart(path, self.model.restart_arrays(), self.restart_metadata())
        logger.info("restart written: %s", path)
        return path

    # ------------------------------------------------------------------ callbacks
    def check_blow_up(self) -> None:
        self.model.check_finite()

    def write_output(self) -> None:
        ds = self.model.snapshot()
        self.model.start_output_interval()
        if self.writer is None:
            self.snapshots.append(ds)
        else:
            self.writer.append(ds)
            logger.info("output written for %s", self.model.time.isoformat())

    # ------------------------------------------------------------------ loop
    def run(self, days: float) -> xr.Dataset | None:
        """Advance ``days`` (a whole number of steps); return the in-memory snapshots
        (when there is no output directory) as one Dataset."""
        model = self.model
        nsteps = _steps(days * 86400.0, model.dt, "run length")
        if not self.resumed and model.step_count == 0:
            self.write_output()
        logger.info("run %s: %d steps of %.0f s from %s", self.run_id, nsteps, model.dt,
                    model.time.isoformat())
        started = wallclock.perf_counter()
        bar = tqdm(total=nsteps, disable=None if self.progress else True, unit="step",
                   desc=model.config.name)
        try:
            for _ in range(nsteps):
                model.step()
                for cb in self.callbacks:
                    if model.step_count % cb.every == 0:
                        cb.action(self)
                bar.update()
                if bar.n % 50 == 0:
                    bar.set_postfix(sypd=f"{_sypd(bar.n, model.dt, started):.0f}",
                                    day=f"{model.elapsed_seconds / 86400:.1f}")
        except KeyboardInterrupt:
            logger.warning("interrupted at %s; writing a restart", model.time.isoformat())
            model.check_finite()
            self.write_restart()
            raise
        finally:
            bar.close()
        sypd = _sypd(nsteps, model.dt, started)
        logger.info("finished at %s; %.1f simulated years per day", model.time.isoformat(), sypd)
        self.simulated_years_per_day = sypd
        self.last_restart = self._latest_restart_path()
        if self.last_restart is None or not self.last_restart.exists():
            self.last_restart = self.write_restart()
        if self.writer is None:
            return (xr.concat(self.snapshots, dim="time", data_vars="minimal", coords="minimal",
                              compat="override", join="exact") if self.snapshots else None)
        return None

    def _start_log(self):
        self.output_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.output_dir / "run.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        for old in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def _steps(seconds: float, dt: float, what: str) -> int:
    n = seconds / dt
    if abs(n - round(n)) > 1e-9 * max(1.0, n):
        raise ValueError(f"{what} of {seconds / 3600:g} h is not a whole number of "
                         f"{dt / 60:g}-minute steps")
    return int(round(n))


def _sypd(steps: int, dt: float, started: float) -> float:
    elapsed = max(wallclock.perf_counter() - started, 1e-9)
    return steps * dt / (365.0 * 86400.0) / (elapsed / 86400.0)


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _differences(va, vb, f"{prefix}{key}.")
        elif va != vb and not (isinstance(va, float) and np.isclose(va, vb)):
            out.append(f"{prefix}{key}: {va!r} != {vb!r}")
    return out
