"""Spherical harmonic transforms on a Gaussian grid (triangular truncation).

A field is represented by complex coefficients f[m, n] of the orthonormal associated
Legendre functions P_n^m(μ) times e^{imλ}:

    f(λ, μ) = Σ_m Σ_{n>=m} f[m, n] P_n^m(μ) e^{imλ} + complex conjugate (m > 0),

with ∫_{-1}^{1} (P_n^m)² dμ = 1.  The transform is the classical spectral transform
method (Orszag 1970, J. Atmos. Sci. 27, 890; Eliasen, Machenhauer & Rasmussen 1970;
Hoskins & Simmons 1975, QJRMS 101, 637-655): an FFT in longitude and Gauss-Legendre
quadrature in latitude, exact for band-limited fields.  Winds enter through the
vorticity/divergence form of Bourke (1972, MWR 100, 683-689), with U = u cosφ and
V = v cosφ, and μ-derivatives use H_n^m = (1 - μ²) dP_n^m/dμ.  The divergence and
curl of gridded vectors are computed by integration by parts in μ, so no derivative
of gridded data is ever taken (Hoskins & Simmons 1975; Machenhauer 1979, GARP Publ.
Ser. 17).

Derivatives are applied in spectral space.  The recurrence

    H_n^m = -n ε_{n+1}^m P_{n+1}^m + (n+1) ε_n^m P_{n-1}^m,  ε_n^m = sqrt((n²-m²)/(4n²-1)),

turns every sum over H into a sum over P with re-combined coefficients on the
"extended" triangle n <= T + 1 (the identity is exact, so nothing is lost; compare
the vector harmonic formulation of Swarztrauber 1993, MWR 121, 3415-3437).
Synthesis of (U, V) or of a gradient is then two scalar
Legendre syntheses, and the vorticity/divergence analysis is two scalar Legendre
analyses followed by a cheap spectral recombination.  This halves the Legendre work
compared with separate P and H passes and keeps a single, well-tuned kernel pair.

Performance notes (why the kernels look the way they do):

* P_n^m(-μ) = (-1)^{n+m} P_n^m(μ).  Each Legendre transform works on one hemisphere:
  synthesis accumulates symmetric (n+m even) and antisymmetric (n+m odd) partial sums
  and writes north = sym + anti, south = sym - anti; analysis folds the hemispheres
  into sym/anti first.  This halves the operation count.
* The table is stored as P[m, n, i] (i = hemispheric latitude, zero-padded to a
  multiple of 4) so that inner loops are unit-stride over latitude and vectorise.
* Fourier coefficients are kept latitude-major, (batch, latitude, m), the layout the
  FFTs read and write, and the kernels read or write one (batch, m) column of it with a
  stride.  (An m-major layout with contiguous kernel rows was slower: the transposed
  copies it needed on both sides of every FFT cost more than the strided access.)
  Synthesis also writes the zeros of T < m < nlon/2: scipy's irfft can pad a short
  input itself, but does it on one thread, at half the cost of the whole FFT.
* The numba kernels run prange over batch entries (levels and fields), each thread
  doing all m of its entries: one entry's Fourier coefficients (nlat x nfreq, 66 kB at
  T42) then stay in the core's cache while its m columns are written or read.  (Pairs
  (m, T - m) in parallel, with all entries for each m, read each Fourier cache line
  several times from far memory; they were 10-45 % slower at 25-100 entries.)  A single
  field runs on one thread.
* numba cannot call an FFT, so the longitude transforms are single batched calls
  (F_m = rfft(f) / nlon, f = irfft(F) * nlon) to ducc0's FFT, the successor of the
  pocketfft inside numpy and scipy, which vectorizes across rows: 1.4-1.6x scipy's speed
  on the T42L25 batches (2 threads), the same results to round-off. Without ducc0 the
  transforms use scipy.fft (set GCM_FFT=scipy to choose it).
"""

from __future__ import annotations

import os
from functools import cached_property

import numba
import numpy as np
import scipy.fft

try:
    import ducc0
except ImportError:  # pragma: no cover - ducc0 is a dependency; scipy is the fallback
    ducc0 = None

