"""climnn evaluate: the streaming accumulators against numpy on whole arrays, a trained
network judged on the test period only, its plots, and one message for each bad input."""

import json
import shutil

import numpy as np
import pytest
import zarr
from test_column_budgets import BUDGET_OUTPUTS, closed_store
from test_training import cbrain_store, small_config

from climnn.cli import main
from climnn.data import DatasetError
from climnn.diagnostics.offline_skill import Moments, Residuals, latitude_groups
from climnn.training.evaluate import METRICS_FILE, evaluate
from climnn.training.trainer import BEST, RECORD, train
from gcm.config import ConfigError

PNG = b"\x89PNG\r\n\x1a\n"

# --------------------------------------------------------------------------- accumulators


def numpy_r2(truth, predicted):
    return 1 - ((predicted - truth) ** 2).sum(0) / ((truth - truth.mean(0)) ** 2).sum(0)


def test_streamed_r2_rmse_and_bias_equal_numpys_on_the_whole_array():
    rng = np.random.default_rng(0)
    truth = 300.0 + rng.standard_normal((1000, 5)) * [1.0, 2.0, 1e-3, 5.0, 0.5]
    predicted = truth + 0.3 * rng.standard_normal(truth.shape)
    group = rng.integers(0, 3, 1000)
    moments, grouped = Moments(5), Moments(5, 3)
    for start in range(0, 1000, 137):  # uneven batches
        part = slice(start, start + 137)
        moments.add(truth[part], predicted[part])
        grouped.add(truth[part], predicted[part], group[part])
    np.testing.assert_allclose(moments.r2()[0], numpy_r2(truth, predicted), rtol=1e-9)
    np.testing.assert_allclose(moments.rmse()[0],
                               np.sqrt(((predicted - truth) ** 2).mean(0)), rtol=1e-12)
    for g in range(3):
        mine = group == g
        np.testing.assert_allclose(grouped.r2()[g], numpy_r2(truth[mine], predicted[mine]),
                                   rtol=1e-9)
    np.testing.assert_allclose(moments.bias()[0], (predicted - truth).mean(0), atol=1e-12)
    for g in range(3):
        mine = group == g
        np.testing.assert_allclose(grouped.bias()[g], (predicted - truth)[mine].mean(0),
                                   atol=1e-12)
    pooled = slice(1, 4)
    assert moments.bias(pooled)[0] == pytest.approx((predicted - truth)[:, pooled].mean(),
                                                    abs=1e-12)
    sse = ((predicted - truth)[:, pooled] ** 2).sum()
    sst = ((truth - truth.mean(0))[:, pooled] ** 2).sum()
    assert moments.r2(pooled)[0] == pytest.approx(1 - sse / sst, rel=1e-9)


def test_a_perfect_predictor_has_r2_one_and_rmse_zero_and_constants_have_no_r2():
    rng = np.random.default_rng(1)
    truth = rng.standard_normal((300, 3))
    truth[:, 2] = 7.0  # constant: no R²
    moments = Moments(3)
    moments.add(truth, truth)
    assert moments.r2()[0][:2].tolist() == [1.0, 1.0] and np.isnan(moments.r2()[0][2])
    assert moments.rmse()[0].tolist() == [0.0, 0.0, 0.0]


def test_residual_summary_and_where_its_largest_is():
    values = np.array([0.5, -3.0, 1.0, 2.5])
    residuals = Residuals()
    residuals.add(values[:2], np.array([[0, 1], [0, 2]]))
    residuals.add(values[2:], np.array([[1, 1], [1, 2]]))
    summary = residuals.summary()
    assert summary["mean"] == pytest.approx(0.25) and summary["mean_abs"] == pytest.approx(1.75)
    assert summary["max_abs"] == 3.0 and summary["max_at"].tolist() == [0, 2]


def test_latitudes_are_grouped_by_value_or_in_bands():
    index, lats = latitude_groups(np.array([10.0, -30.0, 10.0, 50.0]))
    assert lats.tolist() == [-30.0, 10.0, 50.0] and index.tolist() == [1, 0, 1, 2]
    index, lats = latitude_groups(np.linspace(-89.9, 89.9, 500))
    assert lats.size == 36 and lats[0] == -87.5 and np.all(np.bincount(index) > 0)


# --------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2-epoch training on a closed (teacher-like) store, outputs with SHF and LHF."""
    folder = tmp_path_factory.mktemp("evaluate")
    store = closed_store(folder)
    config = small_config(optimizer={"epochs": 2}, data={"outputs": BUDGET_OUTPUTS})
    train(config, store, folder / "run", progress=False)
    return folder / "run", store


