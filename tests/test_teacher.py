"""The teacher suite: budgets of the composed schemes and its bookkeeping."""

import numpy as np
import pytest

from gcm.physics.budgets import energy_residual, energy_scale, water_residual, water_scale
from gcm.physics.column import PROFILE_FIELDS
from gcm.physics.teacher import SURFACE_FIELDS, TeacherPhysics
from gcm.physics.testing import random_columns, realistic_columns


@pytest.mark.parametrize("columns", [realistic_columns(), realistic_columns(relative_humidity=0.95),
                                     random_columns()], ids=["realistic", "moist", "random"])
@pytest.mark.parametrize("dt", [600.0, 3600.0])
def test_suite_closes_column_budgets_to_round_off(columns, dt):
    teacher = TeacherPhysics()
    out = teacher(columns, dt)
    e = energy_residual(columns, out, frictional_heating=True) / energy_scale(columns, out)
    w = water_residual(columns, out) / water_scale(columns, out)
    assert np.abs(e).max() < 1e-12
    assert np.abs(w).max() < 1e-12
    assert (columns.humidity + dt * out.humidity).min() >= 0.0
    assert (out.precipitation >= 0).all()


def test_suite_is_the_sum_of_its_schemes_plus_frictional_heating():
    columns = realistic_columns(relative_humidity=0.95)
    teacher = TeacherPhysics()
    out = teacher(columns, 1800.0)
    assert list(teacher.breakdown) == list(TeacherPhysics.ORDER) + ["frictional_heating"]
    for field in PROFILE_FIELDS + SURFACE_FIELDS:
        total = sum(getattr(t, field) for t in teacher.breakdown.values())
        np.testing.assert_allclose(getattr(out, field), total, rtol=1e-13, atol=1e-300)
    # drag and implicit diffusion remove kinetic energy from every column (locally,
    # diffusion may accelerate a layer), and it comes back as heat
    heating = teacher.breakdown["frictional_heating"].temperature
    column_heating = (heating * columns.thickness).sum(axis=1)
    assert (column_heating >= -1e-12 * np.abs(heating * columns.thickness).sum(axis=1)).all()
    assert column_heating.sum() > 0
    assert out.precipitation.max() > 0 and out.lhf.mean() > 0 and out.flnt.mean() > 150


def test_unknown_scheme_parameter_names_the_scheme():
    with pytest.raises(TypeError, match="convection"):
        TeacherPhysics(convection={"tau": 1.0})
    with pytest.raises(TypeError, match="unknown teacher scheme"):
        TeacherPhysics(convetcion={})
