"""Interpolation from sigma levels to a pressure surface: exact for fields linear in ln p,
NaN outside the column, one clear message for inputs that do not fit."""

import numpy as np
import pytest

from climnn.diagnostics.vertical_interpolation import to_pressure_level

SIGMA = np.array([0.05, 0.2, 0.45, 0.7, 0.9, 0.98])


def test_a_field_linear_in_log_pressure_is_interpolated_exactly():
    rng = np.random.default_rng(0)
    ps = rng.uniform(9.0e4, 1.03e5, (4, 6))  # Pa, (lat, lon)
    a, b = rng.uniform(200, 300, ps.shape), rng.uniform(-40, 40, ps.shape)
    pressure = SIGMA[:, None, None] * ps  # (lev, lat, lon)
    field = a + b * np.log(pressure)
    for target in (2.0e4, 5.0e4, 8.5e4):
        got = to_pressure_level(field, SIGMA, ps, target)
        np.testing.assert_allclose(got, a + b * np.log(target), rtol=1e-13)


def test_surfaces_outside_the_column_are_nan():
    ps = np.array([1.0e5, 8.0e4])
    field = np.tile(np.arange(SIGMA.size, dtype=float)[:, None], (1, 2))
    # 9.5e4 Pa lies between the lowest levels where ps = 1e5 but below the lowest
    # level (0.98 * 8e4 Pa) where ps = 8e4; 1e3 Pa lies above the top level in both.
    got = to_pressure_level(field, SIGMA, ps, 9.5e4)
    assert np.isfinite(got[0]) and 4 < got[0] < 5
    assert np.isnan(got[1])
    assert np.isnan(to_pressure_level(field, SIGMA, ps, 1.0e3)).all()


@pytest.mark.parametrize(
    ("sigma", "ps", "pressure", "message"),
    [
        (SIGMA[:-1], np.ones(3) * 1e5, 5e4, "sigma must have shape"),
        (SIGMA, np.ones(4) * 1e5, 5e4, "ps shape"),
        (SIGMA[::-1], np.ones(3) * 1e5, 5e4, "increasing"),
        (SIGMA, np.ones(3) * 1e5, 0.0, "pressure > 0"),
    ],
)
def test_inputs_that_do_not_fit_are_named(sigma, ps, pressure, message):
    field = np.zeros((SIGMA.size, 3))
    with pytest.raises(ValueError, match=message):
        to_pressure_level(field, sigma, ps, pressure)
