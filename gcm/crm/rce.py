"""Radiative–convective equilibrium (RCE) of one CRM over a fixed-temperature sea: the
single-column test of the superparameterization's CRM with all its physics (Kessler warm
rain, the GCM's bulk surface fluxes and gray radiation per x-column).

Setting (as in the RCE experiments of Held, Hemler & Ramaswamy 1993, J. Atmos. Sci., 50,
3909–3927, and the RCEMIP protocol of Wing et al. 2018, Geosci. Model Dev., 11, 793–813, but
with the GCM's gray radiation): SST fixed (300 K), no rotation, no large-scale forcing, no
mean wind; the sea supplies heat and water, radiation cools the atmosphere, and convection
carries the one to the other. In equilibrium precipitation equals evaporation and the
troposphere's temperature follows a moist adiabat from the boundary layer.

The start is deliberately not moist-adiabatic: a constant 6.5 K/km lapse rate from 2 K below
the SST up to 200 K, isothermal above, relative humidity 80 % below the tropopause (dry
above), and 0.1 K noise in the lowest kilometre; the base state is hydrostatic for it.

``moist_adiabat`` is computed independently of the CRM's saturation adjustment: the
pseudo-adiabat of the CRM's simplified thermodynamics (constant Lv, cp of dry air, no heat
capacity of water; reversible and pseudo-adiabats then coincide), i.e. the saturated
profile of constant moist static energy cp T + g z + Lv q_s(T, p0(z)) above the lifting
condensation level and a dry adiabat below it, solved by Newton's method level by level.
"""

from dataclasses import dataclass

import numpy as np

from gcm.constants import CP, GRAVITY, KAPPA, LV, P0, RD
from gcm.crm.base_state import BaseState
from gcm.crm.grid import CrmGrid
from gcm.crm.microphysics import Kessler
from gcm.crm.model import Crm, CrmState
from gcm.crm.radiation import CrmRadiation
from gcm.crm.surface_fluxes import CrmSurfaceFluxes
from gcm.physics.saturation import (
    saturation_specific_humidity,
    saturation_specific_humidity_derivative,
)

LAPSE_RATE = 6.5e-3  # K m-1, the initial troposphere's
STRATOSPHERE = 200.0  # K, the initial stratosphere's temperature
RELATIVE_HUMIDITY = 0.8  # the initial troposphere's
NOISE = 0.1  # K, in the lowest kilometre
FINE_SPACING = 10.0  # m, the hydrostatic integral's step for the base state


@dataclass(frozen=True)
class RceConfig:
    """nx, dx (m), nz, dz (m): the CRM grid; dt: step, s; nu, kappa: eddy viscosity and
    diffusivity, m2 s-1, of mixing "constant" (0 with "smagorinsky"); sst: K; insolation:
    SOLIN, W m-2 (the equatorial perpetual-equinox mean S0/π; the default gray atmosphere
    is transparent to it); radiation_interval: steps between radiation calls; mixing: ``Crm``'s
    (Smagorinsky: with it the lowest layer ends 2 K warmer and the troposphere nearer the
    moist adiabat than with ν = 30 m2/s, κ = 0; README, "Boundary fluxes and RCE")."""

    nx: int = 32
    dx: float = 4000.0
    nz: int = 40
    dz: float = 500.0
    dt: float = 15.0
    nu: float = 0.0
    kappa: float = 0.0
    sst: float = 300.0
    insolation: float = 1360.0 / np.pi
    radiation_interval: int = 4
    mixing: str = "smagorinsky"

    @property
    def grid(self) -> CrmGrid:
        return CrmGrid(self.nx, self.nz, self.dx, self.dz)


def initial_temperature(sst: float, heights: np.ndarray) -> np.ndarray:
    """The initial sounding, K: 6.5 K/km from sst − 2 K, not below STRATOSPHERE."""
    return np.maximum(sst - 2.0 - LAPSE_RATE * heights, STRATOSPHERE)


