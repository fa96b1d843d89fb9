"""The ``network`` physics scheme: an exported network as gcm's column physics through the
coupler (climnn.coupler.network_scheme).

The networks here are written by hand: a linear layer between the export's normalization
and its inverse (climnn.export.physical.PhysicalModel) whose weights make it Newtonian
relaxation of temperature, dT/dt = (T_eq - T) / tau, with T_eq in the normalization's
shift, so that the same relaxation written as an ordinary gcm scheme is its reference.
"""

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

torch = pytest.importorskip("torch")

from climnn.coupler.network_scheme import NetworkScheme  # noqa: E402
from climnn.data.loader import VectorLayout  # noqa: E402
from climnn.export.metadata import FORMAT, FORMAT_VERSION, METADATA_FILE, variables  # noqa: E402
from climnn.export.physical import PhysicalModel  # noqa: E402
from climnn.export.quiet import torchscript_quiet  # noqa: E402
from climnn.export.writer import to_torchscript  # noqa: E402
from gcm.blow_up import ModelBlowUpError  # noqa: E402
from gcm.model import Model  # noqa: E402
from gcm.physics import registry  # noqa: E402
from gcm.physics.boundary_layer import BoundaryLayer  # noqa: E402
from gcm.physics.budgets import energy_residual, energy_scale, water_residual, water_scale  # noqa: E402
from gcm.physics.column import ColumnScheme, ColumnTendencies  # noqa: E402
from gcm.physics.registry import build_scheme, register_scheme  # noqa: E402
from gcm.physics.surface_fluxes import SurfaceFluxes  # noqa: E402
from gcm.physics.testing import realistic_columns  # noqa: E402
from gcm.simulation import Simulation  # noqa: E402
from gcm.timing import StepTimer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
INPUTS = (("T", "K"), ("Q", "kg kg-1"), ("V", "m s-1"), ("PS", "Pa"), ("SOLIN", "W m-2"),
          ("SHFLX", "W m-2"), ("LHFLX", "W m-2"))
OUTPUTS = (("TPHYSTND", "K s-1"), ("PHQ", "kg kg-1 s-1"), ("FSNT", "W m-2"),
           ("FSNS", "W m-2"), ("FLNT", "W m-2"), ("FLNS", "W m-2"), ("PRECT", "kg m-2 s-1"))
PROFILES = ("T", "Q", "V", "TPHYSTND", "PHQ")
TAU = 86400.0  # s, the relaxation time


def layout(pairs, nlev: int, shift=None) -> VectorLayout:
    levels = tuple(nlev if name in PROFILES else 1 for name, _ in pairs)
    size = sum(levels)
    return VectorLayout(tuple(n for n, _ in pairs), levels, tuple(u for _, u in pairs),
                        np.zeros(size) if shift is None else shift, np.ones(size))


