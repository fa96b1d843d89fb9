"""The penalty on growing 2-dsigma vertical modes (loss.zigzag_weight): its growth rates
against a linear network's known ones at every level, the penalty's size and gradient,
masked levels, and training with it: a lower growth rate learned, a clear message when T,
Q or their tendencies are not in the data."""

import numpy as np
import pytest
import torch
from test_training import small_config, store  # noqa: F401  (the module's store fixture)

from climnn.data.loader import ColumnDataset, VectorLayout
from climnn.training.trainer import BEST, train
from climnn.training.vertical_modes import ZigzagPenalty, zigzag_growth

NLEV = 6
DAY = 86400.0


def layouts(t_factor, masked=()):
    """Inputs T, Q, PS and outputs TPHYSTND, PHQ, PRECT with made-up normalizations."""
    t = np.full(NLEV, t_factor)
    t[list(masked)] = 0.0
    inputs = VectorLayout(("T", "Q", "PS"), (NLEV, NLEV, 1), ("K", "kg/kg", "Pa"),
                          np.r_[np.full(NLEV, 250.0), np.full(NLEV, 5e-3), 1e5],
                          np.r_[t, np.full(NLEV, 300.0), 1e-4])
    outputs = VectorLayout(("TPHYSTND", "PHQ", "PRECT"), (NLEV, NLEV, 1),
                           ("K/s", "kg/kg/s", "kg/m2/s"), np.zeros(2 * NLEV + 1),
                           np.r_[np.full(NLEV, 1004.0), np.full(NLEV, 2.5e6), 1e3])
    return inputs, outputs


def linear_network(inputs, outputs, heating_rate, moistening_rate):
    """A network whose physical heating is ``heating_rate`` x T and moistening
    ``moistening_rate`` x q (1/s), level by level, on normalized vectors."""
    net = torch.nn.Linear(inputs.size, outputs.size).double()
    with torch.no_grad():
        net.weight.zero_()
        net.bias.zero_()
        for name, out, rate in (("T", "TPHYSTND", heating_rate), ("Q", "PHQ", moistening_rate)):
            i, o = inputs.slices[name], outputs.slices[out]
            shown = inputs.factor[i] != 0
            inverse = np.divide(1.0, inputs.factor[i], out=np.zeros(NLEV), where=shown)
            diagonal = rate * outputs.factor[o] * inverse
            net.weight[o, i] = torch.tensor(np.diag(diagonal))
    return net


def columns(inputs, n=40, seed=0):
    rng = np.random.default_rng(seed)
    physical = np.c_[rng.uniform(200, 300, (n, NLEV)), rng.uniform(1e-4, 2e-2, (n, NLEV)),
                     rng.uniform(9e4, 1e5, (n, 1))]
    return torch.tensor(inputs.normalize(physical))


@pytest.mark.parametrize("heating, moistening", [(2.0 / DAY, -0.5 / DAY), (-1.0 / DAY, 3.0 / DAY)])
def test_growth_rates_are_a_linear_networks_rates(heating, moistening):
    """A network heating by c x T grows a T bump at any level at c (and q ones at its
    moistening rate d): the growth rates are c and d in 1/day in every column and at every
    level, to round-off; the
    penalty is weight x (relu(c) + relu(d)) per day. (The layouts' factors are held in
    float32, as in training: round-off 1e-7.)"""
    inputs, outputs = layouts(0.02)
    net = linear_network(inputs, outputs, heating, moistening)
    z = columns(inputs)
    rates = zigzag_growth(net, z, inputs, outputs, temperature=0.7, humidity=0.1)
    np.testing.assert_allclose(rates["T"].numpy(), heating * DAY, rtol=1e-6)
    np.testing.assert_allclose(rates["Q"].numpy(), moistening * DAY, rtol=1e-6)
    penalty = ZigzagPenalty(inputs, outputs, 0.3, 0.7, 0.1).double()
    prediction, value = penalty(net, z)
    torch.testing.assert_close(prediction, net(z), rtol=0, atol=0)
    expected = 0.3 * (max(heating, 0) + max(moistening, 0)) * DAY
    assert float(value.detach()) == pytest.approx(expected, rel=1e-6)


