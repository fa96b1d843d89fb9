"""Small synthetic source files with the real names, dims and units, for tests,
benchmarks and demos on machines without the real data.

Inputs are random but physical. Outputs are not noise: they follow a made-up column
physics (:func:`made_up_physics`), a fixed function of the inputs plus 2 % noise, so that a
network trained on a converted store has something to learn, as it has on real data:

- temperature relaxes to 250 K in a day; humidity above 5 g/kg condenses in 3 hours and
  heats the layer by Lv/cp times the condensation rate: TPHYSTND = -(T - 250)/1 d +
  Lv/cp C, PHQ = -C with C = max(Q - 5e-3, 0) / 3 h;
- the condensate falls out: PRECT = sum_k C_k dp_k / g (kg m-2 s-1);
- the winds relax to rest in a day (UPHYS, VPHYS);
- FSNT = 0.7 SOLIN, FSNS = FSNT (1 - 40 mean_k Q), FLNT = 240 + 2 (mean_k T - 250),
  FLNS = 60 + 0.5 (T_bottom - 250) + 0.2 (SHFLX - 15), in W m-2.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from gcm.constants import CP, GRAVITY, LV

T_REFERENCE = 250.0  # K, temperature the made-up physics relaxes to
Q_CONDENSING = 5e-3  # kg kg-1, humidity above which the made-up physics condenses
RELAXATION_TIME = 86400.0  # s, of temperature and winds
CONDENSATION_TIME = 10800.0  # s
NOISE = 0.02  # noise added to each output, a fraction of the output's standard deviation


def hybrid_levels(nlev: int, p0: float = 1e5) -> dict[str, np.ndarray]:
    """Hybrid coefficients of a made-up column; hya* scaled for reference pressure p0."""
    interfaces = np.linspace(0.0, 1.0, nlev + 1)
    hyai = 0.1 * (1.0 - interfaces) * interfaces * 1e5 / p0
    hybi = interfaces**2
    return {"hyai": hyai, "hybi": hybi, "hyam": 0.5 * (hyai[1:] + hyai[:-1]),
            "hybm": 0.5 * (hybi[1:] + hybi[:-1])}


def made_up_physics(inputs: dict[str, np.ndarray], rng: np.random.Generator,
                    p0: float = 1e5) -> dict[str, np.ndarray]:
    """Outputs of the made-up column physics of this module's docstring, float64, SI.

    inputs : T (K), Q (kg kg-1), U, V (m s-1) as (..., nlev) with level 0 at the top, and
        PS (Pa), SOLIN, SHFLX (W m-2) as (...); levels are :func:`hybrid_levels` (nlev)
    rng : draws the noise, NOISE x each output's standard deviation
    Returns TPHYSTND (K s-1), PHQ (kg kg-1 s-1), UPHYS, VPHYS (m s-2) as (..., nlev) and
    PRECT (kg m-2 s-1), FSNT, FSNS, FLNT, FLNS (W m-2) as (...).
    """
    t, q, ps = (np.asarray(inputs[n], dtype=np.float64) for n in ("T", "Q", "PS"))
    levels = hybrid_levels(t.shape[-1], p0)
    dp = np.diff(levels["hyai"]) * p0 + np.diff(levels["hybi"]) * ps[..., np.newaxis]
    condensation = np.maximum(q - Q_CONDENSING, 0.0) / CONDENSATION_TIME
    fsnt = 0.7 * inputs["SOLIN"]
    clean = {
        "TPHYSTND": -(t - T_REFERENCE) / RELAXATION_TIME + LV / CP * condensation,
        "PHQ": -condensation,
        "UPHYS": -np.asarray(inputs["U"], dtype=np.float64) / RELAXATION_TIME,
        "VPHYS": -np.asarray(inputs["V"], dtype=np.float64) / RELAXATION_TIME,
        "PRECT": np.sum(condensation * dp, axis=-1) / GRAVITY,
        "FSNT": fsnt,
        "FSNS": fsnt * (1.0 - 40.0 * q.mean(axis=-1)),
        "FLNT": 240.0 + 2.0 * (t.mean(axis=-1) - T_REFERENCE),
        "FLNS": 60.0 + 0.5 * (t[..., -1] - T_REFERENCE) + 0.2 * (inputs["SHFLX"] - 15.0),
    }
    return {name: value + NOISE * np.std(value) * rng.standard_normal(value.shape)
            for name, value in clean.items()}


def spcam_file(path: Path, first_step: int, seed: int, ntime: int = 2, nlat: int = 4,
               nlon: int = 8, nlev: int = 5, **units) -> Path:
    """An SPCAM aquaplanet file as CBRAIN preprocesses it: (time, lev, lat, lon), random
    but physical inputs, outputs of :func:`made_up_physics`; ``units`` overrides a
    variable's units attribute."""
    rng = np.random.default_rng(seed)
    lat = np.linspace(-60.0, 60.0, nlat)
    lon = np.arange(nlon) * 360.0 / nlon
    gw = np.cos(np.deg2rad(lat)) * 0.7
    prof, surf = ("time", "lev", "lat", "lon"), ("time", "lat", "lon")

    def draw(mean, spread, levels=True):
        shape = (ntime, nlat, nlon, nlev) if levels else (ntime, nlat, nlon)
        return mean + spread * rng.standard_normal(shape)  # lev last, as made_up_physics

    inputs = {"T": draw(250.0, 20.0), "Q": draw(5e-3, 1e-3), "U": draw(5.0, 10.0),
              "V": draw(0.0, 5.0), "PS": draw(1e5, 800.0, False),
              "SOLIN": draw(400.0, 100.0, False), "SHFLX": draw(15.0, 5.0, False),
              "LHFLX": draw(100.0, 20.0, False)}
    outputs = made_up_physics(inputs, rng)
    outputs["PRECT"] = outputs["PRECT"] / 1000.0  # kg m-2 s-1 -> m s-1 of liquid water

    def variable(value, unit):
        if value.ndim == 4:
            return prof, np.moveaxis(value, -1, 1).astype(np.float32), {"units": unit}
        return surf, value.astype(np.float32), {"units": unit}

    source_names = {"T": "TBP", "Q": "QBP", "U": "UBP", "V": "VBP"}
    source_units = {"T": "K", "Q": "kg/kg", "U": "m/s", "V": "m/s", "PS": "Pa",
                    "TPHYSTND": "K/s", "PHQ": "kg/kg/s", "PRECT": "m/s"}
    variables = {source_names.get(n, n): variable(v, source_units.get(n, "W/m2"))
                 for n, v in {**inputs, **outputs}.items() if n not in ("UPHYS", "VPHYS")}
    levels = hybrid_levels(nlev)
    variables.update({
        "hyam": ("lev", levels["hyam"]), "hybm": ("lev", levels["hybm"]),
        "hyai": ("ilev", levels["hyai"]), "hybi": ("ilev", levels["hybi"]),
        "P0": ((), 1e5, {"units": "Pa"}), "gw": ("lat", gw),
    })
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


