"""Networks that emulate the column physics: normalized input vector -> normalized output."""

from climnn.models.seed_mlp import SeedMLP, build_model

__all__ = ["SeedMLP", "build_model"]
