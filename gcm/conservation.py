"""Global integrals of mass, water and energy, and the fixers that hold them to their
budgets (as CAM's global fixers do), with the size of every correction reported.

Totals are per unit area of the globe (global means), computed exactly on the
Gaussian grid (quadrature weights w_j / (2 nlon)):

    mass    M = <ps> / g                                        kg m-2
    water   W = < sum_k q_k dp_k > / g                           kg m-2
    energy  E = < sum_k (cp T + Lv q + (u^2 + v^2)/2) dp_k > / g + <Phi_s ps> / g   J m-2

A fixer compares a total with its ledger (the initial value plus everything the
physics put in since) and removes the difference: ps is scaled for mass, q for water,
and a uniform temperature change closes energy. The corrections are the dynamical
core's conservation error; the physics' own error is its column-budget residual.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from gcm.constants import CP, GRAVITY, LV
from gcm.time_integration import raw_filter


@dataclass
class GlobalTotals:
    mass: float  # kg m-2
    water: float  # kg m-2
    energy: float  # J m-2


def area_fraction(weights: np.ndarray, nlon: int) -> np.ndarray:
    """Fraction of the sphere each grid point stands for, (nlat, 1); sums to 1."""
    return (weights / (2.0 * nlon))[:, None]


def global_totals(grid: dict, thickness: np.ndarray, phis: np.ndarray,
                  fraction: np.ndarray) -> GlobalTotals:
    """Totals of a grid state (u, v, T, q (nlev, nlat, nlon), ps (nlat, nlon)) on sigma
    layers of ``thickness`` (nlev,), surface geopotential ``phis`` (nlat, nlon) m2 s-2."""
    mass, water, energy = _totals_kernel(grid["u"], grid["v"], grid["T"], grid["q"],
                                         grid["ps"], phis, thickness, fraction[:, 0])
    return GlobalTotals(mass=mass, water=water, energy=energy)


def physics_sources(grid: dict, tend: dict, thickness: np.ndarray, fraction: np.ndarray
                    ) -> tuple[float, float]:
    """Global-mean water (kg m-2 s-1) and energy (W m-2) that physics tendencies
    (T, q, u, v as (nlev, nlat, nlon)) put into the atmosphere of ``grid``."""
    return _sources_kernel(grid["u"], grid["v"], grid["ps"], tend["T"], tend["q"], tend["u"],
                           tend["v"], thickness, fraction[:, 0])


# Serial loops: a sum's order must not depend on the number of threads, since the
# fixers act on these totals and runs are bitwise reproducible on any thread count.
@numba.njit(cache=True)
def _totals_kernel(u, v, T, q, ps, phis, thickness, fraction):
    nlev, nlat, nlon = T.shape
    column_water = np.zeros((nlat, nlon))
    column_enthalpy = np.zeros((nlat, nlon))
    for k in range(nlev):  # level-major, as the arrays are stored
        dp = thickness[k]
        for j in range(nlat):
            for i in range(nlon):
                column_water[j, i] += q[k, j, i] * dp
                column_enthalpy[j, i] += (CP * T[k, j, i] + LV * q[k, j, i] + 0.5 * (
                    u[k, j, i] ** 2 + v[k, j, i] ** 2)) * dp
    mass = water = energy = 0.0
    for j in range(nlat):
        for i in range(nlon):
            weight = ps[j, i] * fraction[j] / GRAVITY
            mass += weight
            water += column_water[j, i] * weight
            energy += (column_enthalpy[j, i] + phis[j, i]) * weight
    return mass, water, energy


@numba.njit(cache=True)
def _sources_kernel(u, v, ps, dT, dq, du, dv, thickness, fraction):
    nlev, nlat, nlon = dT.shape
    column_water = np.zeros((nlat, nlon))
    column_energy = np.zeros((nlat, nlon))
    for k in range(nlev):
        dp = thickness[k]
        for j in range(nlat):
            for i in range(nlon):
                column_water[j, i] += dq[k, j, i] * dp
                column_energy[j, i] += (CP * dT[k, j, i] + LV * dq[k, j, i]
                                        + u[k, j, i] * du[k, j, i] + v[k, j, i] * dv[k, j, i]) * dp
    water = energy = 0.0
    for j in range(nlat):
        for i in range(nlon):
            weight = ps[j, i] * fraction[j] / GRAVITY
            water += column_water[j, i] * weight
            energy += column_energy[j, i] * weight
    return water, energy


class Ledger:
    """Expected global water and energy at the two leapfrog levels, and the fixed mass.

    The ledger follows the time stepping exactly: a step adds dt_phys x the physics'
    sources to the old level's value (2 dt for leapfrog, dt for the first forward
    step), and the Robert-Asselin-Williams filter is applied to the ledger values as to
    the state, so that for these nearly linear totals the ledger is what a perfect
    dynamical core would hold.
    """

    def __init__(self, totals: GlobalTotals):
        self.mass = totals.mass
        self.water = np.array([totals.water, totals.water])  # [old level, now level]
        self.energy = np.array([totals.energy, totals.energy])

    def deviation(self, old: GlobalTotals) -> GlobalTotals:
        """Ledger minus the actual totals of the old level: what the fixers must add."""
        return GlobalTotals(self.mass - old.mass, self.water[0] - old.water,
                            self.energy[0] - old.energy)

    def advance(self, water_source: float, energy_source: float, dt_phys: float,
                time_filter: tuple[float, float] | None) -> None:
        """New level = old level + dt_phys x source; ``time_filter`` = (nu, alpha) of the
        RAW filter, or None for the first (forward) step."""
        self.water = _step(self.water, water_source, dt_phys, time_filter)
        self.energy = _step(self.energy, energy_source, dt_phys, time_filter)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"ledger/mass": np.array(self.mass), "ledger/water": self.water.copy(),
                "ledger/energy": self.energy.copy()}

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        self.mass = float(arrays["ledger/mass"])
        self.water = np.array(arrays["ledger/water"], dtype=float)
        self.energy = np.array(arrays["ledger/energy"], dtype=float)


def _step(levels: np.ndarray, source: float, dt_phys: float, time_filter) -> np.ndarray:
    old, now = levels
    new = old + dt_phys * source
    if time_filter is not None:
        now, new = raw_filter(old, now, new, *time_filter)
    return np.array([now, new])


def fixer_diagnostics(corrections: GlobalTotals, dt_phys: float, fixers) -> dict[str, float]:
    """The fixers' corrections of one step as rates, for the interval means: fixer_mass
    (kg m-2 s-1), fixer_water (kg m-2 s-1), fixer_energy (W m-2); zero for a fixer that is
    off (``fixers``: gcm.config.FixersConfig)."""
    return {"fixer_mass": corrections.mass / dt_phys * fixers.mass,
            "fixer_water": corrections.water / dt_phys * fixers.water,
            "fixer_energy": corrections.energy / dt_phys * fixers.energy}


def apply_fixers(new, corrections: GlobalTotals, old: GlobalTotals, fixers, unfix,
                 unit_coefficient: float) -> None:
    """Remove the measured global errors ``corrections`` (ledger minus the old level's
    totals ``old``) from the new level ``new`` (a gcm.state.SpectralState, changed in
    place), for the fixers on in ``fixers`` (gcm.config.FixersConfig): ln ps is shifted
    for mass, q scaled for water, T' shifted uniformly for energy. ``unfix``
    (gcm.old_level_grid.Unfix) records each change so the carried old-level grid can
    undo it; ``unit_coefficient`` is the spectral coefficient (0, 0) of a field equal
    to 1 everywhere."""
    d = corrections
    if fixers.mass and d.mass:
        unfix.log_pressure = np.log1p(d.mass / old.mass)
        new.log_surface_pressure[0, 0] += unit_coefficient * unfix.log_pressure
    # a dry atmosphere carries only round-off humidity: scaling noise by the ratio
    # of two noise-level totals would amplify it, so the fixer needs real water
    if fixers.water and d.water and old.water > 1e-6:
        unfix.humidity_factor = 1.0 + d.water / old.water
        new.humidity *= unfix.humidity_factor
    if fixers.energy and d.energy:
        unfix.temperature = d.energy / (CP * old.mass)
        new.temperature[:, 0, 0] += unit_coefficient * unfix.temperature


class IntervalMeans:
    """Running sums of diagnostics over one output interval: ``means()`` reads their
    averages (without changing them), ``reset(step)`` starts the next interval.

    ``start_step`` is the model step at which the current interval began (-1 where a
    restart from an older file did not record it)."""

    def __init__(self):
        self.sums: dict[str, np.ndarray] = {}
        self.count = 0
        self.start_step = 0

    def add(self, values: dict[str, np.ndarray | float]) -> None:
        for name, value in values.items():
            if name in self.sums:
                self.sums[name] = self.sums[name] + value
            else:
                self.sums[name] = np.array(value, dtype=float, copy=True)
        self.count += 1

    def means(self) -> dict[str, np.ndarray]:
        """The averages since the interval began (empty before any step)."""
        return {k: v / max(self.count, 1) for k, v in self.sums.items()}

    def reset(self, step: int) -> None:
        """Start a new interval at model step ``step``."""
        self.sums, self.count, self.start_step = {}, 0, int(step)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {f"means/{k}": v for k, v in self.sums.items()}
        out["means_count"] = np.array(self.count)
        out["means_start_step"] = np.array(self.start_step)
        return out

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        self.sums = {k.split("/", 1)[1]: np.array(v) for k, v in arrays.items()
                     if k.startswith("means/")}
        self.count = int(arrays.get("means_count", 0))
        self.start_step = int(arrays.get("means_start_step", -1))
