"""Explicit tendencies of the hydrostatic primitive equations on sigma levels.

Vorticity-divergence form after Hoskins, B. J., and A. J. Simmons, 1975: A
multi-layer spectral model and the semi-implicit method. QJRMS, 101, 637-655,
with the energy- and angular-momentum-conserving vertical differences of
Simmons & Burridge (1981) (see gcm.sigma_coordinates).

Prognostic variables (spectral): relative vorticity zeta, divergence D, temperature
deviation T' = T - T_ref(sigma), ln p_s and specific humidity q. With U = u cos(phi),
V = v cos(phi), mu = sin(phi), the explicit momentum forcing is

    A = U-component x cos(phi) = (zeta + f) V - sdot dU/dsigma - R T' (1/a) d ln p_s/d lambda
    B = V-component x cos(phi) = -(zeta + f) U - sdot dV/dsigma - R T' (1/a)(1 - mu^2) d ln p_s/d mu

so that d zeta/dt = curl(A, B) and dD/dt = div(A, B) - lap(E + Phi_s + Phi' + R T_ref ln p_s)
with E = (u^2 + v^2)/2. The terms lap(Phi') and lap(R T_ref ln p_s), the divergence in
the temperature and surface-pressure equations are the linear (gravity-wave) terms that
the semi-implicit scheme treats implicitly; ``explicit_tendencies`` returns the rest.
Temperature and humidity are advected in flux form, -div(v X) + X D.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from gcm.sigma_coordinates import SigmaCoordinates


@dataclass
class VerticalOperators:
    """Column constants of the Simmons-Burridge scheme, all (nlev,) unless noted."""

    thickness: np.ndarray  # d sigma
    half: np.ndarray  # (nlev + 1,) interface sigma
    alpha: np.ndarray
    log_ratio: np.ndarray
    reference_temperature: np.ndarray  # T_ref, K
    gas_constant: float  # R, J kg-1 K-1
    kappa: float  # R / cp

    @classmethod
    def build(cls, sigma: SigmaCoordinates, t_ref, gas_constant: float, kappa: float):
        t_ref = np.broadcast_to(np.asarray(t_ref, dtype=np.float64), (sigma.nlev,)).copy()
        return cls(sigma.thickness, sigma.half, sigma.alpha, sigma.log_ratio, t_ref,
                   gas_constant, kappa)

    def linear_temperature_tendency(self, divergence: np.ndarray) -> np.ndarray:
        """dT/dt (nlev,) of the resting reference state when divergence (nlev,) is imposed:
        -sdot dT_ref/dsigma + kappa T_ref omega/p, linear in D. Used to build the
        semi-implicit matrix, with the same formulas as the grid kernel."""
        out = np.zeros_like(divergence, dtype=np.float64)
        zero = np.zeros_like(divergence, dtype=np.float64)
        _column_temperature_terms(
            divergence, zero, self.reference_temperature, self.reference_temperature,
            self.thickness, self.half, self.alpha, self.log_ratio, self.kappa, out,
        )
        return out

    def temperature_matrix(self) -> np.ndarray:
        """H (nlev, nlev) with linear dT'/dt = -H D."""
        nlev = self.thickness.size
        return -np.stack([self.linear_temperature_tendency(e) for e in np.eye(nlev)], axis=1)


@numba.njit(cache=True)
def _column_temperature_terms(div, vgl, T, t_ref, dsig, half, alpha, log_ratio, kappa, out):
    """One column: out_k = -sdot dT/dsigma + kappa T omega/p (K s-1), given D and
    v.grad ln p_s (s-1) at full levels. The reference profile enters only through T."""
    nlev = div.size
    total = 0.0
    for k in range(nlev):
        total += dsig[k] * (div[k] + vgl[k])
    above = 0.0  # sum over layers above k of dsig (D + v.grad ln ps)
    sdot_top = 0.0
    for k in range(nlev):
        c = div[k] + vgl[k]
        omega_p = vgl[k] - (log_ratio[k] * above + alpha[k] * dsig[k] * c) / dsig[k]
        above += dsig[k] * c
        sdot_bottom = 0.0 if k == nlev - 1 else -above + half[k + 1] * total
        vadv = 0.0
        if k < nlev - 1:
            vadv += sdot_bottom * (T[k + 1] - T[k])
        if k > 0:
            vadv += sdot_top * (T[k] - T[k - 1])
        out[k] = -vadv / (2.0 * dsig[k]) + kappa * T[k] * omega_p
        sdot_top = sdot_bottom


