"""The linearized network (issue 16; Lee et al. 2019): equal to the network at its start,
trainable, its empirical NTK symmetric and positive semi-definite, gradient descent on it
the NTK's kernel regression, its training closer to the full network's the wider the
network, and its export (the written-out tangent network) equal to the eager model."""

import numpy as np
import pytest
import torch
import yaml
from test_svd_linear import check_export_equals_eager, parameterization_config, train_tiny
from test_training import budget_store  # noqa: F401 (a fixture)

from climnn.export.trained import load_trained
from climnn.models import LinearizedNetwork, SeedMLP, TangentMLP, inference_form
from climnn.models.linearized import empirical_ntk, training_gap


def network(width=16, activation="tanh", layer=torch.nn.Linear, seed=0):
    torch.manual_seed(seed)
    return SeedMLP(4, 3, 2, width, activation, 0.3, layer).double()


def perturb(model, size=0.05):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(size * torch.randn_like(p))


@pytest.mark.parametrize("activation", ["tanh", "leaky_relu", "gelu"])
def test_equal_to_the_network_at_the_start_and_its_tangent_form_after(activation):
    net = network(activation=activation)
    linearized = LinearizedNetwork(network(activation=activation))
    x = torch.randn(7, 4, dtype=torch.float64)
    assert torch.equal(linearized(x), net(x))
    perturb(linearized.net, 0.005)
    with torch.no_grad():
        moved, full, start = linearized(x), linearized.net(x), net(x)
    assert not torch.allclose(moved, start)  # θ - θ0 matters
    # the network at θ differs from its linearization by second order only
    assert float((full - moved).abs().max()) < 0.1 * float((moved - start).abs().max())
    tangent = linearized.tangent_form()
    assert torch.allclose(tangent(x), moved, rtol=0, atol=1e-13)


def test_linearized_in_its_parameters():
    """f_lin(θ0 + 2 d) - f(θ0) = 2 (f_lin(θ0 + d) - f(θ0)): linear in θ, exactly."""
    linearized = LinearizedNetwork(network())
    x = torch.randn(5, 4, dtype=torch.float64)
    start = linearized(x).detach()
    saved = {k: v.clone() for k, v in linearized.net.state_dict().items()}
    perturb(linearized.net)
    once = linearized(x).detach() - start
    with torch.no_grad():
        for name, p in linearized.net.named_parameters():
            p.copy_(saved[name] + 2 * (p - saved[name]))
    assert torch.allclose(linearized(x).detach() - start, 2 * once, atol=1e-13)


def test_ntk_is_symmetric_positive_semidefinite_and_j_jt():
    net = network()
    x = torch.randn(6, 4, dtype=torch.float64)
    kernel = empirical_ntk(net, x, x).reshape(18, 18)
    assert torch.allclose(kernel, kernel.T, atol=1e-12)
    eigenvalues = torch.linalg.eigvalsh(kernel)
    assert float(eigenvalues.min()) > -1e-10 * float(eigenvalues.max())
    # one entry by hand: the gradients of two outputs at two inputs, dotted
    grads = []
    for i, a in ((1, 0), (4, 2)):
        net.zero_grad()
        net(x[i : i + 1])[0, a].backward()
        grads.append(torch.cat([p.grad.flatten() for p in net.parameters()]))
    assert torch.isclose(kernel[1 * 3 + 0, 4 * 3 + 2], grads[0] @ grads[1], rtol=1e-12)


def test_gradient_descent_is_the_ntk_kernel_regression():
    """On L = ½ Σ ‖f_lin - y‖², each step of rate η is f - y -> (I - η Θ)(f - y) exactly;
    with small η after t steps f_t ≈ y + exp(-η Θ t)(f_0 - y)."""
    linearized = LinearizedNetwork(network())
    x = torch.randn(5, 4, dtype=torch.float64)
    y = torch.randn(5, 3, dtype=torch.float64)
    kernel = linearized.ntk(x, x).reshape(15, 15)
    rate = 0.05 / float(torch.linalg.eigvalsh(kernel).max())
    optimizer = torch.optim.SGD(linearized.parameters(), lr=rate)
    f0 = linearized(x).detach().reshape(-1)
    residual = f0 - y.reshape(-1)
    for _ in range(40):
        optimizer.zero_grad()
        (0.5 * ((linearized(x) - y) ** 2).sum()).backward()
        optimizer.step()
        residual = residual - rate * kernel @ residual
        found = linearized(x).detach().reshape(-1) - y.reshape(-1)
        assert torch.allclose(found, residual, atol=1e-10)
    flow = torch.linalg.matrix_exp(-rate * 40 * kernel) @ (f0 - y.reshape(-1))
    assert float((found - flow).norm()) < 0.02 * float((f0 - y.reshape(-1)).norm())
    assert float(found.norm()) < 0.9 * float((f0 - y.reshape(-1)).norm())  # it did learn


def test_gap_to_the_full_network_shrinks_with_width():
    """Full and linearized training from one start: 16 units end far apart, 512 close
    (Lee et al. 2019: O(width^-1/2)); measured 0.46 and 0.034 at 50 steps."""
    narrow, wide = (training_gap(w, steps=50)["gap"] for w in (16, 512))
    assert wide < 0.1 < narrow


def test_svd_network_linearizes_too():
    from climnn.models import SVDLinear

    linearized = LinearizedNetwork(network(layer=SVDLinear))
    x = torch.randn(5, 4, dtype=torch.float64)
    perturb(linearized.net, 0.02)
    form = inference_form(linearized)
    assert isinstance(form, TangentMLP)
    assert torch.allclose(form(x), linearized(x).detach(), atol=1e-12)


def test_linearized_network_trains_and_exports_as_the_eager_model(budget_store,  # noqa: F811
                                                                  tmp_path):
    folder = train_tiny(budget_store, tmp_path / "lin", {"kind": "linearized"})
    model = load_trained(folder).model
    assert isinstance(model, LinearizedNetwork)
    moved = [float((a - b).abs().max().detach()) for a, b in
             zip(model.net.parameters(), model.origin.parameters(), strict=True)]
    assert max(moved) > 0  # trained θ, θ0 kept
    check_export_equals_eager(budget_store, folder, tmp_path, pt2=True)


def test_run_train_linearized_yaml_builds_the_linearized_seed_network(budget_store,  # noqa: F811
                                                                      tmp_path):
    config, model = parameterization_config("linearized")
    assert isinstance(model, LinearizedNetwork) and len(model.net) == 19
    model_section = yaml.safe_load(open("run/train_linearized.yaml"))["model"]
    train_tiny(budget_store, tmp_path / "yaml", {**model_section, "hidden_layers": 1,
                                                 "width": 8})
    assert np.isfinite(load_trained(tmp_path / "yaml").history[0]["validation_loss"])
