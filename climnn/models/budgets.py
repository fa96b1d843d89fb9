"""The column energy and water budgets of physical outputs: one computation for everything.

data/README.md and DESIGN.md define them per column, dp_k the layers' pressure thickness:

    energy:  sum_k (cp TPHYSTND + Lv PHQ) dp_k / g  =  (FSNT - FSNS) - (FLNT - FLNS) + SHF + LHF
    water:   sum_k PHQ dp_k / g                     =  LHF / Lv - PRECT

The residual is left minus right side: W m-2 (energy) and kg m-2 s-1 (water). Stores of the
"excluded" surface-flux convention (ClimSim) drop SHF + LHF and LHF / Lv. The architecture-
constrained network (``climnn.models.constrained``), the ``mse_budget`` loss
(``climnn.training.losses``) and the evaluation (``climnn.training.evaluate``) all use these
functions. They take torch tensors, which should be float64: a budget's terms reach hundreds
of W m-2 and cancel to a small residual.

``fields`` maps an output name to its physical values (batch, k): k = nlev for a profile
(index 0 = top), 1 for a surface field.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from climnn.extras import import_torch
from gcm.constants import CP, GRAVITY, LV

torch = import_torch("climnn.models (the networks)")

#: Outputs the budgets need (SHF and LHF only in the "included" convention).
BUDGET_OUTPUTS = ("TPHYSTND", "PHQ", "PRECT", "FSNT", "FSNS", "FLNT", "FLNS")
SURFACE_FLUXES = ("SHF", "LHF")


def column_geometry(store: str | Path, convention: str | None = None) -> dict:
    """hyai, hybi (nlev + 1,), P0 (Pa) and the surface-flux convention of a store, or of a
    training's targets (``convention``: data.surface_flux_convention, None: the store's;
    climnn.data.surface_convention)."""
    from climnn.data.surface_convention import training_convention

    ds = xr.open_zarr(store, consolidated=False)
    stored = ds.attrs["surface_flux_convention"]
    return {"hyai": ds["hyai"].values.astype(np.float64),
            "hybi": ds["hybi"].values.astype(np.float64), "p0": float(ds["P0"].values),
            "convention": training_convention(convention, stored, store)}


def budget_variables(convention: str) -> tuple[str, ...]:
    """The outputs the budgets of a store of this surface-flux convention need."""
    return BUDGET_OUTPUTS + (SURFACE_FLUXES if convention == "included" else ())


def require_budget_terms(input_layout, output_layout, convention: str, who: str) -> tuple:
    """The budget outputs (:func:`budget_variables`) when the vectors hold them and input PS;
    ValueError naming ``who`` (e.g. "model.kind 'constrained'") and what is missing."""
    needed = budget_variables(convention)
    missing = [n for n in needed if n not in output_layout.names]
    if "PS" not in input_layout.names or missing:
        raise ValueError(f"{who} needs input PS and outputs {list(needed)} (store convention "
                         f"{convention!r}); data lacks {missing or ['PS']}: list them in "
                         f"data.inputs / data.outputs")
    return needed


def surface_pressure_decoding(input_layout) -> tuple[int, float, float]:
    """(index, shift, factor) of PS in a normalized input vector: PS = x / factor + shift."""
    index = input_layout.slices["PS"].start
    return index, float(input_layout.shift[index]), float(input_layout.factor[index])


def thickness_coefficients(geometry: dict) -> tuple[np.ndarray, np.ndarray]:
    """(diff(hyai) P0 in Pa, diff(hybi)), each (nlev,) float64: dp = a + b PS."""
    return np.diff(geometry["hyai"]) * geometry["p0"], np.diff(geometry["hybi"])


def layer_thickness(ps: torch.Tensor, dhyai: torch.Tensor, dhybi: torch.Tensor) -> torch.Tensor:
    """dp (batch, nlev) in Pa from PS (batch,) in Pa and :func:`thickness_coefficients`."""
    return dhyai + dhybi * ps[:, None]


def column_integral(tendency: torch.Tensor, dp: torch.Tensor) -> torch.Tensor:
    """sum_k tendency_k dp_k / g (batch,): kg m-2 times the tendency's unit (x cp: W m-2)."""
    return (tendency * dp).sum(1) / GRAVITY


def boundary_energy(fields: dict, included: bool) -> torch.Tensor:
    """Energy entering the column at its boundaries (batch,), W m-2: the net radiation
    (FSNT - FSNS) - (FLNT - FLNS), plus SHF + LHF when the surface fluxes are included."""
    energy = (fields["FSNT"] - fields["FSNS"] - fields["FLNT"] + fields["FLNS"])[:, 0]
    if included:
        energy = energy + fields["SHF"][:, 0] + fields["LHF"][:, 0]
    return energy


def evaporation(fields: dict, included: bool, like: torch.Tensor) -> torch.Tensor:
    """Water entering at the surface (batch,), kg m-2 s-1: LHF / Lv when the surface
    fluxes are included, else zeros like ``like``."""
    return fields["LHF"][:, 0] / LV if included else torch.zeros_like(like)


def budget_residuals(fields: dict, dp: torch.Tensor,
                     included: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(energy residual W m-2, water residual kg m-2 s-1), each (batch,): left minus right
    side of the budgets in the module docstring; ``included``: the store's convention is
    "included"."""
    water = column_integral(fields["PHQ"], dp)
    energy = (column_integral(CP * fields["TPHYSTND"], dp) + LV * water
              - boundary_energy(fields, included))
    return energy, water - (evaporation(fields, included, water) - fields["PRECT"][:, 0])
