"""The climnn column-dataset schema (v1): its variable table, its validator and its writer.

One zarr v3 group holds a dataset of column samples from any source (teacher runs, ClimSim
E3SM-MMF, CBRAIN SPCAM): dims ``time``, ``column``, ``lev`` (index 0 = model top) and
``ilev`` (interfaces); hybrid level coefficients so that ``p = hyam*P0 + hybm*PS``; inputs
are the state before physics, outputs what the physics did (Rasp, Pritchard & Gentine 2018,
PNAS; Yu et al. 2023, ClimSim). ``data/README.md`` describes the schema for users.

Every reader calls :func:`validate_store`, which raises :class:`DatasetError` with one message
naming the store, the variable and, where it applies, the index or chunk at fault. Converters
and the dataset generator write through :func:`write_store`, which applies the schema's
chunking, compression and group attributes.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
import zarr
import zarr.codecs

from gcm.io.atomic import atomic_directory
from gcm.physics.column import PROFILE_FIELDS
from gcm.variables import QUANTITIES, Quantity

SCHEMA_NAME = "climnn-columns"
SCHEMA_VERSION = 1

TIME, COLUMN, LEV, ILEV = "time", "column", "lev", "ilev"
PROFILE = (TIME, COLUMN, LEV)
SURFACE = (TIME, COLUMN)

#: Reference pressure of the hybrid coordinate, Pa.
P0 = 100000.0

#: Group attributes every store carries (provenance); see data/README.md.
PROVENANCE_ATTRS = (
    "source_model",
    "source_files",
    "config_hash",
    "resolution",
    "time_range",
    "timestep_seconds",
    "surface_flux_convention",
)
SURFACE_FLUX_CONVENTIONS = ("included", "excluded")

#: zarr codec of every array: Blosc LZ4 with byte shuffle.
COMPRESSOR = zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
#: Chunk length of the 1-d time coordinate (data variables use one time step a chunk).
TIME_COORDINATE_CHUNK = 4096
#: Bytes of the largest variable a dask task reads when a whole store is scanned.
TARGET_CHUNK_BYTES = 32 * 2**20
_ZARR_KW = {"zarr_format": 3, "consolidated": False}


class DatasetError(ValueError):
    """A column dataset that does not follow the schema; the message names store and field."""


@dataclass(frozen=True)
class VariableSpec:
    """One row of the schema's variable table.

    name : variable name in the store
    dims : dimension names, in order
    units : the exact ``units`` attribute, or None where the schema does not fix it
    role : "input", "output" (data variables), "geometry" (coordinates, level coefficients)
        or "provenance" (how a sample was made)
    long_name : meaning, written as the ``long_name`` attribute when a writer lacks one
    required : False for variables a source may omit (then absent from the store)
    """

    name: str
    dims: tuple[str, ...]
    units: str | None
    role: str
    long_name: str
    required: bool = True

    @property
    def is_data(self) -> bool:
        return self.role in ("input", "output")

    @property
    def is_profile(self) -> bool:
        return LEV in self.dims


def _table(*rows: VariableSpec) -> dict[str, VariableSpec]:
    return {row.name: row for row in rows}


#: Data variables a source may omit.
OPTIONAL = ("U", "SST", "UPHYS", "VPHYS", "SHF", "LHF")


def _data(quantity: Quantity) -> VariableSpec:
    """Row of a data variable: name, units, role and long name from gcm.variables;
    profiles are the contract's level-dependent fields."""
    dims = PROFILE if quantity.field in PROFILE_FIELDS else SURFACE
    return VariableSpec(quantity.dataset, dims, quantity.units, quantity.role,
                        quantity.dataset_long_name, quantity.dataset not in OPTIONAL)


