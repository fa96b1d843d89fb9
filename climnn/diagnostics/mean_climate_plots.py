"""Figures of a mean-climate comparison (climnn.diagnostics.mean_climate): zonal means of
the run, the reference and their difference, written as PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from climnn.diagnostics.mean_climate import FieldComparison
from climnn.diagnostics.skill_plots import _pyplot
from gcm.io.atomic import atomic_path


def write_mean_climate_plots(comparison: dict[str, FieldComparison], out: Path) -> list[str]:
    """One PNG per field in ``out``: a profile field (lev, lat) as three panels (run,
    reference, run - reference) against latitude and sigma; a surface field (lat,) as the
    two zonal means. Returns the file names written."""
    plt = _pyplot()
    written = []
    for name, c in comparison.items():
        if c.run.ndim == 2:
            fig = _profile_figure(plt, c)
        else:
            fig = _surface_figure(plt, c)
        file = f"zonal_mean_{name}.png"
        with atomic_path(out / file) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
        plt.close(fig)
        written.append(file)
    return written


def _profile_figure(plt, c: FieldComparison):
    lat, lev = c.run["lat"].values, c.run["lev"].values
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), sharey=True)
    levels = np.linspace(float(min(c.run.min(), c.reference.min())),
                         float(max(c.run.max(), c.reference.max())), 16)
    for ax, field, title in ((axes[0], c.run, "run"), (axes[1], c.reference, "reference")):
        filled = ax.contourf(lat, lev, field.values, levels=levels, cmap="viridis")
        ax.set_title(f"{c.name} ({c.units}): {title}")
    fig.colorbar(filled, ax=axes[:2], shrink=0.9)
    diff = (c.run - c.reference).values
    limit = float(np.abs(diff).max()) or 1.0
    shaded = axes[2].contourf(lat, lev, diff, levels=np.linspace(-limit, limit, 17),
                              cmap="RdBu_r")
    axes[2].set_title(f"run - reference: bias {c.bias:.3g}, RMSE {c.rmse:.3g} {c.units}")
    fig.colorbar(shaded, ax=axes[2], shrink=0.9)
    axes[0].invert_yaxis()
    axes[0].set_ylabel("sigma")
    for ax in axes:
        ax.set_xlabel("latitude (degrees north)")
    return fig


def _surface_figure(plt, c: FieldComparison):
    fig, ax = plt.subplots(figsize=(7, 4))
    lat = c.run["lat"].values
    ax.plot(lat, c.run.values, label="run")
    ax.plot(lat, c.reference.values, label="reference", linestyle="--")
    ax.set_xlabel("latitude (degrees north)")
    ax.set_ylabel(f"{c.name} ({c.units})")
    ax.set_title(f"zonal mean {c.name}: RMSE {c.rmse:.3g} {c.units}")
    ax.legend()
    fig.tight_layout()
    return fig
