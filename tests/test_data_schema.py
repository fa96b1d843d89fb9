"""The column-dataset schema: a valid store passes, each kind of damage is named."""

import shutil

import numpy as np
import pytest
import xarray as xr
import zarr

from climnn.data import (
    SCHEMA_NAME,
    VARIABLES,
    DatasetError,
    pressure_thickness,
    sample_count,
    schema,
    validate_store,
    write_store,
)

NTIME, NCOL, NLEV = 6, 20, 5


def make_dataset(ntime=NTIME, ncol=NCOL, nlev=NLEV, seed=0, start="2000-01-01"):
    """A small valid dataset: random but physical values on sigma levels (float32 data)."""
    rng = np.random.default_rng(seed)
    sigma_i = np.linspace(0.0, 1.0, nlev + 1)
    sigma = 0.5 * (sigma_i[1:] + sigma_i[:-1])
    time = xr.date_range(start, periods=ntime, freq="30min", calendar="noleap", use_cftime=True)

    def profile(base, spread):
        return (base + spread * rng.standard_normal((ntime, ncol, nlev))).astype("float32")

    def surface(base, spread):
        return (base + spread * rng.standard_normal((ntime, ncol))).astype("float32")

    prof, surf = ("time", "column", "lev"), ("time", "column")
    data = {
        "T": (prof, profile(200.0 + 90.0 * sigma, 5.0)),
        "Q": (prof, np.abs(profile(0.0, 1e-3 * sigma))),
        "U": (prof, profile(10.0, 8.0)),
        "V": (prof, profile(0.0, 5.0)),
        "PS": (surf, surface(1e5, 800.0)),
        "SST": (surf, surface(295.0, 4.0)),
        "SOLIN": (surf, np.abs(surface(400.0, 300.0))),
        "SHFLX": (surf, surface(15.0, 5.0)),
        "LHFLX": (surf, surface(100.0, 30.0)),
        "TPHYSTND": (prof, profile(0.0, 2e-5)),
        "PHQ": (prof, profile(0.0, 1e-8)),
        "PRECT": (surf, np.abs(surface(3e-5, 2e-5))),
        "FSNT": (surf, np.abs(surface(250.0, 100.0))),
        "FSNS": (surf, np.abs(surface(170.0, 80.0))),
        "FLNT": (surf, surface(240.0, 20.0)),
        "FLNS": (surf, surface(60.0, 15.0)),
        "SHF": (surf, surface(15.0, 5.0)),
        "LHF": (surf, surface(100.0, 30.0)),
    }
    ds = xr.Dataset(
        {name: (dims, values, {"units": VARIABLES[name].units}) for name, (dims, values)
         in data.items()},
        coords={
            "time": time,
            "lat": ("column", np.linspace(-85.0, 85.0, ncol), {"units": "degrees_north"}),
            "lon": ("column", np.linspace(0.0, 350.0, ncol), {"units": "degrees_east"}),
            "area": ("column", np.full(ncol, 1.0 / ncol)),
            "hyam": ("lev", np.zeros(nlev)),
            "hybm": ("lev", sigma),
            "hyai": ("ilev", np.zeros(nlev + 1)),
            "hybi": ("ilev", sigma_i),
            "P0": ((), 1e5, {"units": "Pa"}),
        },
        attrs={
            "source_model": "test",
            "source_files": ["none"],
            "config_hash": "",
            "resolution": f"{ncol} columns L{nlev}",
            "timestep_seconds": 1800.0,
            "surface_flux_convention": "included",
        },
    )
    return ds


def raw_write(ds, path, **attrs):
    """Write without write_store's checks (to build broken stores)."""
    ds = ds.copy()
    ds.attrs.update({"schema": SCHEMA_NAME, "schema_version": 1,
                     "time_range": ["2000-01-01", "2000-01-01"]}, **attrs)
    ds.to_zarr(path, zarr_format=3, consolidated=False)
    return path


@pytest.fixture
def store(tmp_path):
    return write_store(make_dataset(), tmp_path / "data.zarr")


