"""The CRM's saturation adjustment and moist buoyancy: equilibrium, idempotence, the reversible
moist adiabat against an independently integrated ODE, buoyancy against the density
temperature, and the batch kernel against its per-CRM reference."""

import numpy as np
from scipy.integrate import solve_ivp

from gcm.constants import CP, GRAVITY, LV, P0, RD
from gcm.crm import BaseState, CrmGrid, thermodynamics
from gcm.crm.saturation_adjustment import (
    VIRTUAL,
    MoistProfiles,
    adjust,
    buoyancy_column,
    cloud_column,
    moist_buoyancy,
    temperature_and_cloud,
)
from gcm.physics.saturation import EPSILON, saturation_specific_humidity, saturation_vapour_pressure


def random_cells(n=400, seed=0):
    """(T_l K, q_t, q_r kg kg-1, p Pa): a mix of clear and cloudy cells."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(230.0, 300.0, n), rng.uniform(0.0, 0.025, n),
            rng.uniform(0.0, 0.003, n) * (rng.random(n) < 0.5), rng.uniform(3e4, 1.02e5, n))


def test_adjustment_is_in_equilibrium_and_idempotent():
    cloudy = clear = 0
    for t_l, qt, qr, p in zip(*random_cells(), strict=True):
        temperature, qc = adjust(t_l, qt, qr, p)
        qs = saturation_specific_humidity(temperature, p)
        assert abs(temperature - LV / CP * (qc + qr) - t_l) < 1e-12 * t_l  # s_l unchanged
        if qc > 0:
            cloudy += 1
            assert abs(qt - qc - qs) < 1e-12 * qs  # vapour exactly saturated
        else:
            clear += 1
            assert qt <= qs * (1 + 1e-12)
        again = adjust(temperature - LV / CP * (qc + qr), qt, qr, p)
        assert abs(again[0] - temperature) < 1e-9 and abs(again[1] - qc) < 1e-14
    assert cloudy > 50 and clear > 50


def exner_constant_theta(z, theta0=300.0):
    """π0(z) of a constant-θ base state, closed form."""
    return 1.0 - GRAVITY * z / (CP * theta0)


def adiabat_ode(z, temperature, qt):
    """dT/dz of saturated air lifted at constant s_l and q_t through p0(z): from
    d(cp T + g z + Lv q_s(T, p0)) = 0 with the partial derivatives of q_s written out."""
    p = P0 * exner_constant_theta(z) ** (CP / RD)
    dp_dz = -P0 * (CP / RD) * exner_constant_theta(z) ** (CP / RD - 1) * GRAVITY / (CP * 300.0)
    es = saturation_vapour_pressure(temperature[0])
    denominator = p - (1 - EPSILON) * es
    qs = EPSILON * es / denominator
    dqs_dp = -qs / denominator
    dqs_dt = (LV / (461.5 * temperature[0] ** 2)) * EPSILON * es * p / denominator**2
    return [-(GRAVITY + LV * dqs_dp * dp_dz) / (CP + LV * dqs_dt)]


def test_ascent_at_constant_liquid_static_energy_follows_the_reversible_adiabat():
    grid = CrmGrid(4, 50, 1000.0, 200.0)
    base = BaseState.constant_theta(grid, 300.0)
    profiles = MoistProfiles.build("static_energy", base)
    qt, surface_t = 0.02, 295.0
    s_l = CP * surface_t - LV * (qt - saturation_specific_humidity(surface_t, P0))
    z = grid.z_centres
    temperature = np.array([adjust((s_l - GRAVITY * h) / CP, qt, 0.0, p)[0]
                            for h, p in zip(z, profiles.pressure, strict=True)])
    assert np.allclose(profiles.pressure, P0 * exner_constant_theta(z) ** (CP / RD), rtol=1e-12)
    ode = solve_ivp(adiabat_ode, (0.0, z[-1]), [surface_t], t_eval=z, args=(qt,),
                    rtol=1e-12, atol=1e-10, method="DOP853")
    assert np.max(np.abs(ode.y[0] - temperature)) < 1e-6
    lapse = -(temperature[1] - temperature[0]) / grid.dz * 1e3  # K/km near the ground
    assert 3.3 < lapse < 4.2  # 4.06 K/km saturated at 295 K: well below the dry 9.8 K/km
    assert temperature[-1] < temperature[0] - 45  # 57 K cooler at 9.9 km (dry: 97 K)


def test_moist_buoyancy_is_the_density_temperature_anomaly():
    grid = CrmGrid(16, 6, 1000.0, 500.0)
    base = BaseState.constant_n(grid, 300.0, 0.01)
    profiles = MoistProfiles.build("static_energy", base)
    rng = np.random.default_rng(5)
    shape = (2, 3, grid.nz, grid.nx)
    scalars = np.empty(shape)
    t_l = base.t_c[:, None] + rng.uniform(-1.0, 1.0, shape[:1] + shape[2:])
    scalars[:, 0] = profiles.field_from_liquid_temperature(t_l)
    scalars[:, 1] = rng.uniform(0.005, 0.022, shape[:1] + shape[2:])
    scalars[:, 2] = rng.uniform(0.0, 0.002, shape[:1] + shape[2:])
    b = moist_buoyancy(scalars, profiles.offset, profiles.factor, profiles.pressure,
                       profiles.t0)
    temperature, qc = temperature_and_cloud(scalars, profiles)
    assert qc.max() > 2e-3 and (qc == 0).sum() > 10  # cloudy and clear cells both tested
    qv = scalars[:, 1] - qc
    water = VIRTUAL * qv - qc - scalars[:, 2]
    t_rho = temperature * (1 + water)  # density temperature: exact for specific humidities
    anomaly = (temperature - base.t_c[:, None]) / base.t_c[:, None]
    # g (T_ρ − T0)/T0 = b + g T′/T0 × water: b is its linearization, nothing else
    reference = GRAVITY * ((t_rho - base.t_c[:, None]) / base.t_c[:, None] - anomaly * water)
    reference -= reference.mean(axis=-1, keepdims=True)
    assert np.max(np.abs(b - reference)) < 1e-14
    assert np.max(np.abs(GRAVITY * anomaly * water)) < 0.02 * np.max(np.abs(b))  # small
    spread = GRAVITY * (water - water.mean(axis=-1, keepdims=True))
    assert np.max(np.abs(spread)) > 0.05  # the water terms matter: dropping one fails
    for c in range(2):
        column = buoyancy_column(scalars[c, 0], scalars[c, 1], scalars[c, 2], profiles.offset,
                                 profiles.factor, profiles.pressure, profiles.t0)
        # the batch kernel adjusts a row at a time with the vectorizable exp: to round-off
        np.testing.assert_allclose(b[c], column, rtol=0, atol=1e-14)


def test_dry_moist_buoyancy_is_the_dry_core_buoyancy():
    grid = CrmGrid(8, 5, 1000.0, 500.0)
    base = BaseState.constant_n(grid)
    for variable in ("static_energy", "theta"):
        profiles = MoistProfiles.build(variable, base)
        theta_prime = np.random.default_rng(1).standard_normal((1, grid.nz, grid.nx))
        scalars = np.zeros((1, 3, grid.nz, grid.nx))
        scalars[:, 0] = thermodynamics.from_theta_prime(variable, theta_prime, base)
        dry = thermodynamics.buoyancy(variable, scalars[:, 0], base)
        moist = moist_buoyancy(scalars, profiles.offset, profiles.factor, profiles.pressure,
                               profiles.t0)
        assert np.allclose(moist, dry - dry.mean(axis=-1, keepdims=True), atol=1e-12)


def test_batch_cloud_is_the_per_crm_adjustment_bit_for_bit():
    grid = CrmGrid(8, 6, 1000.0, 500.0)
    base = BaseState.constant_n(grid, 300.0, 0.01)
    profiles = MoistProfiles.build("static_energy", base)
    rng = np.random.default_rng(11)
    scalars = np.empty((5, 3, grid.nz, grid.nx))
    t_l = base.t_c[:, None] + rng.uniform(-1.0, 1.0, (5, grid.nz, grid.nx))
    scalars[:, 0] = profiles.field_from_liquid_temperature(t_l)
    scalars[:, 1] = rng.uniform(0.005, 0.022, (5, grid.nz, grid.nx))
    scalars[:, 2] = rng.uniform(0.0, 0.002, (5, grid.nz, grid.nx))
    temperature, qc = temperature_and_cloud(scalars, profiles)
    lowest_t, lowest_qc = temperature_and_cloud(scalars, profiles, levels=2)
    assert qc.max() > 1e-3 and (qc == 0).sum() > 10
    for c in range(5):
        column = cloud_column(scalars[c, 0], scalars[c, 1], scalars[c, 2], profiles.offset,
                              profiles.factor, profiles.pressure)
        assert np.array_equal(temperature[c], column[0]) and np.array_equal(qc[c], column[1])
        assert np.array_equal(lowest_t[c], column[0][:2])
        assert np.array_equal(lowest_qc[c], column[1][:2])
