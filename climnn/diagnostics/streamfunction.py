"""The meridional mass streamfunction of a run's time- and zonal-mean circulation.

On sigma levels the mass between two interfaces of a column is ps dsigma / g per m2, so
the northward mass flux through a latitude circle above the interface sigma_{k+1/2} is

    psi(sigma_{k+1/2}, lat) = (2 pi a cos(lat) / g) * sum_{l <= k} [ps v]_l dsigma_l   (kg s-1)

summed from the model top down, with [.] the time and zonal mean. psi is zero at the top
by construction and, for a circulation that moves no net mass across a latitude circle,
at the surface too. psi > 0 where the air above moves north on the whole: the Northern
Hemisphere's Hadley cell (rising near the equator, northward aloft, sinking in the
subtropics); the southern cell has psi < 0.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from gcm.constants import GRAVITY, RADIUS


def mass_streamfunction(va: xr.DataArray, ps: xr.DataArray,
                        lev_bnds: xr.DataArray) -> xr.DataArray:
    """psi on the layer interfaces (kg s-1), (ilev, lat) with ilev = sigma at the
    interfaces from the top (0 or the model top) to the surface (1).

    va : northward wind (time, lev, lat, lon), m s-1, levels ordered top to bottom;
    ps : surface pressure (time, lat, lon), Pa; lev_bnds : (lev, 2) sigma bounds.
    Lazy inputs stay lazy until the zonal and time mean of ps v, (lev, lat), is taken.
    """
    bounds = np.asarray(lev_bnds.values, dtype=np.float64)
    dsigma = np.abs(bounds[:, 1] - bounds[:, 0])
    interfaces = np.concatenate([[bounds[0].min()], bounds.max(axis=1)])
    if np.any(np.diff(interfaces) <= 0):
        raise ValueError("mass_streamfunction: lev_bnds must run from the top down with "
                         "increasing sigma")
    flux = (va * ps).mean(dim=("time", "lon")).compute().transpose("lev", "lat")
    cumulative = np.concatenate([np.zeros((1, flux.sizes["lat"])),
                                 np.cumsum(flux.values * dsigma[:, None], axis=0)])
    lat = flux["lat"].values
    psi = 2.0 * np.pi * RADIUS * np.cos(np.radians(lat))[None, :] / GRAVITY * cumulative
    return xr.DataArray(psi, dims=("ilev", "lat"),
                        coords={"ilev": interfaces, "lat": lat},
                        name="msf", attrs={"units": "kg s-1",
                                           "long_name": "meridional mass streamfunction"})


def hadley_cell_metrics(psi: xr.DataArray) -> dict[str, float]:
    """Flat figures of psi (kg s-1): the strongest northern (positive) and southern
    (negative) cells within 40 degrees of the equator, in 1e10 kg s-1, and their
    latitudes."""
    tropics = psi.where(np.abs(psi["lat"]) <= 40.0, drop=True)
    values = tropics.values
    north = np.unravel_index(np.argmax(values), values.shape)
    south = np.unravel_index(np.argmin(values), values.shape)
    lat = tropics["lat"].values
    return {"msf_max_1e10_kg_s": float(values[north]) / 1e10,
            "msf_max_lat_deg": float(lat[north[1]]),
            "msf_min_1e10_kg_s": float(values[south]) / 1e10,
            "msf_min_lat_deg": float(lat[south[1]])}
