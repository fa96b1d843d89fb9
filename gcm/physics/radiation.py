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
from gcm.physics.column import ColumnState, ColumnTendencies

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
class GrayRadiation:
    """Gray two-stream radiation (Frierson et al. 2006; Isca two_stream_gray_rad)."""

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

    def __call__(self, columns: ColumnState, dt: float) -> ColumnTendencies:
        """Radiative heating and the four boundary fluxes. Reads temperature, humidity
        ("water_vapour" only), pressure_half, sst, insolation and latitude; ``dt`` is
        not used (radiation is a rate, not an adjustment)."""
        out = ColumnTendencies.zeros(columns.ncol, columns.nlev)
        fluxes = self._run_kernel(columns, out.temperature)
        n = columns.nlev
        out.fsnt[:] = fluxes.sw_down[:, 0] - fluxes.sw_up[:, 0]
        out.fsns[:] = fluxes.sw_down[:, n] - fluxes.sw_up[:, n]
        out.flnt[:] = fluxes.lw_up[:, 0] - fluxes.lw_down[:, 0]
        out.flns[:] = fluxes.lw_up[:, n] - fluxes.lw_down[:, n]
        return out

    def fluxes(self, columns: ColumnState) -> RadiativeFluxes:
        """The interface fluxes (diagnostics), (ncol, nlev + 1) each, W m-2."""
        return self._run_kernel(columns, np.zeros((columns.ncol, columns.nlev)))

    def longwave_optical_depth(self, columns: ColumnState) -> np.ndarray:
        """Longwave optical depth from the top at the interfaces, (ncol, nlev + 1)."""
        dtau = self._longwave_layer_depths(columns)
        return np.concatenate([np.zeros((columns.ncol, 1)), np.cumsum(dtau, axis=1)], axis=1)

    def _longwave_layer_depths(self, columns: ColumnState) -> np.ndarray:
        """Longwave optical thickness of each layer, (ncol, nlev), >= 0."""
        p_half = columns.pressure_half
        surface = p_half[:, -1:]
        if self.longwave == "frierson":
            s = p_half / surface
            sin2 = np.sin(columns.latitude) ** 2
            tau0 = self.tau_equator + (self.tau_pole - self.tau_equator) * sin2
            f = self.linear_fraction
            tau = tau0[:, None] * (f * s + (1.0 - f) * s**self.pressure_exponent)
            return np.diff(tau, axis=1)
        # negative humidity (possible from a network) must not make a layer emit
        # negatively or amplify the beam: absorb as if dry
        q = np.maximum(columns.humidity, 0.0)
        return (self.wv_a * self.co2_factor + self.wv_b * q) * np.diff(p_half, axis=1) / surface

    def _run_kernel(self, columns: ColumnState, heating: np.ndarray) -> RadiativeFluxes:
        ncol, nlev = columns.ncol, columns.nlev
        p_half = columns.pressure_half
        sw_tau = self.tau_sw * (p_half / p_half[:, -1:]) ** self.sw_exponent
        fluxes = RadiativeFluxes(*(np.empty((ncol, nlev + 1)) for _ in range(4)))
        _gray_two_stream_kernel(
            np.ascontiguousarray(columns.temperature, dtype=np.float64),
            np.ascontiguousarray(p_half, dtype=np.float64),
            np.asarray(columns.sst, dtype=np.float64),
            np.asarray(columns.insolation, dtype=np.float64),
            self._longwave_layer_depths(columns), sw_tau,
            np.array([self.albedo, STEFAN_BOLTZMANN, GRAVITY, CP]),
            fluxes.sw_down, fluxes.sw_up, fluxes.lw_down, fluxes.lw_up, heating,
        )
        return fluxes


@numba.njit(cache=True, parallel=True)
def _gray_two_stream_kernel(T, p_half, sst, solin, dtau, sw_tau, params,
                            sw_down, sw_up, lw_down, lw_up, dT):
    """Two-stream gray fluxes and heating for each column.

    T (ncol, nlev) K; p_half (ncol, nlev+1) Pa; sst, solin (ncol,) K, W m-2;
    dtau (ncol, nlev) longwave layer optical thickness; sw_tau (ncol, nlev+1)
    shortwave optical depth at interfaces; params = [albedo, sigma_SB, g, cp].
    Fills sw_down, sw_up, lw_down, lw_up (ncol, nlev+1) W m-2 and dT (ncol, nlev) K s-1.
    """
    albedo, sigma, g, cp = params[0], params[1], params[2], params[3]
    ncol, nlev = T.shape
    for i in numba.prange(ncol):
        # shortwave: Beer's law on the way down, reflected beam passes untouched
        for k in range(nlev + 1):
            sw_down[i, k] = solin[i] * np.exp(-sw_tau[i, k])
        reflected = albedo * sw_down[i, nlev]
        for k in range(nlev + 1):
            sw_up[i, k] = reflected
        # longwave: exact slab solution, 1 - exp(-x) via expm1 for thin layers
        lw_down[i, 0] = 0.0
        for k in range(nlev):
            trans = np.exp(-dtau[i, k])
            emiss = -np.expm1(-dtau[i, k])
            lw_down[i, k + 1] = lw_down[i, k] * trans + sigma * T[i, k] ** 4 * emiss
        lw_up[i, nlev] = sigma * sst[i] ** 4
        for k in range(nlev - 1, -1, -1):
            trans = np.exp(-dtau[i, k])
            emiss = -np.expm1(-dtau[i, k])
            lw_up[i, k] = lw_up[i, k + 1] * trans + sigma * T[i, k] ** 4 * emiss
        # heating = convergence of the net downward flux between the layer's interfaces
        for k in range(nlev):
            above = sw_down[i, k] - sw_up[i, k] + lw_down[i, k] - lw_up[i, k]
            below = sw_down[i, k + 1] - sw_up[i, k + 1] + lw_down[i, k + 1] - lw_up[i, k + 1]
            dp = p_half[i, k + 1] - p_half[i, k]
            # an empty layer has dtau = 0 and passes both streams unchanged
            dT[i, k] = g * (above - below) / (cp * dp) if dp > 0.0 else 0.0
