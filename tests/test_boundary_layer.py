"""Boundary-layer diffusion: exact conservation, a neutral column left alone, the
maximum principle and variance decay of the implicit solution for any step, the K-profiles
of Frierson et al. (2006) and Reed & Jablonowski (2012) and the explicit limit by hand."""

from dataclasses import fields, replace

import numpy as np
import pytest

from gcm.constants import GRAVITY, KAPPA, P0, RD, RV
from gcm.physics import budgets
from gcm.physics.boundary_layer import BoundaryLayer
from gcm.physics.column import ColumnState
from gcm.physics.saturation import saturation_specific_humidity
from gcm.physics.surface_fluxes import reed_jablonowski_drag
from gcm.physics.testing import random_columns, realistic_columns, surface_extreme_columns

DT = 1800.0
PROFILES = ["frierson", "reed_jablonowski"]


def exner(p):
    return (p / P0) ** KAPPA


def theta_of(columns, dT=None, dt=0.0):
    T = columns.temperature if dT is None else columns.temperature + dt * dT
    return T / exner(columns.pressure)


def sigma_column(theta, q, u, v, sigma_half, ps=1.0e5, sst=None):
    """One column on the given sigma interfaces with profiles of theta (K), q, u, v."""
    sigma_half = np.asarray(sigma_half, dtype=float)
    p_half = ps * sigma_half[None, :]
    p = 0.5 * (p_half[:, 1:] + p_half[:, :-1])
    nlev = p.shape[1]
    prof = [np.broadcast_to(np.asarray(x, dtype=float), (nlev,))[None, :].copy()
            for x in (theta, q, u, v)]
    T = prof[0] * exner(p)
    if sst is None:  # 1 K warmer than the lowest level brought down to the surface
        sst = T[0, -1] * (ps / p[0, -1]) ** KAPPA + 1.0
    return ColumnState(temperature=T, humidity=prof[1], u=prof[2], v=prof[3], pressure=p,
                       pressure_half=p_half, surface_pressure=np.array([ps]),
                       sst=np.array([float(sst)]), insolation=np.zeros(1),
                       latitude=np.zeros(1), longitude=np.zeros(1), time=0.0)


def hypsometric_heights(columns):
    """Heights (m) of the levels and interior interfaces of column 0, by hand."""
    T, q = columns.temperature[0], columns.humidity[0]
    p, ph = columns.pressure[0], columns.pressure_half[0]
    scale = RD * T * (1.0 + (RV / RD - 1.0) * q) / GRAVITY
    nlev = T.size
    z_half = np.zeros(nlev + 1)
    for k in range(nlev - 1, 0, -1):
        z_half[k] = z_half[k + 1] + scale[k] * np.log(ph[k + 1] / ph[k])
    z = z_half[1:] + scale * np.log(ph[1:] / p)
    return z, z_half


ALL_COLUMNS = {"random": random_columns(), "realistic": realistic_columns(),
               **surface_extreme_columns()}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("dt", [0.0, DT, 1e9])
@pytest.mark.parametrize("kind", sorted(ALL_COLUMNS))
def test_conservation_to_round_off(kind, dt, profile):
    columns = ALL_COLUMNS[kind]
    out = BoundaryLayer(k_profile=profile)(columns, dt)
    for field in ("temperature", "humidity", "u", "v"):
        assert np.isfinite(getattr(out, field)).all()
    for field in ("precipitation", "shf", "lhf", "fsnt", "fsns", "flnt", "flns"):
        assert np.all(getattr(out, field) == 0.0)
    energy = budgets.energy_residual(columns, out)
    water = budgets.water_residual(columns, out)
    assert np.all(np.abs(energy) <= 1e-12 * budgets.energy_scale(columns, out))
    assert np.all(np.abs(water) <= 1e-12 * budgets.water_scale(columns, out))
    dp = columns.thickness
    for field in ("u", "v"):
        tend = getattr(out, field)
        momentum = budgets.column_integral(tend, dp)
        scale = budgets.column_integral(np.abs(tend), dp) + 1e-300
        assert np.all(np.abs(momentum) <= 1e-12 * scale)
    assert np.all(columns.humidity + dt * out.humidity >= 0.0)
    assert np.abs(out.temperature).max() > 0.0  # the scheme does act on these columns


