"""The superparameterized scheme (gcm.crm.superparameterization) on tiny CRMs: the column
contract with its budgets, the level map's conservation, the large-scale forcing, errors."""

from dataclasses import replace

import numpy as np
import pytest

from gcm.constants import CP
from gcm.crm.large_scale_forcing import LargeScaleForcing
from gcm.crm.level_map import LevelMap
from gcm.crm.negative_humidity import keep_humidity_positive
from gcm.crm.superparameterization import Superparameterized
from gcm.physics import budgets
from gcm.physics.column import PhysicsFailure
from gcm.physics.registry import build_scheme
from gcm.physics.testing import check_scheme, realistic_columns
from gcm.sigma_coordinates import sigma_coordinates

TINY_CRM = {"nx": 8, "nz": 10, "dz": 1600.0, "dt": 60.0}


@pytest.fixture(scope="module")
def scheme_and_columns():
    return Superparameterized(crm=dict(TINY_CRM)), realistic_columns(ncol=6)


def test_the_scheme_keeps_the_contract(scheme_and_columns):
    """Shapes, plausible values, budgets to 1e-12, the state's round trip, permutations."""
    scheme, columns = scheme_and_columns
    out = check_scheme(scheme, columns, 3600.0)
    assert (out.lhf > 0).all() and np.abs(out.temperature).max() > 0


def test_budgets_close_over_calls_and_the_crm_needed_only_round_off(scheme_and_columns):
    scheme, columns = scheme_and_columns
    for _ in range(3):
        out = scheme(columns, 3600.0)
        energy = budgets.energy_residual(columns, out, frictional_heating=True)
        water = budgets.water_residual(columns, out)
        assert np.all(np.abs(energy) <= 1e-12 * budgets.energy_scale(columns, out))
        assert np.all(np.abs(water) <= 1e-12 * budgets.water_scale(columns, out))
        # what the scheme removed is the CRM's round-off, not a leak
        assert scheme.step_diagnostics()["sp_energy_fix"] < 1e-6
        assert scheme.step_diagnostics()["sp_water_fix"] < 1e-15


def test_the_crm_gets_the_gcm_columns_surface_fluxes_and_returns_them():
    """crm.surface gcm_column (SPCAM's coupling, the default): the fluxes the scheme
    returns are the GCM bulk scheme's on the columns, applied uniformly to the CRMs, and
    the budgets close; crm_columns (each CRM x-column's own) keeps the contract too and
    gives other fluxes."""
    columns = realistic_columns(ncol=6)
    scheme = Superparameterized(crm=dict(TINY_CRM))
    out = scheme(columns, 3600.0)
    bulk = scheme.surface(columns, 3600.0)
    np.testing.assert_allclose(out.shf, bulk.shf, rtol=1e-12)
    np.testing.assert_allclose(out.lhf, bulk.lhf, rtol=1e-12)
    own = Superparameterized(crm=dict(TINY_CRM, surface="crm_columns"))
    other = check_scheme(own, columns, 3600.0)
    assert np.abs(other.lhf - bulk.lhf).max() > 1e-3 * np.abs(bulk.lhf).max()


