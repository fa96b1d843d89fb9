"""Every experiment file in run/ passes its own checks: a model configuration
(gcm.config) or a training configuration (climnn.training.config), told apart by name."""

from pathlib import Path

import pytest

from climnn.training.config import load_train_config
from gcm.config import load_config

RUN = Path(__file__).resolve().parents[1] / "run"
FILES = sorted(RUN.glob("*.yaml"))


def test_there_are_experiment_files():
    assert {"aquaplanet.yaml", "hybrid.yaml", "hybrid_t42.yaml", "train.yaml",
            "train_t42.yaml"} <= {f.name for f in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_experiment_file_passes_its_checks(path):
    if path.name.startswith("train"):
        config = load_train_config(path)
        assert config.optimizer.epochs >= 1
    else:
        config = load_config(path)
        assert config.resolution.truncation > 0
