"""climnn.models.budgets, the one computation of the column energy and water budgets: known
residuals of a hand-made column, round-off on a store whose outputs close the budgets,
the constrained network's outputs unchanged by the refactor, and the mse_budget loss."""

import numpy as np
import pytest
import torch
import xarray as xr
from test_training import cbrain_store, small_config

from climnn.data import compute_statistics, write_store
from climnn.data.loader import ColumnDataset
from climnn.models import build_model, column_geometry
from climnn.models.budgets import (
    budget_residuals,
    layer_thickness,
    thickness_coefficients,
)
from climnn.training.config import train_config_from_dict
from climnn.training.evaluate import evaluate
from climnn.training.losses import BUDGET_SCALE, build_loss
from climnn.training.trainer import train
from gcm.config import ConfigError
from gcm.constants import CP, GRAVITY, LV

BUDGET_OUTPUTS = ["TPHYSTND", "PHQ", "FSNT", "FSNS", "FLNT", "FLNS", "PRECT", "SHF", "LHF"]


def closed_store(folder, nlev=10, files=3):
    """A teacher-like store: synthetic CBRAIN columns (made-up physics of the inputs) with
    outputs SHF and LHF chosen so that both budgets close, stored in float64."""
    source = xr.open_zarr(cbrain_store(folder / "source", nlev, files), consolidated=False)
    ds = source.load().astype({n: np.float64 for n in source.data_vars})
    dp = (np.diff(ds["hyai"].values) * float(ds["P0"])
          + np.diff(ds["hybi"].values) * ds["PS"].values[..., None])
    water = (ds["PHQ"].values * dp).sum(-1) / GRAVITY
    heat = (CP * ds["TPHYSTND"].values * dp).sum(-1) / GRAVITY
    lhf = LV * (water + ds["PRECT"].values)
    radiation = (ds["FSNT"] - ds["FSNS"] - ds["FLNT"] + ds["FLNS"]).values
    shf = heat + LV * water - radiation - lhf
    surface = ("time", "column")
    ds["LHF"] = (surface, lhf, {"units": "W m-2"})
    ds["SHF"] = (surface, shf, {"units": "W m-2"})
    for name in ds.data_vars:
        ds[name].encoding = {}
    compute_statistics(path := write_store(ds, folder / "closed.zarr"))
    return path


@pytest.fixture(scope="module")
def closed(tmp_path_factory):
    return closed_store(tmp_path_factory.mktemp("closed"))


def fields_of(**values):
    return {name: torch.tensor(np.atleast_2d(v).T if np.ndim(v) == 1 else v,
                               dtype=torch.float64) for name, v in values.items()}


@pytest.mark.parametrize("convention", ["included", "excluded"])
def test_residuals_of_a_hand_made_column(convention):
    """Two columns of three layers, dp = PS x (0.5, 0.3, 0.2), uniform tendencies: the
    integrals are cp a PS / g and b PS / g, so the residuals are known in closed form."""
    geometry = {"hyai": np.zeros(4), "hybi": np.array([0.0, 0.5, 0.8, 1.0]), "p0": 1e5,
                "convention": convention}
    ps = np.array([1e5, 9e4])
    a, b = np.array([2e-5, -1e-5]), np.array([-3e-8, 1e-8])  # K s-1, kg kg-1 s-1
    flux = {"FSNT": [300.0, 200.0], "FSNS": [150.0, 120.0], "FLNT": [240.0, 230.0],
            "FLNS": [60.0, 50.0], "SHF": [15.0, 10.0], "LHF": [90.0, 120.0],
            "PRECT": [4e-5, 1e-5]}
    flux = {k: np.array(v) for k, v in flux.items()}
    fields = fields_of(TPHYSTND=np.outer(a, np.ones(3)), PHQ=np.outer(b, np.ones(3)), **flux)
    dp = layer_thickness(torch.tensor(ps), *map(torch.tensor, thickness_coefficients(geometry)))
    np.testing.assert_allclose(dp.numpy(), np.outer(ps, [0.5, 0.3, 0.2]))
    energy, water = budget_residuals(fields, dp, convention == "included")
    surface = flux["SHF"] + flux["LHF"] if convention == "included" else 0.0
    evaporation = flux["LHF"] / LV if convention == "included" else 0.0
    expected_energy = ((CP * a + LV * b) * ps / GRAVITY
                       - (flux["FSNT"] - flux["FSNS"] - flux["FLNT"] + flux["FLNS"] + surface))
    expected_water = b * ps / GRAVITY - (evaporation - flux["PRECT"])
    np.testing.assert_allclose(energy.numpy(), expected_energy, rtol=1e-12)
    np.testing.assert_allclose(water.numpy(), expected_water, rtol=1e-12)
    assert np.abs(expected_energy).min() > 10  # the check is not of zeros


def store_fields(path):
    ds = xr.open_zarr(path, consolidated=False).stack(sample=("time", "column"))
    fields = {n: torch.tensor(ds[n].values.T.reshape(ds.sizes["sample"], -1))
              for n in BUDGET_OUTPUTS}
    dhyai, dhybi = map(torch.tensor, thickness_coefficients(column_geometry(path)))
    return fields, layer_thickness(torch.tensor(ds["PS"].values), dhyai, dhybi)