def write_relaxation_model(path: Path, sigma_half: np.ndarray, t_eq: np.ndarray,
                           nan_level: int | None = None, shflx_heating: float = 0.0,
                           fluxes: tuple[float, float] | None = None,
                           timestep: float | None = None,
                           convention: str = "included") -> Path:
    """An exported model (the file layout of climnn export) of TPHYSTND = (T_eq - T) / tau
    on levels ``sigma_half``, plus ``shflx_heating`` (K s-1 per W m-2) times SHFLX at the
    lowest level; all other outputs 0, or TPHYSTND NaN at ``nan_level``. With ``fluxes``
    (SHF, LHF in W m-2) it also predicts those constant surface fluxes."""
    nlev = t_eq.size
    shift = np.zeros(sum(nlev if n in PROFILES else 1 for n, _ in INPUTS))
    shift[:nlev] = t_eq  # normalized T = T - T_eq: the relaxation's own variable
    names = OUTPUTS + ((("SHF", "W m-2"), ("LHF", "W m-2")) if fluxes else ())
    inputs, outputs = layout(INPUTS, nlev, shift), layout(names, nlev)
    net = torch.nn.Linear(inputs.size, outputs.size)
    with torch.no_grad():
        net.weight.zero_()
        net.bias.zero_()
        net.weight[:nlev, :nlev] = -torch.eye(nlev) / TAU
        net.weight[nlev - 1, inputs.slices["SHFLX"]] = shflx_heating
        if nan_level is not None:
            net.bias[nan_level] = float("nan")
        if fluxes:
            net.bias[outputs.slices["SHF"]] = fluxes[0]
            net.bias[outputs.slices["LHF"]] = fluxes[1]
    module = PhysicalModel(net, inputs, outputs).eval().requires_grad_(False)
    scripted = to_torchscript(module, torch.tensor(np.tile(shift, (3, 1)), dtype=torch.float32))
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION,
            "inputs": variables(inputs), "outputs": variables(outputs),
            "n_in": inputs.size, "n_out": outputs.size, "levels": nlev,
            "vertical": {"hyai": [0.0] * (nlev + 1), "hybi": sigma_half.tolist(),
                         "P0": 100000.0},
            "data": {"schema_version": 1, "surface_flux_convention": convention,
                     **({"timestep_seconds": timestep} if timestep else {})}}
    with torchscript_quiet():
        torch.jit.save(scripted, str(path), _extra_files={METADATA_FILE: json.dumps(meta)})
    return path


class Relaxation(ColumnScheme):
    """The reference: the same relaxation in float64, and the momentum drag the network
    scheme documents (bulk surface stress, then the boundary layer's momentum diffusion
    of the columns after it)."""

    name = "relaxation"
    closes_budgets = False

    def __init__(self, t_eq: np.ndarray):
        self.t_eq = t_eq
        self.surface, self.boundary_layer = SurfaceFluxes(), BoundaryLayer()

    def __call__(self, columns, dt):
        from dataclasses import replace

        surface = self.surface(columns, dt)
        after = replace(columns, **{f: getattr(columns, f) + dt * getattr(surface, f)
                                    for f in ("temperature", "humidity", "u", "v")})
        drag = self.boundary_layer(after, dt)
        out = ColumnTendencies.zeros(columns.ncol, columns.nlev)
        out.temperature[:] = (self.t_eq - columns.temperature) / TAU
        out.u[:], out.v[:] = surface.u + drag.u, surface.v + drag.v
        return out


def small(make_config):
    return make_config("rest", truncation=21, levels=5, scheme="held_suarez",
                       perturbation=1.0, step_minutes=60.0)


@pytest.fixture
def setup(make_config, tmp_path):
    """(config, T_eq (nlev,) K, the relaxation model's path) for the small model."""
    cfg = small(make_config)
    sigma_half = Model(cfg).sigma.half
    t_eq = np.linspace(210.0, 300.0, cfg.resolution.levels)
    return cfg, t_eq, write_relaxation_model(tmp_path / "relax.pt", sigma_half, t_eq)


def recorded(scheme):
    """``scheme`` with each call's tendencies kept in ``.calls``."""
    calls = []

    def wrapper(columns, dt):
        out = scheme(columns, dt)
        calls.append(ColumnTendencies(**{k: np.array(v) for k, v in vars(out).items()}))
        return out

    wrapper.calls, wrapper.scheme = calls, scheme
    return wrapper


