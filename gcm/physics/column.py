"""The column-physics contract (DESIGN.md): a batch of columns in, tendencies out.

Arrays are (ncol, nlev) for profiles and (ncol,) for surface fields, float64, SI
units; level 0 is the model top, the last level is nearest the surface. Every
scheme, the teacher's and a network coupler's alike, is a callable

    scheme(columns: ColumnState, dt: float) -> ColumnTendencies

where ``dt`` (s) is the interval over which the GCM applies the tendencies (2 dt
for a leapfrog step), so that a scheme that adjusts the state (condensation,
convection) can compute the tendency that reaches its target in one step.

The teacher's schemes also accept ``out=``: a ColumnTendencies of the columns' shapes to
fill instead of a new one, so that a suite can reuse its buffers from call to call. Such
a scheme overwrites every entry it can write (zeroing those it leaves unchanged this
time) and does not touch the others, which must therefore hold zeros: arrays shared
between schemes, or read-only, are fine there (see ``fill_into``).

A scheme that cannot go on (a network's guard found NaN, inf or a value out of bounds)
raises PhysicsFailure naming the column, level and variable; the model adds the step and
the Simulation writes a restart of the last whole step before the run stops.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Protocol

import numpy as np


class PhysicsFailure(RuntimeError):
    """A scheme refuses to go on with this step's columns; the message names where (the
    column's latitude and longitude, the level, the variable) and why."""


@dataclass
class ColumnState:
    """The state of ncol columns before physics."""

    temperature: np.ndarray  # (ncol, nlev) K
    humidity: np.ndarray  # (ncol, nlev) specific humidity, kg kg-1
    u: np.ndarray  # (ncol, nlev) eastward wind, m s-1
    v: np.ndarray  # (ncol, nlev) northward wind, m s-1
    pressure: np.ndarray  # (ncol, nlev) mid-level pressure, Pa
    pressure_half: np.ndarray  # (ncol, nlev + 1) interface pressure, Pa (0: top)
    surface_pressure: np.ndarray  # (ncol,) Pa
    sst: np.ndarray  # (ncol,) sea-surface temperature, K
    insolation: np.ndarray  # (ncol,) top-of-atmosphere insolation (SOLIN), W m-2
    latitude: np.ndarray  # (ncol,) radians
    longitude: np.ndarray  # (ncol,) radians
    time: float  # seconds since the start of the run

    @property
    def ncol(self) -> int:
        return self.temperature.shape[0]

    @property
    def nlev(self) -> int:
        return self.temperature.shape[1]

    @property
    def thickness(self) -> np.ndarray:
        """Pressure thickness dp of each layer, (ncol, nlev), Pa."""
        return np.diff(self.pressure_half, axis=1)


@dataclass
class ColumnTendencies:
    """What a scheme returns; fields a scheme does not touch stay zero."""

    temperature: np.ndarray  # (ncol, nlev) K s-1
    humidity: np.ndarray  # (ncol, nlev) kg kg-1 s-1
    u: np.ndarray  # (ncol, nlev) m s-2
    v: np.ndarray  # (ncol, nlev) m s-2
    precipitation: np.ndarray  # (ncol,) kg m-2 s-1
    shf: np.ndarray  # (ncol,) surface sensible heat flux, upward, W m-2
    lhf: np.ndarray  # (ncol,) surface latent heat flux, upward, W m-2
    fsnt: np.ndarray  # (ncol,) net shortwave at the top, downward, W m-2
    fsns: np.ndarray  # (ncol,) net shortwave at the surface, downward, W m-2
    flnt: np.ndarray  # (ncol,) net longwave at the top, upward, W m-2
    flns: np.ndarray  # (ncol,) net longwave at the surface, upward, W m-2

    @classmethod
    def zeros(cls, ncol: int, nlev: int) -> ColumnTendencies:
        values = {}
        for f in fields(cls):
            shape = (ncol, nlev) if f.name in PROFILE_FIELDS else (ncol,)
            values[f.name] = np.zeros(shape)
        return cls(**values)


PROFILE_FIELDS = ("temperature", "humidity", "u", "v")


def fill_into(out: ColumnTendencies | None, columns: ColumnState, scheme: str,
              partly_written: tuple[str, ...] = ()) -> ColumnTendencies:
    """The tendencies a scheme fills for ``columns``: new zeros if ``out`` is None, else
    ``out`` (see the module docstring) with the fields in ``partly_written`` (those whose
    kernel writes only some entries) set to zero. ``scheme`` names the caller in the
    error raised for an ``out`` of the wrong shapes."""
    if out is None:
        return ColumnTendencies.zeros(columns.ncol, columns.nlev)
    for f in fields(ColumnTendencies):
        shape = getattr(out, f.name).shape
        expected = (columns.ncol, columns.nlev) if f.name in PROFILE_FIELDS else (columns.ncol,)
        if shape != expected:
            raise ValueError(f"{scheme}: out.{f.name} has shape {shape}, the columns need "
                             f"{expected}")
    for name in partly_written:
        getattr(out, name).fill(0.0)
    return out