from gcm.gaussian_grid import GaussianGrid, gaussian_grid
from gcm.timing import NULL_TIMER

# "contract" gives fused multiply-adds, "reassoc" lets LLVM vectorise the dot-product
# reductions of the analysis; both change results only at the rounding level.
_FASTMATH = {"reassoc", "contract"}
_LAT_BLOCK = 4  # hemispheric latitudes are padded to a multiple of this (SIMD width)



def fft_engine() -> str:
    """The longitude FFT in use: "ducc0" if installed, else "scipy"; GCM_FFT=scipy
    chooses scipy. Both split independent rows over threads (bitwise the same for any
    number of threads)."""
    choice = os.environ.get("GCM_FFT", "ducc0" if ducc0 is not None else "scipy")
    if choice not in ("ducc0", "scipy"):
        raise ValueError(f"GCM_FFT={choice!r}: choose 'ducc0' or 'scipy'")
    if choice == "ducc0" and ducc0 is None:
        raise ValueError("GCM_FFT=ducc0 but the ducc0 package is not installed")
    return choice


# ----------------------------------------------------------------------------------
# Associated Legendre functions
# ----------------------------------------------------------------------------------


@numba.njit(cache=True)
def _epsilon(n, m):
    """ε_n^m = sqrt((n² - m²)/(4n² - 1)), from μ P_n = ε_{n+1} P_{n+1} + ε_n P_{n-1}."""
    if n <= m:
        return 0.0
    return np.sqrt((n * n - m * m) / (4.0 * n * n - 1.0))


