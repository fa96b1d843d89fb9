"""``climnn stability MODEL_FILE --data STORE [--out DIR] [--threshold PER_DAY]``: the
offline stability analysis of an exported network before any online run (Brenowitz et al.
2020): the network's Jacobian on the mean column of each latitude band of STORE
(climnn.diagnostics.stability_analysis), its eigenvalues, and the growth rates of the
network coupled to gravity waves (climnn.diagnostics.gravity_wave_coupling).

Verdict: "unstable" when a propagating mode (|c| > PROPAGATING m/s) grows faster than the
threshold (1/day) in some column at some wavelength, else "stable": the paper found those
modes, not standing ones, to predict a blow-up online; our shipped network agrees (its
standing modes grow at ~5/day, its propagating ones at 0.04/day, and it ran five years
online). Beside it: the worst mode of all, the worst at wavelengths the model resolves
(from its T truncation), and whether a standing mode outgrows the threshold; and, not in
the verdict, each column's boundary-layer moistening with the boundary layer's q scaled
down (``stability_analysis.boundary_layer_moistening``): ``*_boundary_layer_drying_
feedback`` < 0 (g/kg/day at 0.4 q against q) says a drier boundary layer is dried harder,
the runaway of the SP hybrids (README), where the teacher's network moistens it back;
and each column's fastest growth rate of a 2-Δσ bump at one level in T and in q
(``*_zigzag_temperature_growth_per_day`` and its ``_sigma``, the same for humidity; > 0:
the network amplifies grid-scale vertical structure, what ``loss.zigzag_weight``
penalizes in training).

Writes ``stability.json`` (flat: one key a figure) and ``stability.png`` into --out
(default: beside the model, ``<model>_stability/``), atomically.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Phase speed (m/s) above which a growing mode counts as propagating.
PROPAGATING = 5.0
EARTH_RADIUS = 6.371e6  # m


def add_stability_command(sub) -> argparse.ArgumentParser:
    """Add ``stability`` to the subparsers ``sub``; its handler is ``args.handler``."""
    cmd = sub.add_parser("stability", help="offline stability of an exported network: "
                         "its Jacobian on mean columns, its coupling to gravity waves and "
                         "its answer to a drier boundary layer")
    cmd.add_argument("model", type=Path, metavar="MODEL_FILE",
                     help="an exported model (climnn export's .pt)")
    cmd.add_argument("--data", type=Path, required=True, metavar="STORE",
                     help="a climnn store on the model's levels (e.g. its training data)")
    cmd.add_argument("--out", type=Path, help="where stability.json and stability.png go "
                     "(default: MODEL_FILE's directory / <name>_stability)")
    cmd.add_argument("--threshold", type=float, default=0.1, metavar="PER_DAY",
                     help="growth rate (1/day) above which a mode counts as unstable "
                          "(default 0.1)")
    cmd.set_defaults(handler=command_stability)
    return cmd


@dataclass
class ColumnResult:
    """One column's analysis: its name, Jacobian, wave spectrum, pressures (Pa),
    boundary-layer moistening at each of stability_analysis.HUMIDITY_FACTORS and surface
    pressure (Pa)."""

    name: str
    jacobian: object  # stability_analysis.ColumnJacobian
    spectrum: object  # gravity_wave_coupling.WaveSpectrum
    p: np.ndarray
    moistening: np.ndarray
    p_surface: float

    @property
    def sigma(self) -> np.ndarray:
        """(nlev,) each level's p over the surface pressure."""
        return self.p / self.p_surface


def command_stability(args) -> int:
    import time

    from climnn.cli import check_out
    from gcm.io.atomic import write_json

    if not args.threshold >= 0:
        raise ValueError(f"stability: --threshold {args.threshold:g}: must be >= 0 (1/day)")
    out = args.out or args.model.with_name(f"{args.model.stem}_stability")
    check_out(out)
    start = time.perf_counter()
    columns, meta = analyse(args.model, args.data)
    summary = summarize(columns, args.threshold, resolved_wavelength(meta))
    summary.update({"model": str(args.model), "data": str(args.data),
                    "seconds": round(time.perf_counter() - start, 2)})
    write_json(out / "stability.json", summary)
    write_figure(columns, out / "stability.png")
    print(table(columns, summary))
    print(f"wrote {out / 'stability.json'} and {out / 'stability.png'}")
    return 0


