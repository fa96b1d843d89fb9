"""The Wheeler–Kiladis spectrum on fields with known answers: a symmetric eastward wave
and an antisymmetric westward wave peak at their own (wavenumber, frequency) and
symmetry, the power adds up to the tapered data's mean square, the dispersion curves
against hand-computed values, the figure, and bad inputs."""

import cftime
import numpy as np
import pytest
import xarray as xr
from scipy.signal import detrend

from climnn.diagnostics.wave_spectrum import (
    dispersion_curves,
    equatorial_wave_spectrum,
    kelvin_frequency,
    smooth_121,
    split_cosine_taper,
    wave_spectrum_metrics,
)

NLAT, NLON = 16, 32  # Gaussian rows: 4 of them within 15 degrees of the equator


def field(values: np.ndarray, name: str = "pr", lat=None, lon=None) -> xr.DataArray:
    """(time, lat, lon) daily on a Gaussian grid, 360_day calendar."""
    nt = values.shape[0]
    lat = np.degrees(np.arcsin(np.polynomial.legendre.leggauss(NLAT)[0])) \
        if lat is None else lat
    lon = np.arange(NLON) * 360.0 / NLON if lon is None else lon
    time = [cftime.Datetime360Day(2000, 1, 1) + np.timedelta64(d, "D").item()
            for d in range(nt)]
    return xr.DataArray(values, dims=("time", "lat", "lon"), name=name,
                        coords={"time": time, "lat": lat, "lon": lon},
                        attrs={"units": "kg m-2 s-1"})


def wave(k: int, frequency: float, days: int, symmetric: bool, noise: float,
         seed: int = 0) -> np.ndarray:
    """cos(k λ - 2π f t) (eastward for k > 0) times a meridional profile that is even
    (symmetric) or odd about the equator, plus white noise of standard deviation
    ``noise``; (days, NLAT, NLON)."""
    lat = np.degrees(np.arcsin(np.polynomial.legendre.leggauss(NLAT)[0]))
    profile = np.exp(-(lat / 12.0) ** 2) * (1.0 if symmetric else lat / 10.0)
    lam = np.radians(np.arange(NLON) * 360.0 / NLON)
    t = np.arange(days)[:, None, None]
    signal = np.cos(k * lam[None, None, :] - 2 * np.pi * frequency * t) * profile[:, None]
    return signal + noise * np.random.default_rng(seed).normal(size=signal.shape)


def peak(power: xr.DataArray) -> tuple[int, float]:
    j, i = np.unravel_index(np.argmax(power.values), power.shape)
    return int(power["wavenumber"][i]), float(power["frequency"][j])


def test_a_symmetric_eastward_wave_peaks_at_its_wavenumber_and_frequency():
    # 60-day windows: 0.2 cpd is bin 12 exactly
    spectrum = equatorial_wave_spectrum(field(wave(5, 0.2, 240, True, 0.5)), 1.0,
                                        window_days=60, overlap_days=30)
    assert spectrum.attrs["windows"] == 7
    assert peak(spectrum["power_symmetric"]) == (5, pytest.approx(0.2))
    assert float(spectrum["power_antisymmetric"].max()) \
        < 0.02 * float(spectrum["power_symmetric"].max())
    metrics = wave_spectrum_metrics(spectrum)
    assert (metrics["symmetric_peak_wavenumber"], metrics["symmetric_peak_frequency_cpd"]) \
        == (5, pytest.approx(0.2))
    assert metrics["kelvin_fraction_above_background"] > 0.8
    # c = (0.2 cpd / 5) * 2 pi a / 86400 s = 18.53 m/s, h = c^2 / g = 35.0 m
    assert metrics["kelvin_equivalent_depth_m"] == pytest.approx(35.0, rel=0.05)


