"""Training losses, chosen by ``loss.kind``: mse, mae, huber and mse_budget.

Every loss is called as ``loss(prediction, target, inputs)`` on the normalized vectors
(batch, n_out), (batch, n_out) and (batch, n_in) and returns a scalar tensor; mse and mae
ignore the inputs.

``loss.output_weights: variance`` weighs each output entry's squared error by the inverse of
its variance in the store's statistics (its absolute error, for mae, by the inverse std), so
that the MSE becomes the mean over entries of (1 - R^2) and the thin upper levels, whose
heating varies by a tenth of the lower troposphere's, count as much as the rest. The seed
scaling (energy units) leaves them almost out of the loss: the per-level R^2 targets of the
training issue fail there first. An entry's variance is floored at ``variance_floor`` x the
largest of its variable's levels, so that levels with nothing to learn (stratospheric
moistening, ~1e-35) do not take over. The weights average to one.

``huber`` is MAE's robustness with MSE's mean: each entry's error r costs r^2 / (2 delta)
within delta of the target and |r| - delta / 2 beyond (Huber's loss over delta, torch's
smooth L1), with delta = ``huber_delta`` x the entry's standard deviation in the store's
statistics (normalized). MAE fits the conditional median, which for skewed targets (SP
heating: intermittent convection) is not the mean the budgets and the climate need; MSE
fits the mean but is pulled by rare extreme samples (README, "A network trained on SP
data").

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

import numpy as np

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


def build_loss(config, layouts, geometry: dict, weights: np.ndarray | None = None,
               spread: np.ndarray | None = None):
    """The loss of a ``LossConfig`` for the (input, output) ``VectorLayout`` pair
    ``layouts`` of a store of column geometry ``geometry`` (``column_geometry``);
    ``weights`` (n_out,): each output entry's weight in the mean square (None: all 1);
    ``spread`` (n_out,): each normalized output entry's standard deviation
    (:func:`output_spread`), needed by ``huber``."""
    if config.kind == "mse_budget":
        return BudgetLoss(*layouts, geometry, config.budget_weight, weights)
    if config.kind == "huber":
        if spread is None:
            raise ValueError("loss.kind 'huber' needs the outputs' spread (output_spread)")
        delta = torch.tensor(np.maximum(config.huber_delta * spread, np.finfo(np.float32).tiny),
                             dtype=torch.float32)
        root = None if weights is None else torch.tensor(np.sqrt(weights), dtype=torch.float32)
        return functools.partial(smooth_l1, delta, root)
    if weights is None:
        plain = {"mse": torch.nn.functional.mse_loss, "mae": torch.nn.functional.l1_loss}
        return functools.partial(_ignoring_inputs, plain[config.kind])
    weighted = {"mse": weighted_mse, "mae": weighted_mae}[config.kind]
    return functools.partial(weighted, torch.tensor(weights, dtype=torch.float32))


def _ignoring_inputs(loss, prediction, target, inputs):
    return loss(prediction, target)


def weighted_mse(weights, prediction, target, inputs=None):
    """mean over batch and entries of weights x (prediction - target)^2."""
    weights = weights.to(prediction.device, prediction.dtype)
    return ((prediction - target).square() * weights).mean()


def weighted_mae(weights, prediction, target, inputs=None):
    """mean over batch and entries of sqrt(weights) x |prediction - target|."""
    weights = weights.to(prediction.device, prediction.dtype)
    return ((prediction - target).abs() * weights.sqrt()).mean()


def smooth_l1(delta, root_weights, prediction, target, inputs=None):
    """mean over batch and entries of [root_weights x] Huber(r; delta) / delta, r the
    error: r^2 / (2 delta) for |r| <= delta, |r| - delta / 2 beyond; delta (n_out,)."""
    delta = delta.to(prediction.device, prediction.dtype)
    error = (prediction - target).abs()
    cost = torch.where(error <= delta, 0.5 * error.square() / delta, error - 0.5 * delta)
    if root_weights is not None:
        cost = cost * root_weights.to(prediction.device, prediction.dtype)
    return cost.mean()


def output_spread(layout, stats) -> np.ndarray:
    """(n_out,) float64: each normalized output entry's standard deviation, the store's
    statistics' ``X_std`` per level times the layout's factor."""
    return np.concatenate([
        np.atleast_1d(np.asarray(stats[f"{name}_std"].values, dtype=np.float64))
        * np.abs(layout.factor[where]) for name, where in layout.slices.items()])


def output_weights(config, layout, stats) -> np.ndarray | None:
    """(n_out,) float64 weights of the normalized output entries for ``loss.output_weights``
    (module docstring), None for uniform. ``layout``: the output ``VectorLayout``;
    ``stats``: the store's statistics (``climnn.data.stats.load_statistics``), whose
    ``X_std`` per level times the layout's factor is each entry's normalized spread."""
    if config.output_weights == "uniform":
        return None
    variance = output_spread(layout, stats) ** 2
    for where in layout.slices.values():
        variance[where] = np.maximum(variance[where], config.variance_floor * variance[where].max())
    if not np.all(variance > 0):
        empty = [n for n, w in layout.slices.items() if not np.all(variance[w] > 0)]
        raise ValueError(f"loss.output_weights 'variance': the outputs {empty} do not vary "
                         "in the store's statistics, so they have no variance to weigh by")
    weights = 1.0 / variance
    return weights / weights.mean()


class BudgetLoss(torch.nn.Module):
    """MSE + weight x mean((energy / BUDGET_SCALE)^2, (Lv water / BUDGET_SCALE)^2) over the
    batch, the residuals those of the predicted outputs (module docstring)."""

    def __init__(self, input_layout, output_layout, geometry: dict, weight: float,
                 entry_weights: np.ndarray | None = None):
        super().__init__()
        n_out = output_layout.size
        self.register_buffer("entry_weights", torch.tensor(
            np.ones(n_out) if entry_weights is None else entry_weights, dtype=torch.float32))
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
        mse = weighted_mse(self.entry_weights, prediction, target)
        penalty = self.residuals(prediction, inputs).square().mean()
        return mse + self.weight * penalty.to(mse.dtype)
