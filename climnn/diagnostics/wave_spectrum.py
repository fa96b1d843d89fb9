"""The Wheeler–Kiladis wavenumber–frequency spectrum of an equatorial field, and the
shallow-water dispersion curves of the equatorial waves drawn over it.

Wheeler, M., and G. N. Kiladis, 1999: Convectively coupled equatorial waves: analysis of
clouds and temperature in the wavenumber–frequency domain. J. Atmos. Sci., 56, 374–399.
Matsuno, T., 1966: Quasi-geostrophic motions in the equatorial area. J. Meteor. Soc.
Japan, 44, 25–43.

The spectrum (``equatorial_wave_spectrum``), as WK99:

1. the rows within ``lat_max`` of the equator are split into their symmetric part
   S(φ) = (F(φ) + F(−φ))/2 and antisymmetric part A(φ) = (F(φ) − F(−φ))/2, which needs
   mirrored rows (gcm's Gaussian latitudes are);
2. the record is cut into windows of ``window_days`` overlapping by ``overlap_days``; in
   each the time mean and linear trend are removed at every point and the window is
   tapered with a split-cosine bell (the first and last ``TAPER_FRACTION`` of it);
3. a 2-D FFT in longitude and time; power |X|² with X normalized by the number of points,
   so that the power summed over all (wavenumber, frequency) is the mean square of the
   tapered window (Parseval); negative frequencies are folded onto positive ones so that
   positive wavenumber means eastward propagation;
4. the power is summed (not cos-weighted: within ±15° the weights differ by < 4 %) over
   all rows of the band, both hemispheres, and averaged over the windows. S and A are
   orthogonal over mirrored rows, so power_symmetric + power_antisymmetric is the power
   of the field itself.

The background is 0.5 (power_symmetric + power_antisymmetric) smoothed by repeated 1-2-1
filters as in NCL's ``wkSpaceTime`` rendering of WK99: along wavenumber 5, 10, 20 or 40
passes at frequencies below 0.1, 0.2, 0.3 and from 0.3 cpd, then 10 passes along
frequency (frequencies > 0). The ends of each filtered line are kept as they are.
"""

from __future__ import annotations

import datetime

import numpy as np
import xarray as xr

GRAVITY = 9.80616  # m s-2
OMEGA = 7.292e-5  # s-1, Earth's rotation rate
EARTH_RADIUS = 6.371e6  # m
SECONDS_PER_DAY = 86400.0
TAPER_FRACTION = 0.1  # of a window tapered at each end
#: (upper frequency bound in cpd, 1-2-1 passes along wavenumber) for the background
WAVENUMBER_PASSES = ((0.1, 5), (0.2, 10), (0.3, 20), (np.inf, 40))
FREQUENCY_PASSES = 10
#: the Kelvin band of ``wave_spectrum_metrics``: wavenumbers, frequencies (cpd), depths (m)
KELVIN_WAVENUMBERS = (1, 14)
KELVIN_FREQUENCIES = (1.0 / 30.0, 0.5)
KELVIN_DEPTHS = (8.0, 90.0)


