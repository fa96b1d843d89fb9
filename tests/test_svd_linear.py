"""The SVD-parameterized linear layer (issue 16; Zhang, Lei & Dhillon 2018): Householder
products orthogonal to round-off, singular values inside their interval after every step
of a violent optimizer, the factors' product the dense weight that torch.linalg.svd finds,
non-square layers, and a network of such layers trained, exported and run as the eager one.
"""

import numpy as np
import pytest
import torch
import yaml
from test_export import OUTPUTS, eager_outputs, physical_inputs, run_exported, worst_difference
from test_training import budget_store  # noqa: F401 (a fixture)

from climnn.export import export_model
from climnn.export.trained import load_trained
from climnn.models import SVDLinear, build_model
from climnn.models.householder import (
    HouseholderOrthogonal,
    householder_matrix,
    reflect,
    reflector_vectors,
)
from climnn.training.config import load_train_config, train_config_from_dict
from climnn.training.trainer import train
from gcm.config import ConfigError

SHAPES = [(6, 6), (62, 256), (256, 9), (7, 20)]  # (in, out): square, the first and last layer


@pytest.mark.parametrize("n, k", [(5, 5), (256, 62), (9, 3)])
def test_householder_product_is_orthogonal_and_the_reflectors_applied_one_by_one(n, k):
    torch.manual_seed(0)
    q = HouseholderOrthogonal(n, k)()
    assert q.shape == (n, k)
    assert torch.allclose(q.T @ q, torch.eye(k), atol=2e-6)
    below = torch.randn(n, k, dtype=torch.float64)
    assert torch.allclose(householder_matrix(below), reflect(below), atol=1e-13)
    v = reflector_vectors(below)  # LAPACK's product of the same reflectors
    lapack = torch.linalg.householder_product(v, 2 / (v * v).sum(0))
    assert torch.allclose(householder_matrix(below), lapack, atol=1e-13)
    assert HouseholderOrthogonal(n, k).parameter_count == n * k - k * (k + 1) // 2


@pytest.mark.parametrize("n_in, n_out", SHAPES)
def test_factors_multiply_to_the_dense_weight_torch_svd_finds(n_in, n_out):
    torch.manual_seed(1)
    layer = SVDLinear(n_in, n_out, 0.3, 3.0)
    with torch.no_grad():
        layer.p.uniform_(-3, 3)  # spread the singular values over the interval
    w = layer.weight.detach().double()
    assert w.shape == (n_out, n_in)
    found = torch.linalg.svdvals(w)
    expected = torch.sort(layer.singular_values().detach().double(), descending=True).values
    assert torch.allclose(found, expected, rtol=1e-5, atol=1e-6)
    x = torch.randn(4, n_in)
    assert torch.allclose(layer(x), layer.dense()(x), atol=1e-6)


@pytest.mark.parametrize("n_in, n_out", SHAPES)
def test_singular_values_stay_in_the_interval_after_every_adam_step(n_in, n_out):
    """Adam at lr 1 pulls the layer towards 10 x a random matrix (singular values far above
    sigma_max) for 20 steps, then towards 0 (far below sigma_min) for 20: after each step
    every singular value of the dense weight is in [0.5, 2] and U, V stay orthogonal."""
    torch.manual_seed(2)
    layer = SVDLinear(n_in, n_out, 0.5, 2.0)
    optimizer = torch.optim.Adam(layer.parameters(), lr=1.0)
    big = 10 * torch.randn(n_out, n_in)
    k = min(n_in, n_out)
    seen = []
    for target in [big] * 20 + [torch.zeros(n_out, n_in)] * 20:
        optimizer.zero_grad()
        ((layer.weight - target) ** 2).sum().backward()
        optimizer.step()
        sigma = torch.linalg.svdvals(layer.weight.detach().double())
        assert 0.5 - 1e-5 <= float(sigma.min()) and float(sigma.max()) <= 2.0 + 1e-5
        for q in (layer.u(), layer.v()):
            assert torch.allclose(q.T @ q, torch.eye(k), atol=1e-5)
        seen.append(sigma)
    # the optimizer did push them to both ends of the interval (not a layer stuck still)
    assert float(seen[19].max()) > 1.99 and float(seen[-1].min()) < 0.51


