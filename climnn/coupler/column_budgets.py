"""The column energy and water budgets in numpy (float64): the twins of
``climnn.models.budgets`` (torch) for the coupler, tested equal to them.

    energy:  sum_k (cp TPHYSTND + Lv PHQ) dp_k / g  =  (FSNT - FSNS) - (FLNT - FLNS) + SHF + LHF
    water:   sum_k PHQ dp_k / g                     =  LHF / Lv - PRECT

residual = left minus right side: W m-2 (energy), kg m-2 s-1 (water). The "excluded"
surface-flux convention (ClimSim) drops SHF + LHF and LHF / Lv.

``fields`` maps a schema name to float64 arrays: (ncol, nlev) profiles (index 0 = top),
(ncol,) surface fields.
"""

from __future__ import annotations

import numpy as np

from gcm.constants import CP, GRAVITY, LV


def layer_thickness(ps: np.ndarray, hyai: np.ndarray, hybi: np.ndarray,
                    p0: float) -> np.ndarray:
    """dp (ncol, nlev) in Pa from PS (ncol,) in Pa and the interfaces' hyai, hybi, P0."""
    return np.diff(hyai) * p0 + np.diff(hybi) * ps[:, None]


def column_integral(profile: np.ndarray, dp: np.ndarray) -> np.ndarray:
    """sum_k profile_k dp_k / g (ncol,): kg m-2 times the profile's units."""
    return np.einsum("ij,ij->i", profile, dp) / GRAVITY


def boundary_energy(fields: dict, included: bool) -> np.ndarray:
    """Energy entering the column at its boundaries (ncol,), W m-2, plus the host's
    ``energy_source`` when given (heat of the host's own processes, e.g. frictional
    heating, that the network's heating holds)."""
    energy = fields["FSNT"] - fields["FSNS"] - fields["FLNT"] + fields["FLNS"]
    if included:
        energy = energy + fields["SHF"] + fields["LHF"]
    return energy + fields["energy_source"] if "energy_source" in fields else energy


def evaporation(fields: dict, included: bool) -> np.ndarray | float:
    """Water entering at the surface (ncol,) kg m-2 s-1 (0 when excluded)."""
    return fields["LHF"] / LV if included else 0.0


def energy_residual(fields: dict, dp: np.ndarray, included: bool) -> np.ndarray:
    """Energy budget's left minus right side (ncol,), W m-2."""
    stored = column_integral(CP * fields["TPHYSTND"] + LV * fields["PHQ"], dp)
    return stored - boundary_energy(fields, included)


def water_residual(fields: dict, dp: np.ndarray, included: bool) -> np.ndarray:
    """Water budget's left minus right side (ncol,), kg m-2 s-1."""
    return column_integral(fields["PHQ"], dp) - (evaporation(fields, included)
                                                 - fields["PRECT"])
