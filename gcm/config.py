"""Model configuration: nested dataclasses read from one YAML file per experiment.

Every section is a dataclass whose fields carry the published defaults; unknown keys,
wrong types and impossible values end with one message that names the file and the
key (``run/held_suarez.yaml: unknown key 'dynamics.difusion' (did you mean
'diffusion'?)``).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import numpy as np
import yaml

from gcm.sigma_coordinates import SIGMA_SETS, sigma_coordinates

SUPPORTED_TRUNCATIONS = (21, 31, 42, 63, 85, 106, 127, 170)


class ConfigError(ValueError):
    """A configuration that cannot be run; the message names the file and the key."""


@dataclass
class ResolutionConfig:
    truncation: int = 31  # triangular truncation T
    levels: int = 20  # number of sigma layers
    sigma: str = "equal"  # level set: equal | held_suarez (L20) | frierson_l25 | uneven
    grid: str = "quadratic"  # Gaussian grid: quadratic (alias-free) | linear


@dataclass
class TimeConfig:
    step_minutes: float = 30.0  # leapfrog time step
    start: str = "2000-01-01"  # ISO date of the initial condition
    calendar: str = "360_day"  # any cftime calendar
    days: float = 10.0  # default run length; `climnn run --days` overrides


@dataclass
class DiffusionConfig:
    order: int = 8  # power of the Laplacian: 8 for del^8
    timescale_hours: float = 2.4  # e-folding time at the truncation wavenumber
    divergence_factor: float = 1.0  # divergence is damped this many times faster


@dataclass
class SpongeConfig:
    levels: int = 0  # number of top layers with extra del^2 damping (0: off)
    timescale_hours: float = 12.0  # e-folding of the truncation wavenumber at the top layer


@dataclass
class FixersConfig:
    mass: bool = True  # hold the global mass (mean ps) at its initial value
    water: bool = True  # hold global water to its ledger (initial + physics sources)
    energy: bool = True  # hold global total energy to its ledger, by a uniform dT


@dataclass
class DynamicsConfig:
    reference_temperature: float = 300.0  # isothermal reference of the semi-implicit scheme, K
    robert_filter: float = 0.05  # Robert-Asselin coefficient nu
    williams_alpha: float = 0.53  # Williams (2009) alpha; 1 gives the classic RA filter
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
    sst: str = "ape_control"  # SST profile: ape_control | ape_plus4k | ape_qobs | cos2
    sst_offset: float = 0.0  # uniform SST change, K


@dataclass
class InitialConfig:
    kind: str = "rest"  # rest | jablonowski_williamson | solid_body
    temperature: float = 300.0  # isothermal temperature of 'rest' and 'solid_body', K
    surface_pressure: float = 1.0e5  # Pa
    wind: float = 0.0  # 'solid_body': equatorial wind u0, m s-1; 'jablonowski_williamson': u0
    perturbation: float = 0.0  # 'rest': amplitude of random temperature noise, K;
    # 'jablonowski_williamson': amplitude of the zonal-wind bump, m s-1 (1 in the paper)
    humidity: float = 0.0  # uniform specific humidity, kg kg-1
    seed: int = 0  # random seed of the noise


@dataclass
class OutputConfig:
    interval_hours: float = 24.0  # snapshot interval
    format: str = "zarr"  # zarr | netcdf
    restart_interval_days: float = 0.0  # restart files every so many days (0: only at the end)


@dataclass
class ModelConfig:
    name: str = "held_suarez"
    threads: int = 0  # numba threads; 0 keeps numba's default (all cores)
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

    def validate(self, source: str = "config") -> ModelConfig:
        """Check values that cannot run; raise ConfigError naming the key."""
        res = self.resolution
        if res.truncation not in SUPPORTED_TRUNCATIONS:
            _fail(
                source,
                "resolution.truncation",
                f"unsupported truncation T{res.truncation}; supported: "
                + ", ".join(f"T{t}" for t in SUPPORTED_TRUNCATIONS),
            )
        if res.levels < 1:
            _fail(source, "resolution.levels", f"needs at least 1 level, got {res.levels}")
        _check_choice(source, "resolution.sigma", res.sigma, tuple(SIGMA_SETS))
        try:
            sigma_coordinates(res.sigma, res.levels)
        except ValueError as err:
            _fail(source, "resolution.levels", str(err))
        _check_choice(source, "resolution.grid", res.grid, ("quadratic", "linear"))
        if self.time.step_minutes <= 0:
            _fail(source, "time.step_minutes", f"must be positive, got {self.time.step_minutes}")
        _check_choice(
            source,
            "time.calendar",
            self.time.calendar,
            ("360_day", "noleap", "365_day", "standard", "gregorian", "proleptic_gregorian",
             "all_leap", "366_day", "julian"),
        )
        _check_choice(source, "output.format", self.output.format, ("zarr", "netcdf"))
        _check_choice(
            source, "initial.kind", self.initial.kind,
            ("rest", "jablonowski_williamson", "solid_body"),
        )
        if self.output.interval_hours * 60 % self.time.step_minutes > 1e-9:
            _fail(
                source,
                "output.interval_hours",
                f"{self.output.interval_hours} h is not a whole number of "
                f"{self.time.step_minutes}-minute steps",
            )
        if self.dynamics.diffusion.order % 2 or self.dynamics.diffusion.order < 2:
            _fail(source, "dynamics.diffusion.order", "must be an even number >= 2")
        return self

    def digest(self) -> str:
        """Hash of everything that defines the model (not the run length time.days);
        ``config_hash(self.to_dict())``."""
        return config_hash(self.to_dict())


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


def _fail(source: str, key: str, message: str):
    raise ConfigError(f"{source}: {key}: {message}")


def _check_choice(source: str, key: str, value: str, choices: tuple[str, ...]):
    if value not in choices:
        hint = difflib.get_close_matches(str(value), choices, n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        _fail(source, key, f"{value!r} is not one of {list(choices)}{extra}")


def from_dict(cls, data: dict[str, Any], source: str = "config", prefix: str = ""):
    """Build dataclass ``cls`` from a nested dict, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'top level'}: expected a mapping, "
                          f"got {type(data).__name__}")
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            hint = difflib.get_close_matches(str(key), names, n=1)
            extra = f" (did you mean '{prefix}{hint[0]}'?)" if hint else ""
            raise ConfigError(
                f"{source}: unknown key '{prefix}{key}'{extra}; "
                f"known keys here: {', '.join(names)}"
            )
        kwargs[key] = _coerce(hints[key], value, source, prefix + key)
    return cls(**kwargs)


def _coerce(kind, value, source: str, key: str):
    if dataclasses.is_dataclass(kind):
        return from_dict(kind, value or {}, source, key + ".")
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
    if kind is str and isinstance(value, int | float):  # e.g. start: 2000 in YAML
        return str(value)
    expected = getattr(kind, "__name__", str(kind))
    raise ConfigError(f"{source}: {key}: expected {expected}, got {value!r}")


def load_config(path: str | Path, **overrides) -> ModelConfig:
    """Read a YAML experiment file into a validated ModelConfig.

    ``overrides`` are dotted keys, e.g. ``load_config(p, **{"time.days": 5})``.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    for dotted, value in overrides.items():
        node = data
        *parents, last = dotted.split(".")
        for name in parents:
            node = node.setdefault(name, {})
        node[last] = value
    return from_dict(ModelConfig, data, str(path)).validate(str(path))


def config_from_dict(data: dict, source: str = "config") -> ModelConfig:
    """Build and validate a ModelConfig from a nested dict (e.g. a restart's record)."""
    return from_dict(ModelConfig, data, source).validate(source)
