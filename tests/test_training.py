"""Offline training (issue 12, first step): the configuration's checks, the time split, a
network that learns the synthetic stores' made-up physics, bitwise resume, and one clear
message for each bad input with nothing overwritten."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import xarray as xr
import yaml
import zarr
from test_data_schema import NLEV, make_dataset

from climnn.cli import main
from climnn.data import DatasetError, compute_statistics
from climnn.data.convert import convert_cbrain
from climnn.data.loader import ColumnDataset
from climnn.data.stats import load_statistics
from climnn.data.synthetic import spcam_file
from climnn.models import build_model, column_geometry
from climnn.training.config import TrainConfig, load_train_config, train_config_from_dict
from climnn.training.losses import build_loss, output_weights
from climnn.training.split import split_times
from climnn.training.trainer import BEST, CHECKPOINT, METRICS, train
from gcm.config import ConfigError, _fields

SMALL = {"model": {"hidden_layers": 2, "width": 64},
         "optimizer": {"lr": 1e-2, "epochs": 12, "batch_size": 64, "buffer_size": 2048,
                       "schedule": "cosine", "patience": 0}}


def cbrain_store(folder, nlev=10, files=3):
    """A converted SPCAM/CBRAIN store: files x 6 half-hourly steps of 16 x 16 columns."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = [spcam_file(folder / f"spcam_{k}.nc", 6 * k, k, 6, 16, 16, nlev)
               for k in range(files)]
    path = convert_cbrain(sources, folder / "cbrain.zarr")
    compute_statistics(path)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return cbrain_store(tmp_path_factory.mktemp("training"))


def small_config(**sections):
    data = {key: dict(value) for key, value in SMALL.items()}
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return train_config_from_dict(data, "test")


def weights(path):
    return torch.load(path, weights_only=False)["model"]


# --------------------------------------------------------------------------- learning


def held_out_r2(config, store, out=None) -> tuple[float, dict]:
    """MSE and R² of every output variable on the test period, from the best weights in
    ``out`` (None: the untrained network of the config's seed); R² = 1 - SSE/SST pooled over
    the variable's levels, in the loader's (energy) units."""
    times = xr.open_zarr(store, consolidated=False)["time"].values
    test = ColumnDataset(store, times=split_times(config.split, times)["test"], shuffle=False,
                         batch_size=10**6, input_normalization="maxrs")
    (x, y), = list(test)
    torch.manual_seed(config.seed)
    model = build_model(config.model, test.input_layout, test.output_layout)
    if out is not None:
        model.load_state_dict(weights(out / BEST))
    with torch.no_grad():
        error = (model(x) - y).numpy()
    y = y.numpy()
    r2 = {name: 1.0 - np.sum(error[:, s] ** 2) / np.sum((y[:, s] - y[:, s].mean(0)) ** 2)
          for name, s in test.output_layout.slices.items()}
    return float(np.mean(error**2)), r2


def test_learns_the_made_up_physics_on_held_out_times(store, tmp_path):
    config = small_config()
    train(config, store, tmp_path / "run", progress=False)
    lines = (tmp_path / "run" / METRICS).read_text().splitlines()
    metrics = [json.loads(line) for line in lines]
    assert [m["epoch"] for m in metrics] == list(range(1, 13))
    assert all(m["samples_per_s"] > 0 and m["lr"] > 0 for m in metrics)
    first, _ = held_out_r2(config, store)
    last, r2 = held_out_r2(config, store, tmp_path / "run")
    print(f"held-out MSE {first:.4g} untrained -> {last:.4g}; R2 "
          + ", ".join(f"{k} {v:.3f}" for k, v in r2.items()))
    assert first / last >= 10
    # heating, moistening and precipitation carry most of the loss in the seed scaling; the
    # fluxes (x 1e-3) learn slower, a known trait of that scaling
    assert min(r2["TPHYSTND"], r2["PHQ"], r2["PRECT"]) > 0.9, r2
    assert min(r2.values()) > 0.3, r2


def test_variance_weights_lift_the_outputs_the_seed_scaling_leaves_out(store, tmp_path):
    """With uniform weights FLNT reaches R² ~0.67 here (the test above); weighted by the
    inverse variance every output reaches 0.9 on the held-out times."""
    config = small_config(loss={"output_weights": "variance"})
    train(config, store, tmp_path / "run", progress=False)
    r2 = held_out_r2(config, store, tmp_path / "run")[1]
    assert min(r2.values()) > 0.9, r2


