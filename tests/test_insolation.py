"""Top-of-atmosphere insolation: analytic daily means, global means, the diurnal cycle
against the daily-mean formula, and the orbit."""

import numpy as np
import pytest

from gcm.physics.insolation import Insolation

S0 = 1360.0
DAY = 86400.0


def gaussian_latitudes(nlat):
    """Gaussian latitudes (radians) and weights summing to 1 (area fractions)."""
    mu, w = np.polynomial.legendre.leggauss(nlat)
    return np.arcsin(mu), w / 2.0


def global_mean(insolation, t=0.0, nlat=256):
    lat, w = gaussian_latitudes(nlat)
    return float((insolation(lat, np.zeros_like(lat), t) * w).sum())


def test_equinox_daily_mean_is_s0_over_pi_at_equator_and_zero_at_poles():
    q = Insolation()(np.array([0.0, np.pi / 2, -np.pi / 2]), np.zeros(3), 12345.0)
    assert q[0] == pytest.approx(S0 / np.pi, rel=1e-14)
    assert np.all(np.abs(q[1:]) < 1e-12)
    # and cos(latitude) in between
    lat = np.deg2rad(np.array([10.0, 45.0, -70.0]))
    np.testing.assert_allclose(Insolation()(lat, 0.0, 0.0), S0 / np.pi * np.cos(lat), rtol=1e-13)


@pytest.mark.parametrize("declination", [0.0, 23.439, -15.0])
def test_global_mean_of_daily_mean_is_s0_over_4(declination):
    """Any declination of a circular orbit spreads S0 pi a^2 over 4 pi a^2."""
    mean = global_mean(Insolation(perpetual_declination=declination))
    assert mean == pytest.approx(S0 / 4.0, rel=1e-6)


def test_polar_day_and_polar_night():
    dec = 23.439
    q = Insolation(perpetual_declination=dec)(np.deg2rad([90.0, -90.0, -80.0]), 0.0, 0.0)
    assert q[0] == pytest.approx(S0 * np.sin(np.deg2rad(dec)), rel=1e-14)  # Sun circles
    assert q[1] == 0.0 and q[2] == 0.0


@pytest.mark.parametrize("declination", [0.0, 23.439, -10.0])
def test_diurnal_cycle_averages_to_the_daily_mean(declination):
    lat = np.deg2rad(np.array([-90.0, -75.0, -45.0, 0.0, 30.0, 66.0, 80.0, 90.0]))
    lon = np.linspace(0.0, 2 * np.pi, lat.size, endpoint=False)
    diurnal = Insolation(perpetual_declination=declination, diurnal_cycle=True)
    n = 2000
    times = 3 * DAY + (np.arange(n) + 0.5) / n * DAY
    mean = np.mean([diurnal(lat, lon, t) for t in times], axis=0)
    daily = Insolation(perpetual_declination=declination)(lat, lon, 0.0)
    np.testing.assert_allclose(mean, daily, atol=1e-3, rtol=1e-3)


def test_diurnal_cycle_noon_and_night():
    ins = Insolation(diurnal_cycle=True)
    lon = np.array([np.pi, 0.0, np.pi / 2, 3 * np.pi / 2])  # t = 0: noon, midnight, dawn, dusk
    q = ins(np.zeros(4), lon, 10 * DAY)
    assert q[0] == pytest.approx(S0, rel=1e-14)
    assert q[1] == 0.0
    assert np.all(q[2:] < 1e-9)
    # a whole grid at one instant: night half is zero, nothing negative, noon is the max
    lat, lon = np.meshgrid(np.linspace(-1.5, 1.5, 31), np.linspace(0, 2 * np.pi, 64))
    q = ins(lat, lon, 0.3 * DAY)
    assert q.shape == lat.shape and q.min() == 0.0 and q.max() <= S0
    assert np.count_nonzero(q == 0.0) > 0.4 * q.size


def test_frierson_profile_and_its_global_mean():
    ins = Insolation(profile="frierson")
    lat = np.array([0.0, np.pi / 2])
    np.testing.assert_allclose(ins(lat, 0.0, 0.0),
                               [S0 / 4 * (1 + 1.4 / 4), S0 / 4 * (1 - 1.4 / 2)], rtol=1e-14)
    # P2 is a polynomial of degree 2 in sin(lat): a few Gaussian latitudes are exact
    assert global_mean(ins, nlat=8) == pytest.approx(S0 / 4, rel=1e-14)


def test_seasonal_cycle_declination_follows_the_obliquity():
    ins = Insolation(seasonal_cycle=True, equinox_day=30.0)
    year = 360.0 * DAY
    dec = [np.rad2deg(ins.declination_and_distance(30 * DAY + f * year)[0])
           for f in (0.0, 0.25, 0.5, 0.75, 1.0)]
    np.testing.assert_allclose(dec, [0.0, 23.439, 0.0, -23.439, 0.0], atol=1e-10)
    # global mean stays S0/4 through the year on a circular orbit
    for t in np.linspace(0.0, year, 7):
        assert global_mean(ins, t) == pytest.approx(S0 / 4, rel=1e-6)


def test_eccentric_orbit_distance_and_annual_mean():
    """(a/r)^2 averages over time to 1/sqrt(1 - e^2) (Kepler's second law)."""
    e = 0.1
    ins = Insolation(seasonal_cycle=True, eccentricity=e, obliquity=0.0)
    n = 720
    times = (np.arange(n) + 0.5) / n * 360.0 * DAY
    distance = np.array([ins.declination_and_distance(t)[1] for t in times])
    assert distance.min() == pytest.approx(1 - e, abs=1e-4)
    assert distance.max() == pytest.approx(1 + e, abs=1e-4)
    assert np.mean(distance**-2) == pytest.approx(1 / np.sqrt(1 - e * e), rel=1e-10)
    annual = np.mean([global_mean(ins, t) for t in times[::40]])
    assert annual == pytest.approx(S0 / 4 / np.sqrt(1 - e * e), rel=1e-6)
    # at every instant the planet intercepts S0 (a/r)^2 pi a^2, whatever the season
    tilted = Insolation(seasonal_cycle=True, eccentricity=e)
    for t in times[::90]:
        r = tilted.declination_and_distance(t)[1]
        assert global_mean(tilted, t) == pytest.approx(S0 / 4 / r**2, rel=1e-6)
    # the spring equinox is where the orbit says: declination 0 at equinox_day
    ins = Insolation(seasonal_cycle=True, eccentricity=e, equinox_day=80.0)
    assert ins.declination_and_distance(80.0 * DAY)[0] == pytest.approx(0.0, abs=1e-12)
    # a perpetual season keeps its declination on an eccentric orbit too
    dec, r = Insolation(eccentricity=e, perpetual_declination=10.0).declination_and_distance(0.0)
    assert np.rad2deg(dec) == pytest.approx(10.0, rel=1e-14) and 1 - e <= r <= 1 + e


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="profile"):
        Insolation(profile="annual")
    with pytest.raises(ValueError, match="frierson"):
        Insolation(profile="frierson", diurnal_cycle=True)
    with pytest.raises(ValueError, match="eccentricity"):
        Insolation(eccentricity=1.0)
