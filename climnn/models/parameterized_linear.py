"""What the reparameterized linear layers share (:mod:`climnn.models.svd_linear`,
:mod:`climnn.models.symmetric_linear`): a ``weight`` computed from their parameters, the
forward of torch.nn.Linear, and the plain torch.nn.Linear of the weight they hold, which is
what an exported network carries (:func:`dense_form`), so that an export of these layers is
an export of ordinary linear layers.
"""

from __future__ import annotations

from climnn.extras import import_torch

torch = import_torch("climnn.models (the networks)")


class ParameterizedLinear(torch.nn.Module):
    """forward: (batch, in_features) -> (batch, out_features), x Wᵀ + b; a subclass sets
    ``in_features``, ``out_features``, ``bias`` and defines the ``weight`` property."""

    in_features: int
    out_features: int

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(x, self.weight, self.bias)

    def dense(self) -> torch.nn.Linear:
        """A torch.nn.Linear holding this layer's weight and bias now (detached copies)."""
        linear = torch.nn.Linear(self.in_features, self.out_features, self.bias is not None)
        with torch.no_grad():
            linear.weight.copy_(self.weight)
            if self.bias is not None:
                linear.bias.copy_(self.bias)
        return linear


def dense_form(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with every ParameterizedLinear inside replaced by its dense torch.nn.Linear
    (in place; returned). The numbers it computes are unchanged up to round-off."""
    for name, child in model.named_children():
        if isinstance(child, ParameterizedLinear):
            setattr(model, name, child.dense())
        else:
            dense_form(child)
    return model
