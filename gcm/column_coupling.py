"""The model's side of the column-physics contract (DESIGN.md): gather the grid into
columns, call the scheme, scatter its tendencies back onto the grid, and keep its surface
fields and column-budget residuals as diagnostics.

Grid fields are (nlev, nlat, nlon), level-major; columns are (ncol, nlev) with
ncol = nlat nlon. The gathered profiles are transposed views of the grid (no copy), so
a scheme reads them level by level in memory order and its tendencies, laid out alike,
scatter back without a copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gcm.physics import column as protocol
from gcm.physics.column import ColumnPhysics, ColumnState, ColumnTendencies
from gcm.sigma_coordinates import SigmaCoordinates

# the 2-D interval-mean fields a model with physics reports: the scheme's surface
# fields and the insolation it saw
SURFACE_FIELDS = ("precipitation", "shf", "lhf", "fsnt", "fsns", "flnt", "flns")
BUDGET_SCALARS = ("physics_energy_residual", "physics_water_residual")

# grid name of each profile tendency
GRID_NAMES = (("T", "temperature"), ("q", "humidity"), ("u", "u"), ("v", "v"))


@dataclass
class PhysicsCall:
    """One call of the column physics during a step: what it saw and what it returned.

    The arrays may be the model's or the scheme's reusable buffers, valid until the next
    step: copy what you keep. ``dt`` is the interval (s) over which the tendencies are
    applied (2 dt on a leapfrog step, dt on the first, forward, step)."""

    columns: ColumnState
    tendencies: ColumnTendencies
    dt: float


class ColumnCoupling:
    """Columns from the grid and back for a model on ``sigma`` levels with grid
    latitudes and longitudes lat2d, lon2d (radians, (nlat, nlon)), area fractions
    ``fraction`` (nlat, 1) (gcm.conservation.area_fraction), a sea surface
    (gcm.config.SurfaceConfig) and insolation parameters (gcm.physics.insolation)."""

    def __init__(self, sigma: SigmaCoordinates, lat2d: np.ndarray, lon2d: np.ndarray,
                 fraction: np.ndarray, surface, insolation: dict):
        self.sigma, self.lat2d, self.lon2d, self.fraction = sigma, lat2d, lon2d, fraction
        self.shape = lat2d.shape
        self._surface, self._insolation = surface, insolation
        self._boundary = None

    def boundary_fields(self, seconds: float) -> dict[str, np.ndarray]:
        """Sea-surface temperature (K) and top-of-atmosphere insolation (W m-2) on the
        grid, (nlat, nlon), at ``seconds`` since the start."""
        from gcm.physics.insolation import Insolation
        from gcm.physics.sea_surface import sea_surface_temperature

        if self._boundary is None:
            surface = self._surface
            insolation = Insolation(**self._insolation)
            self._boundary = dict(
                sst=sea_surface_temperature(surface.sst, self.lat2d, surface.sst_offset),
                insolation=insolation,
                # without diurnal or seasonal cycle the insolation never changes
                fixed=None if insolation.diurnal_cycle or insolation.seasonal_cycle
                else insolation(self.lat2d, self.lon2d, 0.0))
        b = self._boundary
        solin = b["fixed"] if b["fixed"] is not None else b["insolation"](
            self.lat2d, self.lon2d, seconds)
        return dict(sst=b["sst"], insolation=solin)

    def gather(self, g: dict, seconds: float) -> ColumnState:
        """The grid fields g (u, v, T, q (nlev, nlat, nlon), ps (nlat, nlon), see
        Model.grid_state) as columns at ``seconds`` since the start."""
        ps = g["ps"].reshape(-1)

        def columns(x):
            # a (ncol, nlev) view of level-major memory: no copy, numba takes any layout
            return x.reshape(x.shape[0], -1).T

        boundary = self.boundary_fields(seconds)
        # pressures level-major too, like the profiles: the schemes that go down blocks of
        # columns level by level then read them in memory order (bitwise the same
        # physics, ~1 ms a T42L25 step faster than column-major pressures)
        return ColumnState(
            temperature=columns(g["T"]), humidity=columns(g["q"]), u=columns(g["u"]),
            v=columns(g["v"]), pressure=(self.sigma.full[:, None] * ps[None, :]).T,
            pressure_half=(self.sigma.half[:, None] * ps[None, :]).T, surface_pressure=ps,
            sst=boundary["sst"].reshape(-1), insolation=boundary["insolation"].reshape(-1),
            latitude=self.lat2d.reshape(-1), longitude=self.lon2d.reshape(-1),
            time=seconds,
        )

    def scatter(self, x: np.ndarray) -> np.ndarray:
        """(ncol, nlev) -> (nlev, nlat, nlon)."""
        return np.ascontiguousarray(x.T).reshape(-1, *self.shape)

    def call(self, scheme: ColumnPhysics, g: dict, seconds: float, dt: float
             ) -> tuple[PhysicsCall, dict[str, np.ndarray], dict]:
        """Run ``scheme`` on the columns of grid fields ``g`` over interval dt (s). Returns
        the call, the grid tendencies T (K s-1), q (kg kg-1 s-1), u, v (m s-2), each
        (nlev, nlat, nlon), and the step's surface diagnostics (see diagnostic_names)."""
        columns = self.gather(g, seconds)
        out = scheme(columns, dt)
        grid_tendencies = {name: self.scatter(getattr(out, field)) for name, field in GRID_NAMES}
        return (PhysicsCall(columns, out, dt), grid_tendencies,
                self.surface_diagnostics(scheme, columns, out))

    def surface_diagnostics(self, scheme: ColumnPhysics, columns: ColumnState,
                            out: ColumnTendencies) -> dict:
        """The scheme's surface fields and the insolation on the grid (nlat, nlon), and,
        for a scheme that closes the column budgets, the global means of the absolute
        energy (W m-2) and water (kg m-2 s-1) residuals."""
        diag = {name: getattr(out, name).reshape(self.shape) for name in SURFACE_FIELDS}
        diag["insolation"] = columns.insolation.reshape(self.shape)
        diag.update(protocol.step_diagnostics(scheme))
        if not protocol.closes_budgets(scheme):
            return diag
        from gcm.physics.budgets import column_residuals

        e_res, w_res = (r.reshape(self.shape) for r in column_residuals(
            columns, out, frictional_heating=protocol.frictional_heating(scheme)))
        diag["physics_energy_residual"] = float((np.abs(e_res) * self.fraction).sum())
        diag["physics_water_residual"] = float((np.abs(w_res) * self.fraction).sum())
        return diag


def diagnostic_names(scheme: ColumnPhysics) -> tuple[list[str], list[str]]:
    """The interval-mean diagnostics a model calling ``scheme`` reports from it: (2-D
    fields, global scalars); none without physics."""
    if not protocol.has_physics(scheme):
        return [], []
    scalars = list(BUDGET_SCALARS) if protocol.closes_budgets(scheme) else []
    scalars += list(protocol.diagnostic_attrs(scheme))
    return [*SURFACE_FIELDS, "insolation"], scalars
