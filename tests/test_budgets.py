"""The model's one-pass column residuals against the numpy budget formulas (the reference)."""

from dataclasses import replace

import numpy as np
import pytest

from gcm.physics.budgets import (
    column_residuals,
    energy_residual,
    energy_scale,
    water_residual,
    water_scale,
)
from gcm.physics.column import PROFILE_FIELDS, ColumnTendencies
from gcm.physics.teacher import TeacherPhysics
from gcm.physics.testing import random_columns, realistic_columns


def random_tendencies(columns, seed=3):
    """Tendencies and fluxes of realistic size that close no budget (residuals of the
    size of the terms)."""
    rng = np.random.default_rng(seed)
    shape = (columns.ncol, columns.nlev)
    return ColumnTendencies(
        temperature=rng.normal(0, 1e-4, shape), humidity=rng.normal(0, 1e-8, shape),
        u=rng.normal(0, 1e-4, shape), v=rng.normal(0, 1e-4, shape),
        **{f: rng.uniform(0, 300, columns.ncol) for f in
           ("shf", "lhf", "fsnt", "fsns", "flnt", "flns")},
        precipitation=rng.uniform(0, 1e-4, columns.ncol))


def level_major(x):
    return np.ascontiguousarray(x.T).T


@pytest.mark.parametrize("frictional_heating", [False, True])
@pytest.mark.parametrize("layout", ["C", "level_major"])
def test_column_residuals_equal_the_numpy_formulas(frictional_heating, layout):
    """Budgets that close (the teacher's) and budgets that do not (random tendencies),
    C-ordered and level-major (the model's layout)."""
    for columns in (realistic_columns(ncol=300), random_columns()):
        for out in (TeacherPhysics()(columns, 1800.0), random_tendencies(columns)):
            if layout == "level_major":
                columns, out = (replace(x, **{f: level_major(getattr(x, f))
                                              for f in PROFILE_FIELDS}) for x in (columns, out))
            energy, water = column_residuals(columns, out, frictional_heating)
            e_ref = energy_residual(columns, out, frictional_heating)
            w_ref = water_residual(columns, out)
            # the sums over levels run in another order: equal to round-off of the terms
            assert np.all(np.abs(energy - e_ref) <= 1e-12 * energy_scale(columns, out))
            assert np.all(np.abs(water - w_ref) <= 1e-12 * water_scale(columns, out))
            big = np.abs(e_ref) > 1e-3 * energy_scale(columns, out)
            np.testing.assert_allclose(energy[big], e_ref[big], rtol=1e-12)