V = VariableSpec
#: The variable table of schema v1, in the order messages and statistics follow.
VARIABLES: dict[str, VariableSpec] = _table(
    V("time", (TIME,), None, "geometry", "time (CF-encoded, cftime calendar)"),
    V("lat", (COLUMN,), "degrees_north", "geometry", "latitude of the column"),
    V("lon", (COLUMN,), "degrees_east", "geometry", "longitude of the column"),
    V("area", (COLUMN,), None, "geometry", "fraction of the sphere the column stands for"),
    V("hyam", (LEV,), None, "geometry", "hybrid A coefficient at full levels"),
    V("hybm", (LEV,), None, "geometry", "hybrid B coefficient at full levels"),
    V("hyai", (ILEV,), None, "geometry", "hybrid A coefficient at interfaces"),
    V("hybi", (ILEV,), None, "geometry", "hybrid B coefficient at interfaces"),
    V("P0", (), "Pa", "geometry", "reference pressure of the hybrid coordinate"),
    V("physics_dt", (TIME,), "s", "provenance", "interval the physics tendencies of the "
      "sample were computed over (2 dt on a leapfrog step)", required=False),
    # inputs (the state before physics), then outputs (what the physics did)
    *(_data(quantity) for quantity in QUANTITIES),
)
del V

INPUTS = tuple(n for n, s in VARIABLES.items() if s.role == "input")
OUTPUTS = tuple(n for n, s in VARIABLES.items() if s.role == "output")
DATA_VARIABLES = INPUTS + OUTPUTS


# --------------------------------------------------------------------------- validation


def validate_store(
    path_or_dataset: str | os.PathLike | xr.Dataset,
    require_outputs: bool = True,
    *,
    levels: int | None = None,
    check_values: bool = True,
) -> xr.Dataset:
    """Check a column dataset against the schema and return it (lazily opened, dask-backed).

    path_or_dataset : a zarr store path (opened with ``xr.open_zarr(consolidated=False)``) or
        an already opened Dataset
    require_outputs : False accepts a store of inputs only (outputs absent)
    levels : number of full levels the caller expects, or None to accept any
    check_values : False skips the pass over all values (NaN/inf, unreadable chunks)

    Raises DatasetError naming the store, the variable and the index or chunk at fault.
    """
    if isinstance(path_or_dataset, xr.Dataset):
        ds = path_or_dataset
        store = str(ds.encoding.get("source", "<in-memory dataset>"))
        path = Path(store) if "source" in ds.encoding and Path(store).exists() else None
        if path is not None:
            _check_zarr_layout(path, store)
    else:
        path = Path(path_or_dataset)
        store = str(path)
        _check_zarr_layout(path, store)
        try:
            ds = xr.open_zarr(path, consolidated=False)
        except Exception as exc:  # xarray/zarr raise many types on a malformed store
            raise DatasetError(f"{store}: cannot be opened as a dataset: {exc}") from exc
    _check_attrs(ds.attrs, store)
    _check_variables(ds, store, require_outputs)
    _check_levels(ds, store, levels)
    if check_values:
        _check_values(ds, store, path, reopen=not isinstance(path_or_dataset, xr.Dataset))
    return ds


def _check_zarr_layout(path: Path, store: str) -> None:
    """Checks made on the zarr group itself, before xarray sees it: existence, schema
    attributes, one size per dimension across variables, every chunk present."""
    if not path.exists():
        raise DatasetError(f"{store}: no such dataset store")
    try:
        group = zarr.open_group(path, mode="r")
    except Exception as exc:
        raise DatasetError(f"{store}: not a zarr group ({type(exc).__name__}: {exc})") from exc
    _check_schema_attrs(dict(group.attrs), store)
    seen: dict[str, tuple[str, int]] = {}
    arrays = dict(group.arrays())
    data_first = [n for n in _ordered(arrays) if n in DATA_VARIABLES]
    data_first += [n for n in _ordered(arrays) if n not in DATA_VARIABLES]
    for name in data_first:  # so that a level coefficient is reported against T
        array = arrays[name]
        dims = array.metadata.dimension_names or ()
        for dim, size in zip(dims, array.shape, strict=False):
            first = seen.setdefault(dim, (name, size))
            if first[1] != size:
                raise DatasetError(
                    f"{store}: variable {name!r} has {dim}={size} but {first[0]!r} has "
                    f"{dim}={first[1]}; all variables must share the {dim!r} axis"
                )
    for name in _ordered(arrays):
        _check_chunks_present(arrays[name], name, store)