@pytest.mark.parametrize("profile", PROFILES)
def test_neutral_column_gets_no_tendency(profile):
    sigma_half = np.linspace(0.0, 1.0, 21)
    neutral = sigma_column(theta=300.0, q=0.01, u=10.0, v=-5.0, sigma_half=sigma_half)
    scheme = BoundaryLayer(k_profile=profile)
    assert scheme.diffusivity(neutral).k_heat.max() > 0.1  # mixing is on (m2 s-1)
    # the same column with a 1 K bump at one level, for the size of a real tendency
    theta = np.full(20, 300.0)
    theta[-3] += 1.0
    bumped = sigma_column(theta=theta, q=0.01, u=10.0, v=-5.0, sigma_half=sigma_half,
                          sst=neutral.sst[0])
    reference = np.abs(scheme(bumped, DT).temperature).max()
    assert reference > 1e-6  # K s-1
    for dt in (0.0, DT, 1e9):
        out = scheme(neutral, dt)
        assert np.abs(out.temperature).max() <= 1e-10 * reference
        assert np.all(out.humidity == 0.0) and np.all(out.u == 0.0) and np.all(out.v == 0.0)


def weighted_variance(x, w):
    mean = (x * w).sum(axis=1, keepdims=True) / w.sum(axis=1, keepdims=True)
    return ((x - mean) ** 2 * w).sum(axis=1) / w.sum(axis=1)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("dt", [DT, 1e5, 1e9])
@pytest.mark.parametrize("kind", ["random", "realistic", "saturated", "warm_sea"])
def test_implicit_diffusion_smooths_without_new_extrema(kind, dt, profile):
    columns = ALL_COLUMNS[kind]
    out = BoundaryLayer(k_profile=profile)(columns, dt)
    theta0, theta1 = theta_of(columns), theta_of(columns, out.temperature, dt)
    # the scheme conserves sum cp Pi theta dp: the variance in that weight cannot grow
    w = columns.thickness * exner(columns.pressure)
    assert np.all(weighted_variance(theta1, w) <= weighted_variance(theta0, w) * (1 + 1e-12))
    pairs = [(theta0, theta1, 1e-9)]
    for field in ("humidity", "u", "v"):
        before = getattr(columns, field)
        pairs.append((before, before + dt * getattr(out, field), 1e-12))
    for before, after, tol in pairs:
        assert np.all(after.max(axis=1) <= before.max(axis=1) + tol)
        assert np.all(after.min(axis=1) >= before.min(axis=1) - tol)
    assert np.all(columns.humidity + dt * out.humidity >= 0.0)


@pytest.mark.parametrize("profile", PROFILES)
def test_huge_step_mixes_the_boundary_layer_well(profile):
    columns = ALL_COLUMNS["realistic"]
    scheme = BoundaryLayer(k_profile=profile)
    k_heat = scheme.diffusivity(columns).k_heat
    dt = 1e12
    out = scheme(columns, dt)
    theta1 = theta_of(columns, out.temperature, dt)
    q1 = columns.humidity + dt * out.humidity
    mixed = k_heat[:, 1:-1] > 0.1  # interfaces with mixing, K > 0.1 m2 s-1
    assert mixed.any(axis=1).sum() > columns.ncol // 2
    # differences were up to 10 K and 1e-2 kg/kg; round-off of dt * tendency remains
    np.testing.assert_allclose(np.diff(theta1, axis=1)[mixed], 0.0, atol=1e-4)
    np.testing.assert_allclose(np.diff(q1, axis=1)[mixed], 0.0, atol=1e-7)


def test_humidity_stays_non_negative_in_a_dry_column_with_one_moist_level():
    rng = np.random.default_rng(3)
    for seed in range(5):
        columns = random_columns(seed=seed)
        q = np.zeros_like(columns.humidity)
        level = rng.integers(0, columns.nlev, size=columns.ncol)
        q[np.arange(columns.ncol), level] = rng.uniform(0.0, 0.02, columns.ncol)
        columns.humidity = q
        for profile in PROFILES:
            for dt in (1e-3, 1.0, DT, 1e9):
                out = BoundaryLayer(k_profile=profile)(columns, dt)
                assert np.all(q + dt * out.humidity >= 0.0)


