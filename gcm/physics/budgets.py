"""Column energy and water budgets of DESIGN.md, computed from tendencies and fluxes
alone (never from a scheme's own bookkeeping), per column, W m-2 and kg m-2 s-1.

    energy:  sum_k (cp dT/dt + Lv dq/dt) dp_k / g  =  (FSNT - FSNS) - (FLNT - FLNS) + SHF + LHF
    water:   sum_k dq/dt dp_k / g  =  LHF / Lv - P

The residual is the left side minus the right side. The numpy functions are the
reference; ``column_residuals`` computes both residuals in one numba pass for the model's
per-step diagnostics.
"""

from __future__ import annotations

import numba
import numpy as np

from gcm.constants import CP, GRAVITY, LV
from gcm.physics.column import ColumnState, ColumnTendencies


def column_integral(x: np.ndarray, dp: np.ndarray) -> np.ndarray:
    """sum_k x_k dp_k / g, (ncol,), for x and dp (ncol, nlev)."""
    return (x * dp).sum(axis=1) / GRAVITY


def energy_residual(columns: ColumnState, tend: ColumnTendencies,
                    frictional_heating: bool = False) -> np.ndarray:
    """Column energy budget residual, W m-2, (ncol,).

    With ``frictional_heating`` the kinetic energy the scheme removes,
    -sum_k (u du/dt + v dv/dt) dp_k / g, is counted as a heat source (the scheme is
    expected to turn dissipated kinetic energy into heat, as CAM does)."""
    dp = columns.thickness
    storage = column_integral(CP * tend.temperature + LV * tend.humidity, dp)
    forcing = (tend.fsnt - tend.fsns) - (tend.flnt - tend.flns) + tend.shf + tend.lhf
    if frictional_heating:
        forcing = forcing - column_integral(columns.u * tend.u + columns.v * tend.v, dp)
    return storage - forcing


def water_residual(columns: ColumnState, tend: ColumnTendencies) -> np.ndarray:
    """Column water budget residual, kg m-2 s-1, (ncol,)."""
    storage = column_integral(tend.humidity, columns.thickness)
    return storage - (tend.lhf / LV - tend.precipitation)


def energy_scale(columns: ColumnState, tend: ColumnTendencies) -> np.ndarray:
    """A magnitude to judge the energy residual against: the largest term, W m-2."""
    dp = columns.thickness
    terms = [column_integral(np.abs(CP * tend.temperature), dp),
             column_integral(np.abs(LV * tend.humidity), dp),
             np.abs(tend.fsnt), np.abs(tend.fsns), np.abs(tend.flnt), np.abs(tend.flns),
             np.abs(tend.shf), np.abs(tend.lhf)]
    return np.maximum.reduce(terms) + 1e-300


def water_scale(columns: ColumnState, tend: ColumnTendencies) -> np.ndarray:
    """A magnitude to judge the water residual against, kg m-2 s-1."""
    terms = [column_integral(np.abs(tend.humidity), columns.thickness),
             np.abs(tend.lhf) / LV, np.abs(tend.precipitation)]
    return np.maximum.reduce(terms) + 1e-300


def column_residuals(columns: ColumnState, tend: ColumnTendencies,
                     frictional_heating: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """energy_residual (W m-2) and water_residual (kg m-2 s-1), (ncol,) each, in one pass
    over the columns (the model's per-step diagnostics). The same terms as the numpy
    functions, summed over the levels in another order: equal to them to round-off."""
    energy, water = np.empty(columns.ncol), np.empty(columns.ncol)
    _residuals_kernel(columns.u, columns.v, columns.pressure_half, tend.temperature,
                      tend.humidity, tend.u, tend.v, tend.fsnt, tend.fsns, tend.flnt,
                      tend.flns, tend.shf, tend.lhf, tend.precipitation,
                      bool(frictional_heating), energy, water)
    return energy, water


BLOCK = 256  # columns summed together, level by level


@numba.njit(cache=True, parallel=True)
def _residuals_kernel(u, v, p_half, dT, dq, du, dv, fsnt, fsns, flnt, flns, shf, lhf,
                      precip, frictional_heating, energy, water):
    """Energy (W m-2) and water (kg m-2 s-1) residuals into energy, water (ncol,) from
    the winds u, v (m s-1), tendencies dT, dq, du, dv (ncol, nlev; any layout), interface
    pressure p_half (ncol, nlev + 1, Pa) and the surface fields (ncol,) of
    ColumnTendencies. A block of columns goes level by level, each column's sums in
    its own accumulator, so that the model's level-major arrays are read in order."""
    ncol, nlev = dT.shape
    for b in numba.prange((ncol + BLOCK - 1) // BLOCK):
        first, last = b * BLOCK, min(ncol, (b + 1) * BLOCK)
        storage = np.zeros(last - first)  # sum (cp dT + Lv dq) dp, W m-2 times g
        moistening = np.zeros(last - first)  # sum dq dp
        dissipation = np.zeros(last - first)  # sum (u du + v dv) dp
        for k in range(nlev):
            for i in range(first, last):
                dp = p_half[i, k + 1] - p_half[i, k]
                storage[i - first] += (CP * dT[i, k] + LV * dq[i, k]) * dp
                moistening[i - first] += dq[i, k] * dp
                if frictional_heating:
                    dissipation[i - first] += (u[i, k] * du[i, k] + v[i, k] * dv[i, k]) * dp
        for i in range(first, last):
            forcing = (fsnt[i] - fsns[i]) - (flnt[i] - flns[i]) + shf[i] + lhf[i]
            if frictional_heating:
                forcing = forcing - dissipation[i - first] / GRAVITY
            energy[i] = storage[i - first] / GRAVITY - forcing
            water[i] = moistening[i - first] / GRAVITY - (lhf[i] / LV - precip[i])