def test_valid_store_passes_and_is_lazy(store):
    ds = validate_store(store, levels=NLEV)
    assert ds.attrs["schema"] == SCHEMA_NAME and ds.attrs["schema_version"] == 1
    assert ds.attrs["time_range"] == ["2000-01-01T00:00:00", "2000-01-01T02:30:00"]
    assert ds["T"].chunks is not None and ds["T"].attrs["role"] == "input"
    assert ds["PRECT"].attrs["role"] == "output" and ds["hybm"].attrs["units"] == "1"
    assert sample_count(ds) == NTIME * NCOL
    array = zarr.open_group(store, mode="r")["T"]
    assert array.chunks == (1, NCOL, NLEV) and array.nchunks_initialized == NTIME
    assert array.compressors[0].cname.value == "lz4"
    assert zarr.open_group(store, mode="r")["time"].dtype == np.float64
    np.testing.assert_array_equal(ds["T"].values, make_dataset()["T"].values)


def test_in_memory_dataset_is_validated(tmp_path):
    ds = make_dataset()
    ds.attrs.update(schema=SCHEMA_NAME, schema_version=1, time_range=["a", "b"])
    assert validate_store(ds) is ds
    with pytest.raises(DatasetError, match=r"<in-memory dataset>: .*'PRECT'"):
        validate_store(ds.drop_vars("PRECT"))
    validate_store(ds.drop_vars(["PRECT", "TPHYSTND"]), require_outputs=False)


def test_missing_store(tmp_path):
    with pytest.raises(DatasetError, match=r"nowhere\.zarr: no such dataset store"):
        validate_store(tmp_path / "nowhere.zarr")


def test_not_a_climnn_store(tmp_path):
    path = tmp_path / "other.zarr"
    make_dataset().to_zarr(path, zarr_format=3, consolidated=False)
    with pytest.raises(DatasetError, match=r"other\.zarr: not a climnn column dataset.*'schema'"):
        validate_store(path)


@pytest.mark.parametrize("name", ["PHQ", "lat", "hybi", "PS"])
def test_missing_required_variable(store, name):
    shutil.rmtree(store / name)
    with pytest.raises(DatasetError, match=rf"data\.zarr: required variable '{name}'"):
        validate_store(store)


def test_optional_and_output_variables(store):
    shutil.rmtree(store / "SST")
    validate_store(store)
    shutil.rmtree(store / "PHQ")
    validate_store(store, require_outputs=False)


def test_wrong_dims(tmp_path):
    ds = make_dataset()
    ds["PS"] = ds["PS"].transpose("column", "time")
    raw_write(ds, tmp_path / "d.zarr")
    with pytest.raises(DatasetError, match=r"d\.zarr: variable 'PS' has dims \('column', "
                       r"'time'\), expected \('time', 'column'\)"):
        validate_store(tmp_path / "d.zarr")


def test_wrong_units(tmp_path):
    ds = make_dataset()
    ds["PRECT"].attrs["units"] = "m s-1"
    raw_write(ds, tmp_path / "u.zarr")
    with pytest.raises(DatasetError, match=r"u\.zarr: variable 'PRECT' has units 'm s-1', "
                       r"expected 'kg m-2 s-1'"):
        validate_store(tmp_path / "u.zarr")


@pytest.mark.parametrize("name", ["hyam", "hybm", "Q"])
def test_level_count_differs_between_variables(store, name):
    old = zarr.open_group(store, mode="r")[name]
    shape, dims = old.shape[:-1] + (NLEV - 1,), old.metadata.dimension_names
    shutil.rmtree(store / name)
    new = zarr.create_array(store, name=name, shape=shape, chunks=shape, dtype=old.dtype,
                            dimension_names=dims, attributes=dict(old.attrs))
    new[...] = 1.0
    with pytest.raises(DatasetError, match=rf"data\.zarr: variable '{name}' has lev=4 but "
                       r"'T' has lev=5"):
        validate_store(store)


def test_interfaces_do_not_match_levels(tmp_path):
    raw_write(make_dataset().isel(ilev=slice(0, NLEV)), tmp_path / "i.zarr")
    with pytest.raises(DatasetError, match=r"i\.zarr: variable 'hyai' has 5 interfaces, "
                       r"expected 6"):
        validate_store(tmp_path / "i.zarr")


def test_caller_levels_differ(store):
    with pytest.raises(DatasetError, match=r"data\.zarr: variable 'T' has lev=5 levels, the "
                       r"caller expects levels=30"):
        validate_store(store, levels=30)


