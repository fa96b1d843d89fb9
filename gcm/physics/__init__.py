"""Column physics behind the contract of gcm.physics.column; one scheme a file."""

from gcm.physics.column import ColumnPhysics, ColumnState, ColumnTendencies, NoPhysics
from gcm.physics.held_suarez import HeldSuarez

# Name in the config (physics.scheme) -> the class; its parameters come from
# physics.parameters as keyword arguments.
SCHEMES = {
    "none": NoPhysics,
    "held_suarez": HeldSuarez,
}

__all__ = ["SCHEMES", "ColumnPhysics", "ColumnState", "ColumnTendencies", "HeldSuarez"]
