"""climnn.threads: torch's threads follow numba's, one operator at a time."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")
REPOSITORY = Path(__file__).resolve().parent.parent


def test_torch_threads_follow_numbas_and_share_its_openmp_runtime():
    # a fresh process: torch's inter-op count can be set only once per process
    source = textwrap.dedent("""
        import json
        import numba
        from climnn.threads import match_torch_threads

        numba.set_num_threads(1)
        counts = match_torch_threads()  # imports torch after numba started its threads
        import torch
        omp = sorted({line.split()[-1] for line in open("/proc/self/maps")
                      if "libgomp" in line})
        print(json.dumps({"counts": counts, "torch": torch.get_num_threads(), "omp": omp}))
    """)
    done = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPOSITORY)), timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["counts"] == [1, 1]
    assert report["torch"] == 1
    if sys.platform.startswith("linux"):
        assert len(report["omp"]) <= 1, f"two OpenMP runtimes loaded: {report['omp']}"


def test_thread_count_must_be_positive():
    from climnn.threads import match_torch_threads

    with pytest.raises(ValueError, match="threads must be >= 1"):
        match_torch_threads(0)


def test_torch_threads_are_set_inside_the_block_and_restored_after():
    torch = pytest.importorskip("torch")
    from climnn.threads import torch_threads

    before = torch.get_num_threads()
    inside = 1 if before != 1 else 2
    with pytest.raises(KeyError):  # restored on the way out of an error too
        with torch_threads(inside):
            assert torch.get_num_threads() == inside
            raise KeyError("x")
    assert torch.get_num_threads() == before
