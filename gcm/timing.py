"""Where a step's time goes: the timing hook of the model.

A model times named sections of its step through ``model.timer``; by default that is
``NULL_TIMER``, whose sections cost one attribute look-up and an empty ``with``. To
measure, hand the model a ``StepTimer``::

    timer = StepTimer()
    model.timer = timer           # also reaches the transforms and the physics suite
    for _ in range(24):
        model.step()
    timer.seconds                 # {"physics": ..., "transforms": ..., ...}, wall seconds

Sections may nest (the transforms run inside the dynamics), so their seconds do not add
up to the step; ``StepTimer.seconds`` holds the wall time spent inside each name, summed
over every entry since the last ``reset()``. Names in use: ``step`` (the whole step),
``transforms`` (every spherical-harmonic transform), ``physics`` (column gathering, the
scheme, scattering, budgets) and ``physics_<part>`` for each part of a scheme (each scheme
of the teacher suite; the network scheme's inputs, network, conservation, guards and
outputs). The run log's ``dynamics`` is the step minus the physics.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict


class NullTimer:
    """Times nothing: the model's default."""

    def section(self, name: str) -> contextlib.AbstractContextManager:
        return _NULL_SECTION

    def add(self, name: str, seconds: float) -> None:
        """Nothing (see StepTimer.add)."""


_NULL_SECTION = contextlib.nullcontext()
NULL_TIMER = NullTimer()


class StepTimer:
    """Wall seconds and entries per section name, summed until ``reset()``."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextlib.contextmanager
    def section(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start
            self.calls[name] += 1

    def add(self, name: str, seconds: float) -> None:
        """Count ``seconds`` measured elsewhere (e.g. by a coupler's own clock) as one entry
        of section ``name``."""
        self.seconds[name] += seconds
        self.calls[name] += 1

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()