def test_evaluate_writes_metrics_and_plots(trained, tmp_path, capsys):
    run, store = trained
    out = tmp_path / "evaluation"
    assert main(["evaluate", str(run), "--data", str(store), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "TPHYSTND" in printed and "network energy" in printed
    metrics = json.loads((out / METRICS_FILE).read_text())
    assert metrics["test"]["n_times"] == 3 and metrics["test"]["n_samples"] == 3 * 256
    assert metrics["test"]["time_indices"] == [15, 17]  # [0.85, 1.0) of 18 steps
    heating = metrics["variables"]["TPHYSTND"]
    assert len(heating["levels"]["r2"]) == 10 and 0.0 < heating["r2"] < 1.0
    level_bias = np.array(heating["levels"]["bias"])
    assert heating["bias"] == pytest.approx(level_bias.mean(), rel=1e-9)
    assert heating["largest_bias"] == level_bias[np.argmax(np.abs(level_bias))]
    assert "worst bias" in printed
    row = next(line for line in printed.splitlines() if line.startswith("column heating"))
    assert row.split()[-3:] == ["-", "W", "m-2"], row  # no bias of its own: '-', spaced
    pressure = np.array(metrics["level_pressure_pa"])
    assert np.all(np.diff(pressure) > 0) and 9e4 < pressure[-1] < 1.1e5
    assert set(metrics["column_integrals"]) == {"heating", "moistening"}
    assert set(metrics["latitude"]["r2"]) == {"FSNT", "FSNS", "FLNT", "FLNS", "PRECT", "SHF",
                                              "LHF", "heating", "moistening"}
    assert len(metrics["latitude"]["lat"]) == 16
    budgets = metrics["budgets"]
    assert budgets["store"]["energy"]["max_abs"] < 1e-6  # the truth closes
    assert budgets["network"]["energy"]["mean_abs"] > 1.0  # an unconstrained network does not
    assert 15 <= budgets["network"]["water"]["max_at"]["time_index"] <= 17
    for name in metrics["plots"]:
        assert (out / name).read_bytes()[:8] == PNG
    assert len(metrics["plots"]) == 3


def test_evaluate_reads_only_the_test_period(trained, tmp_path):
    """Absurd values everywhere outside the test period leave every metric as it was."""
    run, store = trained
    poisoned = tmp_path / "poisoned.zarr"
    shutil.copytree(store, poisoned)
    group = zarr.open_group(poisoned, mode="r+")
    for name in ("T", "Q", "PS", "TPHYSTND", "PRECT", "SHF"):
        group[name][:15] = 1e30
    clean = evaluate(run, store, write=False)
    poisoned_metrics = evaluate(run, poisoned, write=False)
    for key in ("variables", "column_integrals", "latitude", "budgets", "level_pressure_pa"):
        assert poisoned_metrics[key] == clean[key], key
    group["T"][15, 3, 2] = np.nan  # a read of the test period is checked
    with pytest.raises(DatasetError, match=r"'T' holds nan at index \(time=15, column=3"):
        evaluate(run, poisoned, write=False)


def snapshot(directory):
    """Every file under ``directory`` (subfolders too, e.g. tensorboard/) by relative path."""
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_bad_inputs_end_with_one_message_and_write_nothing(trained, tmp_path, capsys):
    run, store = trained
    before = snapshot(run)
    other = closed_store(tmp_path / "other", nlev=8, files=1)
    assert main(["evaluate", str(run), "--data", str(other)]) == 2
    assert "profiles have 8 levels, the training in" in capsys.readouterr().err
    moved = tmp_path / "moved.zarr"
    shutil.copytree(store, moved)
    hybi = zarr.open_group(moved, mode="r+")["hybi"]
    hybi[:] = np.sqrt(hybi[:])
    with pytest.raises(DatasetError, match=r"moved.zarr: its levels \(hybi\) differ"):
        evaluate(run, moved)
    no_shf = cbrain_store(tmp_path / "plain")
    with pytest.raises(DatasetError, match=r"lacks \['SHF', 'LHF'\], variables of the "
                                           r"training in .*train.json"):
        evaluate(run, no_shf)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no train.json"):
        evaluate(empty, store)
    unfinished = tmp_path / "unfinished"
    shutil.copytree(run, unfinished)
    (unfinished / BEST).unlink()
    with pytest.raises(FileNotFoundError, match=r"no trained model \(best.pt not found"):
        evaluate(unfinished, store)
    record = json.loads((unfinished / RECORD).read_text())
    record["config"]["split"]["test"] = [0.99, 1.0]
    (unfinished / RECORD).write_text(json.dumps(record))
    with pytest.raises(ConfigError, match=r"train.json: split.test: \[0.99, 1.0\) holds no "
                                          r"time step"):
        evaluate(unfinished, store, checkpoint="last")
    assert snapshot(run) == before
    assert not (unfinished / "evaluation").exists() and not (empty / "evaluation").exists()


def test_an_entry_flat_against_a_reference_scale_has_no_r2_and_others_keep_theirs():
    """Noise twelve orders below the variable's size (the top levels' moistening) gives an
    R² of about -1e16 by itself; judged against the variable's scale it has none."""
    rng = np.random.default_rng(2)
    truth = rng.standard_normal((500, 2))
    truth[:, 1] *= 1e-12
    predicted = truth + 1e-4 * rng.standard_normal(truth.shape)
    moments = Moments(2)
    moments.add(truth, predicted)
    alone = moments.r2()[0]
    assert alone[0] > 0.99 and alone[1] < -1e10
    judged = moments.r2(scale=np.array([1.0, 1.0]))[0]
    assert judged[0] == alone[0] and np.isnan(judged[1])
    assert moments.rms()[0] == pytest.approx(np.sqrt((truth**2).mean(0)), rel=1e-9)
