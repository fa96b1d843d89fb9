"""The symmetric linear layer (issue 16; Hu, Zagoruyko & Komodakis 2019): symmetric weights
globally and block-wise, gradients reaching every stored number, the parameter counts of
the docstring's formula, non-square layers dense outside their whole blocks, and a network
of such layers trained and exported as the eager one."""

import pytest
import torch
import yaml
from test_svd_linear import check_export_equals_eager, parameterization_config, train_tiny
from test_training import budget_store  # noqa: F401 (a fixture)

from climnn.models import SymmetricLinear
from climnn.models.symmetric_linear import triangle_index


def blocks(w: torch.Tensor, b: int):
    """The whole b x b blocks of ``w`` from its top-left corner."""
    rows, cols = w.shape[0] // b, w.shape[1] // b
    return [w[i * b:(i + 1) * b, j * b:(j + 1) * b] for i in range(rows) for j in range(cols)]


@pytest.mark.parametrize("n, block", [(8, 0), (8, 4), (12, 3), (256, 0), (256, 32)])
def test_square_weight_is_symmetric_with_n_n_plus_1_over_2_numbers_a_block(n, block):
    layer = SymmetricLinear(n, n, block)
    w = layer.weight.detach()
    b = n if block == 0 else block
    assert all(torch.equal(part, part.T) for part in blocks(w, b))
    if block == 0:
        assert torch.equal(w, w.T)
    # not symmetric across blocks: block-wise is a weaker constraint than global
    if 0 < block < n:
        assert not torch.equal(w, w.T)
    nblocks = (n // b) ** 2
    assert layer.parameter_count == nblocks * b * (b + 1) // 2 + n  # + bias
    if block == 0:
        assert layer.parameter_count == n * (n + 1) // 2 + n


@pytest.mark.parametrize("n_in, n_out, block", [(62, 256, 0), (256, 9, 0), (10, 7, 3)])
def test_non_square_layer_is_symmetric_on_whole_blocks_and_dense_elsewhere(n_in, n_out, block):
    layer = SymmetricLinear(n_in, n_out, block)
    w = layer.weight.detach()
    b = min(n_in, n_out) if block == 0 else block
    rows, cols = n_out // b, n_in // b
    assert w.shape == (n_out, n_in)
    assert all(torch.equal(part, part.T) for part in blocks(w, b))
    expected = rows * cols * b * (b + 1) // 2 + (n_out * n_in - rows * cols * b * b) + n_out
    assert layer.parameter_count == expected
    # the dense strips are free: not a copy of any block's transpose
    assert n_out * n_in - rows * cols * b * b > 0


def test_gradients_reach_every_stored_number_and_move_the_loss():
    """A weight's (i, j) and (j, i) share one number: its gradient is the sum of theirs."""
    torch.manual_seed(0)
    layer = SymmetricLinear(10, 7, 3)
    x, target = torch.randn(32, 10), torch.randn(32, 7)
    loss = ((layer(x) - target) ** 2).mean()
    loss.backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and bool((p.grad != 0).all()), name
    w = layer.weight.detach().requires_grad_(True)
    ((torch.nn.functional.linear(x, w, layer.bias.detach()) - target) ** 2).mean().backward()
    i, j = 0, 2  # both in the first 3 x 3 block
    place = int(triangle_index(3)[i, j])
    assert torch.allclose(layer.upper.grad[0, place], w.grad[i, j] + w.grad[j, i])
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    for _ in range(20):
        optimizer.zero_grad()
        step = ((layer(x) - target) ** 2).mean()
        step.backward()
        optimizer.step()
    assert step.item() < 0.9 * loss.item()
    assert all(torch.equal(part, part.T) for part in blocks(layer.weight.detach(), 3))


def test_network_of_symmetric_layers_trains_and_exports_as_the_eager_model(
        budget_store, tmp_path):  # noqa: F811
    folder = train_tiny(budget_store, tmp_path / "sym", {"layer": "symmetric",
                                                         "symmetric": {"block": 4}})
    check_export_equals_eager(budget_store, folder, tmp_path)


def test_run_train_symmetric_yaml_halves_the_hidden_layers(budget_store, tmp_path):  # noqa: F811
    config, model = parameterization_config("symmetric")
    dense = sum(p.numel() for p in torch.nn.Linear(256, 256).parameters())
    hidden = [m for m in model if isinstance(m, SymmetricLinear)][1:-1]
    assert len(hidden) == 8
    assert all(m.parameter_count == 256 * 257 // 2 + 256 for m in hidden)
    assert hidden[0].parameter_count < 0.51 * dense
    model_section = yaml.safe_load(open("run/train_symmetric.yaml"))["model"]
    train_tiny(budget_store, tmp_path / "yaml", {**model_section, "hidden_layers": 1,
                                                 "width": 8})