def test_variance_weights_equalize_the_entries_above_the_floor(store):
    dataset = ColumnDataset(store, shuffle=False, batch_size=64, input_normalization="maxrs")
    layout, stats = dataset.output_layout, load_statistics(store)
    heating = layout.slices["TPHYSTND"]
    var = (stats["TPHYSTND_std"].values * layout.factor[heating]) ** 2
    floor = float(np.median(var / var.max()))  # half the levels fall below it
    config = small_config(loss={"output_weights": "variance", "variance_floor": floor}).loss
    w = output_weights(config, layout, stats)
    assert output_weights(small_config().loss, layout, stats) is None
    assert w.shape == (layout.size,) and np.isclose(w.mean(), 1.0)
    floored = var < floor * var.max()
    assert floored.any() and not floored.all()  # both kinds of entry are checked below
    weighted = w[heating] * np.maximum(var, floor * var.max())
    assert np.allclose(weighted, weighted[0], rtol=1e-12)  # each entry's variance counts alike
    assert np.allclose(w[heating][floored], w[heating].max())  # the floor caps the weight
    batch = torch.zeros(3, layout.size)
    target = torch.ones(3, layout.size)
    loss = build_loss(config, (dataset.input_layout, layout), {}, w)
    assert np.isclose(float(loss(batch, target, None)), 1.0, rtol=1e-6)  # the weights' mean


def test_a_broken_optimizer_does_not_learn(store, tmp_path):
    """The check above can fail: with a learning rate 1000 times too small nothing is learnt."""
    config = small_config(optimizer={"lr": 1e-5, "epochs": 2})
    train(config, store, tmp_path / "run", progress=False)
    assert min(held_out_r2(config, store, tmp_path / "run")[1].values()) < 0.5


# --------------------------------------------------------------------------- resume


@pytest.mark.parametrize("loss", [{}, {"input_noise": 0.1}, {"zigzag_weight": 1.0}])
def test_resume_gives_the_weights_of_an_uninterrupted_run(store, tmp_path, loss):
    """Also with loss.input_noise and loss.zigzag_weight: their draws come from torch's
    generator, kept in checkpoints."""
    config = small_config(optimizer={"epochs": 4, "schedule": "step", "step_epochs": 1,
                                     "step_factor": 0.5}, loss=loss)
    train(config, store, tmp_path / "straight", progress=False)
    train(config, store, tmp_path / "stopped", progress=False, stop_after=2)
    assert len((tmp_path / "stopped" / METRICS).read_text().splitlines()) == 2
    halfway = weights(tmp_path / "stopped" / CHECKPOINT)
    train(config, store, tmp_path / "stopped", progress=False, resume=True)
    straight, resumed = (weights(tmp_path / d / CHECKPOINT) for d in ("straight", "stopped"))
    assert any(not torch.equal(halfway[k], resumed[k]) for k in halfway)  # it trained on
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key
    assert (tmp_path / "straight" / METRICS).read_text().count("\n") == 4
    same = [(a.split('"seconds"')[0], b.split('"seconds"')[0]) for a, b in zip(
        *((tmp_path / d / METRICS).read_text().splitlines() for d in ("straight", "stopped")),
        strict=True)]
    assert all(a.split('"samples_per_s"')[0] == b.split('"samples_per_s"')[0] for a, b in same)


def test_kill_9_then_resume_gives_the_weights_of_an_uninterrupted_run(store, tmp_path):
    text = ("model: {hidden_layers: 2, width: 64}\noptimizer: {epochs: 5, batch_size: 32, "
            "buffer_size: 2048, schedule: cosine, lr: 3.0e-3}\n")
    path = write(tmp_path, text)
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "climnn.cli", "train", str(path), "--data", str(store),
               "--out", str(out), "--quiet"]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / CHECKPOINT).exists() and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = len((out / METRICS).read_text().splitlines())
    assert finished < 5  # killed during the run
    assert main(["train", str(path), "--data", str(store), "--out", str(out), "--resume",
                 "--quiet"]) == 0
    train(load_train_config(path), store, tmp_path / "straight", progress=False)
    straight, resumed = (weights(tmp_path / d / CHECKPOINT) for d in ("straight", "killed"))
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key


