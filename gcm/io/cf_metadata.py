"""Grid-point snapshots of the model as xarray Datasets with CF-1.8 metadata.

Variable names follow CMIP short names (ua, va, ta, hus, ps, zeta, pr, hfss, ...; the
quantities of the column-physics contract take name, units and standard name from
gcm.variables); the vertical coordinate is the CF ``atmosphere_sigma_coordinate`` with
``formula_terms`` so that CF tools can reconstruct pressure:
p(n,k,j,i) = ptop + lev(k) * (ps(n,j,i) - ptop).

What each value covers in time (CF ``cell_methods`` and ``bounds``):

* The state (ua, va, ta, hus, zeta, ps) and the global totals atmosphere_* are
  instantaneous at ``time``: ``cell_methods = "time: point"`` (the totals "area: mean
  time: point").
* The interval means (pr, hfss, hfls, fsnt, fsns, flnt, flns, rsdt and the global
  hole_filling, fixer_*, physics_*_residual) average the diagnostics of every model step
  taken since the output interval began (``model.means.start_step``, set by
  ``model.start_output_interval()``) up to ``time``: ``cell_methods = "time: mean"``
  ("area: mean time: mean" for the global ones), and ``time`` has ``bounds =
  "time_bnds"``, a (time, nbnd) variable holding [start of the interval, time]. (Each
  step's physics is evaluated on the leapfrog's old level, one step before the step's
  start; see gcm.model.)
* The first snapshot of a run, at the initial time, follows no step: its time_bnds are
  [t0, t0] (an empty interval) and its interval means are NaN. Keeping it on the one
  time axis keeps the history one dataset with one time coordinate.

A model without interval means (no grid physics) has neither time_bnds nor mean fields.
"""

from __future__ import annotations

import datetime

import numpy as np
import xarray as xr

from gcm.physics import column as protocol
from gcm.variables import by_output_field, by_output_name

TIME_BOUNDS = "time_bnds"
POINT, MEAN = "time: point", "time: mean"
GLOBAL_POINT, GLOBAL_MEAN = "area: mean time: point", "area: mean time: mean"

# Attributes of the variables that are not quantities of the column contract.
VARIABLE_ATTRS = {
    "zeta": dict(standard_name="atmosphere_relative_vorticity", long_name="relative vorticity",
                 units="s-1"),
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


def _attrs(name: str, cell_methods: str | None = None, extra: dict | None = None) -> dict:
    """CF attributes of output variable ``name``: from gcm.variables for the contract's
    quantities, else VARIABLE_ATTRS, else ``extra`` (name -> attrs: the physics scheme's
    own diagnostics); "(interval mean)" added to the long name of means."""
    quantity = by_output_name(name)
    if quantity is not None:
        attrs = dict(quantity.cf_attrs())
    else:
        attrs = dict(VARIABLE_ATTRS[name] if name in VARIABLE_ATTRS else extra[name])
    if cell_methods == MEAN and quantity is not None:
        attrs["long_name"] += " (interval mean)"
    if cell_methods is not None:
        attrs["cell_methods"] = cell_methods
    return attrs


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
        {name: xr.Variable(dims, values, _attrs(name, POINT)) for name, (dims, values)
         in data.items()},
        coords=coordinates(model),
    )
    has_means = _add_interval_means(ds, model)
    ds["orog"] = xr.Variable(("lat", "lon"), orog, _attrs("orog"))
    ds["ptop"] = xr.Variable((), 0.0, dict(long_name="pressure at the model top", units="Pa"))
    ds["lev_bnds"] = xr.Variable(
        ("lev", "nbnd"), np.stack([model.sigma.half[:-1], model.sigma.half[1:]], axis=1))
    time_attrs = dict(standard_name="time", axis="T")
    if has_means:
        time_attrs["bounds"] = TIME_BOUNDS
        ds[TIME_BOUNDS] = xr.Variable(("time", "nbnd"), [[interval_start(model), model.time]],
                                      dict(long_name="interval of the interval means"))
    ds = ds.assign_coords(time=("time", [model.time], time_attrs))
    ds.attrs.update(
        Conventions="CF-1.8",
        title=f"climnn gcm: {model.config.name}",
        source=(f"gcm spectral primitive-equation model T{model.grid.truncation}"
                f"L{model.sigma.nlev}, physics {model.config.physics.scheme}"),
        config_hash=model.config.digest(),
        time_step_s=model.dt,
    )
    return ds


def interval_start(model):
    """Model time (cftime) at which the current output interval began: at step
    ``model.means.start_step``, or, where an old restart did not record it (-1), one
    step back for every step the means hold (each step adds one value)."""
    means = model.means
    step = means.start_step if means.start_step >= 0 else model.step_count - means.count
    return model.start_time + datetime.timedelta(seconds=step * model.dt)


def _add_interval_means(ds: xr.Dataset, model) -> bool:
    """Add the physics and conservation diagnostics averaged over the output interval (NaN
    at the first snapshot of a run) and the global totals of the current state; return
    whether there were any."""
    fields, scalars = model.diagnostic_names()
    means = model.means.means()
    shape = (model.grid.nlat, model.grid.nlon)
    for name in fields:
        out = by_output_field(name).output
        value = means.get(name, np.full(shape, np.nan))
        ds[out] = xr.Variable(("time", "lat", "lon"), np.asarray(value)[None],
                              _attrs(out, MEAN))
    scheme_attrs = protocol.diagnostic_attrs(model.physics)
    for name in scalars:
        ds[name] = xr.Variable(("time",), [float(means.get(name, np.nan))],
                               _attrs(name, GLOBAL_MEAN, scheme_attrs))
    if fields or scalars:
        # the mean of the two leapfrog levels: each receives the physics on alternate
        # steps, their mean receives every step's sources over one dt
        now = model.global_totals()
        old = model.global_totals(model.grid_state(model.old)) if model.old is not None else now
        for name in ("mass", "water", "energy"):
            value = 0.5 * (getattr(now, name) + getattr(old, name))
            ds[f"atmosphere_{name}"] = xr.Variable(("time",), [value],
                                                   _attrs(f"atmosphere_{name}", GLOBAL_POINT))
    return bool(fields or scalars)
