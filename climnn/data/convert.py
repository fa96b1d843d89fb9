"""Converters from published column-physics datasets to the climnn column schema (v1).

Two sources, each written file by file (appended along ``time``) into one zarr v3 store:

- ClimSim low-resolution E3SM-MMF data (Yu et al. 2023, "ClimSim: A large multi-scale
  dataset for hybrid physics-ML climate emulation"): one pair of netCDF files per 20-minute
  step, ``E3SM-MMF.mli.YYYY-MM-DD-SSSSS.nc`` (state before physics) and
  ``E3SM-MMF.mlo.YYYY-MM-DD-SSSSS.nc`` (state after physics plus ``cam_out_*`` surface
  fields), on the unstructured ``ncol`` grid with ``lev`` = 60 levels (index 0 = top).
  Tendencies are (mlo - mli) / 1200 s as in ClimSim's own ``data_utils``.
- CBRAIN-CAM / SPCAM3 aquaplanet files (Rasp, Pritchard & Gentine 2018, PNAS): variables
  on (time, lev, lat, lon) with the state before physics (TBP, QBP, VBP [, UBP]) and the
  physics outputs (TPHYSTND, PHQ, FSNT, FSNS, FLNT, FLNS, PRECT).

Mapping to the schema (names and units of the right-hand side are the source's):

============  ======================================  ========================================
schema        ClimSim (mli / mlo)                     CBRAIN / SPCAM
============  ======================================  ========================================
T, Q          mli state_t, state_q0001                TBP, QBP
U, V          mli state_u, state_v                    UBP (optional), VBP
PS, SOLIN     mli state_ps, pbuf_SOLIN                PS, SOLIN
SHFLX, LHFLX  mli pbuf_SHFLX, pbuf_LHFLX              SHFLX, LHFLX
TPHYSTND      (mlo state_t - mli state_t) / 1200      TPHYSTND
PHQ           (mlo state_q0001 - mli ...) / 1200      PHQ
UPHYS, VPHYS  (mlo state_u/v - mli state_u/v) / 1200  (absent)
PRECT         1000 * mlo cam_out_PRECC                1000 * PRECT
FSNS          mlo cam_out_NETSW                       FSNS
FLNS          mli cam_in_LWUP - mlo cam_out_FLWDS     FLNS
              (only if cam_in_LWUP is in the mli)
FSNT, FLNT    (absent: no TOA fluxes in ClimSim)      FSNT, FLNT
SST           (absent)                                (absent)
============  ======================================  ========================================

ClimSim's ``cam_out_PRECC`` is the total (liquid + ice) precipitation of the MMF: in
CAM/E3SM ``precsc`` is the snow part of ``precc`` (the coupler's rain is precc - precsc, and
precsc is clipped to precc), and the MMF puts all its precipitation in the convective
fields. So PRECT = PRECC, not PRECC + PRECSC. A density of 1000 kg m-3 converts the
liquid-water-equivalent m s-1 to kg m-2 s-1.

Public API: :func:`convert_climsim`, :func:`convert_cbrain`. Both validate every input
file's names, dimensions, units and levels before writing anything, write to
``<out>.partial`` and rename it to ``out`` only when complete.
"""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cftime
import numpy as np
import xarray as xr

from climnn.data.schema import P0, VARIABLES, DatasetError, validate_store, write_store
from gcm.io.atomic import publish_directory

__all__ = ["convert_climsim", "convert_cbrain", "CLIMSIM_TIMESTEP", "WATER_DENSITY"]

CLIMSIM_TIMESTEP = 1200.0  # s, E3SM-MMF low-res step; ClimSim's tendency divisor
SPCAM_TIMESTEP = 1800.0  # s, SPCAM3 aquaplanet step (used only if files hold one time each)
WATER_DENSITY = 1000.0  # kg m-3, liquid-water-equivalent m s-1 -> kg m-2 s-1
_BLOCK_VALUES = 2**24  # values of one profile per time block read from a CBRAIN file
_WRITE_BYTES = 64 * 2**20  # data buffered before one append to the store
_CLIMSIM_NAME = re.compile(
    r"^E3SM-MMF\.(?P<kind>ml[io])\.(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})-(?P<s>\d{5})\.nc$"
)

# --------------------------------------------------------------------------- errors


def _fail(path: Path | str | None, message: str) -> DatasetError:
    where = f"{path}: " if path is not None else ""
    return DatasetError(where + message)


