"""Linearized networks and the empirical neural tangent kernel (Lee et al. 2019, "Wide
neural networks of any depth evolve as linear models under gradient descent", NeurIPS).

A network f(x; θ) is replaced by its first-order Taylor expansion in θ about its start θ0:

    f_lin(x; θ) = f(x; θ0) + J_θ f(x; θ0) (θ - θ0)

linear in θ, not in x. :class:`LinearizedNetwork` wraps a network: its trainable parameters
are the wrapped network's (θ, starting at θ0), a frozen copy holds θ0, and the forward pass
is one ``torch.func.jvp`` of the frozen network along θ - θ0 (``functional_call``), which
gives f(x; θ0) and J (θ - θ0) together. At θ = θ0 it equals the network exactly.

Under gradient descent on L = ½ Σ_i ‖f_lin(x_i) - y_i‖² with rate η the predictions on the
training batch follow f_{k+1} - y = (I - η Θ)(f_k - y) exactly, Θ the empirical NTK
(:func:`empirical_ntk`, Θ(x, x') = J(x) J(x')ᵀ at θ0); in continuous time
f_t = y + exp(-η Θ t)(f_0 - y).

Export: TorchScript cannot trace ``torch.func`` (``functional_call``: "The stateless API
can't be used with Jitted modules"), and ``torch.export`` of the jvp fixes the batch size.
:meth:`LinearizedNetwork.tangent_form` therefore writes the same function as forward-mode
differentiation by hand, for a Sequential of affine layers (torch.nn.Linear or the
reparameterized ones) and elementwise activations: per layer the weight W0, b0 at θ0 and
their directional derivatives dW, db along θ - θ0 (computed once, by jvp), then

    z = W0 h + b0,  dz = W0 dh + dW h + db,   h' = act(z),  dh' = act'(z) dz

which traces like any MLP (:class:`TangentMLP`).
"""

from __future__ import annotations

import copy
import math

from climnn.export.quiet import torchscript_quiet
from climnn.extras import import_torch

torch = import_torch("climnn.models (the networks)")


