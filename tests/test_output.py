"""Tests of gcm.io.history: zarr and netCDF history, run ownership, kill safety."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import cftime
import netCDF4
import numpy as np
import pytest
import xarray as xr
import zarr

from gcm.io import history as output
from gcm.io.history import (
    OutputDirectoryError,
    OutputWriter,
    SnapshotError,
    open_history,
    repair_history,
)

REPO = Path(__file__).resolve().parents[1]
NLEV, NLAT, NLON = 3, 4, 8


def snapshot(time: cftime.datetime, seed: int = 0) -> xr.Dataset:
    """A model-like snapshot: dims (time, lev, lat, lon), CF attributes set."""
    rng = np.random.default_rng(seed)
    dims3, dims2 = ("time", "lev", "lat", "lon"), ("time", "lat", "lon")
    data = {
        "ta": (dims3, 250 + 30 * rng.random((1, NLEV, NLAT, NLON)),
               {"units": "K", "standard_name": "air_temperature"}),
        "ua": (dims3, rng.standard_normal((1, NLEV, NLAT, NLON)).astype(np.float32),
               {"units": "m s-1", "standard_name": "eastward_wind"}),
        "ps": (dims2, 1e5 + rng.standard_normal((1, NLAT, NLON)),
               {"units": "Pa", "standard_name": "surface_air_pressure"}),
    }  # fmt: skip
    coords = {
        "time": ("time", [time], {"standard_name": "time", "axis": "T"}),
        "lev": ("lev", np.linspace(0.1, 0.9, NLEV),
                {"standard_name": "atmosphere_sigma_coordinate", "units": "1"}),
        "lat": ("lat", np.linspace(-60, 60, NLAT),
                {"standard_name": "latitude", "units": "degrees_north"}),
        "lon": ("lon", np.arange(NLON) * 45.0,
                {"standard_name": "longitude", "units": "degrees_east"}),
    }  # fmt: skip
    # Time-independent fields, as the model writes them with every snapshot.
    sigma_half = np.linspace(0.0, 1.0, NLEV + 1)
    data["orog"] = (
        ("lat", "lon"),
        np.outer(np.cos(np.radians(coords["lat"][1])), np.ones(NLON)),
        {"standard_name": "surface_geopotential", "units": "m2 s-2"},
    )
    data["ptop"] = ((), 0.0, {"units": "Pa"})
    data["lev_bnds"] = (("lev", "nbnd"), np.stack([sigma_half[:-1], sigma_half[1:]], axis=1))
    attrs = {"Conventions": "CF-1.8", "title": "test aquaplanet", "time_step_s": 900.0}
    return xr.Dataset(data, coords, attrs=attrs)


def times(calendar: str, n: int, start=(2000, 2, 27), step_hours: float = 30.0) -> list:
    """n times every step_hours, crossing the end of February in ``calendar``."""
    t0 = cftime.datetime(*start, calendar=calendar)
    return [t0 + datetime.timedelta(hours=step_hours * i) for i in range(n)]


def concat(snaps: list[xr.Dataset]) -> xr.Dataset:
    return xr.concat(
        snaps, "time", data_vars="minimal", coords="minimal", compat="override", join="exact"
    )


def read_all(directory: Path) -> xr.Dataset:
    with open_history(directory) as ds:
        return ds.load()


def tree_bytes(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` with its content, to check nothing changed."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("calendar", ["360_day", "noleap"])
def test_zarr_history_readable_after_each_append(tmp_path, calendar):
    writer = OutputWriter(tmp_path, run_id="run-a")
    snaps = [snapshot(t, seed=i) for i, t in enumerate(times(calendar, 3))]
    for n, snap in enumerate(snaps, start=1):
        writer.append(snap)
        ds = read_all(tmp_path)  # what a process killed right now would leave
        xr.testing.assert_identical(ds, concat(snaps[:n]))
        assert all(t.calendar == calendar for t in ds.time.values)
    assert [str(t) for t in ds.time.values][1:] == {
        "360_day": ["2000-02-28 06:00:00", "2000-02-29 12:00:00"],
        "noleap": ["2000-02-28 06:00:00", "2000-03-01 12:00:00"],
    }[calendar]
    assert ds.ta.attrs == {"units": "K", "standard_name": "air_temperature"}
    assert ds.lat.attrs["units"] == "degrees_north"
    assert ds.time.attrs == {"standard_name": "time", "axis": "T"}


def test_zarr_store_layout(tmp_path):
    writer = OutputWriter(tmp_path, run_id="run-a")
    for i, t in enumerate(times("360_day", 2, start=(2000, 3, 5))):
        writer.append(snapshot(t + datetime.timedelta(hours=7), seed=i))
    assert writer.path == tmp_path / "history.zarr"
    with xr.open_zarr(writer.path, consolidated=False, decode_times=False) as raw:
        assert raw.time.attrs["units"].removesuffix(" 00:00:00") == "days since 2000-03-05"
        assert raw.time.attrs["calendar"] == "360_day"
        assert raw.time.dtype == np.float64
        np.testing.assert_array_equal(raw.time.values, [7 / 24, 1.25 + 7 / 24])
    group = zarr.open_group(writer.path, mode="r")
    assert group.metadata.zarr_format == 3
    assert group["ta"].chunks == (1, NLEV, NLAT, NLON)
    assert group["time"].chunks == (1,)
    assert json.loads((tmp_path / "run.json").read_text())["format"] == "zarr"


@pytest.mark.parametrize("calendar", ["360_day", "noleap"])
def test_netcdf_history_reads_back_as_one_dataset(tmp_path, calendar):
    writer = OutputWriter(tmp_path, format="netcdf", run_id="run-n")
    snaps = [snapshot(t, seed=i) for i, t in enumerate(times(calendar, 3))]
    for snap in snaps:
        writer.append(snap)
    names = sorted(p.name for p in (tmp_path / "history").iterdir())
    assert names == ["history_000000.nc", "history_000001.nc", "history_000002.nc"]
    xr.testing.assert_identical(read_all(tmp_path), concat(snaps))
    with netCDF4.Dataset(tmp_path / "history" / "history_000002.nc") as nc:
        # xarray writes "days since 2000-02-27 00:00:00" as "days since 2000-02-27".
        assert nc["time"].units.removesuffix(" 00:00:00") == "days since 2000-02-27"
        np.testing.assert_array_equal(nc["time"][:], [2.5])
        assert nc["time"].calendar == calendar
        assert nc["time"].dtype == np.float64
        assert nc.dimensions["time"].isunlimited()


def test_netcdf_history_without_dask(tmp_path, monkeypatch):
    writer = OutputWriter(tmp_path, format="netcdf", run_id="run-n")
    snaps = [snapshot(t, seed=i) for i, t in enumerate(times("noleap", 2))]
    for snap in snaps:
        writer.append(snap)
    monkeypatch.setattr(output, "_chunks", lambda: None)
    xr.testing.assert_identical(read_all(tmp_path), concat(snaps))


def test_netcdf_failed_write_leaves_no_file(tmp_path, monkeypatch):
    writer = OutputWriter(tmp_path, format="netcdf", run_id="run-n")
    t0, t1 = times("360_day", 2)
    writer.append(snapshot(t0))
    real_to_netcdf = xr.Dataset.to_netcdf

    def write_then_fail(self, path, *args, **kwargs):
        real_to_netcdf(self, path, *args, **kwargs)
        Path(path).write_bytes(Path(path).read_bytes()[:100])  # half-written...
        raise OSError("killed (simulated)")  # ...and interrupted

    monkeypatch.setattr(xr.Dataset, "to_netcdf", write_then_fail)
    with pytest.raises(OSError, match="simulated"):
        writer.append(snapshot(t1))
    assert [p.name for p in (tmp_path / "history").iterdir()] == ["history_000000.nc"]
    assert read_all(tmp_path).sizes["time"] == 1


@pytest.mark.parametrize("fmt", ["zarr", "netcdf"])
def test_directory_of_another_run_is_refused_untouched(tmp_path, fmt):
    writer = OutputWriter(tmp_path, format=fmt, run_id="abc")
    writer.append(snapshot(times("360_day", 1)[0]))
    before = tree_bytes(tmp_path)
    for kwargs in ({}, {"run_id": "xyz"}, {"run_id": "xyz", "resume": True}):
        with pytest.raises(OutputDirectoryError, match="already holds run 'abc'") as err:
            OutputWriter(tmp_path, format=fmt, **kwargs)
        assert str(tmp_path) in str(err.value) and "--restart" in str(err.value)
    assert tree_bytes(tmp_path) == before
    assert issubclass(OutputDirectoryError, ValueError)


def test_same_run_needs_resume_and_same_format(tmp_path):
    OutputWriter(tmp_path, run_id="abc").append(snapshot(times("360_day", 1)[0]))
    before = tree_bytes(tmp_path)
    with pytest.raises(OutputDirectoryError, match="history.zarr.*--restart"):
        OutputWriter(tmp_path, run_id="abc")
    with pytest.raises(OutputDirectoryError, match="format 'zarr'.*'netcdf'"):
        OutputWriter(tmp_path, format="netcdf", run_id="abc", resume=True)
    assert tree_bytes(tmp_path) == before


def test_history_without_run_record_is_refused(tmp_path):
    OutputWriter(tmp_path, run_id="abc").append(snapshot(times("360_day", 1)[0]))
    (tmp_path / "run.json").unlink()
    with pytest.raises(OutputDirectoryError, match="no run.json"):
        OutputWriter(tmp_path, run_id="abc", resume=True)


@pytest.mark.parametrize("fmt", ["zarr", "netcdf"])
def test_resume_continues_the_history(tmp_path, fmt):
    snaps = [snapshot(t, seed=i) for i, t in enumerate(times("noleap", 4))]
    first = OutputWriter(tmp_path, format=fmt, run_id="abc")
    for snap in snaps[:2]:
        first.append(snap)
    resumed = OutputWriter(tmp_path, format=fmt, run_id="abc", resume=True)
    for snap in snaps[2:]:
        resumed.append(snap)
    xr.testing.assert_identical(read_all(tmp_path), concat(snaps))


@pytest.mark.parametrize("fmt", ["zarr", "netcdf"])
def test_resume_from_older_restart_raises_and_drops_nothing(tmp_path, fmt):
    t = times("360_day", 3)
    writer = OutputWriter(tmp_path, format=fmt, run_id="abc")
    for ti in t:
        writer.append(snapshot(ti))
    before = tree_bytes(tmp_path)
    resumed = OutputWriter(tmp_path, format=fmt, run_id="abc", resume=True)
    for stale in (t[1], t[2]):
        with pytest.raises(SnapshotError, match="already holds times up to") as err:
            resumed.append(snapshot(stale))
        assert str(t[2]) in str(err.value) and str(stale) in str(err.value)
    assert tree_bytes(tmp_path) == before


def test_time_must_increase_and_be_cftime_in_one_calendar(tmp_path):
    writer = OutputWriter(tmp_path, run_id="abc")
    t0, t1 = times("360_day", 2)
    writer.append(snapshot(t1))
    with pytest.raises(SnapshotError, match="at or after"):
        writer.append(snapshot(t0))
    with pytest.raises(SnapshotError, match="calendar 'noleap'.*'360_day'"):
        writer.append(snapshot(cftime.datetime(2001, 1, 1, calendar="noleap")))
    numpy_time = snapshot(t1).assign_coords(time=[np.datetime64("2001-01-01")])
    with pytest.raises(SnapshotError, match="cftime"):
        writer.append(numpy_time)
    two_times = concat([snapshot(t1), snapshot(t1)])
    with pytest.raises(SnapshotError, match="length 1"):
        writer.append(two_times)
    assert read_all(tmp_path).sizes["time"] == 1


@pytest.mark.parametrize("fmt", ["zarr", "netcdf"])
def test_mismatched_snapshot_raises_naming_the_variable(tmp_path, fmt):
    t = times("360_day", 2)
    writer = OutputWriter(tmp_path, format=fmt, run_id="abc")
    writer.append(snapshot(t[0]))
    before = tree_bytes(tmp_path)
    good = snapshot(t[1])
    bad = {
        "'hus'": good.assign(hus=good.ta * 0),
        "lacks variable 'ps'": good.drop_vars("ps"),
        "'ps'.*dims": good.assign(ps=good.ps.mean("lon")),
        "'ta': dimension 'lon' has size 4 in the snapshot but 8": good.isel(lon=slice(0, 4)),
        "'ua'.*dtype": good.assign(ua=good.ua.astype(np.float64)),
        "'lat'.*differs": good.assign_coords(lat=good.lat + 1.0),
    }
    for pattern, snap in bad.items():
        with pytest.raises(SnapshotError, match=pattern):
            writer.append(snap)
    assert tree_bytes(tmp_path) == before
    writer.append(good)  # the writer is still usable
    assert read_all(tmp_path).sizes["time"] == 2


def test_time_units_in_attrs_are_replaced_and_input_untouched(tmp_path):
    t0, t1 = times("360_day", 2)
    snaps = [snapshot(t0), snapshot(t1)]
    for snap in snaps:
        snap.time.attrs.update(units="hours since 1900-01-01", calendar="360_day")
    writer = OutputWriter(tmp_path, run_id="abc")
    for snap in snaps:
        writer.append(snap)
    assert snaps[0].time.attrs["units"] == "hours since 1900-01-01"
    assert list(read_all(tmp_path).time.values) == [t0, t1]


def test_killed_append_is_detected_and_repaired(tmp_path):
    t = times("360_day", 3)
    # Run a writer in a child process that dies by SIGKILL in the middle of its
    # third append, after the first array of the store was resized.
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        import zarr
        sys.path.insert(0, {str(REPO / "tests")!r})
        from test_output import snapshot, times
        from gcm.io.history import OutputWriter
        writer = OutputWriter({str(tmp_path)!r}, run_id="abc")
        t = times("360_day", 3)
        writer.append(snapshot(t[0], seed=0))
        writer.append(snapshot(t[1], seed=1))
        real_resize = zarr.Array.resize
        def resize_then_die(self, *args, **kwargs):
            real_resize(self, *args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        zarr.Array.resize = resize_then_die
        writer.append(snapshot(t[2], seed=2))
        """
    )
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()

    with pytest.raises(ValueError, match="interrupted in the middle of an append"):
        open_history(tmp_path)
    with pytest.warns(UserWarning, match="dropped 1 incomplete"):
        writer = OutputWriter(tmp_path, run_id="abc", resume=True)
    expected = [snapshot(ti, seed=i) for i, ti in enumerate(t)]
    xr.testing.assert_identical(read_all(tmp_path), concat(expected[:2]))
    writer.append(expected[2])
    xr.testing.assert_identical(read_all(tmp_path), concat(expected))


