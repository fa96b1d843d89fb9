"""The Lorenz-96 dataset: X_k and the sub-grid forcing U_k sampled from a long true run.

A small schema of its own (the column schema of data/README.md is for atmospheric columns),
stored in the project's conventions: a zarr v3 group without consolidated metadata, Blosc
LZ4 with byte shuffle, CF attributes (``units``, ``long_name``), provenance as group
attributes, written into a temporary directory and renamed into place (gcm.io.atomic).

| name | dims | units | meaning |
| --- | --- | --- | --- |
| `time` | time | 1 | model time (MTU) since the end of the spin-up |
| `k` | k | 1 | index of the large-scale variable, 0 .. K-1 |
| `X` | time, k | 1 | large-scale variable X_k |
| `U` | time, k | 1 | sub-grid forcing -(h c / b) sum_j Y_{j,k} (X units per MTU) |

Group attributes: ``schema`` = "climnn-toy-lorenz96", ``schema_version``, ``source_model``,
the system's parameters (``K, J, h, b, c, F``), ``dt``, ``sample_interval``, ``spinup``
(MTU), ``seed``, ``climnn_version``, ``git_commit``, ``created``, ``Conventions``,
``references``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

import climnn
from climnn.data.schema import COMPRESSOR, DatasetError
from climnn.toy.lorenz96 import Lorenz96Parameters, TwoScaleModel
from gcm.io.atomic import atomic_directory

SCHEMA, SCHEMA_VERSION = "climnn-toy-lorenz96", 1
PARAMETER_NAMES = ("K", "J", "h", "b", "c", "F")
VARIABLES = {"X": "large-scale variable X_k",
             "U": "sub-grid forcing on X_k, -(h c / b) sum_j Y_j,k"}
REFERENCES = ("Lorenz 1996, Predictability: a problem partly solved; Arnold, Moroz & Palmer "
              "2013, Phil. Trans. R. Soc. A 371; Gagne et al. 2020, JAMES 12")


@dataclass(frozen=True)
class Sampling:
    """How the truth is sampled: spin-up and duration (MTU), a sample every
    ``interval`` MTU, the random seed of the initial state."""

    spinup: float = 5.0
    duration: float = 500.0
    interval: float = 0.05
    seed: int = 0


def sample_truth(model: TwoScaleModel, sampling: Sampling) -> xr.Dataset:
    """A true run of ``model`` from a random state, spun up, sampled every interval: the
    dataset of the schema above (float64)."""
    rng = np.random.default_rng(sampling.seed)
    x, y = model.initial_state(rng)
    model.advance(x, y, sampling.spinup)
    n = int(round(sampling.duration / sampling.interval))
    xs, us = np.empty((n, model.params.K)), np.empty((n, model.params.K))
    for i in range(n):
        model.advance(x, y, sampling.interval)
        xs[i], us[i] = x[0], model.subgrid_forcing(y)[0]
    return as_dataset(xs, us, (np.arange(n) + 1) * sampling.interval, model, sampling)


def as_dataset(x: np.ndarray, u: np.ndarray, time: np.ndarray, model: TwoScaleModel,
               sampling: Sampling) -> xr.Dataset:
    """X, U (ntime, K) at ``time`` (MTU) as the schema's dataset, with its attributes."""
    from climnn.export.metadata import git_commit

    coords = {"time": ("time", time, {"units": "1", "long_name": "model time (MTU) since "
                                      "the end of the spin-up", "axis": "T"}),
              "k": ("k", np.arange(x.shape[1]), {"units": "1",
                                                 "long_name": "large-scale index"})}
    data = {name: (("time", "k"), values, {"units": "1", "long_name": VARIABLES[name]})
            for name, values in (("X", x), ("U", u))}
    attrs = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION,
             "source_model": "two-scale Lorenz-96, RK4 (climnn.toy.lorenz96)",
             **model.params.as_dict(), "dt": model.dt, "sample_interval": sampling.interval,
             "spinup": sampling.spinup, "seed": sampling.seed,
             "climnn_version": climnn.__version__, "git_commit": git_commit(),
             "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
             "Conventions": "CF-1.10", "references": REFERENCES}
    return xr.Dataset(data, coords, attrs)


def write_dataset(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` as the zarr store ``path`` (a new path: FileExistsError otherwise),
    atomically; returns ``path``."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; choose another path (nothing was written)")
    encoding = {name: {"compressors": [COMPRESSOR]} for name in VARIABLES}
    with atomic_directory(path) as tmp:
        ds.to_zarr(tmp, mode="w", encoding=encoding, zarr_format=3, consolidated=False)
    return path


def open_dataset(path: str | Path) -> xr.Dataset:
    """The store ``path`` loaded and checked: DatasetError naming the store and the field
    when it is not a Lorenz-96 dataset of this schema."""
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(f"{path}: no such Lorenz-96 store")
    try:
        ds = xr.open_zarr(path, consolidated=False).load()
    except (OSError, ValueError, KeyError) as err:
        raise DatasetError(f"{path}: not a readable zarr store ({err})") from None
    if ds.attrs.get("schema") != SCHEMA or ds.attrs.get("schema_version") != SCHEMA_VERSION:
        raise DatasetError(f"{path}: schema {ds.attrs.get('schema')!r} version "
                           f"{ds.attrs.get('schema_version')!r}, expected {SCHEMA!r} "
                           f"version {SCHEMA_VERSION}")
    missing = [n for n in PARAMETER_NAMES if n not in ds.attrs]
    if missing:
        raise DatasetError(f"{path}: the group attributes lack the parameters {missing}")
    K = int(ds.attrs["K"])
    for name in VARIABLES:
        if name not in ds:
            raise DatasetError(f"{path}: no variable {name}")
        values = ds[name]
        if values.dims != ("time", "k") or values.shape[1] != K:
            raise DatasetError(f"{path}: {name} has dims {values.dims} {values.shape}, "
                               f"expected (time, k) with k = K = {K}")
        bad = ~np.isfinite(values.values)
        if bad.any():
            t, k = np.argwhere(bad)[0]
            raise DatasetError(f"{path}: {name} is not finite at (time={t}, k={k})")
    return ds


def parameters_of(ds: xr.Dataset) -> Lorenz96Parameters:
    """The system's parameters recorded in a dataset's attributes."""
    a = ds.attrs
    return Lorenz96Parameters(int(a["K"]), int(a["J"]), float(a["h"]), float(a["b"]),
                              float(a["c"]), float(a["F"]))
