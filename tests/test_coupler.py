"""The host-agnostic coupler (issue 13): an exported model over a batch of columns.

Its outputs are the exported module's on the same inputs, in .pt and .pt2 alike; a model
that does not fit the host, or a corrupted file, is refused naming the first difference
or the file; the diagnosed budgets are numpy's and torch's; with enforce both budgets
close in every column; NaN, inf and out-of-bounds values stop the step naming where.
"""

import json

import numpy as np
import pytest
import torch
import xarray as xr
from test_training import budget_store  # noqa: F401 (a fixture)

from climnn.coupler import Coupler, CouplerError, GuardError, HostDescription
from climnn.coupler.column_budgets import energy_residual, layer_thickness, water_residual
from climnn.coupler.guards import check_arrays
from climnn.data import VARIABLES
from climnn.data.loader import VectorLayout
from climnn.export import METADATA_FILE, export_model, load_exported, read_metadata
from climnn.export.metadata import FORMAT, FORMAT_VERSION, variables
from climnn.export.physical import PhysicalModel
from climnn.export.quiet import torchscript_quiet
from climnn.export.writer import to_program, to_torchscript
from climnn.models import budgets as torch_budgets
from climnn.models.seed_mlp import SeedMLP
from climnn.training.config import train_config_from_dict
from climnn.training.trainer import train
from gcm.constants import CP, GRAVITY, LV

NLEV = 5
HYAI = np.array([0.0, 0.05, 0.1, 0.05, 0.02, 0.0])
HYBI = np.array([0.0, 0.0, 0.1, 0.4, 0.7, 1.0])
INPUTS = ("T", "Q", "V", "PS", "SOLIN", "SHFLX", "LHFLX")
OUTPUTS = ("TPHYSTND", "PHQ", "FSNT", "FSNS", "FLNT", "FLNS", "PRECT")
#: typical value and spread of each input; output scales of the seed network (SI -> ~1)
INPUT_SCALE = {"T": (250.0, 30.0), "Q": (5e-3, 5e-3), "V": (0.0, 10.0), "PS": (1e5, 1e3),
               "SOLIN": (400.0, 400.0), "SHFLX": (20.0, 20.0), "LHFLX": (100.0, 80.0)}
OUTPUT_FACTOR = {"TPHYSTND": CP, "PHQ": LV, "PRECT": LV * 1e-3}
DT = 1800.0


def layout(names, scales=None) -> VectorLayout:
    levels = tuple(NLEV if VARIABLES[n].dims[-1] == "lev" else 1 for n in names)
    shift = np.concatenate([np.full(k, (scales or {}).get(n, (0.0, 1.0))[0])
                            for n, k in zip(names, levels, strict=True)])
    factor = np.concatenate([np.full(k, 1.0 / (scales or {}).get(n, (0.0, 1.0))[1])
                             if scales else np.full(k, OUTPUT_FACTOR.get(n, 1e-3))
                             for n, k in zip(names, levels, strict=True)])
    return VectorLayout(tuple(names), levels, tuple(VARIABLES[n].units for n in names),
                        shift, factor)


def metadata(inputs: VectorLayout, outputs: VectorLayout, **data) -> dict:
    """The export's metadata keys the coupler reads (climnn.export.metadata)."""
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "inputs": variables(inputs),
            "outputs": variables(outputs), "n_in": inputs.size, "n_out": outputs.size,
            "levels": NLEV, "vertical": {"hyai": HYAI.tolist(), "hybi": HYBI.tolist(),
                                         "P0": 1e5},
            "data": {"schema_version": 1, "surface_flux_convention": "included", **data},
            "precision": "float32"}


