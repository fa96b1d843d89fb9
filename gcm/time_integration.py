"""Semi-implicit leapfrog with the Robert–Asselin–Williams filter and implicit
spectral hyperdiffusion.

The gravity-wave terms L (divergence in the temperature and ln p_s equations, the
linear geopotential and R T_ref ln p_s in the divergence equation) are averaged over
the two outer time levels (Hoskins & Simmons 1975; Robert 1969):

    X+ - X- = 2 dt [N(X0) + L (X+ + X-) / 2]

which, per total wavenumber n, is one (nlev x nlev) solve for the new divergence.
The first step is a forward step of length dt written in the same form with
dt/2 in place of dt and X- = X0. Diffusion is then applied implicitly,
X+ <- X+ / (1 + 2 dt K_n). The filter is Williams, P. D., 2009: A proposed
modification to the Robert-Asselin time filter. Mon. Wea. Rev., 137, 2538-2546.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np


@dataclass
class ImplicitOperator:
    """The linear terms and their inverse for one value of the half interval delta (s).

    G (nlev, nlev): Phi' = G T'; H (nlev, nlev): dT'/dt = -H D; thickness (nlev,):
    d ln ps/dt = -thickness . D; rt (nlev,) = R T_ref; wavenumber_factor (T+1,) =
    n(n+1)/a^2; inverse (T+1, nlev, nlev) = [I + delta^2 c_n (G H + rt thickness^T)]^-1.
    """

    delta: float
    G: np.ndarray
    H: np.ndarray
    thickness: np.ndarray
    rt: np.ndarray
    wavenumber_factor: np.ndarray
    inverse: np.ndarray

    @classmethod
    def build(cls, delta, G, H, thickness, rt, wavenumber_factor):
        nlev = thickness.size
        coupling = G @ H + np.outer(rt, thickness)
        matrices = np.eye(nlev)[None] + delta**2 * wavenumber_factor[:, None, None] * coupling[None]
        inverse = np.linalg.inv(matrices)
        if not np.isfinite(inverse).all():
            raise FloatingPointError(f"semi-implicit matrices for dt/2 = {delta} s are singular")
        return cls(delta, G, H, thickness, rt, wavenumber_factor, inverse)

    def solve(self, d_old, t_old, p_old, n_d, n_t, n_p, d_new, t_new, p_new):
        """Fill the new divergence, T' and ln ps (spectral) from the old level (X-),
        the explicit tendencies N, and the implicit terms."""
        _implicit_solve(
            d_old, t_old, p_old, n_d, n_t, n_p, self.G, self.H, self.thickness, self.rt,
            self.wavenumber_factor, self.inverse, self.delta, d_new, t_new, p_new,
        )


@numba.njit(cache=True, parallel=True)
def _implicit_solve(d_old, t_old, p_old, n_d, n_t, n_p, G, H, dsig, rt, cn, inv, delta,
                    d_new, t_new, p_new):
    """Spectral arrays (nlev, T+1, T+1) complex, ln ps (T+1, T+1); see ImplicitOperator.

    With R_T = T- + 2 delta N_T - delta H D- and R_p = p- + 2 delta N_p - delta dsig.D-:
    D+ = M_n^-1 [D- + 2 delta N_D + delta c_n (G (T- + R_T) + rt (p- + R_p))],
    T+ = R_T - delta H D+, p+ = R_p - delta dsig.D+. Inner loops run along n, which is
    contiguous in memory, for every product with the n-independent G and H.
    Orders m and T - m go to the same parallel iteration: together they have T + 2
    coefficients, so every iteration has the same work (in plain order the thread with
    the low m had three times the work of the other).
    """
    mmax1 = d_old.shape[1]
    for ip in numba.prange((mmax1 + 1) // 2):
        _solve_order(ip, d_old, t_old, p_old, n_d, n_t, n_p, G, H, dsig, rt, cn, inv, delta,
                     d_new, t_new, p_new)
        if mmax1 - 1 - ip != ip:
            _solve_order(mmax1 - 1 - ip, d_old, t_old, p_old, n_d, n_t, n_p, G, H, dsig, rt,
                         cn, inv, delta, d_new, t_new, p_new)


@numba.njit(cache=True)
def _solve_order(m, d_old, t_old, p_old, n_d, n_t, n_p, G, H, dsig, rt, cn, inv, delta,
                 d_new, t_new, p_new):
    """The semi-implicit solve of _implicit_solve for zonal wavenumber m alone."""
    nlev, _, nmax1 = d_old.shape
    nn = nmax1 - m
    r_t = np.empty((nlev, nn), dtype=np.complex128)
    r_p = np.empty(nn, dtype=np.complex128)
    rhs = np.empty((nlev, nn), dtype=np.complex128)
    for i in range(nn):
        r_p[i] = p_old[m, m + i] + 2.0 * delta * n_p[m, m + i]
    for k in range(nlev):
        for i in range(nn):
            r_t[k, i] = t_old[k, m, m + i] + 2.0 * delta * n_t[k, m, m + i]
    for j in range(nlev):
        for k in range(nlev):
            h = delta * H[k, j]
            for i in range(nn):
                r_t[k, i] -= h * d_old[j, m, m + i]
        for i in range(nn):
            r_p[i] -= delta * dsig[j] * d_old[j, m, m + i]
    for k in range(nlev):
        for i in range(nn):
            c = delta * cn[m + i]
            rhs[k, i] = d_old[k, m, m + i] + 2.0 * delta * n_d[k, m, m + i] + c * rt[k] * (
                p_old[m, m + i] + r_p[i])
    for k in range(nlev):
        for j in range(nlev):
            g = delta * G[k, j]
            for i in range(nn):
                rhs[k, i] += g * cn[m + i] * (t_old[j, m, m + i] + r_t[j, i])
    for i in range(nn):
        n = m + i
        new_p = r_p[i]
        for k in range(nlev):
            acc = 0.0j
            for j in range(nlev):
                acc += inv[n, k, j] * rhs[j, i]
            d_new[k, m, n] = acc
            new_p -= delta * dsig[k] * acc
        p_new[m, n] = new_p
    for k in range(nlev):
        for i in range(nn):
            t_new[k, m, m + i] = r_t[k, i]
    for j in range(nlev):
        for k in range(nlev):
            h = delta * H[k, j]
            for i in range(nn):
                t_new[k, m, m + i] -= h * d_new[j, m, m + i]


def hyperdiffusion_rates(n_index, truncation, order, timescale_s, nlev,
                         sponge_levels=0, sponge_timescale_s=np.inf):
    """Damping rate K (s-1), (nlev, T+1, T+1): (1/tau) (n(n+1)/(T(T+1)))^(order/2), plus a
    del^2 sponge in the top ``sponge_levels`` layers whose strength falls linearly to zero."""
    scaled = n_index * (n_index + 1.0) / (truncation * (truncation + 1.0))
    rates = np.broadcast_to(scaled ** (order // 2) / timescale_s, (nlev,) + scaled.shape).copy()
    for k in range(min(sponge_levels, nlev)):
        weight = (sponge_levels - k) / sponge_levels
        rates[k] += weight * scaled / sponge_timescale_s
    return rates


@numba.njit(cache=True, parallel=True)
def leapfrog_damped(old, tendency, delta, damping, out):
    """out = (old + 2 delta tendency) damping, for fields without implicit terms; all
    (nlev, T+1, T+1), damping real, the others complex. One pass, no temporaries."""
    for k in numba.prange(old.shape[0]):
        for m in range(old.shape[1]):
            for n in range(old.shape[2]):
                out[k, m, n] = (old[k, m, n] + 2.0 * delta * tendency[k, m, n]) * damping[k, m, n]


@numba.njit(cache=True, parallel=True)
def damp(x, damping):
    """x *= damping in place; x complex, damping real, both (nlev, T+1, T+1)."""
    for k in numba.prange(x.shape[0]):
        for m in range(x.shape[1]):
            for n in range(x.shape[2]):
                x[k, m, n] *= damping[k, m, n]


def raw_filter(old, now, new, nu, alpha):
    """The Robert–Asselin–Williams filter (Williams 2009) of one step, the one definition
    every user of the filter calls: with d = nu/2 (X- - 2 X0 + X+), returns the filtered
    (X0 + alpha d, X+ - (1 - alpha) d). Works on floats and on numpy arrays (elementwise,
    the same operations in the same order); ``_raw_filter`` is its numba twin for kernels."""
    d = 0.5 * nu * (old - 2.0 * now + new)
    return now + alpha * d, new - (1.0 - alpha) * d


_raw_filter = numba.njit(raw_filter, cache=True, inline="always")


@numba.njit(cache=True)
def robert_asselin_williams(old, now, new, nu, alpha):
    """Filter the middle level and the new one in place with ``raw_filter``.
    All three arrays C-contiguous with the same shape."""
    o, w, x = old.reshape(-1), now.reshape(-1), new.reshape(-1)
    for i in range(o.size):  # one pass, no temporaries
        w[i], x[i] = _raw_filter(o[i], w[i], x[i], nu, alpha)