def equatorial_wave_spectrum(field: xr.DataArray, samples_per_day: float,
                             window_days: float = 96, overlap_days: float = 60,
                             lat_max: float = 15.0) -> xr.Dataset:
    """The symmetric and antisymmetric wavenumber–frequency power of ``field`` within
    ``lat_max`` degrees of the equator, and its smoothed background (module docstring).

    Parameters
    ----------
    field : xr.DataArray (time, lat, lon), possibly dask-backed
        E.g. daily precipitation (kg m-2 s-1) or OLR (W m-2); lat in degrees north with
        rows mirrored about the equator, lon regular over the whole circle. Only the
        equatorial band is loaded into memory.
    samples_per_day : the number of time samples a day (1 for daily data).
    window_days, overlap_days : length of the windows and their overlap, days.
    lat_max : the band's half-width, degrees.

    Returns
    -------
    xr.Dataset with coords ``wavenumber`` (nlon,) integer cycles per circle (positive:
    eastward) and ``frequency`` (nwin//2 + 1,) cpd from 0, and variables
    ``power_symmetric``, ``power_antisymmetric``, ``background`` (frequency, wavenumber)
    in the field's units squared per (wavenumber, frequency) bin; attrs ``windows``
    (their number) and ``latitudes`` (the rows used).

    Raises
    ------
    ValueError naming the variable when the record is shorter than one window, the
    longitudes are irregular, the rows are not mirrored, the times are not spaced by
    1/samples_per_day days, or the band holds non-finite values.
    """
    name = field.name or "field"
    band = _equatorial_band(field, name, lat_max)
    nwin, step = _window_samples(name, samples_per_day, window_days, overlap_days)
    if band.sizes["time"] < nwin:
        raise ValueError(f"{name}: the record holds {band.sizes['time']} samples "
                         f"({band.sizes['time'] / samples_per_day:g} days), shorter than "
                         f"one window of {window_days:g} days ({nwin} samples)")
    _check_time_spacing(band, name, samples_per_day)
    values = np.asarray(band.load().values, dtype=np.float64)
    _check_finite(values, band, name)
    mirrored = values[:, ::-1, :]
    symmetric = _window_power(0.5 * (values + mirrored), nwin, step)
    antisymmetric = _window_power(0.5 * (values - mirrored), nwin, step)
    nlon = values.shape[2]
    frequency = np.arange(nwin // 2 + 1) * samples_per_day / nwin
    wavenumber = np.arange(-(nlon // 2), nlon - nlon // 2)
    background = smooth_background(0.5 * (symmetric + antisymmetric), frequency)
    units = f"({field.attrs['units']})2" if "units" in field.attrs else "1"
    what = field.attrs.get("long_name", name)
    coords = {"frequency": ("frequency", frequency, {"units": "cpd",
                                                     "long_name": "frequency"}),
              "wavenumber": ("wavenumber", wavenumber, {
                  "units": "1", "long_name": "zonal wavenumber (cycles per circle; "
                  "positive eastward)"})}
    dims = ("frequency", "wavenumber")
    return xr.Dataset(
        {"power_symmetric": (dims, symmetric, {
            "units": units, "long_name": f"power of the symmetric part of {what}"}),
         "power_antisymmetric": (dims, antisymmetric, {
             "units": units, "long_name": f"power of the antisymmetric part of {what}"}),
         "background": (dims, background, {
             "units": units, "long_name": "smoothed mean of symmetric and antisymmetric "
             "power"})},
        coords=coords,
        attrs={"variable": name, "windows": _window_count(values.shape[0], nwin, step),
               "window_days": float(window_days), "overlap_days": float(overlap_days),
               "lat_max": float(lat_max), "latitudes": band["lat"].values.tolist()})


def _equatorial_band(field: xr.DataArray, name: str, lat_max: float) -> xr.DataArray:
    """The rows of ``field`` within ``lat_max`` of the equator, (time, lat, lon), south to
    north, still lazy; checks the dims, the mirror symmetry and the longitudes."""
    if set(field.dims) != {"time", "lat", "lon"}:
        raise ValueError(f"{name}: dims {field.dims}, expected (time, lat, lon)")
    lat = np.asarray(field["lat"].values, dtype=np.float64)
    rows = np.flatnonzero(np.abs(lat) <= lat_max)
    if rows.size == 0:
        raise ValueError(f"{name}: no latitude within {lat_max:g} degrees of the equator")
    rows = rows[np.argsort(lat[rows])]
    band_lat = lat[rows]
    if not np.allclose(band_lat, -band_lat[::-1], atol=1e-6):
        raise ValueError(
            f"{name}: the latitudes within {lat_max:g} degrees of the equator "
            f"({np.round(band_lat, 3).tolist()}) are not mirrored about the equator; the "
            "symmetric/antisymmetric split needs a row at -lat for every row at lat")
    _check_longitudes(np.asarray(field["lon"].values, dtype=np.float64), name)
    return field.isel(lat=rows).transpose("time", "lat", "lon")


def _check_longitudes(lon: np.ndarray, name: str) -> None:
    step = 360.0 / lon.size
    if lon.size < 2 or not np.allclose(np.diff(lon), step, atol=1e-6 * step):
        raise ValueError(f"{name}: the longitudes are not regular over the whole circle "
                         f"(expected {lon.size} points {step:g} degrees apart, ascending)")


def _window_samples(name: str, samples_per_day: float, window_days: float,
                    overlap_days: float) -> tuple[int, int]:
    """(samples a window, samples from one window's start to the next)."""
    nwin = window_days * samples_per_day
    overlap = overlap_days * samples_per_day
    if not (samples_per_day > 0 and nwin >= 2 and abs(nwin - round(nwin)) < 1e-9
            and abs(overlap - round(overlap)) < 1e-9 and 0 <= overlap < nwin):
        raise ValueError(
            f"{name}: window_days={window_days:g}, overlap_days={overlap_days:g} at "
            f"{samples_per_day:g} samples a day: the window must be a whole number (>= 2) "
            "of samples and the overlap a whole number of samples shorter than it")
    return round(nwin), round(nwin) - round(overlap)


def _check_time_spacing(band: xr.DataArray, name: str, samples_per_day: float) -> None:
    """Datetime-like times must be 1/samples_per_day days apart (numbers are trusted)."""
    times = band["time"].values
    if times.size < 2 or np.issubdtype(times.dtype, np.number):
        return
    days = np.asarray(np.diff(times) / datetime.timedelta(days=1), dtype=np.float64)
    expected = 1.0 / samples_per_day
    bad = np.flatnonzero(np.abs(days - expected) > 1e-6 * expected)
    if bad.size:
        i = bad[0]
        raise ValueError(f"{name}: times {times[i]} and {times[i + 1]} are {days[i]:g} "
                         f"days apart; samples_per_day={samples_per_day:g} needs "
                         f"{expected:g} days between all samples")


def _check_finite(values: np.ndarray, band: xr.DataArray, name: str) -> None:
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        t, j, i = bad[0]
        raise ValueError(
            f"{name}: {len(bad)} non-finite value(s) in the equatorial band, the first at "
            f"time={band['time'].values[t]}, lat={float(band['lat'][j]):g}, "
            f"lon={float(band['lon'][i]):g}")


def _window_count(ntime: int, nwin: int, step: int) -> int:
    return (ntime - nwin) // step + 1


def _window_power(values: np.ndarray, nwin: int, step: int) -> np.ndarray:
    """Power (nwin//2 + 1, nlon) of ``values`` (time, lat, lon), summed over lat and
    averaged over the windows; wavenumbers from -(nlon//2), positive eastward."""
    taper = split_cosine_taper(nwin)[:, None, None]
    count = _window_count(values.shape[0], nwin, step)
    total = 0.0
    for w in range(count):
        segment = detrend(values[w * step:w * step + nwin]) * taper
        total = total + folded_power(segment).sum(axis=1)
    return total / count


def detrend(segment: np.ndarray) -> np.ndarray:
    """``segment`` (time, ...) less its least-squares line in time at every point."""
    t = np.arange(segment.shape[0], dtype=np.float64)
    t -= t.mean()
    anomaly = segment - segment.mean(axis=0)
    slope = np.tensordot(t, anomaly, axes=(0, 0)) / (t @ t)
    return anomaly - t.reshape((-1,) + (1,) * (segment.ndim - 1)) * slope


def split_cosine_taper(n: int, fraction: float = TAPER_FRACTION) -> np.ndarray:
    """(n,) ones with a half-cosine rise over the first and fall over the last
    ``fraction`` of the points (at least one point each)."""
    m = max(1, int(round(fraction * n)))
    taper = np.ones(n)
    rise = 0.5 * (1.0 - np.cos(np.pi * (np.arange(m) + 0.5) / m))
    taper[:m], taper[n - m:] = rise, rise[::-1]
    return taper


def folded_power(segment: np.ndarray) -> np.ndarray:
    """|X|² of ``segment`` (time, lat, lon) as (nt//2 + 1, lat, nlon): frequency from 0,
    wavenumber from -(nlon//2); X normalized so that its total is mean(segment²).

    The transform is taken as exp(+i(kx - ωt)) components (inverse FFT in time, forward
    in longitude), so an eastward wave cos(kx - ωt) lands at (+ω, +k) and at (-ω, -k);
    the latter is folded onto the former, hence positive wavenumber = eastward."""
    nt, nlon = segment.shape[0], segment.shape[2]
    spectrum = np.fft.ifft(np.fft.fft(segment, axis=2, norm="forward"), axis=0)
    power = np.abs(spectrum) ** 2
    nf = nt // 2 + 1
    folded = power[:nf].copy()
    mirror = np.arange(1, (nt + 1) // 2)  # frequencies whose negative is distinct
    opposite_k = (-np.arange(nlon)) % nlon
    folded[mirror] += power[nt - mirror][:, :, opposite_k]
    return np.fft.fftshift(folded, axes=2)


def smooth_121(values: np.ndarray, axis: int, passes: int) -> np.ndarray:
    """``passes`` 1-2-1 filters along ``axis``; the two end points are left unchanged."""
    out = np.moveaxis(np.array(values, dtype=np.float64), axis, 0)
    for _ in range(passes):
        out[1:-1] = 0.25 * out[:-2] + 0.5 * out[1:-1] + 0.25 * out[2:]
    return np.moveaxis(out, 0, axis)


def smooth_background(power: np.ndarray, frequency: np.ndarray) -> np.ndarray:
    """The WK99 background of ``power`` (frequency, wavenumber): 1-2-1 passes along
    wavenumber by frequency band (WAVENUMBER_PASSES), then FREQUENCY_PASSES along the
    positive frequencies."""
    out = np.array(power, dtype=np.float64)
    lower = 0.0
    for upper, passes in WAVENUMBER_PASSES:
        rows = (frequency >= lower) & (frequency < upper)
        out[rows] = smooth_121(out[rows], axis=1, passes=passes)
        lower = upper
    positive = frequency > 0
    out[positive] = smooth_121(out[positive], axis=0, passes=FREQUENCY_PASSES)
    return out


def dispersion_curves(equivalent_depths=(12.0, 25.0, 50.0), wavenumbers=None,
                      gravity: float = GRAVITY, rotation: float = OMEGA,
                      radius: float = EARTH_RADIUS) -> xr.Dataset:
    """Frequencies (cpd) of the equatorial shallow-water waves (Matsuno 1966) against
    zonal wavenumber (cycles per circle, positive eastward), NaN where a wave does not
    exist.

    With c = sqrt(g h), β = 2Ω/a, the nondimensional k̂ = k sqrt(c/β)/a and ω̂ = ω/sqrt(βc)
    (k in cycles per circle, ω in rad s-1) satisfy ω̂ = k̂ (Kelvin), ω̂² - k̂ω̂ - 1 = 0
    (n = 0: mixed Rossby–gravity for k <= 0, eastward inertio-gravity for k >= 0) and
    ω̂³ - (k̂² + 2n + 1) ω̂ - k̂ = 0 for n >= 1, whose largest root is the inertio-gravity
    wave (eastward for k > 0, westward for k < 0) and middle root the Rossby wave (k < 0).

    Returns an xr.Dataset (equivalent_depth, wavenumber) with variables ``kelvin``,
    ``equatorial_rossby_n1``, ``eastward_inertio_gravity_n1``,
    ``westward_inertio_gravity_n1`` (symmetric), ``mixed_rossby_gravity``,
    ``eastward_inertio_gravity_n0``, ``eastward_inertio_gravity_n2``,
    ``westward_inertio_gravity_n2`` (antisymmetric), each with attr ``symmetry``.
    """
    depths = np.atleast_1d(np.asarray(equivalent_depths, dtype=np.float64))
    k = (np.linspace(-15.0, 15.0, 301) if wavenumbers is None
         else np.asarray(wavenumbers, dtype=np.float64))
    if np.any(depths <= 0):
        raise ValueError(f"equivalent_depths {depths.tolist()}: must be > 0 m")
    c = np.sqrt(gravity * depths)[:, None]
    beta = 2.0 * rotation / radius
    khat = k[None, :] * np.sqrt(c / beta) / radius
    to_cpd = np.sqrt(beta * c) * SECONDS_PER_DAY / (2.0 * np.pi)
    east, west = k[None, :] >= 0, k[None, :] <= 0
    n0 = 0.5 * khat + np.sqrt(1.0 + 0.25 * khat**2)
    n1, n2 = _cubic_roots(khat, 1), _cubic_roots(khat, 2)
    curves = {
        "kelvin": (np.where(east, khat, np.nan), "symmetric"),
        "equatorial_rossby_n1": (np.where(west, n1[1], np.nan), "symmetric"),
        "eastward_inertio_gravity_n1": (np.where(east, n1[0], np.nan), "symmetric"),
        "westward_inertio_gravity_n1": (np.where(west, n1[0], np.nan), "symmetric"),
        "mixed_rossby_gravity": (np.where(west, n0, np.nan), "antisymmetric"),
        "eastward_inertio_gravity_n0": (np.where(east, n0, np.nan), "antisymmetric"),
        "eastward_inertio_gravity_n2": (np.where(east, n2[0], np.nan), "antisymmetric"),
        "westward_inertio_gravity_n2": (np.where(west, n2[0], np.nan), "antisymmetric"),
    }
    dims = ("equivalent_depth", "wavenumber")
    return xr.Dataset(
        {name: (dims, omega * to_cpd, {"units": "cpd", "symmetry": symmetry,
                                       "long_name": name.replace("_", " ")})
         for name, (omega, symmetry) in curves.items()},
        coords={"equivalent_depth": ("equivalent_depth", depths, {"units": "m"}),
                "wavenumber": ("wavenumber", k, {"units": "1",
                                                 "long_name": "zonal wavenumber"})})


def _cubic_roots(khat: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three real roots, largest first, of ω³ - (k² + 2n + 1) ω - k = 0 (n >= 1),
    by the trigonometric formula (three real roots since 4p³ > 27k² for p = k² + 3)."""
    p = khat**2 + 2 * n + 1
    r = 2.0 * np.sqrt(p / 3.0)
    theta = np.arccos(np.clip(1.5 * khat / p * np.sqrt(3.0 / p), -1.0, 1.0)) / 3.0
    return tuple(r * np.cos(theta - 2.0 * np.pi * j / 3.0) for j in (0, 1, 2))


def kelvin_frequency(wavenumber, depth: float, gravity: float = GRAVITY,
                     radius: float = EARTH_RADIUS):
    """Kelvin-wave frequency (cpd) at ``wavenumber`` (cycles per circle) and equivalent
    depth ``depth`` (m): k sqrt(g h) / (2π a) per second."""
    return np.asarray(wavenumber) * np.sqrt(gravity * depth) * SECONDS_PER_DAY \
        / (2.0 * np.pi * radius)


def wave_spectrum_metrics(spectrum: xr.Dataset, prefix: str = "") -> dict[str, float]:
    """A few numbers of a spectrum (``equatorial_wave_spectrum``) for a report, flat,
    each name prefixed by ``prefix``:

    - ``kelvin_fraction_above_background``: in the Kelvin band (wavenumbers 1..14,
      1/30..0.5 cpd, between the Kelvin curves of 8 and 90 m), the share of the symmetric
      power that exceeds the background, sum(max(S - B, 0)) / sum(S);
    - ``kelvin_power_ratio``: sum(S) / sum(B) over the band;
    - ``kelvin_equivalent_depth_m``: c²/g of the phase speed c = ω/k averaged over the
      band weighted by max(S - B, 0) (NaN if nothing exceeds the background);
    - ``symmetric_peak_wavenumber``, ``symmetric_peak_frequency_cpd``,
      ``symmetric_peak_ratio``: where S/B is largest for |k| <= 15 and frequencies from
      1/30 to 0.8 cpd, and its value; likewise ``antisymmetric_peak_*``.
    """
    k = spectrum["wavenumber"].values.astype(np.float64)
    f = spectrum["frequency"].values
    kk, ff = np.meshgrid(k, f)
    sym = spectrum["power_symmetric"].values
    background = spectrum["background"].values
    band = kelvin_band(kk, ff)
    excess = np.clip(sym - background, 0.0, None) * band
    metrics = {
        "kelvin_fraction_above_background": _ratio(excess.sum(), (sym * band).sum()),
        "kelvin_power_ratio": _ratio((sym * band).sum(), (background * band).sum()),
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.where(band, ff / np.where(kk == 0, np.nan, kk), 0.0) \
            * 2.0 * np.pi * EARTH_RADIUS / SECONDS_PER_DAY
    mean_speed = _ratio((excess * speed).sum(), excess.sum())
    metrics["kelvin_equivalent_depth_m"] = mean_speed**2 / GRAVITY
    window = (np.abs(kk) <= 15) & (ff >= 1.0 / 30.0) & (ff <= 0.8)
    for part in ("symmetric", "antisymmetric"):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(window & (background > 0),
                             spectrum[f"power_{part}"].values / background, -np.inf)
        j, i = np.unravel_index(np.argmax(ratio), ratio.shape)
        finite = np.isfinite(ratio[j, i])
        metrics[f"{part}_peak_wavenumber"] = float(k[i]) if finite else float("nan")
        metrics[f"{part}_peak_frequency_cpd"] = float(f[j]) if finite else float("nan")
        metrics[f"{part}_peak_ratio"] = float(ratio[j, i]) if finite else float("nan")
    return {prefix + name: float(value) for name, value in metrics.items()}


def kelvin_band(wavenumber: np.ndarray, frequency: np.ndarray) -> np.ndarray:
    """Boolean mask of the Kelvin band (KELVIN_WAVENUMBERS, KELVIN_FREQUENCIES, between
    the Kelvin curves of KELVIN_DEPTHS) at arrays of wavenumber and frequency (cpd)."""
    low, high = (kelvin_frequency(wavenumber, h) for h in KELVIN_DEPTHS)
    return ((wavenumber >= KELVIN_WAVENUMBERS[0]) & (wavenumber <= KELVIN_WAVENUMBERS[1])
            & (frequency >= KELVIN_FREQUENCIES[0]) & (frequency <= KELVIN_FREQUENCIES[1])
            & (frequency >= low) & (frequency <= high))


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else float("nan")
