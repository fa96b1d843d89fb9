"""The history as users open it: plain xr.open_zarr without warnings, CF cell_methods and
time bounds that say what each interval mean covers, and the values they cover."""

from __future__ import annotations

import datetime
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from gcm.io.cf_metadata import interval_start
from gcm.io.history import OutputWriter, open_history
from gcm.model import Model
from gcm.simulation import Simulation

sys.path.insert(0, str(Path(__file__).parent))
from test_output import snapshot, times  # noqa: E402

MEANS = ("pr", "hfss", "hfls", "fsnt", "fsns", "flnt", "flns", "rsdt")


def test_plain_open_zarr_sees_every_append_without_warning(tmp_path):
    writer = OutputWriter(tmp_path, run_id="abc")
    for n, time in enumerate(times("360_day", 3), start=1):
        writer.append(snapshot(time, seed=n))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. "Failed to open Zarr store with consolidated"
            with xr.open_zarr(writer.path) as ds:
                assert ds.sizes["time"] == n  # the consolidated metadata is up to date


def _moist_model(make_config):
    cfg = make_config("rest", scheme="teacher", levels=10, temperature=285.0, humidity=0.015)
    return Model(cfg)


@pytest.mark.parametrize("fmt", ["zarr", "netcdf"])
def test_interval_means_are_the_average_over_their_time_bounds(make_config, tmp_path, fmt):
    model = _moist_model(make_config)
    model.keep_physics_call = True
    writer = OutputWriter(tmp_path, format=fmt)
    shape = (model.grid.nlat, model.grid.nlon)
    per_interval = round(model.config.output.interval_hours * 3600 / model.dt)

    def write():  # what the history writer of a run does every output interval
        writer.append(model.snapshot())
        model.start_output_interval()

    write()
    expected = []  # hand averages of precipitation and sensible heat flux per interval
    for _ in range(2):
        calls = []
        for _ in range(per_interval):
            model.step()
            out = model.last_physics.tendencies
            calls.append((out.precipitation.reshape(shape).copy(), out.shf.reshape(shape).copy()))
        expected.append(np.mean(calls, axis=0))
        write()
    ds = open_history(tmp_path).load()

    t = ds["time"].values
    assert ds["time"].attrs["bounds"] == "time_bnds"
    assert list(ds["time_bnds"].values[0]) == [t[0], t[0]]  # the initial snapshot: empty
    for name in MEANS:
        assert ds[name].attrs["cell_methods"] == "time: mean", name
        assert np.isnan(ds[name].values[0]).all(), name
    for i in (1, 2):
        assert list(ds["time_bnds"].values[i]) == [t[i - 1], t[i]]
        assert t[i] - t[i - 1] == datetime.timedelta(hours=model.config.output.interval_hours)
        pr, hfss = expected[i - 1]
        assert pr.max() > 0  # it rains: the comparison is not of zeros
        np.testing.assert_allclose(ds["pr"].values[i], pr, rtol=1e-12, atol=0)
        np.testing.assert_allclose(ds["hfss"].values[i], hfss, rtol=1e-12, atol=0)
    for name in ("ua", "ta", "hus", "ps", "zeta"):
        assert ds[name].attrs["cell_methods"] == "time: point", name
    assert ds["fixer_energy"].attrs["cell_methods"] == "area: mean time: mean"
    assert ds["atmosphere_mass"].attrs["cell_methods"] == "area: mean time: point"


def test_time_bounds_of_a_resumed_run_are_those_of_a_straight_run(make_config, tmp_path):
    cfg = make_config("rest", scheme="held_suarez", perturbation=1.0, levels=5)
    cfg.output.interval_hours = 16.0  # restarts (each day) fall inside output intervals
    Simulation(Model(cfg), tmp_path / "straight", progress=False).run(2)
    half = Simulation(Model(cfg), tmp_path / "halves", progress=False)
    half.run(1)
    Simulation.from_restart(half.last_restart, progress=False).run(1)
    straight, halves = open_history(tmp_path / "straight"), open_history(tmp_path / "halves")
    bounds = straight["time_bnds"].values
    assert bounds.shape == (4, 2)  # t0 and 16, 32, 48 h
    assert list(bounds[2]) == list(straight["time"].values[1:3])
    assert (halves["time_bnds"].values == bounds).all()
    np.testing.assert_array_equal(halves["fixer_energy"].values, straight["fixer_energy"].values)


def test_interval_start_without_a_recorded_start_step(make_config):
    model = Model(make_config("rest", scheme="held_suarez", perturbation=1.0, levels=5))
    for _ in range(5):
        model.step()
    model.start_output_interval()
    for _ in range(3):
        model.step()
    assert interval_start(model) == model.start_time + datetime.timedelta(seconds=5 * model.dt)
    model.means.start_step = -1  # as after a restart written before start_step was kept
    assert interval_start(model) == model.start_time + datetime.timedelta(seconds=5 * model.dt)