def test_an_antisymmetric_westward_wave_peaks_at_negative_wavenumber():
    spectrum = equatorial_wave_spectrum(field(wave(-3, 0.1, 240, False, 0.2)), 1.0,
                                        window_days=60, overlap_days=30)
    assert peak(spectrum["power_antisymmetric"]) == (-3, pytest.approx(0.1))
    assert float(spectrum["power_symmetric"].max()) \
        < 0.02 * float(spectrum["power_antisymmetric"].max())
    noise = wave_spectrum_metrics(equatorial_wave_spectrum(
        field(wave(1, 0.0, 240, True, 1.0)), 1.0, window_days=60, overlap_days=30))
    assert noise["kelvin_fraction_above_background"] < 0.3


def test_the_power_adds_up_to_the_mean_square_of_the_tapered_windows():
    """Parseval: summed over (wavenumber, frequency), the symmetric power is the mean
    square (over time and longitude, summed over the band's rows, averaged over the
    windows) of the detrended, tapered symmetric part; likewise the antisymmetric."""
    values = np.random.default_rng(1).normal(size=(100, NLAT, NLON)) \
        + np.linspace(0.0, 3.0, 100)[:, None, None]  # a trend the windows must remove
    spectrum = equatorial_wave_spectrum(field(values), 1.0, window_days=41,
                                        overlap_days=11)  # odd window: no Nyquist bin
    band = field(values).sel(lat=slice(-15, 15)).values
    taper = split_cosine_taper(41)[:, None, None]
    for part, sign in (("symmetric", 1.0), ("antisymmetric", -1.0)):
        split = 0.5 * (band + sign * band[:, ::-1])
        expected = np.mean([(detrend(split[s:s + 41], axis=0) * taper) ** 2
                            for s in (0, 30)], axis=0).mean(axis=(0, 2)).sum()
        assert float(spectrum[f"power_{part}"].sum()) == pytest.approx(expected, rel=1e-12)


def test_a_dask_backed_field_gives_the_same_spectrum():
    values = wave(2, 0.1, 120, True, 1.0)
    a = equatorial_wave_spectrum(field(values), 1.0, window_days=40, overlap_days=20)
    b = equatorial_wave_spectrum(field(values).chunk({"time": 1}), 1.0, window_days=40,
                                 overlap_days=20)
    xr.testing.assert_identical(a, b)


def test_the_1_2_1_filter_keeps_lines_and_spreads_a_spike():
    line = np.arange(9.0)[:, None] * np.ones((1, 3))
    np.testing.assert_allclose(smooth_121(line, axis=0, passes=7), line, rtol=1e-14)
    spike = smooth_121(np.eye(1, 7, 3)[0], axis=0, passes=1)
    np.testing.assert_allclose(spike, [0, 0, 0.25, 0.5, 0.25, 0, 0])


def at(curves: xr.Dataset, name: str, k: float) -> float:
    return float(curves[name].sel(wavenumber=k).squeeze())


def test_kelvin_and_mixed_rossby_gravity_frequencies_by_hand():
    curves = dispersion_curves((25.0,), wavenumbers=[-1.0, -0.01, 0.0, 1.0])
    # sqrt(9.80616 * 25) / (2 pi 6.371e6 m) * 86400 s = 15.6574 / 4.00301e7 * 86400
    assert at(curves, "kelvin", 1.0) == pytest.approx(0.033795, rel=1e-4)
    assert kelvin_frequency(1, 25.0) == pytest.approx(0.033795, rel=1e-4)
    assert np.isnan(at(curves, "kelvin", -1.0))
    # MRG at k = 0: sqrt(beta c), beta = 2 * 7.292e-5 / 6.371e6 = 2.28912e-11 m-1 s-1
    # sqrt(2.28912e-11 * 15.6574) = 1.89320e-5 s-1 = 0.260335 cpd
    mrg0 = at(curves, "mixed_rossby_gravity", 0.0)
    assert mrg0 == pytest.approx(0.260335, rel=1e-4)
    # n = 1 inertio-gravity at k = 0: sqrt(3) sqrt(beta c); long Rossby waves: c/3
    assert at(curves, "westward_inertio_gravity_n1", 0.0) \
        == pytest.approx(np.sqrt(3.0) * mrg0, rel=1e-10)
    assert at(curves, "equatorial_rossby_n1", -0.01) \
        == pytest.approx(kelvin_frequency(0.01, 25.0) / 3.0, rel=1e-3)
    assert curves["mixed_rossby_gravity"].attrs["symmetry"] == "antisymmetric"


