"""torch is the optional ``ml`` extra: the GCM's commands run without it, and code that
needs it ends with one message naming the extra."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml
from conftest import small_config

REPOSITORY = Path(__file__).resolve().parent.parent

# Makes torch unimportable in the child, as if it were not installed.
WITHOUT_TORCH = "import sys; sys.modules['torch'] = None\n"


def run_without_torch(source: str, tmp_path: Path) -> dict:
    """Run ``source`` (which prints one JSON line last) in a fresh interpreter without torch."""
    environment = dict(os.environ, PYTHONPATH=str(REPOSITORY))
    done = subprocess.run([sys.executable, "-c", WITHOUT_TORCH + textwrap.dedent(source)],
                          cwd=tmp_path, env=environment, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_climnn_run_works_and_training_batches_name_the_extra(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(small_config("rest", scheme="held_suarez", levels=5,
                                                  perturbation=1.0).to_dict()))
    report = run_without_torch(f"""
        import contextlib, io, json, sys
        import climnn.cli
        from climnn.extras import MissingExtraError, import_torch

        status = climnn.cli.main(["run", {str(config)!r}, "--days", "1", "--out", "run",
                                  "--quiet"])
        try:
            from climnn.data.loader import ColumnDataset  # noqa: F401
            message = None
        except MissingExtraError as err:
            message = str(err)
        try:
            from climnn.threads import match_torch_threads
            match_torch_threads()
            threads_message = None
        except MissingExtraError as err:
            threads_message = str(err)

        # a command that needs torch: the command line's error is that one message
        climnn.cli.command_stats = lambda args: import_torch("climnn stats")
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            failed = climnn.cli.main(["stats", "store.zarr"])
        print(json.dumps({{"status": status, "message": message, "failed": failed,
                           "threads_message": threads_message,
                           "stderr": stderr.getvalue()}}))
    """, tmp_path)
    assert report["status"] == 0
    assert (tmp_path / "run" / "history.zarr").is_dir()
    assert report["message"] is not None, "climnn.data.loader imported without torch"
    assert "climnn.data.loader" in report["message"] and "'ml' extra" in report["message"]
    assert "climnn.threads" in report["threads_message"]
    assert report["failed"] == 2
    assert report["stderr"].count("\n") == 1
    assert report["stderr"].startswith("climnn: error: climnn stats needs torch")
