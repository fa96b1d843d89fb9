"""The model as a host of physics from outside gcm: a scheme object as constructor
argument, and a scheme with state of its own restarting bit for bit."""

import numpy as np
import pytest

from gcm.model import Model
from gcm.physics import HeldSuarez, NoPhysics
from gcm.physics.column import ColumnScheme, ColumnTendencies
from gcm.physics.testing import check_scheme, realistic_columns
from gcm.simulation import Simulation


class RelaxToPrevious(ColumnScheme):
    """A toy with state: relaxes T toward the temperature its previous call aimed at
    (that call's T + dt dT/dt, its output) over ``timescale`` s, and towards 250 K over
    40 days so that something happens. State: that target, (ncol, nlev), K."""

    name = "relax_to_previous"
    closes_budgets = False

    def __init__(self, timescale: float = 2 * 86400.0):
        self.timescale = timescale
        self.target = np.zeros((0, 0))  # none before the first call

    def __call__(self, columns, dt):
        T = columns.temperature
        out = ColumnTendencies.zeros(columns.ncol, columns.nlev)
        target = T if self.target.size == 0 else self.target
        out.temperature[:] = (target - T) / self.timescale + (250.0 - T) / (40 * 86400.0)
        self.target = T + dt * out.temperature
        return out

    def state_arrays(self):
        return {"target": self.target}

    def load_state_arrays(self, arrays):
        self.target = np.array(arrays["target"], dtype=np.float64)


def small(make_config):
    return make_config("rest", levels=5, scheme="held_suarez", perturbation=1.0,
                       step_minutes=60.0)


def test_the_toy_keeps_the_contract_and_its_state_matters():
    scheme = RelaxToPrevious()
    columns = realistic_columns()
    first = check_scheme(scheme, columns, 3600.0)
    # the same columns again, now relaxed toward the first call's target: another result
    assert not np.array_equal(scheme(columns, 3600.0).temperature, first.temperature)


def run(model, out_dir, days):
    sim = Simulation(model, out_dir, progress=False)
    sim.run(days)
    return sim


def assert_bitwise_equal(a: dict, b: dict):
    assert sorted(a) == sorted(b)
    for key in a:
        assert np.asarray(a[key]).tobytes() == np.asarray(b[key]).tobytes(), key


def test_a_stateful_scheme_restarts_bit_for_bit(make_config, tmp_path):
    cfg = small(make_config)
    straight = Model(cfg, physics=RelaxToPrevious())
    run(straight, tmp_path / "straight", 4)
    half = run(Model(cfg, physics=RelaxToPrevious()), tmp_path / "restarted", 2)
    restarted = Simulation.from_restart(half.last_restart, progress=False,
                                        physics=RelaxToPrevious())
    restarted.run(2)
    arrays = restarted.model.restart_arrays()
    assert "physics/target" in arrays and "old/temperature" in arrays
    # every prognostic array, the ledger, the means, the carried old level and the state
    assert_bitwise_equal(straight.restart_arrays(), arrays)

    # the state is what made it bitwise: a continuation that forgot it differs
    forgetful = Simulation.from_restart(half.last_restart, tmp_path / "forgetful",
                                        progress=False, physics=RelaxToPrevious())
    forgetful.model.physics.target = np.zeros((0, 0))
    forgetful.run(2)
    assert not np.array_equal(forgetful.model.now.temperature, straight.now.temperature)


def test_a_restart_must_hold_exactly_the_schemes_state(make_config, tmp_path):
    cfg = small(make_config)
    toy_run = run(Model(cfg, physics=RelaxToPrevious()), tmp_path / "toy", 1)
    hs_run = run(Model(cfg), tmp_path / "hs", 1)
    with pytest.raises(ValueError, match=r"restart_.*\.npz: physics scheme 'held_suarez': "
                                         r"the restart holds state \['target'\] that it "
                                         r"does not have"):
        Simulation.from_restart(toy_run.last_restart, progress=False, physics=HeldSuarez())
    with pytest.raises(ValueError, match=r"restart_.*\.npz: physics scheme "
                                         r"'relax_to_previous': the restart lacks its "
                                         r"state \['target'\]"):
        Simulation.from_restart(hs_run.last_restart, progress=False, physics=RelaxToPrevious())
    # without the scheme object the saved config names a scheme no registry knows
    with pytest.raises(ValueError, match="unknown scheme 'relax_to_previous'"):
        Simulation.from_restart(toy_run.last_restart, progress=False)


def test_a_scheme_object_equals_the_config_named_scheme_bitwise(make_config):
    cfg = small(make_config)
    by_name, by_object = Model(cfg), Model(cfg, physics=HeldSuarez())
    for _ in range(12):
        by_name.step()
        by_object.step()
    assert by_object.config.digest() == by_name.config.digest()
    assert_bitwise_equal(by_name.restart_arrays(), by_object.restart_arrays())
    assert np.isfinite(by_object.now.temperature).all()
    assert by_object.means.sums["fixer_energy"] != 0.0


def test_the_model_names_the_scheme_it_was_given(make_config):
    cfg = small(make_config)
    model = Model(cfg, physics=RelaxToPrevious())
    assert model.config.physics.scheme == "relax_to_previous"
    assert cfg.physics.scheme == "held_suarez"  # the caller's config is left alone
    assert model.snapshot().attrs["source"].endswith("physics relax_to_previous")


def test_whether_there_is_physics_is_read_from_the_scheme(make_config):
    cfg = small(make_config)
    cfg.dynamics.fixers.mass = cfg.dynamics.fixers.water = cfg.dynamics.fixers.energy = False
    model = Model(cfg, physics=NoPhysics())
    model.keep_physics_call = True
    assert model.diagnostic_names() == ([], [])
    model.step()
    assert model.last_physics is None and model.config.physics.scheme == "none"
    with_physics = Model(cfg, physics=RelaxToPrevious())
    with_physics.keep_physics_call = True
    fields, scalars = with_physics.diagnostic_names()
    assert "precipitation" in fields and "physics_energy_residual" not in scalars
    with_physics.step()
    assert with_physics.last_physics.tendencies.temperature.shape[1] == 5


def test_a_scheme_replaced_later_gets_the_timer_and_needs_a_model_with_physics(make_config):
    from gcm.timing import StepTimer

    cfg = small(make_config)
    model = Model(cfg)
    model.timer = StepTimer()
    replacement = RelaxToPrevious()
    replacement.timer = None
    model.physics = replacement
    assert replacement.timer is model.timer
    without = Model(cfg, physics=NoPhysics())
    with pytest.raises(ValueError, match="'relax_to_previous': this model was built without "
                                         "physics"):
        without.physics = RelaxToPrevious()