def _ordered(names) -> list[str]:
    """Names in table order, then any others sorted."""
    names = list(names)
    return [n for n in VARIABLES if n in names] + sorted(n for n in names if n not in VARIABLES)


def _check_chunks_present(array: zarr.Array, name: str, store: str) -> None:
    """Raise DatasetError naming the first chunk of ``array`` missing from the store
    (zarr would silently return fill values for it)."""
    if array.nchunks_initialized >= array.nchunks:
        return
    from zarr.core.sync import sync

    for coords in itertools.product(*(range(n) for n in array.cdata_shape)):
        key = f"{array.path}/{array.metadata.encode_chunk_key(coords)}"
        if not sync(array.store.exists(key)):
            raise DatasetError(
                f"{store}: variable {name!r}: chunk {coords} is missing from the store "
                f"(key {key!r}); the store is truncated or was not written completely"
            )


def _check_schema_attrs(attrs: dict, store: str) -> None:
    found = attrs.get("schema")
    if found != SCHEMA_NAME:
        raise DatasetError(
            f"{store}: not a climnn column dataset: group attribute 'schema' is {found!r}, "
            f"expected {SCHEMA_NAME!r}"
        )
    version = attrs.get("schema_version")
    if version != SCHEMA_VERSION:
        raise DatasetError(
            f"{store}: schema_version {version!r} is not supported (expected {SCHEMA_VERSION})"
        )


def _check_attrs(attrs: dict, store: str) -> None:
    _check_schema_attrs(attrs, store)
    missing = [key for key in PROVENANCE_ATTRS if key not in attrs]
    if missing:
        raise DatasetError(f"{store}: group attribute(s) {missing} missing (provenance)")
    convention = attrs["surface_flux_convention"]
    if convention not in SURFACE_FLUX_CONVENTIONS:
        raise DatasetError(
            f"{store}: group attribute 'surface_flux_convention' is {convention!r}, "
            f"expected one of {SURFACE_FLUX_CONVENTIONS}"
        )


def _check_variables(ds: xr.Dataset, store: str, require_outputs: bool) -> None:
    for name, spec in VARIABLES.items():
        if name not in ds.variables:
            if spec.required and (require_outputs or spec.role != "output"):
                raise DatasetError(
                    f"{store}: required variable {name!r} ({spec.long_name}) is missing"
                )
            continue
        var = ds.variables[name]
        if var.dims != spec.dims:
            raise DatasetError(
                f"{store}: variable {name!r} has dims {var.dims}, expected {spec.dims}"
            )
        if spec.units is not None and var.attrs.get("units") != spec.units:
            raise DatasetError(
                f"{store}: variable {name!r} has units {var.attrs.get('units')!r}, "
                f"expected {spec.units!r}"
            )
        if spec.is_data and var.dtype not in (np.float32, np.float64):
            raise DatasetError(
                f"{store}: variable {name!r} has dtype {var.dtype}, expected float32 or float64"
            )
    time = ds.variables["time"]
    if not (np.issubdtype(time.dtype, np.datetime64) or time.dtype == object):
        raise DatasetError(
            f"{store}: variable 'time' holds {time.dtype} values, expected CF-decoded dates "
            "(units 'days since ...' and a calendar attribute in the store)"
        )


def _check_levels(ds: xr.Dataset, store: str, levels: int | None) -> None:
    nlev = ds.sizes[LEV]
    if ds.sizes[ILEV] != nlev + 1:
        raise DatasetError(
            f"{store}: variable 'hyai' has {ds.sizes[ILEV]} interfaces, expected "
            f"{nlev + 1} (lev={nlev} full levels + 1)"
        )
    if levels is not None and levels != nlev:
        profiles = [n for n in DATA_VARIABLES if n in ds and VARIABLES[n].is_profile]
        raise DatasetError(
            f"{store}: variable {profiles[0]!r} has lev={nlev} levels, the caller expects "
            f"levels={levels}"
        )


