"""Offline skill of an emulator: R², RMSE and budget residuals accumulated batch by batch.

The accumulators know nothing of networks or files: they take float64 arrays of true and
predicted values (samples, entries), a batch at a time, so that a test period of millions of
samples is never held at once. Sums are float64 and taken about a shift (the first batch's
mean), so that SST = sum (y - shift)^2 - n (mean - shift)^2 loses little to cancellation.

R² = 1 - SSE / SST, SST about the test mean of each entry; an entry (or group) whose truth
does not vary (std at most ``FLAT`` x its root mean square, or x a reference scale given by
the caller: exactly constant, float32 round-off, or noise many orders below the variable's
size, such as the moistening of the top levels or the shortwave flux of a polar night) has no
R² (NaN here, null in JSON): its R² would be a ratio of round-off errors (e.g. -1e58).
"""

from __future__ import annotations

import math

import numpy as np

#: Relative standard deviation below which an entry counts as constant (no R²).
FLAT = 1e-6
#: More distinct column latitudes than this are gathered into bands of BAND_DEGREES.
MAX_LATITUDES = 180
BAND_DEGREES = 5.0


class Moments:
    """Sums over samples of truth and error for ``size`` entries in ``groups`` groups (e.g.
    latitudes): counts, sum and sum of squares of (truth - shift), the sum of errors and
    SSE."""

    def __init__(self, size: int, groups: int = 1):
        self.groups, self.size = groups, size
        self.count = np.zeros((groups, 1))
        self.total = np.zeros((groups, size))
        self.squares = np.zeros((groups, size))
        self.sse = np.zeros((groups, size))
        self.errors = np.zeros((groups, size))
        self.shift: np.ndarray | None = None

    def add(self, truth: np.ndarray, predicted: np.ndarray,
            group: np.ndarray | None = None) -> None:
        """truth, predicted: (n, size) float64; group: (n,) ints in [0, groups) or None."""
        truth = np.asarray(truth, dtype=np.float64).reshape(len(truth), -1)
        error = np.asarray(predicted, dtype=np.float64).reshape(truth.shape) - truth
        if self.shift is None:
            self.shift = truth.mean(0)
        d = truth - self.shift
        for sums, values in ((self.count, np.ones((len(truth), 1))), (self.total, d),
                             (self.squares, d * d), (self.sse, error * error),
                             (self.errors, error)):
            if group is None:
                sums[0] += values.sum(0)
                continue
            for j in range(values.shape[1]):
                sums[:, j] += np.bincount(group, weights=values[:, j], minlength=self.groups)

    def sst(self) -> np.ndarray:
        """(groups, size) sums of squares about each entry's mean."""
        n = np.maximum(self.count, 1)
        return np.maximum(self.squares - self.total**2 / n, 0.0)

    def power(self) -> np.ndarray:
        """(groups, size) sums over samples of truth squared."""
        shift = 0.0 if self.shift is None else self.shift
        return self.squares + 2 * shift * self.total + self.count * shift**2

    def rms(self) -> np.ndarray:
        """(groups, size) root mean square of the truth (0 where no sample)."""
        return np.sqrt(self.power() / np.maximum(self.count, 1))

    def flat(self, scale: np.ndarray | None = None) -> np.ndarray:
        """(groups, size) True where the truth does not vary (or no sample): its std at most
        FLAT x its own root mean square or x ``scale`` (broadcast to (groups, size), the
        truth's units), whichever is larger."""
        power = self.power()
        if scale is not None:
            power = np.maximum(power, self.count * np.broadcast_to(scale, power.shape) ** 2)
        return (self.count == 0) | (self.sst() <= FLAT**2 * power)

    def r2(self, pooled: slice | None = None, scale: np.ndarray | None = None) -> np.ndarray:
        """(groups, size) R² of each entry, NaN where flat (``scale``: see ``flat``); with
        ``pooled`` (a slice of the entries) one R² a group, 1 - sum SSE / sum SST over those
        entries: (groups,)."""
        sst, sse, flat = self.sst(), self.sse, self.flat(scale)
        if pooled is not None:
            sst, sse = sst[:, pooled].sum(1), sse[:, pooled].sum(1)
            flat = flat[:, pooled].all(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(flat, np.nan, 1.0 - sse / np.where(flat, 1.0, sst))

    def rmse(self, pooled: slice | None = None) -> np.ndarray:
        """(groups, size) root mean squared error; with ``pooled`` over those entries."""
        n = np.maximum(self.count, 1)
        if pooled is not None:
            return np.sqrt(self.sse[:, pooled].sum(1) / (n[:, 0] * (pooled.stop - pooled.start)))
        return np.sqrt(self.sse / n)

    def bias(self, pooled: slice | None = None) -> np.ndarray:
        """(groups, size) mean error, prediction - truth; with ``pooled`` over those
        entries: (groups,)."""
        n = np.maximum(self.count, 1)
        if pooled is not None:
            return self.errors[:, pooled].sum(1) / (n[:, 0] * (pooled.stop - pooled.start))
        return self.errors / n

    def mean(self) -> np.ndarray:
        """(groups, size) mean of the truth."""
        shift = 0.0 if self.shift is None else self.shift
        return shift + self.total / np.maximum(self.count, 1)


class Residuals:
    """Mean, mean absolute and largest absolute value of a per-sample quantity, and where
    the largest is (an opaque sample label, e.g. (time index, column))."""

    def __init__(self):
        self.count, self.total, self.absolute = 0, 0.0, 0.0
        self.max_abs, self.where = -1.0, None

    def add(self, values: np.ndarray, labels: np.ndarray) -> None:
        """values: (n,) float64; labels: (n, ...) the samples' labels."""
        values = np.asarray(values, dtype=np.float64)
        self.count += values.size
        self.total += float(values.sum())
        magnitude = np.abs(values)
        self.absolute += float(magnitude.sum())
        if values.size and magnitude.max() > self.max_abs:
            i = int(magnitude.argmax())
            self.max_abs, self.where = float(magnitude[i]), labels[i]

    def summary(self) -> dict:
        """{mean, mean_abs, max_abs} (NaN without samples) and the label of the max."""
        n = max(self.count, 1)
        empty = self.count == 0
        return {"mean": math.nan if empty else self.total / n,
                "mean_abs": math.nan if empty else self.absolute / n,
                "max_abs": math.nan if empty else self.max_abs, "max_at": self.where}


def latitude_groups(lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group index of each column (ncol,), each group's latitude (ngroups,) in degrees):
    the distinct column latitudes, or bands of BAND_DEGREES (their centres) when there
    are more than MAX_LATITUDES of them (unstructured grids)."""
    lat = np.asarray(lat, dtype=np.float64)
    rounded = np.round(lat, 6)
    centres, index = np.unique(rounded, return_inverse=True)
    if centres.size <= MAX_LATITUDES:
        return index, centres
    band = np.clip(np.floor((lat + 90.0) / BAND_DEGREES), 0, 180 / BAND_DEGREES - 1)
    bands, index = np.unique(band.astype(np.int64), return_inverse=True)
    return index, -90.0 + (bands + 0.5) * BAND_DEGREES


def json_ready(value):
    """NaN and inf -> None, numpy scalars and arrays -> Python numbers and lists, deep."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_ready(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value