def test_bad_interval_is_named():
    with pytest.raises(ValueError, match=r"\[2.0, 1.0\]"):
        SVDLinear(3, 3, 2.0, 1.0)


# --------------------------------------------------------------------------- training, export


def train_tiny(store, folder, model: dict):
    """Two epochs of a 2 x 16 network with the ``model`` section on the tiny store."""
    config = train_config_from_dict(
        {"model": {"hidden_layers": 2, "width": 16, **model}, "data": {"outputs": OUTPUTS},
         "optimizer": {"epochs": 2, "batch_size": 64, "buffer_size": 512, "lr": 1e-2}}, "test")
    train(config, store, folder, progress=False)
    return folder


def check_export_equals_eager(store, folder, tmp_path, pt2=False) -> None:
    """The project's export of the training in ``folder`` (TorchScript; with ``pt2`` the
    torch.export program too, which the export checks against the eager model's plain
    form) gives the eager model's physical outputs, and its loss went down."""
    trained = load_trained(folder)
    losses = [line["train_loss"] for line in trained.history]
    assert losses[-1] < losses[0]
    path = export_model(folder, tmp_path / "model.pt", pt2=pt2)
    x = physical_inputs(store, trained.input_layout)
    found = run_exported(path, x)
    assert worst_difference(found, eager_outputs(folder, x), trained.output_layout) < 1e-5


def test_network_of_svd_layers_trains_and_exports_as_the_eager_model(budget_store,  # noqa: F811
                                                                     tmp_path):
    folder = train_tiny(budget_store, tmp_path / "svd",
                        {"layer": "svd", "svd": {"sigma_min": 0.8, "sigma_max": 1.25}})
    model = load_trained(folder).model
    for layer in (m for m in model if isinstance(m, SVDLinear)):
        sigma = torch.linalg.svdvals(layer.weight.detach().double())
        assert 0.8 - 1e-5 <= float(sigma.min()) and float(sigma.max()) <= 1.25 + 1e-5
    check_export_equals_eager(budget_store, folder, tmp_path, pt2=True)


def parameterization_config(name: str, layout_sizes=(130, 127)):
    """run/train_NAME.yaml: it parses, and its model builds for vectors of the given sizes;
    returns (config, model)."""
    config = load_train_config(f"run/train_{name}.yaml")
    layouts = [type("Layout", (), {"size": n})() for n in layout_sizes]
    return config, build_model(config.model, *layouts)


def test_run_train_svd_yaml_builds_the_bounded_network(budget_store, tmp_path):  # noqa: F811
    config, model = parameterization_config("svd")
    layers = [m for m in model if isinstance(m, SVDLinear)]
    assert len(layers) == 10 and {(m.sigma_min, m.sigma_max) for m in layers} == {(0.5, 2.0)}
    model_section = yaml.safe_load(open("run/train_svd.yaml"))["model"]
    train_tiny(budget_store, tmp_path / "yaml", {**model_section, "hidden_layers": 1,
                                                 "width": 8})
    assert np.isfinite(load_trained(tmp_path / "yaml").history[0]["validation_loss"])


@pytest.mark.parametrize("svd, named", [({"sigma_min": 2.0, "sigma_max": 1.0},
                                         "model.svd.sigma_min = 2.0: above model.svd.sigma_max"),
                                        ({"sigma_mx": 1.0}, "unknown key 'model.svd.sigma_mx'"),
                                        ({"sigma_max": 0.0}, "model.svd.sigma_max = 0.0")])
def test_bad_svd_settings_are_named(svd, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        train_config_from_dict({"model": {"layer": "svd", "svd": svd}}, "run/x.yaml")
