"""The mass streamfunction against the integral of a known meridional wind."""

import numpy as np
import pytest
import xarray as xr

from climnn.diagnostics.streamfunction import hadley_cell_metrics, mass_streamfunction
from gcm.constants import GRAVITY, RADIUS

NLEV, NLAT, NLON, NT = 20, 12, 8, 3


def fields(profile, ps0=1.0e5):
    """v = V(sigma) sin(2 lat) on sigma layers, uniform ps, a few times and longitudes."""
    edges = np.linspace(0.0, 1.0, NLEV + 1)
    sigma = 0.5 * (edges[:-1] + edges[1:])
    lat = np.linspace(-82.5, 82.5, NLAT)
    v = profile(sigma)[:, None] * np.sin(np.radians(2 * lat))[None, :]
    va = xr.DataArray(np.broadcast_to(v[None, :, :, None], (NT, NLEV, NLAT, NLON)),
                      dims=("time", "lev", "lat", "lon"), coords={"lat": lat, "lev": sigma})
    ps = xr.DataArray(np.full((NT, NLAT, NLON), ps0), dims=("time", "lat", "lon"),
                      coords={"lat": lat})
    bnds = xr.DataArray(np.stack([edges[:-1], edges[1:]], 1), dims=("lev", "nbnd"))
    return va.chunk({"time": 1}), ps, bnds, edges, lat


def test_a_one_cell_circulation_integrates_to_its_analytic_streamfunction():
    # v = V0 cos(pi sigma): north aloft, south below, no net mass flux: psi(1) = 0 and
    # psi(sigma) = 2 pi a cos(lat) ps V0 sin(pi sigma) / (pi g) sin(2 lat), exact on the
    # interfaces because the layer mean of cos over a layer, times its width, is the
    # difference of sines: use those layer means as the wind.
    V0, ps0 = 3.0, 1.0e5
    edges = np.linspace(0.0, 1.0, NLEV + 1)
    layer_means = (np.sin(np.pi * edges[1:]) - np.sin(np.pi * edges[:-1])) / (
        np.pi * np.diff(edges))
    va, ps, bnds, edges, lat = fields(lambda s: V0 * layer_means, ps0)
    psi = mass_streamfunction(va, ps, bnds)
    expected = (2 * np.pi * RADIUS * np.cos(np.radians(lat))[None, :] * ps0 * V0
                / (np.pi * GRAVITY) * np.sin(np.pi * edges)[:, None]
                * np.sin(np.radians(2 * lat))[None, :])
    assert psi.attrs["units"] == "kg s-1"
    assert np.allclose(psi.values, expected, rtol=1e-12, atol=1e-6 * np.abs(expected).max())
    assert np.abs(psi.values[-1]).max() < 1e-9 * np.abs(psi.values).max()
    m = hadley_cell_metrics(psi)
    assert m["msf_max_1e10_kg_s"] == pytest.approx(np.abs(expected).max() / 1e10, rel=1e-12)
    assert m["msf_max_lat_deg"] > 0 > m["msf_min_lat_deg"]


def test_a_net_northward_flow_leaves_the_mass_it_moves_at_the_surface():
    va, ps, bnds, edges, lat = fields(lambda s: np.full_like(s, 1.0))
    psi = mass_streamfunction(va, ps, bnds)
    surface = 2 * np.pi * RADIUS * np.cos(np.radians(lat)) * 1.0e5 / GRAVITY * np.sin(
        np.radians(2 * lat))
    assert np.allclose(psi.values[-1], surface, rtol=1e-12)
    assert np.all(psi.values[0] == 0.0)


def test_levels_from_the_bottom_up_are_refused():
    va, ps, bnds, *_ = fields(lambda s: s)
    with pytest.raises(ValueError, match="from the top down"):
        mass_streamfunction(va, ps, bnds[::-1])
