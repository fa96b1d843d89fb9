"""Model configuration: nested dataclasses read from one YAML file per experiment.

Every section is a dataclass whose fields carry the published defaults and, beside each
default, what the field allows (``_field(default, POSITIVE)``); one checker
(:meth:`ModelConfig.validate`) walks every field, then the few rules that tie fields
together (whole numbers of steps, a date of the calendar). Unknown keys, wrong types and
impossible values end with one ConfigError that names the key, where its value came from
(the YAML file, or ``--set KEY=VALUE``), the value and what is allowed::

    run/held_suarez.yaml: output.interval_hours = -6.0: allowed: > 0
    --set time.days=nan: time.days = nan: not a finite number; allowed: > 0
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import cftime
import numpy as np
import yaml

from gcm.physics.insolation import Insolation
from gcm.physics.sea_surface import SST_PROFILES
from gcm.sigma_coordinates import SIGMA_SETS, sigma_coordinates

SUPPORTED_TRUNCATIONS = (21, 31, 42, 63, 85, 106, 127, 170)
CALENDARS = ("360_day", "noleap", "365_day", "standard", "gregorian", "proleptic_gregorian",
             "all_leap", "366_day", "julian")


class ConfigError(ValueError):
    """A configuration that cannot be run; the message names the key, where its value came
    from, the value and what is allowed."""


# --------------------------------------------------------------------------- constraints


@dataclass(frozen=True)
class Allowed:
    """What a field may hold: values for which ``test(value)`` is true, said as ``text``."""

    text: str
    test: Callable[[Any], bool]
    choices: tuple = ()  # the allowed values when they are a list (for "did you mean")


POSITIVE = Allowed("> 0", lambda v: v > 0)
NON_NEGATIVE = Allowed(">= 0", lambda v: v >= 0)
AT_LEAST_ONE = Allowed(">= 1", lambda v: v >= 1)
ANY_FINITE = Allowed("any finite number", lambda v: True)
NAME = Allowed("a non-empty name without '/' (it names the output directory)",
               lambda v: bool(v.strip()) and "/" not in v and v not in (".", ".."))
EVEN_ORDER = Allowed("an even number >= 2", lambda v: v >= 2 and v % 2 == 0)


def one_of(choices) -> Allowed:
    choices = tuple(choices)
    return Allowed(f"one of {list(choices)}", lambda v: v in choices, choices)


def between(low: float, high: float) -> Allowed:
    return Allowed(f"between {low:g} and {high:g}", lambda v: low <= v <= high)


def off_or_positive(what: str) -> Allowed:
    return Allowed(f">= 0 (0: {what})", lambda v: v >= 0)


def _field(default, allowed: Allowed = ANY_FINITE):
    """A dataclass field with its default and what it allows."""
    return field(default=default, metadata={"allowed": allowed})


# --------------------------------------------------------------------------- sections


@dataclass
class ResolutionConfig:
    truncation: int = _field(31, Allowed(  # triangular truncation T
        "one of " + ", ".join(f"T{t}" for t in SUPPORTED_TRUNCATIONS),
        lambda v: v in SUPPORTED_TRUNCATIONS))
    levels: int = _field(20, AT_LEAST_ONE)  # number of sigma layers
    # level set: equal | held_suarez (L20) | frierson_l25 | uneven
    sigma: str = _field("equal", one_of(SIGMA_SETS))
    # Gaussian grid: quadratic (alias-free) | linear
    grid: str = _field("quadratic", one_of(("quadratic", "linear")))


@dataclass
class TimeConfig:
    step_minutes: float = _field(30.0, POSITIVE)  # leapfrog time step
    # ISO date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS) of the initial condition, in the calendar
    start: str = "2000-01-01"
    calendar: str = _field("360_day", one_of(CALENDARS))  # any cftime calendar
    days: float = _field(10.0, POSITIVE)  # default run length; `climnn run --days` overrides


@dataclass
class DiffusionConfig:
    order: int = _field(8, EVEN_ORDER)  # power of the Laplacian: 8 for del^8
    timescale_hours: float = _field(2.4, POSITIVE)  # e-folding time at the truncation wavenumber
    divergence_factor: float = _field(1.0, NON_NEGATIVE)  # divergence damped this many times faster


@dataclass
class SpongeConfig:
    # number of top layers with extra del^2 damping (0: off)
    levels: int = _field(0, off_or_positive("off"))
    # e-folding of the truncation wavenumber at the top layer
    timescale_hours: float = _field(12.0, POSITIVE)


@dataclass
class FixersConfig:
    mass: bool = True  # hold the global mass (mean ps) at its initial value
    water: bool = True  # hold global water to its ledger (initial + physics sources)
    energy: bool = True  # hold global total energy to its ledger, by a uniform dT


@dataclass
class DynamicsConfig:
    # isothermal reference of the semi-implicit scheme, K
    reference_temperature: float = _field(300.0, POSITIVE)
    robert_filter: float = _field(0.05, between(0.0, 1.0))  # Robert-Asselin coefficient nu
    # Williams (2009) alpha; 1 gives the classic RA filter
    williams_alpha: float = _field(0.53, between(0.0, 1.0))
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    sponge: SpongeConfig = field(default_factory=SpongeConfig)
    fixers: FixersConfig = field(default_factory=FixersConfig)
    hole_filling: bool = True  # fill negative humidity before the physics, conserving water
    humidity: bool = True  # carry specific humidity; false for dry runs saves its transforms


@dataclass
class PhysicsConfig:
    scheme: str = "held_suarez"  # a name in gcm.physics.registry (scheme_names()), or "none"
    parameters: dict = field(default_factory=dict)  # keyword arguments of the scheme


@dataclass
class SurfaceConfig:
    # SST profile: ape_control | ape_plus4k | ape_qobs | cos2
    sst: str = _field("ape_control", one_of(SST_PROFILES))
    sst_offset: float = 0.0  # uniform SST change, K


@dataclass
class InitialConfig:
    kind: str = _field("rest", one_of(("rest", "jablonowski_williamson", "solid_body",
                                       "restart")))
    # 'restart': the state of this restart file (a run of the same resolution, levels and
    # reference temperature, any physics: e.g. a hybrid run branched from the teacher's
    # spun-up climate), relative to the working directory
    file: str = ""
    # isothermal temperature of 'rest' and 'solid_body', K
    temperature: float = _field(300.0, POSITIVE)
    surface_pressure: float = _field(1.0e5, POSITIVE)  # Pa
    wind: float = 0.0  # 'solid_body': equatorial wind u0, m s-1; 'jablonowski_williamson': u0
    perturbation: float = 0.0  # 'rest': amplitude of random temperature noise, K;
    # 'jablonowski_williamson': amplitude of the zonal-wind bump, m s-1 (1 in the paper)
    humidity: float = _field(0.0, between(0.0, 1.0))  # uniform specific humidity, kg kg-1
    seed: int = _field(0, NON_NEGATIVE)  # random seed of the noise


@dataclass
class OutputConfig:
    interval_hours: float = _field(24.0, POSITIVE)  # snapshot interval
    format: str = _field("zarr", one_of(("zarr", "netcdf")))
    # restart files every so many days (0: only at the start and the end); by default a
    # killed run loses at most 5 days (a T42L25 restart: 13 MB, ~30 ms)
    restart_interval_days: float = _field(5.0, off_or_positive("only at the start and the end"))


@dataclass
class ModelConfig:
    name: str = _field("held_suarez", NAME)
    threads: int = _field(0, off_or_positive("numba's default, all cores"))  # numba threads
    resolution: ResolutionConfig = field(default_factory=ResolutionConfig)
    time: TimeConfig = field(default_factory=TimeConfig)
    dynamics: DynamicsConfig = field(default_factory=DynamicsConfig)
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)
    surface: SurfaceConfig = field(default_factory=SurfaceConfig)
    insolation: dict = field(default_factory=dict)  # gcm.physics.insolation.Insolation fields
    initial: InitialConfig = field(default_factory=InitialConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self, source: str | Origins = "config") -> ModelConfig:
        """Check every field (type, finiteness, what it allows) and the rules between
        fields; raise ConfigError naming the key, where it came from (``source``: a file
        name, or Origins), the value and what is allowed. Returns self."""
        origins = source if isinstance(source, Origins) else Origins(str(source))
        for key, value, allowed in _fields(self):
            problem = value_problem(value, allowed)
            if problem:
                origins.fail(key, value, problem)
        for rule in CROSS_FIELD_RULES:
            found = rule(self)
            if found is not None:
                key, problem = found
                origins.fail(key, _value_at(self, key), problem)
        return self

    def digest(self) -> str:
        """Hash of everything that defines the model (not the run length time.days);
        ``config_hash(self.to_dict())``."""
        return config_hash(self.to_dict())


# --------------------------------------------------------------------------- the checker


class Origins:
    """Where each value of a configuration came from: ``default`` (the YAML file, or a
    restart's record) unless a dotted key (or a section above it) was overridden, then
    its label (e.g. ``--set time.days=5``)."""

    def __init__(self, default: str, overridden: dict[str, str] | None = None):
        self.default = default
        self.overridden = dict(overridden or {})

    def of(self, key: str) -> str:
        parts = key.split(".")
        for n in range(len(parts), 0, -1):
            label = self.overridden.get(".".join(parts[:n]))
            if label is not None:
                return label
        return self.default

    def fail(self, key: str, value, problem: str):
        raise ConfigError(f"{self.of(key)}: {key} = {value!r}: {problem}")


def _fields(config, prefix: str = ""):
    """(dotted key, value, Allowed or None) of every leaf field of a config dataclass."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            yield from _fields(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", value, f.metadata.get("allowed")


def value_problem(value, allowed: Allowed | None) -> str:
    """'' when ``value`` passes, else what is wrong and what is allowed."""
    if isinstance(value, float) and not math.isfinite(value):
        return "not a finite number" + (f"; allowed: {allowed.text}" if allowed else "")
    if allowed is None or allowed.test(value):
        return ""
    close = difflib.get_close_matches(value, allowed.choices, n=1) if isinstance(
        value, str) else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"allowed: {allowed.text}{hint}"


def allowed_for(key: str) -> Allowed | None:
    """What the ModelConfig field at dotted ``key`` allows (e.g. for a command-line option
    that sets it)."""
    cls, f = ModelConfig, None
    for name in key.split("."):
        f = {f.name: f for f in dataclasses.fields(cls)}[name]
        cls = get_type_hints(cls)[name]
    return f.metadata.get("allowed")


def _value_at(config, key: str):
    for name in key.split("."):
        config = config[name] if isinstance(config, dict) else getattr(config, name, None)
    return config


def _whole_steps(key: str, unit_seconds: float) -> Callable[[ModelConfig], tuple | None]:
    """Rule: the interval at ``key`` (in units of ``unit_seconds``; 0: off) is a whole
    number of time steps."""

    def rule(config: ModelConfig):
        value = _value_at(config, key)
        dt = config.time.step_minutes * 60.0
        if value > 0 and not is_whole_steps(value * unit_seconds, dt):
            nearest = nearest_steps(value * unit_seconds, dt) * dt / unit_seconds
            return key, (f"not a whole number of {config.time.step_minutes:g}-minute steps "
                         f"(time.step_minutes); nearest allowed: {nearest:.10g}")
        return None

    return rule


def is_whole_steps(seconds: float, dt: float) -> bool:
    """True when ``seconds`` is a whole number (>= 1) of steps of ``dt`` seconds."""
    n = seconds / dt
    return round(n) >= 1 and abs(n - round(n)) <= 1e-9 * max(1.0, n)


def nearest_steps(seconds: float, dt: float) -> int:
    """The whole number (>= 1) of steps of ``dt`` seconds nearest to ``seconds``."""
    return max(1, round(seconds / dt))


def _sigma_levels(config: ModelConfig):
    try:
        sigma_coordinates(config.resolution.sigma, config.resolution.levels)
    except ValueError as err:
        return "resolution.levels", str(err)
    return None


def _start_date(config: ModelConfig):
    try:
        start_date(config.time.start, config.time.calendar)
    except ValueError as err:
        return "time.start", f"not a date of the {config.time.calendar} calendar ({err}); " \
            "allowed: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS"
    return None


def start_date(text: str, calendar: str) -> cftime.datetime:
    """The cftime date of ``time.start`` (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS) in ``calendar``;
    ValueError when it is not one."""
    form = "%Y-%m-%d" if len(text) == 10 else "%Y-%m-%dT%H:%M:%S"
    return cftime.datetime.strptime(text, form, calendar=calendar)


def _sponge_levels(config: ModelConfig):
    if config.dynamics.sponge.levels > config.resolution.levels:
        return "dynamics.sponge.levels", (f"more than the {config.resolution.levels} levels "
                                          "(resolution.levels)")
    return None


def _insolation(config: ModelConfig):
    known = [f.name for f in dataclasses.fields(Insolation)]
    for key, value in config.insolation.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean 'insolation.{close[0]}'?)" if close else ""
            return f"insolation.{key}", f"unknown key{hint}; known keys here: {', '.join(known)}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"insolation.{key}", "not a finite number"
    try:
        Insolation(**config.insolation)
    except (TypeError, ValueError) as err:
        return "insolation", str(err)
    return None


