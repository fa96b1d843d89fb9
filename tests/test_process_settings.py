"""gcm's process-wide settings: applied when absent, the user's values kept, opt-out works."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
SETTINGS = ("OMP_WAIT_POLICY", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
            "GCM_PROCESS_SETTINGS")

# Imports gcm, runs one numba parallel region (libgomp prints the settings it read,
# OMP_DISPLAY_ENV) and reports the environment and what gcm applied.
CHILD = """
    import json, os
    import numba, numpy as np
    import gcm
    from gcm import process_settings

    @numba.njit(parallel=True)
    def total(x):
        s = 0.0
        for i in numba.prange(x.size):
            s += x[i]
        return s

    total(np.ones(64))
    print(json.dumps({"env": os.environ.get("OMP_WAIT_POLICY"),
                      "applied": process_settings.applied,
                      "again": process_settings.apply() is process_settings.applied}))
"""


def child_report(**env) -> tuple[dict, str]:
    """Run CHILD in a fresh process with only ``env`` of the settings' variables set."""
    environment = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    environment.update(PYTHONPATH=str(REPOSITORY), OMP_DISPLAY_ENV="VERBOSE",
                       NUMBA_THREADING_LAYER="omp", **env)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD)], env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1]), done.stderr


def runtime_spin_count(stderr: str) -> int:
    """How many times libgomp's idle workers spin before sleeping, from its OMP_DISPLAY_ENV
    block: 0 under PASSIVE, 3e10 under ACTIVE, 3e5 when no policy is set."""
    lines = [line for line in stderr.splitlines() if line.strip().startswith("GOMP_SPINCOUNT")]
    assert lines, f"libgomp printed no GOMP_SPINCOUNT:\n{stderr}"
    return int(lines[0].split("=")[1].strip().strip("'"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc is Linux's")
def test_settings_are_applied_when_absent():
    report, stderr = child_report()
    assert report["env"] == "PASSIVE"
    assert runtime_spin_count(stderr) == 0
    assert report["applied"] == {"OMP_WAIT_POLICY": "PASSIVE", "M_MMAP_THRESHOLD": 64 << 20,
                                 "M_TRIM_THRESHOLD": 256 << 20}
    assert report["again"]


def test_the_users_values_win():
    report, stderr = child_report(OMP_WAIT_POLICY="ACTIVE", MALLOC_MMAP_THRESHOLD_="1048576")
    assert report["env"] == "ACTIVE"
    assert runtime_spin_count(stderr) == 30_000_000_000
    assert "OMP_WAIT_POLICY" not in report["applied"]
    assert "M_MMAP_THRESHOLD" not in report["applied"]


def test_opt_out_leaves_the_process_alone():
    report, stderr = child_report(GCM_PROCESS_SETTINGS="off")
    assert report["env"] is None
    assert report["applied"] == {}
    assert runtime_spin_count(stderr) == 300_000