def test_a_call_past_the_courant_limit_is_run_again_with_dt_halved(caplog):
    """A wind of Cx = 1.2 at crm.dt: the call goes back to its start and runs at dt/2 or
    dt/4 (the diagnostic says which), the budgets still close and the CRM state comes out
    as a CRM configured with that dt makes it from the same start; with max_halvings 0
    the run stops."""
    columns = realistic_columns(ncol=2)
    columns.u[:] = 80.0  # Cx = 80 m/s x 60 s / 4 km = 1.2 in the CRM, which starts at u
    halving = Superparameterized(crm=dict(TINY_CRM))
    halving(columns, 3600.0)
    start = replace(halving.state)  # the arrays are not changed by the steps
    out = halving(columns, 3600.0)
    halvings = int(halving.step_diagnostics()["sp_crm_dt_halvings"])
    assert halvings in (1, 2)
    assert "crm.dt halved" in caplog.text and "one-step scalar transport" in caplog.text
    reference = Superparameterized(crm=dict(TINY_CRM, dt=TINY_CRM["dt"] / 2**halvings))
    reference.state = replace(start, du_history=None, dw_history=None)
    expected = reference(columns, 3600.0)
    assert reference.step_diagnostics()["sp_crm_dt_halvings"] == 0.0
    assert np.array_equal(halving.state.scalars, reference.state.scalars)
    assert np.array_equal(out.temperature, expected.temperature)
    assert halving.state.du_history is None  # the next call's multistep starts anew
    energy = budgets.energy_residual(columns, out, frictional_heating=True)
    assert np.all(np.abs(energy) <= 1e-12 * budgets.energy_scale(columns, out))
    strict = Superparameterized(crm=dict(TINY_CRM, max_halvings=0))
    with pytest.raises(PhysicsFailure, match="halved 0 times"):
        strict(columns, 3600.0)


def test_smagorinsky_mixing_keeps_the_contract_and_mixes():
    """With the Smagorinsky CRM (nu = kappa = 0 beside it) the budgets still close to
    round-off and the tendencies differ from the constant-ν CRM's."""
    columns = realistic_columns(ncol=4)
    smagorinsky = Superparameterized(crm=dict(TINY_CRM, mixing="smagorinsky", nu=0.0))
    out = check_scheme(smagorinsky, columns, 3600.0)
    constant = check_scheme(Superparameterized(crm=dict(TINY_CRM)), columns, 3600.0)
    assert smagorinsky.crm.mixing == "smagorinsky"
    assert np.abs(out.temperature - constant.temperature).max() > 0


def test_a_crm_past_its_courant_limit_stops_the_run_as_a_physics_failure():
    """A wind the CRM cannot carry at its dt, even halved twice, ends as PhysicsFailure (so
    the run writes the restart of the last whole step and names the step), naming the CRM
    cell."""
    columns = realistic_columns(ncol=2)
    columns.u[:] = 600.0  # Cx = 600 m/s x 15 s / 4 km = 2.25 once the CRM follows
    scheme = Superparameterized(crm=dict(TINY_CRM))
    with pytest.raises(PhysicsFailure, match=r"superparameterized: one-step scalar "
                                             r"transport: CRM \d+, layer \d+"):
        for _ in range(3):
            scheme(columns, 3600.0)


def test_the_crm_mean_follows_the_gcm_column(scheme_and_columns):
    """After a call the CRM's mean T_l is the column's T on its layers plus τ times the
    tendency the scheme reports there (before the map back): the forcing pulled it there."""
    scheme, columns = scheme_and_columns
    scheme(columns, 3600.0)
    warmer = type(columns)(**{**columns.__dict__, "temperature": columns.temperature + 1.0})
    start = scheme._means(scheme.state)[0]
    scheme(warmer, 3600.0)
    end = scheme._means(scheme.state)[0]
    own = end - start - scheme.forcing.applied["temperature"]
    target = scheme.level_map.to_crm(warmer.temperature)
    np.testing.assert_allclose(end - own, target, atol=1e-9)


def level_map():
    sigma = sigma_coordinates("frierson_l25", 25).half
    scheme = Superparameterized(crm=dict(TINY_CRM))
    return LevelMap(sigma, scheme.crm_pressure_half)


def test_the_level_map_conserves_column_amounts_and_keeps_uniform_profiles():
    lmap = level_map()
    rng = np.random.default_rng(3)
    ps = rng.uniform(0.97e5, 1.03e5, 5)
    dp = np.diff(lmap.sigma_half)[None, :] * ps[:, None]
    x = rng.normal(size=(5, lmap.crm_mass.size))
    gcm = lmap.to_gcm(x, dp)
    np.testing.assert_allclose((gcm * dp).sum(axis=1) / 9.80616,
                               (x * lmap.crm_mass[::-1]).sum(axis=1), rtol=1e-13)
    assert np.all(gcm[:, :lmap.lid_level] == 0.0)  # above the lid: nothing
    np.testing.assert_allclose(lmap.to_crm(np.full((2, 25), 287.0)), 287.0, rtol=1e-14)


