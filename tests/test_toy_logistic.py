"""The logistic-map toy: the true map's known properties, the learned map's first period
doubling in the quick experiment, and ``climnn toy`` (files written, bad input)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from climnn.cli import main
from climnn.toy.logistic import (
    DOUBLINGS,
    R_CHAOS,
    IterationSettings,
    LogisticMap,
    attractor,
    periods,
    transitions,
)


def test_true_map_period_doublings_and_onset_of_chaos():
    """r = 3, 1 + sqrt(6), 3.5441 and the Feigenbaum point 3.5699, from iteration alone."""
    settings = IterationSettings(transient=100_000, keep=2000, spacing=1e-3, refine=101)
    found, coarse = transitions(LogisticMap, 2.9, 3.6, settings)
    for k, expected in enumerate(DOUBLINGS, start=1):
        assert found[f"period_doubling_{k}"] == pytest.approx(expected, abs=1e-3)
    assert found["chaos_onset"] == pytest.approx(R_CHAOS, abs=1e-3)
    assert coarse.points.shape == (2000, 701)


def test_true_map_lyapunov_exponent():
    """ln|2 - r| on the fixed point, half the log of the 2-cycle's multiplier |4 + 2r - r^2|
    on it, ln 2 at r = 4."""
    r = np.array([2.5, 2.9, 3.2, 4.0])
    lyapunov = attractor(LogisticMap, r, IterationSettings(transient=1000,
                                                            keep=200_000)).lyapunov
    expected = [math.log(0.5), math.log(0.9), 0.5 * math.log(abs(4 + 6.4 - 3.2 ** 2)),
                math.log(2.0)]
    np.testing.assert_allclose(lyapunov[:3], expected[:3], atol=1e-6)
    assert lyapunov[3] == pytest.approx(math.log(2.0), abs=1e-2)


def test_periods_of_orbits():
    """Period 1, 2 and 4 orbits of the true map, a chaotic one (0) and an escaped one (-1)."""
    r = np.array([2.8, 3.2, 3.5, 3.9, 4.5])
    orbits = attractor(LogisticMap, r, IterationSettings(transient=5000, keep=500))
    assert periods(orbits.points, 1e-6, 64).tolist() == [1, 2, 4, 0, -1]
    assert np.isnan(orbits.lyapunov[4])


def test_network_slope_is_the_derivative():
    """The slope autograd gives along an orbit is d net / d x (central differences)."""
    from climnn.toy.logistic_network import NetworkMap, NetworkSettings, ParameterNetwork

    mapping = NetworkMap(ParameterNetwork(NetworkSettings(activation="gelu")))
    x, r, h = np.linspace(0.05, 0.95, 7), np.linspace(2.6, 3.9, 7), 1e-6
    _, slope = mapping.step_and_slope(x, r)
    finite = (mapping.step(x + h, r) - mapping.step(x - h, r)) / (2 * h)
    np.testing.assert_allclose(slope, finite, rtol=1e-6, atol=1e-9)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy") / "logistic"
    assert main(["toy", "logistic", "--out", str(out), "--quick"]) == 0
    return out


def test_quick_experiment_writes_its_files(quick_run):
    names = sorted(p.name for p in quick_run.iterdir())
    assert names == ["bifurcation.png", "lyapunov.png", "metrics.json", "return_maps.png"]
    for name in (n for n in names if n.endswith(".png")):
        assert (quick_run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((quick_run / "metrics.json").read_text())
    assert metrics["toy"] == "logistic" and metrics["quick"] is True
    assert set(metrics["maps"]) == {"true", "r_network", "no_r_network", "return_map_line"}


def test_learned_map_doubles_its_period_near_three(quick_run):
    """The r network, trained on r < 3.4, doubles its period within 0.03 of r = 3; the
    network without r cannot: one attractor for every r (no doubling at all)."""
    maps = json.loads((quick_run / "metrics.json").read_text())["maps"]
    assert maps["r_network"]["period_doubling_1"] == pytest.approx(3.0, abs=0.03)
    assert maps["no_r_network"]["period_doubling_1"] is None


def test_rerun_into_its_own_output_is_allowed(quick_run):
    from climnn.toy.command import check_toy_out

    check_toy_out(quick_run, "logistic")  # its own earlier output: replaced, not refused


@pytest.mark.parametrize("argv, names", [
    (["toy", "nope", "--out", "{tmp}/x"], ["invalid choice: 'nope'", "logistic"]),
    (["toy"], ["toy", "required", "NAME"]),
    (["toy", "logistic", "--out", "{tmp}/afile"], ["--out", "afile", "existing file"]),
    (["toy", "logistic", "--out", "{tmp}/afile/sub"], ["--out", "afile", "not a directory"]),
    (["toy", "logistic", "--out", "{tmp}/other"], ["--out", "other", "not empty"]),
    (["toy", "logistic", "--out", "{tmp}/x", "--seed", "-1"], ["--seed -1"]),
])
def test_bad_input_is_one_clear_message(tmp_path, capsys, argv, names):
    (tmp_path / "afile").write_text("a file\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("someone's\n")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("climnn: error: toy")
    for name in names:
        assert name in err[0]
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "other" / "keep.txt").read_text() == "someone's\n"
