"""Prescribed SST profiles: values against the published formulas, worked by hand."""

import numpy as np
import pytest

from gcm.physics.sea_surface import SST_PROFILES, sea_surface_temperature

LATITUDES_DEG = np.array([0.0, 30.0, 60.0, 70.0, -30.0, -70.0])


def test_ape_control_by_hand():
    # 27 (1 - sin^2(3 phi / 2)) degC: sin^2(45 deg) = 1/2 at 30 deg; sin^2(90 deg) = 1 at 60 deg
    expected = 273.15 + np.array([27.0, 13.5, 0.0, 0.0, 13.5, 0.0])
    got = sea_surface_temperature("ape_control", np.deg2rad(LATITUDES_DEG))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_ape_plus4k_is_control_plus_four_exactly():
    lat = np.deg2rad(np.linspace(-90.0, 90.0, 181))
    control = sea_surface_temperature("ape_control", lat)
    assert np.array_equal(sea_surface_temperature("ape_plus4k", lat), control + 4.0)
    np.testing.assert_allclose(sea_surface_temperature("ape_plus4k", np.deg2rad(LATITUDES_DEG)),
                               277.15 + np.array([27.0, 13.5, 0.0, 0.0, 13.5, 0.0]),
                               rtol=0, atol=1e-12)


def test_ape_qobs_by_hand():
    # 27 (1 - (s2 + s2^2)/2): s2 = 1/2 at 30 deg -> 27 (1 - 3/8) = 16.875 degC
    expected = 273.15 + np.array([27.0, 16.875, 0.0, 0.0, 16.875, 0.0])
    got = sea_surface_temperature("ape_qobs", np.deg2rad(LATITUDES_DEG))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_cos2_by_hand():
    # 273 + 29 cos^2: cos^2(30) = 3/4, cos^2(60) = 1/4, cos^2(70) = 0.116977778440511
    c70 = np.cos(np.deg2rad(70.0)) ** 2
    expected = np.array([302.0, 273 + 29 * 0.75, 273 + 29 * 0.25, 273 + 29 * c70,
                         273 + 29 * 0.75, 273 + 29 * c70])
    got = sea_surface_temperature("cos2", np.deg2rad(LATITUDES_DEG))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(SST_PROFILES))
def test_profiles_are_symmetric_continuous_and_offset(name):
    lat = np.deg2rad(np.linspace(-90.0, 90.0, 3601))
    sst = sea_surface_temperature(name, lat)
    assert sst.shape == lat.shape and sst.dtype == np.float64
    np.testing.assert_allclose(sst, sst[::-1], rtol=0, atol=1e-12)
    assert np.abs(np.diff(sst)).max() < 0.1  # K per 0.05 deg: no jump at 60 deg
    assert np.array_equal(sea_surface_temperature(name, lat, offset=-2.5), sst - 2.5)
    assert np.ndim(sea_surface_temperature(name, 0.3)) == 0


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(ValueError, match="ape_wrong.*ape_control.*ape_plus4k.*ape_qobs.*cos2"):
        sea_surface_temperature("ape_wrong", 0.0)