#: Rules between fields, after every field passed its own check: each returns
#: (key at fault, what is wrong and allowed) or None.
def _initial_file(config):
    ini = config.initial
    if ini.kind == "restart" and not ini.file.strip():
        return "initial.file", "initial.kind 'restart' needs the restart file to start from"
    if ini.kind != "restart" and ini.file:
        return "initial.file", f"is used only with initial.kind 'restart' (here {ini.kind!r})"
    return None


CROSS_FIELD_RULES = (
    _sigma_levels,
    _initial_file,
    _start_date,
    _sponge_levels,
    _insolation,
    _whole_steps("time.days", 86400.0),
    _whole_steps("output.interval_hours", 3600.0),
    _whole_steps("output.restart_interval_days", 86400.0),
)


def config_hash(config: dict) -> str:
    """The configuration hash that restarts, histories and datasets record.

    The first 16 hex digits of the sha256 of the UTF-8 bytes of
    ``json.dumps(config, sort_keys=True)`` (Python's default separators ", " and ": ",
    non-ASCII escaped) after removing ``config["time"]["days"]``: the run length does
    not define the model, so continuing a run for longer keeps its hash. numpy scalars
    count as their Python values and other non-JSON values as ``str(value)``; key order
    does not matter. ``config``: a ModelConfig's ``to_dict()`` or any JSON-like dict.
    """
    data = dict(config)
    if isinstance(data.get("time"), dict):
        data["time"] = {k: v for k, v in data["time"].items() if k != "days"}
    text = json.dumps(data, sort_keys=True, default=_json_value)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _json_value(value):
    return value.item() if isinstance(value, np.generic) else str(value)


