"""climnn: hybrid climate modelling with neural column physics.

The GCM lives in the sibling package ``gcm``; this package holds the data pipeline,
training, export, the coupler and the diagnostics, and the ``climnn`` command.
"""

# gcm first: its process settings (gcm.process_settings) must be in place before torch
# loads an OpenMP runtime, which reads OMP_WAIT_POLICY once, when it is loaded.
import gcm  # noqa: F401

__version__ = "0.1.0"


def repository_file(relative: str):
    """Path of a file shipped beside the packages (run/*.yaml), for benchmarks and demos;
    raises FileNotFoundError naming it when the package is installed without them."""
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / relative
    if not path.exists():
        raise FileNotFoundError(f"{relative} not found beside the climnn package ({path})")
    return path