@numba.njit(cache=True)
def _legendre_tables(truncation, mu):
    """Orthonormal P_n^m(μ) for n <= T + 1 and H_n^m(μ) = (1 - μ²) dP_n^m/dμ for n <= T.

    Standard stable recurrence for functions normalised to unit L2 norm on [-1, 1]:
    P_0^0 = 1/√2, P_m^m = sqrt((2m+1)/(2m)) sqrt(1-μ²) P_{m-1}^{m-1},
    P_{m+1}^m = sqrt(2m+3) μ P_m^m, P_n^m = (μ P_{n-1}^m - ε_{n-1}^m P_{n-2}^m) / ε_n^m.
    (Near the poles P_m^m underflows to 0 for very large m; the true values are
    below 1e-300 there, so nothing is lost.)

    Parameters
    ----------
    truncation : int
    mu : float64 array (nmu,), values in (-1, 1)

    Returns
    -------
    P : (T+1, T+2, nmu), zero where n < m.  H : (T+1, T+1, nmu), zero where n < m.
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
            b = (n + 1) * _epsilon(n, m)  # zero for n = m, so P_{m-1}^m is never needed
            for j in range(nmu):
                h[m, n, j] = a * p[m, n + 1, j] + (b * p[m, n - 1, j] if n > m else 0.0)
    return p, h


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
    p, h = _legendre_tables(int(truncation), mu)
    return np.ascontiguousarray(p[:, : truncation + 1]), h


# ----------------------------------------------------------------------------------
# Row helpers.  One "row" is one (batch k, zonal wavenumber m) pair:
#   spectral row  : (T+1,) or (T+2,) complex coefficients indexed by n
#   Fourier row   : (nlat,) complex F_m(μ_j), j ascending in μ (a strided view)
#   table row     : ptab[m], (T+2, nhp) float, P_n^m at the northern rows
#                   i = 0.. (equator side first), zero for padding rows i >= nh
#   accumulators  : (2, 2, nhp) float = [sym/anti, real/imag, i]
# ----------------------------------------------------------------------------------


@numba.njit(cache=True, fastmath=_FASTMATH)
def _sweep_synthesis(cm, pm, n0, yr, yi):
    """y += Σ_{n = n0, n0+2, ...} cm[n] pm[n, :] over one parity class.

    Two degrees per pass over latitude halve the load/store traffic on y.
    """
    nhp = yr.shape[0]
    nn = cm.shape[0]
    n = n0
    while n + 2 < nn:
        ar = cm[n].real
        ai = cm[n].imag
        br = cm[n + 2].real
        bi = cm[n + 2].imag
        for i in range(nhp):
            p = pm[n, i]
            q = pm[n + 2, i]
            yr[i] += ar * p + br * q
            yi[i] += ai * p + bi * q
        n += 4
    if n < nn:
        ar = cm[n].real
        ai = cm[n].imag
        for i in range(nhp):
            yr[i] += ar * pm[n, i]
            yi[i] += ai * pm[n, i]


@numba.njit(cache=True)
def _synthesize_row(cm, pm, m, acc):
    """Hemispheric sym/anti sums of Σ_n cm[n] P_n^m into acc (cm indexed from n = 0)."""
    acc[:] = 0.0
    for cls in range(2):  # cls 0: n+m even (symmetric about the equator), 1: odd
        _sweep_synthesis(cm, pm, m + cls, acc[cls, 0], acc[cls, 1])


@numba.njit(cache=True)
def _unfold_row(row, acc, scale, nh):
    """row[j] = scale[j] (sym + anti) north, scale[j] (sym - anti) at the mirrored row.

    On an odd grid the equator row is written twice; anti is exactly 0 there.
    """
    nlat = row.shape[0]
    north = row[nlat - nh :]
    scale_n = scale[nlat - nh :]
    sr, si, ar, ai = acc[0, 0], acc[0, 1], acc[1, 0], acc[1, 1]
    for i in range(nh):
        north[i] = complex((sr[i] + ar[i]) * scale_n[i], (si[i] + ai[i]) * scale_n[i])
    for i in range(nh):
        js = np.uint64(nh - 1 - i)  # unsigned: no negative-index wraparound test
        row[js] = complex((sr[i] - ar[i]) * scale[js], (si[i] - ai[i]) * scale[js])


@numba.njit(cache=True)
def _fold_row(row, w, work, nh):
    """work[0] = w (north + south), work[1] = w (north - south), real/imag split."""
    nlat = row.shape[0]
    north = row[nlat - nh :]
    for i in range(nh):
        a = north[i]
        b = row[np.uint64(nh - 1 - i)]
        work[0, 0, i] = w[i] * (a.real + b.real)
        work[0, 1, i] = w[i] * (a.imag + b.imag)
        work[1, 0, i] = w[i] * (a.real - b.real)
        work[1, 1, i] = w[i] * (a.imag - b.imag)


@numba.njit(cache=True, fastmath=_FASTMATH)
def _sweep_analysis(pm, n0, nn, xr, xi, out):
    """out[n] = Σ_i pm[n, i] (xr[i] + i xi[i]) for n = n0, n0+2, ... < nn."""
    nhp = xr.shape[0]
    for n in range(n0, nn, 2):
        sr = 0.0
        si = 0.0
        for i in range(nhp):
            sr += pm[n, i] * xr[i]
            si += pm[n, i] * xi[i]
        out[n] = complex(sr, si)


@numba.njit(cache=True)
def _project_row(row, w, pm, m, nn, work, out):
    """out[n] = Σ_j w_j F_m(μ_j) P_n^m(μ_j) for m <= n < nn (work: (2, 2, nhp) scratch)."""
    _fold_row(row, w, work, (row.shape[0] + 1) // 2)
    for cls in range(2):
        _sweep_analysis(pm, m + cls, nn, work[cls, 0], work[cls, 1], out)


# ----------------------------------------------------------------------------------
# Spectral recombinations.  Sums over H are rewritten as sums over P on the extended
# triangle n <= T + 1 with H_n = -n ε_{n+1} P_{n+1} + (n+1) ε_n P_{n-1}:
#   Σ_n x_n H_n = Σ_n (lo_n x_{n-1} + hi_n x_{n+1}) P_n,
#       lo_n = -(n-1) ε_n,  hi_n = (n+2) ε_{n+1}                     (_recurrence_tables)
#   Σ_j w X H_n = up_n y_{n+1} + dn_n y_{n-1},  y_n = Σ_j w X P_n,
#       up_n = -n ε_{n+1},  dn_n = (n+1) ε_n
# ----------------------------------------------------------------------------------


@numba.njit(cache=True)
def _recurrence_tables(nm):
    """lo, hi (T+1, T+2) and up, dn (T+1, T+1) as defined above (zero out of range)."""
    lo = np.zeros((nm, nm + 1))
    hi = np.zeros((nm, nm + 1))
    up = np.zeros((nm, nm))
    dn = np.zeros((nm, nm))
    for m in range(nm):
        for n in range(m, nm + 1):
            if n - 1 >= m:
                lo[m, n] = -(n - 1) * _epsilon(n, m)
            if n + 1 < nm:
                hi[m, n] = (n + 2) * _epsilon(n + 1, m)
        for n in range(m, nm):
            up[m, n] = -n * _epsilon(n + 1, m)
            dn[m, n] = (n + 1) * _epsilon(n, m)
    return lo, hi, up, dn


@numba.njit(cache=True)
def _uv_row(vor, div, m, lo, hi, ginv, xbuf, coef):
    """Coefficients of U = u cosφ (coef[0]) and V = v cosφ (coef[1]) for n = m..T+1.

    ψ = ginv ζ, χ = ginv D with ginv = ∇⁻²/a, so that
    U = i m χ - Σψ H,  V = i m ψ + Σχ H  (the 1/a is inside ginv).
    xbuf : (4, T+4) float scratch, zero on entry; xbuf[:, n+1] = (Re ψ_n, Im ψ_n, Re χ_n,
    Im χ_n), zero at n = m-1, T+1 and T+2 (the loop over n = m..T+1 reads column n+2).
    Real arithmetic: complex-by-real products in numba would otherwise be full complex
    multiplications.
    """
    nm = vor.shape[0]
    for c in range(4):
        xbuf[c, m] = 0.0
    for n in range(m, nm):
        xbuf[0, n + 1] = vor[n].real * ginv[n]
        xbuf[1, n + 1] = vor[n].imag * ginv[n]
        xbuf[2, n + 1] = div[n].real * ginv[n]
        xbuf[3, n + 1] = div[n].imag * ginv[n]
    for n in range(m, nm + 1):
        lo_n = lo[n]
        hi_n = hi[n]
        h_pr = lo_n * xbuf[0, n] + hi_n * xbuf[0, n + 2]
        h_pi = lo_n * xbuf[1, n] + hi_n * xbuf[1, n + 2]
        h_cr = lo_n * xbuf[2, n] + hi_n * xbuf[2, n + 2]
        h_ci = lo_n * xbuf[3, n] + hi_n * xbuf[3, n + 2]
        coef[0, n] = complex(-m * xbuf[3, n + 1] - h_pr, m * xbuf[2, n + 1] - h_pi)
        coef[1, n] = complex(-m * xbuf[1, n + 1] + h_cr, m * xbuf[0, n + 1] + h_ci)


@numba.njit(cache=True)
def _gradient_row(f, m, lo, hi, inv_a, xbuf, coef):
    """Coefficients of (1/a) ∂f/∂λ (coef[0]) and (1/a) Σ f H (coef[1]) for n = m..T+1.

    xbuf : (4, T+4) float scratch as in _uv_row (rows 0, 1 used).
    """
    nm = f.shape[0]
    xbuf[0, m] = 0.0
    xbuf[1, m] = 0.0
    for n in range(m, nm):
        xbuf[0, n + 1] = f[n].real * inv_a
        xbuf[1, n + 1] = f[n].imag * inv_a
    for n in range(m, nm + 1):
        coef[0, n] = complex(-m * xbuf[1, n + 1], m * xbuf[0, n + 1])
        coef[1, n] = complex(
            lo[n] * xbuf[0, n] + hi[n] * xbuf[0, n + 2],
            lo[n] * xbuf[1, n] + hi[n] * xbuf[1, n + 2],
        )


@numba.njit(cache=True)
def _vordiv_row(ya, yb, m, up, dn, vor, div, want_vor):
    """div = i m Â - H(B̂), vor = i m B̂ + H(Â) for n = m..T from projections ya, yb."""
    nm = div.shape[0]
    for n in range(m, nm):
        ha = up[n] * ya[n + 1]
        hb = up[n] * yb[n + 1]
        if n > m:  # dn[m] = 0, but y[m-1] is stale scratch, so skip rather than multiply
            ha += dn[n] * ya[n - 1]
            hb += dn[n] * yb[n - 1]
        d = 1j * m * ya[n] - hb
        div[n] = d if m > 0 else d.real  # m = 0: real field, imaginary part exactly 0
        if want_vor:
            v = 1j * m * yb[n] + ha
            vor[n] = v if m > 0 else v.real


# ----------------------------------------------------------------------------------
# Transform kernels (parallel over batch entries, all m per entry).
#   Fourier arrays are latitude-major: (K, nlat, nf) complex with nf >= T + 1.
# ----------------------------------------------------------------------------------

_MODE_SCALAR = 0  # a = spectral field                      -> K Fourier fields
_MODE_UV = 1  # a = vorticity, b = divergence                -> U then V (2K fields)
_MODE_GRAD = 2  # a = spectral field                         -> gx then gy (2K fields)


@numba.njit(cache=True, parallel=True)
def _synthesis(a, b, mode, ptab, lo, hi, ginv, inv_a, nlat, nfreq, scale):
    """Legendre synthesis of scalar, wind or gradient fields to Fourier coefficients.

    a, b : (K, T+1, T+1) complex spectral inputs (b used by _MODE_UV only).
    scale : (nlat,) factor per latitude row (1, or 1/cosφ for true winds/gradients).
    Returns (K or 2K, nlat, nfreq) complex, latitude-major, zero for m > T.
    """
    nk, nm, _ = a.shape
    nout = 1 if mode == _MODE_SCALAR else 2
    nhp = ptab.shape[2]
    nh = (nlat + 1) // 2
    four = np.empty((nout * nk, nlat, nfreq), dtype=np.complex128)
    for k in numba.prange(nk):
        acc = np.empty((2, 2, nhp))
        # columns m-1 .. T+2 of n+1; the last two are never written and stay zero
        xbuf = np.zeros((4, nm + 3))
        coef = np.zeros((2, nm + 1), dtype=np.complex128)
        for f in range(nout):
            four[f * nk + k, :, nm:] = 0.0
        for m in range(nm):
            if mode == _MODE_SCALAR:
                _synthesize_row(a[k, m], ptab[m], m, acc)
                _unfold_row(four[k, :, m], acc, scale, nh)
                continue
            if mode == _MODE_UV:
                _uv_row(a[k, m], b[k, m], m, lo[m], hi[m], ginv, xbuf, coef)
            else:
                _gradient_row(a[k, m], m, lo[m], hi[m], inv_a, xbuf, coef)
            for f in range(2):
                _synthesize_row(coef[f], ptab[m], m, acc)
                _unfold_row(four[f * nk + k, :, m], acc, scale, nh)
    return four


@numba.njit(cache=True, parallel=True)
def _analysis(four, ptab, w):
    """spec[k, m, n] = Σ_j w_j F[k, m, j] P_n^m(μ_j), n <= T; Im of m = 0 set to 0.

    four : (K, nlat, nf) complex, nf >= T + 1; w : (nhp,) hemispheric weights (equator halved
    on odd grids, zero on padding).  Returns (K, T+1, T+1) complex, zero for n < m.
    """
    nk = four.shape[0]
    nm = ptab.shape[0]
    nhp = ptab.shape[2]
    spec = np.zeros((nk, nm, nm), dtype=np.complex128)
    for k in numba.prange(nk):
        work = np.zeros((2, 2, nhp))  # padding rows stay 0
        for m in range(nm):
            _project_row(four[k, :, m], w, ptab[m], m, nm, work, spec[k, m])
        for n in range(nm):
            spec[k, 0, n] = spec[k, 0, n].real
    return spec


@numba.njit(cache=True, parallel=True)
def _analysis_vordiv(four_a, four_b, ptab, w, up, dn, want_vor):
    """Curl and divergence from Fourier arrays of A and B, each (K, nlat, nf).

    w : (nhp,) weights with 1/(a(1-μ²)) (or 1/(a cosφ) for raw winds) folded in.
    Returns (vor, div), each (K, T+1, T+1); vor is a (1, T+1, T+1) dummy unless want_vor.
    """
    nk = four_a.shape[0]
    nm = ptab.shape[0]
    nhp = ptab.shape[2]
    div = np.zeros((nk, nm, nm), dtype=np.complex128)
    vor = np.zeros((nk if want_vor else 1, nm, nm), dtype=np.complex128)
    for k in numba.prange(nk):
        work = np.zeros((2, 2, nhp))
        ya = np.zeros(nm + 1, dtype=np.complex128)
        yb = np.zeros(nm + 1, dtype=np.complex128)
        kv = np.int64(k) if want_vor else np.int64(0)  # (a plain conditional types as float)
        for m in range(nm):
            _project_row(four_a[k, :, m], w, ptab[m], m, nm + 1, work, ya)
            _project_row(four_b[k, :, m], w, ptab[m], m, nm + 1, work, yb)
            _vordiv_row(ya, yb, m, up[m], dn[m], vor[kv, m], div[k, m], want_vor)
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

    Any leading dimensions are batched (one numba call and one FFT call per method).

    Parameters
    ----------
    grid : GaussianGrid
    radius : float
        Planetary radius a in m (default 6.371e6).

    Attributes
    ----------
    truncation, nlat, nlon, radius, grid
    spec_shape : (T+1, T+1);  grid_shape : (nlat, nlon)
    eigenvalues : (T+1, T+1) float, -n(n+1)/a², in m⁻².
    inverse_eigenvalues : (T+1, T+1) float, -a²/(n(n+1)) with 0 at n = 0, in m².
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
        self._fft = fft_engine()
        self.timer = NULL_TIMER  # see gcm.timing; the model hands its own timer down
        self._setup_spectral(nm)
        self._setup_tables()

    def _setup_spectral(self, nm: int) -> None:
        """Wavenumber indices, Laplacian eigenvalues and the ε recurrence table."""
        a = self.radius
        self.m_index, self.n_index = np.meshgrid(np.arange(nm), np.arange(nm), indexing="ij")
        self.valid = self.n_index >= self.m_index
        self.eigenvalues = -(self.n_index * (self.n_index + 1.0)) / a**2
        self.inverse_eigenvalues = np.zeros_like(self.eigenvalues)
        self.inverse_eigenvalues[:, 1:] = 1.0 / self.eigenvalues[:, 1:]
        # ∇⁻²/a as a function of n alone (ψ = ginv ζ in the wind kernels)
        self._ginv = np.ascontiguousarray(self.inverse_eigenvalues[0]) / a
        self._lo, self._hi, self._up, self._dn = _recurrence_tables(nm)

    def _setup_tables(self) -> None:
        """Hemispheric Legendre table and quadrature weights (padded to _LAT_BLOCK)."""
        grid, a = self.grid, self.radius
        nh = (self.nlat + 1) // 2
        nhp = -(-nh // _LAT_BLOCK) * _LAT_BLOCK
        rows = np.arange(self.nlat - nh, self.nlat)  # northern rows, equator side first
        p_ext, _ = _legendre_tables(self.truncation, np.ascontiguousarray(grid.mu[rows]))
        self._ptab = np.zeros(p_ext.shape[:2] + (nhp,))
        self._ptab[:, :, :nh] = p_ext
        w = np.zeros(nhp)
        w[:nh] = grid.weights[rows]
        if self.nlat % 2:
            w[0] *= 0.5  # the equator row is folded in twice (as north and as south)
        cos_h = np.ones(nhp)
        cos_h[:nh] = grid.coslat[rows]
        self._w_scalar = w
        self._w_cos = w / (a * cos_h**2)  # for A = X cosφ, B = Y cosφ
        self._w_true = w / (a * cos_h)  # for raw (u, v): the cosφ factor is folded in
        self._scale_one = np.ones(self.nlat)
        self._scale_true = 1.0 / grid.coslat  # U -> u

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

    # -- full-sphere tables (diagnostics and tests; the kernels use _ptab) --

    @cached_property
    def P(self) -> np.ndarray:
        """P_n^m(μ_j), shape (T+1, T+1, nlat), zero for n < m."""
        return legendre_functions(self.truncation, self.grid.mu)[0]

    @cached_property
    def H(self) -> np.ndarray:
        """H_n^m(μ_j) = (1 - μ_j²) dP_n^m/dμ, shape (T+1, T+1, nlat), zero for n < m."""
        return legendre_functions(self.truncation, self.grid.mu)[1]

    # -- input handling and FFTs --

    def _flat_spec(self, spec) -> tuple[np.ndarray, tuple[int, ...]]:
        spec = np.asarray(spec)
        if spec.shape[-2:] != self.spec_shape:
            raise ValueError(
                f"spectral array must end in shape {self.spec_shape}, got {spec.shape}"
            )
        flat = np.ascontiguousarray(spec.reshape((-1,) + self.spec_shape), dtype=np.complex128)
        return flat, spec.shape[:-2]

    def _flat_grid(self, grid) -> tuple[np.ndarray, tuple[int, ...]]:
        grid = np.asarray(grid)
        if grid.shape[-2:] != self.grid_shape:
            raise ValueError(f"grid array must end in shape {self.grid_shape}, got {grid.shape}")
        flat = np.ascontiguousarray(grid.reshape((-1,) + self.grid_shape), dtype=np.float64)
        return flat, grid.shape[:-2]

    def _fourier(self, flat_grid: np.ndarray) -> np.ndarray:
        """F_m(μ_j) = rfft(f)/nlon, latitude-major: (K, nlat, nfreq) complex."""
        threads = numba.get_num_threads()
        if self._fft == "ducc0":
            return ducc0.fft.r2c(flat_grid, axes=(2,), forward=True, inorm=2,
                                 nthreads=threads)
        return scipy.fft.rfft(flat_grid, axis=-1, norm="forward", workers=threads)

    def _grid_from_fourier(self, four: np.ndarray) -> np.ndarray:
        """f = Σ_m F_m e^{imλ} + c.c. from (K, nlat, nfreq); Im F_0 is ignored."""
        threads = numba.get_num_threads()
        if self._fft == "ducc0":
            return ducc0.fft.c2r(four, axes=(2,), lastsize=self.nlon, forward=False,
                                 inorm=0, nthreads=threads)
        return scipy.fft.irfft(four, n=self.nlon, axis=-1, norm="forward", workers=threads)

    def _synthesize(self, a, b, mode, scale) -> np.ndarray:
        """Legendre synthesis (numba) then inverse FFT: (K or 2K, nlat, nlon) grids."""
        with self.timer.section("transforms"):
            four = _synthesis(
                a, b, mode, self._ptab, self._lo, self._hi, self._ginv, 1.0 / self.radius,
                self.nlat, self.nfreq, scale,
            )
            return self._grid_from_fourier(four)

    # -- scalar transforms --

    def to_grid(self, spec: np.ndarray) -> np.ndarray:
        """Synthesis: spectral (..., T+1, T+1) complex -> grid (..., nlat, nlon) float."""
        flat, lead = self._flat_spec(spec)
        out = self._synthesize(flat, flat, _MODE_SCALAR, self._scale_one)
        return out.reshape(lead + self.grid_shape)

    def to_spectral(self, grid: np.ndarray) -> np.ndarray:
        """Analysis: grid (..., nlat, nlon) float -> spectral (..., T+1, T+1) complex.

        Exact (to rounding) for band-limited fields; otherwise the L2 projection onto
        the triangle evaluated by Gaussian quadrature.
        """
        flat, lead = self._flat_grid(grid)
        with self.timer.section("transforms"):
            spec = _analysis(self._fourier(flat), self._ptab, self._w_scalar)
        return spec.reshape(lead + self.spec_shape)

    # -- spectral operators --

    def laplacian(self, spec: np.ndarray) -> np.ndarray:
        """∇²f in spectral space (units of f per m²), any leading dims."""
        return spec * self.eigenvalues

    def inverse_laplacian(self, spec: np.ndarray) -> np.ndarray:
        """∇⁻²f in spectral space (units of f times m²); the n = 0 coefficient -> 0."""
        return spec * self.inverse_eigenvalues

    def truncate(self, spec: np.ndarray) -> np.ndarray:
        """Copy of spec with n < m entries and Im of the m = 0 entries set to 0."""
        out = np.where(self.valid, spec, 0.0).astype(np.complex128)
        out[..., 0, :] = out[..., 0, :].real
        return out

    # -- gradients and winds --

    def cos_gradient(self, spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """cosφ ∇f on the grid: gx = (1/a) ∂f/∂λ, gy = (1/a)(1 - μ²) ∂f/∂μ.

        Exact for band-limited f.  Units: f per m.  Returns two (..., nlat, nlon) arrays.
        """
        return self._gradient(spec, self._scale_one)

    def gradient(self, spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """∇f on the grid: (eastward, northward) components, f per m (cos_gradient / cosφ)."""
        return self._gradient(spec, self._scale_true)

    def _gradient(self, spec, scale):
        flat, lead = self._flat_spec(spec)
        out = self._synthesize(flat, flat, _MODE_GRAD, scale)
        nk = flat.shape[0]
        return out[:nk].reshape(lead + self.grid_shape), out[nk:].reshape(lead + self.grid_shape)

    def cos_uv_from_vordiv(
        self, vor: np.ndarray, div: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """U = u cosφ, V = v cosφ (m s-1) on the grid from spectral vorticity, divergence (s-1).

        ψ = ∇⁻²ζ, χ = ∇⁻²D;  U = (1/a)[∂χ/∂λ - (1-μ²)∂ψ/∂μ],
        V = (1/a)[∂ψ/∂λ + (1-μ²)∂χ/∂μ].  The n = 0 coefficients are ignored.
        vor and div must have the same shape (..., T+1, T+1).
        """
        return self._uv(vor, div, self._scale_one)

    def uv_from_vordiv(self, vor: np.ndarray, div: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """True winds (u, v) in m s-1 on the grid (cos_uv_from_vordiv / cosφ)."""
        return self._uv(vor, div, self._scale_true)

    def _uv(self, vor, div, scale):
        fvor, lead = self._flat_spec(vor)
        fdiv, lead_d = self._flat_spec(div)
        if lead != lead_d:
            raise ValueError(f"vor and div shapes differ: {np.shape(vor)} vs {np.shape(div)}")
        out = self._synthesize(fvor, fdiv, _MODE_UV, scale)
        nk = fvor.shape[0]
        return out[:nk].reshape(lead + self.grid_shape), out[nk:].reshape(lead + self.grid_shape)

    def vordiv_from_cos_uv(self, A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Spectral curl and divergence of (X, Y) given A = X cosφ, B = Y cosφ on the grid.

        div = 1/(a(1-μ²)) [∂A/∂λ + (1-μ²)∂B/∂μ],
        vor = 1/(a(1-μ²)) [∂B/∂λ - (1-μ²)∂A/∂μ],
        evaluated by integration by parts in μ (no derivative of gridded data).
        Units: (units of X) per m.  Returns (vor, div), each (..., T+1, T+1).
        """
        return self._vordiv(A, B, self._w_cos, want_vor=True)

    def divergence_from_cos_uv(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """Only the divergence output of vordiv_from_cos_uv (skips the curl)."""
        return self._vordiv(A, B, self._w_cos, want_vor=False)[1]

    def vordiv_from_uv(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Spectral (vor, div) from true grid winds (u, v); cosφ is folded into the weights."""
        return self._vordiv(u, v, self._w_true, want_vor=True)

    def _vordiv(self, A, B, weights, want_vor):
        fa, lead = self._flat_grid(A)
        fb, lead_b = self._flat_grid(B)
        if lead != lead_b:
            raise ValueError(f"A and B shapes differ: {np.shape(A)} vs {np.shape(B)}")
        with self.timer.section("transforms"):
            vor, div = _analysis_vordiv(
                self._fourier(fa), self._fourier(fb), self._ptab, weights, self._up, self._dn,
                want_vor,
            )
        shape = lead + self.spec_shape
        return (vor.reshape(shape) if want_vor else None), div.reshape(shape)

    # -- diagnostics --

    def global_mean(self, grid: np.ndarray) -> np.ndarray:
        """Area-weighted global mean of grid fields (..., nlat, nlon) -> (...)."""
        return np.asarray(grid).mean(axis=-1) @ self.grid.area_weights
