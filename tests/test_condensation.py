"""Large-scale condensation with re-evaporation (Frierson et al. 2006, Isca lscale_cond):
the saturation adjustment, re-evaporation below, column budgets."""

from dataclasses import replace

import numpy as np
import pytest

from gcm.constants import CP, GRAVITY, LV
from gcm.physics import budgets
from gcm.physics.column import ColumnState
from gcm.physics.condensation import LargeScaleCondensation
from gcm.physics.saturation import (
    saturation_specific_humidity,
    saturation_specific_humidity_derivative,
)
from gcm.physics.testing import (
    assert_column_budgets_close,
    random_columns,
    realistic_columns,
    set_relative_humidity,
)

DT = 1800.0  # s


def layers(T, rh, p_half):
    """One column with the given layer temperatures (K), relative humidities and
    interface pressures (Pa)."""
    T = np.asarray(T, dtype=float)[None, :]
    p_half = np.asarray(p_half, dtype=float)[None, :]
    p = 0.5 * (p_half[:, 1:] + p_half[:, :-1])
    q = np.asarray(rh, dtype=float)[None, :] * saturation_specific_humidity(T, p)
    one = np.ones(1)
    return ColumnState(temperature=T, humidity=q, u=np.zeros_like(T), v=np.zeros_like(T),
                       pressure=p, pressure_half=p_half, surface_pressure=p_half[:, -1],
                       sst=300.0 * one, insolation=0.0 * one, latitude=0.0 * one,
                       longitude=0.0 * one, time=0.0)


def after(columns, out):
    return columns.temperature + out.temperature * DT, columns.humidity + out.humidity * DT


def relative_humidity(T, q, p):
    return q / saturation_specific_humidity(T, p)


@pytest.mark.parametrize("rh, tolerance", [(1.05, 2e-7), (1.3, 2e-4)])
def test_supersaturated_layers_end_at_saturation(rh, tolerance):
    """Two Newton iterations: within `tolerance` of saturation (relative), never above."""
    columns = set_relative_humidity(realistic_columns(64, seed=7), rh)
    supersaturated = columns.pressure >= 1e4
    out = LargeScaleCondensation(reevaporation=False)(columns, DT)
    T, q = after(columns, out)
    excess = relative_humidity(T, q, columns.pressure) - 1.0
    assert np.all(np.abs(excess[supersaturated]) < tolerance)
    assert np.all(excess[supersaturated] <= 1e-12)
    assert np.all(out.humidity[supersaturated] < 0.0)
    assert np.all(out.temperature[supersaturated] > 0.0)
    np.testing.assert_allclose(out.temperature, -(LV / CP) * out.humidity, rtol=1e-15)


def test_one_iteration_is_the_linearized_adjustment():
    """newton_iterations=1: dq = (q_s - q) / (1 + (Lv/cp) dq_s/dT), over dt."""
    columns = set_relative_humidity(realistic_columns(32, seed=8), 1.2)
    out = LargeScaleCondensation(newton_iterations=1, reevaporation=False)(columns, DT)
    T, p, q = columns.temperature, columns.pressure, columns.humidity
    qs = saturation_specific_humidity(T, p)
    dq = np.where(q > qs, (qs - q) / (1.0 + LV / CP * saturation_specific_humidity_derivative(
        T, p)), 0.0)
    np.testing.assert_allclose(out.humidity * DT, dq, rtol=1e-12, atol=1e-20)


def test_saturation_threshold_sets_the_target_relative_humidity():
    columns = set_relative_humidity(realistic_columns(16, seed=9), 0.9)
    out = LargeScaleCondensation(saturation_threshold=0.8, reevaporation=False,
                                 newton_iterations=4)(columns, DT)
    T, q = after(columns, out)
    troposphere = columns.pressure >= 1e4
    np.testing.assert_allclose(relative_humidity(T, q, columns.pressure)[troposphere], 0.8,
                               rtol=1e-10)


def test_an_undersaturated_column_is_left_alone():
    columns = realistic_columns(64)  # relative humidity 0.3-1.0, below saturation
    assert np.all(columns.humidity < saturation_specific_humidity(columns.temperature,
                                                                  columns.pressure))
    out = LargeScaleCondensation()(columns, DT)
    for field in (out.temperature, out.humidity, out.precipitation):
        assert np.all(field == 0.0)