def test_missing_chunk_of_last_entry_is_hidden_then_repaired(tmp_path):
    t = times("noleap", 2)
    writer = OutputWriter(tmp_path, run_id="abc")
    writer.append(snapshot(t[0]))
    # Killed after resizing every array but before any chunk of entry 1 was written.
    group = zarr.open_group(writer.path, mode="r+")
    for name in ("ta", "ua", "ps", "time"):
        group[name].resize((2, *group[name].shape[1:]))
    with pytest.warns(UserWarning, match="hiding the incomplete"):
        assert read_all(tmp_path).sizes["time"] == 1
    assert repair_history(tmp_path) == 1
    assert repair_history(tmp_path) == 0
    xr.testing.assert_identical(read_all(tmp_path), concat([snapshot(t[0])]))


def test_open_history_of_empty_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="no history in"):
        open_history(tmp_path)


def test_failed_zarr_append_leaves_store_consistent(tmp_path, monkeypatch):
    t = times("360_day", 3)
    snaps = [snapshot(ti, seed=i) for i, ti in enumerate(t)]
    writer = OutputWriter(tmp_path, run_id="abc")
    writer.append(snaps[0])
    real_resize = zarr.Array.resize
    failed = []

    def resize_then_fail(self, *args, **kwargs):
        real_resize(self, *args, **kwargs)
        if not failed:  # fail once, after the first array of the append grew
            failed.append(self.name)
            raise OSError("disk full (simulated)")

    monkeypatch.setattr(zarr.Array, "resize", resize_then_fail)
    with pytest.raises(OSError, match="simulated"):
        writer.append(snaps[1])
    assert failed
    xr.testing.assert_identical(read_all(tmp_path), concat(snaps[:1]))
    writer.append(snaps[1])
    writer.append(snaps[2])
    xr.testing.assert_identical(read_all(tmp_path), concat(snaps))
