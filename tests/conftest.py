"""Shared fixtures: small model configurations that run in seconds."""

import contextlib

import numba
import pytest

from gcm.config import ModelConfig


def small_config(kind="rest", truncation=21, levels=8, scheme="none", step_minutes=40.0, **ini):
    cfg = ModelConfig(name=f"test_{kind}")
    cfg.resolution.truncation = truncation
    cfg.resolution.levels = levels
    cfg.time.step_minutes = step_minutes
    cfg.physics.scheme = scheme
    cfg.initial.kind = kind
    for key, value in ini.items():
        setattr(cfg.initial, key, value)
    cfg.output.interval_hours = 24.0
    return cfg.validate()


@pytest.fixture
def make_config():
    return small_config


@contextlib.contextmanager
def numba_threads(count: int):
    """Run the block with numba's parallel loops on ``count`` threads."""
    before = numba.get_num_threads()
    numba.set_num_threads(count)
    try:
        yield
    finally:
        numba.set_num_threads(before)
