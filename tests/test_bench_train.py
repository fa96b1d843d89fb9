"""``climnn bench train`` at tiny sizes: every figure present, positive and finite, and each
ratio what its definition says (the figures themselves are timings: not checked)."""

import json
import math

import pytest

from climnn.bench import format_table
from climnn.bench.train import Sizes, alternating_blocks, run

TINY = Sizes(steps=12, nlat=4, nlon=8, levels=5, blocks=2, train_steps=2, forward_batch=64,
             forward_repeats=1)
FIGURES = {"loader_samples_per_s", "raw_read_samples_per_s", "loader_to_raw_ratio",
           "train_samples_per_s", "train_epoch_samples_per_s", "flops_per_sample",
           "forward_samples_per_s", "forward_gflops", "gemm_gflops", "forward_to_gemm_ratio",
           "forward_samples_per_s_bf16", "forward_gflops_bf16", "gemm_gflops_bf16",
           "forward_to_gemm_ratio_bf16"}


@pytest.fixture(scope="module")
def figures():
    return run(sizes=TINY)


def test_every_figure_is_a_positive_finite_number(figures):
    assert set(figures) == FIGURES | {"machine"}
    for name in FIGURES:
        assert isinstance(figures[name], float), name
        assert math.isfinite(figures[name]) and figures[name] > 0, name
    assert figures["machine"]["torch_threads"] == 2
    assert json.loads(json.dumps(figures)) == figures  # --json prints it as it is
    assert "forward_to_gemm_ratio_bf16" in format_table("train", figures)


def test_ratios_are_their_definitions(figures):
    f = figures
    assert f["loader_to_raw_ratio"] == pytest.approx(
        f["loader_samples_per_s"] / f["raw_read_samples_per_s"], rel=1e-12)
    # 5 levels: 4 profiles and 4 scalars in, 2 profiles and 5 scalars out, 9 x 256 hidden
    n_in, n_out = 4 * 5 + 4, 2 * 5 + 5
    assert f["flops_per_sample"] == 2 * (n_in * 256 + 8 * 256 * 256 + 256 * n_out)
    for suffix in ("", "_bf16"):
        achieved = f["flops_per_sample"] * f["forward_samples_per_s" + suffix] / 1e9
        assert f["forward_gflops" + suffix] == pytest.approx(achieved, rel=1e-12)
        assert f["forward_to_gemm_ratio" + suffix] == pytest.approx(
            achieved / f["gemm_gflops" + suffix], rel=1e-12)


def test_alternating_blocks_take_turns_and_drop_the_warm_up():
    calls = []
    seconds = alternating_blocks({"a": lambda: calls.append("a"),
                                  "b": lambda: calls.append("b")}, blocks=3, repeats=2)
    assert calls == ["a", "a", "b", "b"] * 4  # a warm-up round, then three
    assert [len(v) for v in seconds.values()] == [3, 3]
    assert all(s >= 0 for v in seconds.values() for s in v)
