"""The coupling's copies between the grid and the columns (gcm.column_coupling) against
the numpy expressions they replace, bit for bit."""

import numpy as np
import pytest

from gcm.column_coupling import ColumnCoupling, level_pressures, levels_from_columns
from gcm.conservation import area_fraction
from gcm.gaussian_grid import gaussian_grid
from gcm.sigma_coordinates import sigma_coordinates


def test_pressures_are_numpys_broadcast_products():
    rng = np.random.default_rng(0)
    sigma = sigma_coordinates("frierson_l25", 25)
    ps = rng.uniform(9.5e4, 1.03e5, 1000)
    pressure, pressure_half = level_pressures(sigma.full, sigma.half, ps)
    assert np.array_equal(pressure, sigma.full[:, None] * ps[None, :])
    assert np.array_equal(pressure_half, sigma.half[:, None] * ps[None, :])


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_levels_from_columns_is_the_transposed_copy(layout):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1000, 7))  # 1000: not a whole number of blocks
    x = {"C": x, "F": np.asfortranarray(x), "strided": rng.normal(size=(2000, 7))[::2]}[layout]
    levels = levels_from_columns(x)
    assert levels.flags.c_contiguous
    assert np.array_equal(levels, np.ascontiguousarray(x.T))


def test_scatter_copies_only_columns_that_are_not_level_major():
    grid = gaussian_grid(10)
    lat2d, lon2d = np.meshgrid(np.deg2rad(grid.lat), np.deg2rad(grid.lon), indexing="ij")
    coupling = ColumnCoupling(sigma_coordinates("equal", 4), lat2d, lon2d,
                              area_fraction(grid.weights, grid.nlon), None, {})
    rng = np.random.default_rng(2)
    level_major = rng.normal(size=(4, lat2d.size)).T
    column_major = np.ascontiguousarray(level_major)
    for x, shared in ((level_major, True), (column_major, False)):
        grid_field = coupling.scatter(x)
        assert grid_field.shape == (4, *lat2d.shape)
        assert np.shares_memory(grid_field, x) == shared
        assert np.array_equal(grid_field.reshape(4, -1), x.T)
