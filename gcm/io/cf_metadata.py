"""Grid-point snapshots of the model as xarray Datasets with CF-1.8 metadata.

Variable names follow CMIP short names (ua, va, ta, hus, ps, zeta); the vertical
coordinate is the CF ``atmosphere_sigma_coordinate`` with ``formula_terms`` so that
CF tools can reconstruct pressure: p(n,k,j,i) = ptop + lev(k) * (ps(n,j,i) - ptop).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

VARIABLE_ATTRS = {
    "ua": dict(standard_name="eastward_wind", long_name="eastward wind", units="m s-1"),
    "va": dict(standard_name="northward_wind", long_name="northward wind", units="m s-1"),
    "ta": dict(standard_name="air_temperature", long_name="air temperature", units="K"),
    "hus": dict(standard_name="specific_humidity", long_name="specific humidity",
                units="kg kg-1"),
    "zeta": dict(standard_name="atmosphere_relative_vorticity", long_name="relative vorticity",
                 units="s-1"),
    "ps": dict(standard_name="surface_air_pressure", long_name="surface pressure", units="Pa"),
    "pr": dict(standard_name="precipitation_flux", long_name="precipitation (interval mean)",
               units="kg m-2 s-1"),
    "hfss": dict(standard_name="surface_upward_sensible_heat_flux",
                 long_name="surface sensible heat flux (interval mean)", units="W m-2"),
    "hfls": dict(standard_name="surface_upward_latent_heat_flux",
                 long_name="surface latent heat flux (interval mean)", units="W m-2"),
    "fsnt": dict(long_name="net downward shortwave flux at the top (interval mean)",
                 units="W m-2"),
    "fsns": dict(standard_name="surface_net_downward_shortwave_flux",
                 long_name="net downward shortwave flux at the surface (interval mean)",
                 units="W m-2"),
    "flnt": dict(standard_name="toa_outgoing_longwave_flux",
                 long_name="net upward longwave flux at the top (interval mean)", units="W m-2"),
    "flns": dict(standard_name="surface_net_upward_longwave_flux",
                 long_name="net upward longwave flux at the surface (interval mean)",
                 units="W m-2"),
    "rsdt": dict(standard_name="toa_incoming_shortwave_flux",
                 long_name="top-of-atmosphere insolation (interval mean)", units="W m-2"),
    "hole_filling": dict(long_name="global-mean water moved by the humidity hole filler",
                         units="kg m-2 s-1"),
    "fixer_mass": dict(long_name="global mass fixer: dynamical-core mass error removed",
                       units="kg m-2 s-1"),
    "fixer_water": dict(long_name="global water fixer: dynamical-core water error removed",
                        units="kg m-2 s-1"),
    "fixer_energy": dict(long_name="global energy fixer: dynamical-core energy error removed",
                         units="W m-2"),
    "physics_energy_residual": dict(
        long_name="global mean of |column energy budget residual| of the physics",
        units="W m-2"),
    "physics_water_residual": dict(
        long_name="global mean of |column water budget residual| of the physics",
        units="kg m-2 s-1"),
    "atmosphere_mass": dict(long_name="global-mean atmospheric mass (mean of the two "
                            "leapfrog levels)", units="kg m-2"),
    "atmosphere_water": dict(long_name="global-mean atmospheric water", units="kg m-2"),
    "atmosphere_energy": dict(
        long_name="global-mean total energy cp T + Lv q + k + Phi_s", units="J m-2"),
    "orog": dict(standard_name="surface_geopotential", long_name="surface geopotential",
                 units="m2 s-2"),
}


def coordinates(model) -> dict[str, xr.DataArray]:
    grid, sigma = model.grid, model.sigma
    return dict(
        lat=xr.DataArray(grid.lat, dims="lat", attrs=dict(
            standard_name="latitude", long_name="latitude (Gaussian)", units="degrees_north",
            axis="Y")),
        lon=xr.DataArray(grid.lon, dims="lon", attrs=dict(
            standard_name="longitude", long_name="longitude", units="degrees_east", axis="X")),
        lev=xr.DataArray(sigma.full, dims="lev", attrs=dict(
            standard_name="atmosphere_sigma_coordinate", long_name="sigma at full levels",
            units="1", positive="down", axis="Z", formula_terms="sigma: lev ps: ps ptop: ptop",
            bounds="lev_bnds")),
    )


def snapshot_dataset(model) -> xr.Dataset:
    """The model's current state, one time (dims time, lev, lat, lon)."""
    g = model.grid_state(fill_holes=True)
    zeta = model.transform.to_grid(model.now.vorticity)
    orog = model.transform.to_grid(model.surface_geopotential)
    dims3 = ("time", "lev", "lat", "lon")
    data = {
        "ua": (dims3, g["u"][None]), "va": (dims3, g["v"][None]), "ta": (dims3, g["T"][None]),
        "hus": (dims3, g["q"][None]), "zeta": (dims3, zeta[None]),
        "ps": (("time", "lat", "lon"), g["ps"][None]),
    }
    ds = xr.Dataset(
        {name: xr.Variable(dims, values, VARIABLE_ATTRS[name]) for name, (dims, values)
         in data.items()},
        coords=coordinates(model),
    )
    _add_interval_means(ds, model)
    ds["orog"] = xr.Variable(("lat", "lon"), orog, VARIABLE_ATTRS["orog"])
    ds["ptop"] = xr.Variable((), 0.0, dict(long_name="pressure at the model top", units="Pa"))
    ds["lev_bnds"] = xr.Variable(
        ("lev", "nbnd"), np.stack([model.sigma.half[:-1], model.sigma.half[1:]], axis=1))
    ds = ds.assign_coords(time=("time", [model.time], dict(standard_name="time", axis="T")))
    ds.attrs.update(
        Conventions="CF-1.8",
        title=f"climnn gcm: {model.config.name}",
        source=(f"gcm spectral primitive-equation model T{model.grid.truncation}"
                f"L{model.sigma.nlev}, physics {model.config.physics.scheme}"),
        config_hash=model.config.digest(),
        time_step_s=model.dt,
    )
    return ds


# contract field name -> output name
OUTPUT_NAMES = {"precipitation": "pr", "shf": "hfss", "lhf": "hfls", "fsnt": "fsnt",
                "fsns": "fsns", "flnt": "flnt", "flns": "flns", "insolation": "rsdt"}


def _add_interval_means(ds: xr.Dataset, model) -> None:
    """Physics and conservation diagnostics averaged since the previous snapshot (NaN at
    the first snapshot of a run), and the global totals of the current state."""
    fields, scalars = model.diagnostic_names()
    means = model.means.means()
    shape = (model.grid.nlat, model.grid.nlon)
    for name in fields:
        out = OUTPUT_NAMES[name]
        value = means.get(name, np.full(shape, np.nan))
        ds[out] = xr.Variable(("time", "lat", "lon"), np.asarray(value)[None],
                              VARIABLE_ATTRS[out])
    for name in scalars:
        ds[name] = xr.Variable(("time",), [float(means.get(name, np.nan))],
                               VARIABLE_ATTRS[name])
    if fields or scalars:
        # the mean of the two leapfrog levels: each receives the physics on alternate
        # steps, their mean receives every step's sources over one dt
        now = model.global_totals()
        old = model.global_totals(model.grid_state(model.old)) if model.old is not None else now
        for name in ("mass", "water", "energy"):
            value = 0.5 * (getattr(now, name) + getattr(old, name))
            ds[f"atmosphere_{name}"] = xr.Variable(("time",), [value],
                                                   VARIABLE_ATTRS[f"atmosphere_{name}"])
