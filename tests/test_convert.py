"""Converters of ClimSim (E3SM-MMF mli/mlo pairs) and CBRAIN (SPCAM) files to the schema.

Small files are built here with the sources' real variable names, dimensions and units;
the converted store must hold the same numbers after the documented transformations
(tendency = (mlo - mli) / 1200 s, PRECT x 1000, lat-major flattening), pass the schema's
validator, and every bad input must raise one error naming the file and the variable.
"""

from __future__ import annotations

from pathlib import Path

import cftime
import numpy as np
import pytest
import xarray as xr

from climnn.data.convert import convert_cbrain, convert_climsim
from climnn.data.schema import DatasetError, validate_store
from climnn.data.synthetic import climsim_grid_info, climsim_pair, spcam_file

NCOL, NLEV_CLIMSIM = 8, 6
CLIMSIM_STAMPS = ("0001-02-01-00000", "0001-02-01-01200", "0001-02-01-02400")
NLAT, NLON, NLEV_SPCAM, NTIME = 4, 8, 5, 2


# --------------------------------------------------------------------------- ClimSim files


def _climsim_grid_info(path: Path, p0: float = 1e5) -> Path:
    return climsim_grid_info(path, NCOL, NLEV_CLIMSIM, p0)


def _climsim_pair(directory: Path, stamp: str, seed: int, nlev_mlo: int = NLEV_CLIMSIM):
    """Write E3SM-MMF.mli/mlo.<stamp>.nc; profiles on (lev, ncol) as E3SM writes them."""
    return climsim_pair(directory, stamp, seed, NCOL, NLEV_CLIMSIM, nlev_mlo)


@pytest.fixture
def climsim(tmp_path):
    """(mli files, grid-info file) of three consecutive 20-minute steps."""
    grid = _climsim_grid_info(tmp_path / "ClimSim_low-res_grid-info.nc")
    mli = [_climsim_pair(tmp_path, stamp, seed)[0] for seed, stamp in enumerate(CLIMSIM_STAMPS)]
    return mli, grid


