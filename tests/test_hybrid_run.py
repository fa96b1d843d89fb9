"""The shipped hybrid models out of the box: run/hybrid.yaml (T31) and run/hybrid_t42.yaml
with their shipped networks and states run and keep their books, and the hybrid bench
gives its figures."""

import dataclasses

import numpy as np
import pytest

pytest.importorskip("torch")

from climnn.cli import main  # noqa: E402
from gcm.io.history import open_history  # noqa: E402


@pytest.fixture(scope="module", params=["run/hybrid.yaml", "run/hybrid_t42.yaml"])
def hybrid_day(tmp_path_factory, request):
    out = tmp_path_factory.mktemp("hybrid") / "run"
    assert main(["run", request.param, "--days", "1", "--quiet", "--out", str(out)]) == 0
    return out


def test_the_shipped_hybrid_runs_a_day_with_its_books_kept(hybrid_day):
    ds = open_history(hybrid_day).load()
    assert ds.sizes["time"] == 2 and np.isfinite(ds["ta"]).all()
    # a day after the teacher's spun-up state: a developed climate, not a rest state
    assert 2.0 < float(ds["pr"][1].mean()) * 86400 < 6.0  # mm/day (teacher: ~3.5)
    assert 150.0 < float(ds["ta"].min()) and float(ds["ta"].max()) < 320.0
    # the coupler's books: residuals before the fixes, the fixes, in the history
    assert ds["coupler_energy_fix"].attrs["units"] == "W m-2"
    assert 0.0 < float(ds["coupler_energy_residual"][1]) < 100.0  # W m-2, |residual|
    # enforce: the physics closes both budgets to round-off in every column
    assert float(ds["physics_energy_residual"][1]) < 1e-9
    assert float(ds["physics_water_residual"][1]) < 1e-15
    assert "physics network" in ds.attrs["source"]


def test_the_hybrid_bench_gives_its_figures(monkeypatch):
    from climnn.bench import hybrid

    # a small grid from rest with the T31 networks: figures, not speed
    small = dataclasses.replace(hybrid.SETUPS[1], truncation=21, state=None)
    monkeypatch.setattr(hybrid, "SETUPS", (small,))
    figures = hybrid.run(quick=True)
    for key in ("sypd_teacher_T21_2threads", "sypd_hybrid_T21_2threads",
                "sypd_hybrid_float32_T21_2threads", "sypd_hybrid_bfloat16_T21_2threads",
                "hybrid_to_teacher_sypd_ratio", "network_share", "coupler_overhead",
                "step_s_torch_threads_1", "step_s_torch_threads_2"):
        assert np.isfinite(figures[key]) and figures[key] > 0, key
    assert 0.0 < figures["network_share"] < 1.0
    assert figures["shipped_precision"] in ("float32", "bfloat16")
