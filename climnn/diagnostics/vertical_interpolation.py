"""Interpolation of history fields from sigma levels to pressure surfaces (linear in ln p),
e.g. the 850 hPa vorticity of the Jablonowski-Williamson baroclinic wave."""

from __future__ import annotations

import numba
import numpy as np


def to_pressure_level(field: np.ndarray, sigma: np.ndarray, ps: np.ndarray, pressure: float
                      ) -> np.ndarray:
    """Field (nlev, ...) on full sigma levels (nlev,) -> (...) on the pressure surface
    ``pressure`` (Pa), linear in ln p; NaN where the surface is outside the column.
    ``ps``: surface pressure (...) in Pa; ``sigma`` increasing (level 0 at the top)."""
    nlev = field.shape[0]
    if sigma.shape != (nlev,) or ps.shape != field.shape[1:]:
        raise ValueError(
            f"to_pressure_level: field has shape {field.shape}, so sigma must have shape "
            f"({nlev},) and ps shape {field.shape[1:]}; found {sigma.shape} and {ps.shape}"
        )
    if not (pressure > 0 and np.all(np.diff(sigma) > 0) and sigma[0] > 0):
        raise ValueError(
            f"to_pressure_level: needs pressure > 0 Pa and sigma positive and increasing; "
            f"found pressure={pressure}, sigma={sigma}"
        )
    flat = field.reshape(nlev, -1)
    out = _interpolate(np.ascontiguousarray(flat), np.log(sigma), np.log(ps.reshape(-1)),
                       np.log(pressure))
    return out.reshape(field.shape[1:])


@numba.njit(cache=True)
def _interpolate(flat, log_sigma, log_ps, log_p):
    nlev, ncol = flat.shape
    out = np.full(ncol, np.nan)
    for i in range(ncol):
        target = log_p - log_ps[i]  # ln sigma of the surface in this column
        for k in range(nlev - 1):
            if log_sigma[k] <= target <= log_sigma[k + 1]:
                w = (target - log_sigma[k]) / (log_sigma[k + 1] - log_sigma[k])
                out[i] = (1.0 - w) * flat[k, i] + w * flat[k + 1, i]
                break
    return out