def test_climsim_values_and_metadata(climsim, tmp_path):
    mli_files, grid = climsim
    out = convert_climsim(mli_files, tmp_path / "climsim.zarr", grid_info=grid)
    assert out == tmp_path / "climsim.zarr"
    assert not (tmp_path / "climsim.zarr.partial").exists()
    validate_store(out, require_outputs=False)

    ds = xr.open_zarr(out, consolidated=False).load()
    assert ds.sizes == {"time": 3, "column": NCOL, "lev": NLEV_CLIMSIM, "ilev": NLEV_CLIMSIM + 1}
    expected_times = [
        cftime.DatetimeNoLeap(1, 2, 1, 0, 0, 0),
        cftime.DatetimeNoLeap(1, 2, 1, 0, 20, 0),
        cftime.DatetimeNoLeap(1, 2, 1, 0, 40, 0),
    ]
    assert list(ds["time"].values) == expected_times
    for t, path in enumerate(mli_files):
        mli = _load(path)
        mlo = _load(Path(str(path).replace(".mli.", ".mlo.")))

        def profile(ds_, name):
            return ds_[name].transpose("ncol", "lev").values

        np.testing.assert_array_equal(ds["T"][t], profile(mli, "state_t"))
        np.testing.assert_array_equal(ds["Q"][t], profile(mli, "state_q0001"))
        np.testing.assert_array_equal(ds["U"][t], profile(mli, "state_u"))
        np.testing.assert_array_equal(ds["PS"][t], mli["state_ps"].values)
        np.testing.assert_array_equal(ds["SOLIN"][t], mli["pbuf_SOLIN"].values)
        np.testing.assert_array_equal(ds["LHFLX"][t], mli["pbuf_LHFLX"].values)
        for schema, source in [
            ("TPHYSTND", "state_t"),
            ("PHQ", "state_q0001"),
            ("UPHYS", "state_u"),
            ("VPHYS", "state_v"),
        ]:
            change = (profile(mlo, source) - profile(mli, source)) / 1200.0
            np.testing.assert_allclose(ds[schema][t], change, rtol=1e-12, atol=0)
        # PRECC is liquid + ice already: PRECT = 1000 * PRECC, PRECSC is not added
        np.testing.assert_allclose(ds["PRECT"][t], 1000.0 * mlo["cam_out_PRECC"].values)
        np.testing.assert_array_equal(ds["FSNS"][t], mlo["cam_out_NETSW"].values)
        np.testing.assert_allclose(
            ds["FLNS"][t], mli["cam_in_LWUP"].values - mlo["cam_out_FLWDS"].values
        )
    for absent in ("FSNT", "FLNT", "SST"):
        assert absent not in ds

    grid_ds = _load(grid)
    np.testing.assert_allclose(ds["area"].sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(ds["area"], grid_ds["area"] / grid_ds["area"].sum())
    np.testing.assert_array_equal(ds["lat"], grid_ds["lat"])
    np.testing.assert_array_equal(ds["hybi"], grid_ds["hybi"])
    assert float(ds["P0"]) == 1e5
    units = {
        "T": "K",
        "Q": "kg kg-1",
        "PS": "Pa",
        "TPHYSTND": "K s-1",
        "PHQ": "kg kg-1 s-1",
        "UPHYS": "m s-2",
        "PRECT": "kg m-2 s-1",
        "FSNS": "W m-2",
    }
    for name, unit in units.items():
        assert ds[name].attrs["units"] == unit, name
    assert ds["T"].attrs["role"] == "input" and ds["PRECT"].attrs["role"] == "output"
    assert ds.attrs["source_model"] == "E3SM-MMF (ClimSim)"
    assert ds.attrs["surface_flux_convention"] == "excluded"
    assert ds.attrs["timestep_seconds"] == 1200.0
    assert ds.attrs["time_range"] == ["0001-02-01T00:00:00", "0001-02-01T00:40:00"]
    assert str(mli_files[0]) in ds.attrs["source_files"]
    assert ds.attrs["resolution"] == f"{NCOL} columns L{NLEV_CLIMSIM}"


def test_climsim_grid_from_files_and_p0_rescaling(tmp_path):
    """Without a grid-info file the geometry comes from the mli file; a P0 other than 1e5
    Pa is folded into hya* so that p = hyam * 1e5 + hybm * PS still holds."""
    mli, _ = _climsim_pair(tmp_path, CLIMSIM_STAMPS[0], 0)
    grid = _load(_climsim_grid_info(tmp_path / "grid.nc", p0=5e4))
    xr.merge([_load(mli), grid]).to_netcdf(tmp_path / "merged.nc")
    (tmp_path / "merged.nc").replace(mli)
    ds = xr.open_zarr(convert_climsim([mli], tmp_path / "s.zarr"), consolidated=False)
    np.testing.assert_allclose(ds["hyam"] * 1e5, grid["hyam"] * 5e4, rtol=1e-12)


def test_climsim_without_grid_information_names_what_is_missing(tmp_path):
    mli, _ = _climsim_pair(tmp_path, CLIMSIM_STAMPS[0], 0)
    with pytest.raises(DatasetError, match=r"E3SM-MMF\.mli\..*hyam, hybm, hyai, hybi"):
        convert_climsim([mli], tmp_path / "s.zarr")


def _load(path: Path) -> xr.Dataset:
    with xr.open_dataset(path) as ds:
        return ds.load()


def _drop(path: Path, name: str) -> None:
    _load(path).drop_vars(name).to_netcdf(path)


def _set_units(path: Path, name: str, units: str) -> None:
    ds = _load(path)
    ds[name].attrs["units"] = units
    ds.to_netcdf(path)


@pytest.mark.parametrize(
    "case, file_pattern, variable",
    [
        ("missing file", r"E3SM-MMF\.mli\.0001-02-01-03600\.nc", "does not exist"),
        ("missing variable", r"E3SM-MMF\.mli\.0001-02-01-01200\.nc", "pbuf_SOLIN"),
        ("wrong units", r"E3SM-MMF\.mlo\.0001-02-01-01200\.nc", "cam_out_PRECC.*'mm/day'"),
        ("mismatched levels", r"E3SM-MMF\.mlo\.0001-02-01-02400\.nc", "state_t has 5 levels"),
        ("mli without mlo", r"E3SM-MMF\.mli\.0001-02-01-01200\.nc", "without its mlo partner"),
    ],
)
def test_climsim_bad_input(climsim, tmp_path, case, file_pattern, variable):
    mli_files, grid = climsim
    mli_files = list(mli_files)
    if case == "missing file":
        mli_files.append(tmp_path / "E3SM-MMF.mli.0001-02-01-03600.nc")
        (tmp_path / "E3SM-MMF.mlo.0001-02-01-03600.nc").touch()
    elif case == "missing variable":
        _drop(mli_files[1], "pbuf_SOLIN")
    elif case == "wrong units":
        _set_units(tmp_path / "E3SM-MMF.mlo.0001-02-01-01200.nc", "cam_out_PRECC", "mm/day")
    elif case == "mismatched levels":
        _climsim_pair(tmp_path, CLIMSIM_STAMPS[2], 2, nlev_mlo=NLEV_CLIMSIM - 1)
    elif case == "mli without mlo":
        (tmp_path / "E3SM-MMF.mlo.0001-02-01-01200.nc").unlink()
    out = tmp_path / "bad.zarr"
    with pytest.raises(DatasetError, match=f"{file_pattern}.*{variable}"):
        convert_climsim(mli_files, out, grid_info=grid)
    assert not out.exists() and not (tmp_path / "bad.zarr.partial").exists()


# --------------------------------------------------------------------------- CBRAIN files


def _spcam_file(path: Path, first_step: int, seed: int, nlev: int = NLEV_SPCAM, **units) -> Path:
    """An SPCAM aquaplanet file as CBRAIN preprocesses it: (time, lev, lat, lon)."""
    return spcam_file(path, first_step, seed, NTIME, NLAT, NLON, nlev, **units)


@pytest.fixture
def spcam(tmp_path):
    return [
        _spcam_file(tmp_path / "AndKua_aqua_SPCAM3.0.cam2.h1.0000-01-01-00000.nc", 0, 0),
        _spcam_file(tmp_path / "AndKua_aqua_SPCAM3.0.cam2.h1.0000-01-01-03600.nc", 2, 1),
    ]


def test_cbrain_values_and_metadata(spcam, tmp_path):
    # the second file is given first: files are ordered by time
    out = convert_cbrain(spcam[::-1], tmp_path / "cbrain.zarr")
    validate_store(out)
    ds = xr.open_zarr(out, consolidated=False).load()
    assert ds.sizes == {"time": 4, "column": NLAT * NLON, "lev": NLEV_SPCAM, "ilev": 6}
    assert [t.minute + 60 * t.hour for t in ds["time"].values] == [0, 30, 60, 90]
    assert ds["time"].values[0].calendar == "noleap"
    for f, path in enumerate(spcam):
        source = _load(path)
        for k in range(NTIME):
            t = NTIME * f + k
            for schema_name, name in [
                ("T", "TBP"),
                ("Q", "QBP"),
                ("U", "UBP"),
                ("V", "VBP"),
                ("TPHYSTND", "TPHYSTND"),
                ("PHQ", "PHQ"),
            ]:
                # column = ilat * nlon + ilon; lev stays last
                for ilat, ilon in [(0, 0), (1, 3), (3, 7)]:
                    np.testing.assert_array_equal(
                        ds[schema_name][t, ilat * NLON + ilon], source[name][k, :, ilat, ilon]
                    )
            for name in ("PS", "SOLIN", "SHFLX", "LHFLX", "FSNT", "FSNS", "FLNT", "FLNS"):
                np.testing.assert_array_equal(ds[name][t], source[name][k].values.reshape(-1))
            np.testing.assert_allclose(
                ds["PRECT"][t], 1000.0 * source["PRECT"][k].values.reshape(-1), rtol=1e-6
            )
    lat = np.linspace(-60.0, 60.0, NLAT)
    np.testing.assert_array_equal(ds["lat"], np.repeat(lat, NLON))
    np.testing.assert_array_equal(ds["lon"][:NLON], np.arange(NLON) * 360.0 / NLON)
    weights = np.repeat(np.cos(np.deg2rad(lat)), NLON)
    np.testing.assert_allclose(ds["area"], weights / weights.sum(), rtol=1e-12)
    assert ds["PRECT"].attrs["units"] == "kg m-2 s-1"
    assert ds["TPHYSTND"].attrs["units"] == "K s-1"
    assert ds["PHQ"].attrs["units"] == "kg kg-1 s-1"
    assert ds["FLNS"].attrs["units"] == "W m-2"
    assert ds["T"].dtype == np.float32
    assert ds.attrs["source_model"] == "SPCAM3 (CBRAIN)"
    assert ds.attrs["surface_flux_convention"] == "included"
    assert ds.attrs["resolution"] == f"{NLAT}x{NLON} L{NLEV_SPCAM}"
    assert ds.attrs["timestep_seconds"] == 1800.0
    assert ds.attrs["time_range"] == ["0000-01-01T00:00:00", "0000-01-01T01:30:00"]
    assert ds.attrs["source_files"] == [str(p) for p in spcam]


@pytest.mark.parametrize(
    "case, variable",
    [
        ("missing file", "does not exist"),
        ("missing variable", "missing variable.*PHQ"),
        ("wrong units", "PRECT has units 'kg/m2/s', expected 'm s-1'"),
        ("mismatched levels", "hyam .*differs from the first file"),
    ],
)
def test_cbrain_bad_input(spcam, tmp_path, case, variable):
    bad = spcam[1]
    if case == "missing file":
        bad.unlink()
    elif case == "missing variable":
        _drop(bad, "PHQ")
    elif case == "wrong units":
        _spcam_file(bad, 2, 1, PRECT="kg/m2/s")
    elif case == "mismatched levels":
        _spcam_file(bad, 2, 1, nlev=NLEV_SPCAM - 1)
    out = tmp_path / "bad.zarr"
    with pytest.raises(DatasetError, match=f"{bad.name}.*{variable}"):
        convert_cbrain(spcam, out)
    assert not out.exists() and not (tmp_path / "bad.zarr.partial").exists()


def test_existing_output_is_not_overwritten(spcam, tmp_path):
    out = tmp_path / "cbrain.zarr"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="cbrain.zarr"):
        convert_cbrain(spcam, out)
    assert (out / "keep.txt").read_text() == "precious"
    convert_cbrain(spcam, out, overwrite=True)
    assert not (out / "keep.txt").exists()
    validate_store(out)