def test_a_relaxation_network_matches_the_relaxation_scheme_step_for_step(setup):
    cfg, t_eq, path = setup
    network = NetworkScheme(model=str(path), conservation="diagnose")
    net_model = Model(cfg, physics=network)
    ref_model = Model(cfg, physics=Relaxation(t_eq))
    timer = net_model.timer = StepTimer()
    net_model.physics, ref_model.physics = recorded(network), recorded(ref_model.physics)
    net_calls, ref_calls = net_model.physics.calls, ref_model.physics.calls
    for _ in range(6):
        net_model.step()
        ref_model.step()
        a, b = net_calls[-1], ref_calls[-1]
        # float32 round-off of the inputs and of the network's arithmetic: a few eps32 of
        # T / tau, against tendencies of order (T_eq - T) / tau ~ 10-60 K / tau
        tolerance = 8 * np.finfo(np.float32).eps * 320.0 / TAU
        assert np.abs(a.temperature - b.temperature).max() <= tolerance
        assert np.abs(b.temperature).max() > 1000 * tolerance
        np.testing.assert_allclose(a.u, b.u, rtol=1e-9, atol=1e-12)
        assert np.all(a.humidity == 0.0) and np.all(a.precipitation == 0.0)
    assert np.abs(net_calls[-1].u).max() > 0.0  # the drag acted
    drift = np.abs(net_model.grid_state()["T"] - ref_model.grid_state()["T"]).max()
    assert drift < 1e-5  # K after 6 steps: round-off, not a different scheme
    for section in ("physics_inputs", "physics_network", "physics_conservation",
                    "physics_outputs", "physics_surface_fluxes", "physics_boundary_layer"):
        assert timer.calls[section] >= 6 and timer.seconds[section] > 0, section
    report = network.last_report
    assert report.mode == "diagnose" and report.summaries["energy_residual"].max_abs > 0


def test_enforce_closes_both_column_budgets_with_frictional_heating(tmp_path):
    columns = realistic_columns(ncol=16, nlev=25)
    sigma_half = columns.pressure_half[0] / columns.surface_pressure[0]
    t_eq = np.linspace(200.0, 295.0, 25)
    path = write_relaxation_model(tmp_path / "relax.pt", sigma_half, t_eq)
    scheme = NetworkScheme(model=str(path), conservation="enforce")
    assert scheme.closes_budgets and scheme.frictional_heating
    for _ in range(2):  # the second call sees the first's fluxes as SHFLX, LHFLX
        out = scheme(columns, 1800.0)
        energy = energy_residual(columns, out, frictional_heating=True)
        water = water_residual(columns, out)
        assert np.all(np.abs(energy) <= 1e-10 * energy_scale(columns, out))
        assert np.all(np.abs(water) <= 1e-10 * water_scale(columns, out))
    # without the drag's heating the budget would be off by the dissipated energy
    assert np.abs(energy_residual(columns, out)).max() > 1e-3
    assert not NetworkScheme(model=str(path), conservation="diagnose").closes_budgets


def test_the_previous_steps_fluxes_restart_bit_for_bit(setup, tmp_path):
    cfg, t_eq, _ = setup
    # a network that heats by the previous step's sensible heat flux: the state matters
    path = write_relaxation_model(tmp_path / "flux.pt", Model(cfg).sigma.half, t_eq,
                                  shflx_heating=1e-6)

    def scheme():
        return NetworkScheme(model=str(path))

    straight = Simulation(Model(cfg, physics=scheme()), tmp_path / "straight", progress=False)
    straight.run_steps(4)
    half = Simulation(Model(cfg, physics=scheme()), tmp_path / "half", progress=False)
    half.run_steps(2)
    restarted = Simulation.from_restart(half.last_restart, progress=False, physics=scheme())
    restarted.run_steps(2)
    a, b = straight.model.restart_arrays(), restarted.model.restart_arrays()
    grid = straight.model.grid
    assert a["physics/previous_shf"].shape == (grid.nlat * grid.nlon,)
    assert sorted(a) == sorted(b)
    for key in a:
        assert np.asarray(a[key]).tobytes() == np.asarray(b[key]).tobytes(), key
    # a continuation that forgot the fluxes (takes its first step's own) differs
    forgetful = Simulation.from_restart(half.last_restart, tmp_path / "forgetful",
                                        progress=False, physics=scheme())
    forgetful.model.physics.load_state_arrays({"previous_shf": np.zeros(0),
                                               "previous_lhf": np.zeros(0)})
    forgetful.run_steps(2)
    assert not np.array_equal(forgetful.model.now.temperature, straight.model.now.temperature)


