"""The old level's grid, carried from step to step (gcm.old_level_grid), equals the
synthesis of the spectral old level to round-off, through the filter and the fixers."""

import numpy as np
import pytest

from gcm.config import load_config
from gcm.model import Model
from gcm.old_level_grid import OldLevelGrid


def aquaplanet(**overrides):
    settings = {"resolution.truncation": 21, "time.step_minutes": 30.0,
                "initial.temperature": 285.0, "initial.humidity": 0.002}
    settings.update(overrides)
    return Model(load_config("run/aquaplanet.yaml", **settings))


def record_physics_grids(model):
    """Wrap the model so that each step keeps (carried grid, synthesized grid) of its
    old level."""
    pairs = []
    carried = model._old_level_grid

    def both(s, now_grid, weight):
        g = carried(s, now_grid, weight)
        pairs.append(({k: v.copy() for k, v in g.items()}, model.grid_state(s)))
        return g

    model._old_level_grid = both
    return pairs


def relative_difference(a, b, floor=0.0):
    """Largest difference relative to the field's largest value (at least ``floor``: the
    winds of the resting start are zero)."""
    return float(np.abs(a - b).max() / max(np.abs(b).max(), floor))


def test_carried_old_level_is_the_synthesized_one_through_filter_and_fixers():
    model = aquaplanet()
    pairs = record_physics_grids(model)
    unfixes = []
    for _ in range(12):
        model.step()
        unfixes.append(model._old_grid.unfix)
    # the fixers changed the now level at every step from the third on (by ~1e-5 K,
    # ~1e-8 of q and ps): the carry had to undo each of them, and a missed one would
    # leave ~kappa times that, far above round-off
    assert all(u.temperature != 0.0 and u.log_pressure != 0.0 and u.humidity_factor != 1.0
               for u in unfixes[2:])
    for carried, synthesized in pairs:
        for name in ("u", "v", "T", "q", "ps"):
            floor = 1.0 if name in "uv" else 0.0
            assert relative_difference(carried[name], synthesized[name], floor) < 1e-13, name
    first_carried, first_synthesized = pairs[0]
    for name in first_carried:  # the forward step's old level is the now level: exact
        assert np.array_equal(first_carried[name], first_synthesized[name]), name


def test_filter_weight_reproduces_the_filtered_old_level():
    """kappa from the filter's two equations, on numbers: old' = now + kappa (old - 2 now
    + new'), where new' is the filtered new level."""
    nu, alpha = 0.2, 0.53
    old, now, raw = 1.7, -0.4, 2.9
    d = 0.5 * nu * (old - 2.0 * now + raw)
    next_old, next_now = now + alpha * d, raw - (1.0 - alpha) * d
    kappa = OldLevelGrid.filter_weight(nu, alpha)
    assert next_old == pytest.approx(now + kappa * (old - 2.0 * now + next_now), rel=1e-15)


def test_a_replaced_state_is_synthesized_afresh():
    model = aquaplanet()
    for _ in range(3):
        model.step()
    perturbed = model.now.copy()
    perturbed.temperature[:, 0, 0] += 1.0  # a user edits the state between steps
    model.now = perturbed
    pairs = record_physics_grids(model)
    model.step()
    model.step()
    for carried, synthesized in pairs:
        assert relative_difference(carried["T"], synthesized["T"]) < 1e-13


def test_a_restart_without_the_carried_sum_synthesizes_the_old_level():
    model = aquaplanet()
    for _ in range(3):
        model.step()
    arrays = {k: v.copy() for k, v in model.restart_arrays().items()}
    assert "old_level_grid/partial" in arrays
    older = {k: v for k, v in arrays.items() if not k.startswith("old_level_grid/")}
    resumed = aquaplanet()
    resumed.load_restart_arrays(older, model.step_count)
    pairs = record_physics_grids(resumed)
    resumed.step()
    resumed.step()
    for carried, synthesized in pairs:
        assert relative_difference(carried["u"], synthesized["u"], 1.0) < 1e-13
    assert np.array_equal(pairs[0][0]["q"], pairs[0][1]["q"])  # synthesized, not rebuilt


def test_a_restart_with_a_carried_sum_of_another_grid_is_refused():
    model = aquaplanet()
    model.step()
    model.step()
    arrays = dict(model.restart_arrays())
    arrays["old_level_grid/partial"] = arrays["old_level_grid/partial"][:, :-1]
    with pytest.raises(ValueError, match="old_level_grid/partial"):
        aquaplanet().load_restart_arrays(arrays, model.step_count)


def test_a_bad_carried_sum_in_a_restart_file_names_the_file(tmp_path):
    from gcm.io.restart import load_restart, save_restart
    from gcm.simulation import Simulation

    config = load_config("run/aquaplanet.yaml", **{
        "resolution.truncation": 21, "time.step_minutes": 30.0, "output.interval_hours": 6.0,
        "output.restart_interval_days": 0.25})
    sim = Simulation(Model(config), tmp_path / "run", progress=False)
    sim.run(0.25)
    arrays, meta = load_restart(sim.last_restart)
    arrays["old_level_grid/partial"] = arrays["old_level_grid/partial"][:-1]
    broken = tmp_path / "run" / "restart" / "broken.npz"
    save_restart(broken, arrays, meta)
    with pytest.raises(ValueError, match=f"{broken}: restart: old_level_grid/partial"):
        Simulation.from_restart(broken, progress=False)
