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

import numpy as np

from gcm.constants import CP, GRAVITY, LV


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
    ps = grid["ps"]
    dm = thickness[:, None, None] * ps[None] / GRAVITY * fraction[None]  # kg m-2 per point
    enthalpy = CP * grid["T"] + LV * grid["q"] + 0.5 * (grid["u"] ** 2 + grid["v"] ** 2)
    return GlobalTotals(
        mass=float((ps * fraction).sum() / GRAVITY),
        water=float((grid["q"] * dm).sum()),
        energy=float((enthalpy * dm).sum() + (phis * ps * fraction).sum() / GRAVITY),
    )


def physics_sources(grid: dict, tend: dict, thickness: np.ndarray, fraction: np.ndarray
                    ) -> tuple[float, float]:
    """Global-mean water (kg m-2 s-1) and energy (W m-2) that physics tendencies
    (T, q, u, v as (nlev, nlat, nlon)) put into the atmosphere of ``grid``."""
    dm = thickness[:, None, None] * grid["ps"][None] / GRAVITY * fraction[None]
    water = float((tend["q"] * dm).sum())
    energy = float(((CP * tend["T"] + LV * tend["q"] + grid["u"] * tend["u"]
                     + grid["v"] * tend["v"]) * dm).sum())
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
        nu, alpha = time_filter
        d = 0.5 * nu * (old - 2.0 * now + new)
        now, new = now + alpha * d, new - (1.0 - alpha) * d
    return np.array([now, new])


class IntervalMeans:
    """Running sums of diagnostics between two outputs; ``means()`` averages and resets."""

    def __init__(self):
        self.sums: dict[str, np.ndarray] = {}
        self.count = 0

    def add(self, values: dict[str, np.ndarray | float]) -> None:
        for name, value in values.items():
            if name in self.sums:
                self.sums[name] = self.sums[name] + value
            else:
                self.sums[name] = np.array(value, dtype=float, copy=True)
        self.count += 1

    def means(self) -> dict[str, np.ndarray]:
        out = {k: v / max(self.count, 1) for k, v in self.sums.items()}
        self.sums, self.count = {}, 0
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        out = {f"means/{k}": v for k, v in self.sums.items()}
        out["means_count"] = np.array(self.count)
        return out

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        self.sums = {k.split("/", 1)[1]: np.array(v) for k, v in arrays.items()
                     if k.startswith("means/")}
        self.count = int(arrays.get("means_count", 0))