def test_a_nan_stops_the_run_with_a_restart_and_names_where(setup, tmp_path):
    cfg, t_eq, _ = setup
    sigma_half = Model(cfg).sigma.half
    path = write_relaxation_model(tmp_path / "nan.pt", sigma_half, t_eq, nan_level=3)
    sim = Simulation(Model(cfg, physics=NetworkScheme(model=str(path))), tmp_path / "run",
                     progress=False)
    with pytest.raises(ModelBlowUpError) as caught:
        sim.run_steps(3)
    message = str(caught.value)
    for part in ("'network' failed in step 1", "TPHYSTND", "level 3", "lat ", "lon ",
                 "not finite", "restart of the last whole step"):
        assert part in message, part
    restart = sim.last_restart
    assert restart is not None and restart.is_file()
    again = Simulation.from_restart(restart, progress=False, physics=NetworkScheme(
        model=str(setup[2])))
    assert again.model.step_count == 0  # the state before the failed step
    again.run_steps(1)
    assert np.isfinite(again.model.now.temperature).all()


def test_bad_model_parameters_name_the_key_and_the_file(setup, tmp_path, make_config,
                                                        monkeypatch):
    # registered as the entry point would, in a registry put back after the test
    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))
    register_scheme("network", NetworkScheme)
    with pytest.raises(ValueError, match=r"physics.parameters.model: .*nope\.pt does not "
                                         r"exist.*climnn export"):
        build_scheme("network", {"model": str(tmp_path / "nope.pt")})
    with pytest.raises(ValueError, match=r"physics.parameters.model: the network scheme "
                                         r"needs"):
        build_scheme("network", {})
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"physics.parameters of scheme 'network': .*broken"):
        build_scheme("network", {"model": str(broken)})
    with pytest.raises(ValueError, match=r"conservation"):
        build_scheme("network", {"model": str(setup[2]), "conservation": "sometimes"})
    with pytest.raises(ValueError, match=r"physics.parameters.bounds"):
        build_scheme("network", {"model": str(setup[2]), "bounds": {"T": 3}})
    # a model of other levels: refused at the first step, naming the first difference
    other = make_config("rest", truncation=21, levels=6, scheme="held_suarez")
    model = Model(other, physics=NetworkScheme(model=str(setup[2])))
    with pytest.raises(ValueError, match=r"physics.parameters.model of scheme 'network': "
                                         r".*relax\.pt: the model has 5 levels, the host 6"):
        model.step()


def test_the_scheme_is_declared_as_gcm_physics_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    points = project["project"]["entry-points"]["gcm.physics"]
    module, name = points["network"].split(":")
    assert module == "climnn.coupler.network_scheme" and name == "NetworkScheme"
    assert Path(ROOT / "run" / "hybrid.yaml").is_file()


def test_hybrid_yaml_names_the_network_and_says_how_to_make_its_model(tmp_path, monkeypatch):
    from gcm.config import load_config

    config = load_config(ROOT / "run" / "hybrid.yaml")
    assert config.physics.scheme == "network"
    parameters = dict(config.physics.parameters)
    assert parameters["model"] == "run/models/hybrid_seed_bf16.pt"
    monkeypatch.chdir(tmp_path)  # where no model file is
    with pytest.raises(ValueError, match=r"physics.parameters.model: run/models/hybrid_seed"
                                         r"_bf16\.pt does not exist .*climnn generate .*climnn "
                                         r"train .*climnn export train/ --out run/models/"):
        NetworkScheme(**parameters)


