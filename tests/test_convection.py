"""Simplified Betts-Miller convection (Frierson 2007): the parcel ascent, when it
convects and what that does, relaxation to the reference profiles, column budgets."""

from dataclasses import fields, replace

import numpy as np
import pytest

from gcm.constants import CP, GRAVITY, KAPPA, LV, RD
from gcm.physics.column import ColumnState
from gcm.physics.convection import (
    DEEP,
    NO_CONVECTION,
    SHALLOW,
    BettsMillerConvection,
    lifting_condensation_level,
    pseudoadiabat,
)
from gcm.physics.saturation import saturation_specific_humidity
from gcm.physics.testing import (
    assert_column_budgets_close,
    random_columns,
    realistic_columns,
    set_relative_humidity,
)

DT = 1800.0  # s


def moist_tropics(ncol=64):
    """Realistic soundings, RH 0.95 in the lowest 15% of the atmosphere and 0.9 above."""
    columns = realistic_columns(ncol, relative_humidity=1.0, seed=3)
    sigma = columns.pressure / columns.surface_pressure[:, None]
    return set_relative_humidity(columns, np.where(sigma > 0.85, 0.95, 0.9))


def single_column(T, q, ps=1e5, nlev=None):
    """One column on equally spaced sigma levels with temperature T and humidity q."""
    T = np.atleast_2d(np.asarray(T, dtype=float))
    q = np.broadcast_to(np.atleast_2d(np.asarray(q, dtype=float)), T.shape).copy()
    nlev = T.shape[1]
    half = np.linspace(0.0, 1.0, nlev + 1) * ps
    full = 0.5 * (half[1:] + half[:-1])
    one = np.ones(1)
    return ColumnState(temperature=T, humidity=q, u=np.zeros_like(T), v=np.zeros_like(T),
                       pressure=full[None, :], pressure_half=half[None, :],
                       surface_pressure=ps * one, sst=300.0 * one, insolation=0.0 * one,
                       latitude=0.0 * one, longitude=0.0 * one, time=0.0)


def column_mass_weighted(x, columns):
    return (x * columns.thickness).sum(axis=1) / GRAVITY


@pytest.mark.parametrize("t0", [250.0, 280.0, 300.0, 310.0])
@pytest.mark.parametrize("rh", [0.1, 0.5, 0.95])
def test_lifting_condensation_level_is_where_the_dry_adiabat_saturates(t0, rh):
    p0 = 1e5
    q0 = rh * saturation_specific_humidity(t0, p0)
    t_lcl, p_lcl = lifting_condensation_level(t0, q0, p0, 100.0)
    assert p_lcl < p0
    np.testing.assert_allclose(t_lcl, t0 * (p_lcl / p0) ** KAPPA, rtol=1e-13)
    np.testing.assert_allclose(saturation_specific_humidity(t_lcl, p_lcl), q0, rtol=1e-10)


def test_a_very_dry_parcel_has_no_condensation_level_inside_the_model():
    t_lcl, p_lcl = lifting_condensation_level(300.0, 1e-8, 1e5, 5e4)
    assert p_lcl == 0.0
    assert t_lcl == pytest.approx(300.0 * 0.5**KAPPA, rel=1e-14)


def test_pseudoadiabat_conserves_moist_static_energy():
    """cp T + Phi + Lv q_s is the invariant of the pseudo-adiabat (hydrostatic
    dPhi = -Rd T dln p); Phi here comes from an independent trapezoidal integration."""
    p = np.geomspace(1e5, 1.5e4, 3001)
    T = np.empty_like(p)
    T[0] = 300.0
    for j in range(1, p.size):
        T[j] = pseudoadiabat(T[j - 1], p[j - 1], p[j])
    phi = np.concatenate([[0.0], np.cumsum(-RD * 0.5 * (T[1:] + T[:-1]) * np.diff(np.log(p)))])
    h = CP * T + phi + LV * saturation_specific_humidity(T, p)
    assert T[0] - T[-1] > 60.0  # it did cool a lot
    assert np.ptp(h) < 0.1  # J/kg, against h ~ 3.4e5 J/kg
    # one long call (RK4 steps of 0.1 in ln p) agrees with the chain of short ones
    assert pseudoadiabat(300.0, 1e5, 1.5e4) == pytest.approx(T[-1], abs=1e-4)


def test_no_convection_in_stable_or_dry_columns():
    scheme = BettsMillerConvection()
    nlev = 20
    isothermal = single_column(np.full(nlev, 250.0), 0.0)
    set_relative_humidity(isothermal, 0.9)
    warm = realistic_columns(8, relative_humidity=0.8)
    inversion = single_column(np.linspace(260.0, 300.0, nlev), 0.0)  # warming downwards less
    inversion.temperature[0, -4:] = [290.0, 292.0, 294.0, 285.0]  # cold surface air
    set_relative_humidity(inversion, 0.9)
    dry = realistic_columns(8)
    dry.humidity[:] = 0.0  # conditionally unstable temperatures but no water at all
    for columns in (isothermal, inversion, dry):
        out, diag = scheme.diagnose(columns, DT)
        assert np.all(diag.kind == NO_CONVECTION)
        for field in (out.temperature, out.humidity, out.precipitation):
            assert np.all(field == 0.0)
    # the warm moist soundings, by contrast, do convect somewhere
    assert np.any(scheme.diagnose(warm, DT)[1].kind != NO_CONVECTION)