def test_a_closed_store_closes_to_round_off_and_a_changed_one_does_not(closed):
    fields, dp = store_fields(closed)
    energy, water = budget_residuals(fields, dp, True)
    heat = (CP * fields["TPHYSTND"] * dp / GRAVITY).abs().max()
    assert energy.abs().max() < 1e-9 * heat and (LV * water).abs().max() < 1e-9 * heat
    fields["FLNS"] = fields["FLNS"] + 1.0  # 1 W m-2 more into the column
    energy, _ = budget_residuals(fields, dp, True)
    np.testing.assert_allclose(energy.numpy(), -1.0, atol=1e-9)


def reference_constrained_forward(model, x):
    """BudgetConstrainedMLP.forward as written before climnn.models.budgets existed."""
    y = x.new_zeros((x.shape[0], model.factor.numel()), dtype=torch.float64)
    y = y.index_copy(1, model.free, model.net(x).double())
    phys = y / model.factor

    def field(name):
        start, stop = model.slices[name]
        return phys[:, start:stop]

    ps = x[:, model.ps_index].double() / model.ps_factor + model.ps_shift
    dp = model.dhyai + model.dhybi * ps[:, None]
    heating, moistening = field("TPHYSTND"), field("PHQ")
    water = (moistening * dp).sum(1) / GRAVITY
    energy = (field("FSNT") - field("FSNS") - field("FLNT") + field("FLNS"))[:, 0]
    energy = energy + field("SHF")[:, 0] + field("LHF")[:, 0]
    evaporation = field("LHF")[:, 0] / LV
    above = (CP * heating[:, :-1] * dp[:, :-1]).sum(1) / GRAVITY
    bottom = (energy - LV * water - above) * GRAVITY / (CP * dp[:, -1])
    values = torch.stack([evaporation - water, bottom], 1) * model.factor[model.computed]
    return y.index_copy(1, model.computed, values).float()


def test_constrained_outputs_are_bitwise_those_of_before_the_shared_budgets(closed):
    data = ColumnDataset(closed, outputs=BUDGET_OUTPUTS, shuffle=False, batch_size=10**6,
                         input_normalization="maxrs")
    (x, _), = list(data)
    config = small_config(model={"kind": "constrained"})
    torch.manual_seed(3)
    model = build_model(config.model, data.input_layout, data.output_layout,
                        column_geometry(closed))
    with torch.no_grad():
        assert torch.equal(model(x), reference_constrained_forward(model, x))


# --------------------------------------------------------------------------- mse_budget


def test_budget_loss_is_mse_plus_the_weighted_residuals(closed):
    data = ColumnDataset(closed, outputs=BUDGET_OUTPUTS, shuffle=False, batch_size=512,
                         input_normalization="maxrs")
    x, y = next(iter(data))
    layouts = (data.input_layout, data.output_layout)
    config = small_config(loss={"kind": "mse_budget", "budget_weight": 2.5}).loss
    loss = build_loss(config, layouts, column_geometry(closed))
    guess = y + 0.01 * torch.randn(y.shape, generator=torch.Generator().manual_seed(0))
    mse = torch.nn.functional.mse_loss(guess, y)
    # the truth closes (to its float32 normalization), so the penalty is that of the errors
    assert loss(y, y, x) < 1e-12
    phys = data.output_layout.denormalize(guess.numpy())
    fields = {n: torch.tensor(phys[:, s]) for n, s in data.output_layout.slices.items()}
    ps = torch.tensor(data.input_layout.denormalize(x.numpy())[:, data.input_layout.slices["PS"]])
    dhyai, dhybi = map(torch.tensor, thickness_coefficients(column_geometry(closed)))
    energy, water = budget_residuals(fields, layer_thickness(ps[:, 0], dhyai, dhybi), True)
    penalty = (torch.stack([energy, LV * water], 1) / BUDGET_SCALE).square().mean()
    assert float(loss(guess, y, x)) == pytest.approx(float(mse + 2.5 * penalty), rel=1e-5)
    assert float(penalty) > 0.1 * float(mse)  # the penalty is not negligible


def test_mse_budget_lowers_the_residuals_of_the_outputs(closed, tmp_path):
    """Same store, seed and network: the budget penalty leaves outputs that close the
    budgets better than plain MSE; with weight 0 it is plain MSE, weight for weight."""
    residual = {}
    for name, loss in (("mse", {"kind": "mse"}), ("zero", {"kind": "mse_budget",
                                                          "budget_weight": 0.0}),
                       ("budget", {"kind": "mse_budget", "budget_weight": 1.0})):
        config = small_config(loss=loss, optimizer={"epochs": 3},
                              data={"outputs": BUDGET_OUTPUTS})
        train(config, closed, tmp_path / name, progress=False)
        budgets = evaluate(tmp_path / name, closed, write=False)["budgets"]["network"]
        residual[name] = (budgets["energy"]["mean_abs"], budgets["water"]["mean_abs"] * LV)
    print({k: tuple(f"{v:.3g}" for v in r) for k, r in residual.items()})
    assert residual["zero"] == residual["mse"]
    assert residual["budget"][0] < 0.5 * residual["mse"][0]
    assert residual["budget"][1] < 0.5 * residual["mse"][1]


def test_mse_budget_names_what_it_needs_and_the_weight_is_checked(closed, tmp_path):
    config = small_config(loss={"kind": "mse_budget"})
    with pytest.raises(ValueError, match=r"loss.kind 'mse_budget' needs input PS and outputs "
                                         r".*lacks \['SHF', 'LHF'\]"):
        train(config, closed, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match=r"loss.budget_weight = -1.0: allowed: >= 0"):
        train_config_from_dict({"loss": {"kind": "mse_budget", "budget_weight": -1.0}}, "t")