# --------------------------------------------------------------------------- configuration


def write(tmp_path, text):
    path = tmp_path / "train.yaml"
    path.write_text(text)
    return path


def test_default_config_is_the_seed_network():
    config = load_train_config("run/train.yaml")
    assert (config.model.kind, config.model.hidden_layers, config.model.width) == (
        "seed_mlp", 9, 256)
    assert (config.model.activation, config.model.leaky_slope) == ("leaky_relu", 0.3)
    assert config.data.inputs is None and config.data.input_normalization == "maxrs"


@pytest.mark.parametrize("text, named", [
    ("optimiser: {lr: 1.0e-3}", "unknown key 'optimiser' (did you mean 'optimizer'?)"),
    ("model: {widht: 10}", "unknown key 'model.widht' (did you mean 'model.width'?)"),
    ("model: {width: ten}", "model.width = 'ten': expected a whole number"),
    ("model: {width: 0}", "model.width = 0: allowed: >= 1"),
    ("optimizer: {lr: .nan}", "optimizer.lr = nan: not a finite number; allowed: > 0"),
    ("model: {leaky_slope: -0.3}", "model.leaky_slope = -0.3: allowed: >= 0"),
    ("model: {activation: leaky}", "did you mean 'leaky_relu'?"),
    ("loss: {kind: msa}", "loss.kind = 'msa': allowed: one of"),
    ("data: {inputs: T}", "data.inputs = 'T': allowed: a non-empty list of variable names"),
    ("split: {train: [0.0, 0.8]}",
     "split.validation = [0.7, 0.85]: overlaps split.train = [0.0, 0.8]"),
    ("split: {train: [0.5, 0.2]}", "split.train = [0.5, 0.2]: allowed: [start, end]: two"),
    ("split: {train: [2000-01-01, '2000-13-01']}",
     "split.train = ['2000-01-01', '2000-13-01']: allowed: [start, end]: two fractions with "
     "0 <= start < end <= 1, or two ISO dates (YYYY-MM-DD[THH:MM[:SS]])"),
    ("split: {train: [2000-01-01, 2000-13-01]}", "not valid YAML: month must be in 1..12"),
    ("split: {train: [2000-01-01, 2000-01-02]}",
     "split.validation = [0.7, 0.85]: fractions while split.train is ISO dates"),
    ("split: {train: [2000-01-01, 2000-01-03], validation: [2000-01-02, 2000-01-05], "
     "test: [2000-01-05, 2000-01-09]}", "split.validation = ['2000-01-02', '2000-01-05']: "
     "overlaps split.train = ['2000-01-01', '2000-01-03']"),
    ("split: {tran: [0.0, 0.5]}", "unknown key 'split.tran' (did you mean 'split.train'?)"),
    ("data: {inputz: [T]}", "unknown key 'data.inputz' (did you mean 'data.inputs'?)"),
    ("data: {outputs: [PHQ, 3]}", "data.outputs = ['PHQ', 3]: allowed: a non-empty list"),
    ("loss: {budget_weight: -1}", "loss.budget_weight = -1.0: allowed: >= 0"),
    ("optimizer: {lr: 0}", "optimizer.lr = 0.0: allowed: > 0"),
    ("optimizer: {patience: -1}", "optimizer.patience = -1: allowed: >= 0 (0: never stop"),
    ("data: {masked_levels: {T: [3, 1]}}", "data.masked_levels = {'T': [3, 1]}: allowed: a "
     "mapping of input profile name to [first, stop]"),
    ("data: {masked_levels: [T]}", "data.masked_levels = ['T']: expected a mapping"),
    ("data: {surface_flux_convention: excludd}", "data.surface_flux_convention = 'excludd': "
     "allowed: one of"),
])
def test_config_errors_name_the_file_and_key(tmp_path, text, named):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_train_config(path)
    assert str(path) in str(err.value) and named in str(err.value)