def _check_values(ds: xr.Dataset, store: str, path: Path | None, reopen: bool = True) -> None:
    """Raise DatasetError at the first NaN/inf (variables in table order, then index order)
    or at an unreadable chunk; the data are read chunk by chunk with dask. ``path``: the
    store behind ``ds``, if any; ``reopen``: read it with larger dask chunks instead."""
    import dask
    import dask.array as da

    if path is not None:
        _check_blosc_frames(path, store)
        if reopen:  # several time steps a dask task: far fewer tasks on a big store
            ds = open_store(path)
    names = [n for n in VARIABLES if n in ds.variables and n != "time"]
    for name in names:  # small geometry variables: plain numpy
        if not VARIABLES[name].is_data:
            _raise_first_nonfinite(ds, name, store, np.asarray(ds[name].values), None)
    data_names = [n for n in names if VARIABLES[n].is_data]
    flags = {}
    for name in data_names:
        data = ds.variables[name].data
        if not isinstance(data, da.Array):
            data = da.from_array(np.asarray(data), chunks=(1,) + data.shape[1:])
        flags[name] = (~da.isfinite(data)).any(axis=tuple(range(1, data.ndim)))
    try:
        (flags,) = dask.compute(flags)
    except DatasetError:
        raise
    except Exception as exc:  # codec, store or KeyError/FileNotFoundError from a bad chunk
        raise read_failure(path, store, data_names, exc) from exc
    for name in data_names:
        bad_times = np.flatnonzero(flags[name])
        if bad_times.size:
            t = int(bad_times[0])
            _raise_first_nonfinite(ds, name, store, np.asarray(ds[name][t].values), t)


def _raise_first_nonfinite(ds, name: str, store: str, values: np.ndarray, t: int | None):
    bad = np.argwhere(~np.isfinite(values))
    if not bad.size:
        return
    index = tuple(int(i) for i in bad[0])
    dims = ds[name].dims if t is None else ds[name].dims[1:]
    value = values[index]
    if t is not None:
        index, dims = (t, *index), ds[name].dims
    where = ", ".join(f"{d}={i}" for d, i in zip(dims, index, strict=True))
    kind = "NaN" if np.isnan(value) else str(value)
    raise DatasetError(
        f"{store}: variable {name!r} holds {kind} at index ({where}); first non-finite value"
    )


def _check_blosc_frames(path: Path, store: str) -> None:
    """Raise DatasetError at the first Blosc-compressed chunk shorter than its header says.

    A truncated Blosc frame can decompress without error into garbage, so the compressed
    size in the frame header (bytes 12-15) is compared with the stored size."""
    import asyncio

    from zarr.abc.store import RangeByteRequest
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    async def frame(array_store, key):
        size = await array_store.getsize(key)
        head = await array_store.get(key, default_buffer_prototype(), RangeByteRequest(0, 16))
        return size, bytes(head.to_bytes()) if head is not None else b""

    group = zarr.open_group(path, mode="r")
    arrays = dict(group.arrays())
    for name in _ordered(arrays):
        array = arrays[name]
        codecs = array.metadata.codecs
        if not codecs or not isinstance(codecs[-1], zarr.codecs.BloscCodec):
            continue
        coords = list(itertools.product(*(range(n) for n in array.cdata_shape)))
        for start in range(0, len(coords), 4096):
            batch = coords[start:start + 4096]
            keys = [f"{array.path}/{array.metadata.encode_chunk_key(c)}" for c in batch]

            async def frames(keys=keys, array_store=array.store):
                return await asyncio.gather(*(frame(array_store, k) for k in keys))

            for chunk, (size, head) in zip(batch, sync(frames()), strict=True):
                expected = int.from_bytes(head[12:16], "little") if len(head) == 16 else -1
                if expected != size:
                    raise DatasetError(
                        f"{store}: variable {name!r}: chunk {chunk} is truncated or corrupt "
                        f"({size} bytes stored, the Blosc header says {expected})"
                    )