def test_deep_convection_warms_the_free_troposphere_dries_and_precipitates():
    columns = moist_tropics()
    out, diag = BettsMillerConvection().diagnose(columns, DT)
    tropics = np.abs(columns.latitude) < np.deg2rad(25.0)
    assert np.all(diag.cape[tropics] > 0.0)
    assert np.all(diag.kind[tropics] != NO_CONVECTION)
    deep = tropics & (diag.kind == DEEP)
    assert deep.sum() >= 3
    sigma = columns.pressure / columns.surface_pressure[:, None]
    free = (sigma > 0.2) & (sigma < 0.8)
    heating = column_mass_weighted(np.where(free, out.temperature, 0.0), columns)
    moistening = column_mass_weighted(out.humidity, columns)
    mm_per_day = out.precipitation * 86400.0
    assert np.all(heating[deep] > 0.0)
    assert np.all(moistening[deep] < 0.0)
    assert np.all((mm_per_day[deep] > 1.0) & (mm_per_day[deep] < 500.0))
    assert np.all(out.humidity[deep, -1] < 0.0)  # the boundary layer dries
    # shallow convection redistributes heat and water without precipitating
    shallow = diag.kind == SHALLOW
    assert shallow.sum() >= 1
    assert np.all(out.precipitation[shallow] == 0.0)
    scale = column_mass_weighted(np.abs(out.humidity), columns)[shallow]
    assert np.all(np.abs(moistening[shallow]) <= 1e-12 * scale)
    assert np.all(np.abs(out.humidity[shallow]).max(axis=1) > 0.0)


@pytest.mark.parametrize("dt_over_tau", [1.0, 2.0])
def test_humidity_reaches_the_reference_in_one_step_when_tau_is_dt(dt_over_tau):
    """In deep convection the energy correction moves only T_ref, so with tau_bm <= dt
    the humidity lands exactly on q_ref = rh_bm q_s(T_parcel) at every convecting level
    and temperature on the parcel profile plus one uniform shift."""
    scheme = BettsMillerConvection(tau_bm=DT / dt_over_tau)
    columns = moist_tropics()
    out, diag = scheme.diagnose(columns, DT)
    deep = np.flatnonzero(diag.kind == DEEP)
    assert deep.size >= 3
    for i in deep:
        k = diag.level_of_zero_buoyancy[i]
        p = columns.pressure[i, k:]
        qref = 0.7 * saturation_specific_humidity(diag.parcel_temperature[i, k:], p)
        np.testing.assert_allclose(diag.reference_humidity[i, k:], qref, rtol=1e-13)
        q_after = columns.humidity[i] + out.humidity[i] * DT
        np.testing.assert_allclose(q_after[k:], qref, rtol=1e-12)
        t_after = columns.temperature[i] + out.temperature[i] * DT
        shift = t_after[k:] - diag.parcel_temperature[i, k:]
        assert np.ptp(shift) < 1e-9  # K
        assert np.all(out.humidity[i, :k] == 0.0) and np.all(out.temperature[i, :k] == 0.0)
        # below the condensation level the parcel followed the dry adiabat
        below = columns.pressure[i] > diag.lcl_pressure[i]
        t0, p0 = columns.temperature[i, -1], columns.pressure[i, -1]
        np.testing.assert_allclose(diag.parcel_temperature[i, below],
                                   t0 * (columns.pressure[i, below] / p0) ** KAPPA, rtol=1e-13)


def test_shallow_convection_rescales_qref_and_shifts_tref():
    """Frierson's "qref" shallow scheme with tau_bm = dt: q lands on f q_ref with
    f = sum q dp / sum q_ref dp (one factor for the column), T on T_parcel plus one
    uniform shift, and neither column water nor column enthalpy changes."""
    columns = moist_tropics()
    out, diag = BettsMillerConvection(tau_bm=DT).diagnose(columns, DT)
    shallow = np.flatnonzero(diag.kind == SHALLOW)
    assert shallow.size >= 3
    for i in shallow:
        k = diag.level_of_zero_buoyancy[i]
        dp = columns.thickness[i, k:]
        qref = 0.7 * saturation_specific_humidity(diag.parcel_temperature[i, k:],
                                                  columns.pressure[i, k:])
        factor = (columns.humidity[i, k:] * dp).sum() / (qref * dp).sum()
        assert 0.0 < factor < 1.0
        np.testing.assert_allclose(diag.reference_humidity[i, k:], factor * qref, rtol=1e-12)
        q_after = columns.humidity[i] + out.humidity[i] * DT
        np.testing.assert_allclose(q_after[k:], factor * qref, rtol=1e-12)
        t_after = columns.temperature[i] + out.temperature[i] * DT
        assert np.ptp(t_after[k:] - diag.parcel_temperature[i, k:]) < 1e-9
        heating = (out.temperature[i, k:] * dp).sum()
        assert abs(heating) <= 1e-13 * (np.abs(out.temperature[i, k:]) * dp).sum()