def test_every_key_of_the_default_file_is_declared():
    """Each key of run/train.yaml has a field that declares what it allows, so the checker
    sees every one (a field added without its declaration fails here)."""
    declared = {key: allowed for key, _, allowed in _fields(TrainConfig())}
    assert all(allowed is not None for allowed in declared.values()), declared

    def keys(node, prefix=""):
        for name, value in node.items():
            section = isinstance(value, dict) and prefix + name not in declared
            yield from keys(value, f"{prefix}{name}.") if section else [prefix + name]

    written = set(keys(yaml.safe_load(open("run/train.yaml"))))
    assert written == set(declared)
    assert load_train_config("run/train.yaml").loss.budget_weight == 1.0


# --------------------------------------------------------------------------- split


def test_time_split_never_mixes_times(store):
    times = xr.open_zarr(store, consolidated=False)["time"].values
    by_fraction = small_config().split
    by_date = small_config(split={
        "train": [str(times[0]), str(times[10])], "validation": [str(times[10]), str(times[14])],
        "test": [str(times[14]), "2999-01-01"]}).split
    for split, sizes in ((by_fraction, (13, 2, 3)), (by_date, (10, 4, 4))):
        chosen = split_times(split, times)
        assert tuple(v.size for v in chosen.values()) == sizes
        together = np.concatenate(list(chosen.values()))
        assert np.unique(together).size == together.size  # no time step in two splits
        assert chosen["train"].max() < chosen["validation"].min()
        assert chosen["validation"].max() < chosen["test"].min()


def test_an_empty_split_is_named(store):
    split = small_config(split={"train": [0.0, 0.01], "validation": [0.5, 0.8],
                                "test": [0.8, 1.0]}).split
    with pytest.raises(ConfigError, match=r"split.train: \[0.0, 0.01\) holds no time step"):
        split_times(split, xr.open_zarr(store, consolidated=False)["time"].values)


# --------------------------------------------------------------------------- bad input


def snapshot(directory):
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_bad_inputs_end_with_one_message_and_write_nothing(store, tmp_path, capsys):
    config = small_config(optimizer={"epochs": 1})
    out = tmp_path / "run"
    train(config, store, out, progress=False)
    before = snapshot(out)
    yaml_path = write(tmp_path, "model: {hidden_layers: 2, width: 64}\noptimizer: {epochs: 1}")
    assert main(["train", str(yaml_path), "--data", str(store), "--out", str(out)]) == 2
    assert "holds a training already" in capsys.readouterr().err

    other = cbrain_store(tmp_path / "other", nlev=8, files=1)
    with pytest.raises(DatasetError, match="variables, levels or normalization differ"):
        train(config, other, out, progress=False, resume=True, epochs=2)
    with pytest.raises(ValueError, match="'model' differs"):
        train(small_config(model={"width": 32}), store, out, resume=True, epochs=2)
    with pytest.raises(DatasetError, match="profiles have 10 levels.*data.levels = 8"):
        train(small_config(data={"levels": 8}), store, tmp_path / "new", progress=False)
    assert snapshot(out) == before
    assert not (tmp_path / "new").exists()


def test_nan_in_a_batch_is_named_by_time_and_column(store, tmp_path):
    broken = tmp_path / "broken.zarr"
    shutil.copytree(store, broken)
    zarr.open_group(broken, mode="r+")["Q"][3, 17, 4] = np.nan
    for _ in range(2):  # the failed start leaves no training that blocks a new one
        with pytest.raises(DatasetError, match=r"variable 'Q' holds nan at index "
                                               r"\(time=3, column=17, lev=4\)"):
            train(small_config(), broken, tmp_path / "run", progress=False)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(small_config(), broken, tmp_path / "run", progress=False, resume=True)


# --------------------------------------------------------------------------- normalization


def test_maxrs_inputs_are_centred_and_divided_by_range_or_variable_std(store):
    """The seed network's inputs: (x - level mean) / max(level range, variable-wide std)."""
    dataset = ColumnDataset(store, shuffle=False, batch_size=10**6,
                            input_normalization="maxrs")
    (x, _), = list(dataset)
    raw = xr.open_zarr(store, consolidated=False)
    for name, where in dataset.input_layout.slices.items():
        values = raw[name].values.astype(np.float64).reshape(x.shape[0], -1)
        spread = values.max(0) - values.min(0)
        expected = (values - values.mean(0)) / np.maximum(spread, values.std())
        np.testing.assert_allclose(x[:, where].numpy(), expected, atol=2e-5, err_msg=name)
    assert np.abs(x.numpy()).max() <= 1.0 + 1e-5  # |x - mean| never exceeds the range


