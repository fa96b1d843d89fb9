"""Offline stability analysis (issue 14): the Jacobian by autograd is the finite
differences of the exported file; dry gravity waves follow the hydrostatic dispersion
relation; a network built with a positive feedback is flagged unstable and a damping one
passes; bad input ends with one message."""

import json

import numpy as np
import pytest
import torch
from test_data_schema import make_dataset

from climnn.cli import main
from climnn.data import VARIABLES, write_store
from climnn.data.loader import VectorLayout
from climnn.diagnostics.gravity_wave_coupling import BaseState, wave_operator, wave_spectrum
from climnn.diagnostics.stability_analysis import DifferentiableModel, column_jacobian
from climnn.export import METADATA_FILE
from climnn.export.fused import fused_available
from climnn.export.metadata import FORMAT, FORMAT_VERSION, variables
from climnn.export.physical import PhysicalModel, for_inference
from climnn.export.quiet import torchscript_quiet
from climnn.export.writer import to_torchscript
from climnn.models.seed_mlp import SeedMLP
from gcm.constants import CP, GRAVITY, LV, RD

NLEV = 5  # make_dataset's sigma levels
SIGMA_I = np.linspace(0.0, 1.0, NLEV + 1)
SIGMA = 0.5 * (SIGMA_I[1:] + SIGMA_I[:-1])
INPUTS, OUTPUTS = ("T", "Q", "PS"), ("TPHYSTND", "PHQ")
DAY = 86400.0


def layout(names, shift: dict, scale: dict) -> VectorLayout:
    levels = tuple(NLEV if VARIABLES[n].dims[-1] == "lev" else 1 for n in names)
    pairs = list(zip(names, levels, strict=True))
    shifts = np.concatenate([np.broadcast_to(shift[n], (k,)) for n, k in pairs])
    factors = np.concatenate([np.full(k, 1.0 / scale[n]) for n, k in pairs])
    return VectorLayout(tuple(names), levels, tuple(VARIABLES[n].units for n in names),
                        shifts, factors)


#: about make_dataset's columns: T = 200 + 90 sigma K, q ~ 1e-3 sigma
IN = layout(INPUTS, {"T": 200.0 + 90.0 * SIGMA, "Q": 4e-4 * SIGMA, "PS": 1e5},
            {"T": 30.0, "Q": 1e-3, "PS": 1e3})
OUT = layout(OUTPUTS, {"TPHYSTND": 0.0, "PHQ": 0.0}, {"TPHYSTND": 1.0 / CP, "PHQ": 1.0 / LV})


def write_model(path, net, inputs: VectorLayout | None = None) -> str:
    """An exported-model file of ``net`` (normalized vectors), with the metadata the
    loader reads (climnn.coupler.model_file); ``inputs``: its input layout (IN)."""
    inputs = IN if inputs is None else inputs
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "inputs": variables(inputs),
            "outputs": variables(OUT), "n_in": inputs.size, "n_out": OUT.size, "levels": NLEV,
            "vertical": {"hyai": [0.0] * (NLEV + 1), "hybi": SIGMA_I.tolist(), "P0": 1e5},
            "data": {"schema_version": 1, "resolution": "T21L5"}, "precision": "float32"}
    model = PhysicalModel(net, inputs, OUT).eval().requires_grad_(False)
    with torchscript_quiet():
        torch.jit.save(to_torchscript(model, torch.zeros(3, inputs.size)), str(path),
                       _extra_files={METADATA_FILE: json.dumps(meta)})
    return str(path)


class Feedback(torch.nn.Module):
    """Heating (T - T_ref) rate and moistening (q - q_ref) rate per level, saturating
    (tanh) far from the reference: on the normalized vectors, with ``rate`` in 1/s."""

    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate

    def forward(self, z):
        t, q = z[:, :NLEV], z[:, NLEV: 2 * NLEV]
        scale_t, scale_q = 1.0 / IN.factor[0], 1.0 / IN.factor[NLEV]
        heating = self.rate * scale_t * 3.0 * torch.tanh(t / 3.0)  # K/s
        moistening = self.rate * scale_q * 3.0 * torch.tanh(q / 3.0)  # kg/kg/s
        return torch.cat([heating * CP, moistening * LV], dim=1)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return str(write_store(make_dataset(ntime=4, ncol=24), tmp_path_factory.mktemp("s") / "s.zarr"))


def run_stability(model, store, out) -> dict:
    assert main(["stability", model, "--data", store, "--out", str(out)]) == 0
    assert (out / "stability.png").stat().st_size > 0
    return json.loads((out / "stability.json").read_text())


# --------------------------------------------------------------------------- Jacobian