def test_reed_jablonowski_explicit_limit_by_hand():
    """Two levels below p_top: one interface, K_E = C_E |v_a| z_a, K_m = C_D |v_a| z_a."""
    T, q = np.array([260.0, 290.0]), np.array([2e-3, 0.01])
    u, v = np.array([15.0, 5.0]), np.array([0.0, 2.0])
    p, p_half = np.array([60000.0, 95000.0]), np.array([0.0, 90000.0, 1.0e5])
    columns = ColumnState(temperature=T[None], humidity=q[None], u=u[None], v=v[None],
                          pressure=p[None], pressure_half=p_half[None],
                          surface_pressure=np.array([1e5]), sst=np.array([300.0]),
                          insolation=np.zeros(1), latitude=np.zeros(1),
                          longitude=np.zeros(1), time=0.0)
    tv = T * (1.0 + (RV / RD - 1.0) * q)
    z_a = RD * tv[1] / GRAVITY * np.log(1e5 / 95000.0)
    z_interface = RD * tv[1] / GRAVITY * np.log(1e5 / 90000.0)
    z_top = z_interface + RD * tv[0] / GRAVITY * np.log(90000.0 / 60000.0)
    speed = np.sqrt(25.0 + 4.0 + 1.0)  # with 1 m/s gustiness
    k_e = 1.1e-3 * speed * z_a
    k_m = (7e-4 + 6.5e-5 * speed) * speed * z_a
    rho = 90000.0 / (RD * 0.5 * (tv[0] + tv[1]))
    conductance_e, conductance_m = rho * k_e / (z_top - z_a), rho * k_m / (z_top - z_a)
    theta = T * (P0 / p) ** KAPPA
    flux_heat = conductance_e * (90000.0 / P0) ** KAPPA * (theta[1] - theta[0])  # upward, K
    flux_q = conductance_e * (q[1] - q[0])
    flux_u = conductance_m * (u[1] - u[0])
    dp = np.array([90000.0, 10000.0])
    expected = {"temperature": flux_heat, "humidity": flux_q, "u": flux_u}
    scheme = BoundaryLayer(k_profile="reed_jablonowski")
    diag = scheme.diffusivity(columns)
    np.testing.assert_allclose(diag.k_heat[0], [0.0, k_e, 0.0], rtol=1e-13)
    np.testing.assert_allclose(diag.k_momentum[0], [0.0, k_m, 0.0], rtol=1e-13)
    for dt, rtol in ((0.0, 1e-12), (1e-3, 1e-6)):
        out = scheme(columns, dt)
        for field, flux in expected.items():
            tend = getattr(out, field)[0]
            np.testing.assert_allclose(tend, GRAVITY * flux * np.array([1.0, -1.0]) / dp,
                                       rtol=rtol)


def test_reed_jablonowski_decay_above_p_top():
    columns = realistic_columns(ncol=4)
    diag = BoundaryLayer(k_profile="reed_jablonowski").diffusivity(columns)
    p_half = columns.pressure_half
    z, _ = hypsometric_heights(columns)
    speed = np.sqrt(columns.u[0, -1] ** 2 + columns.v[0, -1] ** 2 + 1.0)
    k_a = 1.1e-3 * speed * z[-1]
    decay = np.where(p_half[0, 1:-1] >= 85000.0, 1.0,
                     np.exp(-(((85000.0 - p_half[0, 1:-1]) / 10000.0) ** 2)))
    np.testing.assert_allclose(diag.k_heat[0, 1:-1], k_a * decay, rtol=1e-12)
    np.testing.assert_allclose(diag.k_momentum[0, 1:-1] / diag.k_heat[0, 1:-1],
                               reed_jablonowski_drag(speed) / 1.1e-3, rtol=1e-12)


