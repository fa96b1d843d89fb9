"""Tests of gcm.io.restart: bitwise round trip, atomic writes, clear errors."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import cftime
import numpy as np
import pytest

from gcm.config import ModelConfig
from gcm.io import restart
from gcm.io.restart import (
    config_hash,
    load_restart,
    restart_metadata,
    restart_time,
    save_restart,
)

REPO = Path(__file__).resolve().parents[1]

CONFIG = {"resolution": "T21", "dt": 900.0, "levels": 10, "physics": {"cloud": True}}


def _state(seed: int = 0) -> dict[str, np.ndarray]:
    """Model-like state with awkward values: NaN payloads, -0.0, inf, subnormals."""
    rng = np.random.default_rng(seed)
    spec = rng.standard_normal((10, 33, 22)) + 1j * rng.standard_normal((10, 33, 22))
    grid = rng.standard_normal((10, 32, 64))
    special = np.array([np.nan, -0.0, np.inf, -np.inf, 5e-324, np.finfo(float).max])
    special = np.concatenate([special, np.array([0x7FF8DEADBEEF0001], "<u8").view("<f8")])
    special_complex = np.empty(special.shape, np.complex128)
    special_complex.real, special_complex.imag = special, special[::-1]
    return {
        "vorticity": spec,
        "temperature": grid,
        "special": special,
        "special_complex": special_complex,
        "tracer_f32": rng.standard_normal(5).astype(np.float32),
        "seed_state": np.arange(4, dtype=np.uint64),
        "fortran": np.asfortranarray(grid[0]),
        "file": np.ones(2),  # clashes with np.savez's own argument name
        "old/vorticity": spec[::-1],  # leapfrog levels are stored as "now/...", "old/..."
    }


def _metadata(step: int = 96) -> dict:
    time = cftime.datetime(2001, 2, 30, 6, 0, 0, 250, calendar="360_day")
    return restart_metadata(time, step, CONFIG, run_id="abc123")


def _assert_bitwise_equal(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for name, array in want.items():
        assert got[name].dtype == array.dtype, name
        assert got[name].shape == array.shape, name
        assert got[name].tobytes() == np.ascontiguousarray(array).tobytes(), name


def test_round_trip_is_bitwise(tmp_path):
    arrays, metadata = _state(), _metadata()
    path = tmp_path / "restart_000096.npz"
    save_restart(path, arrays, metadata)
    got, got_meta = load_restart(path)
    _assert_bitwise_equal(got, arrays)
    assert got_meta == metadata
    assert got_meta["config_hash"] == config_hash(CONFIG)
    assert restart_time(got_meta) == cftime.datetime(2001, 2, 30, 6, 0, 0, 250, calendar="360_day")
    assert restart_time(got_meta).calendar == "360_day"


def test_file_is_a_plain_npz_with_json_metadata(tmp_path):
    path = tmp_path / "r.npz"
    save_restart(path, _state(), _metadata())
    with np.load(path, allow_pickle=False) as npz:
        raw = npz["__metadata__"]
        assert raw.dtype == np.uint8
        assert json.loads(raw.tobytes().decode("utf-8"))["step_count"] == 96
        np.testing.assert_array_equal(npz["temperature"], _state()["temperature"])


def test_failed_write_keeps_previous_restart_and_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "restart.npz"
    save_restart(path, _state(0), _metadata(1))
    before = path.read_bytes()
    real_write = np.lib.format.write_array
    calls = []

    def write_then_fail(fp, array, *args, **kwargs):
        # Write one member completely, then fail in the middle of the archive.
        calls.append(1)
        if len(calls) > 1:
            raise OSError("disk full (simulated)")
        real_write(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_fail)
    with pytest.raises(OSError, match="simulated"):
        save_restart(path, _state(1), _metadata(2))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["restart.npz"]

    with pytest.raises(OSError, match="simulated"):
        save_restart(tmp_path / "new.npz", _state(1), _metadata(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["restart.npz"]


def test_killed_write_never_leaves_a_partial_file_under_the_final_name(tmp_path):
    path = tmp_path / "restart.npz"
    save_restart(path, _state(0), _metadata(1))
    before = path.read_bytes()
    # A real SIGKILL half way through the archive: no cleanup code can run.
    script = textwrap.dedent(
        f"""
        import os, signal
        import numpy as np
        from gcm.io import restart
        real = np.lib.format.write_array
        n = []
        def write_then_die(fp, array, *a, **k):
            n.append(1)
            if len(n) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            real(fp, array, *a, **k)
        np.lib.format.write_array = write_then_die
        meta = restart.restart_metadata(__import__("cftime").datetime(2000, 1, 1), 2, {{}})
        arrays = {{"a": np.ones(10**6), "b": np.ones(3), "c": np.ones(3)}}
        restart.save_restart({str(path)!r}, arrays, meta)
        """
    )
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert path.read_bytes() == before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "restart.npz"]
    assert all(name.startswith(".restart.npz.") and name.endswith(".tmp") for name in leftovers)
    _assert_bitwise_equal(load_restart(path)[0], _state(0))


def test_overwrite_replaces_restart(tmp_path):
    path = tmp_path / "restart.npz"
    save_restart(path, _state(0), _metadata(1))
    save_restart(path, _state(1), _metadata(2))
    arrays, metadata = load_restart(path)
    _assert_bitwise_equal(arrays, _state(1))
    assert metadata["step_count"] == 2


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_restart(path)


def test_not_a_restart_file(tmp_path):
    text = tmp_path / "config.yaml"
    text.write_text("resolution: T21\n")
    with pytest.raises(ValueError, match=r"config\.yaml is not a restart file"):
        load_restart(text)
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.ones(3))
    with pytest.raises(ValueError, match=r"plain\.npz is not a restart file.*__metadata__"):
        load_restart(plain)
    with pytest.raises(ValueError, match="not a restart file"):
        load_restart(tmp_path)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupted_file_names_the_path(tmp_path, damage):
    path = tmp_path / "restart.npz"
    save_restart(path, _state(), _metadata())
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[len(raw) // 3] ^= 0xFF  # inside the vorticity data: caught by the zip CRC
    else:
        raw = raw[: len(raw) // 2]
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"restart file .*restart\.npz is corrupted"):
        load_restart(path)


def test_metadata_must_hold_required_keys(tmp_path):
    metadata = _metadata()
    del metadata["calendar"]
    with pytest.raises(ValueError, match="calendar"):
        save_restart(tmp_path / "r.npz", _state(), metadata)
    assert list(tmp_path.iterdir()) == []


def test_bad_arrays_are_rejected_by_name(tmp_path):
    with pytest.raises(ValueError, match="'objs'"):
        save_restart(tmp_path / "r.npz", {"objs": np.array([1, "a"], dtype=object)}, _metadata())
    with pytest.raises(ValueError, match="__metadata__"):
        save_restart(tmp_path / "r.npz", {"__metadata__": np.ones(1)}, _metadata())
    assert list(tmp_path.iterdir()) == []


def test_config_hash_is_canonical():
    digest = config_hash(CONFIG)
    assert len(digest) == 16 and int(digest, 16) >= 0
    reordered = dict(reversed(list(CONFIG.items())))
    assert config_hash(reordered) == digest
    assert config_hash({**CONFIG, "dt": np.float64(900.0), "levels": np.int64(10)}) == digest
    assert config_hash({**CONFIG, "dt": 900.0000001}) != digest
    documented = json.dumps(CONFIG, sort_keys=True)  # the formula in gcm.io.restart's docstring
    assert digest == hashlib.sha256(documented.encode()).hexdigest()[:16]


def test_config_hash_leaves_out_the_run_length_only():
    config = ModelConfig().to_dict()
    longer = copy.deepcopy(config)
    longer["time"]["days"] += 30.0
    other_step = copy.deepcopy(config)
    other_step["time"]["step_minutes"] /= 2
    assert config_hash(longer) == config_hash(config) == ModelConfig().digest()
    assert config_hash(other_step) != config_hash(config)
    assert config["time"]["days"] != longer["time"]["days"]  # the input is not changed


def test_restart_metadata_takes_a_model_config_or_its_dict():
    time = cftime.datetime(2000, 1, 2, calendar="360_day")
    config = ModelConfig()
    from_config = restart_metadata(time, 48, config, run_id="r1")
    assert from_config == restart_metadata(time, 48, config.to_dict(), run_id="r1")
    assert from_config["config"] == config.to_dict()
    assert from_config["config_hash"] == config.digest()
    assert from_config["run_id"] == "r1" and from_config["step_count"] == 48
    with pytest.raises(TypeError, match="ModelConfig or a dict, found str"):
        restart_metadata(time, 48, "run/aquaplanet.yaml")


def test_restart_metadata_and_time_for_other_calendars():
    for calendar in ("noleap", "standard", "proleptic_gregorian", "all_leap", "julian"):
        time = cftime.datetime(1, 12, 31, 23, 59, 59, 999999, calendar=calendar)
        metadata = restart_metadata(time, 5, {})
        assert restart_time(json.loads(json.dumps(metadata))) == time
    with pytest.raises(ValueError, match="ISO"):
        restart_time({"time": "yesterday", "calendar": "noleap"})


def test_module_exports():
    assert set(restart.__all__) >= {"save_restart", "load_restart", "config_hash"}


def test_unserialisable_metadata_names_the_file(tmp_path):
    metadata = {**_metadata(), "callback": print}
    with pytest.raises(ValueError, match=r"r\.npz: metadata is not JSON serialisable"):
        save_restart(tmp_path / "r.npz", _state(), metadata)
    assert list(tmp_path.iterdir()) == []


FRESH_PROCESS_RUN = """
import sys
import numpy as np
from gcm.config import ModelConfig
from gcm.model import Model
cfg = ModelConfig(name="cache_check")
cfg.resolution.truncation = 21
cfg.resolution.levels = 8
cfg.physics.scheme = "held_suarez"
cfg.initial.perturbation = 1.0
model = Model(cfg.validate())
for _ in range(6):
    model.step()