def test_the_jacobian_by_autograd_is_the_finite_differences_of_the_file(tmp_path):
    """Through oneDNN's fused layers where this torch has them (which have no autograd of
    their own: the replay's reason to exist)."""
    torch.manual_seed(0)
    net = for_inference(SeedMLP(IN.size, OUT.size, 2, 16, activation="tanh"), "float32",
                        fused_available())
    model = DifferentiableModel(write_model(tmp_path / "m.pt", net))
    x = IN.shift.copy()
    jac = column_jacobian(model, x).matrix
    steps = np.concatenate([np.full(NLEV, 0.05), np.full(NLEV, 2e-6)])  # K, kg/kg
    numeric = np.empty_like(jac)
    for j, h in enumerate(steps):
        up, down = x.copy(), x.copy()
        up[j], down[j] = x[j] + h, x[j] - h
        with torch.no_grad():
            y = model.module(torch.tensor(np.stack([up, down]), dtype=torch.float32)).double()
        numeric[:, j] = (y[0] - y[1]).numpy()[: 2 * NLEV] / (2 * h)
    for rows in (slice(0, NLEV), slice(NLEV, 2 * NLEV)):  # heating, moistening blocks
        for cols in (slice(0, NLEV), slice(NLEV, 2 * NLEV)):
            block, scale = numeric[rows, cols], np.abs(numeric[rows, cols]).max()
            assert scale > 0
            np.testing.assert_allclose(jac[rows, cols], block, atol=2e-3 * scale)


# --------------------------------------------------------------------------- dry waves


def isothermal(levels: int, t0=250.0, p_top=1e4, p_surface=1e5) -> BaseState:
    edges = np.linspace(np.log(p_top), np.log(p_surface), levels + 1)
    p = np.exp(0.5 * (edges[1:] + edges[:-1]))
    return BaseState(p, p_top, p_surface, np.full(levels, t0), np.zeros(levels))


def test_dry_waves_are_neutral_with_the_hydrostatic_dispersion_relation():
    """ω = N k / (m² + 1/4H²)^½ for the first three vertical modes between lids at 100
    and 1000 hPa. The three-point second difference is second order: 25 levels are within
    1 % (measured 0.14, 0.31, 0.60 %) and 50 levels four times closer."""
    t0, k = 250.0, 2 * np.pi / 1e6
    n2, h = GRAVITY**2 / (CP * t0), RD * t0 / GRAVITY
    m = np.arange(1, 4) * np.pi / (h * np.log(10.0))
    exact = np.sqrt(n2) * k / np.sqrt(m**2 + 0.25 / h**2)
    errors = []
    for levels in (25, 50):
        values = np.linalg.eigvals(wave_operator(isothermal(levels, t0), k))
        assert np.abs(values.real).max() < 1e-12 * np.abs(values.imag).max()
        frequencies = np.unique(np.abs(values.imag).round(15))[::-1][:3]
        errors.append(np.abs(frequencies / exact - 1))
    assert errors[0].max() < 0.01
    assert np.all(errors[0] / errors[1] > 3.5)


def test_a_damping_network_damps_every_wave():
    base = isothermal(25)
    damping = -np.eye(50) / DAY
    spectrum = wave_spectrum(base, damping)
    assert spectrum.growth_per_day.max() <= 1e-9
    assert spectrum.eigenvalues.real.max() < 0


# --------------------------------------------------------------------------- verdicts


def test_a_positive_feedback_is_unstable_and_a_damping_network_stable(store, tmp_path):
    unstable = run_stability(write_model(tmp_path / "up.pt", Feedback(1.0 / DAY)), store,
                             tmp_path / "up")
    assert unstable["verdict"] == "unstable"
    assert unstable["tropics_column_growing_modes"] == 2 * NLEV
    assert unstable["tropics_column_growth_per_day"] == pytest.approx(1.0, rel=0.05)
    assert unstable["worst_growth_per_day"] >= 0.95
    for variable in ("temperature", "humidity"):  # a bump grows at the feedback's rate
        key = f"tropics_zigzag_{variable}_growth_per_day"
        assert unstable[key] == pytest.approx(1.0, rel=0.05)
        assert 0 < unstable[f"tropics_zigzag_{variable}_sigma"] < 1
    stable = run_stability(write_model(tmp_path / "down.pt", Feedback(-1.0 / DAY)), store,
                           tmp_path / "down")
    assert stable["verdict"] == "stable"
    assert stable["tropics_column_growing_modes"] == 0
    assert stable["worst_growth_per_day"] <= 0.0
    assert stable["polar_zigzag_temperature_growth_per_day"] == pytest.approx(-1.0, rel=0.05)