def test_the_coupler_figures_go_into_the_history_beside_the_fixers(setup, tmp_path):
    """With enforce, each output interval (here one step) holds the coupler's residuals and
    fixes, in their units, equal to the scheme's figures of that step."""
    cfg, _, path = setup
    cfg.output.interval_hours = 1.0
    network = NetworkScheme(model=str(path), conservation="enforce")
    seen, figures = [], network.step_diagnostics

    def keep():  # the model asks once a step
        seen.append(figures())
        return seen[-1]

    network.step_diagnostics = keep
    sim = Simulation(Model(cfg, physics=network), tmp_path / "run", progress=False)
    sim.run_steps(3)
    history = xr.open_zarr(tmp_path / "run" / "history.zarr")
    assert set(network.diagnostic_attrs) == {
        "coupler_energy_residual", "coupler_water_residual", "coupler_energy_fix",
        "coupler_energy_fix_abs", "coupler_water_fix", "coupler_water_fix_abs",
        "coupler_negative_humidity_fix"}
    assert history["coupler_energy_fix"].attrs["units"] == "W m-2"
    assert history["coupler_water_fix"].attrs["units"] == "kg m-2 s-1"
    assert "fixer_energy" in history
    for step in range(3):
        for name, value in seen[step].items():
            assert history[name].values[step + 1] == value, (step, name)
    assert max(abs(s["coupler_energy_fix"]) for s in seen) > 0  # the fix did something
    off = NetworkScheme(model=str(path), conservation="off")
    assert off.diagnostic_attrs == {}
    diagnose = NetworkScheme(model=str(path), conservation="diagnose")
    assert sorted(diagnose.diagnostic_attrs) == ["coupler_energy_residual",
                                                 "coupler_water_residual"]


def test_a_network_that_predicts_the_surface_fluxes_replaces_the_bulk_ones(setup, tmp_path):
    """SHF and LHF from the network: the tendencies carry them, the next step's SHFLX and
    LHFLX are them, and enforce closes the budgets with them and the frictional heating."""
    cfg, t_eq, _ = setup
    columns = realistic_columns(ncol=16, nlev=25)
    sigma_half = columns.pressure_half[0] / columns.surface_pressure[0]
    path = write_relaxation_model(tmp_path / "fluxes.pt", sigma_half, np.linspace(200, 295, 25),
                                  fluxes=(12.5, 80.0))
    scheme = NetworkScheme(model=str(path), conservation="enforce")
    assert scheme.network_fluxes
    for _ in range(2):
        out = scheme(columns, 1800.0)
        assert np.all(out.shf == 12.5) and np.all(out.lhf == 80.0)
        energy = energy_residual(columns, out, frictional_heating=True)
        assert np.all(np.abs(energy) <= 1e-10 * energy_scale(columns, out))
        assert np.all(np.abs(water_residual(columns, out)) <= 1e-10 * water_scale(columns, out))
    assert np.all(scheme.state_arrays()["previous_lhf"] == 80.0)
    bulk = NetworkScheme(model=str(write_relaxation_model(tmp_path / "b.pt", sigma_half,
                                                          np.linspace(200, 295, 25))))
    assert not bulk.network_fluxes
    assert not np.allclose(bulk(columns, 1800.0).lhf, 80.0)  # the bulk formula's


class RelaxationWithSurfaceFluxes(Relaxation):
    """The reference of an "excluded" network: the relaxation plus the bulk scheme's
    heating and moistening of the lowest level."""

    def __call__(self, columns, dt):
        out = super().__call__(columns, dt)
        surface = self.surface(columns, dt)
        out.temperature += surface.temperature
        out.humidity += surface.humidity
        out.shf, out.lhf = surface.shf, surface.lhf
        return out


