"""How a run ended, the drift of its global means and the verdict."""

import cftime
import numpy as np
import pytest
import xarray as xr

from climnn.diagnostics.run_stability import (
    drift_per_year,
    run_ending,
    stability_verdict,
)

START = "2026-01-01 00:00:00,000 INFO run abc: 480 steps of 1800 s from 2000-01-01"


def log(tmp_path, *lines):
    (tmp_path / "run.log").write_text("\n".join((START,) + lines) + "\n")
    return tmp_path


def test_the_ending_is_read_from_the_log(tmp_path):
    ok = "2026-01-01 00:10:00,000 INFO finished at 2000-01-11T00:00:00; 90 simulated years"
    assert run_ending(log(tmp_path, ok)).status == "finished"
    err = ("2026-01-01 00:10:00,000 ERROR physics scheme 'network' failed in step 7 "
           "(from model time 2000-01-01T03:30:00): T at column 3 (lat 1.86 deg)")
    ending = run_ending(log(tmp_path, ok, START, err))
    assert ending.status == "failed" and "step 7" in ending.message
    assert run_ending(log(tmp_path, ok, START)).status == "incomplete"
    stop = "2026-01-01 00:10:00,000 WARNING SIGTERM at 2000-01-02: writing a restart and stopping"
    assert run_ending(log(tmp_path, stop)).status == "interrupted"
    assert run_ending(tmp_path / "nowhere").status == "incomplete"


def series(days, slope_k_per_day):
    time = [cftime.Datetime360Day(2000, 1, 1) + np.timedelta64(d, "D").item()
            for d in range(days)]
    t = np.arange(days)
    return xr.Dataset({"ta": ("time", 250.0 + slope_k_per_day * t + 0.01 * np.sin(t)),
                       "hus": ("time", np.full(days, 0.01)),
                       "ps": ("time", np.full(days, 1e5))}, coords={"time": time})


def test_a_linear_trend_is_its_drift_per_calendar_year():
    d = drift_per_year(series(720, -1.0 / 360.0))
    assert d["ta_drift_k_per_year"] == pytest.approx(-1.0, rel=1e-3)
    assert d["hus_drift_percent_per_year"] == pytest.approx(0.0, abs=1e-9)


def test_the_verdicts():
    from climnn.diagnostics.run_stability import RunEnding

    done = RunEnding("finished", "finished at ...")
    assert stability_verdict(done, {"ta_drift_k_per_year": 0.1})[0] == "stable"
    verdict, why = stability_verdict(done, {"ta_drift_k_per_year": -0.8})
    assert verdict == "drifting" and "ta_drift_k_per_year = -0.8" in why
    assert stability_verdict(RunEnding("failed", "step 7"), {})[0] == "unstable"
    assert stability_verdict(RunEnding("incomplete", ""), {})[0] == "incomplete"
    # a short window: the slope times the window against SHORT_WINDOW_LIMITS
    verdict, why = stability_verdict(done, {"ta_drift_k_per_year": -0.8}, window_days=60.0)
    assert verdict == "stable" and "only the changes across the window" in why
    verdict, why = stability_verdict(done, {"ta_drift_k_per_year": 17.0}, window_days=40.0)
    assert verdict == "stable"  # 1.9 K across 40 days
    verdict, why = stability_verdict(done, {"ta_drift_k_per_year": 144.0,
                                            "hus_drift_percent_per_year": -30.0},
                                     window_days=40.0)
    assert verdict == "drifting" and "changed it by 16 across the 40 days" in why
    assert "hus" not in why  # -3.3 % across the window: within 20
