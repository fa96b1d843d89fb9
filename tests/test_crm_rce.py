"""Radiative–convective equilibrium with the CRM (``gcm.crm.rce``): the independent moist
adiabat agrees with the CRM's saturation adjustment, the tropopause finder finds a known
kink, and a coarse, short RCE run convects, rains and closes its budgets with the fluxes."""

import numpy as np

from gcm.constants import CP, GRAVITY, LV
from gcm.crm import rce
from gcm.crm.budgets import budget_residuals
from gcm.crm.saturation_adjustment import adjust


def test_moist_adiabat_equals_a_reversible_parcel_of_the_saturation_adjustment():
    """Lifted at constant s_l and q_t (no rain), the CRM's adjustment gives the same T as
    the Newton solve on moist static energy, below and above the condensation level."""
    config = rce.RceConfig(nz=30, dz=500.0)
    model = rce.build(config)
    z, p = model.grid.z_centres, model.profiles.pressure
    t0, q0 = 298.0, 0.016
    adiabat = rce.moist_adiabat(t0, q0, z, p)
    s_l = CP * t0 + GRAVITY * z[0]
    parcel = np.array([adjust((s_l - GRAVITY * zk) / CP, q0, 0.0, pk)[0]
                       for zk, pk in zip(z, p, strict=True)])
    assert np.abs(adiabat - parcel).max() < 1e-7
    lapse = -np.diff(adiabat) / np.diff(z)
    assert lapse[0] > 9e-3 and lapse[5] < 5e-3  # dry below the cloud base, moist above
    # the parcel's moist static energy is conserved
    qs = np.minimum(q0, [q0 - adjust((s_l - GRAVITY * zk) / CP, q0, 0.0, pk)[1]
                         for zk, pk in zip(z, p, strict=True)])
    energy = CP * adiabat + GRAVITY * z + LV * qs
    assert np.ptp(energy) < 1e-6 * energy[0]


def test_tropopause_finds_the_kink():
    z = np.arange(0.0, 20000.0, 250.0)
    temperature = np.maximum(300.0 - 7e-3 * z, 200.0)  # kink at 14 286 m
    found = rce.tropopause(temperature, z)
    assert abs(found["lapse_rate_tropopause_m"] - 14286.0) < 250.0
    assert found["cold_point_K"] == 200.0 and found["cold_point_m"] > 14000.0


def test_a_short_coarse_rce_run_convects_rains_and_closes_its_budgets():
    config = rce.RceConfig(nx=16, nz=24, dz=800.0, dt=30.0, radiation_interval=4)
    model = rce.build(config)
    initial = rce.initial_state(model, config)
    state = model.run(initial, 86400.0)
    assert np.abs(state.w).max() > 1.0  # m/s: moist convection
    assert state.precipitation.mean() > 0.1  # kg m-2 in a day
    evaporation = state.accumulated["evaporation"].mean()
    assert 0.5 < evaporation < 20.0  # kg m-2 day-1
    residuals = budget_residuals(initial, state, model.grid, model.profiles)
    assert abs(residuals["energy"][0]) < 1e-14 and abs(residuals["water"][0]) < 1e-13
    # the sea, 2 K warmer than the air above it at the start, heats it everywhere
    assert state.accumulated["sensible"].min() > 0.0