def analyse(model_path: Path, store: Path) -> tuple[list[ColumnResult], dict]:
    """Every representative column of ``store`` analysed with the model ``model_path``."""
    from climnn.data import validate_store
    from climnn.diagnostics.gravity_wave_coupling import BaseState, wave_spectrum
    from climnn.diagnostics.stability_analysis import (
        DifferentiableModel,
        boundary_layer_moistening,
        column_jacobian,
        representative_columns,
        slot,
        torch,
    )
    from climnn.threads import match_torch_threads

    try:
        match_torch_threads(None)
    except RuntimeError:
        pass  # already set in this process
    model = DifferentiableModel(model_path)
    ds = validate_store(store, require_outputs=False, check_values=False)
    check_store(ds, model.metadata, model_path, store)
    columns = representative_columns(ds, model.metadata)
    model.check(torch.tensor(np.stack([c.x for c in columns]), dtype=torch.float32))
    t, q = (slot(model.metadata, "inputs", n, model_path) for n in ("T", "Q"))
    results = []
    for c in columns:
        jac = column_jacobian(model, c.x)
        base = BaseState(c.p, c.p_top, c.p_surface, c.x[t], c.x[q])
        results.append(ColumnResult(c.name, jac, wave_spectrum(base, jac.matrix), c.p,
                                    boundary_layer_moistening(model, c), c.p_surface))
    return results, model.metadata


def check_store(ds, meta: dict, model_path: Path, store: Path) -> None:
    """ValueError naming both files when the store's levels or inputs do not fit the
    model's."""
    vertical = meta["vertical"]
    levels = len(vertical["hyai"]) - 1
    if ds.sizes["lev"] != levels:
        raise ValueError(f"stability: {store} has lev={ds.sizes['lev']} levels, the model "
                         f"{model_path} {levels}")
    for name in ("hyai", "hybi"):
        ours, theirs = ds[name].values, np.asarray(vertical[name])
        if not np.allclose(ours, theirs, rtol=1e-6, atol=1e-9):
            k = int(np.flatnonzero(~np.isclose(ours, theirs, rtol=1e-6, atol=1e-9))[0])
            raise ValueError(f"stability: {store}: {name}[{k}] is {ours[k]!r}, the model "
                             f"{model_path} has {theirs[k]!r} (other levels)")
    missing = [v["name"] for v in meta["inputs"] if v["name"] not in ds]
    if missing:
        raise ValueError(f"stability: {store} lacks the model's inputs {missing}")


def resolved_wavelength(meta: dict) -> float | None:
    """The shortest wavelength (m) the model's host resolves, 2π a / N for a TN
    resolution in the metadata, or None."""
    match = re.match(r"T(\d+)", str(meta.get("data", {}).get("resolution", "")))
    return 2 * np.pi * EARTH_RADIUS / int(match.group(1)) if match else None


def summarize(columns: list[ColumnResult], threshold: float,
              resolved: float | None) -> dict:
    """The flat figures of stability.json: the verdict, the worst mode overall, the worst
    propagating one and the worst resolved one, and each column's."""
    from climnn.diagnostics.stability_analysis import drying_feedback

    summary = {"threshold_per_day": threshold, "propagating_speed": PROPAGATING,
               "resolved_wavelength_m": resolved}
    worst = max(columns, key=lambda c: c.spectrum.growth_per_day.max())
    i = int(np.argmax(worst.spectrum.growth_per_day))
    growth = float(worst.spectrum.growth_per_day[i])
    propagating = max(_propagating_growth(c.spectrum) for c in columns)
    summary.update({"verdict": "unstable" if propagating > threshold else "stable",
                    "worst_propagating_growth_per_day": propagating,
                    "standing_modes_above_threshold": growth > threshold >= propagating,
                    "worst_column": worst.name, "worst_growth_per_day": growth,
                    "worst_wavelength_m": float(worst.spectrum.wavelengths[i]),
                    "worst_phase_speed": float(worst.spectrum.phase_speed[i])})
    if resolved is not None:
        summary["worst_resolved_growth_per_day"] = max(
            float(c.spectrum.growth_per_day[c.spectrum.wavelengths >= resolved].max(
                initial=-np.inf)) for c in columns)
    for c in columns:
        key = c.name.replace(" ", "_")
        summary[f"{key}_column_growth_per_day"] = c.jacobian.largest_per_day
        summary[f"{key}_column_growing_modes"] = c.jacobian.growing(threshold)
        summary[f"{key}_wave_growth_per_day"] = float(c.spectrum.growth_per_day.max())
        summary[f"{key}_boundary_layer_drying_feedback"] = drying_feedback(c.moistening)
        for variable, rates in zip(("temperature", "humidity"), c.jacobian.zigzag_per_day,
                                   strict=True):
            level = int(np.argmax(rates))
            summary[f"{key}_zigzag_{variable}_growth_per_day"] = float(rates[level])
            summary[f"{key}_zigzag_{variable}_sigma"] = float(c.sigma[level])
    summary["worst_boundary_layer_drying_feedback"] = min(
        drying_feedback(c.moistening) for c in columns)
    return summary


