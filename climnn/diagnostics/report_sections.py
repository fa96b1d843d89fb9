"""The sections of ``climnn diagnose``'s report, each from one kind of diagnostic: it
computes its figures, writes its PNGs into the report's directory and returns its
flat metrics and its Section. Reference figures are prefixed ``reference_``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from climnn.diagnostics.report import Section, format_value


def _table(metrics: dict, keys: list[str], reference: dict | None = None) -> list[list[str]]:
    header = ["figure", "run"] + (["reference"] if reference is not None else [])
    rows = [header]
    for k in keys:
        if k in metrics:
            row = [k, format_value(metrics[k])]
            if reference is not None:
                row.append(format_value(reference.get(k, "")))
            rows.append(row)
    return rows


def stability_section(run_dir: Path, run: xr.Dataset, reference: tuple[Path, xr.Dataset] | None,
                      years: float, out: Path) -> tuple[dict, Section]:
    """Run length, ending, drifts and verdict of the run (and of the reference)."""
    from climnn.diagnostics.conservation_plots import write_global_mean_plot
    from climnn.diagnostics.run_stability import DRIFT_LIMITS, run_stability

    metrics, series = run_stability(run_dir, run, years)
    all_series = {"run": series}
    ref_metrics = None
    if reference is not None:
        ref_metrics, all_series["reference"] = run_stability(*reference, years)
    keys = ["run_days", "run_end_time", "run_ending", "ta_drift_k_per_year",
            "hus_drift_percent_per_year", "ps_drift_pa_per_year", "stability_verdict"]
    section = Section(
        "Stability",
        [f"Verdict: {metrics['stability_verdict']}: {metrics['stability_reason']}.",
         f"Drifts are least-squares slopes over the last {years:g} years; limits for "
         "'stable': " + ", ".join(f"|{k}| <= {v:g}" for k, v in DRIFT_LIMITS.items()) + "."],
        [_table(metrics, keys, ref_metrics)], [write_global_mean_plot(all_series, out)])
    flat = dict(metrics)
    if ref_metrics is not None:
        flat.update({f"reference_{k}": v for k, v in ref_metrics.items()})
    return flat, section


def mean_climate_section(run: xr.Dataset, reference: xr.Dataset | None, years: float,
                         names: tuple[str, str], out: Path) -> tuple[dict, Section]:
    """Zonal means of T, q, u, precipitation and OLR, bias and RMSE, the streamfunction."""
    from climnn.diagnostics.mean_climate import (
        compare_mean_climate,
        last_years,
        mean_climate_metrics,
    )
    from climnn.diagnostics.mean_climate_plots import (
        write_mean_climate_plots,
        write_streamfunction_plot,
    )
    from climnn.diagnostics.streamfunction import hadley_cell_metrics, mass_streamfunction

    comparison = compare_mean_climate(run, reference, years, names)
    metrics = mean_climate_metrics(comparison)
    figures = write_mean_climate_plots(comparison, out)
    psi = {}
    for label, ds in (("run", run), ("reference", reference)):
        if ds is not None and "va" in ds and "ps" in ds:
            window = last_years(ds, years, label)
            psi[label] = mass_streamfunction(window["va"], window["ps"], ds["lev_bnds"])
            prefix = "" if label == "run" else "reference_"
            metrics.update({prefix + k: v for k, v in hadley_cell_metrics(psi[label]).items()})
    if psi:
        figures.append(write_streamfunction_plot(psi, out))
    differences = [["field", "units", "bias", "RMSE"]] + [
        [c.name, c.units, format_value(c.bias), format_value(c.rmse)]
        for c in comparison.values()] if reference is not None else []
    text = [f"Time and zonal means over the last {years:g} years"
            + ("; bias and RMSE weighted by area (Gaussian weights) and mass (d sigma)."
               if reference is not None else " (no reference given).")]
    names_run = [k for k in metrics if (k.endswith("_global_mean") or k.startswith("msf_"))]
    ref = ({k: metrics.get(f"{k}_reference", metrics.get(f"reference_{k}", ""))
            for k in names_run} if reference is not None else None)
    tables = [t for t in (differences, _table(metrics, names_run, ref)) if t]
    return metrics, Section("Mean climate", text, tables, figures)


def extremes_section(run: xr.Dataset, reference: xr.Dataset | None, years: float,
                     out: Path) -> tuple[dict, Section]:
    """Precipitation histograms and percentiles by latitude band."""
    from climnn.diagnostics.extremes import band_histograms, extremes_metrics, extremes_ratios
    from climnn.diagnostics.mean_climate import last_years
    from climnn.diagnostics.variability_plots import write_extremes_plots

    histograms = {"run": band_histograms(last_years(run, years)["pr"])}
    if reference is not None:
        histograms["reference"] = band_histograms(last_years(reference, years,
                                                             "reference")["pr"])
    metrics = extremes_metrics(histograms["run"])
    ref = extremes_metrics(histograms["reference"]) if reference is not None else None
    flat = dict(metrics)
    if ref is not None:
        flat.update({f"reference_{k}": v for k, v in ref.items()})
        flat.update(extremes_ratios(metrics, ref))
    section = Section(
        "Precipitation extremes",
        ["Each history value (the interval mean of one output interval at one grid point)"
         " is a sample weighted by its cell's area; percentiles by latitude band."],
        [_table(metrics, list(metrics), ref)], write_extremes_plots(histograms, out))
    return flat, section


def conservation_section(run: xr.Dataset, years: float, out: Path) -> tuple[dict, Section]:
    """The global energy and water budgets, the fixers and the coupler's series."""
    from climnn.diagnostics.conservation import conservation_metrics, global_budgets, global_series
    from climnn.diagnostics.conservation_plots import write_conservation_plots
    from climnn.diagnostics.mean_climate import last_years

    window = last_years(run, years)
    # the snapshot before the window's first interval closes its first budget
    first = int(np.argmax(run["time"].values == window["time"].values[0])) - 1
    window = run.isel(time=slice(max(first, 0), None))
    budgets, series = global_budgets(window), global_series(window)
    metrics = conservation_metrics(budgets, series)
    section = Section(
        "Conservation",
        ["Global budgets per output interval: the change of the column's energy "
         "(cp T + Lv q + k + Phi_s) and water against the fluxes through the top and the "
         "surface; the residual is what the model made or lost inside. The dynamical "
         "core's fixers and the coupler's residuals and corrections are global means "
         "of each interval."],
        [[["figure", "value"]] + [[k, format_value(v)] for k, v in metrics.items()]],
        write_conservation_plots(budgets, series, out))
    return metrics, section


