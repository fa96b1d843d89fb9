"""The coupling's scatter of column tendencies onto the grid (gcm.column_coupling): no
copy for level-major tendencies (the teacher's), a level-major copy otherwise."""

import numpy as np
import pytest

from gcm.column_coupling import ColumnCoupling
from gcm.conservation import area_fraction
from gcm.gaussian_grid import gaussian_grid
from gcm.sigma_coordinates import sigma_coordinates


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


def test_a_schemes_own_diagnostics_must_be_the_names_it_declares():
    from gcm.physics import column as protocol
    from gcm.physics.column import ColumnScheme

    class Declares(ColumnScheme):
        diagnostic_attrs = {"x_fix": {"long_name": "x", "units": "W m-2"}}

        def step_diagnostics(self):
            return {"y_fix": 1.0}

    with pytest.raises(ValueError, match=r"gave \['y_fix'\].*declare \['x_fix'\]"):
        protocol.step_diagnostics(Declares())
    assert protocol.step_diagnostics(ColumnScheme()) == {}
