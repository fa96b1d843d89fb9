"""Resume after any kill: a run killed with SIGKILL at random moments (or stopped with
SIGINT) and resumed in the same directory equals the uninterrupted run bit for bit, and
its history opens with plain xarray after every kill."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from climnn.cli import main
from gcm.config import load_config
from gcm.io.history import open_history
from gcm.io.restart import load_restart
from gcm.model import Model
from gcm.simulation import Simulation

REPO = Path(__file__).resolve().parents[1]
DAYS = 1.0  # 48 steps of 30 min, hourly history, a restart every 1.5 h


def write_tiny_config(folder: Path, fmt: str = "zarr") -> Path:
    """T21L25 moist aquaplanet with frequent output and restarts."""
    data = yaml.safe_load((REPO / "run/aquaplanet.yaml").read_text())
    data["resolution"]["truncation"] = 21
    data["time"]["step_minutes"] = 30
    data["output"].update(interval_hours=1, restart_interval_days=0.0625, format=fmt)
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def straight_run(config: Path, out: Path) -> Path:
    """The uninterrupted run (in this process); its final restart."""
    sim = Simulation(Model(load_config(config)), out, progress=False)
    sim.run(DAYS)
    return sim.last_restart


def assert_same_run(out: Path, reference: Path, final: Path) -> None:
    """History and final restart of the run in ``out`` bitwise those of ``reference``."""
    got, want = open_history(out).load(), open_history(reference.parent.parent).load()
    xr.testing.assert_equal(got, want)
    for ledger in ("fixer_water", "fixer_energy"):  # no jump where the run was resumed
        assert np.array_equal(got[ledger].values, want[ledger].values, equal_nan=True), ledger
    a, meta_a = load_restart(final)
    b, meta_b = load_restart(reference)
    assert meta_a["step_count"] == meta_b["step_count"] and sorted(a) == sorted(b)
    for name in a:
        assert np.array_equal(a[name], b[name]), f"{name} differs from the uninterrupted run"


def assert_visible_entries_complete(out: Path, reference: xr.Dataset) -> None:
    """What a plain reader sees now: no error, every entry equal to the reference's."""
    store = out / "history.zarr"
    if not store.exists():
        return
    with xr.open_zarr(store, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as ds:
        n = ds.sizes["time"]
        xr.testing.assert_equal(ds.load(), reference.isel(time=slice(0, n)))


def test_resume_cuts_the_history_back_to_the_restart(tmp_path, capsys):
    """A run that died after restart 1.5 h and history 4 h is resumed: entries after
    1.5 h are removed and written again; all bitwise the uninterrupted run."""
    config = write_tiny_config(tmp_path, "netcdf")
    reference = straight_run(config, tmp_path / "straight")
    sim = Simulation(Model(load_config(config)), tmp_path / "run", progress=False)

    def die_at_step_9(s):
        if s.model.step_count == 9:
            raise SystemExit("killed")

    sim.add_callback(die_at_step_9)
    with pytest.raises(SystemExit):
        sim.run(DAYS)
    for newer in [p for p in (tmp_path / "run/restart").iterdir() if "T0300" in p.name]:
        newer.unlink()  # died before the restart of 3 h was written
    assert len(open_history(tmp_path / "run").time) == 5
    assert main(["run", "--resume", str(tmp_path / "run"), "--quiet"]) == 0
    assert_same_run(tmp_path / "run", reference, tmp_path / "run/restart" / reference.name)


def run_command(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen([sys.executable, "-m", "climnn.cli", "run", *args, "--quiet"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def restarts(out: Path) -> set[str]:
    folder = out / "restart"
    return {p.name for p in folder.glob("restart_*.npz")} if folder.is_dir() else set()


def stop_after_progress(proc: subprocess.Popen, out: Path, delay: float, signum: int) -> None:
    """Send ``signum`` ``delay`` seconds after the run wrote a restart it had not (so that
    every stop falls later in the run), unless it ended first."""
    before = restarts(out)
    while proc.poll() is None and restarts(out) <= before:
        time.sleep(0.02)
    time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(signum)
    proc.wait()


def test_killed_at_random_moments_and_resumed_equals_the_straight_run(tmp_path):
    rng = np.random.default_rng(11)
    config = write_tiny_config(tmp_path)
    reference = straight_run(config, tmp_path / "straight")
    full = open_history(tmp_path / "straight").load()
    out = tmp_path / "run"
    proc = run_command([str(config), "--days", str(DAYS), "--out", str(out)])
    kills = 0
    while proc.returncode != 0:
        last = kills == 8  # the last stop is a Ctrl-C, the others kill -9
        stop_after_progress(proc, out, rng.uniform(0.0, 0.5),
                            signal.SIGINT if last else signal.SIGKILL)
        if proc.returncode == 0:
            break
        kills += 1
        err = proc.stderr.read().decode()
        if last:
            assert proc.returncode == 130 and "restart written" in err, err
        else:
            assert proc.returncode == -signal.SIGKILL, err
        assert_visible_entries_complete(out, full)
        proc = run_command(["--resume", str(out)])
        proc.wait() if kills > 8 else None
    assert kills >= 9, "the run ended before all its kills"
    assert_same_run(out, reference, out / "restart" / reference.name)
