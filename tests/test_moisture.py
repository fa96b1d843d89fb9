"""Hole filling (gcm.moisture): non-negative humidity with the global water unchanged."""

import numpy as np
import pytest
from conftest import numba_threads

from gcm.moisture import fill_negative_humidity, hole_filling_tendency


def humid_field(seed=0, shape=(6, 8, 16)):
    """Humidity (kg kg-1) with ~15 % small negative values, layer masses (kg m-2) and
    point weights (area fractions times ps / ps0)."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.0, 0.02, shape)
    holes = rng.random(shape) < 0.15
    q[holes] = -rng.uniform(0.0, 1e-4, holes.sum())
    layer_mass = rng.uniform(0.02, 0.1, shape[0]) * 1e4
    point_weight = rng.uniform(0.5, 1.5, shape[1:]) / np.prod(shape[1:])
    return q, layer_mass, point_weight


def test_filled_humidity_is_non_negative_and_keeps_the_water():
    q, layer_mass, point_weight = humid_field()
    mass = layer_mass[:, None, None] * point_weight[None]
    filled, moved = fill_negative_humidity(q, layer_mass, point_weight)
    assert filled.min() >= 0.0
    assert filled is not q and q.min() < 0.0  # the input is left alone
    water = (q * mass).sum()
    assert abs((filled * mass).sum() - water) < 1e-14 * water
    assert moved == pytest.approx(-(q[q < 0] * mass[q < 0]).sum(), rel=1e-13)
    # the water comes from the positive values in proportion to their mass
    ratio = filled[q > 0] / q[q > 0]
    assert np.ptp(ratio) < 1e-15 and ratio[0] < 1.0


def test_nothing_negative_returns_the_field_itself():
    q, layer_mass, point_weight = humid_field()
    q = np.abs(q)
    filled, moved = fill_negative_humidity(q, layer_mass, point_weight)
    assert filled is q and moved == 0.0


def test_the_result_does_not_depend_on_the_number_of_threads():
    q, layer_mass, point_weight = humid_field(seed=3, shape=(25, 32, 64))
    with numba_threads(1):
        one, moved_one = fill_negative_humidity(q, layer_mass, point_weight)
    many, moved_many = fill_negative_humidity(q, layer_mass, point_weight)
    assert np.array_equal(one, many) and moved_one == moved_many


def test_more_holes_than_water_is_an_error_and_nan_stays_nan():
    q, layer_mass, point_weight = humid_field()
    with pytest.raises(FloatingPointError, match="negative water"):
        fill_negative_humidity(-np.abs(q) - 1e-6, layer_mass, point_weight)
    q[2, 3, 4] = np.nan
    filled, _ = fill_negative_humidity(q, layer_mass, point_weight)
    assert np.isnan(filled[2, 3, 4])


def test_mismatched_masses_are_named():
    q, layer_mass, point_weight = humid_field()
    with pytest.raises(ValueError, match="layer_mass"):
        fill_negative_humidity(q, layer_mass[:-1], point_weight)


def test_the_tendency_has_the_bits_of_numpys():
    q, layer_mass, point_weight = humid_field(seed=4, shape=(25, 32, 64))
    filled, _ = fill_negative_humidity(q, layer_mass, point_weight)
    tendency = hole_filling_tendency(filled, q, 2400.0)
    assert np.any(tendency != 0.0)
    assert np.array_equal(tendency, (filled - q) / 2400.0)
    with pytest.raises(ValueError, match=r"filled \(25, 32, 64\) and q \(25, 32, 63\)"):
        hole_filling_tendency(filled, q[..., :-1], 2400.0)
