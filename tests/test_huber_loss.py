"""loss.kind huber: Huber's loss over delta (smooth L1) with delta a multiple of each output
entry's spread: its two branches, the constant it fits to a skewed sample (the median with
a small delta, the mean with a large one), and a training with it that learns."""

import numpy as np
import pytest
import torch
from test_training import small_config, store  # noqa: F401  (the module's store fixture)

from climnn.data.loader import ColumnDataset
from climnn.data.stats import load_statistics
from climnn.training.losses import build_loss, output_spread, smooth_l1
from climnn.training.trainer import train


def test_squares_within_delta_and_absolute_values_beyond():
    delta = torch.tensor([0.5, 2.0])
    prediction = torch.tensor([[0.2, 3.0], [-1.0, 1.0]])
    target = torch.zeros(2, 2)
    expected = [0.2**2 / (2 * 0.5), 3.0 - 1.0, 1.0 - 0.25, 1.0 / (2 * 2.0)]
    value = smooth_l1(delta, None, prediction, target)
    assert float(value) == pytest.approx(np.mean(expected), rel=1e-6)
    weighted = smooth_l1(delta, torch.tensor([2.0, 0.0]), prediction, target)
    assert float(weighted) == pytest.approx((2 * expected[0] + 2 * expected[2]) / 4, rel=1e-6)


@pytest.mark.parametrize("delta, fits", [(1e-3, "median"), (1e3, "mean")])
def test_the_constant_it_fits_moves_from_the_median_to_the_mean(delta, fits):
    """An exponential sample (mean 1, median ln 2): the best constant under the loss."""
    sample = torch.tensor(np.random.default_rng(0).exponential(1.0, 20000), dtype=torch.float64)
    c = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([c], lr=0.02)
    for _ in range(1500):
        optimizer.zero_grad()
        smooth_l1(torch.tensor([delta], dtype=torch.float64), None, c.expand(len(sample), 1),
                  sample[:, None]).backward()
        optimizer.step()
    expected = {"median": float(sample.median()), "mean": float(sample.mean())}[fits]
    assert float(c) == pytest.approx(expected, abs=0.02)


def test_delta_is_each_entry_s_spread(store):  # noqa: F811
    """delta = huber_delta x the normalized std of each entry in the store's statistics."""
    dataset = ColumnDataset(store, input_normalization="maxrs")
    layout = dataset.output_layout
    spread = output_spread(layout, load_statistics(store))
    assert spread.shape == (layout.size,) and np.all(spread >= 0) and spread.max() > 0
    config = small_config(loss={"kind": "huber", "huber_delta": 2.0}).loss
    loss = build_loss(config, (dataset.input_layout, layout), {}, None, spread)
    k = int(np.argmax(spread))
    error = torch.zeros(1, layout.size)
    error[0, k] = 3.0 * spread[k]  # beyond 2 std: |r| - delta / 2 = 2 std, over the entries
    assert float(loss(error, torch.zeros_like(error), None)) == pytest.approx(
        2.0 * spread[k] / layout.size, rel=1e-5)
    with pytest.raises(ValueError, match="huber' needs"):
        build_loss(config, (dataset.input_layout, layout), {})


def test_training_with_huber_learns_the_made_up_physics(store, tmp_path):  # noqa: F811
    """As the MSE recipe does (test_training): heating, moistening and precipitation to R²
    0.9 on the held-out times."""
    from test_training import held_out_r2

    config = small_config(loss={"kind": "huber"})
    train(config, store, tmp_path / "run", progress=False)
    r2 = held_out_r2(config, store, tmp_path / "run")[1]
    assert min(r2["TPHYSTND"], r2["PHQ"], r2["PRECT"]) > 0.9, r2
