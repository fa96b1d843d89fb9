"""The teacher suite: budgets of the composed schemes and its bookkeeping."""

from dataclasses import replace

import numpy as np
import pytest

from gcm.constants import CP
from gcm.physics.budgets import energy_residual, energy_scale, water_residual, water_scale
from gcm.physics.column import PROFILE_FIELDS, ColumnTendencies
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


def sequential_splitting(schemes, columns, dt):
    """The suite written out plainly, as the teacher computed it before its buffers and
    fused kernels: each scheme called on its own (new zero tendencies), every tendency
    added in full, and (total, breakdown)."""
    state = replace(columns, **{f: np.array(getattr(columns, f)) for f in PROFILE_FIELDS})
    total = ColumnTendencies.zeros(columns.ncol, columns.nlev)
    breakdown = {}
    for name in TeacherPhysics.ORDER:
        out = breakdown[name] = schemes[name](state, dt)
        for f in PROFILE_FIELDS:
            getattr(state, f)[...] += dt * getattr(out, f)
            getattr(total, f)[...] += getattr(out, f)
        for f in SURFACE_FIELDS:
            getattr(total, f)[...] += getattr(out, f)
    heating = ColumnTendencies.zeros(columns.ncol, columns.nlev)
    heating.temperature[...] = -(columns.u * total.u + columns.v * total.v) / CP
    breakdown["frictional_heating"] = heating
    total.temperature += heating.temperature
    return total, breakdown


def level_major(columns):
    """The columns with profiles laid out level after level, as the model's views."""
    return replace(columns, **{f: np.ascontiguousarray(getattr(columns, f).T).T
                               for f in PROFILE_FIELDS})


def with_negative_zeros(columns):
    """The columns with -0.0 in some winds and humidities (x + 0.0 turns them to 0.0)."""
    c = replace(columns, **{f: np.array(getattr(columns, f)) for f in PROFILE_FIELDS})
    c.u[:, ::3] = -0.0
    c.v[::2, 4:] = -0.0
    c.humidity[1::4, :6] = -0.0
    return c


def same_bits(a, b):
    return a.shape == b.shape and np.array_equal(np.asarray(a, dtype=np.float64).view(np.uint64),
                                                 np.asarray(b, dtype=np.float64).view(np.uint64))


@pytest.mark.parametrize("parameters", [{}, {"boundary_layer": {"k_profile": "reed_jablonowski"}}],
                         ids=["frierson", "reed_jablonowski"])
def test_suite_has_the_bits_of_plain_sequential_splitting(parameters):
    """One suite fed different columns in turn (so its buffers hold the last call's
    results), C-ordered and level-major, with -0.0 entries: totals and breakdown equal,
    bit for bit, to adding every scheme's full tendencies; and earlier results stay."""
    teacher, reference = TeacherPhysics(**parameters), TeacherPhysics(**parameters)
    inputs = [realistic_columns(seed=0), realistic_columns(seed=1, relative_humidity=0.95),
              random_columns()]
    inputs += [level_major(c) for c in inputs] + [with_negative_zeros(inputs[0]),
                                                   level_major(with_negative_zeros(inputs[1]))]
    kept = []
    for columns, dt in zip(inputs + inputs[::-1], [1800.0, 600.0] * len(inputs), strict=True):
        out = teacher(columns, dt)
        expected, breakdown = sequential_splitting(reference.schemes, columns, dt)
        for field in PROFILE_FIELDS + SURFACE_FIELDS:
            assert same_bits(getattr(out, field), getattr(expected, field)), field
        assert list(teacher.breakdown) == list(breakdown)
        for name, part in breakdown.items():
            for field in PROFILE_FIELDS + SURFACE_FIELDS:
                assert same_bits(getattr(teacher.breakdown[name], field),
                                 getattr(part, field)), (name, field)
        kept.append((out, expected))
    for out, expected in kept:  # later calls left the returned tendencies alone
        assert all(same_bits(getattr(out, f), getattr(expected, f))
                   for f in PROFILE_FIELDS + SURFACE_FIELDS)


@pytest.mark.parametrize("name", TeacherPhysics.ORDER)
def test_scheme_writes_into_a_used_buffer_as_into_new_zeros(name):
    """``out=`` holding the scheme's results for other columns gives the results of a
    call without it: every entry the scheme may write is overwritten (gcm.physics.column)."""
    scheme = TeacherPhysics().schemes[name]
    columns, other = realistic_columns(seed=2), realistic_columns(seed=3, relative_humidity=0.95)
    expected = scheme(columns, 1800.0)
    buffer = scheme(other, 600.0)
    out = scheme(columns, 1800.0, out=buffer)
    assert out is buffer
    for field in PROFILE_FIELDS + SURFACE_FIELDS:
        assert same_bits(getattr(out, field), getattr(expected, field)), field


def test_scheme_out_of_the_wrong_shape_is_named():
    columns = realistic_columns()
    wrong = ColumnTendencies.zeros(columns.ncol, columns.nlev + 1)
    with pytest.raises(ValueError, match="BoundaryLayer: out.temperature has shape"):
        TeacherPhysics().schemes["boundary_layer"](columns, 600.0, out=wrong)
