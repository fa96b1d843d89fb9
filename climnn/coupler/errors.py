"""The coupler's exceptions: one message each, naming what and where."""

from __future__ import annotations


class CouplerError(RuntimeError):
    """The coupler refuses: a model file that is not a model or does not fit the host, a
    column array missing or of the wrong shape, a conservation mode it cannot do."""


class GuardError(CouplerError):
    """A non-finite or out-of-bounds value in a step's inputs or outputs. The host catches
    it to write a restart and stop; the attributes locate the value.

    variable : schema name; side : "input" or "output"; column : column index;
    level : level index (0 = top) or None for a surface field; value : the value;
    lat, lon : the column's latitude and longitude (degrees) when the host gave them
    """

    def __init__(self, message: str, *, variable: str, side: str, column: int,
                 level: int | None, value: float, lat: float | None = None,
                 lon: float | None = None):
        super().__init__(message)
        self.variable, self.side, self.column, self.level = variable, side, column, level
        self.value, self.lat, self.lon = value, lat, lon