# --------------------------------------------------------------------------- reading


def from_dict(cls, data: dict[str, Any], source: str | Origins = "config", prefix: str = ""):
    """Build dataclass ``cls`` from a nested dict, rejecting unknown keys and wrong types."""
    origins = source if isinstance(source, Origins) else Origins(str(source))
    if not isinstance(data, dict):
        key = prefix.rstrip(".")
        if not key:
            raise ConfigError(f"{origins.default}: expected a mapping of sections "
                              f"(name:, resolution:, time:, ...), found {type(data).__name__}")
        origins.fail(key, data, "expected a section (a mapping of keys), found "
                     f"{type(data).__name__}")
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            hint = difflib.get_close_matches(str(key), names, n=1)
            extra = f" (did you mean '{prefix}{hint[0]}'?)" if hint else ""
            raise ConfigError(
                f"{origins.of(prefix + str(key))}: unknown key '{prefix}{key}'{extra}; "
                f"known keys here: {', '.join(names)}"
            )
        kwargs[key] = _coerce(hints[key], value, origins, prefix + key)
    return cls(**kwargs)


def _coerce(kind, value, origins: Origins, key: str):
    if dataclasses.is_dataclass(kind):
        return from_dict(kind, {} if value is None else value, origins, key + ".")
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is bool and isinstance(value, bool):
        return value
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    if kind is dict and isinstance(value, dict):
        return dict(value)
    if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # e.g. name: 2000 in YAML
    if kind is str and isinstance(value, datetime.date):
        return value.isoformat()  # YAML reads an unquoted 2001-01-01 as a date
    expected = {float: "a number", int: "a whole number", bool: "true or false",
                str: "a string", dict: "a mapping"}.get(kind, getattr(kind, "__name__", kind))
    origins.fail(key, value, f"expected {expected}")