def test_masked_levels_are_zero_in_every_sample_and_the_rest_unchanged(store):
    """data.masked_levels: the named levels' normalized inputs are exactly 0 (factor 0),
    every other entry is the unmasked loader's, and a name or range that does not fit the
    store is refused with the levels it has."""
    plain = ColumnDataset(store, shuffle=False, batch_size=10**6, input_normalization="maxrs")
    masks = {"T": [0, 2], "Q": [1, 3]}
    dataset = ColumnDataset(store, shuffle=False, batch_size=10**6,
                            input_normalization="maxrs", masked_levels=masks)
    (x, _), = list(dataset)
    (x_plain, _), = list(plain)
    slices = dataset.input_layout.slices
    hidden = np.zeros(x.shape[1], dtype=bool)
    for name, (first, stop) in masks.items():
        hidden[slices[name].start + first:slices[name].start + stop] = True
    assert hidden.sum() == 4
    assert np.all(x.numpy()[:, hidden] == 0.0)
    np.testing.assert_array_equal(x.numpy()[:, ~hidden], x_plain.numpy()[:, ~hidden])
    assert np.all(x_plain.numpy()[:, hidden].std(0) > 0)  # there was something to hide
    with pytest.raises(DatasetError, match=r"masked_levels of T are \[3, 12\), outside its "
                       "10 levels"):
        ColumnDataset(store, masked_levels={"T": [3, 12]})
    with pytest.raises(DatasetError, match="masked_levels names 'PS', which is not an input "
                       "profile"):
        ColumnDataset(store, masked_levels={"PS": [0, 1]})


def test_input_noise_trains_other_weights_and_never_touches_masked_levels(store, tmp_path):
    """loss.input_noise changes what is learned; with masked levels the first layer's
    weights of those inputs keep their initial values (their input is 0, noise or not),
    while the shown inputs' weights move."""
    masks = {"masked_levels": {"T": [0, 3]}}
    runs = {}
    for name, noise in (("clean", 0.0), ("noisy", 0.3)):
        config = small_config(data=masks, loss={"input_noise": noise},
                              optimizer={"epochs": 2})
        train(config, store, tmp_path / name, progress=False)
        runs[name] = weights(tmp_path / name / CHECKPOINT)
    dataset = ColumnDataset(store, input_normalization="maxrs",
                            masked_levels=masks["masked_levels"])
    torch.manual_seed(0)
    initial = build_model(small_config(data=masks).model, dataset.input_layout,
                          dataset.output_layout).state_dict()
    first = next(k for k in initial if k.endswith("weight"))
    t = dataset.input_layout.slices["T"]
    for run in runs.values():
        torch.testing.assert_close(run[first][:, t.start:t.start + 3],
                                   initial[first][:, t.start:t.start + 3], rtol=0, atol=0)
        assert not torch.equal(run[first][:, t.start + 3], initial[first][:, t.start + 3])
    assert not torch.equal(runs["clean"][first], runs["noisy"][first])


# --------------------------------------------------------------------------- constrained


CONSTRAINED_OUTPUTS = ["TPHYSTND", "PHQ", "FSNT", "FSNS", "FLNT", "FLNS", "PRECT", "SHF", "LHF"]


@pytest.fixture(scope="module")
def budget_store(tmp_path_factory):
    """make_dataset's store: SHF and LHF among the outputs, convention "included"."""
    from climnn.data import write_store

    path = write_store(make_dataset(ntime=10, ncol=40), tmp_path_factory.mktemp("b") / "d.zarr")
    compute_statistics(path)
    return path


def budget_residuals(layout, normalized, store):
    """Energy (W m-2) and water (W m-2, x Lv) residuals of normalized outputs, float64, and
    the size of the largest term of each budget."""
    from gcm.constants import CP, GRAVITY, LV

    phys = layout.denormalize(normalized)
    f = {name: phys[:, s] for name, s in layout.slices.items()}
    ps = xr.open_zarr(store, consolidated=False)
    ds = ps.stack(sample=("time", "column"))
    dp = (np.diff(ds["hyai"].values)[:, None] * float(ds["P0"]) + np.diff(ds["hybi"].values)[
        :, None] * ds["PS"].values[None, :]).T
    heat, moist = CP * f["TPHYSTND"] * dp / GRAVITY, LV * f["PHQ"] * dp / GRAVITY
    energy = (heat.sum(1) + moist.sum(1) - (f["FSNT"] - f["FSNS"] - f["FLNT"] + f["FLNS"]
              + f["SHF"] + f["LHF"])[:, 0])
    water = moist.sum(1) - (f["LHF"] - LV * f["PRECT"])[:, 0]
    return energy, water, np.abs(heat).max(), np.abs(moist).max()


