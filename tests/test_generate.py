"""Teacher datasets: samples equal the teacher's fields, the budgets close on the
stored samples, and a generation killed with SIGKILL resumes to the same store."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr

from climnn.data import validate_store
from climnn.data.generate import generate
from gcm.config import load_config
from gcm.physics.budgets import energy_residual, energy_scale, water_residual, water_scale
from gcm.physics.column import ColumnState, ColumnTendencies

SETTINGS = ["resolution.truncation=21", "time.step_minutes=30", "initial.temperature=285",
            "initial.humidity=0.002", "output.restart_interval_days=0"]


def small_config():
    overrides = {}
    for item in SETTINGS:
        key, value = item.split("=")
        overrides[key] = float(value) if "." in value or key.startswith("initial") else int(value)
    return load_config("run/aquaplanet.yaml", **overrides)


def killed_and_resumed(out, extra, ready):
    """Start ``climnn generate``, SIGKILL it once ``ready()`` holds, run it again."""
    command = [sys.executable, "-m", "climnn.cli", "generate", "run/aquaplanet.yaml",
               "--out", str(out), "--days", "0.5", "--every", "4", "--quiet", *extra]
    for item in SETTINGS:
        command += ["--set", item]
    proc = subprocess.Popen(command, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not ready() and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # killed mid-run, not finished
    assert subprocess.run(command).returncode == 0
    return validate_store(out).load()


def stored_samples(out):
    try:
        return xr.open_zarr(out, consolidated=False).sizes["time"]
    except Exception:
        return 0


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "data.zarr"
    kept = []
    generate(small_config(), out, days=0.5, every=4, progress=False,
             on_sample=lambda s: kept.append(s))
    return out, kept


def test_samples_equal_the_teachers_fields(generated):
    out, kept = generated
    ds = validate_store(out).load()
    assert ds.sizes["time"] == len(kept) == 5  # steps 4, 8, ..., 20 (step 0 has no SHFLX)
    for t, (columns, tend, shflx, _) in enumerate(kept):
        assert np.array_equal(ds["T"].values[t], columns.temperature)
        assert np.array_equal(ds["Q"].values[t], columns.humidity)
        assert np.array_equal(ds["TPHYSTND"].values[t], tend.temperature)
        assert np.array_equal(ds["PHQ"].values[t], tend.humidity)
        assert np.array_equal(ds["PRECT"].values[t], tend.precipitation)
        assert np.array_equal(ds["SHFLX"].values[t], shflx)


def columns_from_store(ds, t):
    ps = ds["PS"].values[t]
    p_half = ds["hyai"].values * float(ds["P0"]) + ds["hybi"].values * ps[:, None]
    p_mid = ds["hyam"].values * float(ds["P0"]) + ds["hybm"].values * ps[:, None]
    return ColumnState(
        temperature=ds["T"].values[t], humidity=ds["Q"].values[t], u=ds["U"].values[t],
        v=ds["V"].values[t], pressure=p_mid, pressure_half=p_half, surface_pressure=ps,
        sst=ds["SST"].values[t], insolation=ds["SOLIN"].values[t],
        latitude=np.deg2rad(ds["lat"].values), longitude=np.deg2rad(ds["lon"].values), time=0.0)


def tendencies_from_store(ds, t):
    v = {name: ds[key].values[t] for name, key in (
        ("temperature", "TPHYSTND"), ("humidity", "PHQ"), ("u", "UPHYS"), ("v", "VPHYS"),
        ("precipitation", "PRECT"), ("shf", "SHF"), ("lhf", "LHF"), ("fsnt", "FSNT"),
        ("fsns", "FSNS"), ("flnt", "FLNT"), ("flns", "FLNS"))}
    return ColumnTendencies(**v)


def test_budgets_close_on_stored_samples(generated):
    ds = xr.open_zarr(generated[0], consolidated=False).load()
    for t in range(ds.sizes["time"]):
        columns, tend = columns_from_store(ds, t), tendencies_from_store(ds, t)
        e = energy_residual(columns, tend, frictional_heating=True) / energy_scale(columns, tend)
        w = water_residual(columns, tend) / water_scale(columns, tend)
        assert np.abs(e).max() < 1e-12 and np.abs(w).max() < 1e-12


@pytest.mark.parametrize("checkpoint", [1, 2])
def test_sigkill_then_resume_gives_the_complete_store(tmp_path, generated, checkpoint):
    """Killed once two samples are stored: with a resume point after every sample, and
    after every second one (samples beyond it are cut off and made again)."""
    out = tmp_path / "killed.zarr"
    resumed = killed_and_resumed(out, ["--checkpoint-every", str(checkpoint)],
                                 lambda: stored_samples(out) >= 2)
    reference = validate_store(generated[0]).load()
    assert resumed.sizes["time"] == reference.sizes["time"]
    assert list(resumed["time"].values) == list(reference["time"].values)
    for name in ("T", "Q", "TPHYSTND", "PHQ", "PRECT", "FLNT", "SHFLX", "physics_dt"):
        assert np.array_equal(resumed[name].values, reference[name].values), name


def test_samples_record_the_interval_of_their_tendencies(generated):
    ds = validate_store(generated[0])
    dt = ds.attrs["timestep_seconds"]
    assert ds["physics_dt"].attrs["units"] == "s"
    assert np.array_equal(ds["physics_dt"].values, np.full(ds.sizes["time"], 2 * dt))  # leapfrog


def test_a_generation_extended_to_more_days_equals_one_run_straight(tmp_path, generated):
    """The first call ends with samples pending (2 of a batch of 8): its closing restart
    stores them, and the second call resumes from it."""
    out = tmp_path / "extended.zarr"
    first = generate(small_config(), out, days=0.25, every=4, progress=False)
    assert first.samples == 2 and first.steps == 12
    second = generate(small_config(), out, days=0.5, every=4, progress=False)
    assert second.samples == 5 and second.steps == 24
    extended, reference = validate_store(out).load(), validate_store(generated[0]).load()
    for name in ("T", "PHQ", "SHFLX", "LHFLX", "time"):
        assert np.array_equal(extended[name].values, reference[name].values), name


def test_a_generation_from_a_runs_restart_continues_that_run(tmp_path, generated):
    """Sampling from the end of a spin-up: a run of 12 steps, then a generation from its
    restart gives the samples the straight generation took after step 12, bit for bit
    (the step just after the restart has no previous fluxes and is not sampled)."""
    from gcm.model import Model
    from gcm.simulation import Simulation

    spin_up = Simulation(Model(small_config()), tmp_path / "spinup", progress=False)
    spin_up.run_steps(12)
    out = tmp_path / "from_restart.zarr"
    result = generate(small_config(), out, days=0.25, every=4, progress=False,
                      start_from=spin_up.last_restart)
    assert result.steps == 24 and result.samples == 2
    again = generate(small_config(), out, days=0.25, every=4, progress=False)
    assert again.steps == 24 and again.samples == 2  # days count from the restart
    sampled, reference = validate_store(out).load(), validate_store(generated[0]).load()
    assert list(sampled["time"].values) == list(reference["time"].values[-2:])
    for name in ("T", "Q", "PHQ", "TPHYSTND", "SHFLX", "LHFLX", "PRECT"):
        assert np.array_equal(sampled[name].values, reference[name].values[-2:]), name


def test_generate_from_a_restart_of_another_configuration_is_refused(tmp_path):
    from gcm.model import Model
    from gcm.simulation import Simulation

    config = small_config()
    config.dynamics.diffusion.order = 4
    spin_up = Simulation(Model(config), tmp_path / "spinup", progress=False)
    spin_up.run_steps(2)
    from climnn.data.schema import DatasetError

    with pytest.raises(DatasetError, match=r"generate --restart .*diffusion.order"):
        generate(small_config(), tmp_path / "x.zarr", days=0.1, every=1, progress=False,
                 start_from=spin_up.last_restart)


def test_a_restart_of_another_configuration_is_refused(tmp_path):
    out = tmp_path / "other.zarr"
    generate(small_config(), out, days=0.25, every=4, progress=False)
    config = small_config()
    config.dynamics.diffusion.order = 4
    from climnn.data.schema import DatasetError

    with pytest.raises(DatasetError, match=r"cannot resume.*diffusion.order: 4 != 8"):
        generate(config, out, days=0.5, every=4, progress=False)


def test_existing_store_that_is_not_a_generation_is_refused(tmp_path):
    out = tmp_path / "x.zarr"
    out.mkdir()
    from climnn.data.schema import DatasetError

    with pytest.raises(DatasetError, match="not an interrupted generation"):
        generate(small_config(), out, days=0.1, every=1, progress=False)


def test_segments_run_in_parallel_with_dask(tmp_path):
    from climnn.data.generate import generate_segments

    paths = generate_segments(small_config(), tmp_path / "members", days=0.1, every=2,
                              segments=2)
    first, second = (validate_store(p).load() for p in paths)
    assert first.sizes["time"] == second.sizes["time"] == 2
    assert not np.array_equal(first["T"].values, second["T"].values)  # different members


def test_a_failed_store_write_stops_the_generation_and_resume_repairs_it(
        tmp_path, monkeypatch, generated):
    """Batches are written by a thread of the sampler: its error ends the run, and the
    restart does not vouch for the batch that failed."""
    from climnn.data import generate as module
    from gcm.io.restart import load_restart

    store = module.SampleBatch.store

    def failing(batch, out, start):
        if start > 0:
            raise OSError("disk full")
        store(batch, out, start)

    monkeypatch.setattr(module.SampleBatch, "store", failing)
    out = tmp_path / "failed.zarr"
    with pytest.raises(OSError, match="disk full"):
        generate(small_config(), out, days=0.5, every=4, progress=False, checkpoint_samples=2)
    arrays, _ = load_restart(tmp_path / "failed.zarr.generate" / "restart.npz")
    assert int(arrays["callback/sampler/samples"]) == 2  # the first batch only
    monkeypatch.undo()
    generate(small_config(), out, days=0.5, every=4, progress=False, checkpoint_samples=2)
    repaired, reference = validate_store(out).load(), validate_store(generated[0]).load()
    for name in ("T", "PHQ", "SHFLX", "time"):
        assert np.array_equal(repaired[name].values, reference[name].values), name


def test_sample_chunks_are_the_bytes_zarr_writes(tmp_path):
    import zarr

    from climnn.data.generate import _sample_chunk_writer
    from climnn.data.schema import COMPRESSOR

    values = np.cumsum(np.random.default_rng(0).normal(size=(3, 50, 7)), axis=2)

    def array(name, chunks=(1, 50, 7)):
        return zarr.create_array(tmp_path / name, shape=values.shape, chunks=chunks,
                                 dtype="f8", compressors=[COMPRESSOR], zarr_format=3)

    by_zarr, direct = array("zarr"), array("direct")
    by_zarr[:] = values
    _sample_chunk_writer(direct, values.dtype)(0, values)
    chunks = sorted(p.relative_to(tmp_path / "zarr") for p in (tmp_path / "zarr").rglob("c/*/*/*"))
    assert len(chunks) == 3
    for chunk in chunks:
        written = (tmp_path / "direct" / chunk).read_bytes()
        assert written == (tmp_path / "zarr" / chunk).read_bytes(), chunk
    assert np.array_equal(direct[:], values)
    # any other layout is left to zarr
    assert _sample_chunk_writer(array("two", chunks=(2, 50, 7)), values.dtype) is None
    assert _sample_chunk_writer(direct, np.dtype("f4")) is None


def test_a_generation_with_history_writes_the_run_and_resumes_it(tmp_path, generated):
    """--history: the run's history goes into DATA.zarr.generate/ beside the samples (one
    run gives the dataset and the run to diagnose); killed and resumed, history and
    samples equal a straight generation's, with no time written twice."""
    out = tmp_path / "with_history.zarr"
    resumed = killed_and_resumed(
        out, ["--history", "--checkpoint-every", "1", "--set", "output.interval_hours=2"],
        lambda: stored_samples(out) >= 3)
    straight_out = tmp_path / "straight.zarr"
    config = small_config()
    config.output.interval_hours = 2
    generate(config, straight_out, days=0.5, every=4, progress=False, history=True)
    reference = validate_store(generated[0]).load()
    for name in ("T", "PHQ", "PRECT"):
        assert np.array_equal(resumed[name].values, reference[name].values), name
    histories = [xr.open_zarr(path.with_name(path.name + ".generate") / "history.zarr",
                              consolidated=False).load() for path in (out, straight_out)]
    times = histories[0]["time"].values
    assert len(times) == len(set(times)) == 7  # hours 0, 2, ..., 12
    assert list(times) == list(histories[1]["time"].values)
    assert {"ta", "pr"} <= set(histories[0].data_vars)
    for name in histories[1].data_vars:
        a, b = histories[0][name].values, histories[1][name].values
        nan = a.dtype.kind == "f"  # interval means are NaN at hour 0
        assert np.array_equal(a, b, equal_nan=nan), name
