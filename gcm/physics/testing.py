"""Tests of physics schemes: columns to run them on (random ones and realistic tropical
and midlatitude soundings on given sigma levels) and ``check_scheme``, the checks of the
column-physics contract that every scheme's tests call."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from gcm.constants import P0
from gcm.physics.column import PROFILE_FIELDS, ColumnState, ColumnTendencies
from gcm.physics.saturation import saturation_specific_humidity
from gcm.sigma_coordinates import sigma_coordinates


def realistic_columns(ncol: int = 64, sigma_set: str = "frierson_l25", nlev: int = 25,
                      seed: int = 0, relative_humidity: float | None = None) -> ColumnState:
    """Soundings from pole to pole: a moist-adiabat-like troposphere (6.5 K/km lapse rate
    from a surface temperature following the APE SST), an isothermal stratosphere at
    200 K, relative humidity 0.3-1.0 (random, or fixed), winds of 0-30 m/s; SST within
    2 K of the lowest air temperature."""
    rng = np.random.default_rng(seed)
    sigma = sigma_coordinates(sigma_set, nlev)
    lat = np.linspace(-np.pi / 2 * 0.98, np.pi / 2 * 0.98, ncol)
    ps = P0 * (1.0 + 0.02 * rng.normal(size=ncol))
    p = ps[:, None] * sigma.full[None, :]
    p_half = ps[:, None] * sigma.half[None, :]
    sst = 273.15 + np.where(np.abs(lat) < np.pi / 3, 27.0 * (1 - np.sin(1.5 * lat) ** 2), 0.0)
    t_surface = sst - 1.0 + rng.uniform(-1.0, 1.0, size=ncol)
    # dry-adiabat-ish lapse rate in pressure: T = Ts (p/ps)^(R Gamma/g)
    T = t_surface[:, None] * (p / ps[:, None]) ** (287.04 * 0.0065 / 9.80616)
    T = np.maximum(T, 200.0)
    rh = (rng.uniform(0.3, 1.0, size=T.shape) if relative_humidity is None
          else np.full(T.shape, relative_humidity))
    q = rh * saturation_specific_humidity(T, p)
    q[p < 1e4] = 3e-6  # dry stratosphere
    u = rng.uniform(-10.0, 30.0, size=T.shape)
    v = rng.uniform(-10.0, 10.0, size=T.shape)
    return ColumnState(temperature=T, humidity=q, u=u, v=v, pressure=p, pressure_half=p_half,
                       surface_pressure=ps, sst=sst, insolation=rng.uniform(0, 1360, ncol),
                       latitude=lat, longitude=rng.uniform(0, 2 * np.pi, ncol), time=0.0)


def random_columns(ncol: int = 64, nlev: int = 25, seed: int = 1) -> ColumnState:
    """Columns with random (but physical) temperature 180-320 K, humidity 0-0.03
    kg/kg (some supersaturated), winds, surface pressure 0.9-1.05e5 Pa and random,
    unevenly spaced sigma levels."""
    rng = np.random.default_rng(seed)
    half = np.sort(rng.uniform(0.0, 1.0, size=(ncol, nlev - 1)), axis=1)
    half = np.concatenate([np.zeros((ncol, 1)), half, np.ones((ncol, 1))], axis=1)
    full = 0.5 * (half[:, 1:] + half[:, :-1])
    ps = rng.uniform(0.9e5, 1.05e5, size=ncol)
    T = rng.uniform(180.0, 320.0, size=(ncol, nlev))
    q = rng.uniform(0.0, 0.03, size=(ncol, nlev))
    return ColumnState(
        temperature=T, humidity=q, u=rng.normal(0, 15, (ncol, nlev)),
        v=rng.normal(0, 10, (ncol, nlev)), pressure=ps[:, None] * full,
        pressure_half=ps[:, None] * half, surface_pressure=ps,
        sst=rng.uniform(270.0, 305.0, ncol), insolation=rng.uniform(0, 1400, ncol),
        latitude=rng.uniform(-np.pi / 2, np.pi / 2, ncol),
        longitude=rng.uniform(0, 2 * np.pi, ncol), time=0.0,
    )


def surface_extreme_columns() -> dict[str, ColumnState]:
    """Columns at the edges of what a surface or boundary-layer scheme meets, by name:
    saturated, bone dry, very cold air over a freezing sea, calm (no wind), and a sea
    10 K warmer than usual (a strongly unstable surface layer)."""
    saturated = realistic_columns(relative_humidity=1.0, seed=4)
    dry = realistic_columns(seed=5)
    dry.humidity[:] = 0.0
    cold = realistic_columns(seed=6)
    cold.temperature = np.maximum(cold.temperature - 80.0, 150.0)
    cold.humidity[:] = 1e-7
    cold.sst = np.full(cold.ncol, 271.0)
    calm = realistic_columns(seed=7)
    calm.u[:] = 0.0
    calm.v[:] = 0.0
    warm_sea = realistic_columns(seed=8)
    warm_sea.sst = warm_sea.sst + 10.0
    return {"saturated": saturated, "bone_dry": dry, "very_cold": cold, "calm": calm,
            "warm_sea": warm_sea}


def set_relative_humidity(columns: ColumnState, rh) -> ColumnState:
    """``columns`` with q = rh q_s(T, p) (rh broadcast to (ncol, nlev)) and a dry
    stratosphere (3e-6 kg/kg above 100 hPa); modified in place and returned."""
    q = rh * saturation_specific_humidity(columns.temperature, columns.pressure)
    q[columns.pressure < 1e4] = 3e-6
    columns.humidity = q
    return columns


def assert_column_budgets_close(columns: ColumnState, out, frictional_heating: bool = False,
                                rtol: float = 1e-12) -> None:
    """Assert the DESIGN.md energy and water budgets close in every column to ``rtol`` of
    their largest term (gcm.physics.budgets), with finite tendencies and P >= 0."""
    from gcm.physics import budgets

    for field in (out.temperature, out.humidity, out.precipitation):
        assert np.all(np.isfinite(field))
    energy = budgets.energy_residual(columns, out, frictional_heating=frictional_heating)
    water = budgets.water_residual(columns, out)
    assert np.all(np.abs(energy) <= rtol * budgets.energy_scale(columns, out))
    assert np.all(np.abs(water) <= rtol * budgets.water_scale(columns, out))
    assert np.all(out.precipitation >= 0.0)


def contract_column_sets() -> dict[str, ColumnState]:
    """The column sets every scheme's contract test runs on (check_scheme), by name:
    realistic soundings, random (partly supersaturated, unevenly layered) columns, and
    the surface extremes."""
    return {"realistic": realistic_columns(), "random": random_columns(),
            **surface_extreme_columns()}


# Largest plausible magnitudes in SI units, well above any physical column's (so that
# a correct scheme never trips them) and well below the same quantity in a common wrong
# unit (so that a slip of x1000 or x86400 usually does):
#   dT/dt 0.1 K s-1: 360 K in an hour; a strong convective adjustment is ~1e-3 K s-1, a
#       heating given in K day-1 or mK s-1 is ~1e3 times too large;
#   dq/dt 1e-4 kg kg-1 s-1: a whole saturated tropical boundary layer (~0.02) removed in
#       200 s; g kg-1 s-1 is 1000 times too large;
#   du/dt, dv/dt 0.1 m s-2: a 30 m s-1 wind stopped in 300 s;
#   fluxes 5000 W m-2: above the solar constant (1361) and the surface fluxes of the
#       random columns here (up to ~2900 W m-2 of sensible heat from air 100 K colder than
#       the sea); mW m-2 are 1000 times too large (kW m-2 fail the budgets instead);
#   precipitation 0.1 kg m-2 s-1 (360 mm h-1, above any rain rate on record) and >= 0.
PLAUSIBLE = {"temperature": 0.1, "humidity": 1e-4, "u": 0.1, "v": 0.1,
             "shf": 5000.0, "lhf": 5000.0, "fsnt": 5000.0, "fsns": 5000.0, "flnt": 5000.0,
             "flns": 5000.0, "precipitation": 0.1}

# relative tolerance of the column budgets against their largest term: round-off of
# sums over a few dozen levels
BUDGET_RTOL = 1e-12


def check_scheme(scheme, columns: ColumnState, dt: float = 3600.0) -> ColumnTendencies:
    """Check the column-physics contract (gcm.physics.column, DESIGN.md) for ``scheme``
    on ``columns`` over interval ``dt`` (s; default a leapfrog interval of two 30-minute
    steps); AssertionError naming the scheme, the field
    and the failing check. Returns the tendencies of the first call.

    Checks: the output is a ColumnTendencies of the columns' shapes, float64, finite and
    within PLAUSIBLE; the input columns are left unchanged; the column budgets close to
    BUDGET_RTOL if the scheme says it closes them (with its frictional heating); a
    permutation of the columns permutes the output bit for bit; and, for a scheme with
    state (state_arrays), the state saved after a call and loaded back gives the same
    next call bit for bit. A stateful scheme's state arrays whose first axis has ncol
    entries are taken to be per column (permuted with the columns)."""
    from gcm.physics import column as protocol

    name = protocol.scheme_name(scheme)
    stateful = bool(protocol.state_arrays(scheme))
    initial_state = _copied(protocol.state_arrays(scheme))
    before = _copied(_column_arrays(columns))
    out = _copied_tendencies(_call(scheme, columns, dt, name))
    for field, value in _column_arrays(columns).items():
        assert np.array_equal(value, before[field], equal_nan=True), (
            f"{name}: the scheme changed its input columns.{field}")
    _check_values(name, out)
    if protocol.closes_budgets(scheme):
        _check_budgets(name, scheme, columns, out)
    if stateful:
        _check_state_round_trip(name, scheme, columns, dt)
        protocol.load_state_arrays(scheme, initial_state)
    _check_permutation(name, scheme, columns, dt, out, initial_state)
    return out


def _call(scheme, columns: ColumnState, dt: float, name: str) -> ColumnTendencies:
    out = scheme(columns, dt)
    assert isinstance(out, ColumnTendencies), (
        f"{name}: returned a {type(out).__name__}, not a ColumnTendencies")
    for f in fields(ColumnTendencies):
        value = getattr(out, f.name)
        shape = ((columns.ncol, columns.nlev) if f.name in PROFILE_FIELDS
                 else (columns.ncol,))
        assert isinstance(value, np.ndarray) and value.shape == shape, (
            f"{name}: {f.name} has shape {getattr(value, 'shape', type(value).__name__)}, "
            f"the columns need {shape}")
        assert value.dtype == np.float64, f"{name}: {f.name} is {value.dtype}, not float64"
    return out


def _check_values(name: str, out: ColumnTendencies) -> None:
    for field, bound in PLAUSIBLE.items():
        value = getattr(out, field)
        bad = ~np.isfinite(value)
        assert not bad.any(), (f"{name}: {field} is not finite in {int(bad.sum())} entries "
                               f"(first at {np.argwhere(bad)[0].tolist()})")
        largest = float(np.abs(value).max(initial=0.0))
        assert largest < bound, (f"{name}: |{field}| reaches {largest:.3g}, implausible in SI "
                                 f"units (bound {bound:g}; see gcm.physics.testing.PLAUSIBLE)")
    assert (out.precipitation >= 0.0).all(), (
        f"{name}: precipitation is negative (min {out.precipitation.min():.3g})")


def _check_budgets(name: str, scheme, columns: ColumnState, out: ColumnTendencies) -> None:
    from gcm.physics import budgets
    from gcm.physics import column as protocol

    energy, water = budgets.column_residuals(
        columns, out, frictional_heating=protocol.frictional_heating(scheme))
    for budget, residual, scale, unit in (
            ("energy", energy, budgets.energy_scale(columns, out), "W m-2"),
            ("water", water, budgets.water_scale(columns, out), "kg m-2 s-1")):
        ratio = np.abs(residual) / scale
        worst = int(np.argmax(ratio))
        assert ratio[worst] <= BUDGET_RTOL, (
            f"{name}: says it closes the column budgets, but the {budget} residual of "
            f"column {worst} is {residual[worst]:.3g} {unit}, {ratio[worst]:.2g} of its "
            f"largest term (tolerance {BUDGET_RTOL:g})")


def _check_state_round_trip(name: str, scheme, columns: ColumnState, dt: float) -> None:
    from gcm.physics import column as protocol

    saved = _copied(protocol.state_arrays(scheme))
    first = _copied_tendencies(scheme(columns, dt))
    after_first = _copied(protocol.state_arrays(scheme))
    protocol.load_state_arrays(scheme, _copied(saved))
    again = _copied_tendencies(scheme(columns, dt))
    for field in _tendency_fields():
        assert _bitwise_equal(getattr(first, field), getattr(again, field)), (
            f"{name}: a call after load_state_arrays(state_arrays()) differs from the "
            f"call it repeats in {field}")
    for key, value in protocol.state_arrays(scheme).items():
        assert _bitwise_equal(value, after_first[key]), (
            f"{name}: the state {key!r} after the repeated call differs")


def _check_permutation(name: str, scheme, columns: ColumnState, dt: float,
                       out: ColumnTendencies, initial_state: dict) -> None:
    from gcm.physics import column as protocol

    order = np.random.default_rng(12345).permutation(columns.ncol)
    if initial_state:
        protocol.load_state_arrays(scheme, {
            k: v[order] if v.ndim and v.shape[0] == columns.ncol else v.copy()
            for k, v in initial_state.items()})
    permuted = _call(scheme, _permuted(columns, order), dt, name)
    for field in _tendency_fields():
        assert _bitwise_equal(getattr(permuted, field), getattr(out, field)[order]), (
            f"{name}: {field} of permuted columns is not the permuted {field}: the scheme's "
            f"result for a column depends on the other columns or their order")


def _column_arrays(columns: ColumnState) -> dict[str, np.ndarray]:
    return {f.name: getattr(columns, f.name) for f in fields(ColumnState)
            if isinstance(getattr(columns, f.name), np.ndarray)}


def _permuted(columns: ColumnState, order: np.ndarray) -> ColumnState:
    return replace(columns, **{k: v[order] for k, v in _column_arrays(columns).items()})


def _tendency_fields() -> list[str]:
    return [f.name for f in fields(ColumnTendencies)]


def _copied(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in arrays.items()}


def _copied_tendencies(out: ColumnTendencies) -> ColumnTendencies:
    # a scheme may return its reusable buffers: keep a copy before calling it again
    return ColumnTendencies(**{f: np.array(getattr(out, f), copy=True)
                               for f in _tendency_fields()})


def _bitwise_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit for bit (NaN equals NaN of the same bits; -0.0 differs from 0.0)."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
