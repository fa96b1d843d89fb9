"""The teacher: the moist aquaplanet column physics the network learns.

Schemes run one after another in a fixed order, each on the state left by the ones
before it (sequential splitting, state_i = state_{i-1} + dt * tendency_i):

    1. convection               simplified Betts-Miller (Frierson 2007)
    2. large-scale condensation  with re-evaporation of falling precipitation
    3. radiation                gray two-stream (Frierson et al. 2006)
    4. surface fluxes           bulk formulae over the prescribed SST
    5. boundary layer           implicit vertical diffusion of heat, moisture, momentum
    6. frictional heating       the kinetic energy removed by 4 and 5 becomes heat

The returned tendencies are the sums, precipitation is convective plus large-scale, and
the fluxes are those of radiation and the surface scheme, so the suite closes the
DESIGN.md column budgets (with frictional heating) to round-off when every scheme does.
``breakdown`` holds each scheme's own ColumnTendencies from the last call.
"""

from __future__ import annotations

from dataclasses import replace

import numba
import numpy as np

from gcm.constants import CP
from gcm.physics.boundary_layer import BoundaryLayer
from gcm.physics.column import PROFILE_FIELDS, ColumnState, ColumnTendencies
from gcm.physics.condensation import LargeScaleCondensation
from gcm.physics.convection import BettsMillerConvection
from gcm.physics.radiation import GrayRadiation
from gcm.physics.surface_fluxes import SurfaceFluxes

SURFACE_FIELDS = ("precipitation", "shf", "lhf", "fsnt", "fsns", "flnt", "flns")


class TeacherPhysics:
    """The moist aquaplanet suite; keyword arguments are dicts of each scheme's fields,
    e.g. ``TeacherPhysics(convection={"relaxation_time": 7200})``."""

    frictional_heating = True
    ORDER = ("convection", "condensation", "radiation", "surface_fluxes", "boundary_layer")
    CLASSES = {
        "convection": BettsMillerConvection,
        "condensation": LargeScaleCondensation,
        "radiation": GrayRadiation,
        "surface_fluxes": SurfaceFluxes,
        "boundary_layer": BoundaryLayer,
    }

    def __init__(self, **parameters):
        unknown = set(parameters) - set(self.ORDER)
        if unknown:
            raise TypeError(f"unknown teacher scheme(s) {sorted(unknown)}; the schemes are "
                            f"{list(self.ORDER)}")
        self.schemes = {}
        for name in self.ORDER:
            try:
                self.schemes[name] = self.CLASSES[name](**parameters.get(name, {}))
            except TypeError as err:
                raise TypeError(f"{name}: {err}") from None
        self.breakdown: dict[str, ColumnTendencies] = {}

    def __call__(self, columns: ColumnState, dt: float) -> ColumnTendencies:
        total = ColumnTendencies.zeros(columns.ncol, columns.nlev)
        # the running state: C-ordered copies of the profiles, advanced in place after
        # each scheme (the model passes strided views, which the schemes read slower)
        state = replace(columns, **{f: np.array(getattr(columns, f), order="C")
                                    for f in PROFILE_FIELDS})
        for name in self.ORDER:
            out = self.schemes[name](state, dt)
            self.breakdown[name] = out
            _add_scheme(dt, *(getattr(x, f) for x in (out, state, total)
                              for f in PROFILE_FIELDS))
            for field in SURFACE_FIELDS:
                getattr(total, field)[...] += getattr(out, field)
        heating = ColumnTendencies.zeros(columns.ncol, columns.nlev)
        _frictional_heating(columns.u, columns.v, total.u, total.v, heating.temperature)
        self.breakdown["frictional_heating"] = heating
        total.temperature += heating.temperature
        return total


@numba.njit(cache=True, parallel=True)
def _add_scheme(dt, tt, tq, tu, tv, st, sq, su, sv, at, aq, au, av):
    """One scheme's tendencies t* (ncol, nlev) advance the running state s* by dt (s)
    and add to the suite's totals a*, in place."""
    for i in numba.prange(tt.shape[0]):
        for k in range(tt.shape[1]):
            st[i, k] += dt * tt[i, k]
            sq[i, k] += dt * tq[i, k]
            su[i, k] += dt * tu[i, k]
            sv[i, k] += dt * tv[i, k]
            at[i, k] += tt[i, k]
            aq[i, k] += tq[i, k]
            au[i, k] += tu[i, k]
            av[i, k] += tv[i, k]


@numba.njit(cache=True, parallel=True)
def _frictional_heating(u, v, du, dv, heating):
    """heating = -(u du + v dv) / cp, K s-1: the kinetic energy the momentum
    tendencies du, dv (m s-2) remove from winds u, v (m s-1); all (ncol, nlev)."""
    for i in numba.prange(u.shape[0]):
        for k in range(u.shape[1]):
            heating[i, k] = -(u[i, k] * du[i, k] + v[i, k] * dv[i, k]) / CP
