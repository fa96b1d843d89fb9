"""Training configuration: dataclasses read from one YAML file (``run/train.yaml``).

Checked as the model's configurations are (``gcm.config``): an unknown key stops with its
name and a did-you-mean, a wrong type, a non-finite or an impossible value with the file
and the key. The split is by time, never by random columns of one time step: each of
train, validation and test is a half-open range ``[start, end)`` of the time axis, given
as fractions of it (``[0.0, 0.7]``) or as ISO dates (``["2000-01-01", "2000-01-20"]``).
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gcm.config import ConfigError, from_dict, one_of, value_problem

MODEL_KINDS = ("seed_mlp", "constrained")  # constrained: Beucler et al. 2021
ACTIVATIONS = ("leaky_relu", "relu", "tanh", "gelu")
LOSSES = ("mse", "mae", "mse_budget")  # mse_budget: Beucler et al. 2021 (training/losses.py)
SCHEDULES = ("constant", "step", "cosine")
SPLITS = ("train", "validation", "test")


@dataclass
class DataConfig:
    inputs: list | None = None  # input variables in vector order; null: the seed network's
    outputs: list | None = None  # output variables; null: the seed network's
    levels: int = 0  # levels the store must have; 0: any
    input_normalization: str = "maxrs"  # maxrs (seed network) | std (climnn.data.loader)


@dataclass
class SplitConfig:
    train: list = field(default_factory=lambda: [0.0, 0.7])
    validation: list = field(default_factory=lambda: [0.7, 0.85])
    test: list = field(default_factory=lambda: [0.85, 1.0])


@dataclass
class NetworkConfig:
    kind: str = "seed_mlp"
    hidden_layers: int = 9  # Rasp et al. 2018
    width: int = 256
    activation: str = "leaky_relu"
    leaky_slope: float = 0.3


@dataclass
class LossConfig:
    kind: str = "mse"
    budget_weight: float = 1.0  # mse_budget: weight of the squared budget residuals


@dataclass
class OptimizerConfig:
    lr: float = 1e-3  # Adam's learning rate at the first epoch
    schedule: str = "step"  # constant | step | cosine (to 0 at the last epoch)
    step_epochs: int = 5  # step: the rate falls by step_factor every so many epochs
    step_factor: float = 0.2
    epochs: int = 20
    batch_size: int = 1024
    patience: int = 5  # stop after so many epochs without a better validation loss; 0: never
    buffer_size: int = 2**16  # samples shuffled together (climnn.data.loader)


@dataclass
class TrainConfig:
    name: str = "seed"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: NetworkConfig = field(default_factory=NetworkConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_train_config(path: str | Path) -> TrainConfig:
    """Read a YAML training file into a checked TrainConfig."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: training configuration file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, ValueError) as err:  # ValueError: a date YAML cannot build
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    return train_config_from_dict(data, str(path))


