"""Column physics behind the contract of gcm.physics.column; one scheme a file."""

from gcm.physics.column import (
    ColumnPhysics,
    ColumnScheme,
    ColumnState,
    ColumnTendencies,
    NoPhysics,
)
from gcm.physics.held_suarez import HeldSuarez
from gcm.physics.registry import build_scheme, register_scheme, scheme_names

__all__ = ["ColumnPhysics", "ColumnScheme", "ColumnState", "ColumnTendencies", "HeldSuarez",
           "NoPhysics", "build_scheme", "register_scheme", "scheme_names"]
