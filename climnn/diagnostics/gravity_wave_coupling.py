"""Linear hydrostatic gravity waves in an x–p slice coupled to a network's linear response
(Brenowitz, Beucler, Pritchard and Bretherton 2020, "Interpreting and stabilizing
machine-learning parametrizations of convection", J. Atmos. Sci. 77, 4357–4375: the
part that couples the networks' linearized heating and moistening to simplified
gravity-wave dynamics and reads growth rates and phase speeds off the eigenvalues; after
Kuang 2018). Here in the pressure coordinate of our sigma/hybrid levels.

Equations (perturbations ' about a resting base state T̄(p), q̄(p) of one column, one
horizontal Fourier mode exp(i k x), no rotation, no friction):

    u'_t + φ'_x = 0                                   momentum
    φ'_p = -R T_v' / p,  T_v' = T' + ε_v T̄ q'          hydrostatic (virtual temperature)
    u'_x + ω'_p = 0                                   continuity (mass, in pressure)
    T'_t = S ω' + Q1'(T', q')                         heat, S = κ T̄/p - dT̄/dp
    q'_t = -(dq̄/dp) ω' + Q2'(T', q')                  moisture

with ω' = 0 at the model top (the rigid lid: the top interface, p = 0 for sigma levels)
and at the surface p_s (no flow through the ground). Eliminating u' and φ' gives

    ∂t (∂²ω'/∂p²) = k² R T_v' / p,

so with L the second derivative in p with those Dirichlet conditions,

    d/dt [T', q', ω'] = A(k) [T', q', ω'],

    A = [[J_TT, J_Tq, diag(S)     ],
         [J_qT, J_qq, diag(-dq̄/dp)],
         [k² L⁻¹ diag(R/p), k² L⁻¹ diag(R ε_v T̄ / p), 0]],

J the network's Jacobian d(heating, moistening)/d(T, q) (1/s and mixed units,
climnn.diagnostics.stability_analysis). An eigenvalue λ of A is a mode ∝ exp(λ t + i k x):
growth rate Re λ (1/s; reported in 1/day), phase speed c = -Im λ / k (m/s; modes come in
±c pairs).

Units: T' K, q' kg/kg, ω' Pa/s, p Pa, k 1/m, S K/Pa, dq̄/dp 1/Pa, R J/(kg K).

Discretization: T', q', ω' on the full levels p_1..p_n; L is the three-point second
difference on the nodes (p_top, p_1, ..., p_n, p_s) with ω' = 0 at both ends. L = W⁻¹K with
K symmetric negative definite and W positive diagonal, so without the network (J = 0) and
with S > 0, A's T–ω block is similar to a skew-symmetric one: every wave is exactly
neutral, and growth comes from the network alone (or from a base state with S <= 0,
which the analysis floors, see :data:`MIN_STABILITY`). For an isothermal atmosphere
between two pressure lids the exact waves are ω = N k / (m² + 1/(4H²))^½ with N² = g²/(c_p
T̄), H = R T̄ / g, m = nπ / (H ln(p_s / p_top)): the hydrostatic anelastic dispersion
relation, which the tests check the discrete operator against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gcm.constants import KAPPA, RD, RV

#: (R_v / R_d) - 1: virtual-temperature factor of specific humidity.
EPSILON_V = RV / RD - 1.0
#: Static stability S below this (K/Pa; ~ N = 2e-3 1/s at 500 hPa) is raised to it: a
#: superadiabatic base state (a surface layer) would grow dry convective modes of its own,
#: which are not the network's doing.
MIN_STABILITY = 1e-5
#: Wavelengths (m) of the default scan: 100 km to 10,000 km.
DEFAULT_WAVELENGTHS = np.geomspace(1e5, 1e7, 25)


@dataclass(frozen=True)
class BaseState:
    """A resting column: full-level pressure p (n,) Pa from the top down, the lid pressure
    p_top and the surface pressure p_surface (Pa), temperature T (n,) K, specific
    humidity q (n,) kg/kg."""

    p: np.ndarray
    p_top: float
    p_surface: float
    T: np.ndarray
    q: np.ndarray

    def __post_init__(self):
        p = np.asarray(self.p, dtype=np.float64)
        if not (self.p_top < p[0] and np.all(np.diff(p) > 0) and p[-1] < self.p_surface):
            raise ValueError(f"base state: full-level pressures must increase strictly "
                             f"between the lid {self.p_top:g} Pa and the surface "
                             f"{self.p_surface:g} Pa, got {p}")


def static_stability(base: BaseState) -> np.ndarray:
    """S = κ T̄/p - dT̄/dp (n,) K/Pa, floored at MIN_STABILITY."""
    s = KAPPA * base.T / base.p - np.gradient(base.T, base.p)
    return np.maximum(s, MIN_STABILITY)


def second_difference(base: BaseState) -> np.ndarray:
    """(n, n) matrix of ∂²/∂p² (1/Pa²) on the full levels, ω = 0 at p_top and p_surface."""
    nodes = np.concatenate([[base.p_top], base.p, [base.p_surface]])
    h = np.diff(nodes)  # (n + 1,) spacings
    n = base.p.size
    lower, upper = h[:-1], h[1:]  # spacing below and above each full level (in p)
    width = 0.5 * (lower + upper)
    op = np.zeros((n, n))
    idx = np.arange(n)
    op[idx, idx] = -(1.0 / lower + 1.0 / upper) / width
    op[idx[1:], idx[1:] - 1] = 1.0 / (lower[1:] * width[1:])
    op[idx[:-1], idx[:-1] + 1] = 1.0 / (upper[:-1] * width[:-1])
    return op


def wave_operator(base: BaseState, k: float, jacobian: np.ndarray | None = None) -> np.ndarray:
    """A(k) (3n, 3n) acting on [T' (K), q' (kg/kg), ω' (Pa/s)] (module docstring);
    ``jacobian`` (2n, 2n) d(heating K/s, moistening kg/kg/s)/d(T K, q kg/kg), or None for
    dry waves."""
    n = base.p.size
    inverse = np.linalg.inv(second_difference(base))
    a = np.zeros((3 * n, 3 * n))
    if jacobian is not None:
        a[: 2 * n, : 2 * n] = jacobian
    a[:n, 2 * n:] = np.diag(static_stability(base))
    a[n: 2 * n, 2 * n:] = np.diag(-np.gradient(base.q, base.p))
    a[2 * n:, :n] = k * k * inverse * (RD / base.p)
    a[2 * n:, n: 2 * n] = k * k * inverse * (RD * EPSILON_V * base.T / base.p)
    return a


@dataclass(frozen=True)
class WaveSpectrum:
    """The fastest-growing mode at each wavelength (m): growth (1/day), phase speed |c|
    (m/s), and all eigenvalues (nk, 3n) complex 1/s."""

    wavelengths: np.ndarray
    growth_per_day: np.ndarray
    phase_speed: np.ndarray
    eigenvalues: np.ndarray


def wave_spectrum(base: BaseState, jacobian: np.ndarray | None,
                  wavelengths=DEFAULT_WAVELENGTHS) -> WaveSpectrum:
    """Eigenvalues of A(k) for k = 2π / wavelength (m), and the fastest mode of each."""
    wavelengths = np.asarray(wavelengths, dtype=np.float64)
    values = np.array([np.linalg.eigvals(wave_operator(base, 2 * np.pi / length, jacobian))
                       for length in wavelengths])
    fastest = np.argmax(values.real, axis=1)
    chosen = values[np.arange(len(wavelengths)), fastest]
    k = 2 * np.pi / wavelengths
    return WaveSpectrum(wavelengths, chosen.real * 86400.0, np.abs(chosen.imag) / k, values)
