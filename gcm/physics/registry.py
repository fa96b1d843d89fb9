"""Physics schemes by name: what ``physics.scheme`` in a config can say.

Built in are ``none``, ``held_suarez``, ``teacher`` and ``superparameterized`` (gcm.crm).
Code outside ``gcm`` adds its own either at run time, ``register_scheme("mine",
MyScheme)``, or, without ``gcm`` importing it, through a Python entry point of group
``gcm.physics`` declared by the package that holds the scheme, e.g. in its pyproject.toml::

    [project.entry-points."gcm.physics"]
    network = "climnn.coupler.network_scheme:NetworkScheme"

A name not registered is looked up among those entry points when it is first built.
A factory is any callable whose keyword arguments are the config's physics.parameters
and which returns a scheme (gcm.physics.column.ColumnPhysics).
"""

from __future__ import annotations

import difflib
import importlib.metadata
from collections.abc import Callable

from gcm.physics.column import ColumnPhysics, NoPhysics
from gcm.physics.held_suarez import HeldSuarez

ENTRY_POINT_GROUP = "gcm.physics"


def _teacher(**parameters) -> ColumnPhysics:
    # imported when asked for: the teacher's kernels are many and slow to load
    from gcm.physics.teacher import TeacherPhysics

    return TeacherPhysics(**parameters)


def _superparameterized(**parameters) -> ColumnPhysics:
    # imported when asked for, as the teacher: the CRM's kernels load slowly
    from gcm.crm.superparameterization import Superparameterized

    return Superparameterized(**parameters)


_FACTORIES: dict[str, Callable[..., ColumnPhysics]] = {
    "none": NoPhysics,
    "held_suarez": HeldSuarez,
    "teacher": _teacher,
    "superparameterized": _superparameterized,
}


def register_scheme(name: str, factory: Callable[..., ColumnPhysics]) -> None:
    """Make ``physics.scheme: name`` build ``factory(**physics.parameters)``. A name
    already taken by another factory is an error (no silent replacement)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"register_scheme: the name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise TypeError(f"register_scheme({name!r}): the factory {factory!r} is not callable")
    if _FACTORIES.get(name, factory) is not factory:
        raise ValueError(f"register_scheme: the physics scheme name {name!r} is taken by "
                         f"{_FACTORIES[name]!r}")
    _FACTORIES[name] = factory


def scheme_names() -> list[str]:
    """Every name ``build_scheme`` knows: registered ones and entry points, sorted."""
    return sorted(set(_FACTORIES) | {ep.name for ep in _entry_points()})


def build_scheme(name: str, parameters: dict | None = None) -> ColumnPhysics:
    """The scheme registered (or declared as an entry point) under ``name``, built with
    ``parameters`` as keyword arguments. ValueError for an unknown name (with the known
    ones) or parameters the scheme does not take (naming the scheme)."""
    factory = _factory(name)
    try:
        return factory(**(parameters or {}))
    except TypeError as err:
        raise ValueError(f"physics.parameters for scheme {name!r}: {err}") from None


def _factory(name: str) -> Callable[..., ColumnPhysics]:
    if name in _FACTORIES:
        return _FACTORIES[name]
    points = {ep.name: ep for ep in _entry_points()}
    if name not in points:
        known = sorted(set(_FACTORIES) | set(points))
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"physics.scheme: unknown scheme {name!r}{hint}; known schemes: "
                         f"{', '.join(known)} (others are registered with "
                         f"gcm.physics.registry.register_scheme or an entry point of group "
                         f"{ENTRY_POINT_GROUP!r})")
    point = points[name]
    try:
        factory = point.load()
    except Exception as err:  # an installed package's import can fail in any way
        raise ValueError(f"physics.scheme {name!r}: the entry point {point.value!r} of group "
                         f"{ENTRY_POINT_GROUP!r} failed to load: {type(err).__name__}: "
                         f"{err}") from err
    register_scheme(name, factory)
    return factory


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    # looked up through the module each time, so that tests (and packages installed
    # while running) are seen
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
