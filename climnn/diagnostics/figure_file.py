"""Matplotlib (Agg, no screen needed) and the one way diagnostics write a figure: PNG,
atomically, closed after."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out: Path, file: str, dpi: int = 100) -> str:
    """Write ``fig`` to ``out/file`` (PNG, atomically), close it, return ``file``."""
    from gcm.io.atomic import atomic_path

    with atomic_path(Path(out) / file) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    pyplot().close(fig)
    return file
