"""Runs with files: restarts, output as the run goes, the command line and bad input."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from climnn.cli import main
from gcm.io.history import open_history
from gcm.io.restart import load_restart
from gcm.model import Model, ModelBlowUpError
from gcm.simulation import OUTPUT_INTERVAL, Simulation


def tree_digest(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_restart_is_bitwise_identical(make_config, tmp_path):
    cfg = make_config("rest", scheme="held_suarez", perturbation=1.0, levels=5)
    straight = Simulation(Model(cfg), tmp_path / "straight", progress=False)
    straight.run(4)
    half = Simulation(Model(cfg), tmp_path / "halves", progress=False)
    half.run(2)
    resumed = Simulation.from_restart(half.last_restart, progress=False)
    resumed.run(2)
    a, b = straight.model, resumed.model
    assert a.step_count == b.step_count
    for level in ("now", "old"):
        for name, x in getattr(a, level).arrays().items():
            y = getattr(b, level).arrays()[name]
            assert np.array_equal(x, y), f"{level}/{name} differs after restart"
    h1, h2 = open_history(tmp_path / "straight"), open_history(tmp_path / "halves")
    assert h1.sizes["time"] == h2.sizes["time"] == 5
    assert np.array_equal(h1["ta"].values, h2["ta"].values)


def test_python_api_returns_a_dataset(make_config):
    ds = Simulation(Model(make_config("rest", scheme="held_suarez", perturbation=1.0))).run(2)
    assert ds.sizes["time"] == 3
    assert ds["ta"].attrs["standard_name"] == "air_temperature"
    assert ds["lev"].attrs["standard_name"] == "atmosphere_sigma_coordinate"
    assert np.isfinite(ds["ua"].values).all()


def test_nan_in_state_stops_the_run_and_keeps_output(make_config, tmp_path):
    sim = Simulation(Model(make_config("rest", scheme="held_suarez")), tmp_path / "run",
                     progress=False)
    sim.run(2)
    written = open_history(tmp_path / "run")["ta"].values.copy()
    sim.model.now.temperature[0, 3, 2] = np.nan
    with pytest.raises(ModelBlowUpError, match="temperature|log_surface_pressure"):
        sim.run(2)
    kept = open_history(tmp_path / "run")["ta"].values
    assert np.array_equal(kept[: written.shape[0]], written)


def test_blow_up_message_gives_the_courant_number(make_config):
    """Solid-body rotation u = U cos(lat): the advective Courant number is U dt T / a
    at every latitude; the blow-up message reports it."""
    wind, minutes = 40.0, 30.0
    model = Model(make_config("solid_body", scheme="held_suarez", wind=wind,
                              step_minutes=minutes))
    model.step()
    model.step()
    expected = wind * minutes * 60.0 * 21 / 6.371e6
    assert abs(model.blow_up.courant[-1] / expected - 1.0) < 0.05
    model.now.temperature[0, 3, 2] = np.nan
    with pytest.raises(ModelBlowUpError, match=f"Courant number .* reached {expected:.2f}"):
        model.step()
        model.check_finite()


def write_config(tmp_path, **changes) -> Path:
    data = yaml.safe_load(Path("run/held_suarez.yaml").read_text())
    data["resolution"].update(truncation=21, levels=5, sigma="equal")
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split(".")
        for name in parents:
            node = node.setdefault(name, {})
        node[last] = value
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"dynamics.difusion": {"order": 8}}, "unknown key 'dynamics.difusion'"),
        ({"resolution.truncation": 30}, "resolution.truncation = 30: allowed: one of T21,"),
        ({"time.step_minutes": "thirty"}, "time.step_minutes = 'thirty': expected a number"),
    ],
)
def test_bad_config_ends_with_one_clear_message(tmp_path, capsys, changes, message):
    path = write_config(tmp_path, **changes)
    assert main(["run", str(path), "--days", "1", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and str(path) in err[0]
    assert not (tmp_path / "o").exists()


def test_output_directory_of_another_run_is_left_untouched(tmp_path, capsys):
    path = write_config(tmp_path)
    out = tmp_path / "o"
    assert main(["run", str(path), "--days", "1", "--out", str(out), "--quiet"]) == 0
    before = tree_digest(out)
    assert main(["run", str(path), "--days", "1", "--out", str(out), "--quiet"]) == 2
    assert "already holds run" in capsys.readouterr().err
    assert tree_digest(out) == before


def test_cli_restart_continues_the_run(tmp_path, capsys):
    path = write_config(tmp_path, **{"output.format": "netcdf"})
    out = tmp_path / "o"
    assert main(["run", str(path), "--days", "1", "--out", str(out), "--quiet"]) == 0
    restart = next((out / "restart").glob("restart_*.npz"))
    assert main(["run", "--restart", str(restart), "--days", "1", "--quiet"]) == 0
    history = open_history(out)
    assert history.sizes["time"] == 3
    assert [t.day for t in history["time"].values] == [1, 2, 3]


def test_missing_config_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: configuration file not found" in capsys.readouterr().err


class StepRecorder:
    """A callback that notes the step counts it was called at."""

    def __init__(self):
        self.steps = []

    def __call__(self, sim):
        self.steps.append(sim.model.step_count)


def test_callbacks_run_on_their_schedule(make_config):
    cfg = make_config("rest", scheme="held_suarez", levels=5)  # 40-min steps: 36 a day
    sim = Simulation(Model(cfg), progress=False, interval_hours=4.0)  # output every 6 steps
    every3, daily, at_end = StepRecorder(), StepRecorder(), StepRecorder()
    sim.add_callback(every3, every=3, name="every3")
    sim.add_callback(daily, every=OUTPUT_INTERVAL, name="output")
    sim.add_callback(at_end, every=5, at_end=True, name="end")
    ds = sim.run_steps(14)
    assert every3.steps == [3, 6, 9, 12]
    assert daily.steps == [6, 12]
    assert at_end.steps == [5, 10, 14]
    assert ds.sizes["time"] == 3  # the initial snapshot and steps 6, 12
    sim.run_steps(1)  # at the end of this run too; schedules follow the step count
    assert at_end.steps[-1] == 15 and every3.steps[-1] == 15


def test_bad_callbacks_are_refused(make_config):
    sim = Simulation(Model(make_config("rest", scheme="held_suarez", levels=5)),
                     progress=False)
    with pytest.raises(ValueError, match="every=0"):
        sim.add_callback(StepRecorder(), every=0, name="x")
    sim.add_callback(StepRecorder(), name="x")
    with pytest.raises(ValueError, match="named 'x' is already added"):
        sim.add_callback(StepRecorder(), name="x")
    # unnamed ones are told apart
    names = [sim.add_callback(lambda s: None).name for _ in range(2)]
    assert names == ["<lambda>", "<lambda>_2"]


class RunningSum:
    """A stateful callback: the running sum of a temperature coefficient every step."""

    name = "running_sum"

    def __init__(self):
        self.total = np.zeros(1)

    def __call__(self, sim):
        self.total += sim.model.now.temperature[0, 1, 1].real

    def state_arrays(self):
        return {"total": self.total}

    def load_state_arrays(self, arrays):
        self.total = np.array(arrays["total"])


def test_callback_state_restarts_bitwise(make_config, tmp_path):
    cfg = make_config("rest", scheme="held_suarez", perturbation=1.0, levels=5)
    straight = Simulation(Model(cfg), tmp_path / "straight", progress=False)
    straight_sum = straight.add_callback(RunningSum()).action
    straight.run(2)
    half = Simulation(Model(cfg), tmp_path / "halves", progress=False)
    half.add_callback(RunningSum())
    half.run(1)
    arrays, _ = load_restart(half.last_restart)
    assert set(arrays) >= {"callback/running_sum/total", "now/temperature"}
    resumed = Simulation.from_restart(half.last_restart, progress=False)
    resumed_sum = resumed.add_callback(RunningSum()).action  # state loaded on adding
    assert resumed_sum.total[0] != 0.0
    resumed.run(1)
    assert straight_sum.total.tobytes() == resumed_sum.total.tobytes()


def test_bad_callback_state_in_a_restart_names_the_file(make_config, tmp_path):
    cfg = make_config("rest", scheme="held_suarez", levels=5)
    sim = Simulation(Model(cfg), tmp_path / "run", progress=False)
    sim.add_callback(RunningSum())
    sim.run(1)

    class Stateless:
        name = "running_sum"

        def __call__(self, sim):
            pass

    resumed = Simulation.from_restart(sim.last_restart, progress=False)
    with pytest.raises(ValueError, match=f"{sim.last_restart}: callback 'running_sum': .* "
                                         "has no load_state_arrays"):
        resumed.add_callback(Stateless())
