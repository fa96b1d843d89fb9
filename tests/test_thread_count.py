"""A moist model's steps are bitwise the same on one thread and on all: every sum the
fixers or the diagnostics act on has an order that does not depend on the threads."""

import numba
import numpy as np
import pytest
from conftest import numba_threads, small_config

from gcm.conservation import area_fraction, global_totals, physics_sources
from gcm.gaussian_grid import gaussian_grid
from gcm.model import Model

pytestmark = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                reason="needs numba with at least 2 threads")


def moist_run(threads: int, steps: int = 6) -> tuple[dict, dict]:
    """Restart arrays and interval means of a short moist T21 run with the teacher (hole
    filling, fixers and budget diagnostics on) on ``threads`` threads."""
    cfg = small_config("rest", scheme="teacher", temperature=285.0, humidity=0.005,
                       perturbation=1.0, step_minutes=30.0)
    with numba_threads(threads):
        model = Model(cfg)
        g = model.grid_state()
        g["q"][:] = 0.0  # moist spots in dry air: the truncated field has holes to fill
        g["q"][:, 1::4, ::8] = 0.01
        model.now = model.state_from_grid(**g)
        for _ in range(steps):
            model.step()
        return model.restart_arrays(), model.means.means()


def test_a_moist_run_is_bitwise_the_same_on_one_and_two_threads():
    one, one_means = moist_run(1)
    two, two_means = moist_run(2)
    assert one.keys() == two.keys() and one_means.keys() == two_means.keys()
    assert one_means["hole_filling"] > 0.0 and one_means["physics_energy_residual"] > 0.0
    for name in one:
        assert np.array_equal(one[name], two[name]), name
    for name in one_means:
        assert np.array_equal(one_means[name], two_means[name]), name


def test_global_sums_do_not_depend_on_the_threads():
    rng = np.random.default_rng(5)
    grid = gaussian_grid(42)
    shape = (25, grid.nlat, grid.nlon)
    g = dict(u=rng.normal(0, 20, shape), v=rng.normal(0, 10, shape),
             T=rng.uniform(200, 300, shape), q=rng.uniform(0, 0.02, shape),
             ps=rng.uniform(9.5e4, 1.03e5, shape[1:]))
    tend = {name: rng.normal(0, 1e-4, shape) for name in ("T", "q", "u", "v")}
    thickness = rng.dirichlet(np.ones(shape[0]))
    fraction = area_fraction(grid.weights, grid.nlon)
    phis = rng.uniform(0, 5e3, shape[1:])

    def sums():
        totals = global_totals(g, thickness, phis, fraction)
        return (totals.mass, totals.water, totals.energy,
                *physics_sources(g, tend, thickness, fraction))

    with numba_threads(1):
        one = sums()
    assert sums() == one