class LinearizedNetwork(torch.nn.Module):
    """forward: (batch, n_in) -> (batch, n_out), f(x; θ0) + J_θ f(x; θ0) (θ - θ0).

    net : the network to linearize; its parameters now are θ0 and stay trainable as θ
    """

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net
        self.origin = copy.deepcopy(net).requires_grad_(False)  # θ0, saved with the weights

    def start_and_step(self) -> tuple[dict, dict]:
        """({name: θ0}, {name: θ - θ0}) over the network's parameters."""
        origin = dict(self.origin.named_parameters())
        start = {name: origin[name].detach() for name, _ in self.net.named_parameters()}
        step = {name: p - start[name] for name, p in self.net.named_parameters()}
        return start, step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        start, step = self.start_and_step()
        with torchscript_quiet():  # jvp's first call scripts its decompositions
            value, tangent = torch.func.jvp(
                lambda params: torch.func.functional_call(self.origin, params, (x,)),
                (start,), (step,))
        return value + tangent

    def ntk(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """The network's empirical NTK at θ0 (:func:`empirical_ntk`)."""
        return empirical_ntk(self.origin, x1, x2)

    def tangent_form(self) -> TangentMLP:
        """The traceable :class:`TangentMLP` computing this forward (a Sequential ``net``)."""
        return TangentMLP(self)


def jacobian(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(batch, n_out, P): ∂f(x_i)_a / ∂θ_p over all P trainable numbers of ``net``."""
    params = {name: p.detach() for name, p in net.named_parameters()}
    rows = torch.func.jacrev(lambda p: torch.func.functional_call(net, p, (x,)))(params)
    return torch.cat([j.reshape(*j.shape[:2], -1) for j in rows.values()], 2)


def empirical_ntk(net: torch.nn.Module, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """(n1, n_out, n2, n_out) Θ(x1_i, x2_j)_ab = Σ_p ∂f_a(x1_i)/∂θ_p ∂f_b(x2_j)/∂θ_p at
    ``net``'s parameters now; Θ(x, x) reshaped to (n n_out)² is symmetric positive
    semi-definite."""
    return torch.einsum("iap,jbp->iajb", jacobian(net, x1), jacobian(net, x2))


def activation_slope(module: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    """act'(z) of an elementwise activation module (LeakyReLU, ReLU, Tanh, GELU)."""
    if isinstance(module, torch.nn.LeakyReLU):
        slope = module.negative_slope  # in z's precision (a where() of scalars is float32)
        return (z > 0).to(z.dtype) * (1 - slope) + slope
    if isinstance(module, torch.nn.ReLU):
        return (z > 0).to(z.dtype)
    if isinstance(module, torch.nn.Tanh):
        return 1 - torch.tanh(z) ** 2
    if isinstance(module, torch.nn.GELU) and module.approximate == "none":
        cdf = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
        return cdf + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    raise ValueError(f"the linearized export has no derivative of {module}")


class TangentLayer(torch.nn.Module):
    """One affine layer and its tangent: (h, dh) -> (W0 h + b0, W0 dh + dW h + db)."""

    def __init__(self, start: torch.Tensor, start_bias, step: torch.Tensor, step_bias):
        super().__init__()
        self.start, self.step = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
        self.start.weight = torch.nn.Parameter(start)
        self.start.bias = torch.nn.Parameter(start_bias)
        self.step.weight = torch.nn.Parameter(step)
        self.step.bias = torch.nn.Parameter(step_bias)

    def forward(self, h: torch.Tensor, dh: torch.Tensor) -> tuple:
        return self.start(h), self.step(h) + dh @ self.start.weight.T


class TangentActivation(torch.nn.Module):
    """(z, dz) -> (act(z), act'(z) dz)."""

    def __init__(self, activation: torch.nn.Module):
        super().__init__()
        self.activation = activation

    def forward(self, z: torch.Tensor, dz: torch.Tensor) -> tuple:
        return self.activation(z), activation_slope(self.activation, z) * dz


class TangentMLP(torch.nn.Module):
    """forward: (batch, n_in) -> (batch, n_out), f(x; θ0) + J (θ - θ0) of a linearized
    Sequential network, by forward-mode differentiation written out (traceable)."""

    def __init__(self, linearized: LinearizedNetwork):
        super().__init__()
        start, step = linearized.start_and_step()
        layers = []
        for name, layer in linearized.origin.named_children():
            if not hasattr(layer, "weight"):
                layers.append(TangentActivation(copy.deepcopy(layer)))
                continue
            weights = _affine_with_tangent(layer, _within(start, name), _within(step, name))
            layers.append(TangentLayer(*weights))
        self.layers = torch.nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, dh = x, torch.zeros_like(x)
        for layer in self.layers:
            h, dh = layer(h, dh)
        return h + dh


def _within(params: dict, name: str) -> dict:
    """The entries of ``params`` under the child ``name``, named as within it, detached."""
    prefix = f"{name}."
    return {k[len(prefix):]: v.detach() for k, v in params.items() if k.startswith(prefix)}


def _affine_with_tangent(layer: torch.nn.Module, start: dict, step: dict) -> tuple:
    """(W0, b0, dW, db) of an affine layer: its weight and bias at ``start`` and their
    derivatives along ``step``, read off the layer's outputs for the unit vectors and 0."""
    n_in = layer.in_features
    probe = torch.cat([torch.eye(n_in), torch.zeros(1, n_in)]).to(next(iter(start.values())))
    with torch.no_grad(), torchscript_quiet():
        out, tangent = torch.func.jvp(
            lambda p: torch.func.functional_call(layer, p, (probe,)), (start,), (step,))
    bias, dbias = out[-1], tangent[-1]
    return ((out[:-1] - bias).T.contiguous(), bias.clone(), (tangent[:-1] - dbias).T.contiguous(),
            dbias.clone())


def training_gap(width: int, *, hidden_layers: int = 2, steps: int = 100, samples: int = 16,
                 n_in: int = 4, activation: str = "tanh", seed: int = 0) -> dict:
    """How far full training leaves the network from its linearization at one ``width``.

    A SeedMLP (float64) and its LinearizedNetwork from the same start are trained by full-
    batch gradient descent on L = ½ Σ (f(x_i) - y_i)², y = sin(Σ x), for ``steps`` steps at
    rate 1 / λ_max(Θ) (Θ the empirical NTK of the batch: the largest stable rate of the
    linear model, so that every width moves as far in function space); the gap is
    ‖f - f_lin‖ / ‖f - f_0‖ on 2 ``samples`` fresh inputs. Returns {"gap", "loss" (full
    network's, end), "loss_linearized", "rate"}. Lee et al. (2019): gap = O(width^-1/2).
    """
    from climnn.models.seed_mlp import SeedMLP

    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, n_in, generator=generator, dtype=torch.float64)
    y = torch.sin(x.sum(1, keepdim=True))
    fresh = torch.randn(2 * samples, n_in, generator=generator, dtype=torch.float64)
    torch.manual_seed(seed)
    net = SeedMLP(n_in, 1, hidden_layers, width, activation).double()
    linearized = LinearizedNetwork(copy.deepcopy(net))
    kernel = linearized.ntk(x, x).reshape(samples, samples)
    rate = 1.0 / float(torch.linalg.eigvalsh(kernel).max())
    with torch.no_grad():
        start = net(fresh)
    losses = []
    for model in (net, linearized):
        optimizer = torch.optim.SGD(model.parameters(), lr=rate)
        for _ in range(steps):
            optimizer.zero_grad()
            loss = 0.5 * ((model(x) - y) ** 2).sum()
            loss.backward()
            optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        full, linear = net(fresh), linearized(fresh)
    gap = float((full - linear).norm() / (full - start).norm())
    return {"gap": gap, "loss": losses[0], "loss_linearized": losses[1], "rate": rate}
