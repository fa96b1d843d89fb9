"""``climnn diagnose SP_RUN --reference TEACHER_RUN``: the precipitation extremes of a
superparameterized run against the teacher's, on two 2-hour T21L8 runs from the same
supersaturated rest state (so that both rain at once) with a CRM of 4 x 16 km, 10 x 1.6 km:
both runs' 99th and 99.9th percentiles by band, and their ratios, in metrics.json."""

import json

import pytest
from test_sp_bench import TINY_CRM

from climnn.cli import main
from climnn.diagnostics.extremes import extremes_ratios

HOURS = 2
COMMON = ["--days", str(HOURS / 24), "--threads", "1", "--quiet"] + [
    arg for pair in ("resolution.truncation=21", "resolution.levels=8", "resolution.sigma=equal",
                     "time.step_minutes=30", "dynamics.diffusion.timescale_hours=4.8",
                     "output.interval_hours=0.5", "initial.temperature=285",
                     "initial.humidity=0.02") for arg in ("--set", pair)]


@pytest.fixture(scope="module")
def metrics(tmp_path_factory):
    out = tmp_path_factory.mktemp("extremes")
    crm = [arg for k, v in TINY_CRM.items()
           for arg in ("--set", f"physics.parameters.crm.{k}={v}")]
    assert main(["run", "run/aquaplanet_sp.yaml", "--out", str(out / "sp"), *COMMON,
                 *crm]) == 0
    assert main(["run", "run/aquaplanet.yaml", "--out", str(out / "teacher"), *COMMON]) == 0
    assert main(["diagnose", str(out / "sp"), "--reference", str(out / "teacher"),
                 "--years", str(HOURS / 24 / 360), "--out", str(out / "report")]) == 0
    return json.loads((out / "report" / "metrics.json").read_text())


def test_both_runs_percentiles_and_their_ratios_are_reported(metrics):
    for band in ("tropics", "midlatitudes"):
        for q in ("99", "99.9"):
            key = f"pr_p{q}_{band}_mm_day"
            # both rained (the first bin's edge is 1e-3 mm/day)
            assert metrics[key] > 1.0 and metrics[f"reference_{key}"] > 1.0
            assert metrics[f"{key}_to_reference"] == pytest.approx(
                metrics[key] / metrics[f"reference_{key}"], rel=1e-12)
        assert metrics[f"pr_p99.9_{band}_mm_day"] >= metrics[f"pr_p99_{band}_mm_day"]
    assert metrics["run"].endswith("sp") and metrics["reference"].endswith("teacher")


def test_ratios_skip_figures_the_reference_lacks_or_has_at_zero():
    run = {"pr_p99_tropics_mm_day": 30.0, "pr_p99_polar_mm_day": 2.0, "pr_p99.9_x": 1.0}
    reference = {"pr_p99_tropics_mm_day": 20.0, "pr_p99_polar_mm_day": 0.0}
    assert extremes_ratios(run, reference) == {"pr_p99_tropics_mm_day_to_reference": 1.5}
