"""Networks that emulate the column physics: normalized input vector -> normalized output."""

from climnn.models.budgets import column_geometry
from climnn.models.constrained import BudgetConstrainedMLP
from climnn.models.seed_mlp import SeedMLP

__all__ = ["BudgetConstrainedMLP", "SeedMLP", "build_model", "column_geometry"]


def build_model(config, input_layout, output_layout, geometry: dict | None = None):
    """The network a ``climnn.training.config.NetworkConfig`` names for the vectors of the
    two ``VectorLayout``s; ``geometry`` (:func:`column_geometry`) for kind 'constrained'."""
    shape = (config.hidden_layers, config.width, config.activation, config.leaky_slope)
    if config.kind == "constrained":
        return BudgetConstrainedMLP(input_layout, output_layout, geometry, *shape)
    return SeedMLP(input_layout.size, output_layout.size, *shape)
