"""Runs with files: restarts, output as the run goes, the command line and bad input."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from climnn.cli import main
from gcm.io.history import open_history
from gcm.model import Model, ModelBlowUpError
from gcm.simulation import Simulation


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
    ds = Model(make_config("rest", scheme="held_suarez", perturbation=1.0)).run(days=2)
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
        ({"resolution.truncation": 30}, "unsupported truncation T30"),
        ({"time.step_minutes": "thirty"}, "time.step_minutes: expected float"),
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
