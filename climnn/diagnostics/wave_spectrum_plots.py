"""The Wheeler–Kiladis figure (climnn.diagnostics.wave_spectrum) as a PNG, with
matplotlib (Agg): two panels, symmetric / background and antisymmetric / background,
filled contours of the ratio against zonal wavenumber and frequency, with the
shallow-water dispersion curves of the waves of each symmetry for equivalent depths of
12, 25 and 50 m."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from climnn.diagnostics.figure_file import pyplot as _pyplot
from climnn.diagnostics.wave_spectrum import dispersion_curves
from gcm.io.atomic import atomic_path

#: ratio levels of the filled contours (WK99 shade from 1.1 or 1.2 up)
RATIO_LEVELS = (1.0, 1.1, 1.2, 1.4, 1.7, 2.0, 2.4, 2.8, 3.2, 4.0)
WAVENUMBER_RANGE = (-15, 15)
FREQUENCY_RANGE = (0.0, 0.8)  # cpd; cut at the spectrum's Nyquist frequency
DEPTHS = (12.0, 25.0, 50.0)  # m
LINESTYLES = {12.0: ":", 25.0: "--", 50.0: "-"}
#: where each wave's label goes (wavenumber), by name in dispersion_curves
LABELS = {"kelvin": ("Kelvin", 11), "equatorial_rossby_n1": ("ER n=1", -11),
          "eastward_inertio_gravity_n1": ("EIG n=1", 4),
          "westward_inertio_gravity_n1": ("WIG n=1", -8),
          "mixed_rossby_gravity": ("MRG", -8), "eastward_inertio_gravity_n0": ("EIG n=0", 8),
          "eastward_inertio_gravity_n2": ("EIG n=2", 4),
          "westward_inertio_gravity_n2": ("WIG n=2", -8)}


def plot_wave_spectrum(spectrum: xr.Dataset, path: str | Path, title: str) -> Path:
    """Write the two-panel ratio figure of ``spectrum`` to ``path`` (PNG, atomically);
    returns ``path``."""
    plt = _pyplot()
    view = _view(spectrum)
    curves = dispersion_curves(DEPTHS, np.linspace(*WAVENUMBER_RANGE, 301))
    top = min(FREQUENCY_RANGE[1], float(view["frequency"].max()))
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.5), sharey=True, layout="constrained")
    for ax, part in zip(axes, ("symmetric", "antisymmetric"), strict=True):
        ratio = _ratio(view[f"power_{part}"], view["background"])
        filled = ax.contourf(view["wavenumber"], view["frequency"], ratio,
                             levels=RATIO_LEVELS, cmap="YlOrRd", extend="max")
        ax.contour(view["wavenumber"], view["frequency"], ratio, levels=[1.2, 1.7, 2.4],
                   colors="0.4", linewidths=0.5)
        _draw_curves(ax, curves, part, top)
        ax.axvline(0.0, color="0.5", linewidth=0.5)
        ax.set_xlim(*WAVENUMBER_RANGE)
        ax.set_ylim(FREQUENCY_RANGE[0], top)
        ax.set_xlabel("zonal wavenumber (cycles per circle; positive eastward)")
        ax.set_title(f"{part} / background")
    axes[0].set_ylabel("frequency (cpd)")
    for ax in axes:
        _mark_periods(ax, top)
    fig.colorbar(filled, ax=axes, shrink=0.85, label="power / background")
    windows = spectrum.attrs.get("windows", "?")
    fig.suptitle(f"{title}  ({windows} windows of {spectrum.attrs.get('window_days', 0):g}"
                 f" days, |lat| <= {spectrum.attrs.get('lat_max', 0):g}; curves: "
                 + ", ".join(f"{h:g} m {LINESTYLES[h]}" for h in DEPTHS) + ")",
                 fontsize=10)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path


def _view(spectrum: xr.Dataset) -> xr.Dataset:
    """The plotted part: wavenumbers in WAVENUMBER_RANGE, frequencies above 0."""
    k, f = spectrum["wavenumber"], spectrum["frequency"]
    return spectrum.isel(
        wavenumber=np.flatnonzero((k >= WAVENUMBER_RANGE[0]) & (k <= WAVENUMBER_RANGE[1])),
        frequency=np.flatnonzero((f > 0) & (f <= FREQUENCY_RANGE[1])))


def _mark_periods(ax, top: float) -> None:
    """Dotted lines at periods of 3, 6 and 30 days, labelled at the left edge."""
    for period in (3, 6, 30):
        if 1.0 / period < top:
            ax.axhline(1.0 / period, color="0.5", linewidth=0.5, linestyle=":")
            ax.annotate(f"{period} d", (WAVENUMBER_RANGE[0], 1.0 / period),
                        xytext=(2, 1), textcoords="offset points", fontsize=7,
                        va="bottom", color="0.3")


def _ratio(power: xr.DataArray, background: xr.DataArray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(background.values > 0, power.values / background.values, np.nan)


def _draw_curves(ax, curves: xr.Dataset, part: str, top: float) -> None:
    """The dispersion curves of symmetry ``part``, one line style per depth, each wave
    labelled once beside its 25 m curve."""
    k = curves["wavenumber"].values
    for name, curve in curves.data_vars.items():
        if curve.attrs["symmetry"] != part:
            continue
        for depth in DEPTHS:
            ax.plot(k, curve.sel(equivalent_depth=depth).values, color="k",
                    linestyle=LINESTYLES[depth], linewidth=0.8)
        label, at = LABELS[name]
        y = float(curve.sel(equivalent_depth=25.0).interp(wavenumber=at))
        if np.isfinite(y) and y < top:
            ax.annotate(label, (at, y), fontsize=8, ha="center", va="bottom",
                        bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none",
                              "alpha": 0.7})