def write_model(path, net, inputs=INPUTS, outputs=OUTPUTS, pt2=False, **data):
    """An exported model file of ``net`` (normalized vectors) between the layouts."""
    ins, outs = layout(inputs, INPUT_SCALE), layout(outputs)
    model = PhysicalModel(net, ins, outs).eval().requires_grad_(False)
    extra = {METADATA_FILE: json.dumps(metadata(ins, outs, **data))}
    example = torch.zeros(4, ins.size)
    with torchscript_quiet():
        torch.jit.save(to_torchscript(model, example), str(path), _extra_files=extra)
    if pt2:
        with open(path.with_suffix(".pt2"), "wb") as f:
            torch.export.save(to_program(model, example), f, extra_files=extra)
    return path


def random_net(seed: int, hidden_layers=1) -> torch.nn.Module:
    torch.manual_seed(seed)
    return SeedMLP(layout(INPUTS).size, layout(OUTPUTS).size, hidden_layers, 16)


def host(**changes) -> HostDescription:
    described = {"variables": {n: VARIABLES[n].units for n in (*INPUTS, "SHF", "LHF")},
                 "hyai": HYAI, "hybi": HYBI, "p0": 1e5, "schema_version": 1}
    return HostDescription(**{**described, **changes})


def columns(ncol=12, seed=0) -> dict:
    """Physical columns: dry upper levels (so that the networks' drying goes negative)."""
    rng = np.random.default_rng(seed)
    cols = {n: (m + s * rng.uniform(-1, 1, (ncol, NLEV) if VARIABLES[n].dims[-1] == "lev"
                                     else ncol)) for n, (m, s) in INPUT_SCALE.items()}
    cols["Q"] = np.abs(cols["Q"]) * np.array([1e-4, 1e-2, 0.3, 1.0, 1.0])
    cols["SHF"], cols["LHF"] = rng.uniform(-10, 60, ncol), rng.uniform(-20, 300, ncol)
    return cols


def by_hand(path, cols, names=INPUTS) -> np.ndarray:
    x = np.concatenate([np.reshape(cols[n], (len(cols["PS"]), -1)) for n in names], axis=1)
    with torch.no_grad():
        return load_exported(path)(torch.from_numpy(x.astype(np.float32))).numpy()


