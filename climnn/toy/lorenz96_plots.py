"""Figures of the Lorenz-96 experiment (climnn.toy.lorenz96_experiment), written as PNG
files atomically (gcm.io.atomic):

- ``forecast_rmse.png``: RMSE of X against lead time, each parameterization, with the
  climatological RMSE (sqrt 2 x the truth's std) for scale;
- ``climate_pdf.png``: the PDF of X of the truth and each one-scale model;
- ``autocorrelation.png``: the autocorrelation of X against lag;
- ``parameterization_fit.png``: U against X on the validation split, with the network's
  and the cubic's curves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from climnn.diagnostics.figure_file import pyplot as _pyplot
from gcm.io.atomic import atomic_path

STYLE = {"truth": {"color": "black", "linewidth": 2.2},
         "network": {"color": "tab:blue"},
         "polynomial": {"color": "tab:orange", "linestyle": "--"},
         "none": {"color": "tab:gray", "linestyle": ":"}}
CASES = ("network", "polynomial", "none")


def write_plots(metrics: dict, validation: tuple, out: Path) -> list[str]:
    """The four figures of ``metrics`` (and ``validation`` = (X, U, parameterizations by
    name) for the fit) in ``out``; returns the file names written."""
    plt = _pyplot()
    figures = {"forecast_rmse.png": (_forecast, metrics["forecast"]),
               "climate_pdf.png": (_pdf, metrics["climate"]),
               "autocorrelation.png": (_acf, metrics["climate"]),
               "parameterization_fit.png": (_fit, validation)}
    for name, (draw, data) in figures.items():
        figure, ax = plt.subplots(figsize=(6.4, 4.6), layout="tight")
        draw(ax, data)
        _save(plt, figure, out / name)
    return list(figures)


def _save(plt, figure, path: Path) -> None:
    """Write ``figure`` as the PNG ``path`` atomically and close it."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)


def _forecast(ax, forecast: dict) -> None:
    for name in CASES:
        ax.plot(forecast["lead"], forecast["rmse"][name], label=name, **STYLE[name])
    ax.axhline(forecast["climatological_rmse"], color="black", linewidth=0.8,
               label="climatology (sqrt 2 std)")
    ax.set_xlabel("lead time (MTU)")
    ax.set_ylabel("RMSE of X")
    ax.set_title(f"Lorenz-96 one-scale forecasts ({forecast['members']} initial states)")
    ax.legend()


def _pdf(ax, climate: dict) -> None:
    bins = np.asarray(climate["bins"])
    centres = 0.5 * (bins[1:] + bins[:-1])
    for name in ("truth", *CASES):
        extra = (f" (Hellinger {climate[name]['pdf_hellinger']:.3f})"
                 if name != "truth" else "")
        ax.plot(centres, climate[name]["pdf"], label=name + extra, **STYLE[name])
    ax.set_xlabel("X")
    ax.set_ylabel("probability density")
    ax.set_title(f"PDF of X ({climate['members']} members x {climate['duration']:g} MTU)")
    ax.legend()


def _acf(ax, climate: dict) -> None:
    for name in ("truth", *CASES):
        extra = f" (RMSE {climate[name]['acf_rmse']:.3f})" if name != "truth" else ""
        ax.plot(climate["lag"], climate[name]["acf"], label=name + extra, **STYLE[name])
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set_xlabel("lag (MTU)")
    ax.set_ylabel("autocorrelation of X")
    ax.legend()


def _fit(ax, validation: tuple) -> None:
    x, u, parameterizations = validation
    ax.plot(x.ravel(), u.ravel(), ",", color="black", alpha=0.3, label="truth (validation)")
    grid = np.linspace(x.min(), x.max(), 200).reshape(-1, 1)
    for name in ("network", "polynomial"):
        ax.plot(grid, parameterizations[name](grid), label=name, **STYLE[name])
    ax.set_xlabel("X_k")
    ax.set_ylabel("sub-grid forcing U_k")
    ax.legend()
