"""climnn export (issue 12): one TorchScript file with normalization and metadata inside.

The exported file gives the eager model's physical outputs in Python, in a Python that
cannot import climnn or gcm, and in a C++ program built against libtorch; the .pt2 program
gives the same; bfloat16 stays close to float32 and the constrained network's budgets
still close; bad inputs end with one message and nothing written over.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from test_training import budget_residuals, budget_store  # noqa: F401 (a fixture)

from climnn.cli import main
from climnn.data import VARIABLES
from climnn.data.loader import ColumnDataset, VectorLayout
from climnn.export import METADATA_FILE, export_model, load_exported, read_metadata
from climnn.export.physical import PhysicalModel
from climnn.export.quiet import torchscript_quiet
from climnn.export.trained import load_trained
from climnn.training.config import train_config_from_dict
from climnn.training.trainer import BEST, METRICS, RECORD, train

REPOSITORY = Path(__file__).resolve().parent.parent
OUTPUTS = ["TPHYSTND", "PHQ", "FSNT", "FSNS", "FLNT", "FLNS", "PRECT", "SHF", "LHF"]
#: float32 export against the eager model: relative to each variable's largest output
FLOAT32_TOLERANCE = 1e-6
#: bfloat16 against float32 (8-bit mantissa through 3 layers), same measure
BFLOAT16_TOLERANCE = 3e-2


@pytest.fixture(scope="module")
def store(budget_store):  # noqa: F811 (the imported fixture)
    """A tiny store (10 steps x 40 columns x 5 levels) with SHF, LHF: budgets "included"."""
    return budget_store


def trained_dir(store, folder, kind):
    config = train_config_from_dict(
        {"model": {"kind": kind, "hidden_layers": 2, "width": 32},
         "data": {"outputs": OUTPUTS},
         "optimizer": {"epochs": 2, "batch_size": 64, "buffer_size": 512, "lr": 1e-2}}, "test")
    train(config, store, folder, progress=False)
    return folder


@pytest.fixture(scope="module")
def runs(store, tmp_path_factory):
    """Training directories of the seed MLP and the constrained network."""
    root = tmp_path_factory.mktemp("runs")
    return {kind: trained_dir(store, root / kind, kind) for kind in ("seed_mlp", "constrained")}


@pytest.fixture(scope="module")
def exported(runs, tmp_path_factory):
    """(kind, precision) -> exported .pt (its .pt2 beside)."""
    root = tmp_path_factory.mktemp("exported")
    return {(kind, precision): export_model(folder, root / f"{kind}_{precision}.pt",
                                            precision=precision)
            for kind, folder in runs.items() for precision in ("float32", "bfloat16")}


def physical_inputs(store, layout: VectorLayout) -> np.ndarray:
    """Every sample's input vector (time-major, float32) in the store's units."""
    ds = xr.open_zarr(store, consolidated=False)
    ntime, ncol = ds.sizes["time"], ds.sizes["column"]
    return np.concatenate([ds[name].values.reshape(ntime * ncol, -1) for name in layout.names],
                          axis=1).astype(np.float32)


def eager_outputs(train_dir, x: np.ndarray) -> np.ndarray:
    """The training code's physical outputs (float64): the loader's normalization (float64),
    the network as trained, the inverse of the output normalization."""
    trained = load_trained(train_dir)
    z = torch.tensor(trained.input_layout.normalize(x), dtype=torch.float32)
    with torch.no_grad():
        return trained.output_layout.denormalize(trained.model(z).numpy())


def worst_difference(found, expected, layout) -> float:
    """Largest |found - expected| over each output variable's largest |expected|."""
    return max(float(np.abs(found[:, s] - expected[:, s]).max() / np.abs(expected[:, s]).max())
               for s in layout.slices.values())