def test_nan_is_located(tmp_path):
    ds = make_dataset()
    ds["T"][2, 7, 3] = np.nan
    path = write_store(ds, tmp_path / "nan.zarr")
    with pytest.raises(DatasetError, match=r"nan\.zarr: variable 'T' holds NaN at index "
                       r"\(time=2, column=7, lev=3\)"):
        validate_store(path)
    validate_store(path, check_values=False)


def test_inf_is_located_in_surface_field(tmp_path):
    ds = make_dataset()
    ds["LHF"][4, 11] = -np.inf
    ds["LHF"][5, 0] = np.nan
    path = write_store(ds, tmp_path / "inf.zarr")
    with pytest.raises(DatasetError, match=r"inf\.zarr: variable 'LHF' holds -inf at index "
                       r"\(time=4, column=11\)"):
        validate_store(path)


def test_nan_in_geometry(tmp_path):
    ds = make_dataset()
    ds["lat"][3] = np.nan
    raw_write(ds, tmp_path / "g.zarr")
    with pytest.raises(DatasetError, match=r"g\.zarr: variable 'lat' holds NaN at index "
                       r"\(column=3\)"):
        validate_store(tmp_path / "g.zarr")


@pytest.mark.parametrize("check_values", [True, False])
def test_deleted_chunk_is_named(store, check_values):
    (store / "T" / "c" / "3" / "0" / "0").unlink()
    with pytest.raises(DatasetError, match=r"data\.zarr: variable 'T': chunk \(3, 0, 0\) is "
                       r"missing"):
        validate_store(store, check_values=check_values)


@pytest.mark.parametrize("frame_check", [True, False])
def test_corrupt_chunk_is_named(store, monkeypatch, frame_check):
    (store / "Q" / "c" / "4" / "0" / "0").write_bytes(b"not a blosc frame at all, sorry")
    if not frame_check:  # the read itself fails: the chunk is found by reading them all
        monkeypatch.setattr(schema, "_check_blosc_frames", lambda path, store: None)
    problem = "is truncated or corrupt" if frame_check else "cannot be read"
    with pytest.raises(DatasetError, match=rf"data\.zarr: variable 'Q': chunk \(4, 0, 0\) "
                       rf"{problem}"):
        validate_store(store)


def test_truncated_chunk_is_named(store):
    chunk = store / "PS" / "c" / "2" / "0"
    chunk.write_bytes(chunk.read_bytes()[:-7])  # Blosc would decode this into garbage
    with pytest.raises(DatasetError, match=r"data\.zarr: variable 'PS': chunk \(2, 0\) is "
                       r"truncated"):
        validate_store(store)


def test_provenance_attributes(tmp_path):
    ds = make_dataset()
    del ds.attrs["resolution"]
    with pytest.raises(DatasetError, match=r"\['resolution'\] missing"):
        write_store(ds, tmp_path / "p.zarr")
    assert not (tmp_path / "p.zarr").exists()
    ds = make_dataset()
    ds.attrs["surface_flux_convention"] = "maybe"
    with pytest.raises(DatasetError, match="surface_flux_convention"):
        write_store(ds, tmp_path / "p.zarr")


def test_write_store_appends_along_time(tmp_path):
    path = tmp_path / "a.zarr"
    first = make_dataset(ntime=3, seed=1)
    second = make_dataset(ntime=2, seed=2, start="2000-01-01T01:30")
    write_store(first, path)
    write_store(second, path, mode="a")
    ds = validate_store(path)
    assert ds.sizes["time"] == 5 and ds.attrs["time_range"][1] == "2000-01-01T02:00:00"
    np.testing.assert_array_equal(ds["T"].values[3:], second["T"].values)
    assert list(ds.indexes["time"]) == list(first.time.values) + list(second.time.values)
    assert zarr.open_group(path, mode="r")["T"].nchunks_initialized == 5
    with pytest.raises(DatasetError, match=r"a\.zarr: holds times up to .* nothing was written"):
        write_store(second, path, mode="a")


def test_pressure_thickness_sums_to_surface_pressure(store):
    ds = validate_store(store)
    dp = pressure_thickness(ds)
    assert dp.dims == ("time", "column", "lev") and dp.attrs["units"] == "Pa"
    assert bool((dp > 0).all())
    np.testing.assert_allclose(dp.sum("lev").values, ds["PS"].values, rtol=1e-12)
    np.testing.assert_allclose(dp.values[..., 0], ds["PS"].values * 0.2, rtol=1e-6)
