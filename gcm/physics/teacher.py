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
``breakdown`` holds each scheme's own ColumnTendencies from the last call: its arrays are
the suite's buffers, overwritten by the next call (copy them to keep them; and call one
suite from one thread at a time); the returned tendencies are new every call.

Speed (the suite runs on every column every step): the schemes write into those buffers,
and one kernel after each scheme advances the running state and adds to the totals only
the entries the scheme can write (WRITES; the others are shared read-only zeros). The
result has the bits of adding every scheme's full tendencies to zero-initialized totals:
a skipped term is +0.0, x + 0.0 == x for every x but -0.0, and no -0.0 is there where a
term is skipped: the totals begin as 0.0 + their first term, the state's winds as
u + 0.0, and its T and q leave condensation as sums with its tendencies, which are 0.0 or
nonzero. The arrays take the memory layout of the input, so the model's level-major views
stay level-major throughout (and its scatter of the totals needs no copy).
"""

from __future__ import annotations

from dataclasses import replace

import numba
import numpy as np

from gcm.constants import CP
from gcm.physics.boundary_layer import BoundaryLayer
from gcm.physics.column import PROFILE_FIELDS, ColumnScheme, ColumnState, ColumnTendencies
from gcm.physics.condensation import LargeScaleCondensation
from gcm.physics.convection import BettsMillerConvection
from gcm.physics.radiation import GrayRadiation
from gcm.physics.surface_fluxes import SurfaceFluxes
from gcm.timing import NULL_TIMER

SURFACE_FIELDS = ("precipitation", "shf", "lhf", "fsnt", "fsns", "flnt", "flns")

# The fields each part of the suite can write; the surface fluxes write the lowest level
# of their profiles only.
WRITES = {
    "convection": ("temperature", "humidity", "precipitation"),
    "condensation": ("temperature", "humidity", "precipitation"),
    "radiation": ("temperature", "fsnt", "fsns", "flnt", "flns"),
    "surface_fluxes": ("temperature", "humidity", "u", "v", "shf", "lhf"),
    "boundary_layer": ("temperature", "humidity", "u", "v"),
    "frictional_heating": ("temperature",),
}


class TeacherPhysics(ColumnScheme):
    """The moist aquaplanet suite; keyword arguments are dicts of each scheme's fields,
    e.g. ``TeacherPhysics(convection={"relaxation_time": 7200})``."""

    name = "teacher"
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
        self._buffers: SuiteBuffers | None = None
        self.timer = NULL_TIMER  # gcm.timing: the model hands its own timer down

    def __call__(self, columns: ColumnState, dt: float) -> ColumnTendencies:
        buffers = self._buffers_for(columns)
        part, s, timer = buffers.parts, self.schemes, self.timer
        # the running state: the suite's profiles, the columns' pressures and boundary
        state = replace(columns, **buffers.state)
        total = _new_tendencies(columns.temperature)  # new: the caller may keep it
        # the stage kernels see every profile with its contiguous axis last
        w = buffers.walk
        # the stages follow ORDER; convection reads the input, which any layout serves
        with timer.section("physics_convection"):
            conv = s["convection"](columns, dt, out=part["convection"])
        _start_state(dt, *map(w, _profiles(columns) + _profiles(state)),
                     w(conv.temperature), w(conv.humidity))
        with timer.section("physics_condensation"):
            c = s["condensation"](state, dt, out=part["condensation"])
        _add_condensation_start_totals(
            dt, w(c.temperature), w(c.humidity), w(state.temperature), w(state.humidity),
            w(conv.temperature), w(conv.humidity), w(total.temperature), w(total.humidity),
            c.precipitation, conv.precipitation, total.precipitation)
        with timer.section("physics_radiation"):
            c = s["radiation"](state, dt, out=part["radiation"])
        _add_radiation(dt, w(c.temperature), w(state.temperature), w(total.temperature),
                       c.fsnt, c.fsns, c.flnt, c.flns, total.fsnt, total.fsns, total.flnt,
                       total.flns)
        with timer.section("physics_surface_fluxes"):
            c = s["surface_fluxes"](state, dt, out=part["surface_fluxes"])
        _add_surface_fluxes(dt, *(x[:, -1] for x in _profiles(c) + _profiles(state)
                                  + _profiles(total)), c.shf, c.lhf, total.shf, total.lhf)
        with timer.section("physics_boundary_layer"):
            c = s["boundary_layer"](state, dt, out=part["boundary_layer"])
        heating = part["frictional_heating"].temperature
        _add_boundary_layer_and_heating(buffers.level_major,
                                        *map(w, _profiles(c) + (columns.u, columns.v)
                                             + _profiles(total) + (heating,)))
        self.breakdown = dict(part)
        return total

    def _buffers_for(self, columns: ColumnState) -> SuiteBuffers:
        """The buffers for columns of this shape and layout, made anew when they change."""
        like = columns.temperature
        b = self._buffers
        if b is None or b.shape != like.shape or b.level_major != _level_major(like):
            b = self._buffers = SuiteBuffers(columns)
        return b


class SuiteBuffers:
    """Arrays the suite reuses from call to call: each scheme's tendencies (``parts``,
    fields it does not write are shared read-only zeros) and the profiles of the running
    state (``state``)."""

    def __init__(self, columns: ColumnState):
        like = columns.temperature
        self.shape, self.level_major = like.shape, _level_major(like)
        zero_profile = np.zeros_like(like, dtype=np.float64)
        zero_surface = np.zeros(like.shape[0])
        for z in (zero_profile, zero_surface):
            z.flags.writeable = False
        self.parts = {}
        for name, written in WRITES.items():
            values = {}
            for f in PROFILE_FIELDS + SURFACE_FIELDS:
                if f not in written:
                    values[f] = zero_profile if f in PROFILE_FIELDS else zero_surface
                elif f in PROFILE_FIELDS:
                    values[f] = self._profile()
                else:
                    values[f] = np.zeros_like(zero_surface)
            self.parts[name] = ColumnTendencies(**values)
        self.state = {f: self._profile() for f in PROFILE_FIELDS}

    def _profile(self) -> np.ndarray:
        """A zero profile (ncol, nlev) in the input's layout. Level-major rows get one
        cache line more than ncol: with ncol a power of two (8192 at T42) a column's levels
        would otherwise share the same few cache sets, and the schemes that go column by
        column (radiation, the boundary layer's output) would thrash them."""
        ncol, nlev = self.shape
        if self.level_major:
            return np.zeros((nlev, ncol + 8))[:, :ncol].T
        return np.zeros((ncol, nlev))

    def walk(self, x: np.ndarray) -> np.ndarray:
        """A profile (ncol, nlev) as the stage kernels walk it: transposed if level-major,
        so that the last axis is the contiguous one."""
        return x.T if self.level_major else x


def _level_major(x: np.ndarray) -> bool:
    """Whether the columns of profile x (ncol, nlev) lie side by side, level after level,
    as in the model's transposed views (np.empty_like keeps that layout)."""
    return x.strides[0] < x.strides[1]


def _profiles(x) -> tuple:
    """temperature, humidity, u, v of a ColumnState or ColumnTendencies."""
    return tuple(getattr(x, f) for f in PROFILE_FIELDS)


def _new_tendencies(like: np.ndarray) -> ColumnTendencies:
    """Uninitialized tendencies with profiles laid out as ``like`` (ncol, nlev); the
    stages below write every entry."""
    return ColumnTendencies(**{f: np.empty_like(like, dtype=np.float64) for f in PROFILE_FIELDS},
                            **{f: np.empty(like.shape[0]) for f in SURFACE_FIELDS})


# The stage kernels: elementwise over profiles that all have the same layout, given
# (n, m) with the contiguous axis last (see SuiteBuffers.walk), so that the outer loop is
# split between threads and the inner one streams; (ncol,) surface fields go serially
# (a few microseconds). t* are a scheme's tendencies, s* the running state, a* the
# totals; dt in s.


@numba.njit(cache=True, parallel=True)
def _start_state(dt, T, q, u, v, sT, sq, su, sv, tT, tq):
    """The running state s* = the columns' T, q, u, v + dt * convection's tendencies
    (u + 0.0 is its zero wind tendency, which maps -0.0 to 0.0)."""
    n, m = T.shape
    for o in numba.prange(n):
        for j in range(m):
            sT[o, j] = T[o, j] + dt * tT[o, j]
            sq[o, j] = q[o, j] + dt * tq[o, j]
            su[o, j] = u[o, j] + 0.0
            sv[o, j] = v[o, j] + 0.0


@numba.njit(cache=True, parallel=True)
def _add_condensation_start_totals(dt, tT, tq, sT, sq, cT, cq, aT, aq, tp, cp, ap):
    """Condensation's tendencies t* advance the state; the totals begin as convection's
    tendencies c* plus condensation's (0.0 + c: the sum starts from zero)."""
    n, m = tT.shape
    for o in numba.prange(n):
        for j in range(m):
            sT[o, j] += dt * tT[o, j]
            sq[o, j] += dt * tq[o, j]
            aT[o, j] = (0.0 + cT[o, j]) + tT[o, j]
            aq[o, j] = (0.0 + cq[o, j]) + tq[o, j]
    for i in range(tp.size):
        ap[i] = (0.0 + cp[i]) + tp[i]


@numba.njit(cache=True, parallel=True)
def _add_radiation(dt, tT, sT, aT, fsnt, fsns, flnt, flns, afsnt, afsns, aflnt, aflns):
    """Radiative heating advances the state and adds to the totals; the boundary fluxes
    (W m-2) become the totals'."""
    n, m = tT.shape
    for o in numba.prange(n):
        for j in range(m):
            sT[o, j] += dt * tT[o, j]
            aT[o, j] += tT[o, j]
    for i in range(fsnt.size):
        afsnt[i] = 0.0 + fsnt[i]
        afsns[i] = 0.0 + fsns[i]
        aflnt[i] = 0.0 + flnt[i]
        aflns[i] = 0.0 + flns[i]


@numba.njit(cache=True)
def _add_surface_fluxes(dt, tT, tq, tu, tv, sT, sq, su, sv, aT, aq, au, av, shf, lhf,
                        ashf, alhf):
    """The surface fluxes' tendencies advance the state and add to the totals at the
    lowest level (all arrays (ncol,): the lowest level of the profiles), where the
    totals' winds begin; their heat fluxes (W m-2) become the totals'."""
    for i in range(tT.size):
        sT[i] += dt * tT[i]
        sq[i] += dt * tq[i]
        su[i] += dt * tu[i]
        sv[i] += dt * tv[i]
        aT[i] += tT[i]
        aq[i] += tq[i]
        au[i] = 0.0 + tu[i]
        av[i] = 0.0 + tv[i]
        ashf[i] = 0.0 + shf[i]
        alhf[i] = 0.0 + lhf[i]


@numba.njit(cache=True, parallel=True)
def _add_boundary_layer_and_heating(level_major, tT, tq, tu, tv, u, v, aT, aq, au, av,
                                    heating):
    """The boundary layer's tendencies complete the totals (whose winds so far exist at
    the lowest level only, the first row if ``level_major`` else the last column), then
    frictional heating -(u du + v dv) / cp (K s-1, into ``heating`` and the total) turns
    the kinetic energy the total wind tendencies du, dv (m s-2) remove from the columns'
    winds u, v (m s-1) into heat. The state is not advanced: nothing runs after."""
    n, m = tT.shape
    for o in numba.prange(n):
        for j in range(m):
            lowest = o == n - 1 if level_major else j == m - 1
            du = (au[o, j] if lowest else 0.0) + tu[o, j]
            dv = (av[o, j] if lowest else 0.0) + tv[o, j]
            au[o, j] = du
            av[o, j] = dv
            aq[o, j] += tq[o, j]
            h = -(u[o, j] * du + v[o, j] * dv) / CP
            heating[o, j] = h
            aT[o, j] = (aT[o, j] + tT[o, j]) + h
