"""The SP -> dataset -> train -> hybrid recipe of run/README.md ("The SP recipe"), end to
end with its own commands on a small scale: the SP aquaplanet at T21L25 with a CRM of 4 x 16
km and 10 x 1.6 km from the T21 teacher's state, generated with its history in two commands
(3 hours, the state kept, then extended to 6 hours); the diagnostics of that run;
statistics over the training period; run/train_sp.yaml for one epoch (split into these
hours); the export; 1 hour of run/hybrid_sp.yaml from the kept state. Slow (a minute or
more): run with -m slow."""

import re

import numpy as np
import pytest
from test_sp_bench import TINY_CRM

from climnn.cli import main
from gcm.io.history import open_history

pytestmark = pytest.mark.slow
RUN = "run"  # the repository's run/ (pytest runs from the repository root)
SP_SETTINGS = [f"physics.parameters.crm.{k}={v}" for k, v in TINY_CRM.items()]


def sets(*pairs: str) -> list[str]:
    return [arg for pair in pairs for arg in ("--set", pair)]


def test_the_sp_recipe_runs_end_to_end(tmp_path):
    store, train, network = (tmp_path / n for n in ("sp.zarr", "train", "net.pt"))
    generation = ["generate", f"{RUN}/aquaplanet_sp.yaml", "--out", str(store), "--every", "1",
                  "--history", "--checkpoint-every", "2", "--quiet", *sets(
                      "threads=1", "initial.kind=restart",
                      "initial.file=climnn/demo/teacher_t21_state.npz",
                      "time.start=2001-01-01", "output.interval_hours=1",
                      "output.restart_interval_days=0.125", *SP_SETTINGS)]
    assert main([*generation, "--days", "0.125"]) == 0
    restart = tmp_path / "sp_day0.125.npz"  # the recipe's cp of day 20's state
    restart.write_bytes((tmp_path / "sp.zarr.generate" / "restart.npz").read_bytes())
    assert main([*generation, "--days", "0.25"]) == 0
    run_dir = tmp_path / "sp.zarr.generate"
    assert open_history(run_dir).sizes["time"] == 7  # hours 0 ... 6
    assert main(["diagnose", str(run_dir), "--years", str(0.125 / 360),
                 "--out", str(tmp_path / "diagnosis")]) == 0
    # samples at 00:30, 01:00, ... 06:00; of 03:00 ... 05:00 three train, one each
    # validates and tests
    assert main(["stats", str(store), "--period", "2001-01-01T03:00:00",
                 "2001-01-01T04:30:00"]) == 0
    config = tmp_path / "train_sp.yaml"
    text = open(f"{RUN}/train_sp.yaml").read()
    for part, (lo, hi) in {"train": ("03:00", "04:30"), "validation": ("04:30", "05:00"),
                           "test": ("05:00", "05:30")}.items():
        text = re.sub(rf"^  {part}: .*$", f'  {part}: ["2001-01-01T{lo}:00", '
                      f'"2001-01-01T{hi}:00"]', text, flags=re.M)
    config.write_text(text)
    assert main(["train", str(config), "--data", str(store), "--out", str(train),
                 "--epochs", "1"]) == 0
    assert main(["export", str(train), "--out", str(network), "--no-pt2"]) == 0
    hybrid = tmp_path / "hybrid"
    assert main(["run", f"{RUN}/hybrid_sp.yaml", "--out", str(hybrid), "--days",
                 str(1 / 24), "--threads", "1", "--quiet", *sets(
                     f"physics.parameters.model={network}", f"initial.file={restart}",
                     "time.start=2001-01-01T03:00:00", "output.interval_hours=1")]) == 0
    ds = open_history(hybrid)
    assert "physics network" in ds.attrs["source"]
    assert np.isfinite(ds["ta"].values).all()