def test_bumps_are_a_level_against_its_neighbours_and_skip_masked_levels():
    """Levels the network does not see (factor 0) get no bump and no entry of one; the
    growth there is NaN, and a linear network's rate is found at every seen level."""
    inputs, outputs = layouts(0.02, masked=(0, 1))
    penalty = ZigzagPenalty(inputs, outputs, 1.0, 0.5, 0.05)
    bumps = penalty.bumps_T.numpy()
    assert bumps.shape == (NLEV - 2, NLEV)
    np.testing.assert_array_equal(bumps[:, :2], 0.0)
    np.testing.assert_array_equal(bumps[0], [0, 0, 1, -0.5, 0, 0])
    np.testing.assert_array_equal(bumps[-1], [0, 0, 0, 0, -0.5, 1])
    net = linear_network(inputs, outputs, 1.0 / DAY, 0.0)
    rates = zigzag_growth(net, columns(inputs), inputs, outputs)
    assert torch.isnan(rates["T"][:, :2]).all()
    np.testing.assert_allclose(rates["T"][:, 2:].numpy(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(rates["Q"].numpy(), 0.0, atol=1e-9)


def test_a_level_s_own_feedback_is_found_at_that_level():
    """A network that heats level 3 by its T against its neighbours' mean (a local
    feedback, 1/day) grows the bump at level 3 and damps none elsewhere faster than it."""
    inputs, outputs = layouts(0.02)
    net = torch.nn.Linear(inputs.size, outputs.size).double()
    with torch.no_grad():
        net.weight.zero_()
        net.bias.zero_()
        t, h = inputs.slices["T"], outputs.slices["TPHYSTND"]
        rate = outputs.factor[h.start + 3] / inputs.factor[t.start + 3] / DAY
        net.weight[h.start + 3, t.start + 2: t.start + 5] = torch.tensor([-0.5, 1.0, -0.5]) * rate
    rates = zigzag_growth(net, columns(inputs), inputs, outputs)["T"].numpy()
    # bump at 3: heating 1.5 r at level 3 against |b|^2 = 1.5: r; at 2 or 4: -r there
    # against the bump's -1/2: r / 3; elsewhere the bump does not reach level 3's row
    np.testing.assert_allclose(rates[:, 3], 1.0, rtol=1e-6)
    assert np.all(rates[:, [0, 1, 5]] == pytest.approx(0.0, abs=1e-9))
    np.testing.assert_allclose(rates[:, [2, 4]], 1.0 / 3.0, rtol=1e-6)


def test_humidity_zero_penalizes_temperature_bumps_alone():
    """zigzag_humidity 0: only T's bumps (a network growing q bumps costs nothing), and the
    network needs no Q or PHQ."""
    inputs, outputs = layouts(0.02)
    net = linear_network(inputs, outputs, -1.0 / DAY, 2.0 / DAY)
    z = columns(inputs)
    assert float(ZigzagPenalty(inputs, outputs, 1.0, 0.5, 0.05)(net, z)[1]) > 1.9
    assert float(ZigzagPenalty(inputs, outputs, 1.0, 0.5, 0.0)(net, z)[1]) == 0.0
    only_t = VectorLayout(("T", "PS"), (NLEV, 1), ("K", "Pa"), np.zeros(NLEV + 1),
                          np.ones(NLEV + 1))
    ZigzagPenalty(only_t, outputs, 1.0, 0.5, 0.0)  # no Q needed
    with pytest.raises(ValueError, match=r"\['Q'\] are not there"):
        ZigzagPenalty(only_t, outputs, 1.0, 0.5, 0.05)


def test_no_seen_level_is_named():
    inputs, outputs = layouts(0.02, masked=range(NLEV))
    with pytest.raises(ValueError, match="sees no level of T"):
        ZigzagPenalty(inputs, outputs, 1.0, 0.5, 0.05)


def test_missing_variables_are_named():
    inputs = VectorLayout(("T", "PS"), (NLEV, 1), ("K", "Pa"), np.zeros(NLEV + 1),
                          np.ones(NLEV + 1))
    outputs = layouts(0.02)[1]
    with pytest.raises(ValueError, match=r"zigzag_weight needs .*\['Q'\] are not there"):
        ZigzagPenalty(inputs, outputs, 1.0, 0.5, 0.05)


def test_the_penalty_s_gradient_removes_growth():
    """Gradient steps on the penalty alone take a linear network's growth rate from +2/day
    to about zero, and leave a damping network (-1/day) as it is (no gradient)."""
    inputs, outputs = layouts(0.02)
    z = columns(inputs)
    for start, moves in ((2.0, True), (-1.0, False)):
        net = linear_network(inputs, outputs, start / DAY, start / DAY).float()
        before = net.weight.detach().clone()
        penalty = ZigzagPenalty(inputs, outputs, 1.0, 0.5, 0.05)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
        for _ in range(200):
            optimizer.zero_grad()
            penalty(net, z.float())[1].backward()
            optimizer.step()
        rates = zigzag_growth(net, z.float(), inputs, outputs)
        if moves:
            assert float(rates["T"].max()) < 0.05 and float(rates["Q"].max()) < 0.05, rates
        else:
            torch.testing.assert_close(net.weight.detach(), before, rtol=0, atol=0)


def growing_store(store, folder):  # noqa: F811
    """A copy of the synthetic store whose heating amplifies T: +(T - 250 K) / 1 day."""
    import shutil

    import zarr

    from climnn.data import compute_statistics

    path = folder / "growing.zarr"
    shutil.copytree(store, path)
    group = zarr.open_group(path, mode="r+")
    group["TPHYSTND"][...] = (group["T"][...] - 250.0) / DAY
    compute_statistics(path)
    return path


def mean_growth(out, store, config):  # noqa: F811
    """Mean positive growth rate (1/day, T and q summed) of the best network in ``out``
    over every column of ``store``."""
    from climnn.models import build_model

    dataset = ColumnDataset(store, batch_size=10**6, shuffle=False, input_normalization="maxrs")
    (x, _), = list(dataset)
    net = build_model(config.model, dataset.input_layout, dataset.output_layout)
    net.load_state_dict(torch.load(out / BEST, weights_only=False)["model"])
    rates = zigzag_growth(net.eval(), x, dataset.input_layout, dataset.output_layout)
    return float(torch.relu(rates["T"]).nanmean() + torch.relu(rates["Q"]).nanmean())


def test_training_with_the_penalty_learns_lower_growth(store, tmp_path):  # noqa: F811
    """On data whose heating amplifies T (so zig-zags grow +1/day), same seed and steps:
    the network trained with zigzag_weight grows zig-zags far less than the one without."""
    data = growing_store(store, tmp_path)
    growth = {}
    for name, weight in (("plain", 0.0), ("penalized", 1.0)):
        config = small_config(loss={"zigzag_weight": weight}, optimizer={"epochs": 3})
        train(config, data, tmp_path / name, progress=False)
        growth[name] = mean_growth(tmp_path / name, data, config)
    assert growth["plain"] > 0.3, growth
    assert growth["penalized"] < 0.3 * growth["plain"], growth


def test_training_without_humidity_is_refused_before_writing(store, tmp_path):  # noqa: F811
    config = small_config(loss={"zigzag_weight": 1.0}, data={"inputs": ["T", "PS"]})
    with pytest.raises(ValueError, match="zigzag_weight needs"):
        train(config, store, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
