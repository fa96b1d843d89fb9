"""The dynamical core's part of a step, in spectral space: the grid fields a state's
dynamics needs, the explicit tendencies of the primitive equations (gcm.primitive_equations
on the grid, plus the physics' forcing), and the semi-implicit solve with implicit
hyperdiffusion (gcm.time_integration).

Spectral fields are complex (nlev, T+1, T+1) (gcm.spherical_harmonics); grid fields are
(nlev, nlat, nlon) or (nlat, nlon).
"""

from __future__ import annotations

import numba
import numpy as np

from gcm import constants as const
from gcm.config import ModelConfig
from gcm.gaussian_grid import GaussianGrid
from gcm.primitive_equations import VerticalOperators, grid_tendencies
from gcm.sigma_coordinates import SigmaCoordinates
from gcm.spherical_harmonics import SpectralTransform
from gcm.state import SpectralState
from gcm.time_integration import ImplicitOperator, damp, hyperdiffusion_rates, leapfrog_damped


def level_product(matrix: np.ndarray, spec: np.ndarray) -> np.ndarray:
    """sum_j matrix[k, j] spec[j, ...] for a real matrix (nlev, nlev) or vector (nlev,)
    and complex spectral fields (nlev, T+1, T+1)."""
    if matrix.ndim == 1:
        return _level_matvec(matrix[None, :], spec)[0]
    return _level_matvec(matrix, spec)


@numba.njit(cache=True, parallel=True)
def _level_matvec(matrix, spec):
    # a plain loop: BLAS threads fight numba's for these small products
    nout, nlev = matrix.shape
    out = np.zeros((nout,) + spec.shape[1:], dtype=np.complex128)
    for k in numba.prange(nout):
        for j in range(nlev):
            c = matrix[k, j]
            if c != 0.0:
                # explicit loops: out[k] += c * spec[j] would allocate a temporary
                for m in range(spec.shape[1]):
                    for n in range(spec.shape[2]):
                        out[k, m, n] += c * spec[j, m, n]
    return out


