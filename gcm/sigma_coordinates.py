"""Sigma vertical coordinate and the Simmons–Burridge vertical discretization.

Levels are numbered from the model top (k = 0) to the level nearest the surface
(k = nlev - 1), as in CAM, CBRAIN and ClimSim. Interfaces ("half levels") are
numbered 0..nlev with sigma_half[0] = 0 (model top) and sigma_half[nlev] = 1.

The discretization of the hydrostatic equation and of the energy-conversion term
follows Simmons, A. J., and D. M. Burridge, 1981: An energy and angular-momentum
conserving vertical finite-difference scheme and hybrid vertical coordinates.
Mon. Wea. Rev., 109, 758-766 (their eqs. 3.17-3.20 with A = 0, B = sigma). The
names ``alpha`` and ``log_ratio`` are theirs.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SigmaCoordinates:
    """Interface sigma values, shape (nlev + 1,), increasing from 0 at the top to 1."""

    half: np.ndarray

    def __post_init__(self):
        half = np.asarray(self.half, dtype=np.float64)
        if half.ndim != 1 or half.size < 2:
            raise ValueError(f"sigma half levels must be a 1-D list of >= 2 values, got {half!r}")
        if half[0] != 0.0 or half[-1] != 1.0 or np.any(np.diff(half) <= 0):
            raise ValueError(
                "sigma half levels must increase strictly from 0 (model top) to 1 (surface), "
                f"got {np.array2string(half, precision=4)}"
            )
        object.__setattr__(self, "half", half)

    @property
    def nlev(self) -> int:
        return self.half.size - 1

    @property
    def thickness(self) -> np.ndarray:
        """Layer thickness in sigma, (nlev,); sums to 1."""
        return np.diff(self.half)

    @property
    def log_ratio(self) -> np.ndarray:
        """ln(sigma_{k+1/2} / sigma_{k-1/2}), (nlev,); 0 for the top layer, where the
        Simmons-Burridge sums never use it (sigma_{1/2} = 0)."""
        out = np.zeros(self.nlev)
        out[1:] = np.log(self.half[2:] / self.half[1:-1])
        return out

    @property
    def alpha(self) -> np.ndarray:
        """Simmons-Burridge alpha_k, (nlev,): ln 2 at the top, else
        1 - sigma_{k-1/2} / dsigma_k * ln(sigma_{k+1/2}/sigma_{k-1/2})."""
        out = np.empty(self.nlev)
        out[0] = np.log(2.0)
        out[1:] = 1.0 - self.half[1:-1] / self.thickness[1:] * self.log_ratio[1:]
        return out

    @property
    def full(self) -> np.ndarray:
        """Full-level sigma, (nlev,), defined so that the hydrostatic relation is exact
        for an isothermal atmosphere: ln sigma_k = ln sigma_{k+1/2} - alpha_k."""
        return self.half[1:] * np.exp(-self.alpha)

    def geopotential_matrix(self, gas_constant: float) -> np.ndarray:
        """Matrix G (nlev, nlev) with Phi_k - Phi_s = sum_j G[k, j] T_j, m2 s-2 K-1."""
        nlev = self.nlev
        G = np.zeros((nlev, nlev))
        for k in range(nlev):
            G[k, k] = gas_constant * self.alpha[k]
            G[k, k + 1 :] = gas_constant * self.log_ratio[k + 1 :]
        return G


def equally_spaced(nlev: int) -> SigmaCoordinates:
    """nlev layers of equal sigma thickness (Held & Suarez 1994 used 20)."""
    return SigmaCoordinates(np.linspace(0.0, 1.0, nlev + 1))


def uneven_sigma(
    nlev: int, surface_resolution: float = 0.05, scale_heights: float = 5.0, exponent: float = 3.0
) -> SigmaCoordinates:
    """Levels concentrated near the surface, Isca's ``uneven_sigma`` formula: with
    zeta = 1 - k/nlev, z = surface_resolution * zeta + (1 - surface_resolution) * zeta**exponent
    and sigma_half = exp(-scale_heights * z), the top interface set to 0. The defaults
    reproduce the Frierson et al. (2006) L25 list to 6e-8 when nlev = 25."""
    zeta = 1.0 - np.arange(nlev + 1) / nlev
    z = surface_resolution * zeta + (1.0 - surface_resolution) * zeta**exponent
    half = np.exp(-scale_heights * z)
    half[0] = 0.0
    half[-1] = 1.0
    return SigmaCoordinates(half)


# Frierson, Held & Zurita-Gotor (2006), J. Atmos. Sci. 63, 2548-2566: the 25 half levels
# of their gray moist model, as listed in Isca's frierson_test_case.py.
FRIERSON_L25_HALF = (
    0.0, 0.0117665, 0.0196679, 0.0315244, 0.0485411, 0.0719344, 0.1027829, 0.1418581,
    0.1894648, 0.2453219, 0.3085103, 0.3775033, 0.4502789, 0.5244989, 0.5977253, 0.6676441,
    0.7322627, 0.7900587, 0.8400683, 0.8819111, 0.9157609, 0.9422770, 0.9625127, 0.9778177,
    0.9897489, 1.0,
)


def _fixed_set(name: str, half: tuple[float, ...]):
    def build(nlev: int) -> SigmaCoordinates:
        if nlev != len(half) - 1:
            raise ValueError(f"sigma level set {name!r} has {len(half) - 1} levels, not {nlev}")
        return SigmaCoordinates(np.array(half))

    return build


def _held_suarez_set(nlev: int) -> SigmaCoordinates:
    """The GFDL Held-Suarez benchmark levels: 20 equally spaced sigma layers."""
    if nlev != 20:
        raise ValueError(f"sigma level set 'held_suarez' has 20 levels, not {nlev}")
    return equally_spaced(20)


SIGMA_SETS = {
    "equal": equally_spaced,
    "held_suarez": _held_suarez_set,
    "frierson_l25": _fixed_set("frierson_l25", FRIERSON_L25_HALF),
    "uneven": uneven_sigma,
}


def sigma_coordinates(kind: str, nlev: int) -> SigmaCoordinates:
    """The named level set with nlev layers; see SIGMA_SETS for the names."""
    if kind not in SIGMA_SETS:
        raise ValueError(f"unknown sigma level set {kind!r}; choose one of {sorted(SIGMA_SETS)}")
    return SIGMA_SETS[kind](nlev)
