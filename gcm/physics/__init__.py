"""Column physics behind the contract of gcm.physics.column; one scheme a file."""

from gcm.physics.column import ColumnPhysics, ColumnState, ColumnTendencies, NoPhysics
from gcm.physics.held_suarez import HeldSuarez


def _teacher(**parameters):
    from gcm.physics.teacher import TeacherPhysics

    return TeacherPhysics(**parameters)


# Name in the config (physics.scheme) -> a constructor; its keyword arguments come
# from physics.parameters.
SCHEMES = {
    "none": NoPhysics,
    "held_suarez": HeldSuarez,
    "teacher": _teacher,
}

__all__ = ["SCHEMES", "ColumnPhysics", "ColumnState", "ColumnTendencies", "HeldSuarez"]