def run_exported(path, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return load_exported(path)(torch.from_numpy(x)).numpy()


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("kind", ["seed_mlp", "constrained"])
def test_exported_file_gives_the_eager_models_physical_outputs(store, runs, exported, kind):
    trained = load_trained(runs[kind])
    x = physical_inputs(store, trained.input_layout)
    expected = eager_outputs(runs[kind], x)
    found = run_exported(exported[kind, "float32"], x)
    assert found.dtype == np.float32 and found.shape == (400, trained.output_layout.size)
    assert worst_difference(found, expected, trained.output_layout) < FLOAT32_TOLERANCE
    # SI units: heating of the order of K/day, not the energy units the network sees
    heating = found[:, trained.output_layout.slices["TPHYSTND"]]
    assert 1e-7 < np.abs(heating).max() < 1e-2


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_masked_input_levels_do_not_reach_the_exported_networks_outputs(store, tmp_path,
                                                                        precision):
    """A network trained with data.masked_levels: any value at a masked level gives the
    same output bits, while an unmasked level of the same variable still matters."""
    config = train_config_from_dict(
        {"model": {"hidden_layers": 2, "width": 32}, "data": {"masked_levels": {"T": [0, 2]}},
         "optimizer": {"epochs": 1, "batch_size": 64, "buffer_size": 512}}, "test")
    train(config, store, tmp_path / "run", progress=False)
    path = export_model(tmp_path / "run", tmp_path / "masked.pt", precision=precision)
    trained = load_trained(tmp_path / "run")
    x = physical_inputs(store, trained.input_layout)
    t = trained.input_layout.slices["T"]
    moved = x.copy()
    moved[:, t.start:t.start + 2] += np.float32(30.0)  # 30 K at the two masked levels
    np.testing.assert_array_equal(run_exported(path, moved), run_exported(path, x))
    moved = x.copy()
    moved[:, t.start + 2] += np.float32(30.0)  # the first level shown
    assert np.abs(run_exported(path, moved) - run_exported(path, x)).max() > 0


def test_normalization_inside_is_the_loaders_and_its_inverse(store):
    """PhysicalModel around an identity network: its input side gives the loader's
    normalized vectors (ColumnDataset) to float32 round-off, its output side the inverse of
    the loader's output normalization (energy units back to SI) to 1e-6 of each value."""
    data = ColumnDataset(store, outputs=OUTPUTS, shuffle=False, batch_size=10**6,
                         input_normalization="maxrs")
    (loader_x, loader_y), = list(data)

    def unit(layout):
        return VectorLayout(layout.names, layout.levels, layout.units, np.zeros(layout.size),
                            np.ones(layout.size))

    x = physical_inputs(store, data.input_layout)
    with torch.no_grad():
        normalized = PhysicalModel(torch.nn.Identity(), data.input_layout,
                                   unit(data.input_layout))(torch.from_numpy(x)).numpy()
        physical = PhysicalModel(torch.nn.Identity(), unit(data.output_layout),
                                 data.output_layout)(loader_y).numpy()
    spacing = np.spacing(np.abs(loader_x.numpy()).max(0))  # float32 ulp of each entry's size
    assert np.all(np.abs(normalized - loader_x.numpy()) <= 4 * spacing)
    expected = data.output_layout.denormalize(loader_y.numpy())
    np.testing.assert_allclose(physical, expected, rtol=1e-6, atol=0)
    ds = xr.open_zarr(store, consolidated=False)
    heating = ds["TPHYSTND"].values.reshape(-1, 5)
    np.testing.assert_allclose(physical[:, :5], heating, rtol=1e-6)  # SI again: K s-1


def test_exported_file_runs_where_climnn_and_gcm_cannot_be_imported(store, runs, exported,
                                                                    tmp_path):
    path = exported["constrained", "float32"]
    x = physical_inputs(store, load_trained(runs["constrained"]).input_layout)[:50]
    np.save(tmp_path / "x.npy", x)
    code = textwrap.dedent(f"""
        import importlib.abc, json, sys
        class Blocker(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("climnn", "gcm"):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Blocker())
        for name in ("climnn", "gcm"):
            try:
                __import__(name)
            except ImportError:
                pass
            else:
                raise SystemExit(name + " was importable")
        import numpy, torch
        extra = {{"{METADATA_FILE}": ""}}
        module = torch.jit.load({str(path)!r}, _extra_files=extra)
        assert json.loads(extra["{METADATA_FILE}"])["precision"] == "float32"
        with torch.no_grad():
            y = module(torch.from_numpy(numpy.load("x.npy")))
        numpy.save("y.npy", y.numpy())
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("climnn", "gcm")))
    """)
    done = subprocess.run([sys.executable, "-I", "-W", "ignore", "-c", code], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
    expected = run_exported(path, x)
    layout = load_trained(runs["constrained"]).output_layout
    assert worst_difference(np.load(tmp_path / "y.npy"), expected, layout) < FLOAT32_TOLERANCE


@pytest.mark.parametrize("kind", ["seed_mlp", "constrained"])
def test_pt2_program_gives_the_same_numbers(store, runs, exported, kind):
    trained = load_trained(runs[kind])
    x = physical_inputs(store, trained.input_layout)
    extra = {METADATA_FILE: ""}
    program = torch.export.load(exported[kind, "float32"].with_suffix(".pt2"),
                                extra_files=extra)
    with torch.no_grad():
        found = program.module()(torch.from_numpy(x)).numpy()
    meta = read_metadata(exported[kind, "float32"])
    assert json.loads(extra[METADATA_FILE]) == meta
    assert read_metadata(exported[kind, "float32"].with_suffix(".pt2")) == meta
    expected = eager_outputs(runs[kind], x)
    assert worst_difference(found, expected, trained.output_layout) < FLOAT32_TOLERANCE


@pytest.mark.parametrize("kind", ["seed_mlp", "constrained"])
def test_bfloat16_export_is_close_to_float32(store, runs, exported, kind):
    layout = load_trained(runs[kind]).output_layout
    x = physical_inputs(store, load_trained(runs[kind]).input_layout)
    single, half = (run_exported(exported[kind, p], x) for p in ("float32", "bfloat16"))
    assert read_metadata(exported[kind, "bfloat16"])["precision"] == "bfloat16"
    assert half.dtype == np.float32 and half.shape == single.shape
    difference = worst_difference(half, single, layout)
    print(f"{kind}: bfloat16 differs from float32 by {difference:.3g} of an output's size")
    assert 0 < difference < BFLOAT16_TOLERANCE  # 0 would mean it is not bfloat16 at all


def test_bfloat16_constrained_network_still_closes_both_budgets(store, runs, exported):
    """The budget arithmetic stays float64: the exported bfloat16 model's physical outputs
    close the energy and water budgets to float32 round-off on every sample."""
    trained = load_trained(runs["constrained"])
    x = physical_inputs(store, trained.input_layout)
    outputs = run_exported(exported["constrained", "bfloat16"], x)
    normalized = trained.output_layout.normalize(outputs)
    energy, water, heat, moist = budget_residuals(trained.output_layout, normalized, store)
    eps = np.finfo(np.float32).eps * 10 * trained.output_layout.levels[0]
    assert np.abs(energy).max() < eps * heat and np.abs(water).max() < eps * moist


# --------------------------------------------------------------------------- metadata


def test_metadata_round_trips_and_describes_the_model(store, runs, exported):
    path = exported["seed_mlp", "float32"]
    extra = {METADATA_FILE: ""}
    with torchscript_quiet():
        torch.jit.load(str(path), _extra_files=extra)
    meta = read_metadata(path)
    assert json.loads(extra[METADATA_FILE]) == meta
    record = json.loads((runs["seed_mlp"] / RECORD).read_text())
    assert [v["name"] for v in meta["inputs"]] == record["input_layout"]["names"]
    assert [v["name"] for v in meta["outputs"]] == OUTPUTS
    heating = meta["outputs"][0]
    assert (heating["start"], heating["stop"], heating["levels"]) == (0, 5, 5)
    assert heating["units"] == VARIABLES["TPHYSTND"].units == "K s-1"
    assert meta["n_in"] == sum(record["input_layout"]["levels"]) and meta["levels"] == 5
    ds = xr.open_zarr(store, consolidated=False)
    np.testing.assert_array_equal(meta["vertical"]["hybi"], ds["hybi"].values)
    assert meta["vertical"]["P0"] == float(ds["P0"])
    for key in ("source_model", "config_hash", "resolution", "time_range", "timestep_seconds",
                "schema", "schema_version"):
        assert meta["data"][key] == ds.attrs[key], key
    assert meta["data"]["store"] == record["store"]
    history = [json.loads(line) for line in (runs["seed_mlp"] / METRICS).read_text().splitlines()]
    training = meta["training"]
    assert training["config"] == record["config"] and training["epochs_trained"] == 2
    assert training["best_validation_loss"] == min(h["validation_loss"] for h in history)
    assert training["split"] == record["config"]["split"]
    assert meta["precision"] == "float32" and meta["climnn_version"]
    assert meta["layers"] == "onednn_fused"  # this torch has oneDNN (x86 CPU builds)
    commit = meta["git_commit"]
    assert commit == "unknown" or len(commit.removesuffix("+dirty")) == 40
    assert meta["created"].endswith("+00:00")


def test_last_checkpoint_exports_the_last_epochs_weights(runs, tmp_path):
    path = export_model(runs["seed_mlp"], tmp_path / "last.pt", checkpoint="last", pt2=False)
    meta = read_metadata(path)
    assert meta["training"]["checkpoint"] == "last"
    assert meta["training"]["checkpoint_epoch"] == 2
    assert not path.with_suffix(".pt2").exists()


def test_portable_export_has_plain_layers_and_the_same_numbers(store, runs, exported,
                                                                tmp_path):
    path = export_model(runs["constrained"], tmp_path / "plain.pt", portable=True, pt2=False)
    assert read_metadata(path)["layers"] == "plain"
    with torchscript_quiet():
        graphs = [str(load_exported(p).graph) for p in (path, exported["constrained", "float32"])]
    assert "mkldnn" not in graphs[0]
    assert graphs[1].count("mkldnn::_linear_pointwise") == 3  # one call a layer, frozen inline
    trained = load_trained(runs["constrained"])
    x = physical_inputs(store, trained.input_layout)
    fast = run_exported(exported["constrained", "float32"], x)
    assert worst_difference(run_exported(path, x), fast, trained.output_layout) < 1e-6


# --------------------------------------------------------------------------- C++


@pytest.fixture(scope="session")
def cpp_runner(tmp_path_factory):
    """tests/cpp/run_exported.cpp built against the installed torch's libtorch, once a
    session; skipped where no C++ compiler is found."""
    compiler = shutil.which(os.environ.get("CXX", "g++"))
    if compiler is None:
        pytest.skip("no C++ compiler (g++) found: the libtorch program cannot be built")
    root = Path(torch.__file__).resolve().parent
    binary = tmp_path_factory.mktemp("cpp") / "run_exported"
    command = [compiler, "-std=c++17", "-O1", "-Wno-c++20-extensions",
               str(REPOSITORY / "tests" / "cpp" / "run_exported.cpp"), "-o", str(binary),
               f"-I{root / 'include'}", f"-I{root / 'include/torch/csrc/api/include'}",
               f"-L{root / 'lib'}", f"-Wl,-rpath,{root / 'lib'}", "-ltorch", "-ltorch_cpu",
               "-lc10", f"-D_GLIBCXX_USE_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return binary


@pytest.mark.parametrize("kind,precision", [("seed_mlp", "float32"),
                                            ("constrained", "bfloat16")])
def test_cpp_program_prints_pythons_numbers(store, runs, exported, cpp_runner, tmp_path, kind,
                                            precision):
    path = exported[kind, precision]
    trained = load_trained(runs[kind])
    x = physical_inputs(store, trained.input_layout)[:64]
    with open(tmp_path / "x.txt", "w") as f:
        f.write(f"{x.shape[0]} {x.shape[1]}\n")
        np.savetxt(f, x, fmt="%.9g")  # 9 digits: the float32 values exactly
    done = subprocess.run([str(cpp_runner), str(path), str(tmp_path / "x.txt")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert int(lines[0].split()[1]) > 100  # the metadata loaded too
    assert lines[1] == f"64 {trained.output_layout.size}"
    found = np.array([line.split() for line in lines[2:]], dtype=np.float32)
    expected = run_exported(path, x)
    assert worst_difference(found, expected, trained.output_layout) < FLOAT32_TOLERANCE


# --------------------------------------------------------------------------- bad input


def test_export_of_a_directory_without_a_trained_model_is_named(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["export", str(empty), "--out", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{empty} holds no trained model" in err
    (tmp_path / "file").write_text("x")
    assert main(["export", str(tmp_path / "file"), "--out", str(tmp_path / "m.pt")]) == 2
    assert f"{tmp_path / 'file'} is not a directory" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "file"]


@pytest.mark.parametrize("existing", ["m.pt", "m.pt2"])
def test_export_refuses_an_existing_out_and_writes_nothing(runs, tmp_path, capsys, existing):
    (tmp_path / existing).write_bytes(b"keep me")
    assert main(["export", str(runs["seed_mlp"]), "--out", str(tmp_path / "m.pt")]) == 2
    assert f"{tmp_path / existing} exists" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]
    assert (tmp_path / existing).read_bytes() == b"keep me"


def test_checkpoint_of_another_architecture_is_named(runs, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(runs["seed_mlp"], other)
    record = json.loads((other / RECORD).read_text())
    record["config"]["model"]["width"] = 48
    (other / RECORD).write_text(json.dumps(record))
    assert main(["export", str(other), "--out", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert f"{other / BEST}: weights of another architecture than {RECORD}" in err
    assert "size mismatch" in err and not (tmp_path / "m.pt").exists()


def test_export_keeps_torchscript_deprecation_warnings_from_the_user(runs, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        export_model(runs["seed_mlp"], tmp_path / "m.pt")
        load_exported(tmp_path / "m.pt")
    jit = [str(w.message) for w in caught if "torch.jit" in str(w.message)]
    assert jit == []
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    done = subprocess.run([sys.executable, "-W", "always", "-m", "climnn.cli", "export",
                           str(runs["seed_mlp"]), "--out", str(tmp_path / "cli.pt")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    printed = done.stdout + done.stderr
    assert "DeprecationWarning" not in printed and "FutureWarning" not in printed, printed
    assert "wrote" in done.stdout and (tmp_path / "cli.pt2").exists()
