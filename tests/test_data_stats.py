"""Normalization statistics: dask out of core equals numpy in memory; the data stay intact."""

import hashlib

import numpy as np
import pytest
import xarray as xr
from test_data_schema import NCOL, NLEV, NTIME, make_dataset

from climnn.data import (
    DATA_VARIABLES,
    OUTPUTS,
    DatasetError,
    compute_statistics,
    load_statistics,
    write_store,
)
from climnn.data.stats import CP, LV, LV_PLUS_LF


@pytest.fixture
def store(tmp_path):
    ds = make_dataset()
    ds["T"] = ds["T"] + np.float32(1000.0)  # a large mean over small spread: cancellation test
    return write_store(ds, tmp_path / "data.zarr")


def numpy_statistics(path):
    ds = xr.open_zarr(path, consolidated=False).load()
    out = {}
    for name in DATA_VARIABLES:
        if name in ds:
            x = ds[name].values.astype(np.float64)
            out[name] = {"mean": np.mean(x, axis=(0, 1)), "std": np.std(x, axis=(0, 1)),
                         "min": np.min(x, axis=(0, 1)), "max": np.max(x, axis=(0, 1))}
    return out


def file_digests(path):
    return {
        str(f.relative_to(path)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(path.rglob("*"))
        if f.is_file() and f.relative_to(path).parts[0] != "stats"
    }


@pytest.mark.parametrize("time_chunk", [None, 1, 4])
def test_statistics_equal_numpy(store, time_chunk):
    stats = compute_statistics(store, time_chunk=time_chunk)
    expected = numpy_statistics(store)
    assert set(expected) == {n for n in DATA_VARIABLES if n != "UPHYS" and n != "VPHYS"}
    for name, values in expected.items():
        for stat, value in values.items():
            found = stats[f"{name}_{stat}"]
            assert found.dtype == np.float64
            assert found.dims == (("lev",) if np.ndim(value) else ())
            np.testing.assert_allclose(found.values, value, rtol=1e-10, err_msg=f"{name}_{stat}")


def test_statistics_with_distributed_client(store):
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as client:
        stats = compute_statistics(store, client=client, time_chunk=2)
    np.testing.assert_allclose(stats["PHQ_std"].values, numpy_statistics(store)["PHQ"]["std"],
                               rtol=1e-10)


def test_statistics_stored_in_store_and_reloadable(store):
    stats = compute_statistics(store)
    loaded = load_statistics(store)
    xr.testing.assert_identical(loaded, stats)
    assert loaded.attrs["n_samples"] == NTIME * NCOL
    assert loaded.attrs["computed_with"] == "dask"
    assert len(loaded.attrs["source_hash"]) == 64
    assert loaded["T_mean"].shape == (NLEV,) and loaded["PS_mean"].shape == ()


def test_output_scales(store):
    stats = compute_statistics(store)
    assert {n[: -len("_scale")] for n in stats if n.endswith("_scale")} == {
        n for n in OUTPUTS if n not in ("UPHYS", "VPHYS")}
    assert stats["TPHYSTND_scale"] == CP
    assert stats["PHQ_scale"] == LV and stats["PHQ_scale"].attrs["latent_heat"] == LV
    assert stats["PRECT_scale"] == pytest.approx(LV * 1e-3)
    assert stats["FLNS_scale"] == 1e-3
    cbrain = compute_statistics(store, latent_heat=LV_PLUS_LF)
    assert cbrain["PHQ_scale"] == LV_PLUS_LF and cbrain.attrs["latent_heat"] == LV_PLUS_LF


def test_data_untouched(store):
    before = file_digests(store)
    compute_statistics(store)
    compute_statistics(store)  # replacing earlier statistics touches nothing else either
    assert file_digests(store) == before
    assert (store / "stats").is_dir()


def test_stale_and_missing_statistics(store, tmp_path):
    with pytest.raises(DatasetError, match=r"data\.zarr: no statistics"):
        load_statistics(store)
    compute_statistics(store)
    write_store(make_dataset(ntime=1, start="2000-01-02"), store, mode="a")
    with pytest.raises(DatasetError, match=r"data\.zarr: statistics are stale"):
        load_statistics(store)
    load_statistics(store, check_source=False)


def test_nan_stops_statistics(tmp_path):
    ds = make_dataset()
    ds["PHQ"][1, 2, 4] = np.nan
    path = write_store(ds, tmp_path / "nan.zarr")
    with pytest.raises(DatasetError, match=r"'PHQ' holds NaN at index \(time=1, column=2, "
                       r"lev=4\)"):
        compute_statistics(path)
    assert not (path / "stats").exists()


def test_statistics_of_a_period_are_those_of_its_times_alone(store):
    """``climnn stats --period``: the times in [start, end) only, the period recorded."""
    ds = xr.open_zarr(store, consolidated=False).load()
    times = ds["time"].values
    start, end = times[2].isoformat()[:19], times[5].isoformat()[:19]
    stats = compute_statistics(store, period=(start, end))
    subset = ds.isel(time=slice(2, 5))
    for name in ("T", "PS", "PHQ"):
        x = subset[name].values.astype(np.float64)
        np.testing.assert_allclose(stats[f"{name}_mean"].values, x.mean(axis=(0, 1)), rtol=1e-10)
        np.testing.assert_allclose(stats[f"{name}_max"].values, x.max(axis=(0, 1)), rtol=0)
    assert (stats.attrs["period_start"], stats.attrs["period_end"]) == (start, end)
    assert stats.attrs["n_samples"] == 3 * ds.sizes["column"]
    load_statistics(store)  # the source check looks at the whole store: still valid
    with pytest.raises(DatasetError, match=r"the period \[1990-01-01, 1990-02-01\) holds no"):
        compute_statistics(store, period=("1990-01-01", "1990-02-01"))
    with pytest.raises(DatasetError, match=r"period 'soon' is not an ISO date"):
        compute_statistics(store, period=("soon", "2000-01-02"))