@pytest.mark.parametrize("n", [1, 2])
def test_the_rossby_and_gravity_roots_solve_the_cubic(n):
    k = np.linspace(-15.0, 15.0, 61)
    curves = dispersion_curves((12.0,), wavenumbers=k)
    c, beta, a = np.sqrt(9.80616 * 12.0), 2 * 7.292e-5 / 6.371e6, 6.371e6
    khat = k * np.sqrt(c / beta) / a
    to_cpd = np.sqrt(beta * c) * 86400.0 / (2 * np.pi)
    names = ["eastward_inertio_gravity", "westward_inertio_gravity"] \
        + (["equatorial_rossby"] if n == 1 else [])
    for name in names:
        omega = curves[f"{name}_n{n}"].values[0] / to_cpd
        ok = np.isfinite(omega)
        assert ok.sum() >= 30
        # a root at (k, w > 0), or at (-k, -w) for the westward ones
        residual = omega**3 - (khat**2 + 2 * n + 1) * omega - khat
        np.testing.assert_allclose(residual[ok], 0.0, atol=1e-9)
        assert np.all(omega[ok] >= 0)


def test_the_figure_is_written_whole(tmp_path):
    from climnn.diagnostics.wave_spectrum_plots import plot_wave_spectrum

    spectrum = equatorial_wave_spectrum(field(wave(5, 0.2, 120, True, 0.5)), 1.0,
                                        window_days=60, overlap_days=30)
    path = plot_wave_spectrum(spectrum, tmp_path / "wk_pr.png", "synthetic Kelvin wave")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20000
    assert [p.name for p in tmp_path.iterdir()] == ["wk_pr.png"]


def test_bad_inputs_are_named():
    good = wave(2, 0.1, 100, True, 1.0)
    with pytest.raises(ValueError, match=r"pr: the record holds 50 samples \(50 days\), "
                                         "shorter than one window of 96 days"):
        equatorial_wave_spectrum(field(good[:50]), 1.0)
    lon = np.arange(NLON) * 360.0 / NLON
    lon[3] += 1.0
    with pytest.raises(ValueError, match="pr: the longitudes are not regular"):
        equatorial_wave_spectrum(field(good, lon=lon), 1.0, window_days=40, overlap_days=20)
    holed = good.copy()
    holed[7, NLAT // 2, 4] = np.nan
    with pytest.raises(ValueError, match=r"pr: 1 non-finite value\(s\) in the equatorial "
                                         "band, the first at time=2000-01-08"):
        equatorial_wave_spectrum(field(holed), 1.0, window_days=40, overlap_days=20)
    lat = np.linspace(-80.0, 85.0, NLAT)
    with pytest.raises(ValueError, match="pr: the latitudes within 15 degrees of the "
                                         "equator .* are not mirrored"):
        equatorial_wave_spectrum(field(good, lat=lat), 1.0, window_days=40, overlap_days=20)
    with pytest.raises(ValueError, match="pr: times .* are 1 days apart; "
                                         "samples_per_day=4 needs 0.25 days"):
        equatorial_wave_spectrum(field(good), 4.0, window_days=10, overlap_days=5)
    with pytest.raises(ValueError, match="window must be a whole number"):
        equatorial_wave_spectrum(field(good), 1.0, window_days=40, overlap_days=40)
    with pytest.raises(ValueError, match=r"dims \('time', 'lat'\), expected"):
        equatorial_wave_spectrum(field(good).isel(lon=0), 1.0)
