"""The Lorenz-96 parameterization experiment, end to end (``climnn toy lorenz96``).

1. a true two-scale run sampled into the dataset (climnn.toy.lorenz96_data), written and
   read back as a zarr store;
2. the local network trained on its time split, exported, and run through the coupler;
   the cubic polynomial fitted on the same split; "none" (U = 0) beside them;
3. the one-scale model with each parameterization against the truth: forecast RMSE of X
   against lead time from true attractor states, and the climate of long ensemble runs;
4. ``metrics.json`` and the figures (climnn.toy.lorenz96_plots) in the output directory.

:data:`QUICK` is the smoke test's size (seconds), :data:`FULL` the reported one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from climnn.toy.lorenz96 import (
    Lorenz96Parameters,
    OneScaleModel,
    TwoScaleModel,
    no_parameterization,
)
from climnn.toy.lorenz96_data import Sampling, open_dataset, sample_truth, write_dataset
from climnn.toy.lorenz96_evaluation import (
    attractor_states,
    climate_series,
    climate_statistics,
    forecast_rmse,
    model_advance,
    trajectory,
    truth_advance,
)

STORE, MODEL, METRICS = "lorenz96.zarr", "network.pt", "metrics.json"
CASES = ("network", "polynomial", "none")
TRUTH_DT, MODEL_DT = 0.001, 0.005  # MTU (Arnold et al. 2013)
REPORTED_LEADS = (0.2, 0.5, 1.0, 2.0)  # MTU: the leads metrics.json names one by one


@dataclass(frozen=True)
class Settings:
    """sampling : the training run; training : the network's; forecast_members,
    forecast_length, lead_interval : the forecasts (MTU); climate_members, climate_settle,
    climate_duration, climate_interval, acf_lags : the climate runs (MTU; lags in
    intervals); spinup : of the attractor states (MTU); seed : of every random start."""

    sampling: Sampling
    training: object
    forecast_members: int
    forecast_length: float
    lead_interval: float
    climate_members: int
    climate_settle: float
    climate_duration: float
    climate_interval: float
    acf_lags: int
    spinup: float
    seed: int = 0


def quick_settings() -> Settings:
    from climnn.toy.lorenz96_network import NetworkTraining

    return Settings(Sampling(spinup=2.0, duration=30.0, interval=0.05),
                    NetworkTraining(epochs=10), forecast_members=32, forecast_length=1.0,
                    lead_interval=0.05, climate_members=12, climate_settle=1.0,
                    climate_duration=6.0, climate_interval=0.02, acf_lags=50, spinup=3.0)


def full_settings() -> Settings:
    from climnn.toy.lorenz96_network import NetworkTraining

    return Settings(Sampling(spinup=5.0, duration=500.0, interval=0.05),
                    NetworkTraining(epochs=40), forecast_members=300, forecast_length=3.0,
                    lead_interval=0.05, climate_members=100, climate_settle=2.0,
                    climate_duration=100.0, climate_interval=0.02, acf_lags=100, spinup=10.0)


def check_out(out: Path) -> None:
    """``out`` must be new or an empty directory: nothing in it is ever overwritten."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty directory; choose another "
                              f"--out (nothing was written)")


def run_experiment(out: Path, settings: Settings, params: Lorenz96Parameters,
                   report=print) -> dict:
    """Run the experiment into the new directory ``out``; returns the metrics written to
    ``out/metrics.json``. ``report``: a callable given one line of progress a phase.
    torch runs on one thread meanwhile (a network of a thousand weights: more threads
    only cost), restored after."""
    from climnn.threads import torch_threads

    with torch_threads(1):
        return _run_experiment(Path(out), settings, params, report)


def _run_experiment(out: Path, settings: Settings, params: Lorenz96Parameters,
                    report) -> dict:
    from climnn.toy.lorenz96_plots import write_plots
    from gcm.io.atomic import write_json

    out = Path(out)
    check_out(out)
    clock = Clock(report)
    truth = TwoScaleModel(params, TRUTH_DT)
    settings = replace(settings, sampling=replace(settings.sampling, seed=settings.seed))
    ds = write_and_read(truth, settings.sampling, out / STORE)
    clock.lap(f"truth sampled: {ds.sizes['time']} times x {params.K} (X, U) in {STORE}")
    fitted = fit_parameterizations(ds, settings, out / MODEL)
    clock.lap(f"network trained ({len(fitted['history'])} epochs) and exported to {MODEL}; "
              f"cubic fitted")
    models = {name: OneScaleModel(p, params.F, MODEL_DT)
              for name, p in fitted["parameterizations"].items()}
    forecasts = run_forecasts(truth, models, settings)
    clock.lap(f"forecasts: {settings.forecast_members} members to "
              f"{settings.forecast_length:g} MTU")
    climate = run_climate(truth, models, settings)
    clock.lap(f"climate: {settings.climate_members} members x "
              f"{settings.climate_duration:g} MTU")
    metrics = {"parameters": params.as_dict(), "truth_dt": TRUTH_DT, "model_dt": MODEL_DT,
               "store": str(out / STORE), "model": str(out / MODEL),
               "offline": fitted["offline"], "training": fitted["history"],
               "polynomial_coefficients": list(fitted["polynomial"].coefficients),
               "forecast": forecasts, "climate": climate, "summary": {}}
    metrics["summary"] = summary(metrics)
    metrics["figures"] = write_plots(metrics, fitted["validation"], out)
    metrics["seconds"] = clock.times
    write_json(out / METRICS, metrics)
    return metrics


