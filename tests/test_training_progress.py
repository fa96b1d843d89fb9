"""What a training shows while it runs: the progress bar and one line an epoch with
samples/s, and TensorBoard event files (when tensorboard is installed) holding the figures
of metrics.jsonl, without duplicates after a resume."""

import json
import sys

import pytest
from test_training import cbrain_store, small_config

from climnn.training.tensorboard_log import FOLDER, SCALARS
from climnn.training.trainer import METRICS, train


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return cbrain_store(tmp_path_factory.mktemp("progress"), files=2)


def scalars(folder) -> dict:
    """{tag: [(step, value), ...]} of the event files in ``folder``."""
    accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator").EventAccumulator(str(folder))
    accumulator.Reload()
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}


def test_tensorboard_holds_each_epochs_metrics_once_also_after_a_resume(store, tmp_path):
    pytest.importorskip("torch.utils.tensorboard")
    config = small_config(optimizer={"epochs": 3})
    train(config, store, tmp_path, progress=False, stop_after=2)
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / FOLDER)) as stale:  # a point past the checkpoint
        stale.add_scalar("loss/train", 999.0, 3)
    train(config, store, tmp_path, progress=False, resume=True)
    metrics = [json.loads(line) for line in (tmp_path / METRICS).open()]
    found = scalars(tmp_path / FOLDER)
    assert set(found) == set(SCALARS.values())
    for key, tag in SCALARS.items():
        assert [step for step, _ in found[tag]] == [1, 2, 3], tag
        expected = [m[key] for m in metrics]
        assert [value for _, value in found[tag]] == pytest.approx(expected, rel=1e-6), tag


def test_without_tensorboard_training_goes_on_silently(store, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    train(small_config(optimizer={"epochs": 2}), store, tmp_path, progress=True)
    assert not (tmp_path / FOLDER).exists()
    assert len((tmp_path / METRICS).read_text().splitlines()) == 2
    err = capsys.readouterr().err
    assert "tensorboard" not in err.lower()
    lines = [line for line in err.splitlines() if line.startswith("epoch ") and "/2:" in line]
    assert len(lines) == 2 and all("samples/s" in line and "validation loss" in line
                                   for line in lines), err
    assert "samples/s]" in err  # the bar's rate