def test_an_excluded_convention_network_gets_the_bulk_fluxes_added(setup, tmp_path):
    """A network trained without the surface fluxes' share (ClimSim's convention, or
    data.surface_flux_convention: excluded): the scheme adds the bulk scheme's heating and
    moistening of the lowest level, step for step as the relaxation plus them; a network
    that would predict SHF, LHF too is refused."""
    cfg, t_eq, _ = setup
    sigma_half = Model(cfg).sigma.half
    path = write_relaxation_model(tmp_path / "excluded.pt", sigma_half, t_eq,
                                  convention="excluded")
    network = NetworkScheme(model=str(path), conservation="diagnose")
    assert network.adds_surface_fluxes
    net_model, ref_model = Model(cfg, physics=network), Model(
        cfg, physics=RelaxationWithSurfaceFluxes(t_eq))
    net_model.physics, ref_model.physics = recorded(network), recorded(ref_model.physics)
    tolerance = 8 * np.finfo(np.float32).eps * 320.0 / TAU
    for _ in range(4):
        net_model.step()
        ref_model.step()
        a, b = net_model.physics.calls[-1], ref_model.physics.calls[-1]
        assert np.abs(a.temperature - b.temperature).max() <= tolerance
        np.testing.assert_allclose(a.humidity, b.humidity, rtol=1e-6, atol=1e-14)
    assert np.abs(b.humidity[:, -1]).max() > 0 and np.all(b.humidity[:, :-1] == 0)
    flux = write_relaxation_model(tmp_path / "excluded_fluxes.pt", sigma_half, t_eq,
                                  fluxes=(10.0, 50.0), convention="excluded")
    with pytest.raises(ValueError, match=r"predicts \['SHF', 'LHF'\] but its tendencies "
                                         r"exclude the surface fluxes' share"):
        NetworkScheme(model=str(flux))


def test_enforce_closes_the_budgets_of_an_excluded_convention_network(tmp_path):
    """The coupler closes the network's budgets without surface terms, the scheme adds the
    bulk fluxes' share: the column budgets with the fluxes close to round-off."""
    columns = realistic_columns(ncol=16, nlev=25)
    sigma_half = columns.pressure_half[0] / columns.surface_pressure[0]
    path = write_relaxation_model(tmp_path / "excluded.pt", sigma_half,
                                  np.linspace(200.0, 295.0, 25), convention="excluded")
    scheme = NetworkScheme(model=str(path), conservation="enforce")
    out = scheme(columns, 1800.0)
    assert np.abs(out.lhf).max() > 1.0
    energy = energy_residual(columns, out, frictional_heating=True)
    water = water_residual(columns, out)
    assert np.all(np.abs(energy) <= 1e-10 * energy_scale(columns, out))
    assert np.all(np.abs(water) <= 1e-10 * water_scale(columns, out))


def test_a_network_of_another_time_step_is_refused_at_the_first_call(setup, tmp_path):
    cfg, t_eq, _ = setup  # a 60-minute step
    sigma_half = Model(cfg).sigma.half
    for trained, refused in ((3600.0, False), (1800.0, True)):
        path = write_relaxation_model(tmp_path / f"dt{trained:g}.pt", sigma_half, t_eq,
                                      timestep=trained)
        model = Model(cfg, physics=NetworkScheme(model=str(path)))
        if refused:
            with pytest.raises(ValueError, match=r"over 1800-s steps; this run's physics "
                                                 r"interval is 7200 s.*step_minutes=30"):
                model.step()  # the forward step's 3600 s are two 1800-s intervals
                model.step()
        else:
            model.step()
            model.step()  # the leapfrog's 2 dt


def test_column_area_is_each_columns_share_of_the_sphere():
    """The report's weights: a point's area fraction, area_weights[j] / nlon, summing to 1
    over the columns in gcm's (ncol,) order (row-major (nlat, nlon))."""
    from climnn.coupler.network_scheme import column_area
    from gcm.gaussian_grid import gaussian_grid

    grid = gaussian_grid(21)
    lat2d = np.repeat(np.radians(grid.lat)[:, None], grid.nlon, axis=1)
    area = column_area(lat2d.reshape(-1))
    expected = np.repeat(grid.area_weights / grid.nlon, grid.nlon)
    np.testing.assert_allclose(area, expected, rtol=1e-12)
    assert abs(area.sum() - 1.0) < 1e-12