np.savez(sys.argv[1], **model.now.arrays())
"""


def test_freshly_compiled_and_cached_kernels_give_the_same_bits(tmp_path):
    """A restart continues bit for bit only if every process computes the same bits:
    the first run compiles the numba kernels into an empty cache, the second loads
    them (fastmath in a parallel kernel once broke this)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    for name in ("compiled", "cached"):
        subprocess.run([sys.executable, "-c", FRESH_PROCESS_RUN, str(tmp_path / name)],
                       env=env, check=True, timeout=900)
    compiled, cached = np.load(tmp_path / "compiled.npz"), np.load(tmp_path / "cached.npz")
    for name in compiled:
        assert np.array_equal(compiled[name], cached[name]), name


def test_a_new_run_starts_from_another_runs_restart_state(tmp_path):
    """initial.kind 'restart': the teacher's state carried into a model with other physics
    (as a hybrid run branches from the teacher's spun-up climate); another resolution is
    refused with the key named."""
    from gcm.config import ConfigError, load_config
    from gcm.model import Model
    from gcm.simulation import Simulation

    base = {"resolution.truncation": 21, "time.step_minutes": 30.0,
            "initial.humidity": 0.002, "initial.temperature": 285.0}
    teacher = Simulation(Model(load_config("run/aquaplanet.yaml", **base)), tmp_path / "t",
                         progress=False)
    teacher.run_steps(4)
    branch = Model(load_config("run/aquaplanet.yaml", **base, **{
        "initial.kind": "restart", "initial.file": str(teacher.last_restart),
        "physics.scheme": "held_suarez", "physics.parameters": {}}))
    for name in ("vorticity", "divergence", "temperature", "log_surface_pressure", "humidity"):
        assert np.array_equal(getattr(branch.now, name), getattr(teacher.model.now, name))
    assert branch.step_count == 0 and branch.old is None
    branch.step()
    assert np.isfinite(branch.grid_state()["T"]).all()
    other = load_config("run/aquaplanet.yaml", **{**base, "resolution.truncation": 31},
                        **{"initial.kind": "restart", "initial.file": str(teacher.last_restart)})
    with pytest.raises(ValueError, match=r"resolution.truncation = 21, this configuration 31"):
        Model(other)
    with pytest.raises(ConfigError, match="initial.file.*needs the restart file"):
        load_config("run/aquaplanet.yaml", **{"initial.kind": "restart"})


def test_an_unquoted_start_date_from_the_command_line_is_a_date_string():
    """``--set time.start=2001-01-01``: YAML reads a date, the config keeps its ISO text."""
    from climnn.cli import load_with_overrides

    config = load_with_overrides("run/aquaplanet.yaml", ["time.start=2001-01-01"])
    assert config.time.start == "2001-01-01"