def initial_base_state(config: RceConfig) -> BaseState:
    """The hydrostatic base state of the initial sounding (dry θ; vapour's weight ignored)."""
    grid = config.grid
    fine = np.arange(0.0, grid.z_faces[-1] + FINE_SPACING, FINE_SPACING)
    temperature = initial_temperature(config.sst, fine)
    inverse = 1.0 / temperature
    log_p = np.log(P0) - GRAVITY / RD * np.concatenate(
        ([0.0], np.cumsum(0.5 * (inverse[1:] + inverse[:-1]) * np.diff(fine))))
    theta = temperature * np.exp(KAPPA * (np.log(P0) - log_p))
    return BaseState.from_theta(grid, lambda z: np.interp(z, fine, theta))


def build(config: RceConfig) -> Crm:
    """The moist CRM with Kessler rain, surface fluxes and gray radiation for ``config``."""
    grid = config.grid
    base = initial_base_state(config)
    processes = (Kessler(grid, base),
                 CrmSurfaceFluxes(grid, base, sst=config.sst),
                 CrmRadiation(grid, base, sst=config.sst, insolation=config.insolation,
                              interval=config.radiation_interval))
    return Crm(grid, base, dt=config.dt, nu=config.nu, kappa=config.kappa, moist=True,
               processes=processes, mixing=config.mixing)


def initial_state(model: Crm, config: RceConfig, seed: int = 0) -> CrmState:
    """One CRM at rest in the initial sounding with noise (see the module docstring)."""
    grid, profiles = model.grid, model.profiles
    z = grid.z_centres
    temperature = initial_temperature(config.sst, z)
    qs = saturation_specific_humidity(temperature, profiles.pressure)
    vapour = np.where(temperature > STRATOSPHERE, RELATIVE_HUMIDITY * qs, 1e-6)
    noise = np.random.default_rng(seed).normal(0.0, NOISE, (grid.nz, grid.nx)) * (z < 1000.0)[
        :, None]
    state = model.rest_state(1)
    state.scalar("thermo")[0] = profiles.field_from_liquid_temperature(temperature[:, None]
                                                                       + noise)
    state.scalar("qt")[0] = vapour[:, None]
    return state


def moist_adiabat(temperature: float, vapour: float, heights: np.ndarray,
                  pressure: np.ndarray) -> np.ndarray:
    """T (K) of a parcel lifted from the first of ``heights`` (m) with temperature and
    vapour (kg kg-1) there, at the pressures ``pressure`` (Pa) of the heights: dry-adiabatic
    (cp T + g z constant) until saturated, then constant cp T + g z + Lv q_s(T, p)."""
    energy = CP * temperature + GRAVITY * heights[0] + LV * vapour
    out = np.empty(len(heights))
    for j, (z, p) in enumerate(zip(heights, pressure, strict=True)):
        dry = temperature - GRAVITY * (z - heights[0]) / CP
        if vapour <= saturation_specific_humidity(dry, p):
            out[j] = dry
            continue
        t = dry
        for _ in range(50):  # Newton on f(T) = cp T + g z + Lv q_s(T, p) − energy, f' > 0
            step = ((CP * t + GRAVITY * z + LV * saturation_specific_humidity(t, p) - energy)
                    / (CP + LV * saturation_specific_humidity_derivative(t, p)))
            t -= step
            if abs(step) < 1e-10:
                break
        out[j] = t
    return out


def tropopause(temperature: np.ndarray, heights: np.ndarray, threshold: float = 2e-3) -> dict:
    """The cold point (height m, T K) and the lapse-rate tropopause: the lowest height
    above 5 km where −dT/dz falls below ``threshold`` (K m-1; WMO: 2 K/km), m (NaN if none)."""
    cold = int(np.argmin(temperature))
    lapse = -np.diff(temperature) / np.diff(heights)
    middle = 0.5 * (heights[1:] + heights[:-1])
    below = np.nonzero((lapse < threshold) & (middle > 5000.0))[0]
    return {"cold_point_m": float(heights[cold]), "cold_point_K": float(temperature[cold]),
            "lapse_rate_tropopause_m": float(middle[below[0]]) if len(below) else float("nan")}


def mean_lapse_rate(temperature: np.ndarray, heights: np.ndarray, bottom: float,
                    top: float) -> float:
    """(T(bottom) − T(top)) / (top − bottom), K m-1, T interpolated linearly."""
    return float((np.interp(bottom, heights, temperature) - np.interp(top, heights, temperature))
                 / (top - bottom))
