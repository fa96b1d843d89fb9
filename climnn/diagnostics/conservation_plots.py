"""Figures of a run's conservation and stability: the global budgets' residuals, the
fixers' and the coupler's series, and the global means whose drift is judged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from climnn.diagnostics.figure_file import pyplot, save_figure


def _days(da: xr.DataArray, origin=None) -> np.ndarray:
    """Days of ``da``'s times since ``origin`` (default: its first time)."""
    t = da["time"].values
    origin = t[0] if origin is None else origin
    return np.array([(x - origin).total_seconds() / 86400.0 for x in t])


def write_conservation_plots(budgets: xr.Dataset, series: xr.Dataset, out: Path) -> list[str]:
    """``budgets.png`` (energy W m-2 and water kg m-2 s-1: tendency, boundary flux,
    residual) and ``fixers.png`` (every series, one panel a unit)."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for ax, name in zip(axes, ("energy", "water"), strict=False):
        days = _days(budgets)
        units = budgets[f"{name}_residual"].attrs.get("units", "")
        ax.plot(days, budgets[f"{name}_tendency"], lw=0.7, label="tendency of the content")
        ax.plot(days, budgets[f"{name}_boundary_flux"], lw=0.7, label="boundary fluxes")
        ax.plot(days, budgets[f"{name}_residual"], lw=1.0, label="residual")
        ax.set(ylabel=f"{name} ({units})",
               title=f"global {name} budget: mean |residual| "
                     f"{float(np.abs(budgets[f'{name}_residual']).mean()):.3g} {units}")
        ax.legend(fontsize=8)
    axes[-1].set_xlabel("days from the first snapshot")
    fig.tight_layout()
    written = [save_figure(fig, out, "budgets.png")]

    by_units: dict[str, list[str]] = {}
    for name in series.data_vars:
        by_units.setdefault(series[name].attrs.get("units", "?"), []).append(name)
    if by_units:
        fig, axes = plt.subplots(len(by_units), 1, figsize=(9, 2.8 * len(by_units)),
                                 sharex=True, squeeze=False)
        for ax, (units, names) in zip(axes[:, 0], by_units.items(), strict=False):
            for name in names:
                ax.plot(_days(series[name]), series[name], lw=0.8, label=name)
            ax.set(ylabel=units)
            ax.legend(fontsize=7, ncol=2)
        axes[-1, 0].set_xlabel("days from the first snapshot")
        axes[0, 0].set_title("fixers, residuals and corrections (global means)")
        fig.tight_layout()
        written.append(save_figure(fig, out, "fixers.png"))
    return written


def write_global_mean_plot(runs: dict[str, xr.Dataset], out: Path) -> str:
    """``global_means.png``: mass-weighted T and q and mean ps against time, a line a run."""
    plt = pyplot()
    names = [n for n in ("ta", "hus", "ps") if n in next(iter(runs.values()))]
    units = {"ta": "K", "hus": "kg kg-1", "ps": "Pa"}
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 2.6 * len(names)), sharex=True,
                             squeeze=False)
    origin = min(s["time"].values[0] for s in runs.values())
    for ax, name in zip(axes[:, 0], names, strict=False):
        for label, s in runs.items():
            ax.plot(_days(s[name], origin), s[name], lw=0.8, label=label)
        ax.set(ylabel=f"{name} ({units[name]})")
        ax.legend(fontsize=8)
    axes[0, 0].set_title("global means (T and q mass-weighted)")
    axes[-1, 0].set_xlabel(f"days since {origin}")
    fig.tight_layout()
    return save_figure(fig, out, "global_means.png")
