"""Networks that emulate the column physics: normalized input vector -> normalized output."""

import functools

from climnn.extras import import_torch
from climnn.models.budgets import column_geometry
from climnn.models.constrained import BudgetConstrainedMLP
from climnn.models.linearized import LinearizedNetwork, TangentMLP
from climnn.models.parameterized_linear import dense_form
from climnn.models.seed_mlp import SeedMLP
from climnn.models.svd_linear import SVDLinear
from climnn.models.symmetric_linear import SymmetricLinear

__all__ = ["BudgetConstrainedMLP", "LinearizedNetwork", "SVDLinear", "SeedMLP",
           "SymmetricLinear", "TangentMLP", "build_model", "column_geometry", "inference_form",
           "linear_layer"]


def build_model(config, input_layout, output_layout, geometry: dict | None = None):
    """The network a ``climnn.training.config.NetworkConfig`` names for the vectors of the
    two ``VectorLayout``s; ``geometry`` (:func:`column_geometry`) for kind 'constrained'."""
    shape = (config.hidden_layers, config.width, config.activation, config.leaky_slope)
    linear = linear_layer(config)
    if config.kind == "constrained":
        model = BudgetConstrainedMLP(input_layout, output_layout, geometry, *shape)
        if config.layer != "dense":  # the same MLP with the configured layers
            model.net = SeedMLP(input_layout.size, len(model.free), *shape, linear)
        return model
    mlp = SeedMLP(input_layout.size, output_layout.size, *shape, linear)
    return LinearizedNetwork(mlp) if config.kind == "linearized" else mlp


def linear_layer(config):
    """The constructor (in_features, out_features) -> layer of ``config.layer``."""
    if config.layer == "svd":
        return functools.partial(SVDLinear, sigma_min=config.svd.sigma_min,
                                 sigma_max=config.svd.sigma_max)
    if config.layer == "symmetric":
        return functools.partial(SymmetricLinear, block=config.symmetric.block)
    return import_torch("climnn.models (the networks)").nn.Linear


def inference_form(model):
    """The plain form of a trained network that an export traces: reparameterized layers
    as the torch.nn.Linear of their weights, a linearized network as its written-out
    forward-mode :class:`TangentMLP`. Modifies ``model``; the numbers are unchanged up to
    round-off."""
    if isinstance(model, LinearizedNetwork):
        return model.tangent_form()
    return dense_form(model)