def load_config(path: str | Path, *, origins: dict[str, str] | None = None,
                **overrides) -> ModelConfig:
    """Read a YAML experiment file into a validated ModelConfig.

    ``overrides`` are dotted keys, e.g. ``load_config(p, **{"time.days": 5})``;
    ``origins`` names where each came from for messages (e.g. ``{"time.days":
    "--set time.days=5"}``; default ``override time.days=5``).
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, expected a YAML configuration file")
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read: {err.strerror or err}") from None
    if data is None:
        raise ConfigError(f"{path}: the file is empty; a configuration names at least its "
                          "sections (e.g. copy run/held_suarez.yaml)")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (name:, resolution:, "
                          f"time:, ...), found a {type(data).__name__}")
    labels = {k: (origins or {}).get(k, f"override {k}={v!r}") for k, v in overrides.items()}
    where = Origins(str(path), labels)
    for dotted, value in overrides.items():
        _set(data, dotted, value, where)
    return from_dict(ModelConfig, data, where).validate(where)


def _set(data: dict, dotted: str, value, origins: Origins) -> None:
    """Put ``value`` at the dotted key in the nested dict ``data``."""
    node = data
    *parents, last = dotted.split(".")
    if not all(parents) or not last:
        raise ConfigError(f"{origins.of(dotted)}: {dotted!r} is not a dotted key "
                          "(e.g. time.days)")
    for depth, name in enumerate(parents):
        child = node.setdefault(name, {})
        if child is None:
            child = node[name] = {}
        if not isinstance(child, dict):
            key = ".".join(parents[:depth + 1])
            raise ConfigError(f"{origins.of(dotted)}: {dotted} goes through {key} = "
                              f"{child!r}, which is a value, not a section")
        node = child
    node[last] = value


def config_from_dict(data: dict, source: str = "config") -> ModelConfig:
    """Build and validate a ModelConfig from a nested dict (e.g. a restart's record)."""
    return from_dict(ModelConfig, data, source).validate(source)
