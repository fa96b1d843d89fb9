"""Figures of a mean-climate comparison (climnn.diagnostics.mean_climate): zonal means of
the run, the reference and their difference, and the mass streamfunction, as PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from climnn.diagnostics.figure_file import pyplot, save_figure
from climnn.diagnostics.mean_climate import FieldComparison


def write_mean_climate_plots(comparison: dict[str, FieldComparison], out: Path) -> list[str]:
    """One PNG per field in ``out``: a profile field (lev, lat) as three panels (run,
    reference, run - reference; the run alone without a reference) against latitude
    and sigma; a surface field (lat,) as the zonal means. Returns the file names."""
    plt = pyplot()
    written = []
    for name, c in comparison.items():
        fig = _profile_figure(plt, c) if c.run.ndim == 2 else _surface_figure(plt, c)
        written.append(save_figure(fig, out, f"zonal_mean_{name}.png"))
    return written


def _profile_figure(plt, c: FieldComparison):
    lat, lev = c.run["lat"].values, c.run["lev"].values
    fields = [(c.run, "run")] + ([] if c.reference is None else [(c.reference, "reference")])
    fig, axes = plt.subplots(1, len(fields) + (c.reference is not None),
                             figsize=(4.7 * (2 * len(fields) - 1), 4), sharey=True,
                             squeeze=False)
    axes = axes[0]
    low = float(min(f.min() for f, _ in fields))
    high = float(max(f.max() for f, _ in fields))
    levels = np.linspace(low, high if high > low else low + 1.0, 16)
    for ax, (field, title) in zip(axes, fields, strict=False):
        filled = ax.contourf(lat, lev, field.values, levels=levels, cmap="viridis")
        ax.set_title(f"{c.name} ({c.units}): {title}")
    fig.colorbar(filled, ax=list(axes[:len(fields)]), shrink=0.9)
    if c.reference is not None:
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
    title = f"zonal mean {c.name}"
    if c.reference is not None:
        ax.plot(lat, c.reference.values, label="reference", linestyle="--")
        title += f": RMSE {c.rmse:.3g} {c.units}"
    ax.set_xlabel("latitude (degrees north)")
    ax.set_ylabel(f"{c.name} ({c.units})")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def write_streamfunction_plot(psi: dict[str, xr.DataArray], out: Path) -> str:
    """``streamfunction.png``: psi (1e10 kg s-1) of each run (keys label the panels),
    against latitude and sigma, northern cells solid, southern dashed."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(psi), figsize=(5.5 * len(psi), 4), sharey=True,
                             squeeze=False)
    limit = max(float(np.abs(p).max()) for p in psi.values()) / 1e10 or 1.0
    levels = np.linspace(-limit, limit, 21)
    for ax, (label, p) in zip(axes[0], psi.items(), strict=False):
        shaded = ax.contourf(p["lat"], p["ilev"], p.values / 1e10, levels=levels,
                             cmap="RdBu_r")
        ax.contour(p["lat"], p["ilev"], p.values / 1e10, levels=levels, colors="k",
                   linewidths=0.5)
        ax.set(title=f"mass streamfunction: {label}", xlabel="latitude (degrees north)")
    fig.colorbar(shaded, ax=list(axes[0]), shrink=0.9, label="1e10 kg s-1")
    axes[0, 0].invert_yaxis()
    axes[0, 0].set_ylabel("sigma")
    return save_figure(fig, out, "streamfunction.png")