# no fastmath: numba's parallel loops compiled with it gave different bits when freshly
# compiled than when loaded from the cache, and runs must be bitwise reproducible
@numba.njit(cache=True, parallel=True)
def grid_tendencies(
    U, V, vor, div, tdev, q, gx, gy, coriolis, one_minus_mu2,
    dsig, half, alpha, log_ratio, t_ref, gas_constant, kappa,
    A, B, FX, FY, S, forcing_u, forcing_v, forcing_t, forcing_q, forced, force_humidity,
):
    """Grid-point part of the explicit tendencies, one pass over every latitude row.

    In, (nlev, nlat, nlon): U, V = (u, v) cos(phi) (m s-1); vor, div (s-1); tdev = T - T_ref (K);
    q (kg kg-1). (nlat, nlon): gx = (1/a) d ln ps/d lambda, gy = (1/a)(1 - mu^2) d ln ps/d mu
    (m-1). (nlat,): coriolis f (s-1), 1 - mu^2.
    Out: A, B (nlev, ...) momentum forcing times cos(phi) (m s-2);
    FX, FY (2 nlev, ...) fluxes U T', U q then V T', V q, to be taken the divergence of;
    S (3 nlev + 1, ...) scalars to analyse: E = (u^2 + v^2)/2, the rest of dT/dt
    (T' D - sdot dT/dsigma + kappa T omega/p), the rest of dq/dt (q D - sdot dq/dsigma),
    and d ln ps/dt.
    If ``forced``, the physics tendencies forcing_u, forcing_v (m s-2), forcing_t (K s-1)
    and, if also ``force_humidity``, forcing_q (kg kg-1 s-1), all (nlev, nlat, nlon), are
    added: A += cos(phi) forcing_u, B += cos(phi) forcing_v, and to the rests of dT/dt and
    dq/dt (here rather than afterwards in numpy: four fewer passes over the grid and no
    temporaries; the sums are the same, rounded the same).
    Loops run over longitude innermost, so that they vectorize.
    """
    nlev, nlat, nlon = U.shape
    for j in numba.prange(nlat):
        inv_cos2 = 1.0 / one_minus_mu2[j]
        cos_lat = np.sqrt(one_minus_mu2[j])
        f = coriolis[j]
        vgl = np.empty((nlev, nlon))  # v . grad ln ps
        above = np.zeros(nlon)  # sum over layers above of dsig (D + v.grad ln ps)
        total = np.zeros(nlon)
        sdot = np.zeros((nlev + 1, nlon))  # at interfaces; 0 at top and bottom
        omega_p = np.empty((nlev, nlon))
        for k in range(nlev):
            for i in range(nlon):
                vgl[k, i] = (U[k, j, i] * gx[j, i] + V[k, j, i] * gy[j, i]) * inv_cos2
                total[i] += dsig[k] * (div[k, j, i] + vgl[k, i])
        for k in range(nlev):
            for i in range(nlon):
                c = div[k, j, i] + vgl[k, i]
                omega_p[k, i] = vgl[k, i] - (log_ratio[k] * above[i] + alpha[k] * dsig[k] * c
                                             ) / dsig[k]
                above[i] += dsig[k] * c
                if k < nlev - 1:
                    sdot[k + 1, i] = -above[i] + half[k + 1] * total[i]
        for i in range(nlon):
            S[3 * nlev, j, i] = -total[i]
        for k in range(nlev):
            inv2ds = 0.5 / dsig[k]
            kp = min(k + 1, nlev - 1)  # sdot is 0 where a neighbour is missing
            km = max(k - 1, 0)
            for i in range(nlon):
                lo = sdot[k + 1, i]
                hi = sdot[k, i]
                td = tdev[k, j, i]
                temp = td + t_ref[k]
                # vertical advection sdot dX/dsigma at full level k (SB81 form)
                adv_u = (lo * (U[kp, j, i] - U[k, j, i]) + hi * (U[k, j, i] - U[km, j, i])) * inv2ds
                adv_v = (lo * (V[kp, j, i] - V[k, j, i]) + hi * (V[k, j, i] - V[km, j, i])) * inv2ds
                adv_t = (lo * (tdev[kp, j, i] + t_ref[kp] - temp)
                         + hi * (temp - tdev[km, j, i] - t_ref[km])) * inv2ds
                adv_q = (lo * (q[kp, j, i] - q[k, j, i]) + hi * (q[k, j, i] - q[km, j, i])) * inv2ds
                u_c = U[k, j, i]
                v_c = V[k, j, i]
                absvor = vor[k, j, i] + f
                A[k, j, i] = absvor * v_c - adv_u - gas_constant * td * gx[j, i]
                B[k, j, i] = -absvor * u_c - adv_v - gas_constant * td * gy[j, i]
                FX[k, j, i] = u_c * td
                FY[k, j, i] = v_c * td
                FX[nlev + k, j, i] = u_c * q[k, j, i]
                FY[nlev + k, j, i] = v_c * q[k, j, i]
                S[k, j, i] = 0.5 * (u_c * u_c + v_c * v_c) * inv_cos2
                S[nlev + k, j, i] = td * div[k, j, i] - adv_t + kappa * temp * omega_p[k, i]
                S[2 * nlev + k, j, i] = q[k, j, i] * div[k, j, i] - adv_q
            if forced:
                for i in range(nlon):
                    A[k, j, i] += cos_lat * forcing_u[k, j, i]
                    B[k, j, i] += cos_lat * forcing_v[k, j, i]
                    S[nlev + k, j, i] += forcing_t[k, j, i]
                if force_humidity:
                    for i in range(nlon):
                        S[2 * nlev + k, j, i] += forcing_q[k, j, i]
