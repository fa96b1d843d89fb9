"""Gaussian latitude-longitude grids for triangularly truncated spectral models.

The collocation grid of a spectral transform model has equally spaced longitudes and
Gaussian latitudes: the latitudes whose sines μ_j are the roots of the Legendre
polynomial P_nlat(μ).  Gauss-Legendre quadrature on these nodes integrates polynomials
in μ of degree <= 2 nlat - 1 exactly, which is what makes the Legendre transform exact
for band-limited fields (Hoskins & Simmons 1975, QJRMS 101, 637-655; Machenhauer 1979,
GARP Publ. Ser. 17).

Grid sizes follow the usual rules for a triangular truncation T:

* "quadratic" (alias-free for quadratic products such as advection terms):
  nlon >= 3T + 1 (Orszag 1970, J. Atmos. Sci. 27, 890-895);
* "linear" (alias-free for linear terms only): nlon >= 2T + 1;

in both cases rounded up to the next even integer with prime factors 2, 3, 5 only (so
the FFT is fast) and nlat = nlon // 2.  This reproduces the conventional grids
T21 64x32, T31 96x48, T42 128x64, T63 192x96, T85 256x128.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_TRUNCATION = 5
MAX_TRUNCATION = 341
GRID_KINDS = ("quadratic", "linear")


@dataclass(frozen=True, eq=False)
class GaussianGrid:
    """A Gaussian grid for triangular truncation ``truncation``.

    Attributes
    ----------
    truncation : int
        Triangular truncation T (highest total wavenumber retained).
    nlat, nlon : int
        Number of Gaussian latitudes and of equally spaced longitudes.
    mu : ndarray, shape (nlat,)
        sin(latitude) at the Gaussian nodes, ascending (south to north); exactly
        antisymmetric about the equator (mu[j] == -mu[nlat - 1 - j]).
    weights : ndarray, shape (nlat,)
        Gauss-Legendre weights on [-1, 1] (sum to 2), exactly symmetric.
    lat : ndarray, shape (nlat,)
        Latitude in degrees, ascending.
    lon : ndarray, shape (nlon,)
        Longitude in degrees, 0, 360/nlon, ..., starting at 0.
    coslat : ndarray, shape (nlat,)
        cos(latitude) = sqrt(1 - mu**2), strictly positive.

    Equality and hashing are by identity (``eq=False``): the array fields make
    value-based comparison ambiguous.
    """

    truncation: int
    nlat: int
    nlon: int
    mu: np.ndarray
    weights: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    coslat: np.ndarray

    @property
    def area_weights(self) -> np.ndarray:
        """Fraction of the sphere's area in each latitude row, shape (nlat,), sums to 1.

        The area fraction of a single grid point is ``area_weights[j] / nlon``.
        """
        return self.weights / 2.0

    @property
    def shape(self) -> tuple[int, int]:
        """Grid shape (nlat, nlon)."""
        return (self.nlat, self.nlon)


def _is_235_smooth(n: int) -> bool:
    """True if n has no prime factors other than 2, 3 and 5."""
    for p in (2, 3, 5):
        while n % p == 0:
            n //= p
    return n == 1


def _fft_friendly_even(minimum: int) -> int:
    """Smallest even integer >= minimum whose prime factors are only 2, 3, 5."""
    n = minimum + (minimum % 2)
    while not _is_235_smooth(n):
        n += 2
    return n


def _legendre_and_derivative(n: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Legendre polynomial P_n(x) and its derivative by the three-term recurrence.

    x must lie strictly inside (-1, 1) (the derivative formula divides by 1 - x²).
    """
    p_prev = np.ones_like(x)
    p = x.copy()
    for k in range(1, n):
        p_prev, p = p, ((2 * k + 1) * x * p - k * p_prev) / (k + 1)
    dp = n * (p_prev - x * p) / (1.0 - x * x)
    return p, dp


def gauss_legendre(nlat: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes (ascending) and weights on [-1, 1] to ~1e-16.

    numpy's ``leggauss`` gives the starting values; two Newton steps on P_nlat polish
    the nodes to machine precision and the weights are recomputed from the derivative,
    w = 2 / ((1 - x²) P'_n(x)²).  Nodes and weights are then symmetrised so that the
    equatorial symmetry used by the spectral transform holds bit-for-bit.
    """
    x, _ = np.polynomial.legendre.leggauss(nlat)
    for _ in range(2):
        p, dp = _legendre_and_derivative(nlat, x)
        x = x - p / dp
    _, dp = _legendre_and_derivative(nlat, x)
    w = 2.0 / ((1.0 - x * x) * dp * dp)
    x = 0.5 * (x - x[::-1])
    w = 0.5 * (w + w[::-1])
    return x, w


def grid_size(truncation: int, kind: str = "quadratic") -> tuple[int, int]:
    """(nlat, nlon) of the Gaussian grid for truncation T; see module docstring."""
    _check_truncation(truncation, kind)
    factor = 3 if kind == "quadratic" else 2
    nlon = _fft_friendly_even(factor * truncation + 1)
    return nlon // 2, nlon


def _check_truncation(truncation: int, kind: str) -> None:
    if kind not in GRID_KINDS:
        raise ValueError(
            f"unsupported grid kind {kind!r}: supported kinds are {', '.join(GRID_KINDS)}"
        )
    if not (MIN_TRUNCATION <= int(truncation) <= MAX_TRUNCATION):
        raise ValueError(
            f"unsupported truncation T{truncation}: supported range is "
            f"T{MIN_TRUNCATION} to T{MAX_TRUNCATION}"
        )


def gaussian_grid(truncation: int, kind: str = "quadratic") -> GaussianGrid:
    """Build the Gaussian grid for triangular truncation ``truncation``.

    Parameters
    ----------
    truncation : int
        Triangular truncation T, 5 <= T <= 341.
    kind : {"quadratic", "linear"}
        "quadratic": alias-free for quadratic terms (nlon >= 3T+1);
        "linear": nlon >= 2T+1.

    Raises
    ------
    ValueError
        For a truncation outside [5, 341] or an unknown kind.
    """
    nlat, nlon = grid_size(truncation, kind)
    mu, weights = gauss_legendre(nlat)
    # cos(lat) from mu directly would lose digits near the poles; (1-mu)(1+mu) keeps them.
    coslat = np.sqrt((1.0 - mu) * (1.0 + mu))
    lat = np.degrees(np.arcsin(mu))
    lon = np.arange(nlon) * (360.0 / nlon)
    for arr in (mu, weights, lat, lon, coslat):
        arr.setflags(write=False)
    return GaussianGrid(
        truncation=int(truncation),
        nlat=nlat,
        nlon=nlon,
        mu=mu,
        weights=weights,
        lat=lat,
        lon=lon,
        coslat=coslat,
    )
