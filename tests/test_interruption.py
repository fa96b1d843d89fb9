"""A run stopped by Ctrl-C or SIGTERM: the restart belongs to one whole step, is named,
and continuing from it is bitwise the run that was not stopped."""

import signal
from pathlib import Path

import numpy as np
import pytest
import yaml

from climnn.cli import main
from gcm.config import load_config
from gcm.io.restart import load_restart
from gcm.model import Model
from gcm.simulation import RunInterrupted, Simulation

STEPS = 12  # of 30 minutes; a restart every 3 h (6 steps), history every hour
TINY = {"resolution.truncation": 21, "time.step_minutes": 30, "output.interval_hours": 1,
        "output.restart_interval_days": 0.125}


def tiny_config():
    """T21L25 moist aquaplanet (teacher physics, fixers, carried old-level grid)."""
    return load_config("run/aquaplanet.yaml", **TINY)


def assert_same_restart(got: Path, want: Path) -> None:
    """Every array of two restart files bitwise equal, and their step counts."""
    a, meta_a = load_restart(got)
    b, meta_b = load_restart(want)
    assert meta_a["step_count"] == meta_b["step_count"]
    assert sorted(a) == sorted(b)
    for name in a:
        assert np.array_equal(a[name], b[name]), f"{name} differs from the uninterrupted run"


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """The final restart of the uninterrupted run."""
    sim = Simulation(Model(tiny_config()), tmp_path_factory.mktemp("straight"), progress=False)
    sim.run_steps(STEPS)
    return sim.last_restart


def finish(restart: Path) -> Path:
    """Continue from ``restart`` to the end of the run; its final restart."""
    sim = Simulation.from_restart(restart, progress=False)
    sim.run_steps(sim.unfinished_steps)
    return sim.last_restart


# Places inside a step where an interruption once tore the restart: after the old-level
# grid was advanced, after the ledger was advanced (fixers' targets of the next step),
# and after the new level was computed.
SECTIONS = [("_old_grid", "advance"), ("ledger", "advance"), ("dynamics", "implicit_step")]


def interrupt_inside(model: Model, section: tuple[str, str], at_call: int, action) -> None:
    """Call ``action()`` right after the ``at_call``-th call (from 1) of a section."""
    owner = getattr(model, section[0])
    real = getattr(owner, section[1])
    calls = [0]

    def wrapped(*args, **kwargs):
        result = real(*args, **kwargs)
        calls[0] += 1
        if calls[0] == at_call:
            action()
        return result

    setattr(owner, section[1], wrapped)


@pytest.mark.parametrize("seed", range(3))
def test_sigint_inside_a_step_stops_at_the_next_step_boundary(tmp_path, straight, seed):
    rng = np.random.default_rng(seed)
    section = SECTIONS[seed % len(SECTIONS)]
    at_call = int(rng.integers(2, STEPS - 1))
    # the caller's handler: default_int_handler, or SIG_IGN where the tests run in the
    # background of a shell without job control (POSIX ignores SIGINT there)
    callers = signal.getsignal(signal.SIGINT)
    sim = Simulation(Model(tiny_config()), tmp_path, progress=False)
    interrupt_inside(sim.model, section, at_call, lambda: signal.raise_signal(signal.SIGINT))
    with pytest.raises(RunInterrupted) as stop:
        sim.run_steps(STEPS)
    assert stop.value.written and stop.value.restart == sim.last_restart
    assert stop.value.restart.exists() and str(stop.value.restart) in str(stop.value)
    assert sim.model.step_count == at_call  # the step it fell in was finished
    assert load_restart(stop.value.restart)[1]["step_count"] == at_call
    assert signal.getsignal(signal.SIGINT) is callers  # put back as it was
    assert_same_restart(finish(stop.value.restart), straight)


def test_keyboard_interrupt_inside_a_step_writes_no_torn_restart(tmp_path, straight):
    """Raised inside the step (as where no handler can be installed): the restart to
    continue from is the latest whole-step one, never one of the torn state."""
    sim = Simulation(Model(tiny_config()), tmp_path, progress=False)

    def interrupt():
        raise KeyboardInterrupt

    interrupt_inside(sim.model, ("ledger", "advance"), 9, interrupt)
    with pytest.raises(RunInterrupted) as stop:
        sim.run_steps(STEPS)
    assert not stop.value.written
    assert load_restart(stop.value.restart)[1]["step_count"] == 6
    written = {load_restart(p)[1]["step_count"] for p in (tmp_path / "restart").iterdir()}
    assert written == {0, 6}  # the start's and the schedule's, none of the torn state
    assert_same_restart(finish(sim.last_restart), straight)


def test_sigterm_stops_the_command_with_one_message_naming_the_restart(
        tmp_path, capsys, monkeypatch):
    config = tmp_path / "tiny.yaml"
    data = yaml.safe_load(Path("run/aquaplanet.yaml").read_text())
    data["resolution"]["truncation"] = 21
    data["time"]["step_minutes"] = 30
    data["output"].update(interval_hours=1, restart_interval_days=0)
    config.write_text(yaml.safe_dump(data))
    real_step = Model.step

    def step_then_terminate(model):
        real_step(model)
        if model.step_count == 3:
            signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(Model, "step", step_then_terminate)
    out = tmp_path / "out"
    rc = main(["run", str(config), "--days", "1", "--out", str(out), "--quiet"])
    assert rc == 128 + signal.SIGTERM
    err = capsys.readouterr().err.strip().splitlines()
    restart = out / "restart" / "restart_2000-01-01T013000.npz"
    assert len(err) == 1 and "SIGTERM" in err[0] and str(restart) in err[0], err
    assert load_restart(restart)[1]["step_count"] == 3
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
