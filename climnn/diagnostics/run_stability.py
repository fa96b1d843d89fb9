"""Did a run stay stable? Its length, how it ended, and the drift of its global means.

How it ended comes from the run's own log (``run.log``, written by gcm.simulation): a
run that reached its end logs "finished at", one stopped by a blow-up or by the
network's guards logs an ERROR line naming the step, the column and the variable, one
stopped by a signal logs a WARNING "writing a restart and stopping", and a run killed
outright (or still going) ends its log with none of these.

Drift: the least-squares slope, per year of the run's calendar, over the years compared
(so that a spin-up before them does not count), of the daily global means of
temperature (mass-weighted, K), specific humidity (mass-weighted, kg kg-1; also in % of
its mean) and surface pressure (Pa). The verdict:

- ``unstable``: the run stopped on an error (non-finite or out-of-bounds state);
- ``incomplete``: the log ends without an end (killed, or still running);
- ``drifting``: it ended, but a drift exceeds DRIFT_LIMITS;
- ``stable``: it ended within the limits.

A window shorter than MIN_DRIFT_DAYS is judged by the change across it (the slope times
its length) against SHORT_WINDOW_LIMITS instead: the slope of a few weeks, scaled to a
year, measures weather, but a global-mean temperature that moves by kelvins within weeks
has left its climate (a hybrid that warmed 700 hPa by 16 K in 40 days was called stable
before this rule).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from climnn.diagnostics.mean_climate import days_per_year, latitude_weights

#: Largest |drift| per year still called stable: T in K, q in % of its mean, ps in Pa.
DRIFT_LIMITS = {"ta_drift_k_per_year": 0.5, "hus_drift_percent_per_year": 5.0,
                "ps_drift_pa_per_year": 100.0}
#: Shortest window (days) whose drift the verdict judges.
MIN_DRIFT_DAYS = 360.0
#: Largest |change| across a shorter window still called stable, by the drift it is made
#: of (T in K, q in % of its mean, ps in Pa): weather and a climate's slow adjustment move
#: the mass-weighted means by tenths of a kelvin and a few per cent within weeks.
SHORT_WINDOW_LIMITS = {"ta_drift_k_per_year": 2.0, "hus_drift_percent_per_year": 20.0,
                       "ps_drift_pa_per_year": 100.0}
_STAMP = r"^\S+ \S+ (?P<level>[A-Z]+) (?P<message>.*)$"


@dataclass(frozen=True)
class RunEnding:
    """How a run's log ends: ``status`` one of finished, failed, interrupted, incomplete;
    ``message``: the log line that says so (empty for incomplete)."""

    status: str
    message: str


def run_ending(run_dir: Path) -> RunEnding:
    """Read ``run_dir/run.log`` from its last start ("run ...: N steps") to its end."""
    log = Path(run_dir) / "run.log"
    if not log.is_file():
        return RunEnding("incomplete", f"{log} does not exist: how the run ended is unknown")
    ending = RunEnding("incomplete", "")
    for line in log.read_text(errors="replace").splitlines():
        match = re.match(_STAMP, line)
        if match is None:
            continue
        level, message = match["level"], match["message"]
        if level == "INFO" and re.match(r"run \S+: \d+ steps", message):
            ending = RunEnding("incomplete", "")
        elif level == "INFO" and message.startswith("finished at"):
            ending = RunEnding("finished", message)
        elif level == "ERROR" and ending.status != "failed":
            ending = RunEnding("failed", message)
        elif level == "WARNING" and "writing a restart and stopping" in message:
            ending = RunEnding("interrupted", message)
    return ending


def global_mean_series(ds: xr.Dataset) -> xr.Dataset:
    """Daily global means (time,): ``ta`` and ``hus`` mass-weighted (ps dsigma times the
    area weight), ``ps`` area-weighted. Lazy until computed here."""
    w_lat = xr.DataArray(latitude_weights(ds["lat"].values), dims="lat",
                         coords={"lat": ds["lat"]})
    bounds = np.asarray(ds["lev_bnds"].values, dtype=np.float64)
    dsigma = xr.DataArray(np.abs(bounds[:, 1] - bounds[:, 0]), dims="lev",
                          coords={"lev": ds["lev"]})
    mass = ds["ps"] * dsigma * w_lat
    total = mass.sum(("lev", "lat", "lon"))
    out = {name: (ds[name] * mass).sum(("lev", "lat", "lon")) / total
           for name in ("ta", "hus") if name in ds}
    out["ps"] = (ds["ps"] * w_lat).sum("lat").mean("lon")
    return xr.Dataset(out).compute()


def drift_per_year(series: xr.Dataset) -> dict[str, float]:
    """Least-squares slopes per calendar year of the series (time,)."""
    times = series["time"].values
    days = np.array([(t - times[0]).total_seconds() / 86400.0 for t in times])
    year = days_per_year(series)
    out = {}
    if days.size < 2 or days[-1] == 0.0:
        return out
    for name, key in (("ta", "ta_drift_k_per_year"), ("ps", "ps_drift_pa_per_year"),
                      ("hus", "hus_drift_kg_kg_per_year")):
        if name in series:
            slope = np.polyfit(days, series[name].values, 1)[0] * year
            out[key] = float(slope)
    if "hus" in series:
        out["hus_drift_percent_per_year"] = 100.0 * out["hus_drift_kg_kg_per_year"] / float(
            series["hus"].mean())
    return out


def stability_verdict(ending: RunEnding, drift: dict[str, float],
                      window_days: float = 360.0, year_days: float = 360.0
                      ) -> tuple[str, str]:
    """(verdict, why) from the ending and the drifts (per year of ``year_days`` days) over
    ``window_days``, by the rules of the module: over less than MIN_DRIFT_DAYS the change
    across the window against SHORT_WINDOW_LIMITS."""
    if ending.status == "failed":
        return "unstable", ending.message
    if ending.status in ("incomplete", "interrupted"):
        return "incomplete", ending.message or "the log ends without 'finished'"
    if window_days < MIN_DRIFT_DAYS:
        return _short_window_verdict(drift, window_days / year_days, window_days)
    over = [f"{k} = {drift[k]:.3g} (limit {limit:g})" for k, limit in DRIFT_LIMITS.items()
            if k in drift and abs(drift[k]) > limit]
    if over:
        return "drifting", "; ".join(over)
    return "stable", "finished, drifts within " + ", ".join(
        f"{k} {v:g}" for k, v in DRIFT_LIMITS.items())


def _short_window_verdict(drift: dict[str, float], years: float,
                          window_days: float) -> tuple[str, str]:
    """The verdict of a finished run whose window (``years`` long) is too short for its
    slopes to be judged: its changes across the window against SHORT_WINDOW_LIMITS."""
    over = [f"{k} = {drift[k]:.3g} changed it by {drift[k] * years:.3g} across the "
            f"{window_days:g} days (limit {limit:g})" for k, limit in SHORT_WINDOW_LIMITS.items()
            if k in drift and abs(drift[k] * years) > limit]
    if over:
        return "drifting", "; ".join(over)
    return "stable", (f"finished; over {window_days:g} days (< {MIN_DRIFT_DAYS:g}) only the "
                      "changes across the window are judged, and they are within "
                      + ", ".join(f"{k.split('_drift')[0]} {v:g}"
                                  for k, v in SHORT_WINDOW_LIMITS.items()))


def run_stability(run_dir: Path, ds: xr.Dataset, years: float) -> tuple[dict, xr.Dataset]:
    """The stability metrics of the run in ``run_dir`` with history ``ds``: flat dict
    (run_days, run_ending, stability_verdict, stability_reason, the drifts over the
    last ``years``, so that a spin-up before them does not count) and the global-mean
    series (time,) of the whole run."""
    series = global_mean_series(ds)
    times = ds["time"].values
    ending = run_ending(run_dir)
    start = times[-1] - datetime.timedelta(days=years * days_per_year(ds))
    window = series.sel(time=[t for t in times if t >= start])
    drift = drift_per_year(window)
    window_days = (window["time"].values[-1] - window["time"].values[0]).total_seconds() / 86400
    verdict, why = stability_verdict(ending, drift, window_days, days_per_year(ds))
    metrics = {"run_days": (times[-1] - times[0]).total_seconds() / 86400.0,
               "run_end_time": str(times[-1]), "run_ending": ending.status,
               "drift_window_years": years, "stability_verdict": verdict,
               "stability_reason": why, **drift}
    return metrics, series
