"""The two-scale Lorenz-96 system and its one-scale model with a pluggable parameterization.

Lorenz, E. N., 1996: Predictability: a problem partly solved. Proc. Seminar on
Predictability, ECMWF, 1-18. In the form and with the parameters of Arnold, Moroz & Palmer
2013 (Phil. Trans. R. Soc. A 371, 20110479) and Gagne et al. 2020 (JAMES 12,
e2019MS001896): K = 8 large-scale variables X_k, each coupled to J = 32 small-scale
variables Y_{j,k}, h = 1, b = 10, c = 10, F = 20 (both papers also use F = 18)::

    dX_k/dt     = -X_{k-1} (X_{k-2} - X_{k+1}) - X_k + F - (h c / b) sum_j Y_{j,k}
    dY_{j,k}/dt = -c b Y_{j+1,k} (Y_{j+2,k} - Y_{j-1,k}) - c Y_{j,k} + (h c / b) X_k

X is cyclic in k; the Y form one cyclic ring of K J values, Y_{j,k} at ring index k J + j
(so Y_{J,k} is followed by Y_{1,k+1}). Time is in model time units (MTU; 1 MTU is about
5 atmospheric days). The sub-grid forcing on X_k is U_k = -(h c / b) sum_j Y_{j,k}; the
one-scale model replaces it by a parameterization U(X):

    dX_k/dt = -X_{k-1} (X_{k-2} - X_{k+1}) - X_k + F + U(X)_k

Energy: the advection terms (the quadratic ones) conserve sum X^2 and sum Y^2 separately,
and the exchange terms -(h c / b) sum_j Y_{j,k} on X_k and +(h c / b) X_k on Y_{j,k} cancel
in d/dt (sum X^2 + sum Y^2) / 2: only the damping and F change the total.

Arrays: X (K,) or a batch (n, K); Y (K, J) or a ring (K J,), or batches (n, K J); float64.
The integrator is fourth-order Runge-Kutta with a fixed step (numba kernels below).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np


@dataclass(frozen=True)
class Lorenz96Parameters:
    """K : large-scale variables; J : small-scale variables per large one; h : coupling;
    b : spatial-scale ratio (amplitude); c : time-scale ratio; F : forcing. Defaults: the
    published testbed (Arnold et al. 2013, Gagne et al. 2020) with F = 20."""

    K: int = 8
    J: int = 32
    h: float = 1.0
    b: float = 10.0
    c: float = 10.0
    F: float = 20.0

    def __post_init__(self):
        for name in ("K", "J"):
            if int(getattr(self, name)) < 4 or int(getattr(self, name)) != getattr(self, name):
                raise ValueError(f"Lorenz96Parameters: {name} must be an integer >= 4 (the "
                                 f"advection stencil reaches two neighbours), got "
                                 f"{getattr(self, name)!r}")
        for name in ("b", "c"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Lorenz96Parameters: {name} must be > 0, got "
                                 f"{getattr(self, name)!r}")

    @property
    def coupling(self) -> float:
        """h c / b, the exchange coefficient."""
        return self.h * self.c / self.b

    def as_dict(self) -> dict:
        return {"K": self.K, "J": self.J, "h": self.h, "b": self.b, "c": self.c, "F": self.F}


# ---------------------------------------------------------------- terms (one member)

@numba.njit(cache=True)
def x_advection(x, out):
    """out[k] = -X_{k-1} (X_{k-2} - X_{k+1}), cyclic; x, out : (K,)."""
    n = x.size
    for k in range(n):
        out[k] = -x[k - 1] * (x[k - 2] - x[(k + 1) % n])


@numba.njit(cache=True)
def y_advection(y, cb, out):
    """out[i] = -c b Y_{i+1} (Y_{i+2} - Y_{i-1}) on the cyclic ring; y, out : (K J,)."""
    n = y.size
    for i in range(n):
        out[i] = -cb * y[(i + 1) % n] * (y[(i + 2) % n] - y[i - 1])


@numba.njit(cache=True)
def subgrid_forcing(y, K, coupling, out):
    """out[k] = -(h c / b) sum_j Y_{j,k}: the small scales' forcing on X_k; y : (K J,),
    out : (K,)."""
    J = y.size // K
    for k in range(K):
        total = 0.0
        for j in range(J):
            total += y[k * J + j]
        out[k] = -coupling * total


@numba.njit(cache=True)
def two_scale_tendency(x, y, F, coupling, cb, c, dx, dy):
    """dX/dt into dx (K,) and dY/dt into dy (K J,) of the state x (K,), y (K J,)."""
    K = x.size
    J = y.size // K
    x_advection(x, dx)
    y_advection(y, cb, dy)
    for k in range(K):
        total = 0.0
        for j in range(J):
            total += y[k * J + j]
            dy[k * J + j] += -c * y[k * J + j] + coupling * x[k]
        dx[k] += -x[k] + F - coupling * total


@numba.njit(cache=True)
def _rk4_two_scale(x, y, F, coupling, cb, c, dt, steps):
    """Advance one member (x (K,), y (K J,), in place) by ``steps`` RK4 steps of dt."""
    K, N = x.size, y.size
    kx = np.empty((4, K))
    ky = np.empty((4, N))
    xs, ys = np.empty(K), np.empty(N)
    weights = (0.5, 0.5, 1.0)
    for _ in range(steps):
        two_scale_tendency(x, y, F, coupling, cb, c, kx[0], ky[0])
        for s in range(3):
            for k in range(K):
                xs[k] = x[k] + weights[s] * dt * kx[s, k]
            for i in range(N):
                ys[i] = y[i] + weights[s] * dt * ky[s, i]
            two_scale_tendency(xs, ys, F, coupling, cb, c, kx[s + 1], ky[s + 1])
        for k in range(K):
            x[k] += dt / 6.0 * (kx[0, k] + 2.0 * kx[1, k] + 2.0 * kx[2, k] + kx[3, k])
        for i in range(N):
            y[i] += dt / 6.0 * (ky[0, i] + 2.0 * ky[1, i] + 2.0 * ky[2, i] + ky[3, i])


@numba.njit(cache=True)
def _rk4_two_scale_batch(x, y, F, coupling, cb, c, dt, steps):
    """``_rk4_two_scale`` for every member of x (n, K), y (n, K J)."""
    for m in range(x.shape[0]):
        _rk4_two_scale(x[m], y[m], F, coupling, cb, c, dt, steps)


@numba.njit(cache=True)
def resolved_tendency(x, F, out):
    """The one-scale model's tendency without the parameterization, for a batch:
    out[m, k] = -X_{k-1} (X_{k-2} - X_{k+1}) - X_k + F; x, out : (n, K)."""
    for m in range(x.shape[0]):
        x_advection(x[m], out[m])
        for k in range(x.shape[1]):
            out[m, k] += -x[m, k] + F


# ---------------------------------------------------------------- the models

class TwoScaleModel:
    """The true two-scale system, RK4 with a fixed step ``dt`` (MTU; 0.001 by default, as
    in Arnold et al. 2013: the fast Y need it)."""

    def __init__(self, params: Lorenz96Parameters = Lorenz96Parameters(), dt: float = 0.001):
        if not dt > 0:
            raise ValueError(f"TwoScaleModel: dt must be > 0 MTU, got {dt!r}")
        self.params, self.dt = params, float(dt)

    def initial_state(self, rng: np.random.Generator, members: int = 1):
        """Random states off the attractor (spin them up): X ~ N(0, 1) + F/2, Y ~ 0.1 N(0, 1);
        X (members, K), Y (members, K J)."""
        p = self.params
        return (p.F / 2 + rng.standard_normal((members, p.K)),
                0.1 * rng.standard_normal((members, p.K * p.J)))

    def steps_for(self, duration: float) -> int:
        """The whole number of steps in ``duration`` MTU (ValueError if not whole)."""
        return whole_steps(duration, self.dt, "TwoScaleModel")

    def advance(self, x: np.ndarray, y: np.ndarray, duration: float) -> None:
        """Advance the batch x (n, K), y (n, K J) by ``duration`` MTU, in place."""
        p = self.params
        _check_batch(x, y, p)
        _rk4_two_scale_batch(x, y, p.F, p.coupling, p.c * p.b, p.c, self.dt,
                             self.steps_for(duration))

    def subgrid_forcing(self, y: np.ndarray) -> np.ndarray:
        """U (n, K) = -(h c / b) sum_j Y_{j,k} of the batch y (n, K J)."""
        p = self.params
        return -p.coupling * y.reshape(y.shape[0], p.K, p.J).sum(axis=2)


#: A parameterization: X (n, K) -> U (n, K), the sub-grid forcing on each X_k.
Parameterization = Callable[[np.ndarray], np.ndarray]


def no_parameterization(x: np.ndarray) -> np.ndarray:
    """U = 0: the one-scale model without sub-grid forcing."""
    return np.zeros_like(x)


class OneScaleModel:
    """The one-scale model dX/dt = resolved(X) + U(X), RK4 with a fixed step ``dt`` (MTU;
    0.005 as in Arnold et al. 2013), the parameterization evaluated at every stage."""

    def __init__(self, parameterization: Parameterization, F: float = 20.0, dt: float = 0.005):
        if not dt > 0:
            raise ValueError(f"OneScaleModel: dt must be > 0 MTU, got {dt!r}")
        self.parameterization, self.F, self.dt = parameterization, float(F), float(dt)

    def tendency(self, x: np.ndarray) -> np.ndarray:
        """dX/dt (n, K) of the batch x (n, K)."""
        out = np.empty_like(x)
        resolved_tendency(x, self.F, out)
        return out + self.parameterization(x)

    def advance(self, x: np.ndarray, duration: float) -> None:
        """Advance the batch x (n, K) by ``duration`` MTU, in place."""
        dt = self.dt
        for _ in range(whole_steps(duration, dt, "OneScaleModel")):
            k1 = self.tendency(x)
            k2 = self.tendency(x + 0.5 * dt * k1)
            k3 = self.tendency(x + 0.5 * dt * k2)
            k4 = self.tendency(x + dt * k3)
            x += dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def whole_steps(duration: float, dt: float, who: str) -> int:
    """round(duration / dt), or ValueError naming ``who`` when that is not whole."""
    steps = round(duration / dt)
    if steps < 0 or abs(steps * dt - duration) > 1e-9 * max(1.0, abs(duration)):
        raise ValueError(f"{who}: {duration!r} MTU is not a whole number of steps of "
                         f"{dt!r} MTU")
    return int(steps)


def _check_batch(x: np.ndarray, y: np.ndarray, p: Lorenz96Parameters) -> None:
    n = x.shape[0] if x.ndim == 2 else -1
    if x.shape != (n, p.K) or y.shape != (n, p.K * p.J) or x.dtype != np.float64 \
            or y.dtype != np.float64:
        raise ValueError(f"TwoScaleModel: expected float64 X (n, {p.K}) and Y (n, "
                         f"{p.K * p.J}), got X {x.dtype} {x.shape}, Y {y.dtype} {y.shape}")
