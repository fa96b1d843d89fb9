"""PNG figures of an offline evaluation's metrics (``climnn evaluate``), with matplotlib (Agg).

- ``r2_pressure.png``: R² of each level against its mean pressure for the profile outputs
  (TPHYSTND and PHQ first), pressure increasing downward as in the seed paper's figure;
- ``r2_latitude.png``: R² against latitude of the surface outputs and the column integrals;
- ``r2_surface.png``: a bar chart of the surface outputs' and column integrals' R².

Entries without an R² (a truth that does not vary: None in the metrics) are left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from climnn.diagnostics.figure_file import pyplot
from gcm.io.atomic import atomic_path

R2_FLOOR = -1.0  # R² below this is drawn at it (metrics.json keeps the value)


def _values(items) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in items], dtype=np.float64)


def write_plots(metrics: dict, out: Path) -> list[str]:
    """Write the figures of ``metrics`` (``climnn.training.evaluate``) into ``out``
    atomically; returns their file names."""
    plt = pyplot()
    written = []
    for name, draw in (("r2_pressure.png", _pressure), ("r2_latitude.png", _latitude),
                       ("r2_surface.png", _bars)):
        figure = plt.figure(figsize=(6.4, 4.8))
        if not draw(figure.add_subplot(), metrics):
            plt.close(figure)
            continue
        figure.tight_layout()
        with atomic_path(out / name) as tmp:
            figure.savefig(tmp, format="png", dpi=110)
        plt.close(figure)
        written.append(name)
    return written


def _pressure(ax, metrics: dict) -> bool:
    hpa = _values(metrics["level_pressure_pa"]) / 100.0
    profiles = [n for n, v in metrics["variables"].items() if "levels" in v]
    profiles.sort(key=lambda n: n not in ("TPHYSTND", "PHQ"))
    for name in profiles:
        r2 = _values(metrics["variables"][name]["levels"]["r2"])
        keep = np.isfinite(r2)
        ax.plot(np.maximum(r2[keep], R2_FLOOR), hpa[keep], marker="o", markersize=3,
                label=name)
    ax.set_ylim(max(hpa.max(), 1.0) * 1.02, 0.0)  # surface at the bottom
    # levels with almost nothing to learn (stratospheric PHQ ~1e-35) can have R² of -1e70:
    # drawn at the floor so that the axis shows the levels that matter
    ax.set_xlim(R2_FLOOR - 0.05, 1.05)
    ax.set_xlabel("R²")
    ax.set_ylabel("pressure (hPa)")
    ax.set_title("R² by level, test period")
    ax.axvline(1.0, color="0.7", linewidth=0.8)
    ax.legend()
    return bool(profiles)


def _latitude(ax, metrics: dict) -> bool:
    lat = _values(metrics["latitude"]["lat"])
    curves = metrics["latitude"]["r2"]
    for name, values in curves.items():
        r2 = _values(values)
        keep = np.isfinite(r2)
        ax.plot(lat[keep], np.maximum(r2[keep], R2_FLOOR), marker=".", label=name)
    ax.set_ylim(R2_FLOOR - 0.05, 1.05)
    ax.set_xlabel("latitude (degrees north)")
    ax.set_ylabel("R²")
    ax.set_title("R² by latitude, test period")
    ax.legend(fontsize="small")
    return bool(curves)


def _bars(ax, metrics: dict) -> bool:
    names = [n for n, v in metrics["variables"].items() if "levels" not in v]
    values = [metrics["variables"][n]["r2"] for n in names]
    for name, entry in metrics["column_integrals"].items():
        names.append(f"column {name}")
        values.append(entry["r2"])
    shown = [(n, v) for n, v in zip(names, values, strict=True) if v is not None]
    if not shown:
        return False
    ax.bar([n for n, _ in shown], [v for _, v in shown], color="tab:blue")
    ax.set_ylabel("R²")
    ax.set_ylim(min(0.0, *(v for _, v in shown)), 1.0)
    ax.set_title("R² of surface outputs and column integrals, test period")
    ax.tick_params(axis="x", labelrotation=30)
    return True
