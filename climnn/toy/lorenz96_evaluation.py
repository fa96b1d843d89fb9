"""The one-scale model with a parameterization against the true two-scale system: forecast
error growth from the truth's attractor, and climate statistics of long ensemble runs.

- :func:`attractor_states`: true states (X, Y) on the attractor, one a member, each spun up
  from its own random start.
- :func:`forecast_rmse`: RMSE of X against the truth at each lead, over members and k,
  every model started from the true X of each member (Arnold et al. 2013, section 4).
- :func:`climate_series` and :func:`climate_statistics`: X sampled from ensemble runs after
  a settling period; its mean, standard deviation, PDF, autocorrelation, and the distances
  of a model's PDF (Hellinger) and autocorrelation (RMSE over lags) from the truth's.

Arrays: X (n, K), Y (n, K J); series (n, ntime, K); times and leads in MTU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from climnn.toy.lorenz96 import OneScaleModel, TwoScaleModel

#: Advances a batch X (n, K) (and the truth's own Y with it) by a duration in MTU.
Advance = Callable[[np.ndarray, float], None]


def attractor_states(truth: TwoScaleModel, members: int, spinup: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``members`` true states, each spun up for ``spinup`` MTU from a random start:
    X (members, K), Y (members, K J)."""
    x, y = truth.initial_state(np.random.default_rng(seed), members)
    truth.advance(x, y, spinup)
    return x, y


def truth_advance(truth: TwoScaleModel, y: np.ndarray) -> Advance:
    """The truth as an Advance of X, carrying its Y (n, K J) along (modified in place)."""
    return lambda x, duration: truth.advance(x, y, duration)


def model_advance(model: OneScaleModel) -> Advance:
    return model.advance


def trajectory(advance: Advance, x0: np.ndarray, interval: float, samples: int) -> np.ndarray:
    """X (n, samples + 1, K): x0 and the state after each of ``samples`` intervals (x0 is
    not modified)."""
    x = x0.copy()
    out = np.empty((x.shape[0], samples + 1, x.shape[1]))
    out[:, 0] = x
    for i in range(samples):
        advance(x, interval)
        out[:, i + 1] = x
    return out


def forecast_rmse(truth: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """RMSE over members and k at each lead: truth, forecast (n, nlead, K) -> (nlead,)."""
    return np.sqrt(((forecast - truth) ** 2).mean(axis=(0, 2)))


def climate_series(advance: Advance, x0: np.ndarray, settle: float, duration: float,
                   interval: float) -> np.ndarray:
    """X (n, ntime, K) every ``interval`` MTU for ``duration`` MTU, after ``settle`` MTU in
    which a model leaves the true initial states for its own attractor."""
    x = x0.copy()
    advance(x, settle)
    return trajectory(advance, x, interval, int(round(duration / interval)))[:, 1:]


@dataclass(frozen=True)
class ClimateStatistics:
    """mean, std of X; pdf (nbins,) density on the common bins (of all values); acf (nlag,)
    autocorrelation at lags 0, interval, 2 interval ... (pooled over members and k)."""

    mean: float
    std: float
    pdf: np.ndarray
    acf: np.ndarray

    def distances(self, truth: ClimateStatistics, bin_width: float) -> dict:
        """This model's differences from the truth: mean and std error, Hellinger distance
        of the PDFs (0 same, 1 disjoint), RMSE of the autocorrelation over the lags."""
        overlap = np.sum(np.sqrt(self.pdf * truth.pdf)) * bin_width
        return {"mean_error": self.mean - truth.mean, "std_error": self.std - truth.std,
                "pdf_hellinger": float(np.sqrt(max(0.0, 1.0 - overlap))),
                "acf_rmse": float(np.sqrt(np.mean((self.acf - truth.acf) ** 2)))}

    def as_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std, "pdf": self.pdf.tolist(),
                "acf": self.acf.tolist()}


def climate_statistics(series: np.ndarray, bins: np.ndarray, lags: int) -> ClimateStatistics:
    """The statistics of ``series`` (n, ntime, K) on the PDF ``bins`` (edges) for lags
    0 .. lags - 1 samples (lags < ntime)."""
    if not 0 < lags < series.shape[1]:
        raise ValueError(f"climate statistics: {lags} lags need more than {series.shape[1]} "
                         f"samples a member")
    mean, std = float(series.mean()), float(series.std())
    counts, _ = np.histogram(series, bins=bins)
    pdf = counts / (series.size * np.diff(bins))  # values beyond the bins count as lost mass
    anomaly = series - mean
    acf = np.array([np.mean(anomaly[:, lag:] * anomaly[:, :anomaly.shape[1] - lag])
                    for lag in range(lags)]) / std ** 2
    return ClimateStatistics(mean, std, pdf, acf)
