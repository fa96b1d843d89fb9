"""Spherical harmonic transforms on a Gaussian grid (triangular truncation).

A field is represented by complex coefficients f[m, n] of the orthonormal associated
Legendre functions P_n^m(μ) times e^{imλ}:

    f(λ, μ) = Σ_m Σ_{n>=m} f[m, n] P_n^m(μ) e^{imλ} + complex conjugate (m > 0),

with ∫_{-1}^{1} (P_n^m)² dμ = 1.  The transform is the classical spectral transform
method (Orszag 1970; Eliasen, Machenhauer & Rasmussen 1970; Hoskins & Simmons 1975,
QJRMS 101, 637-655): an FFT in longitude and a Gauss-Legendre quadrature in latitude,
exact for band-limited fields.  Winds enter through the vorticity/divergence form of
Bourke (1972, MWR 100, 683-689) with U = u cosφ, V = v cosφ; μ-derivatives use
H_n^m = (1 - μ²) dP_n^m/dμ, and the divergence/curl of a vector field is obtained by
integrating by parts in μ so that no derivative of gridded data is needed (Hoskins &
Simmons 1975, their eqs. 4.x; Swarztrauber 1993, MWR 121, 3415-3437).

Performance notes (why the kernels look the way they do):

* P_n^m(-μ) = (-1)^{n+m} P_n^m(μ), and H has the opposite parity.  Every Legendre
  transform therefore works on one hemisphere only: synthesis accumulates a symmetric
  and an antisymmetric partial sum and combines them as north = sym + anti,
  south = sym - anti; analysis folds the two hemispheres into sym/anti first.  This
  halves the operation count (Swarztrauber 1996 and most operational models).
* Tables are stored as Ph[m, n, i] (i = hemispheric latitude), so all inner loops are
  unit-stride over latitude and vectorise.
* The numba kernels run prange over pairs (m, T - m), which makes the work per
  iteration independent of m (the triangle row m has T + 1 - m entries).
* numba cannot call an FFT, so the longitude transforms are single batched
  numpy.fft calls with norm="forward" (F_m = rfft(f) / nlon, f = irfft(F) * nlon).
"""

from __future__ import annotations

from functools import cached_property

import numba
import numpy as np

from gcm.gaussian_grid import GaussianGrid, gaussian_grid

_FASTMATH = {"reassoc", "contract"}  # lets LLVM vectorise the dot-product reductions


# ----------------------------------------------------------------------------------
# Associated Legendre functions
# ----------------------------------------------------------------------------------


@numba.njit(cache=True)
def _epsilon(n, m):
    """ε_n^m = sqrt((n² - m²) / (4n² - 1)), the coefficient in μP_n = ε_{n+1}P_{n+1} + ε_nP_{n-1}."""
    if n <= m:
        return 0.0
    return np.sqrt((n * n - m * m) / (4.0 * n * n - 1.0))


@numba.njit(cache=True)
def _legendre_tables(truncation, mu):
    """Orthonormal P_n^m(μ) and H_n^m(μ) = (1 - μ²) dP_n^m/dμ for 0 <= m <= n <= T.

    Standard stable recurrence for functions normalised to unit L2 norm on [-1, 1]:
    P_0^0 = 1/√2, P_m^m = sqrt((2m+1)/(2m)) sqrt(1-μ²) P_{m-1}^{m-1},
    P_{m+1}^m = sqrt(2m+3) μ P_m^m, P_n^m = (μ P_{n-1}^m - ε_{n-1}^m P_{n-2}^m) / ε_n^m.
    P is carried to n = T + 1 because H_T^m needs P_{T+1}^m.

    Parameters
    ----------
    truncation : int
    mu : float64 array (nmu,), values in (-1, 1)

    Returns
    -------
    P, H : float64 arrays (T+1, T+1, nmu), zero where n < m.
    """
    nm = truncation + 1
    nmu = mu.shape[0]
    p = np.zeros((nm, nm + 1, nmu))
    sinth = np.sqrt((1.0 - mu) * (1.0 + mu))
    pmm = np.full(nmu, 1.0 / np.sqrt(2.0))
    for m in range(nm):
        if m > 0:
            pmm = np.sqrt((2.0 * m + 1.0) / (2.0 * m)) * sinth * pmm
        p[m, m] = pmm
        p[m, m + 1] = np.sqrt(2.0 * m + 3.0) * mu * pmm
        for n in range(m + 2, nm + 1):
            inv_en = 1.0 / _epsilon(n, m)
            en1 = _epsilon(n - 1, m)
            for j in range(nmu):
                p[m, n, j] = inv_en * (mu[j] * p[m, n - 1, j] - en1 * p[m, n - 2, j])
    h = np.zeros((nm, nm, nmu))
    for m in range(nm):
        for n in range(m, nm):
            a = -n * _epsilon(n + 1, m)
            b = (n + 1) * _epsilon(n, m)
            for j in range(nmu):
                h[m, n, j] = a * p[m, n + 1, j]
                if n > m:
                    h[m, n, j] += b * p[m, n - 1, j]
    return np.ascontiguousarray(p[:, :nm, :]), h


