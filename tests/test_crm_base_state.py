"""The CRM's hydrostatic base state against closed forms."""

import numpy as np

from gcm.constants import CP, GRAVITY, P0, RD
from gcm.crm import BaseState, CrmGrid


def test_constant_theta_exner_is_linear_and_density_ideal_gas():
    grid = CrmGrid(8, 32, 1000.0, 200.0)
    base = BaseState.constant_theta(grid, 300.0)
    assert np.allclose(base.pi_c, 1 - GRAVITY * grid.z_centres / (CP * 300.0), rtol=1e-12)
    pressure = P0 * base.pi_c ** (CP / RD)
    assert np.allclose(base.rho_c, pressure / (RD * base.t_c), rtol=1e-12)
    assert np.allclose(base.s_c, base.s_c[0], rtol=1e-12)  # neutral: dry static energy uniform


def test_isothermal_base_state_is_isothermal():
    grid = CrmGrid(8, 20, 1000.0, 1000.0)
    base = BaseState.isothermal(grid, 250.0)
    assert np.allclose(base.t_c, 250.0, rtol=1e-9)
    assert np.allclose(base.rho_f[1:] / base.rho_f[:-1], np.exp(-GRAVITY * 1000.0 / (RD * 250.0)),
                       rtol=1e-9)
