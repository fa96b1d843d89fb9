"""Normalization statistics of a column dataset, computed out of core with dask.

For every data variable X of the schema present in a store: ``X_mean``, ``X_std``,
``X_min``, ``X_max`` over time and column, per level for profiles (dim ``lev``) and scalar
for surface fields, all float64; for every output also ``X_scale``, the output scaling of
the seed network (Rasp, Pritchard & Gentine 2018, PNAS): TPHYSTND x cp, PHQ x L, momentum
tendencies x 1, energy fluxes x 1e-3, PRECT x L x 1e-3 (kg m-2 s-1 -> W m-2 -> x 1e-3).
CBRAIN used L = Lv + Lf = 2.8347e6 J kg-1; the default here is Lv and the value used is
recorded as the attribute ``latent_heat``.

The statistics live in the subgroup ``stats`` of the store itself; the data are only read.
The mean accumulates in float64 and the standard deviation combines per-chunk means and
centred sums of squares (Chan et al. 1979's pairwise update, as dask's ``std`` does), so it
does not suffer the cancellation of the sum-of-squares formula.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import xarray as xr
import zarr

from climnn.data.schema import (
    DATA_VARIABLES,
    LEV,
    OUTPUTS,
    TIME,
    VARIABLES,
    DatasetError,
    _check_blosc_frames,
    _check_values,
    open_store,
    read_failure,
    sample_count,
    validate_store,
)
from gcm.constants import CP, LV  # the seed network's scales use the model's constants

STATS_GROUP = "stats"
LV_PLUS_LF = 2.8347e6  # latent heat of vaporization + fusion, J kg-1 (CBRAIN's PHQ scale)
FLUX_SCALE = 1e-3  # energy fluxes, W m-2 -> O(1)


def output_scales(latent_heat: float = LV) -> dict[str, float]:
    """Scale factor of every output variable (seed-network convention)."""
    return {
        "TPHYSTND": CP,
        "PHQ": latent_heat,
        "UPHYS": 1.0,
        "VPHYS": 1.0,
        "PRECT": latent_heat * FLUX_SCALE,
        "FSNT": FLUX_SCALE,
        "FSNS": FLUX_SCALE,
        "FLNT": FLUX_SCALE,
        "FLNS": FLUX_SCALE,
        "SHF": FLUX_SCALE,
        "LHF": FLUX_SCALE,
    }


def compute_statistics(
    store_path: str | os.PathLike,
    client=None,
    *,
    latent_heat: float = LV,
    time_chunk: int | None = None,
    period: tuple[str, str] | None = None,
) -> xr.Dataset:
    """Compute the statistics of the store at ``store_path``, write them into its ``stats``
    group (replacing earlier ones) and return them.

    client : a dask.distributed Client to compute on, or None for the threaded scheduler
    latent_heat : L of the PHQ and PRECT scales, J kg-1 (LV, or LV_PLUS_LF as in CBRAIN)
    time_chunk : time steps a dask task reads (default: about 32 MiB of the largest variable)
    period : (start, end) ISO dates: the statistics of the times in [start, end) only (the
        training period, so that normalization never sees the test period); recorded in
        the attributes ``period_start``, ``period_end`` ("" for the whole store)
    """
    path = Path(store_path)
    validate_store(path, require_outputs=False, check_values=False)
    # a truncated Blosc frame can decode into garbage without error: refuse it first
    _check_blosc_frames(path, str(path))
    ds = open_store(path, time_chunk)
    whole = ds
    if period is not None:
        ds = ds.isel({TIME: times_in_period(ds[TIME].values, *period, str(path))})
    names = [n for n in DATA_VARIABLES if n in ds.data_vars]
    lazy = {}
    for name in names:
        x = ds[name].data.astype(np.float64)
        axes = (0, 1)
        lazy[name] = {
            "mean": da.mean(x, axis=axes, dtype="float64"),
            "std": da.std(x, axis=axes, dtype="float64"),
            "min": da.min(x, axis=axes),
            "max": da.max(x, axis=axes),
        }
    scheduler = client if client is not None else "threads"
    try:
        (values,) = dask.compute(lazy, scheduler=scheduler)
    except Exception as exc:  # a chunk that cannot be decoded: name it, not the codec
        raise read_failure(path, str(path), names, exc) from exc
    if not all(np.all(np.isfinite(v)) for stats in values.values() for v in stats.values()):
        _check_values(ds, str(path), path)  # raises at the first NaN/inf
        raise DatasetError(f"{path}: statistics are not finite although the data are")

    scales = output_scales(latent_heat)
    out = {}
    for name in names:
        spec = VARIABLES[name]
        dims = (LEV,) if spec.is_profile else ()
        for stat, value in values[name].items():
            out[f"{name}_{stat}"] = xr.Variable(
                dims, np.asarray(value, dtype=np.float64),
                {"units": spec.units, "long_name": f"{stat} of {spec.long_name}"},
            )
        if name in OUTPUTS:
            attrs = {"long_name": f"output scale of {name} (Rasp et al. 2018)"}
            if name in ("PHQ", "PRECT"):
                attrs["latent_heat"] = latent_heat
            out[f"{name}_scale"] = xr.Variable((), np.float64(scales[name]), attrs)
    stats = xr.Dataset(
        out,
        attrs={
            "n_samples": sample_count(ds),
            "computed_with": "dask",
            "source_hash": source_hash(whole),
            "period_start": period[0] if period else "",
            "period_end": period[1] if period else "",
            "latent_heat": latent_heat,
        },
    )
    stats.to_zarr(path, group=STATS_GROUP, mode="w", zarr_format=3, consolidated=False)
    return stats


def times_in_period(times: np.ndarray, start: str, end: str, where: str) -> np.ndarray:
    """Indices of ``times`` (cftime or numpy datetimes) in [start, end) (ISO dates,
    YYYY-MM-DD[THH:MM:SS]); DatasetError naming the period when it holds none."""
    def as_time(iso: str, like):
        try:
            fields = [int(x) for x in re.split(r"[-T:]", iso.strip())]
            if isinstance(like, np.datetime64):
                return np.datetime64(iso.strip())
            return type(like)(*fields, calendar=like.calendar)
        except (ValueError, TypeError) as err:
            raise DatasetError(f"{where}: period {iso!r} is not an ISO date "
                               f"(YYYY-MM-DD[THH:MM:SS]): {err}") from None

    low, high = as_time(start, times[0]), as_time(end, times[0])
    chosen = np.flatnonzero([low <= t < high for t in times])
    if chosen.size == 0:
        raise DatasetError(f"{where}: the period [{start}, {end}) holds no time step of the "
                           f"store ({times[0]} to {times[-1]})")
    return chosen


def load_statistics(store_path: str | os.PathLike, *, check_source: bool = True) -> xr.Dataset:
    """Read the statistics of the store at ``store_path`` into memory.

    check_source : raise DatasetError when the data changed since the statistics were
        computed (shapes or time range differ from ``source_hash``)
    """
    path = Path(store_path)
    if not path.exists():
        raise DatasetError(f"{path}: no such dataset store")
    try:
        zarr.open_group(path, path=STATS_GROUP, mode="r")
    except Exception as exc:
        raise DatasetError(
            f"{path}: no statistics (group {STATS_GROUP!r}); run `climnn stats {path}`"
        ) from exc
    stats = xr.open_zarr(path, group=STATS_GROUP, consolidated=False).load()
    if check_source:
        found = source_hash(xr.open_zarr(path, consolidated=False))
        if stats.attrs.get("source_hash") != found:
            raise DatasetError(
                f"{path}: statistics are stale (source_hash {stats.attrs.get('source_hash')!r},"
                f" data now {found!r}); run `climnn stats {path}` again"
            )
    return stats


def source_hash(ds: xr.Dataset) -> str:
    """Identity of a store's data: sha256 of its data variables' shapes and dtypes and of its
    time range."""
    times = ds[TIME].values
    ident = {
        "variables": [
            [name, list(ds[name].shape), str(ds[name].dtype)]
            for name in DATA_VARIABLES
            if name in ds.data_vars
        ],
        "time_range": [str(times[0]), str(times[-1])] if times.size else [],
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()