def train_config_from_dict(data: dict, source: str = "config") -> TrainConfig:
    """Build and check a TrainConfig from a nested dict (e.g. a checkpoint's record)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: top level: expected a mapping, got {type(data).__name__}")
    data = {key: dict(value) if isinstance(value, dict) else value for key, value in data.items()}
    lists = {}
    for section, names in (("data", ("inputs", "outputs")), ("split", SPLITS)):
        given = data.get(section)
        if isinstance(given, dict):
            lists[section] = {n: given.pop(n) for n in names if n in given}
    config = from_dict(TrainConfig, data, source)
    for section, values in lists.items():
        for name, value in values.items():
            setattr(getattr(config, section), name, value)
    return check(config, source)


def check(config: TrainConfig, source: str) -> TrainConfig:
    """Raise ConfigError naming the key of the first value that cannot train."""
    data, net, opt = config.data, config.model, config.optimizer
    for name in ("inputs", "outputs"):
        _check_names(source, f"data.{name}", getattr(data, name))
    _check_choice(source, "data.input_normalization", data.input_normalization,
                  ("maxrs", "std"))
    _check_choice(source, "model.kind", net.kind, MODEL_KINDS)
    _check_choice(source, "model.activation", net.activation, ACTIVATIONS)
    _check_choice(source, "loss.kind", config.loss.kind, LOSSES)
    _check_choice(source, "optimizer.schedule", opt.schedule, SCHEDULES)
    for key, value, least in (("data.levels", data.levels, 0), ("seed", config.seed, 0),
                              ("model.hidden_layers", net.hidden_layers, 0),
                              ("model.width", net.width, 1), ("optimizer.epochs", opt.epochs, 1),
                              ("optimizer.batch_size", opt.batch_size, 1),
                              ("optimizer.buffer_size", opt.buffer_size, 1),
                              ("optimizer.step_epochs", opt.step_epochs, 1),
                              ("optimizer.patience", opt.patience, 0)):
        if value < least:
            _fail(source, key, f"must be >= {least}, got {value}")
    for key, value in (("model.leaky_slope", net.leaky_slope), ("optimizer.lr", opt.lr),
                       ("loss.budget_weight", config.loss.budget_weight),
                       ("optimizer.step_factor", opt.step_factor)):
        if not math.isfinite(value) or value < 0:
            _fail(source, key, f"must be finite and >= 0, got {value}")
    if opt.lr == 0:
        _fail(source, "optimizer.lr", "must be positive, got 0")
    for name in SPLITS:
        setattr(config.split, name, _check_range(source, f"split.{name}",
                                                  getattr(config.split, name)))
    _check_disjoint(source, config.split)
    return config


def _fail(source: str, key: str, message: str):
    raise ConfigError(f"{source}: {key}: {message}")


def _check_choice(source: str, key: str, value, choices: tuple[str, ...]) -> None:
    problem = value_problem(value, one_of(choices))
    if problem:
        _fail(source, key, f"{value!r}: {problem}")


def _check_names(source: str, key: str, names) -> None:
    if names is None:
        return
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        _fail(source, key, f"expected a non-empty list of variable names or null, got {names!r}")


def _check_range(source: str, key: str, value) -> list:
    """A [start, end) pair of fractions in [0, 1] or of ISO dates, end after start."""
    if not isinstance(value, list) or len(value) != 2:
        _fail(source, key, f"expected [start, end] (fractions or ISO dates), got {value!r}")
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        start, end = map(float, value)
        if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end <= 1):
            _fail(source, key, f"fractions must satisfy 0 <= start < end <= 1, got {value}")
        return [start, end]
    if all(isinstance(v, str | datetime.date) for v in value):
        dates = [_iso_date(source, key, v) for v in value]
        if not dates[0] < dates[1]:
            _fail(source, key, f"end {value[1]} is not after start {value[0]}")
        return [iso_text(d) for d in dates]
    _fail(source, key, f"expected two fractions or two ISO dates, got {value!r}")


ISO_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?)?")


def iso_fields(text: str) -> tuple[int, ...] | None:
    """'YYYY-MM-DD[THH:MM[:SS]]' -> (year, month, day, hour, minute, second), or None.
    Any year, 0000 included (model calendars start there; Python's datetime cannot)."""
    match = ISO_DATE.fullmatch(text.strip())
    if match is None:
        return None
    fields = tuple(int(v or 0) for v in match.groups())
    limits = ((1, 12), (1, 31), (0, 23), (0, 59), (0, 59))
    ok = all(low <= v <= high for v, (low, high) in zip(fields[1:], limits, strict=True))
    return fields if ok else None


def iso_text(fields: tuple[int, ...]) -> str:
    """(year, month, day, hour, minute, second) -> 'YYYY-MM-DDTHH:MM:SS'."""
    year, month, day, hour, minute, second = fields
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"


def _iso_date(source: str, key: str, value) -> tuple[int, ...]:
    if isinstance(value, datetime.date):
        value = value.isoformat()
    fields = iso_fields(value)
    if fields is None:
        _fail(source, key, f"{value!r} is not an ISO date (YYYY-MM-DD[THH:MM[:SS]])")
    return fields


def _check_disjoint(source: str, split: SplitConfig) -> None:
    kinds = {type(getattr(split, n)[0]) for n in SPLITS}
    if len(kinds) > 1:
        _fail(source, "split", "give all three ranges as fractions or all as ISO dates")
    ranges = sorted((getattr(split, n), n) for n in SPLITS)
    for (first, a), (second, b) in zip(ranges, ranges[1:], strict=False):
        if second[0] < first[1]:
            _fail(source, f"split.{b}", f"{second} overlaps split.{a} {first}")
