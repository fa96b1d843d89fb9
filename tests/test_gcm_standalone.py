"""The layer rule: ``gcm`` never imports torch or climnn (so it installs and runs alone)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def run_python(source: str, tmp_path: Path, **env) -> subprocess.CompletedProcess:
    """Run ``source`` in a fresh interpreter with this repository first on the path."""
    environment = dict(os.environ, PYTHONPATH=str(REPOSITORY), **env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(source)], cwd=tmp_path,
                          env=environment, capture_output=True, text=True, timeout=600)


def test_a_moist_run_with_output_loads_neither_torch_nor_climnn(tmp_path):
    done = run_python("""
        import json, sys
        import gcm
        from gcm.simulation import Simulation

        cfg = gcm.ModelConfig(name="standalone")
        cfg.resolution.truncation, cfg.resolution.levels = 21, 8
        cfg.physics.scheme, cfg.time.step_minutes = "teacher", 40.0
        cfg.initial.temperature, cfg.initial.humidity = 285.0, 0.005
        cfg.output.interval_hours = 2.0
        sim = Simulation(gcm.Model(cfg.validate()), "run", progress=False)
        sim.run(4 / 24)
        print(json.dumps({"steps": sim.model.step_count,
                          "loaded": sorted(m for m in ("torch", "climnn") if m in sys.modules)}))
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["steps"] == 6
    assert (tmp_path / "run" / "history.zarr").is_dir()
    assert report["loaded"] == [], f"gcm pulled in {report['loaded']}"
