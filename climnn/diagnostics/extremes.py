"""Precipitation extremes: area-weighted histograms on logarithmic bins and the 99th and
99.9th percentiles by latitude band.

Every value of the record (each time, grid point) is one sample weighted by its grid
cell's area (the latitude weight of its row), so a band's percentile is that of the
precipitation falling on a random point of the band's area at a random time. The
histogram is accumulated chunk by chunk with dask, so a multi-year record never has to
fit in memory; the percentiles are read off the cumulative histogram on fine bins
(BINS_PER_DECADE), interpolating linearly in log(precipitation) within a bin, which
bounds their relative error by the bin's width (1.2 % at 200 bins a decade).
"""

from __future__ import annotations

import dask.array as dsa
import numpy as np
import xarray as xr

from climnn.diagnostics.mean_climate import latitude_weights

MM_PER_DAY = 86400.0  # kg m-2 s-1 of liquid water -> mm day-1
#: Latitude bands (lower, upper |lat|, degrees), named for the report.
BANDS = {"tropics": (0.0, 15.0), "subtropics": (15.0, 30.0),
         "midlatitudes": (30.0, 60.0), "polar": (60.0, 90.0)}
PERCENTILES = (99.0, 99.9)
BINS_PER_DECADE = 200
#: Bin edges (mm day-1): values below the first count as "dry" in the first bin.
EDGES = np.logspace(-3.0, 3.0, 6 * BINS_PER_DECADE + 1)


def band_histograms(pr: xr.DataArray) -> xr.Dataset:
    """Area-weighted histograms of precipitation ``pr`` (time, lat, lon), kg m-2 s-1,
    per latitude band: variable ``weight`` (band, bin), each band summing to 1, with
    bin edges ``edges`` (mm day-1). Values below EDGES[0] go to the first bin, above
    EDGES[-1] to the last; a NaN raises ValueError."""
    lat = pr["lat"].values
    w_lat = latitude_weights(lat)
    data = pr.transpose("time", "lat", "lon").data
    data = data if isinstance(data, dsa.Array) else dsa.from_array(data, chunks=(64, -1, -1))
    mm = dsa.clip(data * MM_PER_DAY, EDGES[0], EDGES[-1] * (1 - 1e-12))
    rows = []
    for lo, hi in BANDS.values():
        in_band = (np.abs(lat) >= lo) & ((np.abs(lat) < hi) | (hi == 90.0))  # poles: last band
        if not in_band.any():
            rows.append(dsa.zeros(EDGES.size - 1))
            continue
        band = mm[:, in_band, :]
        weights = dsa.broadcast_to(dsa.from_array(w_lat[in_band])[None, :, None], band.shape)
        hist, _ = dsa.histogram(band, bins=EDGES, weights=weights.rechunk(band.chunks))
        rows.append(hist)
    weight, nan_count = dsa.compute(dsa.stack(rows), dsa.isnan(data).sum())
    if nan_count:
        raise ValueError(f"precipitation holds {int(nan_count)} NaN value(s): its "
                         "histogram is undefined")
    totals = weight.sum(axis=1, keepdims=True)
    weight = np.divide(weight, totals, out=np.zeros_like(weight), where=totals > 0)
    return xr.Dataset({"weight": (("band", "bin"), weight,
                                  {"long_name": "area-weighted share of samples",
                                   "units": "1"}),
                       "edges": (("edge",), EDGES, {"units": "mm day-1"})},
                      coords={"band": list(BANDS)})


def percentile_from_histogram(weight: np.ndarray, edges: np.ndarray, q: float) -> float:
    """The q-th percentile (0 < q < 100) of a distribution given as bin weights
    (summing to 1) on ``edges``, log-linear within the bin that holds it."""
    cumulative = np.concatenate([[0.0], np.cumsum(weight)])
    target = q / 100.0 * cumulative[-1]
    i = int(np.searchsorted(cumulative, target, side="left"))
    i = min(max(i, 1), weight.size)
    share = weight[i - 1]
    fraction = 0.0 if share == 0 else (target - cumulative[i - 1]) / share
    log_lo, log_hi = np.log(edges[i - 1]), np.log(edges[i])
    return float(np.exp(log_lo + fraction * (log_hi - log_lo)))


def extremes_metrics(histograms: xr.Dataset) -> dict[str, float]:
    """``pr_p99_<band>_mm_day`` and ``pr_p99.9_<band>_mm_day`` of each band that holds
    samples."""
    edges = histograms["edges"].values
    out = {}
    for band in histograms["band"].values:
        weight = histograms["weight"].sel(band=band).values
        if weight.sum() == 0:
            continue
        for q in PERCENTILES:
            out[f"pr_p{q:g}_{band}_mm_day"] = percentile_from_histogram(weight, edges, q)
    return out


def extremes_ratios(run: dict[str, float], reference: dict[str, float]) -> dict[str, float]:
    """``<figure>_to_reference``: each percentile of ``run`` (extremes_metrics) over the
    reference's same figure, where the reference has it; above 1 the run's extremes are
    heavier (issue 15: explicit convection's against the Betts–Miller teacher's)."""
    return {f"{key}_to_reference": value / reference[key] for key, value in run.items()
            if reference.get(key, 0.0) > 0.0}
