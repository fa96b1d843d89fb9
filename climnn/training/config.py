"""Training configuration: dataclasses read from one YAML file (``run/train.yaml``).

Declared as the model's configuration is (``gcm.config``): each field carries its default
and, beside it, what it allows (``_declared(default, POSITIVE)``); one checker
(:func:`check`) walks every field, then the few rules that tie fields together (the split's
ranges of one kind, and disjoint). An unknown key stops with its name and a did-you-mean; a
wrong type, a non-finite or an impossible value with the file, the key, the value and what
is allowed::

    run/train.yaml: optimizer.lr = 0.0: allowed: > 0

The split is by time, never by random columns of one time step: each of train, validation
and test is a half-open range ``[start, end)`` of the time axis, given as fractions of it
(``[0.0, 0.7]``) or as ISO dates (``["2000-01-01", "2000-01-20"]``).
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args, get_type_hints

import yaml

from gcm.config import (
    AT_LEAST_ONE,
    NON_NEGATIVE,
    POSITIVE,
    Allowed,
    ConfigError,
    Origins,
    _fields,
    from_dict,
    off_or_positive,
    one_of,
    value_problem,
)

# constrained: Beucler et al. 2021; linearized: Lee et al. 2019 (the seed MLP's Taylor expansion)
MODEL_KINDS = ("seed_mlp", "constrained", "linearized")
# svd: Zhang, Lei & Dhillon 2018; symmetric: Hu, Zagoruyko & Komodakis 2019
LAYERS = ("dense", "svd", "symmetric")
ACTIVATIONS = ("leaky_relu", "relu", "tanh", "gelu")
# mse_budget: mse + budget_weight x budget residuals; huber: smooth L1 (losses.py)
LOSSES = ("mse", "mae", "huber", "mse_budget")
# uniform: every normalized output entry alike; variance: each divided by its variance
OUTPUT_WEIGHTS = ("uniform", "variance")
SCHEDULES = ("constant", "step", "cosine")
SPLITS = ("train", "validation", "test")


def _is_variable_list(value) -> bool:
    return value is None or (isinstance(value, list) and bool(value)
                             and all(isinstance(name, str) and name for name in value))


def _is_range(value) -> bool:
    """A [start, end) pair of fractions 0 <= start < end <= 1, or of ISO dates (text),
    end after start."""
    if not isinstance(value, list) or len(value) != 2:
        return False
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return all(math.isfinite(v) for v in value) and 0 <= value[0] < value[1] <= 1
    if all(isinstance(v, str) for v in value):
        dates = [iso_fields(v) for v in value]
        return None not in dates and dates[0] < dates[1]
    return False


def _is_level_masks(value) -> bool:
    """{input profile name: [first, stop]} with integer levels 0 <= first < stop."""
    if not isinstance(value, dict):
        return False
    return all(isinstance(name, str) and isinstance(pair, list) and len(pair) == 2
               and all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
               and 0 <= pair[0] < pair[1] for name, pair in value.items())


TRAINING_NAME = Allowed("a non-empty name", lambda v: bool(v.strip()))
VARIABLE_NAMES = Allowed("a non-empty list of variable names, or null (the seed network's)",
                         _is_variable_list)
TIME_RANGE = Allowed("[start, end]: two fractions with 0 <= start < end <= 1, or two ISO "
                     "dates (YYYY-MM-DD[THH:MM[:SS]]), end after start", _is_range)
SURFACE_CONVENTION = one_of(("store", "included", "excluded"))
LEVEL_MASKS = Allowed("a mapping of input profile name to [first, stop]: level indices "
                      "(0 = top) with 0 <= first < stop", _is_level_masks)


def _declared(default=dataclasses.MISSING, allowed: Allowed | None = None, *, factory=None):
    """A dataclass field with its default (or ``factory`` of it) and what it allows."""
    if factory is not None:
        return field(default_factory=factory, metadata={"allowed": allowed})
    return field(default=default, metadata={"allowed": allowed})


@dataclass
class DataConfig:
    # input variables in vector order; null: the seed network's
    inputs: list | None = _declared(None, VARIABLE_NAMES)
    # output variables in vector order; null: the seed network's
    outputs: list | None = _declared(None, VARIABLE_NAMES)
    levels: int = _declared(0, off_or_positive("any"))  # levels the store must have
    # maxrs (seed network) | std (climnn.data.loader)
    input_normalization: str = _declared("maxrs", one_of(("maxrs", "std")))
    # input profile -> [first, stop): levels (0 = top) the network is not shown, their
    # normalized value 0 in every sample (climnn.data.loader.masked_levels)
    masked_levels: dict = _declared(allowed=LEVEL_MASKS, factory=dict)
    # store: the store's; excluded: TPHYSTND and PHQ without the surface fluxes' share of
    # the lowest level, which the host adds (climnn.data.surface_convention)
    surface_flux_convention: str = _declared("store", SURFACE_CONVENTION)


@dataclass
class SplitConfig:
    train: list = _declared(allowed=TIME_RANGE, factory=lambda: [0.0, 0.7])
    validation: list = _declared(allowed=TIME_RANGE, factory=lambda: [0.7, 0.85])
    test: list = _declared(allowed=TIME_RANGE, factory=lambda: [0.85, 1.0])


@dataclass
class SVDConfig:
    # every singular value of every layer's weight in [sigma_min, sigma_max]
    sigma_min: float = _declared(0.5, NON_NEGATIVE)
    sigma_max: float = _declared(2.0, POSITIVE)


@dataclass
class SymmetricConfig:
    # side of the symmetric blocks; 0: one block of min(out, in) (global symmetry)
    block: int = _declared(0, NON_NEGATIVE)


@dataclass
class NetworkConfig:
    kind: str = _declared("seed_mlp", one_of(MODEL_KINDS))
    hidden_layers: int = _declared(9, NON_NEGATIVE)  # Rasp et al. 2018
    width: int = _declared(256, AT_LEAST_ONE)
    activation: str = _declared("leaky_relu", one_of(ACTIVATIONS))
    leaky_slope: float = _declared(0.3, NON_NEGATIVE)
    layer: str = _declared("dense", one_of(LAYERS))  # the MLP's linear layers
    svd: SVDConfig = field(default_factory=SVDConfig)  # layer svd
    symmetric: SymmetricConfig = field(default_factory=SymmetricConfig)  # layer symmetric


@dataclass
class LossConfig:
    kind: str = _declared("mse", one_of(LOSSES))
    # mse_budget: weight of the budget residuals' mean square beside the MSE
    budget_weight: float = _declared(1.0, NON_NEGATIVE)
    # huber: errors within huber_delta x each output entry's std cost as squares, beyond as
    # absolute values (climnn.training.losses)
    huber_delta: float = _declared(1.0, POSITIVE)
    # variance: each output entry's error over its variance in the statistics, so that the
    # small upper levels count as much as the rest (climnn.training.losses.output_weights)
    output_weights: str = _declared("uniform", one_of(OUTPUT_WEIGHTS))
    # variance: no entry's variance below this fraction of its variable's largest level's
    variance_floor: float = _declared(0.01, POSITIVE)
    # std of Gaussian noise added to the normalized inputs of every training batch (not to
    # masked levels, not in validation): a penalty on the network's sensitivity to its
    # inputs (Bishop 1995); 0: none
    input_noise: float = _declared(0.0, NON_NEGATIVE)
    # weight of the penalty on growing 2-dsigma vertical modes: the mean positive growth
    # rate (1/day) of a bump at one level (against its neighbours' mean) of
    # zigzag_temperature K in T, and of zigzag_humidity x q in q, under the network's
    # heating and moistening (climnn.training.vertical_modes); 0: none
    zigzag_weight: float = _declared(0.0, NON_NEGATIVE)
    zigzag_temperature: float = _declared(0.5, POSITIVE)  # K
    zigzag_humidity: float = _declared(0.05, NON_NEGATIVE)  # of each level's q; 0: T only


@dataclass
class OptimizerConfig:
    lr: float = _declared(1e-3, POSITIVE)  # Adam's learning rate at the first epoch
    # constant | step | cosine (to 0 at the last epoch)
    schedule: str = _declared("step", one_of(SCHEDULES))
    # step: the rate falls by step_factor every step_epochs epochs
    step_epochs: int = _declared(5, AT_LEAST_ONE)
    step_factor: float = _declared(0.2, NON_NEGATIVE)
    epochs: int = _declared(20, AT_LEAST_ONE)
    batch_size: int = _declared(1024, AT_LEAST_ONE)  # per process under torchrun
    # stop after so many epochs without a better validation loss
    patience: int = _declared(5, off_or_positive("never stop early"))
    buffer_size: int = _declared(2**16, AT_LEAST_ONE)  # samples shuffled together (loader)


@dataclass
class TrainConfig:
    name: str = _declared("seed", TRAINING_NAME)
    seed: int = _declared(0, NON_NEGATIVE)
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
    origins = Origins(source)
    scalars, lists = _lists_apart(TrainConfig, data)
    config = from_dict(TrainConfig, scalars, origins)
    for key, value in lists.items():
        section, name = key.split(".")
        setattr(getattr(config, section), name, value)
    return check(config, origins)


def _lists_apart(cls, data: dict, prefix: str = "") -> tuple[dict, dict]:
    """(``data`` without the values of list fields, {dotted key: value} of those): gcm's
    from_dict reads scalars and sections; lists are checked by their declarations. A YAML
    date in a list becomes its ISO text."""
    hints, scalars, lists = get_type_hints(cls), dict(data), {}
    for f in dataclasses.fields(cls):
        kind, value = hints[f.name], data.get(f.name)
        if dataclasses.is_dataclass(kind) and isinstance(value, dict):
            scalars[f.name], inner = _lists_apart(kind, value, f"{prefix}{f.name}.")
            lists.update(inner)
        elif (kind is list or list in get_args(kind)) and f.name in data:
            lists[prefix + f.name] = _dates_as_text(scalars.pop(f.name))
    return scalars, lists


def _dates_as_text(value):
    if not isinstance(value, list):
        return value
    return [v.isoformat() if isinstance(v, datetime.date) else v for v in value]


def check(config: TrainConfig, source: str | Origins = "config") -> TrainConfig:
    """Check every field against its declaration, then the split's ranges together; raise
    ConfigError naming the key, where it came from, the value and what is allowed. Ranges
    come back as floats or as 'YYYY-MM-DDTHH:MM:SS'. Returns ``config``."""
    origins = source if isinstance(source, Origins) else Origins(str(source))
    for key, value, allowed in _fields(config):
        problem = value_problem(value, allowed)
        if problem:
            origins.fail(key, value, problem)
    _check_split(config.split, origins)
    svd = config.model.svd
    if svd.sigma_min > svd.sigma_max:
        origins.fail("model.svd.sigma_min", svd.sigma_min,
                     f"above model.svd.sigma_max = {svd.sigma_max}")
    for name in SPLITS:
        start, end = getattr(config.split, name)
        as_fractions = isinstance(start, int | float)
        setattr(config.split, name, [float(start), float(end)] if as_fractions
                else [iso_text(iso_fields(start)), iso_text(iso_fields(end))])
    return config


def _check_split(split: SplitConfig, origins: Origins) -> None:
    """All three ranges of one kind (fractions or dates), none overlapping another."""
    def kind(name):
        return "ISO dates" if isinstance(getattr(split, name)[0], str) else "fractions"

    for name in SPLITS[1:]:
        if kind(name) != kind("train"):
            origins.fail(f"split.{name}", getattr(split, name),
                         f"{kind(name)} while split.train is {kind('train')}; give all three "
                         f"ranges as fractions or all as ISO dates")
    ranges = sorted((_sortable(getattr(split, n)), n) for n in SPLITS)
    for (first, a), (second, b) in zip(ranges, ranges[1:], strict=False):
        if second[0] < first[1]:
            origins.fail(f"split.{b}", getattr(split, b),
                         f"overlaps split.{a} = {getattr(split, a)!r}")


def _sortable(pair: list) -> list:
    """Fractions, or dates as (year, ..., second) tuples, that compare in time order."""
    return [v if isinstance(v, int | float) else iso_fields(v) for v in pair]


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