def test_the_boundary_layer_drying_feedback_is_the_networks_response(store, tmp_path):
    """Feedback(rate) moistens the lowest level (σ 0.9, the only one below 0.85) by
    rate x 3 s_q tanh((q - q_ref) / (3 s_q)): with q scaled to 0.4 q a damping network
    (rate < 0) moistens more (feedback > 0), one with a positive feedback dries harder,
    each by that formula at the band's mean column."""
    from climnn.data import validate_store
    from climnn.diagnostics.stability_analysis import representative_columns

    up = run_stability(write_model(tmp_path / "up.pt", Feedback(1.0 / DAY)), store,
                       tmp_path / "up")
    down = run_stability(write_model(tmp_path / "down.pt", Feedback(-1.0 / DAY)), store,
                         tmp_path / "down")
    ds = validate_store(store, require_outputs=False, check_values=False)
    column = representative_columns(ds, DifferentiableModel(tmp_path / "up.pt").metadata)[0]
    assert column.name == "tropics"
    q = column.x[NLEV + NLEV - 1]  # Q's lowest level
    scale, ref = 1.0 / IN.factor[NLEV], IN.shift[2 * NLEV - 1]

    def moistening(factor, rate):  # g/kg/day
        return rate * 3.0 * scale * np.tanh((factor * q - ref) / (3.0 * scale)) * DAY * 1e3

    for result, rate in ((up, 1.0 / DAY), (down, -1.0 / DAY)):
        expected = moistening(0.4, rate) - moistening(1.0, rate)
        assert result["tropics_boundary_layer_drying_feedback"] == pytest.approx(
            expected, rel=1e-4)
    assert up["worst_boundary_layer_drying_feedback"] < 0 < down[
        "tropics_boundary_layer_drying_feedback"]


class Evaporating(torch.nn.Module):
    """Moistens the lowest level by its share of the input LHFLX, g LHFLX / (Lv dp), and
    does nothing else: on the normalized vectors of EVAP_IN."""

    def __init__(self, dp: float):
        super().__init__()
        self.dp = dp

    def forward(self, z):
        lhflx = z[:, -1:] / float(EVAP_IN.factor[-1]) + float(EVAP_IN.shift[-1])  # W m-2
        out = torch.zeros(z.shape[0], OUT.size)
        out[:, -1:] = GRAVITY * lhflx / self.dp  # x Lv / Lv: PHQ in energy units
        return out


EVAP_IN = layout(("T", "Q", "PS", "SST", "LHFLX"),
                 {"T": 200.0 + 90.0 * SIGMA, "Q": 4e-4 * SIGMA, "PS": 1e5, "SST": 295.0,
                  "LHFLX": 50.0}, {"T": 30.0, "Q": 1e-3, "PS": 1e3, "SST": 5.0, "LHFLX": 50.0})


def test_a_network_fed_the_hosts_evaporation_gets_the_bulk_formulas_answer(store, tmp_path):
    """The drying check scales LHFLX by (q_s(SST) - 0.4 q) / (q_s - q) for a drier lowest
    level: a network that only deposits the host's evaporation moistens it more."""
    from climnn.data import validate_store
    from climnn.diagnostics.stability_analysis import representative_columns
    from gcm.physics.saturation import saturation_specific_humidity

    dp = 2e4  # Pa: make_dataset's lowest layer, sigma 0.8-1 of 1e5
    path = write_model(tmp_path / "evap.pt", Evaporating(dp), EVAP_IN)
    result = run_stability(path, store, tmp_path / "evap")
    ds = validate_store(store, require_outputs=False, check_values=False)
    column = representative_columns(ds, DifferentiableModel(path).metadata)[0]
    x = dict(zip(EVAP_IN.names, (column.x[s] for s in EVAP_IN.slices.values()), strict=True))
    qs = saturation_specific_humidity(x["SST"][0], x["PS"][0])
    q = x["Q"][-1]
    lhflx = x["LHFLX"][0]
    expected = GRAVITY * lhflx * ((qs - 0.4 * q) / (qs - q) - 1.0) / (LV * dp) * DAY * 1e3
    assert expected > 0
    assert result["tropics_boundary_layer_drying_feedback"] == pytest.approx(expected, rel=1e-4)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("case", ["missing model", "not a model", "other levels",
                                  "missing store"])
def test_bad_input_ends_with_one_message_and_writes_nothing(case, store, tmp_path, capsys):
    model = write_model(tmp_path / "m.pt", Feedback(-1.0 / DAY))
    data, named = store, model
    if case == "missing model":
        model = named = str(tmp_path / "absent.pt")
    elif case == "not a model":
        (tmp_path / "text.pt").write_text("hello\n")
        model = named = str(tmp_path / "text.pt")
    elif case == "other levels":
        data = named = str(write_store(make_dataset(ntime=2, ncol=6, nlev=4),
                                       tmp_path / "four.zarr"))
    else:
        data = named = str(tmp_path / "absent.zarr")
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["stability", model, "--data", data, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("climnn: error:") and named in err[0]
    assert not out.exists()