def offline_skill_section(model_dir: Path, out: Path) -> tuple[dict, Section]:
    """Figures of ``climnn evaluate`` (MODEL_DIR/evaluation/metrics.json), copied."""
    import shutil

    evaluation = load_json(model_dir / "evaluation" / "metrics.json",
                           f"--model {model_dir} (run `climnn evaluate` on it first)")
    flat, rows = {}, [["output", "R²", "RMSE", "units"]]
    for group in ("variables", "column_integrals"):
        for name, v in evaluation.get(group, {}).items():
            if "r2" in v and not isinstance(v["r2"], dict):
                flat[f"offline_r2_{name}"] = v["r2"]
                rows.append([name, format_value(v["r2"]), format_value(v.get("rmse")),
                             str(v.get("units", ""))])
    figures = []
    for plot in evaluation.get("plots", []):
        if (model_dir / "evaluation" / plot).is_file():
            shutil.copyfile(model_dir / "evaluation" / plot, out / f"offline_{plot}")
            figures.append(f"offline_{plot}")
    test = evaluation.get("test", {})
    text = [f"`climnn evaluate` of {model_dir} on its test period "
            f"{test.get('time_range', '?')} ({test.get('n_samples', '?')} samples)."]
    return flat, Section("Offline skill", text, [rows], figures)


