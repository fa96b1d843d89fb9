"""Global totals and physics sources (gcm.conservation) against the formulas of its
docstring evaluated with numpy, and the ledger against a hand-stepped leapfrog."""

import numpy as np

from gcm.conservation import Ledger, area_fraction, global_totals, physics_sources
from gcm.constants import CP, GRAVITY, LV
from gcm.gaussian_grid import gaussian_grid


def random_grid(rng, nlev=5, truncation=10):
    grid = gaussian_grid(truncation)
    shape = (nlev, grid.nlat, grid.nlon)
    fields = dict(u=rng.normal(0, 20, shape), v=rng.normal(0, 10, shape),
                  T=rng.uniform(200, 300, shape), q=rng.uniform(0, 0.02, shape),
                  ps=rng.uniform(9.5e4, 1.03e5, shape[1:]))
    thickness = rng.dirichlet(np.ones(nlev))
    return grid, fields, thickness


def test_totals_equal_the_numpy_formulas():
    rng = np.random.default_rng(1)
    grid, g, thickness = random_grid(rng)
    fraction = area_fraction(grid.weights, grid.nlon)
    phis = rng.uniform(0, 5e3, g["ps"].shape)
    totals = global_totals(g, thickness, phis, fraction)
    dm = thickness[:, None, None] * g["ps"] / GRAVITY * fraction
    enthalpy = CP * g["T"] + LV * g["q"] + 0.5 * (g["u"] ** 2 + g["v"] ** 2)
    assert np.isclose(totals.mass, (g["ps"] * fraction).sum() / GRAVITY, rtol=1e-14)
    assert np.isclose(totals.water, (g["q"] * dm).sum(), rtol=1e-13)
    expected = (enthalpy * dm).sum() + (phis * g["ps"] * fraction).sum() / GRAVITY
    assert np.isclose(totals.energy, expected, rtol=1e-13)
    assert abs(fraction.sum() * grid.nlon - 1.0) < 1e-14


def test_sources_equal_the_change_of_the_totals():
    """Tendencies applied for dt change water and energy by dt x the sources, up to the
    kinetic-energy term that is quadratic in dt."""
    rng = np.random.default_rng(2)
    grid, g, thickness = random_grid(rng)
    fraction = area_fraction(grid.weights, grid.nlon)
    phis = np.zeros(g["ps"].shape)
    tend = {name: rng.normal(0, scale, g["T"].shape)
            for name, scale in (("T", 1e-4), ("q", 1e-8), ("u", 1e-4), ("v", 1e-4))}
    water, energy = physics_sources(g, tend, thickness, fraction)
    dt = 10.0
    after = dict(g, **{name: g[name] + dt * tend[name] for name in ("T", "q", "u", "v")})
    before_totals = global_totals(g, thickness, phis, fraction)
    after_totals = global_totals(after, thickness, phis, fraction)
    dm = thickness[:, None, None] * g["ps"] / GRAVITY * fraction
    kinetic = 0.5 * dt**2 * ((tend["u"] ** 2 + tend["v"] ** 2) * dm).sum()
    assert np.isclose(after_totals.water - before_totals.water, dt * water, rtol=1e-9)
    assert np.isclose(after_totals.energy - before_totals.energy, dt * energy + kinetic,
                      rtol=1e-7)


def test_ledger_follows_a_filtered_leapfrog():
    ledger = Ledger(type("T", (), dict(mass=1.0, water=2.0, energy=3.0))())
    ledger.advance(0.5, 1.0, 10.0, None)  # forward step: new = old + dt S
    assert np.allclose(ledger.water, [2.0, 7.0])
    nu, alpha = 0.2, 0.53
    ledger.advance(0.1, 0.0, 20.0, (nu, alpha))
    new = 2.0 + 20.0 * 0.1
    d = 0.5 * nu * (2.0 - 2 * 7.0 + new)
    assert np.allclose(ledger.water, [7.0 + alpha * d, new - (1 - alpha) * d])