class ColumnPhysics(Protocol):
    """Everything the model reads from (or hands to) a physics scheme.

    ``__call__(columns, dt)``: the tendencies of the columns over the interval dt (s).
    ``name``: what output and restarts call the scheme (the config's physics.scheme).
    ``closes_budgets``: the scheme closes the DESIGN.md column budgets, so the model
    reports its residuals (gcm.physics.budgets) as diagnostics.
    ``frictional_heating``: the energy budget counts the kinetic energy the scheme
    removes as heat (it turns dissipation into heating).

    Optional (ColumnScheme has the defaults; the model reads them through the module
    functions below, never directly): ``state_arrays()`` and ``load_state_arrays()`` for
    a scheme with state of its own, saved in restarts bit for bit, a writable
    ``timer`` (gcm.timing) that the model sets to its own, and global diagnostics of its
    own for the history: ``diagnostic_attrs`` (name -> CF attributes, at least
    ``long_name`` and ``units``) and ``step_diagnostics()`` (name -> the global value of
    the last call, float), averaged over each output interval like the fixers.
    """

    name: str
    closes_budgets: bool
    frictional_heating: bool

    def __call__(self, columns: ColumnState, dt: float) -> ColumnTendencies: ...


class ColumnScheme:
    """A base class with the protocol's defaults: a stateless scheme that closes the
    column budgets without frictional heating. A scheme with state overrides
    ``state_arrays`` (which returns the same keys from construction on, so that a restart
    can be checked against a new scheme) and ``load_state_arrays`` (which restores them
    bit for bit)."""

    name = "unnamed"
    closes_budgets = True
    frictional_heating = False

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The scheme's own state by name (any shapes); empty for a stateless scheme."""
        return {}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the state ``state_arrays()`` returned (the model has checked the keys)."""

    #: name -> CF attributes (long_name, units) of the global diagnostics the scheme
    #: reports each step (none by default); fixed from construction on
    diagnostic_attrs: dict[str, dict] = {}

    def step_diagnostics(self) -> dict[str, float]:
        """The global values of ``diagnostic_attrs``'s names for the last call."""
        return {}


class NoPhysics(ColumnScheme):
    """The adiabatic, inviscid model: all tendencies zero."""

    name = "none"

    def __call__(self, columns: ColumnState, dt: float) -> ColumnTendencies:
        return ColumnTendencies.zeros(columns.ncol, columns.nlev)


# The functions the model reads a scheme through: a scheme that follows the protocol
# without deriving from ColumnScheme gets ColumnScheme's defaults here, in one place.

def has_physics(scheme) -> bool:
    """Whether the model calls ``scheme`` at all (None and NoPhysics: no physics)."""
    return scheme is not None and not isinstance(scheme, NoPhysics)


def scheme_name(scheme) -> str:
    return getattr(scheme, "name", ColumnScheme.name)


def closes_budgets(scheme) -> bool:
    return bool(getattr(scheme, "closes_budgets", ColumnScheme.closes_budgets))


def frictional_heating(scheme) -> bool:
    return bool(getattr(scheme, "frictional_heating", ColumnScheme.frictional_heating))


def diagnostic_attrs(scheme) -> dict[str, dict]:
    """The scheme's own global diagnostics and their CF attributes ({} if none)."""
    return dict(getattr(scheme, "diagnostic_attrs", ColumnScheme.diagnostic_attrs))


def step_diagnostics(scheme) -> dict[str, float]:
    """The scheme's global diagnostics of its last call, exactly the names it declares;
    ValueError naming the difference otherwise."""
    declared = diagnostic_attrs(scheme)
    if not declared:
        return {}
    values = scheme.step_diagnostics()
    if set(values) != set(declared):
        raise ValueError(f"physics scheme {scheme_name(scheme)!r}: step_diagnostics() gave "
                         f"{sorted(values)}, its diagnostic_attrs declare {sorted(declared)}")
    return {name: float(value) for name, value in values.items()}


def hand_timer(scheme, timer) -> None:
    """Give the scheme the model's timing hook, if it takes one (a ``timer`` attribute)."""
    if hasattr(scheme, "timer"):
        scheme.timer = timer


def state_arrays(scheme) -> dict[str, np.ndarray]:
    """The scheme's own state (see ColumnScheme.state_arrays); {} for a stateless one."""
    if not hasattr(scheme, "state_arrays"):
        return {}
    arrays = scheme.state_arrays()
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray):
            raise TypeError(f"physics scheme {scheme_name(scheme)!r}: state_arrays()[{key!r}] "
                            f"is a {type(value).__name__}, not a numpy array")
    return arrays


def load_state_arrays(scheme, arrays: dict[str, np.ndarray]) -> None:
    """Hand ``arrays`` (by the keys of ``state_arrays``) back to the scheme; ValueError
    naming the keys if they are not exactly the ones the scheme has."""
    expected = set(state_arrays(scheme))
    missing, unexpected = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
    problems = []
    if missing:
        problems.append(f"lacks its state {missing}")
    if unexpected:
        problems.append(f"holds state {unexpected} that it does not have")
    if problems:
        raise ValueError(f"physics scheme {scheme_name(scheme)!r}: the restart "
                         + " and ".join(problems))
    if expected:
        scheme.load_state_arrays(dict(arrays))