def _check_finite(path: Path, name: str, values: np.ndarray, dims: Sequence[str],
                  offsets: dict[str, int] | None = None) -> None:
    """Raise naming the input file, the variable and the index (in the file: ``offsets``
    are added, e.g. the first time of a block) of the first NaN/inf in ``values``."""
    if np.isfinite(values).all():
        return
    index = np.argwhere(~np.isfinite(values))[0]
    value = values[tuple(index)]
    where = ", ".join(f"{d}={int(i) + (offsets or {}).get(d, 0)}"
                      for d, i in zip(dims, index, strict=True))
    kind = "NaN" if np.isnan(value) else str(value)
    raise _fail(path, f"variable {name} holds {kind} at index ({where}); the schema "
                "allows finite values only")


# --------------------------------------------------------------------------- units


def canonical_units(units: str) -> str:
    """Units string in the schema's spelling: 'kg/kg/s' -> 'kg kg-1 s-1', 'W/m2' -> 'W m-2',
    'm/s' -> 'm s-1'; strings already in that form come back unchanged."""
    text = units.strip().replace("**", "").replace("^", "")
    parts = [p.strip() for p in text.split("/")]
    tokens = parts[0].split()
    for denominator in parts[1:]:
        for token in denominator.split():
            match = re.fullmatch(r"([A-Za-z]+)(-?\d*)", token)
            if match is None:
                tokens.append(token)
                continue
            symbol, power = match.groups()
            exponent = -int(power) if power else -1
            tokens.append(f"{symbol}{exponent}")
    return " ".join(tokens)


def _check_units(path: Path, name: str, da: xr.DataArray, expected: str, assumed: set[str]) -> None:
    """Raise naming file and variable when ``da`` has a units attribute other than
    ``expected`` (schema spelling). A missing attribute is accepted: one warning per
    variable name (recorded in ``assumed``) per conversion."""
    found = da.attrs.get("units")
    if found is None:
        if name not in assumed:
            assumed.add(name)
            warnings.warn(
                f"{path}: variable {name} has no units attribute; assuming {expected!r}",
                stacklevel=3,
            )
        return
    if canonical_units(str(found)) != expected:
        raise _fail(path, f"variable {name} has units {found!r}, expected {expected!r}")


# --------------------------------------------------------------------------- helpers


@dataclass
class _Geometry:
    """Horizontal and vertical geometry of a dataset, in schema form."""

    lat: np.ndarray  # (column,) degrees_north
    lon: np.ndarray  # (column,) degrees_east
    area: np.ndarray  # (column,) fraction of the sphere, sums to 1
    hyam: np.ndarray  # (lev,)
    hybm: np.ndarray
    hyai: np.ndarray  # (ilev,)
    hybi: np.ndarray

    @property
    def nlev(self) -> int:
        return self.hyam.size

    @property
    def ncol(self) -> int:
        return self.lat.size


def _open(path: Path) -> xr.Dataset:
    if not path.is_file():
        raise _fail(path, "input file does not exist")
    try:
        return xr.open_dataset(
            path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True), cache=False
        )
    except Exception as exc:  # netCDF4 / HDF5 errors differ by version
        raise _fail(path, f"cannot be opened as netCDF ({exc})") from exc


def _require(path: Path, ds: xr.Dataset, names: Iterable[str]) -> None:
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise _fail(path, f"missing variable(s) {', '.join(missing)}")


