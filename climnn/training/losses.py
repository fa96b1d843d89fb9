"""Training losses, chosen by ``loss.kind``: mse, mae and mse_budget.

Every loss is called as ``loss(prediction, target, inputs)`` on the normalized vectors
(batch, n_out), (batch, n_out) and (batch, n_in) and returns a scalar tensor; mse and mae
ignore the inputs.

``mse_budget`` is the soft constraint of Beucler et al. (2021, PRL): the MSE of the
normalized outputs plus ``budget_weight`` x the mean of the squared column energy and water
budget residuals of the predicted outputs (``climnn.models.budgets``, float64), made
dimensionless: the energy residual (W m-2) and the water residual x Lv (W m-2) are divided
by BUDGET_SCALE = 1000 W m-2, the same factor (1e-3) the seed normalization gives the
boundary fluxes among the outputs, so that a residual weighs as an error of that size in
one of those fluxes. It needs input PS and the budget outputs (TPHYSTND, PHQ, PRECT, the
four radiative fluxes, and SHF, LHF in "included" stores), as the constrained network does.
"""

from __future__ import annotations

import functools

from climnn.extras import import_torch
from climnn.models.budgets import (
    budget_residuals,
    layer_thickness,
    require_budget_terms,
    surface_pressure_decoding,
    thickness_coefficients,
)
from gcm.constants import LV

torch = import_torch("climnn.training (training)")

#: W m-2: a budget residual of this size costs as much as a unit error of a normalized output.
BUDGET_SCALE = 1e3


def build_loss(config, layouts, geometry: dict):
    """The loss of a ``LossConfig`` for the (input, output) ``VectorLayout`` pair
    ``layouts`` of a store of column geometry ``geometry`` (``column_geometry``)."""
    if config.kind == "mse_budget":
        return BudgetLoss(*layouts, geometry, config.budget_weight)
    plain = {"mse": torch.nn.functional.mse_loss, "mae": torch.nn.functional.l1_loss}
    return functools.partial(_ignoring_inputs, plain[config.kind])


def _ignoring_inputs(loss, prediction, target, inputs):
    return loss(prediction, target)


class BudgetLoss(torch.nn.Module):
    """MSE + weight x mean((energy / BUDGET_SCALE)^2, (Lv water / BUDGET_SCALE)^2) over the
    batch, the residuals those of the predicted outputs (module docstring)."""

    def __init__(self, input_layout, output_layout, geometry: dict, weight: float):
        super().__init__()
        needed = require_budget_terms(input_layout, output_layout, geometry["convention"],
                                      "loss.kind 'mse_budget'")
        self.weight, self.included = weight, geometry["convention"] == "included"
        self.slices = {n: output_layout.slices[n] for n in needed}
        self.ps_index, self.ps_shift, self.ps_factor = surface_pressure_decoding(input_layout)
        self.register_buffer("factor", torch.tensor(output_layout.factor))
        self.register_buffer("shift", torch.tensor(output_layout.shift))
        dhyai, dhybi = thickness_coefficients(geometry)
        self.register_buffer("dhyai", torch.tensor(dhyai))
        self.register_buffer("dhybi", torch.tensor(dhybi))

    def residuals(self, prediction: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """(batch, 2) float64: energy and Lv x water residuals over BUDGET_SCALE."""
        if self.factor.device != prediction.device:
            self.to(prediction.device)
        phys = prediction.double() / self.factor + self.shift
        fields = {name: phys[:, where] for name, where in self.slices.items()}
        ps = inputs[:, self.ps_index].double() / self.ps_factor + self.ps_shift
        energy, water = budget_residuals(fields, layer_thickness(ps, self.dhyai, self.dhybi),
                                         self.included)
        return torch.stack([energy, LV * water], 1) / BUDGET_SCALE

    def forward(self, prediction: torch.Tensor, target: torch.Tensor,
                inputs: torch.Tensor) -> torch.Tensor:
        mse = torch.nn.functional.mse_loss(prediction, target)
        penalty = self.residuals(prediction, inputs).square().mean()
        return mse + self.weight * penalty.to(mse.dtype)