def frierson_by_hand(columns, ri_a, h):
    """Frierson et al. (2006) K at the interior interfaces of column 0, for surface bulk
    Richardson number ri_a and boundary-layer height h."""
    z, z_half = hypsometric_heights(columns)
    speed_a = np.sqrt(columns.u[0, -1] ** 2 + columns.v[0, -1] ** 2 + 1.0)
    ustar = 0.4 / np.log(z[-1] / 3.21e-5) * speed_a * (1.0 - max(ri_a, 0.0))
    zs = 0.1 * h
    expected = []
    for zi in z_half[1:-1]:
        zk = min(zi, zs)
        k = 0.4 * ustar * zk
        if ri_a > 0:
            k /= 1.0 + ri_a * np.log(zk / 3.21e-5) / (1.0 - ri_a)
        if zi > zs:
            k *= zi / zs * (1.0 - (zi - zs) / (0.9 * h)) ** 2
        expected.append(k if zi < h else 0.0)
    return np.array(expected), z


@pytest.mark.parametrize("sea_minus_air", [1.0, -3.0])
def test_frierson_profile_by_hand(sea_minus_air):
    """In a column of uniform theta_v the bulk Richardson number is 0 at every level, so
    h is the height of the highest level; the surface layer is its lowest 10%."""
    sigma_half = np.linspace(0.0, 1.0, 11)
    probe = sigma_column(theta=300.0, q=0.01, u=8.0, v=6.0, sigma_half=sigma_half)
    ps, p_n = 1e5, probe.pressure[0, -1]
    sst = probe.temperature[0, -1] * (ps / p_n) ** KAPPA + sea_minus_air
    columns = sigma_column(theta=300.0, q=0.01, u=8.0, v=6.0, sigma_half=sigma_half, sst=sst)
    z, _ = hypsometric_heights(columns)
    qs = saturation_specific_humidity(sst, ps)
    eps1 = RV / RD - 1.0
    theta_v_sea = sst * (P0 / ps) ** KAPPA * (1.0 + eps1 * qs)
    theta_v_air = 300.0 * (1.0 + eps1 * 0.01)
    ri_a = GRAVITY * z[-1] * (theta_v_air - theta_v_sea) / (theta_v_sea * 101.0)
    # the +1 K sea is unstable (Ri_a < 0); the -3 K sea stable but below Ri_c = 1
    assert (ri_a < 0) == (sea_minus_air > 0) and abs(ri_a) < 0.8
    expected, z = frierson_by_hand(columns, ri_a, h=z[0])
    diag = BoundaryLayer().diffusivity(columns)
    np.testing.assert_allclose(diag.height, z[0], rtol=1e-12)
    np.testing.assert_allclose(diag.k_heat[0, 1:-1], expected, rtol=1e-12)
    np.testing.assert_array_equal(diag.k_momentum, diag.k_heat)
    assert diag.k_heat[0, 0] == 0.0 and diag.k_heat[0, -1] == 0.0
    # the interfaces include both the surface layer and the cubic decay above it
    _, z_half = hypsometric_heights(columns)
    assert (z_half[1:-1] < 0.1 * z[0]).any() and (z_half[1:-1] > 0.1 * z[0]).any()


def test_inversion_caps_the_boundary_layer():
    """A 10 K jump of theta above a mixed layer: h lies between the levels around the
    jump, where the bulk Richardson number crosses 1, and K vanishes above h."""
    sigma_half = np.linspace(0.0, 1.0, 26)
    theta = np.where(np.arange(25) >= 20, 295.0, 305.0)  # levels 20-24 mixed
    columns = sigma_column(theta=theta, q=0.01, u=5.0, v=0.0, sigma_half=sigma_half)
    z, z_half = hypsometric_heights(columns)
    diag = BoundaryLayer().diffusivity(columns)
    h = diag.height[0]
    assert z[20] < h < z[19]
    eps1 = RV / RD - 1.0
    ri_19 = GRAVITY * z[19] * 10.0 * (1 + eps1 * 0.01) / (295.0 * (1 + eps1 * 0.01) * 26.0)
    np.testing.assert_allclose(h, z[20] + (1.0 - 0.0) / ri_19 * (z[19] - z[20]), rtol=1e-12)
    assert np.all(diag.k_heat[0, 1:-1][z_half[1:-1] >= h] == 0.0)
    assert np.all(diag.k_heat[0, 1:-1][z_half[1:-1] < h] > 0.0)
    out = BoundaryLayer()(columns, DT)
    assert np.all(out.temperature[0, :19] == 0.0)  # nothing crosses the inversion


