"""Gray two-stream radiation of the idealized moist aquaplanet.

Frierson, D. M. W., I. M. Held and P. Zurita-Gotor, 2006: A gray-radiation
aquaplanet moist GCM. Part I: Static stability and eddy scale. J. Atmos. Sci., 63,
2548-2566 -- as implemented in Isca's ``two_stream_gray_rad.F90`` (Vallis et al. 2018,
Geosci. Model Dev., 11, 843-859), whose namelist names are given beside each field.

Longwave, one gray band, no scattering, upward and downward streams (no diffusivity
factor, as in the paper and Isca):

    dU/dtau = U - B,   dD/dtau = B - D,   B = sigma T^4,
    U(surface) = sigma SST^4,   D(top) = 0,

with tau the optical depth counted from the top. Two choices of tau:

* ``"frierson"`` (Frierson et al. 2006, section 2): at interfaces
  tau = tau0(phi) [f_l s + (1 - f_l) s^4], tau0 = tau0e + (tau0p - tau0e) sin^2 phi,
  s = p / ps, tau0e = 6, tau0p = 1.5, f_l = 0.1 (the s^4 term mimics water vapour's
  scale height, the linear term a well-mixed absorber that keeps stratospheric
  radiative relaxation times short);
* ``"water_vapour"``: Byrne, M. P., and P. A. O'Gorman, 2013: Land-ocean warming
  contrast over a wide range of climates: convective quasi-equilibrium theory and
  idealized simulations. J. Climate, 26, 4000-4016; Isca's ``rad_scheme = 'byrne'``:
  per layer dtau = (a mu + b q) dp / ps with a = 0.8678, b = 1997.9 (Isca bog_a,
  bog_b) and the CO2 factor mu = 1 (Isca bog_mu; Isca's extra 0.17 ln(CO2/360 ppm)
  term vanishes at its default 360 ppm and is left out).

Isca normalizes p and dp by the standard pressure 1e5 Pa; here they are normalized
by the column's own surface pressure (the bottom interface), so that the surface
optical depth is exactly tau0(phi) in every column, as written in the paper.

Each layer is a slab of constant source B_k = sigma T_k^4 and optical thickness
dtau_k, for which the two-stream equations have the exact solution

    U_k = U_{k+1} exp(-dtau_k) + B_k (1 - exp(-dtau_k))   (upward through layer k),
    D_{k+1} = D_k exp(-dtau_k) + B_k (1 - exp(-dtau_k))   (downward through layer k),

so fluxes are defined at the interfaces and the heating of a layer is their
convergence, dT_k/dt = g (F_k - F_{k+1}) / (cp dp_k), F the net downward flux. The
column integral of the heating then telescopes to the boundary fluxes and the energy
budget of DESIGN.md closes to round-off.

Shortwave: downward flux SOLIN at the top (``ColumnState.insolation``, e.g. from
gcm.physics.insolation), attenuated by a gray absorber of optical depth
tau_sw (p/ps)^n at the interfaces (Isca atm_abs, solar_exponent; default tau_sw = 0,
Frierson et al. 2006: a transparent atmosphere; Isca's frierson_test_case uses
atm_abs = 0.2 with n = 4; other choices, e.g. 0.22 (p/ps)^2, are two fields away).
The surface reflects a fraction ``albedo`` = 0.31 (Isca frierson_test_case
albedo_value) of what reaches it; as in Isca the reflected beam leaves the column
without absorption, so it is the same at every interface, heats no layer, and
FSNT - FSNS is exactly what the atmosphere absorbs on the way down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from gcm.constants import CP, GRAVITY
from gcm.physics.column import ColumnScheme, ColumnState, ColumnTendencies, fill_into

STEFAN_BOLTZMANN = 5.67e-8  # W m-2 K-4 (CAM's SHR_CONST_STEBOL; Isca's stefan is 5.6734e-8)
LONGWAVE_SCHEMES = ("frierson", "water_vapour")


@dataclass
class RadiativeFluxes:
    """Interface fluxes of the gray scheme, each (ncol, nlev + 1), W m-2, positive in
    the direction named; index 0 is the model top, index nlev the surface."""

    sw_down: np.ndarray
    sw_up: np.ndarray
    lw_down: np.ndarray
    lw_up: np.ndarray


@dataclass
class GrayRadiation(ColumnScheme):
    """Gray two-stream radiation (Frierson et al. 2006; Isca two_stream_gray_rad)."""

    name = "radiation"

    longwave: str = "frierson"  # optical depth: "frierson" (prescribed) or "water_vapour"
    tau_equator: float = 6.0  # surface longwave optical depth at the equator (ir_tau_eq)
    tau_pole: float = 1.5  # surface longwave optical depth at the poles (ir_tau_pole)
    linear_fraction: float = 0.1  # f_l, weight of the term linear in p/ps (linear_tau)
    pressure_exponent: float = 4.0  # exponent of the water-vapour-like term (wv_exponent)
    wv_a: float = 0.8678  # dtau/d(p/ps) of dry air, "water_vapour" only (Isca bog_a)
    wv_b: float = 1997.9  # dtau/d(p/ps) per unit q, (kg/kg)-1, "water_vapour" (Isca bog_b)
    co2_factor: float = 1.0  # mu multiplying wv_a, "water_vapour" only (Isca bog_mu)
    tau_sw: float = 0.0  # surface shortwave optical depth (atm_abs; Isca test case: 0.2)
    sw_exponent: float = 4.0  # n in tau_sw (p/ps)^n (Isca solar_exponent)
    albedo: float = 0.31  # surface shortwave albedo (Isca frierson_test_case albedo_value)

    def __post_init__(self):
        if self.longwave not in LONGWAVE_SCHEMES:
            raise ValueError(f"GrayRadiation.longwave must be one of {LONGWAVE_SCHEMES}, "
                             f"found {self.longwave!r}")
        if not 0.0 <= self.albedo <= 1.0:
            raise ValueError(f"GrayRadiation.albedo must be in [0, 1], found {self.albedo}")

    def __call__(self, columns: ColumnState, dt: float,
                 out: ColumnTendencies | None = None) -> ColumnTendencies:
        """Radiative heating and the four boundary fluxes, written into ``out`` if given
        (gcm.physics.column; its other fields are left alone). Reads temperature, humidity
        ("water_vapour" only), pressure_half, sst, insolation and latitude; ``dt`` is
        not used (radiation is a rate, not an adjustment)."""
        out = fill_into(out, columns, "GrayRadiation")  # the kernel writes every entry
        self._run_kernel(columns, out, keep_fluxes=False)
        return out

    def fluxes(self, columns: ColumnState) -> RadiativeFluxes:
        """The interface fluxes (diagnostics), (ncol, nlev + 1) each, W m-2."""
        return self._run_kernel(columns, ColumnTendencies.zeros(columns.ncol, columns.nlev),
                                keep_fluxes=True)

    def longwave_optical_depth(self, columns: ColumnState) -> np.ndarray:
        """Longwave optical depth from the top at the interfaces, (ncol, nlev + 1)."""
        ncol, nlev = columns.ncol, columns.nlev
        dtau = np.empty((ncol, nlev))
        _longwave_depth_kernel(*self._kernel_inputs(columns), dtau)
        return np.concatenate([np.zeros((ncol, 1)), np.cumsum(dtau, axis=1)], axis=1)

    def _kernel_inputs(self, columns: ColumnState) -> tuple:
        """The arrays and parameters the numba kernels read, in their order."""
        params = np.array([LONGWAVE_SCHEMES.index(self.longwave), self.tau_equator,
                           self.tau_pole, self.linear_fraction, self.pressure_exponent,
                           self.wv_a * self.co2_factor, self.wv_b, self.tau_sw,
                           self.sw_exponent, self.albedo, STEFAN_BOLTZMANN, GRAVITY, CP])
        return (np.asarray(columns.temperature, dtype=np.float64),
                np.asarray(columns.humidity, dtype=np.float64),
                np.asarray(columns.pressure_half, dtype=np.float64),
                np.asarray(columns.sst, dtype=np.float64),
                np.asarray(columns.insolation, dtype=np.float64),
                np.asarray(columns.latitude, dtype=np.float64), params)

    def _run_kernel(self, columns: ColumnState, out: ColumnTendencies,
                    keep_fluxes: bool) -> RadiativeFluxes:
        """Heating and boundary fluxes into out; the interface fluxes are returned only
        with keep_fluxes (else they stay in the kernel's scratch, (0, nlev + 1) here)."""
        shape = (columns.ncol if keep_fluxes else 0, columns.nlev + 1)
        fluxes = RadiativeFluxes(*(np.empty(shape) for _ in range(4)))
        _gray_two_stream_kernel(*self._kernel_inputs(columns), keep_fluxes, fluxes.sw_down,
                                fluxes.sw_up, fluxes.lw_down, fluxes.lw_up, out.temperature,
                                out.fsnt, out.fsns, out.flnt, out.flns)
        return fluxes


# entries of the params array of the kernels
(_SCHEME, _TAU_EQ, _TAU_POLE, _LINEAR, _EXPONENT, _WV_A, _WV_B, _TAU_SW, _SW_EXPONENT,
 _ALBEDO, _SIGMA, _G, _CP) = range(13)


@numba.njit(cache=True)
def _frierson_shape(s, f, n):
    """f s + (1 - f) s^n; the default n = 4 by two multiplications, 3 times faster than
    pow and the same to round-off."""
    if n == 4.0:
        s2 = s * s
        return f * s + (1.0 - f) * (s2 * s2)
    return f * s + (1.0 - f) * s**n


@numba.njit(cache=True)
def _longwave_layer_depths(i, q, p_half, latitude, params, dtau):
    """Longwave optical thickness (>= 0) of each layer of column i into dtau (nlev,): the
    difference of the Frierson optical depth tau0(phi) [f_l s + (1 - f_l) s^n] between
    the layer's interfaces, or Byrne & O'Gorman's (a mu + b q) dp / ps."""
    nlev = dtau.size
    ps = p_half[i, nlev]
    if params[_SCHEME] == 0.0:
        sin2 = np.sin(latitude[i]) ** 2
        tau0 = params[_TAU_EQ] + (params[_TAU_POLE] - params[_TAU_EQ]) * sin2
        f, n = params[_LINEAR], params[_EXPONENT]
        tau_above = tau0 * _frierson_shape(p_half[i, 0] / ps, f, n)
        for k in range(nlev):
            tau_below = tau0 * _frierson_shape(p_half[i, k + 1] / ps, f, n)
            dtau[k] = tau_below - tau_above
            tau_above = tau_below
    else:
        for k in range(nlev):
            # negative humidity (possible from a network) must not make a layer emit
            # negatively or amplify the beam: absorb as if dry
            wet = params[_WV_A] + params[_WV_B] * max(q[i, k], 0.0)
            dtau[k] = wet * (p_half[i, k + 1] - p_half[i, k]) / ps


@numba.njit(cache=True, parallel=True)
def _longwave_depth_kernel(T, q, p_half, sst, solin, latitude, params, dtau):
    """Longwave layer optical thickness dtau (ncol, nlev) of every column."""
    for i in numba.prange(T.shape[0]):
        _longwave_layer_depths(i, q, p_half, latitude, params, dtau[i])


RADIATION_BLOCK = 64  # columns worked together, level by level


@numba.njit(cache=True, parallel=True)
def _gray_two_stream_kernel(T, q, p_half, sst, solin, latitude, params, keep_fluxes,
                            sw_down, sw_up, lw_down, lw_up, dT, fsnt, fsns, flnt, flns):
    """Two-stream gray fluxes and heating for each column.

    T, q (ncol, nlev) K, kg kg-1; p_half (ncol, nlev+1) Pa; sst, solin, latitude (ncol,)
    K, W m-2, radians; params as the _SCHEME... constants name them (scheme index into
    LONGWAVE_SCHEMES, the GrayRadiation fields, sigma_SB, g, cp). Fills dT (ncol, nlev)
    K s-1 and the boundary fluxes fsnt, fsns, flnt, flns (ncol,) W m-2, and with
    keep_fluxes the interface fluxes sw_down, sw_up, lw_down, lw_up (ncol, nlev+1) W m-2
    (else they are not touched). Any memory layout; the model's level-major profiles
    are read in memory order, as blocks of columns go through the levels together (each
    column's arithmetic is that of a column alone, in the same order).
    """
    ncol, nlev = T.shape
    nblock = (ncol + RADIATION_BLOCK - 1) // RADIATION_BLOCK
    for b in numba.prange(nblock):
        first, last = b * RADIATION_BLOCK, min(ncol, (b + 1) * RADIATION_BLOCK)
        # work space allocated once a block: interface fluxes and layer depths
        fluxes = np.empty((4, nlev + 1, last - first))
        dtau = np.empty((nlev, last - first))
        _lw_sw_block(first, last, T, q, p_half, sst, solin, latitude, params, dtau,
                     fluxes[0], fluxes[1], fluxes[2], fluxes[3], dT)
        for i in range(first, last):
            j = i - first
            fsnt[i] = fluxes[0, 0, j] - fluxes[1, 0, j]
            fsns[i] = fluxes[0, nlev, j] - fluxes[1, nlev, j]
            flnt[i] = fluxes[3, 0, j] - fluxes[2, 0, j]
            flns[i] = fluxes[3, nlev, j] - fluxes[2, nlev, j]
        if keep_fluxes:
            for i in range(first, last):
                for k in range(nlev + 1):
                    sw_down[i, k], sw_up[i, k] = fluxes[0, k, i - first], fluxes[1, k, i - first]
                    lw_down[i, k], lw_up[i, k] = fluxes[2, k, i - first], fluxes[3, k, i - first]


@numba.njit(cache=True)
def _lw_sw_block(first, last, T, q, p_half, sst, solin, latitude, params, dtau,
                 sw_down, sw_up, lw_down, lw_up, dT):
    """Columns first..last-1 of _gray_two_stream_kernel: interface fluxes (nlev + 1, n)
    and heating; dtau (nlev, n) is work space (n = last - first)."""
    nlev = dtau.shape[0]
    albedo, sigma, g, cp = params[_ALBEDO], params[_SIGMA], params[_G], params[_CP]
    tau_sw = params[_TAU_SW]
    # shortwave: Beer's law on the way down, reflected beam passes untouched
    for k in range(nlev + 1):
        for i in range(first, last):
            if tau_sw == 0.0:
                sw_down[k, i - first] = solin[i]  # exp(-0) = 1: a transparent atmosphere
            else:
                tau = tau_sw * (p_half[i, k] / p_half[i, nlev]) ** params[_SW_EXPONENT]
                sw_down[k, i - first] = solin[i] * np.exp(-tau)
    for k in range(nlev + 1):
        for i in range(first, last):
            sw_up[k, i - first] = albedo * sw_down[nlev, i - first]
    # longwave: exact slab solution, 1 - exp(-x) via expm1 for thin layers; the
    # transmission (in dtau) and the emission (in lw_up) once a layer, for both streams
    _longwave_block_depths(first, last, q, p_half, latitude, params, dtau)
    for k in range(nlev):
        for i in range(first, last):
            j = i - first
            absorbed = -np.expm1(-dtau[k, j])
            lw_up[k, j] = sigma * T[i, k] ** 4 * absorbed
            # 1 - absorbed is exact to round-off where the layer transmits more than half
            dtau[k, j] = 1.0 - absorbed if dtau[k, j] < 0.5 else np.exp(-dtau[k, j])
    for i in range(first, last):
        lw_down[0, i - first] = 0.0
    for k in range(nlev):
        for j in range(last - first):
            lw_down[k + 1, j] = lw_down[k, j] * dtau[k, j] + lw_up[k, j]
    # upward: each layer's emission (held in lw_up[k] until overwritten) joins the beam
    emission = lw_up[nlev - 1].copy()
    for i in range(first, last):
        lw_up[nlev, i - first] = sigma * sst[i] ** 4
    for k in range(nlev - 1, -1, -1):
        for j in range(last - first):
            emission_above = lw_up[k - 1, j] if k > 0 else 0.0
            lw_up[k, j] = lw_up[k + 1, j] * dtau[k, j] + emission[j]
            emission[j] = emission_above
    # heating = convergence of the net downward flux between the layer's interfaces
    for k in range(nlev):
        for i in range(first, last):
            j = i - first
            above = sw_down[k, j] - sw_up[k, j] + lw_down[k, j] - lw_up[k, j]
            below = sw_down[k + 1, j] - sw_up[k + 1, j] + lw_down[k + 1, j] - lw_up[k + 1, j]
            dp = p_half[i, k + 1] - p_half[i, k]
            # an empty layer has dtau = 0 and passes both streams unchanged
            dT[i, k] = g * (above - below) / (cp * dp) if dp > 0.0 else 0.0


@numba.njit(cache=True)
def _longwave_block_depths(first, last, q, p_half, latitude, params, dtau):
    """_longwave_layer_depths of columns first..last-1 into the columns of dtau
    (nlev, n)."""
    for i in range(first, last):
        _longwave_layer_depths(i, q, p_half, latitude, params, dtau[:, i - first])
