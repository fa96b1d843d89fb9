"""The blow-up check: a state that turned NaN or inf ends the run with a message that
says where and when, and how close to its stability limit the model ran before it.

The limit meant is the advective Courant number dt T (|u| / (a cos lat) + |v| / a) of
the spectral model at truncation T (the explicit advection's stability bound is about
1); the model records it from the old level's winds every step with grid physics.
"""

from __future__ import annotations

import collections
import math

import numba
import numpy as np

from gcm.constants import RADIUS


class ModelBlowUpError(FloatingPointError):
    """The state holds NaN or inf; the message names the field, step and time."""


class BlowUpCheck:
    """The Courant numbers of the last ``keep`` steps and the error that quotes them.

    dt: the time step, s; truncation: T; inv_cos: 1/cos(latitude), (nlat,)."""

    def __init__(self, dt: float, truncation: int, inv_cos: np.ndarray, keep: int = 10):
        self.dt, self.truncation, self.inv_cos = dt, truncation, inv_cos
        self.courant = collections.deque(maxlen=keep)

    def record_courant_number(self, u: np.ndarray, v: np.ndarray) -> None:
        """Keep the largest advective Courant number of winds u, v (nlev, nlat, nlon),
        m s-1, for the blow-up message."""
        speed = _largest_angular_speed(u, v, self.inv_cos)
        self.courant.append(speed * self.dt * self.truncation / RADIUS)

    def error(self, field: str, step: int, time: str) -> ModelBlowUpError:
        """The error for a non-finite ``field`` at model step ``step`` and ISO ``time``."""
        hint = ""
        if self.courant:
            largest = max(self.courant)
            hint = (f"; the advective Courant number dt T (|u|/(a cos lat) + |v|/a) reached "
                    f"{largest:.2f} in the last {len(self.courant)} steps"
                    + (" (above 1: reduce time.step_minutes)" if largest > 1 else ""))
        return ModelBlowUpError(
            f"the model state became non-finite ({field}) at step {step}, "
            f"model time {time}; output written before this step is kept" + hint)


def all_finite(arrays) -> bool:
    """Whether every value of the float or complex ``arrays`` is finite: one read of
    each, no temporaries (np.isfinite(x).all() writes a mask and reads it again; ~3x
    slower on a T42L25 state, whose check runs every step)."""
    return _all_finite(tuple(_real_values(x) for x in arrays))


def _real_values(x: np.ndarray) -> np.ndarray:
    """x's values as one flat float64 array (a complex value as two), a view if it can."""
    x = np.ascontiguousarray(x)
    if x.dtype != np.float64 and x.dtype != np.complex128:
        x = x.astype(np.complex128 if np.iscomplexobj(x) else np.float64)
    return x.reshape(-1).view(np.float64)


@numba.njit(cache=True)
def _all_finite(arrays):
    """False if any value of the flat float64 ``arrays`` (a tuple) is NaN or inf; the
    or-reduction over a whole array has no branch to break its vectorization."""
    for x in arrays:
        bad = False
        for i in range(x.size):
            bad |= not math.isfinite(x[i])
        if bad:
            return False
    return True


def nonfinite_arrays(levels: dict) -> list[str]:
    """"label.name" of every array of the states in ``levels`` (label -> SpectralState)
    that holds NaN or inf: the inputs and outputs of a step, to find where it began."""
    return [f"{label}.{name}" for label, state in levels.items()
            for name, x in state.arrays().items() if not np.isfinite(x).all()]


@numba.njit(cache=True, parallel=True)
def _largest_angular_speed(u, v, inv_cos):
    """max over latitudes of (max |u| / cos(phi) + max |v|), the maxima over levels and
    longitudes of each row; u, v (nlev, nlat, nlon) m s-1, inv_cos (nlat,). One pass,
    no temporaries. NaN propagates."""
    nlev, nlat, nlon = u.shape
    rows = np.empty(nlat)
    for j in numba.prange(nlat):
        zonal = 0.0
        meridional = 0.0
        for k in range(nlev):
            for i in range(nlon):
                a = abs(u[k, j, i])
                b = abs(v[k, j, i])
                # written so that a NaN wins (max() would keep the old value)
                zonal = a if not a <= zonal else zonal
                meridional = b if not b <= meridional else meridional
        rows[j] = zonal * inv_cos[j] + meridional
    return rows.max()