def test_stable_surface_beyond_critical_richardson_stops_mixing():
    sigma_half = np.linspace(0.0, 1.0, 26)
    theta = 300.0 + np.linspace(20.0, 0.0, 25) ** 1.5  # stably stratified
    u = np.linspace(20.0, 2.0, 25)
    columns = sigma_column(theta=theta, q=0.005, u=u, v=0.0, sigma_half=sigma_half, sst=270.0)
    scheme = BoundaryLayer()
    assert np.all(scheme.diffusivity(columns).k_heat == 0.0)
    out = scheme(columns, DT)
    for field in ("temperature", "humidity", "u", "v"):
        assert np.all(getattr(out, field) == 0.0)
    # the same column over a warm sea mixes
    columns.sst[:] = 310.0
    assert scheme.diffusivity(columns).k_heat.max() > 0.0


def test_bad_configuration_is_rejected():
    with pytest.raises(ValueError, match="k_profile"):
        BoundaryLayer(k_profile="ysu")
    with pytest.raises(ValueError, match="surface_layer_fraction"):
        BoundaryLayer(surface_layer_fraction=1.5)
    with pytest.raises(ValueError, match="time step"):
        BoundaryLayer()(realistic_columns(ncol=2), -1.0)


@pytest.mark.parametrize("profile", PROFILES)
def test_the_models_transposed_views_give_the_same_tendencies_and_diffusivities(profile):
    """The model passes (ncol, nlev) views of level-major memory; __call__ keeps the
    diffusivities in scratch and must agree exactly with the C-ordered, diagnosed run."""
    columns = realistic_columns(ncol=70)
    views = replace(columns, **{name: np.asfortranarray(getattr(columns, name))
                                for name in ("temperature", "humidity", "u", "v")})
    scheme = BoundaryLayer(k_profile=profile)
    reference = scheme(columns, DT)
    out = scheme(views, DT)
    for name in ("temperature", "humidity", "u", "v"):
        assert np.array_equal(getattr(out, name), getattr(reference, name)), name
    assert np.any(scheme.diffusivity(views).k_heat > 0.0)
    assert np.array_equal(scheme.diffusivity(views).k_heat, scheme.diffusivity(columns).k_heat)


@pytest.mark.parametrize("profile", PROFILES)
def test_a_columns_tendencies_do_not_depend_on_its_neighbours(profile):
    """Blocks of columns are solved side by side (the lanes past a partly filled last
    block repeat its last column); a permutation of the columns must permute the
    tendencies, heights and diffusivities bit for bit."""
    columns = realistic_columns(ncol=150)
    order = np.random.default_rng(11).permutation(columns.ncol)
    permuted = replace(columns, **{f.name: getattr(columns, f.name)[order]
                                   for f in fields(ColumnState) if f.name != "time"})
    scheme = BoundaryLayer(k_profile=profile)
    reference, out = scheme(columns, DT), scheme(permuted, DT)
    for name in ("temperature", "humidity", "u", "v"):
        assert np.array_equal(getattr(out, name), getattr(reference, name)[order]), name
    diag, diag_permuted = scheme.diffusivity(columns), scheme.diffusivity(permuted)
    assert np.array_equal(diag_permuted.height, diag.height[order])
    assert np.array_equal(diag_permuted.k_heat, diag.k_heat[order])


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("kind", ["realistic", "random"])
def test_the_momentum_diffusion_alone_is_the_full_calls_bit_for_bit(profile, kind):
    """momentum_tendencies skips the heat and moisture solves (and, for Reed &
    Jablonowski, the Exner function); its du, dv must be the full call's exactly, in the
    model's level-major views too, and must not be zero (the comparison means something)."""
    columns = ALL_COLUMNS[kind]
    views = replace(columns, **{name: np.asfortranarray(getattr(columns, name))
                                for name in ("temperature", "humidity", "u", "v")})
    scheme = BoundaryLayer(k_profile=profile)
    full = scheme(columns, DT)
    for state in (columns, views):
        du, dv = scheme.momentum_tendencies(state, DT)
        assert np.array_equal(du, full.u) and np.array_equal(dv, full.v)
    assert np.any(full.u != 0.0) and np.any(full.v != 0.0)
