"""Initial states on the Gaussian grid: rest, solid-body rotation, and the
Jablonowski & Williamson (2006) baroclinic wave.

Each function returns a dict of grid fields: u, v, T (nlev, nlat, nlon) in m s-1 and
K, q (nlev, nlat, nlon) kg kg-1, ps (nlat, nlon) Pa and phis (nlat, nlon) surface
geopotential, m2 s-2. ``lat``/``lon`` are 2-D (nlat, nlon) radians, ``sigma`` the
full levels (nlev,).
"""

from __future__ import annotations

import numpy as np

from gcm.constants import GRAVITY, OMEGA, RADIUS, RD


def _empty(sigma, lat):
    shape = (sigma.size,) + lat.shape
    return np.zeros(shape), np.zeros(shape)


def rest(lat, lon, sigma, temperature=300.0, surface_pressure=1e5, perturbation=0.0,
         humidity=0.0, seed=0):
    """An isothermal atmosphere at rest, with optional white noise of amplitude
    ``perturbation`` K on temperature to break the symmetry (Held-Suarez spin-up)."""
    u, v = _empty(sigma, lat)
    T = np.full(u.shape, temperature)
    if perturbation:
        T += perturbation * np.random.default_rng(seed).uniform(-1.0, 1.0, size=T.shape)
    return dict(u=u, v=v, T=T, q=np.full(u.shape, humidity),
                ps=np.full(lat.shape, surface_pressure), phis=np.zeros(lat.shape))


def solid_body(lat, lon, sigma, wind=20.0, temperature=300.0, surface_pressure=1e5,
               radius=RADIUS, omega=OMEGA, gas_constant=RD, humidity=0.0):
    """Isothermal solid-body rotation u = u0 cos(lat) in gradient-wind balance with
    ln ps = ln p0 - (2 Omega a u0 + u0^2) sin^2(lat) / (2 R T), a steady state of the
    primitive equations without orography."""
    u, v = _empty(sigma, lat)
    u[:] = wind * np.cos(lat)
    T = np.full(u.shape, temperature)
    lnps = np.log(surface_pressure) - (2 * omega * radius * wind + wind**2) * np.sin(lat) ** 2 / (
        2 * gas_constant * temperature
    )
    return dict(u=u, v=v, T=T, q=np.full(u.shape, humidity), ps=np.exp(lnps),
                phis=np.zeros(lat.shape))


# Jablonowski, C., and D. L. Williamson, 2006: A baroclinic instability test case for
# atmospheric model dynamical cores. QJRMS, 132, 2943-2975, eqs. (2)-(10), (12).
JW_ETA0 = 0.252  # eta_0
JW_ETAT = 0.2  # eta_t, tropopause
JW_T0 = 288.0  # K
JW_LAPSE = 0.005  # Gamma, K m-1
JW_DELTA_T = 4.8e5  # K
JW_CENTER = (np.pi / 9.0, 2.0 * np.pi / 9.0)  # perturbation centre (20E, 40N), radians


def _jw_meridional_factors(lat):
    s, c = np.sin(lat), np.cos(lat)
    first = -2.0 * s**6 * (c**2 + 1.0 / 3.0) + 10.0 / 63.0
    second = 1.6 * c**3 * (s**2 + 2.0 / 3.0) - np.pi / 4.0
    return first, second


def jablonowski_williamson(lat, lon, sigma, wind=35.0, perturbation=1.0, radius=RADIUS,
                           omega=OMEGA, gas_constant=RD, gravity=GRAVITY, humidity=0.0):
    """The JW06 balanced zonal jet (steady state) on sigma = eta levels, plus the
    Gaussian zonal-wind bump of amplitude ``perturbation`` m s-1 at (20E, 40N)."""
    eta = sigma[:, None, None]
    eta_v = (eta - JW_ETA0) * np.pi / 2.0
    u = wind * np.cos(eta_v) ** 1.5 * np.sin(2.0 * lat) ** 2 * np.ones_like(lon)
    t_mean = JW_T0 * eta ** (gas_constant * JW_LAPSE / gravity)
    t_mean = t_mean + np.where(eta < JW_ETAT, JW_DELTA_T * np.clip(JW_ETAT - eta, 0, None) ** 5, 0)
    first, second = _jw_meridional_factors(lat)
    T = t_mean + 0.75 * eta * np.pi * wind / gas_constant * np.sin(eta_v) * np.cos(eta_v) ** 0.5 * (
        first * 2.0 * wind * np.cos(eta_v) ** 1.5 + second * radius * omega
    )
    eta_vs = (1.0 - JW_ETA0) * np.pi / 2.0
    phis = wind * np.cos(eta_vs) ** 1.5 * (
        first * wind * np.cos(eta_vs) ** 1.5 + second * radius * omega
    )
    if perturbation:
        lon_c, lat_c = JW_CENTER
        cos_r = np.sin(lat_c) * np.sin(lat) + np.cos(lat_c) * np.cos(lat) * np.cos(lon - lon_c)
        r = np.arccos(np.clip(cos_r, -1.0, 1.0))  # great-circle distance / a
        u = u + perturbation * np.exp(-((r / 0.1) ** 2))
    v = np.zeros_like(u)
    return dict(u=u, v=v, T=T * np.ones_like(u), q=np.full(u.shape, humidity),
                ps=np.full(lat.shape, 1.0e5), phis=phis * np.ones_like(lon))