def load_json(path: Path, what: str) -> dict:
    """A JSON file's object, or one ValueError naming the file."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{what}: {path} does not exist") from err
    except json.JSONDecodeError as err:
        raise ValueError(f"{what}: {path} is not JSON ({err})") from err


#: Equatorial wave spectra: history field -> label; shortest record (days) analysed.
WAVE_FIELDS = {"pr": "precipitation", "flnt": "outgoing longwave"}
WAVE_MIN_DAYS = 30.0


def wave_spectrum_section(run: xr.Dataset, reference: xr.Dataset | None, years: float,
                          out: Path) -> tuple[dict, Section]:
    """Wheeler–Kiladis spectra of equatorial precipitation and OLR, run and reference:
    96-day windows overlapping by 60 days, shorter ones (5/8 overlap) for a record of
    30 to 96 days, none below."""
    from climnn.diagnostics.mean_climate import last_years
    from climnn.diagnostics.wave_spectrum import equatorial_wave_spectrum, wave_spectrum_metrics
    from climnn.diagnostics.wave_spectrum_plots import plot_wave_spectrum

    runs = {"run": last_years(run, years)}
    if reference is not None:
        runs["reference"] = last_years(reference, years, "reference")
    times = runs["run"]["time"].values
    days = (times[-1] - times[0]).total_seconds() / 86400.0 + 1.0 if times.size > 1 else 0.0
    if days < WAVE_MIN_DAYS:
        return {}, Section("Equatorial waves", [
            f"Not computed: the judged record holds {days:g} days, fewer than the "
            f"{WAVE_MIN_DAYS:g} a wavenumber-frequency spectrum needs."])
    window = min(96.0, np.floor(days))
    overlap = 60.0 if window == 96.0 else np.floor(window * 5 / 8)
    per_day = 86400.0 / (times[1] - times[0]).total_seconds()
    metrics, figures = {}, []
    for label, ds in runs.items():
        for name, long_name in WAVE_FIELDS.items():
            if name not in ds:
                continue
            spectrum = equatorial_wave_spectrum(ds[name], per_day, window_days=window,
                                                overlap_days=overlap)
            prefix = ("" if label == "run" else "reference_") + f"{name}_wk_"
            metrics.update(wave_spectrum_metrics(spectrum, prefix=prefix))
            file = f"wave_spectrum_{name}_{label}.png"
            plot_wave_spectrum(spectrum, out / file, f"{long_name}: {label}")
            figures.append(file)
    keys = [k for k in metrics if not k.startswith("reference_") and "kelvin" in k]
    ref = ({k: metrics.get("reference_" + k, "") for k in keys}
           if reference is not None else None)
    text = [f"Symmetric and antisymmetric power over a smoothed background (Wheeler & "
            f"Kiladis 1999), {window:g}-day windows overlapping by {overlap:g} days, "
            "15S-15N, with the shallow-water dispersion curves for equivalent depths of 12, "
            "25 and 50 m. The Kelvin-band figures (k = 1..14, 1/30..0.5 cpd, between the 8 "
            "and 90 m curves) measure the convectively coupled Kelvin waves."]
    return metrics, Section("Equatorial waves", text, [_table(metrics, keys, ref)],
                            figures)


def offline_stability_section(stability_json: Path, online_verdict: str,
                              out: Path) -> tuple[dict, Section]:
    """``climnn stability``'s verdict (its stability.json and stability.png) beside the
    run's own outcome."""
    import shutil

    figures = read_stability(stability_json)
    flat = {f"offline_stability_{k}": v for k, v in figures.items()
            if isinstance(v, (int, float, str, bool))}
    keys = ["verdict", "worst_propagating_growth_per_day", "worst_growth_per_day",
            "worst_phase_speed", "worst_wavelength_m", "worst_resolved_growth_per_day",
            "worst_column"]
    rows = [["figure", "value"]] + [[k, format_value(figures[k])] for k in keys
                                    if k in figures]
    agree = (figures["verdict"] == "stable") == (online_verdict in ("stable", "drifting"))
    text = [f"Offline analysis (Brenowitz et al. 2020, `climnn stability`): "
            f"{figures['verdict']}; online this run is {online_verdict}: the two "
            + ("agree." if agree else "disagree.")]
    png = Path(stability_json).with_name("stability.png")
    pictures = []
    if png.is_file():
        shutil.copyfile(png, out / "offline_stability.png")
        pictures.append("offline_stability.png")
    return flat, Section("Offline stability analysis", text, [rows], pictures)


def read_stability(stability_json: Path) -> dict:
    """The figures of ``climnn stability``'s stability.json, or one error naming it."""
    figures = load_json(stability_json, "--stability")
    if not isinstance(figures, dict) or "verdict" not in figures:
        raise ValueError(f"--stability {stability_json}: no 'verdict': not a stability.json "
                         "of climnn stability")
    return figures
