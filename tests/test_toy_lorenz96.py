"""The two-scale Lorenz-96 toy (climnn.toy.lorenz96*): the system's known properties, the
dataset's schema, the network through the coupler, and the quick experiment end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from climnn.data.schema import DatasetError
from climnn.toy.lorenz96 import (
    Lorenz96Parameters,
    OneScaleModel,
    TwoScaleModel,
    resolved_tendency,
    two_scale_tendency,
    x_advection,
    y_advection,
)
from climnn.toy.lorenz96_data import Sampling, open_dataset, sample_truth, write_dataset


@pytest.mark.parametrize("K,J", [(8, 32), (5, 7)])
def test_advection_terms_conserve_energy(K, J):
    """sum_k X_k A_k = 0 and sum_i Y_i B_i = 0 for the quadratic terms, to round-off."""
    rng = np.random.default_rng(K * J)
    x, y = 5.0 * rng.standard_normal(K), rng.standard_normal(K * J)
    ax, ay = np.empty(K), np.empty(K * J)
    x_advection(x, ax)
    y_advection(y, 100.0, ay)
    for state, term in ((x, ax), (y, ay)):
        scale = np.sum(np.abs(state * term))
        assert scale > 1.0  # the terms are not trivially zero
        assert abs(np.sum(state * term)) < 1e-13 * scale


def test_exchange_terms_cancel_in_total_energy():
    """d/dt (sum X^2 + sum Y^2) / 2 holds only damping and forcing: the exchange terms
    -(hc/b) sum_j Y_j,k on X_k and +(hc/b) X_k on Y_j,k cancel (Lorenz 1996's form)."""
    p = Lorenz96Parameters()
    rng = np.random.default_rng(1)
    x, y = 10.0 * rng.standard_normal(p.K), rng.standard_normal(p.K * p.J)
    dx, dy = np.empty(p.K), np.empty(p.K * p.J)
    two_scale_tendency(x, y, p.F, p.coupling, p.c * p.b, p.c, dx, dy)
    energy_rate = x @ dx + y @ dy
    expected = -x @ x + p.F * x.sum() - p.c * (y @ y)
    assert energy_rate == pytest.approx(expected, rel=1e-12, abs=1e-10)
    exchange_on_x = -p.coupling * y.reshape(p.K, p.J).sum(axis=1)
    assert abs(x @ exchange_on_x) > 1.0  # each side alone exchanges energy
    # the sub-grid forcing is what the X tendency holds beyond the one-scale terms
    resolved = np.empty((1, p.K))
    resolved_tendency(x[None], p.F, resolved)
    model = TwoScaleModel(p)
    np.testing.assert_allclose(dx - resolved[0], model.subgrid_forcing(y[None])[0],
                               rtol=1e-12, atol=1e-12)


def test_rk4_converges_at_fourth_order():
    model = TwoScaleModel()
    x0, y0 = model.initial_state(np.random.default_rng(2))
    model.advance(x0, y0, 1.0)  # onto the attractor, where the Y are active

    def state_after(dt):
        x, y = x0.copy(), y0.copy()
        TwoScaleModel(dt=dt).advance(x, y, 0.064)
        return np.concatenate([x, y], axis=1)

    reference = state_after(0.0000625)
    errors = [np.abs(state_after(dt) - reference).max() for dt in (0.002, 0.001, 0.0005)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all((orders > 3.6) & (orders < 4.4)), (errors, orders)


def test_durations_must_be_whole_steps():
    with pytest.raises(ValueError, match="not a whole number of steps"):
        TwoScaleModel(dt=0.001).advance(np.zeros((1, 8)), np.zeros((1, 256)), 0.0015)
    with pytest.raises(ValueError, match=r"expected float64 X \(n, 8\)"):
        TwoScaleModel().advance(np.zeros((1, 7)), np.zeros((1, 256)), 0.001)


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("l96") / "small.zarr"
    ds = sample_truth(TwoScaleModel(), Sampling(spinup=1.0, duration=2.0, interval=0.05))
    return write_dataset(ds, path)


def test_dataset_round_trip_and_provenance(small_store):
    ds = open_dataset(small_store)
    assert ds["X"].dims == ("time", "k") and ds["X"].shape == (40, 8)
    assert ds.attrs["F"] == 20.0 and ds.attrs["J"] == 32 and ds.attrs["dt"] == 0.001
    assert ds["U"].attrs["units"] == "1" and "sub-grid" in ds["U"].attrs["long_name"]
    # U is the sub-grid forcing: of the opposite sign to X on average (it damps X)
    assert np.corrcoef(ds["X"].values.ravel(), ds["U"].values.ravel())[0, 1] < -0.5
    with pytest.raises(FileExistsError, match="nothing was written"):
        write_dataset(ds, small_store)


def test_bad_stores_named(small_store, tmp_path):
    ds = open_dataset(small_store)
    bad = ds.copy(deep=True)
    bad["U"][3, 5] = np.nan
    write_dataset(bad, tmp_path / "nan.zarr")
    with pytest.raises(DatasetError, match=r"nan.zarr: U is not finite at \(time=3, k=5\)"):
        open_dataset(tmp_path / "nan.zarr")
    with pytest.raises(DatasetError, match="no such Lorenz-96 store"):
        open_dataset(tmp_path / "absent.zarr")
    other = ds.assign_attrs(schema="climnn-columns")
    write_dataset(other, tmp_path / "other.zarr")
    with pytest.raises(DatasetError, match="schema 'climnn-columns'"):
        open_dataset(tmp_path / "other.zarr")


def test_network_through_the_coupler_equals_the_network(small_store, tmp_path):
    """The exported file run by climnn.coupler.Coupler gives the network's own U, and the
    one-scale model runs with it."""
    pytest.importorskip("torch")
    from climnn.toy.lorenz96_network import (
        CoupledParameterization,
        NetworkParameterization,
        NetworkTraining,
        export_network,
        train_network,
    )

    ds = open_dataset(small_store)
    net, history = train_network(ds["X"].values, ds["U"].values, NetworkTraining(epochs=2))
    assert len(history) == 2 and history[-1]["validation_loss"] > 0
    export_network(net, tmp_path / "net.pt", {"schema_version": 1}, history)
    coupled = CoupledParameterization(tmp_path / "net.pt", 0.005)
    x = ds["X"].values[:5]
    np.testing.assert_array_equal(coupled(x), NetworkParameterization(net)(x))
    state = x.copy()
    OneScaleModel(coupled).advance(state, 0.05)
    assert np.all(np.isfinite(state)) and not np.array_equal(state, x)
    with pytest.raises(FileExistsError):
        export_network(net, tmp_path / "net.pt", {}, history)


def test_quick_experiment_network_beats_none(tmp_path):
    """``climnn toy lorenz96 --quick``: the files, and the network's forecasts beat the
    one-scale model without parameterization (at their best lead by a wide margin)."""
    pytest.importorskip("torch")
    from climnn.cli import main

    out = tmp_path / "l96"
    assert main(["toy", "lorenz96", "--out", str(out), "--quick"]) == 0
    written = {p.name for p in out.iterdir()}
    assert {"metrics.json", "network.pt", "lorenz96.zarr", "forecast_rmse.png",
            "climate_pdf.png", "autocorrelation.png", "parameterization_fit.png"} <= written
    metrics = json.loads((out / "metrics.json").read_text())
    rmse = metrics["forecast"]["rmse"]
    ratio = np.array(rmse["network"][1:]) / np.array(rmse["none"][1:])
    assert ratio.min() < 0.5, ratio
    summary = metrics["summary"]
    assert summary["network_pdf_hellinger"] < summary["none_pdf_hellinger"]
    # the noise floor: the truth from other starts is near the truth, far from "none"
    assert 0.0 < summary["truth_resampled_pdf_hellinger"] < summary["none_pdf_hellinger"]
    before = (out / "metrics.json").stat().st_mtime_ns
    assert main(["toy", "lorenz96", "--out", str(out), "--quick"]) == 2  # never overwrites
    assert (out / "metrics.json").stat().st_mtime_ns == before


def test_bad_forcing_is_one_message(tmp_path, capsys):
    from climnn.cli import main

    assert main(["toy", "lorenz96", "--out", str(tmp_path / "x"), "--forcing", "inf"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["climnn: error: toy lorenz96: --forcing inf: must be a finite number"]
    assert not (tmp_path / "x").exists()