def test_constrained_outputs_close_both_budgets_to_float32_round_off(budget_store, tmp_path):
    config = small_config(model={"kind": "constrained"}, optimizer={"epochs": 2},
                          data={"outputs": CONSTRAINED_OUTPUTS})
    train(config, budget_store, tmp_path / "run", progress=False)
    data = ColumnDataset(budget_store, outputs=CONSTRAINED_OUTPUTS, shuffle=False,
                         batch_size=10**6, input_normalization="maxrs")
    (x, y), = list(data)
    model = build_model(config.model, data.input_layout, data.output_layout,
                        column_geometry(budget_store))
    model.load_state_dict(weights(tmp_path / "run" / CHECKPOINT))
    with torch.no_grad():
        predicted = model(x).numpy()
    energy, water, heat, moist = budget_residuals(data.output_layout, predicted, budget_store)
    eps = np.finfo(np.float32).eps * 10 * NLEV
    print(f"largest residuals: energy {np.abs(energy).max():.3g} W m-2 (terms up to "
          f"{heat:.3g}), water {np.abs(water).max():.3g} W m-2 (terms up to {moist:.3g})")
    assert np.abs(energy).max() < eps * heat and np.abs(water).max() < eps * moist
    data_energy, data_water, _, _ = budget_residuals(data.output_layout, y.numpy(),
                                                     budget_store)
    assert np.abs(data_energy).max() > 1e3 * eps * heat  # the random data do not close


def test_constrained_model_names_the_outputs_it_needs(budget_store, tmp_path):
    config = small_config(model={"kind": "constrained"})
    with pytest.raises(ValueError, match=r"needs input PS and outputs .*lacks \['SHF', 'LHF'\]"):
        train(config, budget_store, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_statistics_beyond_the_train_period_are_warned_of(tmp_path):
    """Normalization from statistics of the whole store lets the test period shape the
    inputs: training warns, and stops warning once they cover the train period alone."""
    import warnings

    from climnn.training.trainer import NormalizationLeakWarning

    path = cbrain_store(tmp_path / "leak", files=2)
    times = xr.open_zarr(path, consolidated=False)["time"].values
    first, middle, late = (times[i].isoformat()[:19] for i in (0, 6, 9))
    end = (times[-1] + (times[1] - times[0])).isoformat()[:19]
    config = small_config(split={"train": [first, middle], "validation": [middle, late],
                                 "test": [late, end]})
    with pytest.warns(NormalizationLeakWarning, match=f"--period {first} {middle}"):
        train(config, path, tmp_path / "a", epochs=1, progress=False)
    compute_statistics(path, period=(first, middle))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NormalizationLeakWarning)
        train(config, path, tmp_path / "b", epochs=1, progress=False)


