"""The column-physics contract (gcm.physics.testing.check_scheme) for every scheme, and
the check failing on schemes broken on purpose."""

from dataclasses import replace

import numpy as np
import pytest

from gcm.physics import HeldSuarez, NoPhysics
from gcm.physics.column import ColumnScheme, ColumnTendencies
from gcm.physics.teacher import TeacherPhysics
from gcm.physics.testing import check_scheme, contract_column_sets, realistic_columns

DT = 3600.0  # a leapfrog interval of two 30-minute steps, s

SCHEMES = {
    "held_suarez": HeldSuarez,
    "none": NoPhysics,
    "teacher": TeacherPhysics,
    **{name: cls for name, cls in TeacherPhysics.CLASSES.items()},
}


@pytest.mark.parametrize("column_set", list(contract_column_sets()))
@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_every_scheme_keeps_the_contract(scheme, column_set):
    columns = contract_column_sets()[column_set]
    out = check_scheme(SCHEMES[scheme](), columns, DT)
    assert out.temperature.shape == (columns.ncol, columns.nlev)


def test_each_teacher_scheme_and_the_suite_have_their_names():
    suite = TeacherPhysics()
    assert suite.name == "teacher" and HeldSuarez().name == "held_suarez"
    assert [s.name for s in suite.schemes.values()] == list(TeacherPhysics.ORDER)


# --------------------------------------------------------------- broken on purpose
class Broken(ColumnScheme):
    """The teacher's tendencies, spoiled by ``spoil(columns, out)``."""

    name = "broken"
    frictional_heating = True

    def __init__(self, spoil, closes_budgets=True):
        self.teacher, self.spoil = TeacherPhysics(), spoil
        self.closes_budgets = closes_budgets

    def __call__(self, columns, dt):
        return self.spoil(columns, self.teacher(columns, dt))


def wrong_shape(columns, out):
    return replace(out, precipitation=out.precipitation[:-1])


def a_nan(columns, out):
    out.temperature[3, 5] = np.nan
    return out


def leaks_energy(columns, out):
    out.shf += 1.0  # 1 W m-2 more through the surface than the column took in
    return out


def order_dependent(columns, out):
    # depends on the position; checked without the budgets, which this would fail first
    out.temperature += 1e-6 * np.arange(columns.ncol)[:, None]
    return out


def humidity_in_grams(columns, out):
    out.humidity *= 1000.0  # g kg-1 s-1 instead of kg kg-1 s-1
    return out


def not_tendencies(columns, out):
    return out.temperature


def float32(columns, out):
    return replace(out, u=out.u.astype(np.float32))


def writes_its_input(columns, out):
    columns.temperature[0, 0] += 1.0
    return out


@pytest.mark.parametrize("spoil, message", [
    (wrong_shape, r"precipitation has shape \(63,\), the columns need \(64,\)"),
    (a_nan, r"temperature is not finite in 1 entries \(first at \[3, 5\]\)"),
    (leaks_energy, r"says it closes the column budgets, but the energy residual of "
                   r"column \d+ is -1 W m-2"),
    (order_dependent, "temperature of permuted columns is not the permuted temperature"),
    (humidity_in_grams, r"\|humidity\| reaches .*implausible in SI units"),
    (not_tendencies, "returned a ndarray, not a ColumnTendencies"),
    (float32, "u is float32, not float64"),
    (writes_its_input, "the scheme changed its input columns.temperature"),
])
def test_check_scheme_fails_on_a_broken_scheme(spoil, message):
    scheme = Broken(spoil, closes_budgets=spoil is not order_dependent)
    with pytest.raises(AssertionError, match=f"^broken: {message}"):
        check_scheme(scheme, realistic_columns(), DT)


def test_the_unspoiled_scheme_passes():
    check_scheme(Broken(lambda columns, out: out), realistic_columns(), DT)


class ForgetsItsState(ColumnScheme):
    """Stateful, but load_state_arrays restores nothing: the next call differs."""

    name = "forgetful"
    closes_budgets = False

    def __init__(self):
        self.calls = np.zeros(1)

    def __call__(self, columns, dt):
        self.calls += 1.0
        out = ColumnTendencies.zeros(columns.ncol, columns.nlev)
        out.temperature[:] = 1e-6 * self.calls[0]
        return out

    def state_arrays(self):
        return {"calls": self.calls}


def test_check_scheme_fails_on_a_state_that_does_not_round_trip():
    with pytest.raises(AssertionError, match="^forgetful: a call after load_state_arrays"):
        check_scheme(ForgetsItsState(), realistic_columns(), DT)