def climsim_grid_info(path: Path, ncol: int, nlev: int, p0: float = 1e5) -> Path:
    """A ClimSim grid-info file (``ClimSim_low-res_grid-info.nc``): hybrid coefficients of
    :func:`hybrid_levels`, P0, and random column positions and areas (sr) on ``ncol``."""
    rng = np.random.default_rng(0)
    levels = hybrid_levels(nlev, p0)
    xr.Dataset({
        "hyam": ("lev", levels["hyam"]), "hybm": ("lev", levels["hybm"]),
        "hyai": ("ilev", levels["hyai"]), "hybi": ("ilev", levels["hybi"]),
        "P0": ((), p0, {"units": "Pa"}),
        "lat": ("ncol", rng.uniform(-80, 80, ncol), {"units": "degrees_north"}),
        "lon": ("ncol", rng.uniform(0, 360, ncol), {"units": "degrees_east"}),
        "area": ("ncol", rng.uniform(0.5, 1.5, ncol) * 4 * np.pi / ncol, {"units": "sr"}),
    }).to_netcdf(path)
    return path


def climsim_pair(directory: Path, stamp: str, seed: int, ncol: int, nlev: int,
                 nlev_mlo: int | None = None) -> tuple[Path, Path]:
    """Write ``E3SM-MMF.mli.<stamp>.nc`` and ``E3SM-MMF.mlo.<stamp>.nc`` into ``directory``
    and return their paths: profiles on (lev, ncol) as E3SM writes them, random inputs, and
    an mlo state that is the mli state plus 1200 s of :func:`made_up_physics`.

    nlev_mlo : levels of the mlo profiles; fewer than ``nlev`` (the top ones are kept)
        makes a broken pair, for tests of the converter's checks
    """
    rng = np.random.default_rng(seed)

    def draw(mean, spread, levels=True):
        return mean + spread * rng.standard_normal((ncol, nlev) if levels else ncol)

    inputs = {"T": draw(250.0, 20.0), "Q": draw(5e-3, 1e-3), "U": draw(5.0, 10.0),
              "V": draw(0.0, 5.0), "PS": draw(1e5, 800.0, False),
              "SOLIN": draw(400.0, 100.0, False), "LHFLX": draw(100.0, 20.0, False),
              "SHFLX": draw(15.0, 5.0, False)}
    outputs = made_up_physics(inputs, rng)
    lwup = draw(450.0, 20.0, False)
    nlev_mlo = nlev if nlev_mlo is None else nlev_mlo

    def profile(values, units, levels=nlev):
        return ("lev", "ncol"), values.T[:levels], {"units": units}

    def after(name, tendency, units):
        return profile(inputs[name] + 1200.0 * outputs[tendency], units, nlev_mlo)

    def surface(values, units):
        return "ncol", values, {"units": units}

    mli = xr.Dataset({
        "state_t": profile(inputs["T"], "K"), "state_q0001": profile(inputs["Q"], "kg/kg"),
        "state_u": profile(inputs["U"], "m/s"), "state_v": profile(inputs["V"], "m/s"),
        "state_ps": surface(inputs["PS"], "Pa"), "pbuf_SOLIN": surface(inputs["SOLIN"], "W/m2"),
        "pbuf_LHFLX": surface(inputs["LHFLX"], "W/m2"),
        "pbuf_SHFLX": surface(inputs["SHFLX"], "W/m2"), "cam_in_LWUP": surface(lwup, "W/m2"),
    })
    mlo = xr.Dataset({
        "state_t": after("T", "TPHYSTND", "K"), "state_q0001": after("Q", "PHQ", "kg/kg"),
        "state_u": after("U", "UPHYS", "m/s"), "state_v": after("V", "VPHYS", "m/s"),
        "cam_out_NETSW": surface(outputs["FSNS"], "W/m2"),
        "cam_out_FLWDS": surface(lwup - outputs["FLNS"], "W/m2"),
        "cam_out_PRECSC": surface(0.01 * outputs["PRECT"] / 1000.0, "m/s"),
        "cam_out_PRECC": surface(outputs["PRECT"] / 1000.0, "m/s"),
        "cam_out_SOLS": surface(draw(60.0, 10.0, False), "W/m2"),
        "cam_out_SOLL": surface(draw(60.0, 10.0, False), "W/m2"),
        "cam_out_SOLSD": surface(draw(30.0, 10.0, False), "W/m2"),
        "cam_out_SOLLD": surface(draw(30.0, 10.0, False), "W/m2"),
    })
    mli_path = Path(directory) / f"E3SM-MMF.mli.{stamp}.nc"
    mlo_path = Path(directory) / f"E3SM-MMF.mlo.{stamp}.nc"
    mli.to_netcdf(mli_path)
    mlo.to_netcdf(mlo_path)
    return mli_path, mlo_path
