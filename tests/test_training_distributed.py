"""Training on 2 processes (torchrun, DistributedDataParallel on gloo): each rank reads its
own share of the time steps, the shares are disjoint and cover the epoch, the run learns,
--resume under torchrun gives the weights of an uninterrupted run, and rank 0's checkpoint
loads into a plain network."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import xarray as xr
from test_training import cbrain_store

from climnn.data.loader import ColumnDataset
from climnn.models import build_model, column_geometry
from climnn.training.config import train_config_from_dict
from climnn.training.distributed import (
    Ranks,
    balanced_steps,
    check_shares,
    ranks_from_environment,
    threads_per_rank,
)
from climnn.training.split import split_times
from climnn.training.trainer import CHECKPOINT, METRICS

CONFIG = ("model: {hidden_layers: 2, width: 64}\n"
          "optimizer: {lr: 1.0e-2, batch_size: 64, buffer_size: 1024, schedule: constant, "
          "patience: 0}\n")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return cbrain_store(tmp_path_factory.mktemp("distributed"))


def train_times(store):
    config = train_config_from_dict({})
    times = xr.open_zarr(store, consolidated=False)["time"].values
    return split_times(config.split, times)["train"]


def shards(store, count, **options):
    return [ColumnDataset(store, times=train_times(store), shard=(rank, count), seed=3,
                          check_values=False, **options) for rank in range(count)]


@pytest.mark.parametrize("count", [2, 3])
def test_shares_of_the_ranks_are_disjoint_and_cover_every_epoch(store, count):
    everything = train_times(store)
    orders = []
    for epoch in range(3):
        read = []
        for rank, dataset in enumerate(shards(store, count)):
            dataset.set_epoch(epoch)
            groups = dataset.reader_groups(rank, count)
            assert groups.size >= 1  # every rank reads, also on this 13-step split
            read.append(np.concatenate([dataset.groups[g][1] for g in groups]))
        together = np.concatenate(read)
        assert np.unique(together).size == together.size  # no time step on two ranks
        assert set(together) == set(everything)  # together: the whole split
        orders.append(together)
    assert not all(np.array_equal(orders[0], o) for o in orders[1:])  # reshuffled by epoch
    again = shards(store, count)[0]
    again.set_epoch(2)
    assert np.array_equal(np.concatenate([again.groups[g][1] for g in again.reader_groups(
        0, count)]), read[0])  # the same (seed, epoch): the same share


def test_the_samples_each_rank_yields_are_its_share(store):
    """What the ranks' datasets yield (not only their plans): disjoint samples, all of them."""
    rows = []
    for dataset in shards(store, 2, batch_size=100, buffer_size=500):
        x = torch.cat([batch for batch, _ in dataset]).numpy()
        assert len(x) == dataset.shard_samples() > 0
        rows.append({row.tobytes() for row in x})
    assert not rows[0] & rows[1]
    assert len(rows[0]) + len(rows[1]) == train_times(store).size * 256


def test_ranks_and_threads_from_torchruns_environment():
    assert ranks_from_environment({}) == Ranks(0, 1, 0)
    ranks = ranks_from_environment({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"})
    assert (ranks.rank, ranks.world, ranks.main, ranks.shard) == (1, 2, False, (1, 2))
    assert threads_per_rank(ranks, cores=8) == 4 and threads_per_rank(ranks, cores=1) == 1
    with pytest.raises(ValueError, match="rank 2 .* of 2 processes"):
        ranks_from_environment({"WORLD_SIZE": "2", "RANK": "2"})


DRIVER = """
import sys
from climnn.cli import main

config, store, out = sys.argv[1:4]
common = [config, "--data", store, "--quiet"]
assert main(["train", *common, "--out", out + "/resumed", "--epochs", "2"]) == 0
assert main(["train", *common, "--out", out + "/resumed", "--epochs", "3", "--resume"]) == 0
assert main(["train", *common, "--out", out + "/straight", "--epochs", "3"]) == 0
import numba, torch
assert torch.get_num_threads() == max(1, numba.get_num_threads() // 2)  # cores / ranks
"""


def test_two_processes_learn_resume_and_leave_a_checkpoint_that_loads(store, tmp_path):
    """One torchrun of 2 CPU processes on gloo runs `climnn train` three times (the process
    group joined and left by each): 2 epochs, --resume to 3, and 3 uninterrupted."""
    (tmp_path / "train.yaml").write_text(CONFIG)
    (tmp_path / "driver.py").write_text(DRIVER)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", str(tmp_path / "driver.py"), str(tmp_path / "train.yaml"),
               str(store), str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("epoch 3, train loss") == 2  # rank 0 alone reports, per run

    metrics = [json.loads(line) for line in (tmp_path / "resumed" / METRICS).open()]
    assert [m["epoch"] for m in metrics] == [1, 2, 3]
    assert metrics[-1]["validation_loss"] < 0.5 * metrics[0]["validation_loss"]
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"]
    for m in metrics:  # each rank read its own share; together the whole training split
        assert min(m["samples_per_rank"]) > 0
        assert sum(m["samples_per_rank"]) == train_times(store).size * 256

    resumed, straight = (torch.load(tmp_path / d / CHECKPOINT, weights_only=False)["model"]
                         for d in ("resumed", "straight"))
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key
    config = train_config_from_dict(
        json.loads((tmp_path / "resumed" / "train.json").read_text())["config"])
    probe = ColumnDataset(store, shuffle=False, batch_size=10**6, check_values=False,
                          input_normalization="maxrs")
    model = build_model(config.model, probe.input_layout, probe.output_layout,
                        column_geometry(store))
    model.load_state_dict(resumed)  # a plain network's keys: no DDP 'module.' prefix


def test_every_rank_takes_the_same_steps_and_each_step_is_the_mean_over_its_samples():
    """DDP averages the ranks' gradients each step: with the weights, the average is the
    gradient of the mean loss over the samples the ranks hold at that step, also at the end
    of an epoch where the shares differ."""
    shares, size = [130, 70, 64], 64
    steps = []
    for rank, n in enumerate(shares):
        batches = [(np.arange(start, min(start + size, n)), None) for start in range(0, n, size)]
        steps.append([(x[0], len(x), w) for x, _, w in balanced_steps(batches, shares, size,
                                                                       rank)])
    assert [len(s) for s in steps] == [3, 3, 3]  # the longest share's batches, on every rank
    assert [[w for *_, w in s] for s in steps] == [[1.0, 3 * 64 / 70, 3.0], [1.0, 3 * 6 / 70, 0.0],
                                                   [1.0, 0.0, 0.0]]
    for k in range(3):
        held = [n for _, n, w in (s[k] for s in steps) if w]
        for _, n, w in (s[k] for s in steps):  # each sample's part of the averaged gradient
            assert w == 0 or w / len(shares) / n == pytest.approx(1 / sum(held))
    read = [[first for first, _, w in s if w] for s in steps]
    assert read == [[0, 64, 128], [0, 64], [0]]  # each batch once, in order
    assert [first for first, *_ in steps[2]] == [0, 0, 0]  # ran out: repeats its last batch


def test_a_split_too_short_for_the_ranks_is_named(store):
    dataset = ColumnDataset(store, times=[0], shard=(0, 2), check_values=False)
    with pytest.raises(ValueError, match="1 time steps, fewer than the 2 processes"):
        check_shares(dataset, Ranks(0, 2, 0))
