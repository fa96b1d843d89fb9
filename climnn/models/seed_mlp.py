"""The seed network (Rasp, Pritchard & Gentine 2018, PNAS): a fully connected MLP.

It maps a normalized input vector (n_in,) to a normalized output vector (n_out,), the
vectors and their normalization being those of ``climnn.data.loader.VectorLayout``. The
paper's network has 9 hidden layers of 256 units with LeakyReLU (slope 0.3) and a linear
last layer; depth, width, activation and the kind of linear layer (dense, or a
reparameterized one: ``climnn.models.svd_linear``, ``climnn.models.symmetric_linear``) are
configurable.
"""

from __future__ import annotations

from climnn.extras import import_torch

torch = import_torch("climnn.models (the networks)")


def activation_layer(name: str, slope: float = 0.3) -> torch.nn.Module:
    """A fresh activation module by name: leaky_relu (with ``slope``), relu, tanh, gelu."""
    if name == "leaky_relu":
        return torch.nn.LeakyReLU(slope)
    return {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "gelu": torch.nn.GELU}[name]()


class SeedMLP(torch.nn.Sequential):
    """Linear(n_in, width), activation, (hidden_layers - 1) x [Linear(width, width),
    activation], Linear(width, n_out); hidden_layers = 0 is a linear model. ``linear``
    makes each linear layer from (in_features, out_features): torch.nn.Linear by default.

    forward: (batch, n_in) float32 -> (batch, n_out) float32.
    """

    def __init__(self, n_in: int, n_out: int, hidden_layers: int = 9, width: int = 256,
                 activation: str = "leaky_relu", slope: float = 0.3, linear=torch.nn.Linear):
        layers, size = [], n_in
        for _ in range(hidden_layers):
            layers += [linear(size, width), activation_layer(activation, slope)]
            size = width
        layers.append(linear(size, n_out))
        super().__init__(*layers)