def test_cbrain_with_dask_client_matches_plain_conversion(spcam, tmp_path):
    distributed = pytest.importorskip("distributed")
    plain = xr.open_zarr(convert_cbrain(spcam, tmp_path / "plain.zarr"), consolidated=False)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1) as client:
        out = convert_cbrain(spcam, tmp_path / "dask.zarr", client=client)
    validate_store(out)
    with_client = xr.open_zarr(out, consolidated=False)
    for name in ("T", "U", "PHQ", "PRECT", "FLNT"):
        np.testing.assert_array_equal(with_client[name].values, plain[name].values)


def test_appending_step_by_step_gives_the_same_store(climsim, spcam, tmp_path, monkeypatch):
    """One append a block (as for a long record) equals one write of everything; chunks
    and codec follow the schema."""
    import zarr

    from climnn.data import convert

    mli_files, grid = climsim
    whole_climsim = convert_climsim(mli_files, tmp_path / "a.zarr", grid_info=grid)
    whole_cbrain = convert_cbrain(spcam, tmp_path / "b.zarr")
    monkeypatch.setattr(convert, "_WRITE_BYTES", 1)
    steps_climsim = convert_climsim(mli_files, tmp_path / "c.zarr", grid_info=grid)
    steps_cbrain = convert_cbrain(spcam, tmp_path / "d.zarr")
    for whole, steps in [(whole_climsim, steps_climsim), (whole_cbrain, steps_cbrain)]:
        # reset_coords: an append through write_store turns hyai/hybi (ilev-only
        # coordinates) into data variables; the values are what matters here
        a = xr.open_zarr(whole, consolidated=False).load().reset_coords()
        b = xr.open_zarr(steps, consolidated=False).load().reset_coords()
        xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
        assert b.attrs["time_range"] == a.attrs["time_range"]
    group = zarr.open_group(steps_cbrain, mode="r")
    assert group["T"].chunks == (1, NLAT * NLON, NLEV_SPCAM)
    assert group["PRECT"].chunks == (1, NLAT * NLON)
    blosc = group["T"].compressors[0]
    assert (blosc.cname.value, blosc.shuffle.value) == ("lz4", "shuffle")