def test_relaxation_time_scales_the_first_guess():
    """With tau > dt, in deep convection dq = -(q - q_ref)/tau exactly."""
    columns = moist_tropics()
    out, diag = BettsMillerConvection(tau_bm=7200.0).diagnose(columns, DT)
    for i in np.flatnonzero(diag.kind == DEEP):
        k = diag.level_of_zero_buoyancy[i]
        expected = -(columns.humidity[i, k:] - diag.reference_humidity[i, k:]) / 7200.0
        np.testing.assert_allclose(out.humidity[i, k:], expected, rtol=1e-13)


def extreme_cases():
    cold = realistic_columns(32, relative_humidity=0.9, seed=5)
    cold.temperature = np.maximum(cold.temperature - 70.0, 150.0)
    set_relative_humidity(cold, 0.95)
    dry = realistic_columns(32, seed=6)
    dry.humidity[:] = 0.0
    return {
        "random": random_columns(128),
        "realistic": realistic_columns(128),
        "moist_tropics": moist_tropics(),
        "saturated": realistic_columns(64, relative_humidity=1.0, seed=2),
        "supersaturated": set_relative_humidity(realistic_columns(64, seed=4), 1.3),
        "bone_dry": dry,
        "very_cold": cold,
    }


@pytest.mark.parametrize("tau", [7200.0, DT, DT / 3.0])
@pytest.mark.parametrize("case", list(extreme_cases()))
def test_budgets_close_and_humidity_stays_non_negative(case, tau):
    columns = extreme_cases()[case]
    out = BettsMillerConvection(tau_bm=tau)(columns, DT)
    assert_column_budgets_close(columns, out)
    assert np.all(columns.humidity + out.humidity * DT >= 0.0)
    # untouched fields stay zero
    for field in (out.u, out.v, out.shf, out.lhf, out.fsnt, out.fsns, out.flnt, out.flns):
        assert np.all(field == 0.0)
    if case in ("random", "realistic", "moist_tropics", "saturated"):
        assert np.any(out.precipitation > 0.0)


def test_invalid_parameters_are_refused():
    with pytest.raises(ValueError, match="rh_bm"):
        BettsMillerConvection(rh_bm=1.5)
    with pytest.raises(ValueError, match="tau_bm"):
        BettsMillerConvection(tau_bm=0.0)


def test_the_models_transposed_views_give_the_same_tendencies_and_diagnostics():
    """The model passes (ncol, nlev) views of level-major memory; the kernel's blocks of
    columns must read them exactly as C-ordered arrays, and __call__ (reference profiles
    in scratch) must return what diagnose returns."""
    columns = moist_tropics(130)  # not a multiple of the block size
    views = replace(columns, **{name: np.asfortranarray(getattr(columns, name))
                                for name in ("temperature", "humidity", "u", "v")})
    scheme = BettsMillerConvection()
    reference, _ = scheme.diagnose(columns, DT)
    assert np.any(reference.precipitation > 0.0)
    for out in (scheme(views, DT), scheme.diagnose(views, DT)[0]):
        for name in ("temperature", "humidity", "precipitation"):
            assert np.array_equal(getattr(out, name), getattr(reference, name)), name


def test_a_columns_results_do_not_depend_on_its_neighbours():
    """The kernel lifts and relaxes blocks of columns side by side; shuffling the columns
    (other neighbours, other places in a block, a partly filled last block) must shuffle
    the tendencies and diagnostics bit for bit."""
    columns = moist_tropics(150)
    order = np.random.default_rng(7).permutation(columns.ncol)
    shuffled = replace(columns, **{f.name: getattr(columns, f.name)[order]
                                   for f in fields(ColumnState) if f.name != "time"})
    scheme = BettsMillerConvection()
    out, diag = scheme.diagnose(columns, DT)
    out_shuffled, diag_shuffled = scheme.diagnose(shuffled, DT)
    assert np.any(diag.kind == DEEP) and np.any(diag.kind == SHALLOW)
    for name in ("temperature", "humidity", "precipitation"):
        assert np.array_equal(getattr(out_shuffled, name), getattr(out, name)[order]), name
    for name in ("kind", "level_of_zero_buoyancy", "cape", "lcl_pressure"):
        assert np.array_equal(getattr(diag_shuffled, name), getattr(diag, name)[order]), name
