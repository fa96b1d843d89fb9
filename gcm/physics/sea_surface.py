"""Prescribed sea-surface temperature of the fixed-SST aquaplanet, as functions of latitude.

Neale, R. B., and B. J. Hoskins, 2000: A standard test for AGCMs including their
physical parametrizations: I: The proposal. Atmos. Sci. Lett., 1, 101-107. Their
zonally symmetric profiles, with phi the latitude, are 0 degC poleward of 60 degrees and,
for |phi| < 60 degrees (pi/3),

    Control:  T_s = 27 (1 - sin^2(3 phi / 2))                          degC
    Qobs:     T_s = 27 (1 - (sin^2(3 phi / 2) + sin^4(3 phi / 2)) / 2)  degC

(Qobs is the average of Control and their 'Flat' profile 27 (1 - sin^4(3 phi / 2))).

Rasp, S., M. S. Pritchard, and P. Gentine, 2018: Deep learning to represent subgrid
processes in climate models. PNAS, 115, 9684-9689: their out-of-distribution test
warms the control SST by 4 K everywhere ("ape_plus4k").

SpeedyWeather.jl's ``AquaPlanet`` ocean: T_s = 273 + 29 cos^2(phi) K ("cos2"), i.e.
302 K at the equator and 273 K at the poles.

Every profile maps latitude (radians, any shape) to SST in K.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

ZERO_CELSIUS = 273.15  # K
APE_MAXIMUM = 27.0  # equatorial SST of the APE profiles, degC
APE_EDGE = np.pi / 3.0  # latitude poleward of which the APE profiles are 0 degC, radians
PLUS4K_WARMING = 4.0  # uniform warming of the Rasp et al. (2018) test, K
COS2_POLE = 273.0  # SpeedyWeather AquaPlanet polar SST, K
COS2_RANGE = 29.0  # SpeedyWeather AquaPlanet equator-minus-pole SST, K


def _as_latitude(latitude) -> np.ndarray:
    return np.asarray(latitude, dtype=np.float64)


def ape_control(latitude) -> np.ndarray:
    """APE 'Control' SST (K) at latitude (radians)."""
    lat = _as_latitude(latitude)
    s2 = np.sin(1.5 * lat) ** 2
    return ZERO_CELSIUS + np.where(np.abs(lat) < APE_EDGE, APE_MAXIMUM * (1.0 - s2), 0.0)


def ape_plus4k(latitude) -> np.ndarray:
    """APE 'Control' SST + 4 K everywhere (K), the Rasp et al. (2018) warm test."""
    return ape_control(latitude) + PLUS4K_WARMING


def ape_qobs(latitude) -> np.ndarray:
    """APE 'Qobs' SST (K): the average of the Control and Flat profiles."""
    lat = _as_latitude(latitude)
    s2 = np.sin(1.5 * lat) ** 2
    profile = APE_MAXIMUM * (1.0 - 0.5 * (s2 + s2 * s2))
    return ZERO_CELSIUS + np.where(np.abs(lat) < APE_EDGE, profile, 0.0)


def cos2(latitude) -> np.ndarray:
    """SpeedyWeather.jl AquaPlanet SST (K): 273 + 29 cos^2(latitude)."""
    lat = _as_latitude(latitude)
    return COS2_POLE + COS2_RANGE * np.cos(lat) ** 2


# Name (as written in a configuration) -> profile of latitude (radians) in K.
SST_PROFILES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "ape_control": ape_control,
    "ape_plus4k": ape_plus4k,
    "ape_qobs": ape_qobs,
    "cos2": cos2,
}


def sea_surface_temperature(name: str, latitude, offset: float = 0.0) -> np.ndarray:
    """SST (K) of the profile ``name`` at ``latitude`` (radians, any shape), plus a
    uniform ``offset`` (K). Raises ValueError for an unknown name."""
    try:
        profile = SST_PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(SST_PROFILES))
        raise ValueError(f"unknown SST profile {name!r}; known profiles: {known}") from None
    return profile(latitude) + float(offset)