def test_negative_water_forcing_leaves_no_negative_and_records_what_it_did():
    scheme = Superparameterized(crm=dict(TINY_CRM))
    state = scheme.crm.rest_state(2)
    state.scalar("qt")[...] = np.linspace(0.0, 2e-3, 8)  # mean 1e-3 per layer
    forcing = LargeScaleForcing(scheme.crm.profiles)
    nz = scheme.crm.grid.nz
    rates = np.full((2, nz), -0.5e-3 / 100.0)
    rates[1] *= 10.0  # asks for five times the water there is
    forcing.set(np.zeros((2, nz)), rates, np.zeros((2, nz)))
    forcing(state, 100.0)
    qt = state.scalar("qt")
    assert qt.min() >= 0.0
    np.testing.assert_allclose(forcing.applied["water"][0], -0.5e-3, rtol=1e-12)
    np.testing.assert_allclose(forcing.applied["water"][1], -1e-3, rtol=1e-12)
    np.testing.assert_allclose(qt[0].mean(axis=-1), 0.5e-3, rtol=1e-12)


@pytest.mark.parametrize("parameters, message", [
    ({"crm": {"nx": 8, "colums": 3}}, r"crm: unknown key\(s\) \['colums'\]"),
    ({"crm": {"time_scheme": "euler"}}, r"crm.time_scheme 'euler' unknown"),
    ({"crm": {"mixing": "tke"}}, r"crm.mixing 'tke' unknown"),
    ({"crm": {"surface": "ocean"}}, r"crm.surface 'ocean' unknown"),
    ({"crm": {"max_halvings": -1}}, r"crm.max_halvings must be a whole number >= 0"),
    ({"crm": {"mixing": "smagorinsky"}}, r"crm: .*smagorinsky.*"),
    ({"crm": {"nz": 4, "dz": 500.0}}, r"crm: the lid at 2000 m \(σ = 0.7\d+\) is below σ = "
                                       r"0.3: the CRM must hold the troposphere"),
    ({"convection": {}}, r"unknown part\(s\) \['convection'\]; the parts are"),
    ({"radiation": {"tau": 1}}, r"radiation: .*'tau'"),
])
def test_bad_parameters_end_with_one_message(parameters, message):
    with pytest.raises(ValueError, match=r"physics.parameters for scheme "
                                         r"'superparameterized': " + message):
        build_scheme("superparameterized", parameters)


def test_a_crm_step_that_does_not_divide_the_gcm_step_is_named():
    scheme = Superparameterized(crm={**TINY_CRM, "dt": 70.0})
    with pytest.raises(ValueError, match=r"crm.dt = 70 s does not divide .* 1800 s"):
        scheme(realistic_columns(ncol=2), 3600.0)


def test_a_lid_above_the_gcm_top_is_named():
    with pytest.raises(ValueError, match=r"the CRM's lid \(σ = 0.1058\) lies above the GCM's "
                                         r"top \(σ = 0.2000\)"):
        LevelMap(np.linspace(0.2, 1.0, 9), level_map().crm_pressure_half)


def test_the_sp_experiment_file_builds_the_default_crm():
    from pathlib import Path

    from gcm.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[1] / "run" / "aquaplanet_sp.yaml")
    scheme = build_scheme(cfg.physics.scheme, cfg.physics.parameters)
    grid = scheme.crm.grid
    # 8 columns as in the seed paper's SPCAM (CrmSettings' default is SPCAM's 32)
    assert (grid.nx, grid.dx, grid.nz, grid.dz, scheme.crm.dt) == (8, 4000.0, 24, 750.0, 20.0)
    assert scheme.settings.max_halvings == 2 and scheme.settings.surface == "gcm_column"
    assert scheme._steps(cfg.time.step_minutes * 60.0 / 2) * 2 == scheme._steps(
        cfg.time.step_minutes * 60.0)  # the first, half-length call is whole steps too