def split(y, names=OUTPUTS) -> dict:
    out = layout(names)
    return {n: y[:, s] if out.levels[i] > 1 else y[:, s.start]
            for i, (n, s) in enumerate(out.slices.items())}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A random seed MLP, exported as .pt and .pt2."""
    return write_model(tmp_path_factory.mktemp("m") / "model.pt", random_net(0), pt2=True)


# --------------------------------------------------------------------------- the step


def test_outputs_are_the_exported_modules_on_the_same_inputs(model):
    coupler = Coupler(model, host())
    cols = columns()
    result = coupler.step(cols, DT)
    expected = split(by_hand(model, cols))
    assert set(result.outputs) == set(OUTPUTS)
    for name, values in result.outputs.items():
        assert values.dtype == np.float64 and values.shape == expected[name].shape
        np.testing.assert_array_equal(values, expected[name], err_msg=name)
    assert result.report.mode == "off" and not result.report.columns
    assert set(result.timing) >= {"inputs", "network", "conservation", "guards"}
    # the input matrix is reused, and the next step's numbers are the next step's
    buffer = coupler._buffer
    other = columns(seed=1)
    np.testing.assert_array_equal(coupler.step(other, DT).outputs["PHQ"],
                                  split(by_hand(model, other))["PHQ"])
    assert coupler._buffer is buffer


def test_pt2_program_gives_the_numbers_of_the_torchscript_file(model):
    cols = columns(ncol=9)
    pt = Coupler(model, host(), conservation="diagnose").step(cols, DT)
    pt2 = Coupler(model.with_suffix(".pt2"), host(), conservation="diagnose").step(cols, DT)
    for name, values in pt.outputs.items():
        scale = np.abs(values).max()
        assert np.abs(pt2.outputs[name] - values).max() <= 1e-6 * scale, name


def test_a_model_exported_from_a_training_runs_in_the_coupler(budget_store, tmp_path):  # noqa: F811
    """The real export's metadata (climnn export) fits a host described from the store."""
    config = train_config_from_dict(
        {"model": {"hidden_layers": 1, "width": 16}, "data": {"outputs": list(OUTPUTS)},
         "optimizer": {"epochs": 1, "batch_size": 64, "buffer_size": 256}}, "test")
    train(config, budget_store, tmp_path / "run", progress=False)
    path = export_model(tmp_path / "run", tmp_path / "model.pt", pt2=False)
    meta = read_metadata(path)
    ds = xr.open_zarr(budget_store, consolidated=False).isel(time=0)
    names = [v["name"] for v in meta["inputs"]]
    store_host = HostDescription(
        variables={n: VARIABLES[n].units for n in (*names, "PS", "SHF", "LHF")},
        hyai=ds["hyai"].values, hybi=ds["hybi"].values, p0=float(ds["P0"]), schema_version=1)
    cols = {n: ds[n].values.astype(np.float64) for n in (*names, "PS", "SHF", "LHF")}
    result = Coupler(path, store_host, conservation="enforce").step(cols, DT)
    x = np.concatenate([np.reshape(cols[n], (ds.sizes["column"], -1)) for n in names], axis=1)
    with torch.no_grad():
        expected = load_exported(path)(torch.from_numpy(x.astype(np.float32))).numpy()
    np.testing.assert_array_equal(result.outputs["FSNT"], expected[:, meta["outputs"][2]["start"]])


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("change, words", [
    ({"variables": {n: VARIABLES[n].units for n in INPUTS if n != "Q"}}, ["Q", "does not provide"]),
    ({"variables": {**{n: VARIABLES[n].units for n in INPUTS}, "T": "degC"}}, ["T", "'degC'"]),
    ({"hyai": np.linspace(0, 0.1, 8), "hybi": np.linspace(0, 1, 8)},
     ["model has 5 levels", "host 7"]),
    ({"hybi": HYBI + np.array([0, 0, 0.01, 0, 0, 0])}, ["hybi[2]"]),
    ({"p0": 101325.0}, ["P0"]),
    ({"schema_version": 2}, ["schema version"]),
    # two differences: the variable is named, not the levels
    ({"variables": {"T": "K"}, "hyai": np.linspace(0, 0.1, 8), "hybi": np.linspace(0, 1, 8)},
     ["Q", "does not provide"]),
])
def test_a_model_that_does_not_fit_the_host_is_refused_naming_the_first_difference(
        model, change, words):
    with pytest.raises(CouplerError) as caught:
        Coupler(model, host(**change))
    message = str(caught.value)
    assert str(model) in message and all(w in message for w in words), message


def test_budgets_from_the_host_need_its_surface_fluxes(model):
    plain = {n: VARIABLES[n].units for n in INPUTS}
    Coupler(model, host(variables=plain))  # off: no fluxes needed
    with pytest.raises(CouplerError, match="SHF"):
        Coupler(model, host(variables=plain), conservation="diagnose")


def test_a_model_without_the_budget_outputs_cannot_diagnose(tmp_path):
    torch.manual_seed(0)
    outs = ("TPHYSTND", "PHQ", "PRECT")
    net = SeedMLP(layout(INPUTS).size, 2 * NLEV + 1, 0)
    path = write_model(tmp_path / "m.pt", net, outputs=outs)
    with pytest.raises(CouplerError, match=r"lacks \['FSNT', 'FSNS', 'FLNT', 'FLNS'\]"):
        Coupler(path, host(), conservation="diagnose")


