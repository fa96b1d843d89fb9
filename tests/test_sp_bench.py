"""``climnn bench sp``'s SP figures (climnn.bench.sp_cost) on T21 with a tiny CRM: the SP,
teacher and hybrid step times are positive and consistent with the ratios and the seconds
a day they report, the SP step's split adds up to it, and the hybrid's network is the
random-weight stand-in the JSON names."""

from dataclasses import replace

import numpy as np
import pytest

from climnn.bench import sp_cost

#: a CRM of 4 x 16 km, 10 x 1.6 km, 60-s steps (30 a GCM step): seconds at T21, and stable
#: in the teacher's jets (4 km at 60 s is not: u reaches 125 m/s aloft)
TINY_CRM = {"nx": 4, "dx": 16000.0, "nz": 10, "dz": 1600.0, "dt": 60.0}
TINY_OVERRIDES = tuple((f"physics.parameters.crm.{k}", v) for k, v in TINY_CRM.items())


@pytest.fixture(scope="module")
def figures():
    case = replace(sp_cost.SP_CASE_QUICK, overrides=TINY_OVERRIDES, rounds=2, block=2)
    return sp_cost.sp_cost_figures(case)


def test_the_step_times_are_positive_and_the_ratios_are_their_quotients(figures):
    for name in ("sp", "teacher", "hybrid"):
        step = figures[f"{name}_step_s_T21"]
        assert np.isfinite(step) and step > 0.0
        assert figures[f"{name}_seconds_per_day_T21"] == pytest.approx(48 * step, rel=1e-12)
    assert figures["sp_to_hybrid_cost_ratio"] == pytest.approx(
        figures["sp_step_s_T21"] / figures["hybrid_step_s_T21"], rel=1e-12)
    assert figures["sp_to_teacher_cost_ratio"] == pytest.approx(
        figures["sp_step_s_T21"] / figures["teacher_step_s_T21"], rel=1e-12)
    # a CRM in each of 2048 columns costs more than the teacher's or the network's column
    assert figures["sp_to_hybrid_cost_ratio"] > 1.0


def test_the_sp_split_adds_up_to_the_step(figures):
    parts = [figures[f"sp_step_s_{part}_T21"] for part in
             ("crm_dynamics", "microphysics", "crm_surface_fluxes", "forcing", "rest")]
    assert min(parts) > 0.0
    # the timer's step section against the wall clock around model.step(): the same steps
    assert sum(parts) == pytest.approx(figures["sp_step_s_T21"], rel=0.05)
    assert figures["sp_step_s_crm_dynamics_T21"] > figures["sp_step_s_forcing_T21"]


def test_the_hybrid_network_is_a_random_stand_in_and_says_so(figures, tmp_path):
    assert "random weights" in figures["hybrid_network"]
    assert "no trained T21 network" in figures["hybrid_network"]
    assert figures["sp_crm"] == "4 x 16 km, 10 x 1600 m, dt 60 s, ab3"
    import climnn
    from climnn.export import read_metadata

    path, _ = sp_cost.random_network(tmp_path / "net.pt")
    meta = read_metadata(path)
    shipped = read_metadata(climnn.repository_file("run/models/hybrid_seed_bf16.pt"))
    assert meta["training"] == {"random_weights": True, "seed": 0}
    for key in ("inputs", "outputs", "vertical", "precision", "layers"):
        assert meta[key] == shipped[key], key
    assert meta["levels"] == 25 and meta["data"]["timestep_seconds"] == 1800.0
