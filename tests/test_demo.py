"""``climnn demo`` at its smallest: every stage runs on the package's configurations and
the report is written (the default demo is the same at ~10 minutes: README.md)."""

import json

import pytest

from climnn.cli import main
from climnn.demo.stages import DemoPlan, date, split_dates


def test_the_360_day_calendar_dates_and_the_split():
    assert date(0) == "2001-01-01" and date(100) == "2001-04-11" and date(360) == "2002-01-01"
    s = split_dates(DemoPlan(spinup_days=100, sample_days=40))
    assert s == {"TRAIN_START": "2001-04-11", "VALIDATION_START": "2001-05-09",
                 "TEST_START": "2001-05-15", "TEST_END": "2001-05-21"}
    assert split_dates(DemoPlan())["TEST_END"] == "2001-03-01"  # 60 days of samples
    tiny = split_dates(DemoPlan(spinup_days=4, sample_days=3))
    assert tiny["TRAIN_START"] < tiny["VALIDATION_START"] < tiny["TEST_START"] < tiny["TEST_END"]


def test_the_smallest_demo_runs_every_stage_and_writes_its_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--sample-days", "3", "--hybrid-days", "2",
                 "--epochs", "1"]) == 0
    printed = capsys.readouterr().out
    for number, stage in enumerate(("teacher run", "dataset", "statistics", "training",
                                    "evaluation", "export", "hybrid run", "report"), 1):
        assert f"[{number}/8] {stage}" in printed
    assert printed.rstrip().endswith(str(out / "report" / "report.html"))
    metrics = json.loads((out / "report" / "metrics.json").read_text())
    assert metrics["run_days"] == 2.0 and "ta_zonal_mean_rmse" in metrics
    assert "offline_r2_PRECT" in metrics  # the evaluation made it into the report
    # a second demo into the same directory is refused before anything is touched
    before = sorted(p.name for p in out.iterdir())
    assert main(["demo", "--out", str(out)]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before


@pytest.mark.parametrize("option, value, least", [("--spinup-days", "-1", 0),
                                                  ("--epochs", "0", 1)])
def test_lengths_below_their_least_are_refused(tmp_path, capsys, option, value, least):
    assert main(["demo", "--out", str(tmp_path / "d"), option, value]) == 2
    assert f"{option.lstrip('-')} must be >= {least}" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