def test_missing_units_attribute_is_assumed_with_one_warning(climsim, tmp_path):
    mli_files, grid = climsim
    for path in mli_files:
        ds = _load(path)
        del ds["state_ps"].attrs["units"]
        ds.to_netcdf(path)
    with pytest.warns(UserWarning, match="state_ps has no units attribute") as record:
        out = convert_climsim(mli_files, tmp_path / "s.zarr", grid_info=grid)
    assert sum("state_ps" in str(w.message) for w in record) == 1
    assert xr.open_zarr(out, consolidated=False)["PS"].attrs["units"] == "Pa"


def test_cbrain_without_ubp_converts_without_u(spcam, tmp_path):
    """The seed paper's inputs have no zonal wind (TBP, QBP, VBP): U is optional."""
    for path in spcam:
        _drop(path, "UBP")
    out = convert_cbrain(spcam, tmp_path / "no_u.zarr")
    ds = validate_store(out)
    assert "U" not in ds and "V" in ds


def test_command_line_convert_then_stats(spcam, tmp_path, capsys):
    from climnn.cli import main
    from climnn.data import load_statistics

    out = tmp_path / "cli.zarr"
    assert main(["convert", "cbrain", *map(str, spcam), "--out", str(out)]) == 0
    assert main(["stats", str(out)]) == 0
    stats = load_statistics(out)
    assert stats["T_mean"].sizes["lev"] == NLEV_SPCAM
    # a second conversion into the same store is refused and leaves it alone
    assert main(["convert", "cbrain", *map(str, spcam), "--out", str(out)]) == 2
    assert str(out) in capsys.readouterr().err