class SpectralDynamics:
    """The dynamics of a model: its vertical and implicit operators, damping factors and
    work arrays, built from the config for time step ``dt`` (s).

    ``with_lnps``: ``grid()`` also synthesizes ln ps (for a model with grid physics,
    which rebuilds the old level from it, see gcm.old_level_grid)."""

    def __init__(self, config: ModelConfig, grid: GaussianGrid, transform: SpectralTransform,
                 sigma: SigmaCoordinates, dt: float, with_lnps: bool):
        self.config, self.grid, self.transform, self.sigma = config, grid, transform, sigma
        self.dt, self.with_lnps = dt, with_lnps
        self.vertical = VerticalOperators.build(
            sigma, config.dynamics.reference_temperature, const.RD, const.KAPPA)
        self._build_implicit_operators()
        self._allocate_work_arrays()
        self.coriolis = 2.0 * const.OMEGA * grid.mu
        self.one_minus_mu2 = 1.0 - grid.mu**2

    def _build_implicit_operators(self):
        """Semi-implicit operators and damping factors for both step lengths: delta = dt
        (leapfrog) and dt/2 (the first, forward, step)."""
        T = self.grid.truncation
        G = self.sigma.geopotential_matrix(const.RD)
        H = self.vertical.temperature_matrix()
        n = np.arange(T + 1)
        cn = n * (n + 1.0) / const.RADIUS**2
        rt = const.RD * self.vertical.reference_temperature
        self.implicit = {
            delta: ImplicitOperator.build(delta, G, H, self.sigma.thickness, rt, cn)
            for delta in (self.dt, 0.5 * self.dt)
        }
        dyn = self.config.dynamics
        tau = dyn.diffusion.timescale_hours * 3600.0
        sponge = dyn.sponge
        rates = hyperdiffusion_rates(
            self.transform.n_index, T, dyn.diffusion.order, tau, self.sigma.nlev,
            sponge.levels, sponge.timescale_hours * 3600.0,
        )
        # implicit damping factors 1 / (1 + 2 delta K) for both step lengths
        self._damping = {
            delta: (1.0 / (1.0 + 2.0 * delta * rates),
                    1.0 / (1.0 + 2.0 * delta * rates * dyn.diffusion.divergence_factor))
            for delta in self.implicit
        }

    def _allocate_work_arrays(self):
        nlev, nlat, nlon = self.sigma.nlev, self.grid.nlat, self.grid.nlon
        self._A = np.empty((nlev, nlat, nlon))
        self._B = np.empty((nlev, nlat, nlon))
        self._FX = np.empty((2 * nlev, nlat, nlon))
        self._FY = np.empty((2 * nlev, nlat, nlon))
        self._S = np.empty((3 * nlev + 1, nlat, nlon))
        self.zero_grid = np.zeros((nlev, nlat, nlon))
        # shared zeros (absent forcing, dry humidity): only ever read. Not flagged
        # read-only: numba would compile the kernels again for read-only arguments

    def grid_fields(self, s: SpectralState) -> dict[str, np.ndarray]:
        """The grid fields the dynamics needs from a state: vor, div (s-1), tdev = T - T_ref
        (K), q (kg kg-1), U = u cos(phi), V = v cos(phi) (m s-1), each (nlev, nlat, nlon);
        gx, gy = cos(phi) grad ln ps (m-1) and, in a model with grid physics (which reads
        the old level from these, see gcm.old_level_grid), lnps, each (nlat, nlon)."""
        tr = self.transform
        nlev = self.sigma.nlev
        moist = self.config.dynamics.humidity
        fields = [s.vorticity, s.divergence, s.temperature] + ([s.humidity] if moist else [])
        with_lnps = self.with_lnps
        if with_lnps:
            fields.append(s.log_surface_pressure[None])
        scalars = tr.to_grid(np.concatenate(fields))
        U, V = tr.cos_uv_from_vordiv(s.vorticity, s.divergence)
        gx, gy = tr.cos_gradient(s.log_surface_pressure)
        return dict(vor=scalars[:nlev], div=scalars[nlev:2 * nlev],
                    tdev=scalars[2 * nlev:3 * nlev],
                    q=scalars[3 * nlev:4 * nlev] if moist else self.zero_grid,
                    U=U, V=V, gx=gx, gy=gy, lnps=scalars[-1] if with_lnps else None)

    def tendencies(self, s: SpectralState, surface_geopotential: np.ndarray,
                   forcing: dict | None = None, grid: dict | None = None) -> SpectralState:
        """Explicit (non-implicit) tendencies N of every prognostic variable, spectral.

        ``forcing``: grid-point tendencies from the physics, "u", "v" (m s-2), "T" (K s-1),
        "q" (kg kg-1 s-1), each (nlev, nlat, nlon); added to the dynamics' own grid terms
        before their analysis, so the physics costs no transforms of its own.
        ``surface_geopotential``: spectral, (T+1, T+1), m2 s-2.
        ``grid``: ``grid_fields(s)`` when the caller has it already."""
        tr = self.transform
        nlev = self.sigma.nlev
        vo = self.vertical
        moist = self.config.dynamics.humidity
        g = self.grid_fields(s) if grid is None else grid
        U, V, gx, gy = g["U"], g["V"], g["gx"], g["gy"]
        A, B, FX, FY, S = self._A, self._B, self._FX, self._FY, self._S
        z = self.zero_grid
        f = forcing or {}
        grid_tendencies(
            U, V, g["vor"], g["div"], g["tdev"], g["q"], gx, gy,
            self.coriolis, self.one_minus_mu2, vo.thickness, vo.half, vo.alpha,
            vo.log_ratio, vo.reference_temperature, vo.gas_constant, vo.kappa,
            A, B, FX, FY, S, f.get("u", z), f.get("v", z), f.get("T", z), f.get("q", z),
            forcing is not None, moist,
        )
        dry_humidity_forcing = None
        if forcing is not None and not moist and forcing["q"].any():
            dry_humidity_forcing = forcing["q"]
        vor_t, div_ab = tr.vordiv_from_cos_uv(A, B)
        if moist:
            flux_div = tr.divergence_from_cos_uv(FX, FY)
            spec = tr.to_spectral(S)
        else:  # skip the humidity fluxes and the humidity rest-term
            flux_div = tr.divergence_from_cos_uv(FX[:nlev], FY[:nlev])
            spec = np.empty((3 * nlev + 1,) + s.log_surface_pressure.shape, complex)
            spec[: 2 * nlev] = tr.to_spectral(S[: 2 * nlev])
            spec[3 * nlev] = tr.to_spectral(S[3 * nlev])
        implicit = self.implicit[self.dt]
        div_t = div_ab - tr.laplacian(spec[:nlev] + surface_geopotential)
        t_t = spec[nlev : 2 * nlev] - flux_div[:nlev] + level_product(implicit.H, s.divergence)
        p_t = spec[3 * nlev] + level_product(implicit.thickness, s.divergence)
        if self.config.dynamics.humidity:
            q_t = spec[2 * nlev : 3 * nlev] - flux_div[nlev:]
        else:
            q_t = np.zeros_like(s.humidity)
            if dry_humidity_forcing is not None:
                q_t += tr.to_spectral(dry_humidity_forcing)
        return SpectralState(vor_t, div_t, t_t, p_t, q_t)

    def implicit_step(self, old: SpectralState, tend: SpectralState, delta: float
                      ) -> SpectralState:
        """The new level from the old one and the explicit tendencies over 2 delta (s):
        the semi-implicit solve, then implicit hyperdiffusion."""
        op = self.implicit[delta]
        damping, divergence_damping = self._damping[delta]
        new = SpectralState(
            vorticity=np.empty_like(old.vorticity),
            divergence=np.zeros_like(old.divergence),  # the solve writes only n >= m
            temperature=np.zeros_like(old.temperature),
            log_surface_pressure=np.zeros_like(old.log_surface_pressure),
            humidity=np.empty_like(old.humidity),
        )
        leapfrog_damped(old.vorticity, tend.vorticity, delta, damping, new.vorticity)
        leapfrog_damped(old.humidity, tend.humidity, delta, damping, new.humidity)
        op.solve(old.divergence, old.temperature, old.log_surface_pressure,
                 tend.divergence, tend.temperature, tend.log_surface_pressure,
                 new.divergence, new.temperature, new.log_surface_pressure)
        damp(new.temperature, damping)
        damp(new.divergence, divergence_damping)
        return new