def test_the_humidity_limiter_keeps_every_level_non_negative_and_the_budgets_closed():
    """gcm.crm.negative_humidity on tendencies that dry three levels of one column past
    zero (and a second column whose precipitation cannot pay for it): afterwards q + dt dq
    >= 0 everywhere, the water added is what was missing, precipitation pays first, and
    both column budgets still close to round-off; untouched columns keep their bits."""
    columns = realistic_columns(ncol=3)
    scheme = Superparameterized(crm=dict(TINY_CRM, keep_humidity_positive=False))
    dt = 3600.0
    out = scheme(columns, dt)
    q = columns.humidity
    # dry the three lowest levels of columns 0 and 1 to 1.5 times what they hold; column 1
    # rains less than that takes
    for c in (0, 1):
        out.humidity[c, -3:] = -1.5 * q[c, -3:] / dt
    dp = columns.thickness
    missing = (0.5 * q[:, -3:] * dp[:, -3:]).sum(1) / budgets.GRAVITY / dt
    # close the water budget through precipitation, but let column 1 rain only 0.3 of the
    # missing water (the rest of its water change moistens a mid level instead), then the
    # energy budget through the lowest level's heating: the limiter starts from closed books
    out.precipitation -= budgets.water_residual(columns, out)
    wanted = 0.3 * missing[1]
    out.humidity[1, 10] += (out.precipitation[1] - wanted) * budgets.GRAVITY / dp[1, 10]
    out.precipitation[1] = wanted
    energy = budgets.energy_residual(columns, out, frictional_heating=True)
    out.temperature[:, -1] -= energy * budgets.GRAVITY / (CP * dp[:, -1])
    before = (out.humidity.copy(), out.temperature.copy(), out.precipitation.copy())
    assert np.all(np.abs(budgets.water_residual(columns, out))
                  <= 1e-12 * budgets.water_scale(columns, out))
    added = keep_humidity_positive(q, out, dt, dp)
    assert (q + dt * out.humidity).min() >= -1e-15 * q.max()  # round-off of q - q
    np.testing.assert_allclose(added[:2], missing[:2], rtol=1e-12)
    assert added[2] == 0.0
    for got, was in zip((out.humidity, out.temperature, out.precipitation), before,
                        strict=True):
        np.testing.assert_array_equal(got[2], was[2])
    assert out.precipitation[0] == pytest.approx(before[2][0] - missing[0], rel=1e-12)
    assert out.precipitation[1] == 0.0  # what it could pay; the rest from the column
    energy = budgets.energy_residual(columns, out, frictional_heating=True)
    water = budgets.water_residual(columns, out)
    assert np.all(np.abs(energy) <= 1e-12 * budgets.energy_scale(columns, out))
    assert np.all(np.abs(water) <= 1e-12 * budgets.water_scale(columns, out))


def test_the_scheme_runs_its_humidity_limiter_only_when_asked(monkeypatch):
    """crm.keep_humidity_positive: on, each call hands the limiter the columns' humidity,
    its tendencies, dt and the layer thicknesses, and reports the largest water it added;
    off, the limiter is not called and the report stays 0."""
    from gcm.crm import superparameterization as sp

    calls = []

    def spy(q, out, dt, dp):
        calls.append((q, dt, dp))
        return np.array([0.0, 2.5e-5, 1.0e-5])

    monkeypatch.setattr(sp, "keep_humidity_positive", spy)
    columns = realistic_columns(ncol=3)
    for keep in (True, False):
        calls.clear()
        scheme = Superparameterized(crm=dict(TINY_CRM, keep_humidity_positive=keep))
        scheme(columns, 3600.0)
        report = scheme.step_diagnostics()["sp_negative_humidity_fix"]
        if keep:
            assert len(calls) == 1 and calls[0][1] == 3600.0
            assert calls[0][0] is columns.humidity
            np.testing.assert_array_equal(calls[0][2], columns.thickness)
            assert report == 2.5e-5
        else:
            assert calls == [] and report == 0.0