@pytest.mark.parametrize("damage", ["truncated", "zeroed middle", "not a zip", "missing"])
def test_a_corrupted_model_file_gives_one_message_naming_it(model, tmp_path, damage):
    path = tmp_path / "broken.pt"
    data = model.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "zeroed middle":
        middle = len(data) // 3
        path.write_bytes(data[:middle] + bytes(len(data) // 3) + data[2 * middle:])
    elif damage == "not a zip":
        path.write_text("model weights, honest\n")
    with pytest.raises(CouplerError) as caught:
        Coupler(path, host())
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_missing_or_misshapen_column_array_is_named(model):
    coupler = Coupler(model, host())
    cols = columns()
    with pytest.raises(CouplerError, match="lack SOLIN"):
        coupler.step({k: v for k, v in cols.items() if k != "SOLIN"}, DT)
    with pytest.raises(CouplerError, match=r"T has shape \(12, 4\)"):
        coupler.step({**cols, "T": cols["T"][:, :4]}, DT)


# --------------------------------------------------------------------------- budgets


def test_numpy_budgets_are_the_training_codes(model):
    rng = np.random.default_rng(3)
    fields = {n: rng.normal(size=(7, NLEV) if n in ("TPHYSTND", "PHQ") else 7)
              for n in (*OUTPUTS, "SHF", "LHF")}
    fields["PHQ"] *= 1e-3
    ps = 1e5 + rng.normal(size=7) * 1e3
    dp = layer_thickness(ps, HYAI, HYBI, 1e5)
    as_torch = {n: torch.tensor(v if v.ndim == 2 else v[:, None]) for n, v in fields.items()}
    for included in (True, False):
        energy, water = torch_budgets.budget_residuals(as_torch, torch.tensor(dp), included)
        np.testing.assert_allclose(energy_residual(fields, dp, included), energy.numpy(),
                                   rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(water_residual(fields, dp, included), water.numpy(),
                                   rtol=1e-12, atol=1e-15)


def test_diagnose_reports_the_residuals_and_their_summary(model):
    cols = columns(ncol=20, seed=4)
    rng = np.random.default_rng(5)
    area, lat, lon = rng.uniform(1, 3, 20), np.linspace(-80, 80, 20), np.linspace(0, 350, 20)
    result = Coupler(model, host(), conservation="diagnose").step(cols, DT, area=area, lat=lat,
                                                                  lon=lon)
    fields = {**result.outputs, "SHF": cols["SHF"], "LHF": cols["LHF"]}
    dp = layer_thickness(cols["PS"], HYAI, HYBI, 1e5)
    for name, expected in (("energy_residual", energy_residual(fields, dp, True)),
                           ("water_residual", water_residual(fields, dp, True))):
        # the fused kernels sum in another order than numpy: round-off of the terms
        np.testing.assert_allclose(result.report.columns[name], expected, rtol=0,
                                   atol=1e-12 * np.abs(expected).max())
        summary, worst = result.report.summaries[name], int(np.argmax(np.abs(expected)))
        assert summary.mean == pytest.approx(np.sum(area * expected) / area.sum(), rel=1e-12)
        assert summary.mean_abs == pytest.approx(np.sum(area * np.abs(expected)) / area.sum(),
                                                 rel=1e-12)
        assert summary.max_abs == pytest.approx(abs(expected[worst]), rel=1e-12)
        assert summary.where == worst and (summary.lat, summary.lon) == (lat[worst], lon[worst])
    assert result.report.summaries["energy_residual"].units == "W m-2"
    assert abs(result.report.summaries["energy_residual"].mean) > 1.0  # a random network


def assert_closed(out: dict, cols: dict) -> None:
    """Both budgets closed to round-off of their terms in every column, q + dt PHQ >= 0,
    PRECT >= 0."""
    fields = {**out, "SHF": cols["SHF"], "LHF": cols["LHF"]}
    dp = layer_thickness(cols["PS"], HYAI, HYBI, 1e5)
    heat = (np.abs(CP * out["TPHYSTND"] * dp) + np.abs(LV * out["PHQ"] * dp)).sum(1) / GRAVITY
    moist = np.abs(out["PHQ"] * dp).sum(1) / GRAVITY + np.abs(out["PRECT"]) + np.abs(
        cols["LHF"]) / LV
    boundary = np.abs(cols["SHF"]) + np.abs(cols["LHF"]) + sum(np.abs(out[n]) for n in OUTPUTS[2:6])
    assert np.all(np.abs(energy_residual(fields, dp, True)) <= 1e-13 * (heat + boundary))
    assert np.all(np.abs(water_residual(fields, dp, True)) <= 1e-13 * moist)
    assert np.all(cols["Q"] + DT * out["PHQ"] >= -1e-15) and np.all(out["PRECT"] >= 0)


@pytest.mark.parametrize("seed", range(4))
def test_enforce_closes_both_budgets_in_every_column(model, tmp_path, seed):
    path = model if seed == 0 else write_model(tmp_path / "m.pt", random_net(seed, seed % 3))
    cols = columns(ncol=64, seed=seed)
    diagnosed = Coupler(path, host(), conservation="diagnose").step(cols, DT)
    result = Coupler(path, host(), conservation="enforce").step(cols, DT)
    out, report = result.outputs, result.report
    assert_closed(out, cols)
    # the fixes did something and are in the residuals' units
    assert report.summaries["negative_humidity_fix"].max_abs > 0
    np.testing.assert_array_equal(report.columns["energy_residual"],
                                  diagnosed.report.columns["energy_residual"])
    np.testing.assert_allclose(report.columns["water_fix"],
                               report.columns["water_residual"]
                               + report.columns["negative_humidity_fix"], rtol=1e-12, atol=1e-18)
    assert report.summaries["energy_fix"].units == "W m-2"
    # radiation is the network's: the fixes touch only TPHYSTND, PHQ, PRECT
    np.testing.assert_array_equal(out["FSNT"], diagnosed.outputs["FSNT"])


def test_enforce_sets_precipitation_to_zero_where_it_would_be_negative(model):
    cols = columns(ncol=64, seed=0)
    cols["LHF"] = np.full(64, -50.0)  # dew: the surface takes water up
    result = Coupler(model, host(), conservation="enforce").step(cols, DT)
    assert result.report.precipitation_clipped > 0
    assert_closed(result.outputs, cols)  # the moistening reduced instead, q kept >= 0


@pytest.mark.parametrize("fused", [True, False])
def test_enforce_keeps_the_humidity_the_host_passes_non_negative(model, fused):
    """``humidity``: a host that moistens besides the network passes q after its own
    moistening; the negative-humidity fix then keeps that + dt PHQ >= 0 (and acts less
    than from the bare Q when the host's moistening is positive), the budgets closed."""
    cols = columns(ncol=64, seed=0)
    extra = np.full_like(cols["Q"], 2e-8)  # kg kg-1 s-1 of the host's own, everywhere
    wetter = cols["Q"] + DT * extra
    coupler = Coupler(model, host(), conservation="enforce")
    coupler.fused = fused
    bare = coupler.step(cols, DT)
    floored = coupler.step(cols, DT, humidity=wetter)
    assert np.all(wetter + DT * floored.outputs["PHQ"] >= -1e-15)
    fixes = [r.report.summaries["negative_humidity_fix"].mean for r in (bare, floored)]
    assert 0 <= fixes[1] < fixes[0]
    assert_closed(floored.outputs, cols | {"Q": wetter})
    with pytest.raises(CouplerError, match=r"humidity has shape \(64, 3\)"):
        coupler.step(cols, DT, humidity=cols["Q"][:, :3])


# --------------------------------------------------------------------------- guards


class NaNWhereCold(torch.nn.Module):
    """A network that returns NaN for the columns whose top temperature is below 200 K."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, z):
        return self.net(z) + torch.log(z[:, :1] * 30.0 + 250.0 - 200.0)  # T from z


def test_a_model_returning_nan_stops_the_step_naming_where(tmp_path):
    path = write_model(tmp_path / "nan.pt", NaNWhereCold(random_net(0)))
    cols = columns()
    cols["T"][7, 0] = 190.0
    lat, lon = np.linspace(-60, 60, 12), np.linspace(0, 330, 12)
    with pytest.raises(GuardError) as caught:
        Coupler(path, host(), conservation="enforce").step(cols, DT, lat=lat, lon=lon)
    error = caught.value
    assert (error.variable, error.side, error.column, error.level) == ("TPHYSTND", "output", 7, 0)
    assert np.isnan(error.value) and isinstance(error, CouplerError)
    assert f"lat {lat[7]:.2f}" in str(error) and "level 0" in str(error) and "nan" in str(error)


def test_non_finite_and_out_of_bounds_inputs_and_outputs_are_named(model):
    coupler = Coupler(model, host(), bounds={"T": (150.0, 350.0), "PRECT": (0.0, 1.0)})
    cols = columns()
    cols["Q"][3, 2] = np.inf
    with pytest.raises(GuardError, match=r"input Q at column 3, level 2: inf is not finite"):
        coupler.step(cols, DT)
    cols = columns()
    cols["T"][5, 4] = 351.0
    with pytest.raises(GuardError, match=r"input T at column 5, level 4: 351.0 is outside"):
        coupler.step(cols, DT)
    with pytest.raises(GuardError, match=r"output PRECT at column \d+: .* outside the bounds"):
        coupler.step(columns(), DT)  # a random network precipitates negatively somewhere
    with pytest.raises(CouplerError, match="bounds: Z is neither"):
        Coupler(model, host(), bounds={"Z": (0, 1)})
    with pytest.raises(CouplerError, match="dt must be a positive"):
        coupler.step(columns(), 0.0)


def test_finite_values_whose_sum_overflows_pass_the_guard():
    check_arrays({"T": np.array([1e308, 1e308])}, "input", None, None, None)
    with pytest.raises(GuardError, match="column 1"):
        check_arrays({"T": np.array([1e308, np.nan])}, "input", None, None, None)


# --------------------------------------------------------------------------- fused kernels


@pytest.mark.parametrize("mode", ["off", "diagnose", "enforce"])
@pytest.mark.parametrize("dew", [False, True])
def test_the_fused_kernels_give_the_plain_numpy_numbers(model, mode, dew):
    """climnn.coupler.fused against the plain numpy step (Coupler.fused = False): outputs,
    residuals, fixes and clipped columns, to round-off (sums run in another order)."""
    cols = columns(ncol=256, seed=3)
    if dew:
        cols["LHF"][::3] = -50.0  # precipitation clipped in those columns
    fused, plain = Coupler(model, host(), conservation=mode), Coupler(model, host(),
                                                                      conservation=mode)
    plain.fused = False
    a, b = fused.step(cols, DT), plain.step(cols, DT)
    assert sorted(a.outputs) == sorted(b.outputs)
    for name in a.outputs:
        scale = np.abs(b.outputs[name]).max()
        np.testing.assert_allclose(a.outputs[name], b.outputs[name], rtol=0,
                                   atol=1e-13 * scale, err_msg=name)
    assert sorted(a.report.columns) == sorted(b.report.columns)
    for name in a.report.columns:
        scale = np.abs(b.report.columns[name]).max() + 1e-300
        np.testing.assert_allclose(a.report.columns[name], b.report.columns[name], rtol=0,
                                   atol=1e-11 * scale, err_msg=name)
    assert a.report.precipitation_clipped == b.report.precipitation_clipped
    if mode == "enforce":
        assert_closed(a.outputs, cols)
        assert a.report.precipitation_clipped > 0 or not dew


@pytest.mark.parametrize("fused", [True, False])
def test_the_guards_name_the_same_place_fused_or_plain(model, fused):
    coupler = Coupler(model, host(), conservation="enforce",
                      bounds={"T": (150.0, 350.0), "TPHYSTND": (-1.0, 1.0)})
    coupler.fused = fused
    cols = columns()
    cols["T"][4, 1] = np.nan
    with pytest.raises(GuardError, match=r"input T at column 4, level 1: nan is not finite"):
        coupler.step(cols, DT)
    cols = columns()
    cols["SHF"][6] = -np.inf  # a host field that is not an input of the network
    with pytest.raises(GuardError, match=r"input SHF at column 6: -inf is not finite"):
        coupler.step(cols, DT)
    coupler.bounds["TPHYSTND"] = (-1e-9, 1e-9)
    with pytest.raises(GuardError, match=r"output TPHYSTND at column \d+, level \d+: .* "
                                         r"outside the bounds"):
        coupler.step(columns(), DT)


def level_major(cols: dict) -> dict:
    """The same columns as (ncol, nlev) views of level-major memory, as gcm passes them."""
    return {n: np.ascontiguousarray(v.T).T if v.ndim == 2 else v for n, v in cols.items()}


@pytest.mark.parametrize("mode", ["diagnose", "enforce"])
def test_level_major_columns_give_the_numbers_of_row_major_ones(model, mode):
    """Level-major host columns fill a feature-major input matrix (climnn.coupler.coupler);
    the network's outputs and the residuals must be those of row-major columns bit for bit
    (the fixes read q in its layout: their sums may vectorize otherwise, so to round-off),
    and still the plain step's to round-off."""
    cols = columns(ncol=200, seed=5)
    cols["LHF"][::4] = -50.0
    fused_coupler = Coupler(model, host(), conservation=mode)
    rows, views = fused_coupler.step(cols, DT), fused_coupler.step(level_major(cols), DT)
    assert fused_coupler._buffer.flags.f_contiguous  # the feature-major matrix was used
    for name in rows.outputs:
        same = np.array_equal(rows.outputs[name], views.outputs[name])
        assert same or (mode == "enforce" and np.allclose(
            rows.outputs[name], views.outputs[name], rtol=0,
            atol=1e-13 * np.abs(rows.outputs[name]).max())), name
    for name in ("energy_residual", "water_residual"):
        assert np.array_equal(rows.report.columns[name], views.report.columns[name]), name
    plain = Coupler(model, host(), conservation=mode)
    plain.fused = False
    reference = plain.step(cols, DT)
    for name in rows.outputs:
        scale = np.abs(reference.outputs[name]).max()
        np.testing.assert_allclose(views.outputs[name], reference.outputs[name], rtol=0,
                                   atol=1e-13 * scale, err_msg=name)


def test_the_summaries_kernel_gives_the_numpy_summaries(model):
    """The output kernel sums the report's figures a block at a time and adds the blocks:
    over three blocks (the last cut short) they are numpy's to round-off, and the largest
    value's column is numpy's argmax."""
    from climnn.coupler.output_blocks import BLOCK

    ncol = 2 * BLOCK + 5
    cols = columns(ncol=ncol, seed=2)
    area = np.random.default_rng(1).uniform(0.5, 2.0, ncol)
    fused_coupler, plain = (Coupler(model, host(), conservation="enforce") for _ in range(2))
    plain.fused = False
    a = fused_coupler.step(cols, DT, area=area).report.summaries
    b = plain.step(cols, DT, area=area).report.summaries
    for name, summary in b.items():
        assert a[name].where == summary.where and a[name].units == summary.units
        for figure in ("mean", "mean_abs", "max_abs"):
            assert np.isclose(getattr(a[name], figure), getattr(summary, figure), rtol=1e-10,
                              atol=1e-12 * summary.max_abs), (name, figure)


def test_without_conservation_the_host_need_not_pass_surface_pressure(tmp_path):
    """PS is needed for the budgets' layer thicknesses only: a model without it as an
    input runs with conservation off without it, and diagnose names it when missing."""
    inputs = ("T", "Q", "V", "SOLIN", "SHFLX", "LHFLX")
    torch.manual_seed(0)
    path = write_model(tmp_path / "no_ps.pt", SeedMLP(layout(inputs).size,
                                                       layout(OUTPUTS).size, 1, 8), inputs)
    cols = columns()
    cols.pop("PS")
    assert Coupler(path, host(), conservation="off").step(cols, DT).outputs["PHQ"].shape == (
        12, NLEV)
    with pytest.raises(CouplerError, match="the columns lack PS"):
        Coupler(path, host(), conservation="diagnose").step(cols, DT)


def test_the_dissipation_kernel_is_the_einsum():
    from climnn.coupler.fused import dissipation

    rng = np.random.default_rng(4)
    u, v, du, dv = (rng.normal(0, s, (30, NLEV)) for s in (10, 10, 1e-4, 1e-4))
    p_half = np.cumsum(rng.uniform(1e3, 3e4, (30, NLEV + 1)), axis=1)
    expected = -np.einsum("ij,ij->i", u * du + v * dv, np.diff(p_half, axis=1)) / GRAVITY
    for arrays in ((u, v, du, dv, p_half), tuple(np.asfortranarray(x) for x in
                                                   (u, v, du, dv, p_half))):
        out = np.empty(30)
        dissipation(*arrays, out)
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14 * np.abs(expected).max())


@pytest.mark.parametrize("mode", ["diagnose", "enforce"])
def test_the_output_blocks_kernel_gives_the_plain_numbers_over_a_partial_last_block(
        model, mode):
    """climnn.coupler.output_blocks works in blocks of BLOCK columns: with a last block
    cut short and clipped columns in every block, outputs, residuals and fixes are the
    plain numpy step's to round-off, and the profiles come back as views of level-major
    memory (the GCM scatters them without a copy)."""
    from climnn.coupler.output_blocks import BLOCK

    ncol = 2 * BLOCK + 5
    cols = level_major(columns(ncol=ncol, seed=7))
    cols["LHF"][::5] = -50.0
    fused_coupler, plain = Coupler(model, host(), conservation=mode), Coupler(
        model, host(), conservation=mode)
    plain.fused = False
    a, b = fused_coupler.step(cols, DT), plain.step(cols, DT)
    assert a.outputs["TPHYSTND"].T.flags.c_contiguous and a.outputs["PHQ"].shape == (ncol, NLEV)
    for name in b.outputs:
        np.testing.assert_allclose(a.outputs[name], b.outputs[name], rtol=0,
                                   atol=1e-13 * np.abs(b.outputs[name]).max(), err_msg=name)
    for name in b.report.columns:
        np.testing.assert_allclose(a.report.columns[name], b.report.columns[name], rtol=0,
                                   atol=1e-11 * np.abs(b.report.columns[name]).max(),
                                   err_msg=name)
    if mode == "enforce":
        assert a.report.precipitation_clipped == b.report.precipitation_clipped > 2
        assert_closed(a.outputs, cols)


def test_the_output_blocks_kernel_gives_the_same_bits_on_one_thread_or_two(model):
    """The blocks are shared by numba's threads, one run of blocks a thread; each block's
    numbers depend on that block alone, so the outputs, residuals, fixes and counts are the
    same bits whatever the thread count (2 blocks and a partial third, dew in each)."""
    import numba

    from climnn.coupler.output_blocks import BLOCK

    cols = level_major(columns(ncol=2 * BLOCK + 9, seed=8))
    cols["LHF"][::7] = -50.0
    coupler = Coupler(model, host(), conservation="enforce")
    kept = numba.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            results.append(coupler.step(cols, DT))
    finally:
        numba.set_num_threads(kept)
    one, two = results
    assert one.report.precipitation_clipped == two.report.precipitation_clipped > 2
    for name in one.outputs:
        assert np.array_equal(one.outputs[name], two.outputs[name]), name
    for name in one.report.columns:
        assert np.array_equal(one.report.columns[name], two.report.columns[name]), name
        assert one.report.summaries[name] == two.report.summaries[name], name