def read_failure(path: Path | None, store: str, names: list[str],
                 exc: Exception) -> DatasetError:
    """The DatasetError for a read of variables ``names`` of the store at ``path`` that
    raised ``exc`` (e.g. a Blosc decode error): naming the variable and chunk that cannot be
    read when one is found, else the store and ``exc``. Readers (statistics, loader) route
    every failure of a data read through it, so no raw codec traceback reaches a user."""
    if path is not None:
        try:
            _check_blosc_frames(path, store)
            _locate_unreadable_chunk(path, store, names)
        except DatasetError as found:
            return found
    return DatasetError(f"{store}: reading the data failed ({type(exc).__name__}: {exc})")


def _locate_unreadable_chunk(path: Path, store: str, names: list[str]) -> None:
    """Read every chunk of ``names`` straight from zarr; raise DatasetError at the first
    that fails. Returns if all read (the failure lay elsewhere)."""
    group = zarr.open_group(path, mode="r")
    for name in names:
        array = group[name]
        for coords in itertools.product(*(range(n) for n in array.cdata_shape)):
            try:
                array.blocks[coords]
            except Exception as exc:  # the type depends on codec and store
                raise DatasetError(
                    f"{store}: variable {name!r}: chunk {coords} cannot be read "
                    f"({type(exc).__name__}: {exc})"
                ) from exc