def test_excluded_convention_targets_close_the_budgets_without_surface_terms(budget_store):
    """data.surface_flux_convention: excluded of an "included" store: TPHYSTND and PHQ
    lose exactly g SHF / (cp dp) and g LHF / (Lv dp) at the lowest level and nothing
    elsewhere, so the budgets without surface terms leave the residuals of the budgets
    with them (round-off); "included" asked of an "excluded" store is refused."""
    from gcm.constants import CP, GRAVITY, LV

    names = ["TPHYSTND", "PHQ", "FSNT", "FSNS", "FLNT", "FLNS", "PRECT", "SHF", "LHF"]
    loaded = {}
    for convention in (None, "excluded"):
        dataset = ColumnDataset(budget_store, outputs=names, shuffle=False, batch_size=10**6,
                                surface_flux_convention=convention)
        (_, y), = list(dataset)
        layout = dataset.output_layout
        phys = layout.denormalize(y.numpy().astype(np.float64))
        loaded[convention] = {n: phys[:, s] for n, s in layout.slices.items()}
    plain, converted = loaded[None], loaded["excluded"]
    ds = xr.open_zarr(budget_store, consolidated=False).stack(sample=("time", "column"))
    dp = (np.diff(ds["hyai"].values)[:, None] * float(ds["P0"])
          + np.diff(ds["hybi"].values)[:, None] * ds["PS"].values[None, :]).T
    for name, flux, c in (("TPHYSTND", "SHF", CP), ("PHQ", "LHF", LV)):
        np.testing.assert_array_equal(converted[name][:, :-1], plain[name][:, :-1])
        expected = plain[name][:, -1] - GRAVITY * plain[flux][:, 0] / (c * dp[:, -1])
        np.testing.assert_allclose(converted[name][:, -1], expected, rtol=1e-5,
                                   atol=1e-6 * np.abs(plain[name]).max())

    def residuals(f, surface):
        heat = (CP * f["TPHYSTND"] * dp).sum(1) / GRAVITY
        moist = (LV * f["PHQ"] * dp).sum(1) / GRAVITY
        radiation = (f["FSNT"] - f["FSNS"] - f["FLNT"] + f["FLNS"])[:, 0]
        fluxes = (f["SHF"] + f["LHF"])[:, 0] if surface else 0.0
        evaporation = f["LHF"][:, 0] if surface else 0.0
        return (heat + moist - radiation - fluxes,
                moist - (evaporation - LV * f["PRECT"][:, 0]), np.abs(heat).max())

    energy, water, scale = residuals(plain, True)
    energy_x, water_x, _ = residuals(converted, False)
    np.testing.assert_allclose(energy_x, energy, atol=1e-5 * scale)
    np.testing.assert_allclose(water_x, water, atol=1e-5 * scale)
    with pytest.raises(DatasetError, match="only an 'included' store's targets can be given "
                                           "in the 'excluded' convention"):
        ColumnDataset(budget_store, surface_flux_convention="bogus")


# --------------------------------------------------------------------------- pooled stores


def test_pooled_stores_train_on_each_split_and_resume_only_with_them(store, tmp_path, capsys):
    """Two stores (another run's samples, e.g. the teacher from other states): an epoch
    reads the train split of each (the split's fractions or dates taken on each store's own
    time axis), the record names both, a resume needs the same ones."""
    other = cbrain_store(tmp_path / "other", files=2)
    config = small_config(optimizer={"epochs": 2})
    out = tmp_path / "run"
    train(config, [store, other], out, progress=False, stop_after=1)
    record = json.loads((out / "train.json").read_text())
    assert record["stores"] == [str(store.resolve()), str(other.resolve())]
    steps = sum(split_times(config.split, xr.open_zarr(s, consolidated=False)["time"].values)[
        "train"].size for s in (store, other))
    first = json.loads((out / METRICS).read_text().splitlines()[0])
    assert first["samples_per_rank"] == [steps * 256]  # 16 x 16 columns a step
    with pytest.raises(DatasetError, match="pooled"):
        train(config, store, out, progress=False, resume=True)
    with pytest.raises(DatasetError, match=r"typo\.zarr: no such dataset store"):
        train(config, [store, tmp_path / "typo.zarr"], tmp_path / "typo", progress=False)
    assert not (tmp_path / "typo").exists()
    yaml_path = write(tmp_path, "model: {hidden_layers: 2, width: 64}\n"
                      "optimizer: {epochs: 2, batch_size: 64, buffer_size: 2048}")
    assert main(["train", str(yaml_path), "--data", str(store), str(other), "--out",
                 str(tmp_path / "cli"), "--quiet"]) == 0
    assert "epoch 2" in capsys.readouterr().out
    from climnn.export import export_model, read_metadata
    exported = export_model(tmp_path / "cli", tmp_path / "pooled.pt", pt2=False)
    assert read_metadata(exported)["data"]["stores"] == record["stores"]
    late = small_config(split={"train": ["1999-01-01", "1999-02-01"],
                               "validation": ["1999-02-01", "1999-03-01"],
                               "test": ["1999-03-01", "1999-04-01"]})
    with pytest.raises(ConfigError, match=r"split.train: .* holds no time step of any of the "
                                          r"stores"):
        train(late, [store, other], tmp_path / "late", progress=False)
    train(config, [store, other], out, progress=False, resume=True)
    assert len((out / METRICS).read_text().splitlines()) == 2
