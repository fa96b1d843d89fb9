"""A start that fails leaves nothing behind: the run's files appear only when its first
step is about to be taken, so the corrected command runs in the same directory."""

import pytest

from climnn.cli import main
from gcm.model import Model
from gcm.simulation import Simulation


def test_a_run_length_that_is_not_whole_steps_writes_nothing(make_config, tmp_path):
    sim = Simulation(Model(make_config("rest", scheme="held_suarez")), tmp_path / "o",
                     progress=False)
    with pytest.raises(ValueError, match="whole number of 40-minute steps"):
        sim.run(0.01)
    assert not (tmp_path / "o").exists()
    sim.run(1.0 / 36)  # the corrected length, same simulation and directory
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "config.yaml", "history.zarr", "restart", "run.json", "run.log"]


def test_the_corrected_command_runs_in_the_same_directory(tmp_path, capsys):
    out = tmp_path / "o"
    args = ["run", "run/held_suarez.yaml", "--set", "resolution.truncation=21",
            "--set", "resolution.levels=5", "--set", "resolution.sigma=equal",
            "--out", str(out), "--quiet"]
    assert main([*args, "--days", "0.01"]) == 2
    assert "whole number" in capsys.readouterr().err
    assert not out.exists()
    assert main([*args, "--days", str(1 / 48)]) == 0
    assert (out / "run.json").exists()
