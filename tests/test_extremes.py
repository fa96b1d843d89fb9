"""Precipitation percentiles and histograms against known distributions."""

import numpy as np
import pytest
import xarray as xr

from climnn.diagnostics.extremes import (
    BANDS,
    band_histograms,
    extremes_metrics,
    percentile_from_histogram,
)
from climnn.diagnostics.mean_climate import latitude_weights

LAT = np.degrees(np.arcsin(np.polynomial.legendre.leggauss(24)[0]))


def precipitation(values_mm_day):
    """(time, lat, lon) kg m-2 s-1 from mm/day values, dask-chunked in time."""
    return xr.DataArray(values_mm_day / 86400.0, dims=("time", "lat", "lon"),
                        coords={"lat": LAT}).chunk({"time": 50})


def test_percentiles_of_an_exponential_distribution():
    # P(x > p) = exp(-p / mean): the q-th percentile is -mean ln(1 - q/100)
    rng = np.random.default_rng(1)
    mean = 6.0
    h = band_histograms(precipitation(rng.exponential(mean, (4000, 24, 16))))
    m = extremes_metrics(h)
    for band in BANDS:
        for q in (99.0, 99.9):
            exact = -mean * np.log(1 - q / 100)
            # sampling error of the 99.9th percentile of ~100k samples: ~3 %
            assert m[f"pr_p{q:g}_{band}_mm_day"] == pytest.approx(exact, rel=0.05), (band, q)


def test_percentile_within_one_bin_of_a_known_histogram():
    edges = np.logspace(-1, 1, 3)  # 0.1, 1, 10
    weight = np.array([0.5, 0.5])
    assert percentile_from_histogram(weight, edges, 50.0) == pytest.approx(1.0)
    assert percentile_from_histogram(weight, edges, 75.0) == pytest.approx(np.sqrt(10.0))


def test_samples_weigh_by_their_cells_area():
    # 1 mm/day on the band's two rows nearest the equator, 100 mm/day elsewhere in it:
    # the share of the wet class is those rows' share of the band's area, not of rows
    values = np.full((10, 24, 4), 100.0)
    tropics = np.flatnonzero(np.abs(LAT) < 15.0)
    inner = tropics[np.argsort(np.abs(LAT[tropics]))[:2]]
    values[:, inner, :] = 1.0
    h = band_histograms(precipitation(values))
    weight = h["weight"].sel(band="tropics").values
    edges = h["edges"].values
    low = weight[edges[1:] <= 10.0].sum()
    w = latitude_weights(LAT)
    assert low == pytest.approx(w[inner].sum() / w[tropics].sum(), rel=1e-12)
    assert low > len(inner) / len(tropics)  # equatorial rows are the largest


def test_nan_in_precipitation_is_refused():
    values = np.ones((10, 24, 4))
    values[3, 5, 2] = np.nan
    with pytest.raises(ValueError, match="1 NaN value"):
        band_histograms(precipitation(values))