def _propagating_growth(spectrum) -> float:
    """The largest growth (1/day) of the modes moving faster than PROPAGATING m/s."""
    k = 2 * np.pi / spectrum.wavelengths[:, None]
    speed = np.abs(spectrum.eigenvalues.imag) / k
    growth = np.where(speed > PROPAGATING, spectrum.eigenvalues.real * 86400.0, -np.inf)
    return float(growth.max())


def table(columns: list[ColumnResult], summary: dict) -> str:
    """The short printed table and the verdict."""
    from climnn.diagnostics.stability_analysis import drying_feedback

    lines = [f"{'column':<14}{'column modes':>14}{'growing':>9}{'wave growth':>13}"
             f"{'at (km)':>10}{'c (m/s)':>9}{'BL drying':>11}{'zig-zag T, q':>15}",
             f"{'':<14}{'max (1/day)':>14}{'':>9}{'max (1/day)':>13}{'':>10}{'':>9}"
             f"{'g/kg/day':>11}{'(1/day)':>15}"]
    for c in columns:
        i = int(np.argmax(c.spectrum.growth_per_day))
        lines.append(f"{c.name:<14}{c.jacobian.largest_per_day:>14.3g}"
                     f"{c.jacobian.growing(summary['threshold_per_day']):>9d}"
                     f"{c.spectrum.growth_per_day[i]:>13.3g}"
                     f"{c.spectrum.wavelengths[i] / 1e3:>10.0f}"
                     f"{c.spectrum.phase_speed[i]:>9.2f}"
                     f"{drying_feedback(c.moistening):>11.3g}"
                     f"{'{:+.3f}, {:+.3f}'.format(*map(max, c.jacobian.zigzag_per_day)):>15}")
    lines.append(f"propagating modes (|c| > {PROPAGATING:g} m/s): worst growth "
                 f"{summary['worst_propagating_growth_per_day']:.3g}/day")
    if "worst_resolved_growth_per_day" in summary:
        lines.append(f"at resolved wavelengths (>= "
                     f"{summary['resolved_wavelength_m'] / 1e3:.0f} km): worst growth "
                     f"{summary['worst_resolved_growth_per_day']:.3g}/day")
    lines.append("BL drying: boundary-layer moistening with its q x 0.4 less with q (< 0: a "
                 "drier boundary layer is dried harder; not in the verdict)")
    lines.append("zig-zag: the fastest growth of a 2-dsigma bump at one level in T and in q "
                 "under the heating and moistening (> 0: grid-scale vertical modes grow; not "
                 "in the verdict)")
    lines.append(f"verdict: {summary['verdict']} (threshold {summary['threshold_per_day']:g}"
                 f"/day): worst {summary['worst_column']} at "
                 f"{summary['worst_wavelength_m'] / 1e3:.0f} km, growth "
                 f"{summary['worst_growth_per_day']:.3g}/day, phase speed "
                 f"{summary['worst_phase_speed']:.2f} m/s")
    return "\n".join(lines)


def write_figure(columns: list[ColumnResult], path: Path) -> None:
    """stability.png: growth rate against wavelength per column and each column's
    boundary-layer moistening against its scaled q (top), each column's Jacobian in
    energy units, 1/day (below)."""
    from climnn.diagnostics.figure_file import pyplot as _pyplot
    from climnn.diagnostics.stability_analysis import HUMIDITY_FACTORS
    from gcm.io.atomic import atomic_path

    plt = _pyplot()
    n = len(columns)
    fig = plt.figure(figsize=(4 * max(n, 2), 8))
    grid = fig.add_gridspec(2, n)
    ax = fig.add_subplot(grid[0, :max(n - 1, 1)])
    for c in columns:
        ax.semilogx(c.spectrum.wavelengths / 1e3, c.spectrum.growth_per_day, label=c.name)
    ax.axhline(0.0, color="k", linewidth=0.5)
    ax.set(xlabel="wavelength (km)", ylabel="largest growth rate (1/day)",
           title="network coupled to gravity waves")
    ax.legend()
    bl = fig.add_subplot(grid[0, n - 1]) if n > 1 else ax.twinx()
    for c in columns:
        bl.plot(HUMIDITY_FACTORS, c.moistening, marker="o", label=c.name)
    bl.axhline(0.0, color="k", linewidth=0.5)
    bl.set(xlabel="boundary-layer q / the mean column's", ylabel="its moistening (g/kg/day)",
           title="a drier boundary layer")
    for j, c in enumerate(columns):
        a = fig.add_subplot(grid[1, j])
        image = c.jacobian.energy * 86400.0
        limit = float(np.abs(image).max()) or 1.0
        shown = a.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit)
        a.set_title(f"{c.name}: d(cpQ1, LQ2)/d(cpT, Lq)", fontsize=9)
        a.set_xlabel("T | q, level (top first)")
        fig.colorbar(shown, ax=a, shrink=0.7, label="1/day")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
