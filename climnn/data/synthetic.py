"""Small synthetic source files with the real names, dims and units, for tests,
benchmarks and demos on machines without the real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr


def hybrid_levels(nlev: int, p0: float = 1e5) -> dict[str, np.ndarray]:
    """Hybrid coefficients of a made-up column; hya* scaled for reference pressure p0."""
    interfaces = np.linspace(0.0, 1.0, nlev + 1)
    hyai = 0.1 * (1.0 - interfaces) * interfaces * 1e5 / p0
    hybi = interfaces**2
    return {"hyai": hyai, "hybi": hybi, "hyam": 0.5 * (hyai[1:] + hyai[:-1]),
            "hybm": 0.5 * (hybi[1:] + hybi[:-1])}


def spcam_file(path: Path, first_step: int, seed: int, ntime: int = 2, nlat: int = 4,
               nlon: int = 8, nlev: int = 5, **units) -> Path:
    """An SPCAM aquaplanet file as CBRAIN preprocesses it: (time, lev, lat, lon), random
    but physical values; ``units`` overrides a variable's units attribute."""
    rng = np.random.default_rng(seed)
    lat = np.linspace(-60.0, 60.0, nlat)
    lon = np.arange(nlon) * 360.0 / nlon
    gw = np.cos(np.deg2rad(lat)) * 0.7

    def profile(mean, spread, unit):
        data = mean + spread * rng.standard_normal((ntime, nlev, nlat, nlon))
        return (("time", "lev", "lat", "lon"), data.astype(np.float32), {"units": unit})

    def surface(mean, spread, unit):
        data = mean + spread * rng.standard_normal((ntime, nlat, nlon))
        return (("time", "lat", "lon"), data.astype(np.float32), {"units": unit})

    levels = hybrid_levels(nlev)
    variables = {
        "TBP": profile(250.0, 20.0, "K"), "QBP": profile(5e-3, 1e-3, "kg/kg"),
        "UBP": profile(5.0, 10.0, "m/s"), "VBP": profile(0.0, 5.0, "m/s"),
        "PS": surface(1e5, 800.0, "Pa"), "SOLIN": surface(400.0, 100.0, "W/m2"),
        "SHFLX": surface(15.0, 5.0, "W/m2"), "LHFLX": surface(100.0, 20.0, "W/m2"),
        "TPHYSTND": profile(0.0, 1e-4, "K/s"), "PHQ": profile(0.0, 1e-8, "kg/kg/s"),
        "FSNT": surface(300.0, 50.0, "W/m2"), "FSNS": surface(200.0, 50.0, "W/m2"),
        "FLNT": surface(240.0, 20.0, "W/m2"), "FLNS": surface(60.0, 10.0, "W/m2"),
        "PRECT": surface(4e-8, 1e-8, "m/s"),
        "hyam": ("lev", levels["hyam"]), "hybm": ("lev", levels["hybm"]),
        "hyai": ("ilev", levels["hyai"]), "hybi": ("ilev", levels["hybi"]),
        "P0": ((), 1e5, {"units": "Pa"}), "gw": ("lat", gw),
    }
    for name, unit in units.items():
        variables[name][2]["units"] = unit
    times = (first_step + np.arange(ntime)) / 48.0
    coords = {
        "time": ("time", times, {"units": "days since 0000-01-01 00:00:00", "calendar": "noleap"}),
        "lat": ("lat", lat, {"units": "degrees_north"}),
        "lon": ("lon", lon, {"units": "degrees_east"}),
    }
    xr.Dataset(variables, coords=coords).to_netcdf(path)
    return path
