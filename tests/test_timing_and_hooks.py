"""The model's hooks for code outside it: the step timer, the latest physics call, and a
snapshot that changes nothing."""

import numpy as np
import pytest

from gcm.model import Model
from gcm.simulation import Simulation
from gcm.timing import StepTimer


def test_step_timer_sees_the_sections_of_a_moist_step(make_config):
    cfg = make_config("rest", scheme="teacher", levels=10, temperature=285.0, humidity=0.005)
    model = Model(cfg)
    timer = StepTimer()
    model.timer = timer
    for _ in range(3):
        model.step()
    assert timer.calls["step"] == 3
    assert timer.calls["physics"] == 3
    for name in model.physics.schemes:
        assert timer.calls[f"physics_{name}"] == 3, name
    # every step synthesizes and analyses fields
    assert timer.calls["transforms"] >= 3 * 4
    # nested sections lie inside the step
    assert timer.seconds["physics"] + timer.seconds["transforms"] <= timer.seconds["step"]


def test_last_physics_call_holds_the_columns_and_tendencies(make_config):
    cfg = make_config("rest", scheme="held_suarez", levels=5, perturbation=1.0)
    model = Model(cfg)
    model.keep_physics_call = True
    assert model.last_physics is None
    model.step()
    first = model.last_physics
    assert first.dt == model.dt  # forward step: one dt
    model.step()
    call = model.last_physics
    assert call.dt == 2 * model.dt  # leapfrog: two dt
    ncol = model.grid.nlat * model.grid.nlon
    assert call.columns.temperature.shape == (ncol, 5)
    assert call.tendencies.temperature.shape == (ncol, 5)
    # the tendencies are the scheme's for those columns
    again = model.physics(call.columns, call.dt)
    assert np.array_equal(again.temperature, call.tendencies.temperature)


def test_the_physics_call_is_kept_only_when_asked_and_changes_nothing(make_config):
    cfg = make_config("rest", scheme="held_suarez", levels=5, perturbation=1.0)
    plain, keeping = Model(cfg), Model(cfg)
    sim = Simulation(plain, progress=False, history=False)
    sim.add_callback(lambda s: None, name="reads_nothing")
    assert not plain.keep_physics_call
    with pytest.raises(RuntimeError, match="keep_physics_call"):
        plain.last_physics  # noqa: B018 - the property is what is tested
    seen = []
    sim_keeping = Simulation(keeping, progress=False, history=False)
    sim_keeping.add_callback(lambda s: seen.append(s.model.last_physics.dt),
                             needs_physics_call=True)
    assert keeping.keep_physics_call
    sim.run_steps(3)
    sim_keeping.run_steps(3)
    assert seen == [keeping.dt, 2 * keeping.dt, 2 * keeping.dt]
    # keeping the call is bookkeeping only: both runs are bitwise the same
    for name, x in plain.restart_arrays().items():
        assert np.array_equal(x, keeping.restart_arrays()[name]), name


def test_snapshot_does_not_drain_the_interval_means(make_config):
    cfg = make_config("rest", scheme="held_suarez", levels=5, perturbation=1.0)
    model = Model(cfg)
    for _ in range(3):
        model.step()
    a, b = model.snapshot(), model.snapshot()
    for name in ("fixer_energy", "fixer_water", "fixer_mass"):
        assert np.isfinite(a[name].values).all()
        assert np.array_equal(a[name].values, b[name].values), name
    model.start_output_interval()
    assert model.means.start_step == 3 and model.means.count == 0