def legendre_functions(truncation: int, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P_n^m(μ) (unit L2 norm on [-1, 1], no Condon-Shortley phase) and H_n^m(μ).

    Parameters
    ----------
    truncation : int
        Highest degree n (and order m) returned.
    mu : array_like (nmu,)
        Points in (-1, 1) (sin latitude).

    Returns
    -------
    P, H : ndarray (T+1, T+1, nmu), indexed [m, n, j]; H = (1 - μ²) dP/dμ; zero for n < m.
    """
    mu = np.ascontiguousarray(mu, dtype=np.float64)
    return _legendre_tables(int(truncation), mu)


# ----------------------------------------------------------------------------------
# Inner loops (unit stride over hemispheric latitude)
# ----------------------------------------------------------------------------------


@numba.njit(cache=True)
def _axpy2(yr, yi, ar, ai, x):
    """yr += ar x, yi += ai x (real and imaginary parts of y += a x)."""
    for i in range(x.shape[0]):
        yr[i] += ar * x[i]
        yi[i] += ai * x[i]


@numba.njit(cache=True)
def _axpy4(yr, yi, ar, ai, x, zr, zi, br, bi, w):
    """y += a x and z += b w in one pass (real/imag parts split)."""
    for i in range(x.shape[0]):
        yr[i] += ar * x[i]
        yi[i] += ai * x[i]
        zr[i] += br * w[i]
        zi[i] += bi * w[i]


@numba.njit(cache=True, fastmath=_FASTMATH)
def _dot2(x, ar, ai):
    """(Σ x ar, Σ x ai)."""
    sr = 0.0
    si = 0.0
    for i in range(x.shape[0]):
        sr += x[i] * ar[i]
        si += x[i] * ai[i]
    return sr, si


@numba.njit(cache=True, fastmath=_FASTMATH)
def _dot8(p, h, par, pai, pbr, pbi, har, hai, hbr, hbi):
    """Eight dot products: p with (par, pai, pbr, pbi) and h with (har, hai, hbr, hbi)."""
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    s4 = 0.0
    s5 = 0.0
    s6 = 0.0
    s7 = 0.0
    s8 = 0.0
    for i in range(p.shape[0]):
        s1 += p[i] * par[i]
        s2 += p[i] * pai[i]
        s3 += p[i] * pbr[i]
        s4 += p[i] * pbi[i]
        s5 += h[i] * har[i]
        s6 += h[i] * hai[i]
        s7 += h[i] * hbr[i]
        s8 += h[i] * hbi[i]
    return s1, s2, s3, s4, s5, s6, s7, s8


@numba.njit(cache=True)
def _unfold(out, k, m, acc, scale):
    """Write hemispheric partial sums into Fourier coefficients out[k, j, m].

    acc : (2, 2, nh) = [sym/anti, re/im, i]; north = sym + anti, south = sym - anti.
    scale : (nlat,) row factor applied on the way out.
    """
    nlat = out.shape[1]
    nh = acc.shape[2]
    for i in range(nh):
        jn = nlat - nh + i
        js = nh - 1 - i
        out[k, jn, m] = complex(acc[0, 0, i] + acc[1, 0, i], acc[0, 1, i] + acc[1, 1, i]) * scale[jn]
        out[k, js, m] = complex(acc[0, 0, i] - acc[1, 0, i], acc[0, 1, i] - acc[1, 1, i]) * scale[js]


@numba.njit(cache=True)
def _fold(four, k, m, w, work):
    """Fold Fourier coefficients four[k, :, m] into weighted sym/anti hemispheric parts.

    work : (2, 2, nh) output = [sym/anti, re/im, i]; w : (nh,) hemispheric weights.
    """
    nlat = four.shape[1]
    nh = work.shape[2]
    for i in range(nh):
        a = four[k, nlat - nh + i, m]
        b = four[k, nh - 1 - i, m]
        work[0, 0, i] = w[i] * (a.real + b.real)
        work[0, 1, i] = w[i] * (a.imag + b.imag)
        work[1, 0, i] = w[i] * (a.real - b.real)
        work[1, 1, i] = w[i] * (a.imag - b.imag)


@numba.njit(cache=True)
def _order_of(ip, side, nm):
    """m for pair index ip: side 0 -> ip, side 1 -> T - ip (or -1 if it duplicates)."""
    ip = np.int64(ip)  # prange indices may be unsigned; keep m a signed integer
    if side == 0:
        return ip
    m = nm - 1 - ip
    return np.int64(-1) if m == ip else m


# ----------------------------------------------------------------------------------
# Legendre transform kernels.  Spectral inputs are (K, T+1, T+1) complex; Fourier
# arrays are (K, nlat, nfreq) complex with m along the last axis (numpy.fft layout).
# ----------------------------------------------------------------------------------


@numba.njit(cache=True, parallel=True)
def _synthesis_scalar(spec, ph, nlat, nfreq, scale):
    """F[k, j, m] = scale[j] Σ_n spec[k, m, n] P[m, n, j]."""
    nk, nm, _ = spec.shape
    nh = ph.shape[2]
    out = np.zeros((nk, nlat, nfreq), dtype=np.complex128)
    for ip in numba.prange((nm + 1) // 2):
        acc = np.empty((2, 2, nh))
        for side in range(2):
            m = _order_of(ip, side, nm)
            if m < 0:
                continue
            for k in range(nk):
                acc[:] = 0.0
                for n in range(m, nm):
                    c = spec[k, m, n]
                    cls = (n - m) & 1  # 0: P symmetric about the equator, 1: antisymmetric
                    _axpy2(acc[cls, 0], acc[cls, 1], c.real, c.imag, ph[m, n])
                _unfold(out, k, m, acc, scale)
    return out


@numba.njit(cache=True, parallel=True)
def _analysis_scalar(four, ph, wh, nm):
    """spec[k, m, n] = Σ_j w_j F[k, j, m] P[m, n, j]; m = 0 imaginary part set to 0."""
    nk = four.shape[0]
    nh = ph.shape[2]
    spec = np.zeros((nk, nm, nm), dtype=np.complex128)
    for ip in numba.prange((nm + 1) // 2):
        work = np.empty((2, 2, nh))
        for side in range(2):
            m = _order_of(ip, side, nm)
            if m < 0:
                continue
            for k in range(nk):
                _fold(four, k, m, wh, work)
                for n in range(m, nm):
                    cls = (n - m) & 1
                    sr, si = _dot2(ph[m, n], work[cls, 0], work[cls, 1])
                    spec[k, m, n] = complex(sr, si if m > 0 else 0.0)
    return spec


@numba.njit(cache=True, parallel=True)
def _synthesis_vector(vor, div, factor, ph, hh, nlat, nfreq, scale):
    """Fourier coefficients of U, V from vorticity and divergence.

    With ψ = factor[n] vor, χ = factor[n] div (factor = inverse Laplacian):
    U_m = scale (i m Σ χ P - Σ ψ H),  V_m = scale (i m Σ ψ P + Σ χ H).
    Returns (2, K, nlat, nfreq): [U, V].
    """
    nk, nm, _ = vor.shape
    nh = ph.shape[2]
    out = np.zeros((2, nk, nlat, nfreq), dtype=np.complex128)
    for ip in numba.prange((nm + 1) // 2):
        accu = np.empty((2, 2, nh))
        accv = np.empty((2, 2, nh))
        for side in range(2):
            m = _order_of(ip, side, nm)
            if m < 0:
                continue
            for k in range(nk):
                accu[:] = 0.0
                accv[:] = 0.0
                for n in range(m, nm):
                    psi = vor[k, m, n] * factor[n]
                    chi = div[k, m, n] * factor[n]
                    c = (n - m) & 1  # parity class of P; H has the other one
                    d = 1 - c
                    p = ph[m, n]
                    h = hh[m, n]
                    _axpy4(accu[c, 0], accu[c, 1], -m * chi.imag, m * chi.real, p,
                           accu[d, 0], accu[d, 1], -psi.real, -psi.imag, h)
                    _axpy4(accv[c, 0], accv[c, 1], -m * psi.imag, m * psi.real, p,
                           accv[d, 0], accv[d, 1], chi.real, chi.imag, h)
                _unfold(out[0], k, m, accu, scale)
                _unfold(out[1], k, m, accv, scale)
    return out


@numba.njit(cache=True, parallel=True)
def _synthesis_gradient(spec, ph, hh, nlat, nfreq, scale):
    """Fourier coefficients of scale (i m Σ f P) and scale (Σ f H); returns (2, K, nlat, nfreq)."""
    nk, nm, _ = spec.shape
    nh = ph.shape[2]
    out = np.zeros((2, nk, nlat, nfreq), dtype=np.complex128)
    for ip in numba.prange((nm + 1) // 2):
        accx = np.empty((2, 2, nh))
        accy = np.empty((2, 2, nh))
        for side in range(2):
            m = _order_of(ip, side, nm)
            if m < 0:
                continue
            for k in range(nk):
                accx[:] = 0.0
                accy[:] = 0.0
                for n in range(m, nm):
                    f = spec[k, m, n]
                    c = (n - m) & 1
                    d = 1 - c
                    _axpy4(accx[c, 0], accx[c, 1], -m * f.imag, m * f.real, ph[m, n],
                           accy[d, 0], accy[d, 1], f.real, f.imag, hh[m, n])
                _unfold(out[0], k, m, accx, scale)
                _unfold(out[1], k, m, accy, scale)
    return out


@numba.njit(cache=True, parallel=True)
def _analysis_vector(four_a, four_b, ph, hh, wv, nm, want_vor):
    """Divergence and (optionally) vorticity coefficients by integration by parts in μ.

    With wv = w / (a (1 - μ²)) (or any other row weight folded in by the caller):
    div = Σ_j wv (i m A P - B H),  vor = Σ_j wv (i m B P + A H).
    Returns (vor, div), each (K, T+1, T+1); vor is all zero unless want_vor.
    """
    nk = four_a.shape[0]
    nh = ph.shape[2]
    div = np.zeros((nk, nm, nm), dtype=np.complex128)
    vor = np.zeros((nk if want_vor else 1, nm, nm), dtype=np.complex128)
    for ip in numba.prange((nm + 1) // 2):
        wa = np.empty((2, 2, nh))
        wb = np.empty((2, 2, nh))
        for side in range(2):
            m = _order_of(ip, side, nm)
            if m < 0:
                continue
            for k in range(nk):
                _fold(four_a, k, m, wv, wa)
                _fold(four_b, k, m, wv, wb)
                for n in range(m, nm):
                    c = (n - m) & 1
                    d = 1 - c
                    p = ph[m, n]
                    h = hh[m, n]
                    if want_vor:
                        ar_p, ai_p, br_p, bi_p, ar_h, ai_h, br_h, bi_h = _dot8(
                            p, h, wa[c, 0], wa[c, 1], wb[c, 0], wb[c, 1],
                            wa[d, 0], wa[d, 1], wb[d, 0], wb[d, 1])
                        vor[k, m, n] = complex(-m * bi_p + ar_h,
                                               m * br_p + ai_h if m > 0 else 0.0)
                    else:
                        ar_p, ai_p = _dot2(p, wa[c, 0], wa[c, 1])
                        br_h, bi_h = _dot2(h, wb[d, 0], wb[d, 1])
                    div[k, m, n] = complex(-m * ai_p - br_h, m * ar_p - bi_h if m > 0 else 0.0)
    return vor, div


# ----------------------------------------------------------------------------------
# Public class
# ----------------------------------------------------------------------------------


class SpectralTransform:
    """Spherical harmonic transforms between a Gaussian grid and a triangular truncation.

    Layouts
    -------
    spectral : complex128 (..., T+1, T+1) indexed [m, n]; zero for n < m.  m = 0
        coefficients describe a real field: their imaginary part is ignored on
        synthesis and is exactly 0 after analysis.
    grid : float64 (..., nlat, nlon), latitudes ascending (south to north), longitudes
        from 0.

    Any leading dimensions are batched (one FFT call and one numba call per method).

    Parameters
    ----------
    grid : GaussianGrid
    radius : float
        Planetary radius a in m (default 6.371e6).

    Attributes
    ----------
    truncation, nlat, nlon, radius
    eigenvalues : (T+1, T+1) float, -n(n+1)/a² (m-1).
    inverse_eigenvalues : (T+1, T+1) float, 1/eigenvalues with 0 at n = 0 (m²).
    n_index, m_index : (T+1, T+1) int, total / zonal wavenumber of each entry.
    valid : (T+1, T+1) bool, n >= m.
    P, H : (T+1, T+1, nlat) float, P_n^m(μ_j) and (1-μ_j²) dP_n^m/dμ (built on first use).
    """

    def __init__(self, grid: GaussianGrid, radius: float = 6.371e6):
        self.grid = grid
        self.radius = float(radius)
        self.truncation = grid.truncation
        self.nlat = grid.nlat
        self.nlon = grid.nlon
        self.nfreq = grid.nlon // 2 + 1
        nm = self.truncation + 1
        if self.truncation >= self.nfreq - 1:
            raise ValueError(f"grid with nlon={self.nlon} cannot resolve T{self.truncation}")
        self.spec_shape = (nm, nm)
        self.grid_shape = (self.nlat, self.nlon)

        a = self.radius
        self.m_index, self.n_index = np.meshgrid(np.arange(nm), np.arange(nm), indexing="ij")
        self.valid = self.n_index >= self.m_index
        nn1 = (self.n_index * (self.n_index + 1)).astype(np.float64)
        self.eigenvalues = -nn1 / a**2
        self.inverse_eigenvalues = np.zeros_like(self.eigenvalues)
        self.inverse_eigenvalues[:, 1:] = 1.0 / self.eigenvalues[:, 1:]
        # ∇⁻² as a function of n alone, for the kernels (ψ = factor[n] ζ).
        self._inv_lap_n = np.ascontiguousarray(self.inverse_eigenvalues[0])

        # Northern-hemisphere rows (equator first if nlat is odd), ascending in μ.
        self._nh = (self.nlat + 1) // 2
        rows_n = np.arange(self.nlat - self._nh, self.nlat)
        mu_h = np.ascontiguousarray(grid.mu[rows_n])
        self._ph, self._hh = _legendre_tables(self.truncation, mu_h)
        w_h = grid.weights[rows_n].copy()
        if self.nlat % 2:
            w_h[0] *= 0.5  # the equator row is folded in twice (as north and as south)
        one_minus_mu2 = grid.coslat[rows_n] ** 2
        self._w_scalar = w_h
        self._w_cos = w_h / (a * one_minus_mu2)  # for A = X cosφ, B = Y cosφ
        self._w_true = w_h / (a * grid.coslat[rows_n])  # for raw (u, v): cosφ folded in
        self._scale_one = np.ones(self.nlat)
        self._scale_cos = np.full(self.nlat, 1.0 / a)  # U = u cosφ output
        self._scale_true = 1.0 / (a * grid.coslat)  # u output: divide by cosφ

    @classmethod
    def from_truncation(
        cls, truncation: int, kind: str = "quadratic", radius: float = 6.371e6
    ) -> SpectralTransform:
        """Convenience constructor: ``SpectralTransform(gaussian_grid(T, kind), radius)``."""
        return cls(gaussian_grid(truncation, kind), radius)

    def __repr__(self) -> str:
        return (
            f"SpectralTransform(T{self.truncation}, grid {self.nlat}x{self.nlon}, "
            f"radius={self.radius:g} m)"
        )

    # -- full-sphere tables (for diagnostics and tests; kernels use hemispheric ones) --

    def _mirror(self, table: np.ndarray, parity_sign: int) -> np.ndarray:
        """Expand a hemispheric table (T+1, T+1, nh) to all latitudes (T+1, T+1, nlat)."""
        full = np.empty(self.spec_shape + (self.nlat,))
        nh = self._nh
        full[:, :, self.nlat - nh :] = table
        sign = parity_sign * (-1.0) ** (self.n_index + self.m_index)
        full[:, :, : self.nlat - nh] = (sign[:, :, None] * table)[:, :, ::-1][
            :, :, : self.nlat - nh
        ]
        return full

    @cached_property
    def P(self) -> np.ndarray:
        """P_n^m(μ_j), shape (T+1, T+1, nlat), zero for n < m."""
        return self._mirror(self._ph, 1)

    @cached_property
    def H(self) -> np.ndarray:
        """H_n^m(μ_j) = (1 - μ_j²) dP_n^m/dμ, shape (T+1, T+1, nlat), zero for n < m."""
        return self._mirror(self._hh, -1)

    # -- input handling --

    def _flat_spec(self, spec) -> tuple[np.ndarray, tuple[int, ...]]:
        spec = np.asarray(spec)
        if spec.shape[-2:] != self.spec_shape:
            raise ValueError(
                f"spectral array must end in shape {self.spec_shape}, got {spec.shape}"
            )
        lead = spec.shape[:-2]
        flat = np.ascontiguousarray(spec.reshape((-1,) + self.spec_shape), dtype=np.complex128)
        return flat, lead

    def _flat_grid(self, grid) -> tuple[np.ndarray, tuple[int, ...]]:
        grid = np.asarray(grid)
        if grid.shape[-2:] != self.grid_shape:
            raise ValueError(f"grid array must end in shape {self.grid_shape}, got {grid.shape}")
        lead = grid.shape[:-2]
        flat = np.ascontiguousarray(grid.reshape((-1,) + self.grid_shape), dtype=np.float64)
        return flat, lead

    def _fourier(self, flat_grid: np.ndarray) -> np.ndarray:
        """F_m(μ_j) = rfft(f) / nlon, shape (K, nlat, nlon//2 + 1)."""
        return np.fft.rfft(flat_grid, axis=-1, norm="forward")

    def _inverse_fourier(self, four: np.ndarray) -> np.ndarray:
        """f = Σ_m F_m e^{imλ} + c.c.; the imaginary part of F_0 is discarded by irfft."""
        return np.fft.irfft(four, n=self.nlon, axis=-1, norm="forward")

    # -- scalar transforms --

    def to_grid(self, spec: np.ndarray) -> np.ndarray:
        """Synthesis: spectral (..., T+1, T+1) complex -> grid (..., nlat, nlon) float."""
        flat, lead = self._flat_spec(spec)
        four = _synthesis_scalar(flat, self._ph, self.nlat, self.nfreq, self._scale_one)
        return self._inverse_fourier(four).reshape(lead + self.grid_shape)

    def to_spectral(self, grid: np.ndarray) -> np.ndarray:
        """Analysis: grid (..., nlat, nlon) float -> spectral (..., T+1, T+1) complex.

        Exact (to rounding) for band-limited fields; otherwise the least-squares
        projection onto the triangle evaluated by Gaussian quadrature.
        """
        flat, lead = self._flat_grid(grid)
        spec = _analysis_scalar(
            self._fourier(flat), self._ph, self._w_scalar, self.truncation + 1
        )
        return spec.reshape(lead + self.spec_shape)

    # -- spectral operators --

    def laplacian(self, spec: np.ndarray) -> np.ndarray:
        """∇²f in spectral space (units of f per m²), any leading dims."""
        return spec * self.eigenvalues

    def inverse_laplacian(self, spec: np.ndarray) -> np.ndarray:
        """∇⁻²f in spectral space (units of f times m²); the n = 0 coefficient -> 0."""
        return spec * self.inverse_eigenvalues

    def truncate(self, spec: np.ndarray) -> np.ndarray:
        """Zero the n < m entries and the imaginary part of m = 0 (returns a copy)."""
        out = np.where(self.valid, spec, 0.0).astype(np.complex128)
        out[..., 0, :] = out[..., 0, :].real
        return out

    # -- gradients and winds --

    def cos_gradient(self, spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """cosφ ∇f on the grid: gx = (1/a) ∂f/∂λ, gy = (1/a)(1 - μ²) ∂f/∂μ.

        Exact for band-limited f.  Units: f per m.  Returns two (..., nlat, nlon) arrays.
        """
        return self._gradient(spec, self._scale_cos)

    def gradient(self, spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """∇f on the grid: (eastward, northward) components = cos_gradient / cosφ."""
        return self._gradient(spec, self._scale_true)

    def _gradient(self, spec, scale):
        flat, lead = self._flat_spec(spec)
        four = _synthesis_gradient(flat, self._ph, self._hh, self.nlat, self.nfreq, scale)
        out = self._inverse_fourier(four)
        return out[0].reshape(lead + self.grid_shape), out[1].reshape(lead + self.grid_shape)

    def cos_uv_from_vordiv(
        self, vor: np.ndarray, div: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """U = u cosφ, V = v cosφ (m s-1) on the grid from spectral vorticity, divergence (s-1).

        ψ = ∇⁻²ζ, χ = ∇⁻²D;  U = (1/a)[∂χ/∂λ - (1-μ²)∂ψ/∂μ],
        V = (1/a)[∂ψ/∂λ + (1-μ²)∂χ/∂μ].  The n = 0 coefficients are ignored.
        vor and div must have the same shape (..., T+1, T+1).
        """
        return self._uv(vor, div, self._scale_cos)

    def uv_from_vordiv(self, vor: np.ndarray, div: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """True winds (u, v) in m s-1 on the grid (cos_uv_from_vordiv / cosφ)."""
        return self._uv(vor, div, self._scale_true)

    def _uv(self, vor, div, scale):
        fvor, lead = self._flat_spec(vor)
        fdiv, lead_d = self._flat_spec(div)
        if lead != lead_d:
            raise ValueError(f"vor and div shapes differ: {np.shape(vor)} vs {np.shape(div)}")
        four = _synthesis_vector(
            fvor, fdiv, self._inv_lap_n, self._ph, self._hh, self.nlat, self.nfreq, scale
        )
        out = self._inverse_fourier(four)
        return out[0].reshape(lead + self.grid_shape), out[1].reshape(lead + self.grid_shape)

    def vordiv_from_cos_uv(self, A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Spectral curl and divergence of (X, Y) given A = X cosφ, B = Y cosφ on the grid.

        div = 1/(a(1-μ²)) [∂A/∂λ + (1-μ²)∂B/∂μ],
        vor = 1/(a(1-μ²)) [∂B/∂λ - (1-μ²)∂A/∂μ],
        evaluated by integration by parts in μ (no derivative of gridded data).
        Units: (units of X) per m.  Returns (vor, div), each (..., T+1, T+1).
        """
        return self._vordiv(A, B, self._w_cos, want_vor=True)

    def divergence_from_cos_uv(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """Only the divergence of vordiv_from_cos_uv (about half the Legendre work)."""
        return self._vordiv(A, B, self._w_cos, want_vor=False)[1]

    def vordiv_from_uv(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Spectral (vor, div) from true grid winds (u, v); cosφ is folded into the weights."""
        return self._vordiv(u, v, self._w_true, want_vor=True)

    def _vordiv(self, A, B, weights, want_vor):
        fa, lead = self._flat_grid(A)
        fb, lead_b = self._flat_grid(B)
        if lead != lead_b:
            raise ValueError(f"A and B shapes differ: {np.shape(A)} vs {np.shape(B)}")
        vor, div = _analysis_vector(
            self._fourier(fa), self._fourier(fb), self._ph, self._hh, weights,
            self.truncation + 1, want_vor,
        )
        shape = lead + self.spec_shape
        return (vor.reshape(shape) if want_vor else None), div.reshape(shape)

    # -- diagnostics --

    def global_mean(self, grid: np.ndarray) -> np.ndarray:
        """Area-weighted global mean of grid fields (..., nlat, nlon) -> (...)."""
        zonal = np.asarray(grid).mean(axis=-1)
        return zonal @ self.grid.area_weights