def open_store(path: str | os.PathLike, time_chunk: int | None = None) -> xr.Dataset:
    """Open a store lazily with dask chunks of ``time_chunk`` time steps (default: about
    TARGET_CHUNK_BYTES of the largest variable), a whole number of zarr chunks each."""
    ds = xr.open_zarr(path, consolidated=False)
    if time_chunk is None:
        step = max(
            (v.nbytes // max(v.shape[0], 1) for v in ds.data_vars.values() if TIME in v.dims),
            default=1,
        )
        time_chunk = max(1, TARGET_CHUNK_BYTES // max(step, 1))
    stored = math.lcm(*{v.encoding["chunks"][0] for v in ds.data_vars.values()
                        if TIME in v.dims and v.encoding.get("chunks")} or {1})
    time_chunk = -(-time_chunk // stored) * stored  # whole zarr chunks: no split reads
    return xr.open_zarr(path, consolidated=False, chunks={TIME: time_chunk})


# --------------------------------------------------------------------------- derived


def sample_count(ds: xr.Dataset) -> int:
    """Number of column samples in ``ds``: time steps x columns."""
    return int(ds.sizes[TIME] * ds.sizes[COLUMN])


def pressure_thickness(ds: xr.Dataset) -> xr.DataArray:
    """Pressure thickness dp of every layer, (time, column, lev) in Pa, from the interface
    pressures ``hyai*P0 + hybi*PS`` (positive: level 0 is the top). Lazy when PS is."""
    interface = ds["hyai"] * ds["P0"] + ds["hybi"] * ds["PS"]
    interface = interface.transpose(TIME, COLUMN, ILEV).drop_vars(ILEV, errors="ignore")
    upper = interface.isel({ILEV: slice(None, -1)}).rename({ILEV: LEV})
    lower = interface.isel({ILEV: slice(1, None)}).rename({ILEV: LEV})
    dp = lower.variable - upper.variable
    coords = {k: v for k, v in ds["PS"].coords.items()}
    if LEV in ds.coords:
        coords[LEV] = ds.coords[LEV]
    return xr.DataArray(
        dp, coords=coords, name="dp",
        attrs={"units": "Pa", "long_name": "pressure thickness of the layer"},
    )


# --------------------------------------------------------------------------- writing


def write_store(
    ds: xr.Dataset,
    path: str | os.PathLike,
    mode: str = "w-",
    *,
    require_outputs: bool = True,
    check_existing: bool = True,
) -> Path:
    """Write ``ds`` as a schema-v1 store at ``path`` and return the path.

    mode : "w-" create (fail if it exists), "w" overwrite, "a" append along time to an
        existing store (only the time-dependent variables are written; time_range grows)
    require_outputs : False for stores of inputs only
    check_existing : with mode "a", validate the existing store first (every chunk is
        looked at, so a writer that appends many times and checked the store when it
        opened it passes False)

    A new store ("w-", "w") is written into a temporary directory beside ``path`` and
    renamed into place when complete (gcm.io.atomic), so ``path`` never holds a partly
    written store; "w" replaces an existing one only then.

    Sets the group attributes ``schema``, ``schema_version`` and, when absent,
    ``time_range``; fills ``long_name``/``role`` from the table where missing and units "1"
    of the dimensionless geometry. Provenance attributes must be in ``ds.attrs``. The
    dataset is validated (structure only) before anything is written. Chunks: one time
    step a chunk, all columns and levels; Blosc LZ4 + shuffle; every chunk written.
    """
    if mode not in ("w-", "w", "a"):
        raise ValueError(f"write_store: mode must be 'w-', 'w' or 'a', found {mode!r}")
    path = Path(path)
    if mode == "w-" and path.exists():
        raise FileExistsError(f"write_store: {path} exists; pass mode='w' to replace it")
    ds = _with_schema_attrs(ds.drop_encoding())
    validate_store(ds, require_outputs, check_values=False)
    if mode == "a":
        if check_existing:
            existing = validate_store(path, require_outputs, check_values=False)
        else:
            existing = xr.open_zarr(path, **_ZARR_KW)
        last, first = existing[TIME].values[-1], ds[TIME].values[0]
        if not first > last:
            raise DatasetError(
                f"{path}: holds times up to {last}; the data appended start at {first}, "
                "not after it: nothing was written"
            )
        ds.attrs["time_range"] = [existing.attrs["time_range"][0], ds.attrs["time_range"][1]]
        timed = ds.drop_vars([n for n, v in ds.variables.items() if TIME not in v.dims])
        timed = _chunked(timed)
        timed.to_zarr(path, mode="a", append_dim=TIME, write_empty_chunks=True, **_ZARR_KW)
        zarr.open_group(path, mode="r+").attrs.update({"time_range": ds.attrs["time_range"]})
        return path
    encoding = {}
    for name, var in ds.variables.items():
        chunks = tuple(1 if d == TIME else n for d, n in zip(var.dims, var.shape, strict=True))
        if var.dims == (TIME,):
            chunks = (min(TIME_COORDINATE_CHUNK, var.shape[0]),)
        encoding[name] = {"compressors": [COMPRESSOR]}
        if var.ndim:
            encoding[name]["chunks"] = chunks
    first = ds[TIME].values[0]
    calendar = getattr(first, "calendar", "proleptic_gregorian")
    encoding[TIME].update(
        {"units": f"days since {first.isoformat()}", "calendar": calendar, "dtype": "float64"}
    )
    with atomic_directory(path, replace=True) as tmp:
        _chunked(ds).to_zarr(tmp, mode="w", encoding=encoding, write_empty_chunks=True,
                             **_ZARR_KW)
    return path


def _with_schema_attrs(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs["schema"] = SCHEMA_NAME
    ds.attrs["schema_version"] = SCHEMA_VERSION
    if "time_range" not in ds.attrs and TIME in ds.variables and ds.sizes.get(TIME):
        times = ds[TIME].values
        ds.attrs["time_range"] = [_iso(times[0]), _iso(times[-1])]
    for name, var in ds.variables.items():
        spec = VARIABLES.get(str(name))
        if spec is None:
            continue
        var.attrs.setdefault("long_name", spec.long_name)
        if spec.is_data:
            var.attrs.setdefault("role", spec.role)
        elif spec.units is None and name != TIME:
            var.attrs.setdefault("units", "1")
    return ds


def _iso(value) -> str:
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, unit="s"))
    return value.isoformat()


def _chunked(ds: xr.Dataset) -> xr.Dataset:
    """Dask-backed data rechunked to the store's chunks (numpy data left alone)."""
    if not any(v.chunks for v in ds.variables.values()):
        return ds
    return ds.chunk({d: (1 if d == TIME else -1) for d in ds.dims})
