"""PNG figures of the logistic-map experiment (``climnn.toy.logistic_experiment``), with
matplotlib (Agg), each written atomically:

- ``bifurcation.png``: the attractor against r of the true map, the r network, the network
  without r and the line through two return maps, one panel each; the training and
  validation bands of r shaded, the true period doublings and onset of chaos dashed;
- ``lyapunov.png``: the Lyapunov exponent against r of the four maps;
- ``return_maps.png``: x_{n+1} against x_n at SHOWN_R for the four maps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from climnn.toy.logistic import DOUBLINGS, R_CHAOS, LogisticMap
from climnn.toy.logistic_experiment import (
    MAPS,
    R_HIGH,
    R_LOW,
    RETURN_MAP_R,
    SHOWN_R,
    TRAIN_R,
    VALIDATION_R,
    Outcome,
)
from gcm.io.atomic import atomic_path

TITLES = {"true": "true map", "r_network": f"network with r (trained on r < {TRAIN_R[1]:g})",
          "no_r_network": "control: network without r",
          "return_map_line": "control: line in r through return maps at r = "
                             f"{RETURN_MAP_R[0]:g}, {RETURN_MAP_R[1]:g}"}
COLORS = {"true": "black", "r_network": "tab:red", "no_r_network": "tab:blue",
          "return_map_line": "tab:green"}
POINTS_DRAWN = 150  # attractor points drawn per r


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(outcome: Outcome, out: Path) -> list[str]:
    """Write the three figures of ``outcome`` into ``out``; returns their file names."""
    plt = _pyplot()
    written = []
    for name, draw, size in (("bifurcation.png", _bifurcation, (8, 10)),
                             ("lyapunov.png", _lyapunov, (8, 4.5)),
                             ("return_maps.png", _return_maps, (14, 3.4))):
        figure = draw(plt, outcome, size)
        with atomic_path(out / name) as tmp:
            figure.savefig(tmp, format="png", dpi=100)
        plt.close(figure)
        written.append(name)
    return written


def _bands(ax) -> None:
    ax.axvspan(*TRAIN_R, color="0.9", lw=0)
    ax.axvspan(*VALIDATION_R, color="0.8", lw=0)
    for r in (*DOUBLINGS, R_CHAOS):
        ax.axvline(r, color="0.5", lw=0.6, ls="--")


def _bifurcation(plt, outcome: Outcome, size):
    figure, axes = plt.subplots(len(MAPS), 1, figsize=size, sharex=True, sharey=True)
    for ax, name in zip(axes, MAPS, strict=True):
        attractor = outcome.attractors[name]
        points = attractor.points[-POINTS_DRAWN:]
        r = np.broadcast_to(attractor.r, points.shape)
        _bands(ax)
        ax.plot(r.ravel(), points.ravel(), ",", color=COLORS[name], alpha=0.5)
        ax.set_title(TITLES[name], fontsize=10)
        ax.set_ylabel("x")
        ax.set_ylim(-0.02, 1.02)
    axes[-1].set_xlabel("r (shaded: training r, darker: validation r)")
    axes[-1].set_xlim(R_LOW, R_HIGH)
    figure.tight_layout()
    return figure


def _lyapunov(plt, outcome: Outcome, size):
    figure, ax = plt.subplots(figsize=size)
    _bands(ax)
    for name in MAPS:
        attractor = outcome.attractors[name]
        ax.plot(attractor.r, np.clip(attractor.lyapunov, -3.0, None), color=COLORS[name],
                lw=1.4 if name == "true" else 0.9, label=TITLES[name])
    ax.axhline(0.0, color="0.3", lw=0.6)
    ax.set_xlim(R_LOW, R_HIGH)
    ax.set_ylim(-3.0, 1.0)
    ax.set_xlabel("r")
    ax.set_ylabel("Lyapunov exponent (nats / iteration)")
    ax.legend(fontsize=8, loc="lower left")
    figure.tight_layout()
    return figure


def _return_maps(plt, outcome: Outcome, size):
    figure, axes = plt.subplots(1, len(SHOWN_R), figsize=size, sharey=True)
    x = np.linspace(0.0, 1.0, 201)
    for ax, r in zip(axes, SHOWN_R, strict=True):
        for name in MAPS:
            mapping = LogisticMap if name == "true" else outcome.maps[name]
            ax.plot(x, mapping.step(x, np.full_like(x, r)), color=COLORS[name],
                    lw=1.4 if name == "true" else 0.9, label=TITLES[name])
        ax.plot(x, x, color="0.6", lw=0.5)
        seen = "seen" if r < TRAIN_R[1] else "validation" if r < VALIDATION_R[1] else "unseen"
        ax.set_title(f"r = {r:g} ({seen})", fontsize=10)
        ax.set_xlabel("$x_n$")
    axes[0].set_ylabel("$x_{n+1}$")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(MAPS), fontsize=8)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    return figure
