"""Column energy and water budgets of DESIGN.md, computed from tendencies and fluxes
alone (never from a scheme's own bookkeeping), per column, W m-2 and kg m-2 s-1.

    energy:  sum_k (cp dT/dt + Lv dq/dt) dp_k / g  =  (FSNT - FSNS) - (FLNT - FLNS) + SHF + LHF
    water:   sum_k dq/dt dp_k / g  =  LHF / Lv - P

The residual is the left side minus the right side.
"""

from __future__ import annotations

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
