"""Figures of precipitation extremes (climnn.diagnostics.extremes): the area-weighted
distribution per latitude band on a log axis, and the 99th and 99.9th percentiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from climnn.diagnostics.extremes import PERCENTILES, extremes_metrics
from climnn.diagnostics.figure_file import pyplot, save_figure

COARSEN = 10  # fine histogram bins merged per plotted bin


def write_extremes_plots(runs: dict[str, xr.Dataset], out: Path) -> list[str]:
    """``pr_histogram.png`` (one panel a band, a line a run) and ``pr_percentiles.png``
    from each run's band_histograms, labelled by the keys of ``runs``."""
    plt = pyplot()
    bands = list(next(iter(runs.values()))["band"].values)
    fig, axes = plt.subplots(1, len(bands), figsize=(4 * len(bands), 3.6), sharey=True)
    for ax, band in zip(np.atleast_1d(axes), bands, strict=False):
        for label, h in runs.items():
            edges = h["edges"].values[::COARSEN]
            weight = h["weight"].sel(band=band).values
            weight = weight[: (weight.size // COARSEN) * COARSEN].reshape(-1, COARSEN).sum(1)
            density = weight / np.diff(np.log10(edges))  # per decade
            ax.step(edges[:-1], np.where(density > 0, density, np.nan), where="post",
                    label=label)
        ax.set(xscale="log", yscale="log", title=band, xlabel="precipitation (mm day-1)")
    np.atleast_1d(axes)[0].set_ylabel("area-weighted frequency per decade")
    np.atleast_1d(axes)[0].legend()
    fig.tight_layout()
    written = [save_figure(fig, out, "pr_histogram.png")]

    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(bands))
    for i, (label, h) in enumerate(runs.items()):
        m = extremes_metrics(h)
        for j, q in enumerate(PERCENTILES):
            values = [m.get(f"pr_p{q:g}_{b}_mm_day", np.nan) for b in bands]
            ax.plot(x + 0.1 * i, values, marker="os"[j], linestyle="-" if i == 0 else "--",
                    label=f"{label}: {q:g}th")
    ax.set(xticks=x, xticklabels=bands, ylabel="precipitation (mm day-1)",
           title="precipitation percentiles by latitude band")
    ax.legend()
    fig.tight_layout()
    written.append(save_figure(fig, out, "pr_percentiles.png"))
    return written