def test_precipitation_partly_reevaporates_in_a_dry_layer_below():
    """A supersaturated layer over a dry one: the lower layer is cooled and moistened, and
    less reaches the surface than condensed above; without re-evaporation all of it."""
    columns = layers([270.0, 285.0], [1.2, 0.5], [5e4, 8e4, 8.5e4])
    out = LargeScaleCondensation()(columns, DT)
    no_evap = LargeScaleCondensation(reevaporation=False)(columns, DT)
    mass = columns.thickness / GRAVITY
    condensed = -out.humidity[0, 0] * mass[0, 0]
    assert condensed > 0.0
    assert no_evap.precipitation[0] == pytest.approx(condensed, rel=1e-14)
    assert 0.0 < out.precipitation[0] < condensed
    assert out.humidity[0, 1] > 0.0 and out.temperature[0, 1] < 0.0
    T, q = after(columns, out)
    assert relative_humidity(T, q, columns.pressure)[0, 1] <= 1.0 + 1e-12
    assert out.humidity[0, 1] * mass[0, 1] == pytest.approx(condensed - out.precipitation[0],
                                                            rel=1e-12)


def test_reevaporation_stops_at_saturation():
    """Heavy rain into a nearly saturated layer: that layer ends at (not above) saturation
    and the rest of the rain reaches the surface; rain into a thick dry layer evaporates
    completely, leaving zero (not negative) precipitation."""
    wet_below = layers([250.0, 295.0], [1.5, 0.99], [3e4, 9.9e4, 1e5])
    out = LargeScaleCondensation()(wet_below, DT)
    T, q = after(wet_below, out)
    rh_below = relative_humidity(T, q, wet_below.pressure)[0, 1]
    assert 1.0 - 1e-6 < rh_below <= 1.0 + 1e-12
    assert out.precipitation[0] > 0.0
    dry_below = layers([250.0, 300.0], [1.05, 0.1], [4e4, 4.1e4, 1e5])
    out = LargeScaleCondensation()(dry_below, DT)
    assert out.humidity[0, 0] < 0.0 < out.humidity[0, 1]
    assert out.precipitation[0] == 0.0
    assert budgets.water_residual(dry_below, out)[0] == pytest.approx(0.0, abs=1e-22)


def extreme_cases():
    cold = realistic_columns(32, seed=5)
    cold.temperature = np.maximum(cold.temperature - 70.0, 150.0)
    set_relative_humidity(cold, np.linspace(0.5, 1.5, cold.nlev))
    dry = realistic_columns(32, seed=6)
    dry.humidity[:] = 0.0
    return {
        "random": random_columns(256),
        "realistic": realistic_columns(128),
        "saturated": realistic_columns(64, relative_humidity=1.0, seed=2),
        "supersaturated": set_relative_humidity(realistic_columns(64, seed=4), 1.3),
        "alternating": set_relative_humidity(
            realistic_columns(64, seed=3), np.where(np.arange(25) % 3 == 0, 1.4, 0.4)),
        "bone_dry": dry,
        "very_cold": cold,
    }


@pytest.mark.parametrize("reevaporation", [True, False])
@pytest.mark.parametrize("case", list(extreme_cases()))
def test_budgets_close_and_humidity_stays_non_negative(case, reevaporation):
    columns = extreme_cases()[case]
    out = LargeScaleCondensation(reevaporation=reevaporation)(columns, DT)
    assert_column_budgets_close(columns, out)
    T, q = after(columns, out)
    assert np.all(q >= 0.0)
    # nothing ends supersaturated: neither condensing layers nor re-evaporation below
    qs = saturation_specific_humidity(T, columns.pressure)
    meaningful = (qs > 0.0) & (qs < 1.0)
    assert np.all(q[meaningful] <= qs[meaningful] * (1.0 + 1e-10))
    for field in (out.u, out.v, out.shf, out.lhf, out.fsnt, out.fsns, out.flnt, out.flns):
        assert np.all(field == 0.0)
    if case in ("random", "supersaturated", "alternating", "very_cold"):
        assert np.any(out.precipitation > 0.0)


def test_invalid_parameters_are_refused():
    with pytest.raises(ValueError, match="saturation_threshold"):
        LargeScaleCondensation(saturation_threshold=0.0)
    with pytest.raises(ValueError, match="newton_iterations"):
        LargeScaleCondensation(newton_iterations=0)


def test_the_models_transposed_views_give_the_same_tendencies():
    """Blocks of columns go down level by level; the model's (ncol, nlev) views of
    level-major memory must give exactly the result of C-ordered arrays."""
    columns = set_relative_humidity(realistic_columns(70, seed=3),
                                    np.where(np.arange(25) % 3 == 0, 1.4, 0.4))
    views = replace(columns, **{name: np.asfortranarray(getattr(columns, name))
                                for name in ("temperature", "humidity")})
    scheme = LargeScaleCondensation()
    reference = scheme(columns, DT)
    assert np.any(reference.precipitation > 0.0)
    out = scheme(views, DT)
    for name in ("temperature", "humidity", "precipitation"):
        assert np.array_equal(getattr(out, name), getattr(reference, name)), name