class Clock:
    """Seconds a phase, and one progress line each."""

    def __init__(self, report):
        self.report, self.times, self.last = report, {}, time.perf_counter()

    def lap(self, line: str) -> None:
        now = time.perf_counter()
        self.times[line.split(":")[0].split(" (")[0]] = round(now - self.last, 3)
        self.report(f"{line} ({now - self.last:.1f} s)")
        self.last = now


def write_and_read(truth: TwoScaleModel, sampling: Sampling, store: Path):
    """The true run sampled, written as ``store`` and read back (the training reads the
    store, as any training does)."""
    write_dataset(sample_truth(truth, sampling), store)
    return open_dataset(store)


def fit_parameterizations(ds, settings: Settings, model_path: Path) -> dict:
    """The three parameterizations from the dataset ``ds``: the network (trained, exported
    to ``model_path``, run through the coupler), the cubic (fitted on the training split),
    none; with the offline RMSE of U on the validation split, the training history, and
    the validation samples (for the figures)."""
    from climnn.toy.lorenz96_network import (
        CoupledParameterization,
        PolynomialParameterization,
        export_network,
        time_split,
        train_network,
    )

    x, u = ds["X"].values, ds["U"].values
    network, history = train_network(x, u, settings.training)
    train, valid = time_split(x.shape[0], settings.training.validation)
    provenance = {key: ds.attrs[key] for key in ("schema", "schema_version", "source_model",
                                                 "K", "J", "h", "b", "c", "F", "dt")}
    export_network(network, model_path, {"store": str(ds.encoding.get("source", "")),
                                         **provenance}, history)
    parameterizations = {
        "network": CoupledParameterization(model_path, MODEL_DT),
        "polynomial": PolynomialParameterization.fit(x[train], u[train]),
        "none": no_parameterization}
    offline = {name: float(np.sqrt(np.mean((p(x[valid]) - u[valid]) ** 2)))
               for name, p in parameterizations.items()}
    return {"parameterizations": parameterizations, "history": history,
            "polynomial": parameterizations["polynomial"], "offline": {"u_rmse": offline},
            "validation": (x[valid], u[valid], parameterizations)}


def run_forecasts(truth: TwoScaleModel, models: dict, settings: Settings) -> dict:
    """RMSE of X against lead for every model, from the same true attractor states."""
    s = settings
    x0, y0 = attractor_states(truth, s.forecast_members, s.spinup, s.seed + 1)
    leads = int(round(s.forecast_length / s.lead_interval))
    true = trajectory(truth_advance(truth, y0), x0, s.lead_interval, leads)
    rmse = {name: forecast_rmse(true, trajectory(model_advance(m), x0, s.lead_interval, leads))
            for name, m in models.items()}
    return {"members": s.forecast_members,
            "lead": (np.arange(leads + 1) * s.lead_interval).round(6).tolist(),
            "rmse": {name: values.tolist() for name, values in rmse.items()},
            "climatological_rmse": float(np.sqrt(2.0) * true.std())}


def run_climate(truth: TwoScaleModel, models: dict, settings: Settings) -> dict:
    """Mean, std, PDF and autocorrelation of X of the truth and every model, each from the
    same true attractor states, and each model's distances from the truth."""
    s = settings
    x0, y0 = attractor_states(truth, s.climate_members, s.spinup, s.seed + 2)
    run = lambda advance: climate_series(advance, x0, s.climate_settle,  # noqa: E731
                                         s.climate_duration, s.climate_interval)
    true = run(truth_advance(truth, y0))
    bins = np.linspace(np.floor(true.min()) - 2.0, np.ceil(true.max()) + 2.0, 61)
    truth_stats = climate_statistics(true, bins, s.acf_lags)
    result = {"members": s.climate_members, "duration": s.climate_duration,
              "bins": bins.tolist(),
              "lag": (np.arange(s.acf_lags) * s.climate_interval).round(6).tolist(),
              "truth": truth_stats.as_dict()}
    for name, model in models.items():
        stats = climate_statistics(run(model_advance(model)), bins, s.acf_lags)
        result[name] = {**stats.as_dict(), **stats.distances(truth_stats, bins[1] - bins[0])}
    # the sampling noise of these distances: the truth again from other attractor states
    x1, y1 = attractor_states(truth, s.climate_members, s.spinup, s.seed + 3)
    again = climate_statistics(climate_series(truth_advance(truth, y1), x1, s.climate_settle,
                                              s.climate_duration, s.climate_interval),
                               bins, s.acf_lags)
    result["truth_resampled"] = {**again.as_dict(),
                                 **again.distances(truth_stats, bins[1] - bins[0])}
    return result


def summary(metrics: dict) -> dict:
    """The headline figures: forecast RMSE at REPORTED_LEADS and the climate distances of
    each case, flat, for the README table and the tests."""
    forecast, climate = metrics["forecast"], metrics["climate"]
    lead = np.asarray(forecast["lead"])
    out = {}
    for name in CASES:
        for at in REPORTED_LEADS:
            if at <= lead[-1] + 1e-9:
                i = int(np.argmin(np.abs(lead - at)))
                out[f"{name}_forecast_rmse_{at:g}"] = forecast["rmse"][name][i]
        for key in ("mean", "std", "pdf_hellinger", "acf_rmse"):
            out[f"{name}_{key}"] = climate[name][key]
        out[f"{name}_offline_u_rmse"] = metrics["offline"]["u_rmse"][name]
    out["truth_mean"], out["truth_std"] = climate["truth"]["mean"], climate["truth"]["std"]
    for key in ("mean", "std", "pdf_hellinger", "acf_rmse"):
        out[f"truth_resampled_{key}"] = climate["truth_resampled"][key]
    return out
