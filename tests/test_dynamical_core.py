"""Steady states and the linear operators of the primitive-equation core."""

import numpy as np

from gcm.model import Model
from gcm.primitive_equations import grid_tendencies


def run_days(model, days):
    for _ in range(int(round(days * 86400 / model.dt))):
        model.step()
    return model.grid_state()


def test_isothermal_rest_stays_at_rest(make_config):
    model = Model(make_config("rest", temperature=250.0))
    g = run_days(model, 3)
    assert np.abs(g["u"]).max() < 1e-9
    assert np.abs(g["v"]).max() < 1e-9
    assert np.abs(g["T"] - 250.0).max() < 1e-9
    assert np.abs(g["ps"] / 1e5 - 1.0).max() < 1e-12


def test_solid_body_rotation_in_balance_stays_steady(make_config):
    model = Model(make_config("solid_body", truncation=31, levels=10, wind=30.0,
                              temperature=280.0))
    g0 = model.grid_state()
    g = run_days(model, 5)
    assert np.abs(g["u"] - g0["u"]).max() < 1e-6  # m/s, against 30 m/s
    assert np.abs(g["v"]).max() < 1e-6
    assert np.abs(g["ps"] - g0["ps"]).max() < 1e-3  # Pa
    assert np.abs(g["T"] - 280.0).max() < 1e-6


def test_semi_implicit_matrix_matches_the_grid_kernel(make_config):
    """The implicit temperature operator H must be exactly the linear part of the
    explicit kernel: at T = T_ref, u = v = 0, dT/dt = -H D in every column."""
    model = Model(make_config("rest", levels=12))
    nlev, nlat, nlon = model.sigma.nlev, model.grid.nlat, model.grid.nlon
    rng = np.random.default_rng(1)
    div = rng.normal(size=(nlev, nlat, nlon)) * 1e-5
    zeros3 = np.zeros((nlev, nlat, nlon))
    zeros2 = np.zeros((nlat, nlon))
    A, B = np.empty_like(zeros3), np.empty_like(zeros3)
    FX, FY = np.empty((2 * nlev, nlat, nlon)), np.empty((2 * nlev, nlat, nlon))
    S = np.empty((3 * nlev + 1, nlat, nlon))
    vo, dyn = model.vertical, model.dynamics
    grid_tendencies(zeros3, zeros3, zeros3, div, zeros3, zeros3, zeros2, zeros2,
                    dyn.coriolis, dyn.one_minus_mu2, vo.thickness, vo.half, vo.alpha,
                    vo.log_ratio, vo.reference_temperature, vo.gas_constant, vo.kappa,
                    A, B, FX, FY, S, zeros3, zeros3, zeros3, zeros3, False, False)
    H = vo.temperature_matrix()
    expected = -np.tensordot(H, div, axes=1)
    np.testing.assert_allclose(S[nlev:2 * nlev], expected, rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(S[3 * nlev], -np.tensordot(vo.thickness, div, axes=1),
                               rtol=1e-12, atol=1e-20)


def test_hydrostatic_matrix_is_exact_for_isothermal_columns(make_config):
    """Phi_k = R T ln(1/sigma_k) for an isothermal column on the model's full levels."""
    model = Model(make_config("rest", levels=20))
    from gcm.constants import RD

    G = model.sigma.geopotential_matrix(RD)
    phi = G @ np.full(20, 250.0)
    np.testing.assert_allclose(phi, RD * 250.0 * np.log(1.0 / model.sigma.full), rtol=1e-13)


def test_humidity_tracer_is_conserved_by_advection(make_config):
    """Global water mass (integral of q dp/g) changes only at round-off without physics
    in a baroclinic flow."""
    model = Model(make_config("jablonowski_williamson", truncation=21, levels=10,
                              perturbation=1.0, humidity=0.005))
    def water(m):
        g = m.grid_state()
        w = m.grid.weights[:, None] / (2 * m.grid.nlon)
        dp = m.sigma.thickness[:, None, None] * g["ps"][None]
        return float((g["q"] * dp * w).sum())
    w0 = water(model)
    run_days(model, 3)
    assert abs(water(model) / w0 - 1) < 1e-6