def _level_coefficients(
    source: Path, ds: xr.Dataset, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """hyam, hybm, hyai, hybi of ``ds`` rescaled so that p = hya*·1e5 Pa + hyb*·PS."""
    names = ["hyam", "hybm", "hyai", "hybi"]
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise _fail(source, f"{what} lacks level coefficient(s) {', '.join(missing)}")
    coefficients = [np.asarray(ds[n].values, dtype=np.float64).reshape(-1) for n in names]
    if "P0" in ds.variables:
        p0 = float(np.asarray(ds["P0"].values).reshape(-1)[0])
        coefficients[0] = coefficients[0] * p0 / P0
        coefficients[2] = coefficients[2] * p0 / P0
    hyam, hybm, hyai, hybi = coefficients
    if hyai.size != hyam.size + 1 or hybm.size != hyam.size or hybi.size != hyai.size:
        raise _fail(
            source,
            f"level coefficients have inconsistent sizes hyam {hyam.size}, hybm {hybm.size}, "
            f"hyai {hyai.size}, hybi {hybi.size}",
        )
    return hyam, hybm, hyai, hybi


def _same_levels(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-10, atol=1e-12)


def _normalized(area: np.ndarray, source: Path | str) -> np.ndarray:
    area = np.asarray(area, dtype=np.float64)
    total = area.sum()
    if not np.isfinite(total) or total <= 0 or np.any(area < 0):
        raise _fail(source, "area weights must be non-negative with a positive sum")
    return area / total


def _variable(name: str, dims: tuple[str, ...], data: np.ndarray) -> xr.Variable:
    spec = VARIABLES[name]
    return xr.Variable(
        dims, data, {"units": spec.units, "long_name": spec.long_name, "role": spec.role}
    )


def _geometry_variables(geometry: _Geometry) -> dict[str, xr.Variable]:
    return {
        "lat": xr.Variable(
            "column", geometry.lat, {"units": "degrees_north", "long_name": "latitude"}
        ),
        "lon": xr.Variable(
            "column", geometry.lon, {"units": "degrees_east", "long_name": "longitude"}
        ),
        "area": xr.Variable(
            "column", geometry.area, {"units": "1", "long_name": "fraction of the sphere"}
        ),
        "hyam": xr.Variable(
            "lev", geometry.hyam, {"units": "1", "long_name": "hybrid A coefficient at midpoints"}
        ),
        "hybm": xr.Variable(
            "lev", geometry.hybm, {"units": "1", "long_name": "hybrid B coefficient at midpoints"}
        ),
        "hyai": xr.Variable(
            "ilev", geometry.hyai, {"units": "1", "long_name": "hybrid A coefficient at interfaces"}
        ),
        "hybi": xr.Variable(
            "ilev", geometry.hybi, {"units": "1", "long_name": "hybrid B coefficient at interfaces"}
        ),
        "P0": xr.Variable((), np.float64(P0), {"units": "Pa", "long_name": "reference pressure"}),
    }


def _block_dataset(
    times: Sequence[cftime.datetime],
    fields: dict[str, np.ndarray],
    geometry: _Geometry,
) -> xr.Dataset:
    """Schema dataset of one block of time steps; profiles (time, column, lev), surface
    fields (time, column)."""
    data_vars = {}
    for name, array in fields.items():
        data_vars[name] = _variable(name, VARIABLES[name].dims, array)
    coords = {"time": xr.Variable("time", np.asarray(times, dtype=object), {"long_name": "time"})}
    coords.update(_geometry_variables(geometry))
    return xr.Dataset(data_vars, coords=coords)


# --------------------------------------------------------------------------- store writing


class _StoreWriter:
    """Buffers blocks of time steps and appends them to ``<out>.partial`` with
    :func:`write_store` (about ``write_bytes`` a write, so the per-append validation of the
    store stays cheap); :meth:`finish` validates the store and renames it to ``out``.

    attrs : the group's provenance attributes (time_range is kept up to date by write_store)
    require_outputs : False when the source lacks some required outputs (ClimSim)
    client : optional dask.distributed client on which dask-backed blocks are computed
    """

    def __init__(
        self,
        out: Path,
        overwrite: bool,
        attrs: dict,
        require_outputs: bool = True,
        client=None,
        write_bytes: int | None = None,
    ):
        self.out = Path(out)
        if self.out.exists() and not overwrite:
            raise FileExistsError(f"{self.out} exists; pass overwrite=True to replace it")
        self.partial = self.out.with_name(self.out.name + ".partial")
        if self.partial.exists():
            shutil.rmtree(self.partial)
        self.attrs = attrs
        self.require_outputs = require_outputs
        self.client = client
        self.write_bytes = _WRITE_BYTES if write_bytes is None else write_bytes
        self.buffer: list[xr.Dataset] = []
        self.buffered_bytes = 0
        self.last_time: cftime.datetime | None = None
        self.written = False

    def append(self, block: xr.Dataset) -> None:
        if self.client is not None and any(v.chunks for v in block.variables.values()):
            block = self.client.compute(block).result()
        times = block["time"].values
        if self.last_time is not None and not times[0] > self.last_time:
            raise _fail(self.inputs(), f"time {times[0]} does not follow {self.last_time}")
        self.last_time = times[-1]
        self.buffer.append(block)
        self.buffered_bytes += sum(v.nbytes for v in block.data_vars.values())
        if self.buffered_bytes >= self.write_bytes:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        if len(self.buffer) == 1:
            ds = self.buffer[0]
        else:
            ds = xr.concat(
                self.buffer,
                "time",
                data_vars="minimal",
                coords="minimal",
                compat="override",
                join="override",
            )
        ds.attrs = dict(self.attrs)
        mode = "a" if self.written else "w-"
        write_store(ds, self.partial, mode, require_outputs=self.require_outputs)
        self.written = True
        self.buffer, self.buffered_bytes = [], 0

    def finish(self) -> Path:
        self.flush()
        if not self.written:
            raise _fail(self.inputs(), "no time steps to write")
        try:
            validate_store(self.partial, self.require_outputs)
        except DatasetError as err:  # name what the user gave, not the temporary store
            message = str(err).replace(str(self.partial), str(self.out))
            raise _fail(self.inputs(), f"converting to {message}") from None
        return publish_directory(self.partial, self.out, replace=True)

    def inputs(self) -> str:
        """The input files, for messages."""
        files = self.attrs.get("source_files", [])
        return ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")

    def abandon(self) -> None:
        if self.partial.exists():
            shutil.rmtree(self.partial, ignore_errors=True)


def _provenance(
    source_model: str, files: Sequence[Path], resolution: str, timestep: float, convention: str
) -> dict:
    return {
        "source_model": source_model,
        "source_files": [str(f) for f in files],
        "config_hash": "",
        "resolution": resolution,
        "timestep_seconds": float(timestep),
        "surface_flux_convention": convention,
    }


def _run(writer: _StoreWriter, blocks: Iterable[xr.Dataset]) -> Path:
    try:
        for block in blocks:
            writer.append(block)
        return writer.finish()
    except BaseException:
        writer.abandon()
        raise


# --------------------------------------------------------------------------- ClimSim

def _units_of(name: str) -> str:
    """Units a source variable must have: those of schema variable ``name`` it becomes."""
    return VARIABLES[name].units


# Expected units of each source variable; the schema's, except precipitation, which the
# sources give as liquid-water-equivalent m s-1 (times WATER_DENSITY gives PRECT).
_SOURCE_PRECIPITATION_UNITS = "m s-1"
_CLIMSIM_MLI_UNITS = {
    "state_t": _units_of("T"),
    "state_q0001": _units_of("Q"),
    "state_u": _units_of("U"),
    "state_v": _units_of("V"),
    "state_ps": _units_of("PS"),
    "pbuf_SOLIN": _units_of("SOLIN"),
    "pbuf_LHFLX": _units_of("LHFLX"),
    "pbuf_SHFLX": _units_of("SHFLX"),
}
_CLIMSIM_MLO_UNITS = {
    "state_t": _units_of("T"),
    "state_q0001": _units_of("Q"),
    "cam_out_NETSW": _units_of("FSNS"),
    "cam_out_FLWDS": _units_of("FLNS"),
    "cam_out_PRECC": _SOURCE_PRECIPITATION_UNITS,
}
_CLIMSIM_OPTIONAL_UNITS = {
    "cam_in_LWUP": _units_of("FLNS"),  # mli: makes FLNS = LWUP - FLWDS
    "state_u": _units_of("U"),  # mlo: makes UPHYS
    "state_v": _units_of("V"),  # mlo: makes VPHYS
}


def _climsim_time(path: Path) -> tuple[str, cftime.DatetimeNoLeap]:
    match = _CLIMSIM_NAME.match(path.name)
    if match is None:
        raise _fail(
            path, "file name is not E3SM-MMF.mli.YYYY-MM-DD-SSSSS.nc or E3SM-MMF.mlo.(same)"
        )
    seconds = int(match["s"])
    try:
        time = cftime.DatetimeNoLeap(
            int(match["y"]),
            int(match["m"]),
            int(match["d"]),
            seconds // 3600,
            (seconds % 3600) // 60,
            seconds % 60,
        )
    except ValueError as exc:
        raise _fail(path, f"file name holds an invalid noleap date ({exc})") from exc
    return match["kind"], time


def _pair_climsim(inputs: Sequence[Path]) -> list[tuple[cftime.DatetimeNoLeap, Path, Path]]:
    """(time, mli, mlo) sorted by time. mli files may be given alone (their mlo partner is
    looked for beside them) or together with their mlo files."""
    mli: dict[cftime.DatetimeNoLeap, Path] = {}
    mlo: dict[cftime.DatetimeNoLeap, Path] = {}
    for path in map(Path, inputs):
        kind, time = _climsim_time(path)
        table = mli if kind == "mli" else mlo
        if time in table:
            raise _fail(path, f"duplicate {kind} file for {time.isoformat()} (also {table[time]})")
        table[time] = path
    for time, path in mlo.items():
        if time not in mli:
            raise _fail(path, "mlo file without its mli partner among the inputs")
    pairs = []
    for time in sorted(mli):
        partner = mlo.get(time, mli[time].with_name(mli[time].name.replace(".mli.", ".mlo.")))
        if not partner.is_file():
            raise _fail(mli[time], f"mli file without its mlo partner ({partner} not found)")
        pairs.append((time, mli[time], partner))
    if not pairs:
        raise _fail(None, "no ClimSim mli files among the inputs")
    return pairs


def _climsim_geometry(grid_info: Path | None, first_mli: Path) -> _Geometry:
    source = Path(grid_info) if grid_info is not None else first_mli
    what = "grid-info file" if grid_info is not None else "mli file (no grid-info file given)"
    with _open(source) as ds:
        hyam, hybm, hyai, hybi = _level_coefficients(source, ds, what)
        missing = [n for n in ("lat", "lon", "area") if n not in ds.variables]
        if missing:
            raise _fail(source, f"{what} lacks {', '.join(missing)}")
        lat = np.asarray(ds["lat"].values, dtype=np.float64).reshape(-1)
        lon = np.asarray(ds["lon"].values, dtype=np.float64).reshape(-1)
        area = _normalized(np.asarray(ds["area"].values).reshape(-1), source)
    if not lat.size == lon.size == area.size:
        raise _fail(source, f"lat, lon, area sizes differ ({lat.size}, {lon.size}, {area.size})")
    return _Geometry(lat, lon, area, hyam, hybm, hyai, hybi)


def _climsim_field(
    path: Path, ds: xr.Dataset, name: str, geometry: _Geometry, load: bool = True
) -> np.ndarray | None:
    """Variable as (ncol, lev) or (ncol,), whatever the order of its dims in the file."""
    da = ds[name]
    if "time" in da.dims:
        if da.sizes["time"] != 1:
            raise _fail(path, f"variable {name} has {da.sizes['time']} times, expected one")
        da = da.isel(time=0)
    if "lev" in da.dims:
        expected = {"ncol": geometry.ncol, "lev": geometry.nlev}
        order = ("ncol", "lev")
    else:
        expected = {"ncol": geometry.ncol}
        order = ("ncol",)
    if set(da.dims) != set(expected):
        raise _fail(path, f"variable {name} has dims {da.dims}, expected {order}")
    for dim, size in expected.items():
        if da.sizes[dim] != size:
            what = "levels" if dim == "lev" else "columns"
            raise _fail(
                path,
                f"variable {name} has {da.sizes[dim]} {what}, expected {size} "
                "(from the grid information)",
            )
    if not load:
        return None
    values = np.asarray(da.transpose(*order).values)
    _check_finite(path, name, values, order)
    return values


def _check_climsim_pair(
    mli_path: Path, mlo_path: Path, geometry: _Geometry, assumed: set[str]
) -> tuple[bool, bool]:
    """Validate one pair's variables, units and shapes; return (has LWUP, has mlo winds)."""
    with _open(mli_path) as mli, _open(mlo_path) as mlo:
        _require(mli_path, mli, _CLIMSIM_MLI_UNITS)
        _require(mlo_path, mlo, _CLIMSIM_MLO_UNITS)
        has_lwup = "cam_in_LWUP" in mli.variables
        has_winds = "state_u" in mlo.variables and "state_v" in mlo.variables
        checks = [(mli_path, mli, _CLIMSIM_MLI_UNITS), (mlo_path, mlo, _CLIMSIM_MLO_UNITS)]
        if has_lwup:
            checks.append((mli_path, mli, {"cam_in_LWUP": "W m-2"}))
        if has_winds:
            checks.append((mlo_path, mlo, {"state_u": "m s-1", "state_v": "m s-1"}))
        for path, ds, table in checks:
            for name, units in table.items():
                _check_units(path, name, ds[name], units, assumed)
                _climsim_field(path, ds, name, geometry, load=False)
        for path, ds in ((mli_path, mli), (mlo_path, mlo)):
            if "hyam" in ds.variables:
                hyam, *_ = _level_coefficients(path, ds, "file")
                if not _same_levels(hyam, geometry.hyam):
                    raise _fail(path, "variable hyam differs from the grid information's")
    return has_lwup, has_winds


def _climsim_fields(
    mli_path: Path, mlo_path: Path, geometry: _Geometry, with_flns: bool, with_winds: bool
) -> dict[str, np.ndarray]:
    """Schema fields of one ClimSim step, (column, lev) profiles and (column,) surface."""
    with _open(mli_path) as mli, _open(mlo_path) as mlo:
        before = {n: _climsim_field(mli_path, mli, n, geometry) for n in _CLIMSIM_MLI_UNITS}
        after_names = ["state_t", "state_q0001", "cam_out_PRECC", "cam_out_NETSW"]
        after_names += ["state_u", "state_v"] if with_winds else []
        after_names += ["cam_out_FLWDS"] if with_flns else []
        after = {n: _climsim_field(mlo_path, mlo, n, geometry) for n in after_names}
        lwup = _climsim_field(mli_path, mli, "cam_in_LWUP", geometry) if with_flns else None

    def tendency(name: str) -> np.ndarray:
        change = after[name].astype(np.float64) - before[name]
        return (change / CLIMSIM_TIMESTEP).astype(before[name].dtype)

    fields = {
        "T": before["state_t"],
        "Q": before["state_q0001"],
        "U": before["state_u"],
        "V": before["state_v"],
        "PS": before["state_ps"],
        "SOLIN": before["pbuf_SOLIN"],
        "SHFLX": before["pbuf_SHFLX"],
        "LHFLX": before["pbuf_LHFLX"],
        "TPHYSTND": tendency("state_t"),
        "PHQ": tendency("state_q0001"),
    }
    if with_winds:
        fields["UPHYS"] = tendency("state_u")
        fields["VPHYS"] = tendency("state_v")
    precc = after["cam_out_PRECC"]
    fields["PRECT"] = precc * precc.dtype.type(WATER_DENSITY)
    fields["FSNS"] = after["cam_out_NETSW"]
    if with_flns:
        fields["FLNS"] = lwup - after["cam_out_FLWDS"]
    return fields


def _climsim_blocks(
    pairs: Sequence[tuple[cftime.DatetimeNoLeap, Path, Path]],
    geometry: _Geometry,
    with_flns: bool,
    with_winds: bool,
) -> Iterable[xr.Dataset]:
    for time, mli_path, mlo_path in pairs:
        fields = _climsim_fields(mli_path, mlo_path, geometry, with_flns, with_winds)
        yield _block_dataset([time], {k: v[np.newaxis] for k, v in fields.items()}, geometry)


def convert_climsim(
    inputs: list[Path],
    out: Path,
    grid_info: Path | None = None,
    client=None,
    overwrite: bool = False,
) -> Path:
    """Convert ClimSim low-res E3SM-MMF mli/mlo netCDF pairs to a schema-v1 zarr store.

    inputs: ``E3SM-MMF.mli.YYYY-MM-DD-SSSSS.nc`` files, optionally with their ``.mlo.``
        partners (an mli's partner not in the list is looked for beside it).
    out: the store to create; refused if it exists unless ``overwrite``.
    grid_info: ``ClimSim_low-res_grid-info.nc`` (hyam, hybm, hyai, hybi, P0, lat, lon,
        area on ``ncol``/``lev``); without it these are read from the first mli file.
    client: accepted for symmetry with :func:`convert_cbrain`; a ClimSim step (a few MB)
        is read with numpy, so nothing is sent to it.

    Times come from the file names (noleap calendar); T/Q/U/V tendencies are
    (mlo - mli) / 1200 s; PRECT = 1000 · PRECC; FSNS = NETSW; FLNS = LWUP - FLWDS when the
    mli holds cam_in_LWUP. FSNT, FLNT and SST are absent (ClimSim has no such fields).
    Returns ``out``.
    """
    out = Path(out)
    pairs = _pair_climsim(inputs)
    geometry = _climsim_geometry(grid_info, pairs[0][1])
    assumed: set[str] = set()
    flags = [_check_climsim_pair(mli, mlo, geometry, assumed) for _, mli, mlo in pairs]
    with_flns = all(f[0] for f in flags)
    with_winds = all(f[1] for f in flags)
    if len(pairs) > 1:
        steps = {(b[0] - a[0]).total_seconds() for a, b in zip(pairs[:-1], pairs[1:], strict=True)}
        if min(steps) < CLIMSIM_TIMESTEP:
            raise _fail(pairs[0][1], f"files are {min(steps)} s apart, less than one 1200 s step")
    files = [p for _, mli, mlo in pairs for p in (mli, mlo)]
    if grid_info is not None:
        files.append(Path(grid_info))
    grid = "ne4pg2" if geometry.ncol == 384 else f"{geometry.ncol} columns"
    resolution = f"{grid} L{geometry.nlev}"
    attrs = _provenance("E3SM-MMF (ClimSim)", files, resolution, CLIMSIM_TIMESTEP, "excluded")
    # FSNT and FLNT (and FLNS without cam_in_LWUP) do not exist in ClimSim: the store
    # holds a subset of the schema's outputs and is validated with require_outputs=False.
    writer = _StoreWriter(out, overwrite, attrs, require_outputs=False, client=client)
    return _run(writer, _climsim_blocks(pairs, geometry, with_flns, with_winds))


# --------------------------------------------------------------------------- CBRAIN / SPCAM

_SPCAM_SAME_NAME = ("PS", "SOLIN", "SHFLX", "LHFLX", "TPHYSTND", "PHQ")
_SPCAM_SAME_NAME += ("FSNT", "FSNS", "FLNT", "FLNS", "PRECT")
_CBRAIN_TO_SCHEMA = {"TBP": "T", "QBP": "Q", "UBP": "U", "VBP": "V"} | {
    name: name for name in _SPCAM_SAME_NAME
}


def _cbrain_units(name: str) -> tuple[str, bool]:
    """(expected units, is a profile) of CBRAIN variable ``name``."""
    target = _CBRAIN_TO_SCHEMA[name]
    units = _SOURCE_PRECIPITATION_UNITS if target == "PRECT" else _units_of(target)
    return units, VARIABLES[target].is_profile


# every CBRAIN variable but the optional UBP
_CBRAIN_UNITS = {name: _cbrain_units(name) for name in _CBRAIN_TO_SCHEMA if name != "UBP"}


@dataclass
class _CbrainFile:
    path: Path
    times: np.ndarray  # cftime objects
    calendar: str


def _cbrain_geometry(path: Path, ds: xr.Dataset) -> _Geometry:
    for name in ("lat", "lon"):
        if name not in ds.variables:
            raise _fail(path, f"missing variable {name}")
    hyam, hybm, hyai, hybi = _level_coefficients(path, ds, "file")
    lat1 = np.asarray(ds["lat"].values, dtype=np.float64)
    lon1 = np.asarray(ds["lon"].values, dtype=np.float64)
    lat = np.repeat(lat1, lon1.size)  # lat-major: column = ilat * nlon + ilon
    lon = np.tile(lon1, lat1.size)
    if "gw" in ds.variables:
        weights = np.asarray(ds["gw"].values, dtype=np.float64).reshape(-1)
        if weights.size != lat1.size:
            raise _fail(path, f"variable gw has {weights.size} values for {lat1.size} latitudes")
    else:
        weights = np.cos(np.deg2rad(lat1))
    area = _normalized(np.repeat(np.clip(weights, 0.0, None), lon1.size), path)
    return _Geometry(lat, lon, area, hyam, hybm, hyai, hybi)


def _check_cbrain_file(
    path: Path, reference: _Geometry | None, assumed: set[str]
) -> tuple[_CbrainFile, _Geometry, bool]:
    with _open(path) as ds:
        _require(path, ds, [*_CBRAIN_UNITS, "hyam", "hybm", "hyai", "hybi", "P0", "lat", "lon"])
        geometry = _cbrain_geometry(path, ds)
        if reference is not None:
            for name in ("hyam", "hybm", "hyai", "hybi"):
                if not _same_levels(getattr(geometry, name), getattr(reference, name)):
                    raise _fail(path, f"variable {name} (levels) differs from the first file's")
            for name in ("lat", "lon"):
                if not _same_levels(getattr(geometry, name), getattr(reference, name)):
                    raise _fail(path, f"variable {name} differs from the first file's")
        has_u = "UBP" in ds.variables
        table = dict(_CBRAIN_UNITS)
        if has_u:
            table["UBP"] = _cbrain_units("UBP")
        for name, (units, profile) in table.items():
            da = ds[name]
            _check_units(path, name, da, units, assumed)
            dims = ("time", "lev", "lat", "lon") if profile else ("time", "lat", "lon")
            if set(da.dims) != set(dims):
                raise _fail(path, f"variable {name} has dims {da.dims}, expected {dims}")
            if profile and da.sizes["lev"] != geometry.nlev:
                raise _fail(
                    path,
                    f"variable {name} has {da.sizes['lev']} levels, hyam has {geometry.nlev}",
                )
        if "time" not in ds.variables:
            raise _fail(path, "missing variable time")
        times = np.asarray(ds["time"].values).reshape(-1)
        if times.size == 0 or not isinstance(times[0], cftime.datetime):
            raise _fail(
                path,
                "variable time is not CF-encoded (needs units 'days since ...' and a calendar)",
            )
        calendar = times[0].calendar
    return _CbrainFile(path, times, calendar), geometry, has_u


def _cbrain_blocks(
    files: Sequence[_CbrainFile], geometry: _Geometry, with_u: bool, client
) -> Iterable[xr.Dataset]:
    names = [n for n in _CBRAIN_TO_SCHEMA if n != "UBP" or with_u]
    block = max(1, _BLOCK_VALUES // (geometry.ncol * geometry.nlev))
    for entry in files:
        with _open(entry.path) as ds:
            for start in range(0, entry.times.size, block):
                part = ds.isel(time=slice(start, start + block))
                if client is not None:
                    part = part.chunk({"time": 1})
                fields = {}
                for name in names:
                    da = part[name]
                    if "lev" in da.dims:
                        da = da.transpose("time", "lat", "lon", "lev")
                        shape = (da.sizes["time"], geometry.ncol, geometry.nlev)
                    else:
                        da = da.transpose("time", "lat", "lon")
                        shape = (da.sizes["time"], geometry.ncol)
                    if client is not None:
                        data = da.data  # checked as the store is validated
                    else:
                        data = np.asarray(da.values)
                        _check_finite(entry.path, name, data, da.dims, {"time": start})
                    data = data.reshape(shape)  # lat-major flattening of (lat, lon)
                    if name == "PRECT":
                        data = data * data.dtype.type(WATER_DENSITY)
                    fields[_CBRAIN_TO_SCHEMA[name]] = data
                yield _block_dataset(entry.times[start : start + block], fields, geometry)


def convert_cbrain(inputs: list[Path], out: Path, client=None, overwrite: bool = False) -> Path:
    """Convert CBRAIN-CAM SPCAM3 aquaplanet netCDF files to a schema-v1 zarr store.

    inputs: files with TBP, QBP, VBP [, UBP], PS, SOLIN, SHFLX, LHFLX, TPHYSTND, PHQ, FSNT,
        FSNS, FLNT, FLNS, PRECT on (time, lev, lat, lon) / (time, lat, lon), the level
        coefficients hyam, hybm, hyai, hybi, P0 and a CF-encoded time; converted in
        time order of their first step.
    out: the store to create; refused if it exists unless ``overwrite``.
    client: optional dask.distributed client on which each block's arrays are computed.

    (lat, lon) is flattened lat-major to ``column``; ``area`` is ``gw`` (or cos(lat))
    normalized to sum 1 over all columns; PRECT m s-1 is multiplied by 1000. Files without
    UBP (as in the seed paper) convert with U absent (U is optional). Returns ``out``.
    """
    out = Path(out)
    if not inputs:
        raise _fail(None, "no CBRAIN input files given")
    entries, reference, with_u = [], None, True
    assumed: set[str] = set()
    for path in map(Path, inputs):
        entry, geometry, has_u = _check_cbrain_file(path, reference, assumed)
        reference = reference or geometry
        with_u = with_u and has_u
        entries.append(entry)
    calendars = {e.calendar for e in entries}
    if len(calendars) > 1:
        raise _fail(entries[-1].path, f"variable time mixes calendars {sorted(calendars)}")
    entries.sort(key=lambda e: e.times[0])
    all_times = np.concatenate([e.times for e in entries])
    steps = [(b - a).total_seconds() for a, b in zip(all_times[:-1], all_times[1:], strict=True)]
    if steps and min(steps) <= 0:
        raise _fail(entries[0].path, "variable time is not strictly increasing across files")
    timestep = min(steps) if steps else SPCAM_TIMESTEP
    nlat = np.unique(reference.lat).size
    nlon = reference.ncol // nlat
    files = [e.path for e in entries]
    attrs = _provenance(
        "SPCAM3 (CBRAIN)", files, f"{nlat}x{nlon} L{reference.nlev}", timestep, "included"
    )
    writer = _StoreWriter(out, overwrite, attrs, client=client)
    return _run(writer, _cbrain_blocks(entries, reference, with_u, client))
