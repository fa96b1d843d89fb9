"""Bulk aerodynamic fluxes of heat, moisture and momentum between a prescribed
sea-surface temperature and the lowest model level.

Reed, K. A., and C. Jablonowski, 2012: Idealized tropical cyclone simulations of
intermediate complexity: a test case for AGCMs. J. Adv. Model. Earth Syst., 4,
M04001 (the DCMIP-2016 "simple physics"): C_E = C_H = 1.1e-3, the wind-dependent drag
C_D = 7e-4 + 6.5e-5 |v| for |v| < 20 m/s and 2e-3 above, and backward-Euler
(implicit) surface-flux tendencies so that a thin lowest layer cannot overshoot.
Frierson, D. M. W., I. M. Held, and P. Zurita-Gotor, 2006: A gray-radiation
aquaplanet moist GCM. Part I. J. Atmos. Sci., 63, 2548-2566 (bulk formulae; Isca's
``surface_flux`` brings the lowest-level temperature to the surface dry-adiabatically).

With N the lowest level, the bulk formulae are

    |v| = sqrt(u_N^2 + v_N^2 + gust^2),        rho = p_N / (R_d T_N),
    SHF = rho cp C_H |v| (SST - T_a),          T_a = T_N (p_s / p_N)^kappa,
    LHF = rho Lv C_E |v| (q_s(SST, p_s) - q_N),
    tau = rho C_D |v| (u_N, v_N)  (downward momentum flux, along the wind).

With ``drag_formula="reed_jablonowski"`` C_D is evaluated at this |v| (gustiness
included; set gustiness=0 for Reed & Jablonowski's exact setting). T_a is the
lowest-level temperature brought to the surface along a dry adiabat (as in
Isca), so a dry-adiabatic surface layer in equilibrium with the sea exchanges no heat;
``adiabatic_surface_air=False`` uses T_a = T_N as Reed & Jablonowski do.

The fluxes heat, moisten and decelerate the lowest layer only, of thickness dp_N:

    dT_N/dt = g SHF / (cp dp_N),   dq_N/dt = g (LHF / Lv) / dp_N,   du_N/dt = -g tau_u / dp_N.

Time stepping: rho, |v| and the coefficients are taken from the state before the step,
and the fluxes are evaluated with the lowest-level T, q, u, v at the end of the step
(backward Euler). With k = g rho C |v| / dp_N (s-1) this gives, for example,

    dT_N/dt = k_H (SST - Pi T_N) / (1 + dt k_H Pi),   Pi = (p_s / p_N)^kappa,

which tends to the explicit flux as dt -> 0 and, for any dt, moves T_N towards the sea's
value SST / Pi without passing it. The reported SHF, LHF and stress are recomputed from
the tendencies actually applied (SHF = cp dT_N/dt dp_N / g, ...), so the column energy
and water budgets of DESIGN.md close to round-off: cp sum dT dp/g = SHF and
sum dq dp/g = LHF / Lv, with no precipitation. Dew (LHF < 0) is allowed; the implicit
form keeps q_N + dt dq_N/dt between q_N and q_s >= 0. The kinetic energy removed by
the drag is not turned into heat (the DESIGN budget has no frictional heating here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from gcm.constants import CP, GRAVITY, KAPPA, LV, RD
from gcm.physics.column import ColumnScheme, ColumnState, ColumnTendencies, fill_into
from gcm.physics.saturation import saturation_specific_humidity

DRAG_FORMULAS = ("constant", "reed_jablonowski")

# Reed & Jablonowski (2012), eq. (A1)-(A2): C_D = 7e-4 + 6.5e-5 |v| below 20 m/s, 2e-3 above
# (continuous at 20 m/s, so it is the minimum of the two).
RJ_DRAG_BASE = 7.0e-4  # dimensionless
RJ_DRAG_SLOPE = 6.5e-5  # s m-1
RJ_DRAG_MAX = 2.0e-3  # dimensionless, reached at |v| = 20 m/s


@numba.njit(cache=True)
def reed_jablonowski_drag(speed):
    """Drag coefficient C_D (dimensionless) of Reed & Jablonowski (2012) at wind speed
    ``speed`` (m s-1; scalar or array): 7e-4 + 6.5e-5 |v|, capped at 2e-3 (|v| >= 20)."""
    return np.minimum(RJ_DRAG_BASE + RJ_DRAG_SLOPE * speed, RJ_DRAG_MAX)


@dataclass
class SurfaceExchange:
    """Everything the surface-flux scheme computes for ncol columns."""

    tendencies: ColumnTendencies  # lowest-level dT, dq, du, dv and shf, lhf
    taux: np.ndarray  # (ncol,) eastward momentum flux into the sea (wind stress), N m-2
    tauy: np.ndarray  # (ncol,) northward momentum flux into the sea (wind stress), N m-2
    wind_speed: np.ndarray  # (ncol,) |v| including gustiness, m s-1
    drag_coefficient: np.ndarray  # (ncol,) C_D used, dimensionless
    surface_humidity: np.ndarray  # (ncol,) q_s(SST, p_s), kg kg-1


@dataclass
class SurfaceFluxes(ColumnScheme):
    """Bulk surface fluxes over a fixed-SST ocean, implicit in the lowest level.

    Defaults are Reed & Jablonowski's (2012) C_E = C_H = 1.1e-3, with a constant drag
    coefficient of the same value unless ``drag_formula="reed_jablonowski"``."""

    name = "surface_fluxes"

    heat_exchange_coefficient: float = 1.1e-3  # C_H for sensible heat (RJ12), dimensionless
    moisture_exchange_coefficient: float = 1.1e-3  # C_E for evaporation (RJ12), dimensionless
    drag_coefficient: float = 1.1e-3  # C_D when drag_formula == "constant", dimensionless
    drag_formula: str = "constant"  # "constant" or "reed_jablonowski" (C_D(|v|) of RJ12)
    gustiness: float = 1.0  # added in quadrature to the lowest-level wind speed, m s-1
    adiabatic_surface_air: bool = True  # T_a = T_N (p_s/p_N)^kappa (Isca); False: T_a = T_N

    def __post_init__(self):
        if self.drag_formula not in DRAG_FORMULAS:
            raise ValueError(f"SurfaceFluxes.drag_formula must be one of {DRAG_FORMULAS}, "
                             f"got {self.drag_formula!r}")
        for name in ("heat_exchange_coefficient", "moisture_exchange_coefficient",
                     "drag_coefficient", "gustiness"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"SurfaceFluxes.{name} must be >= 0, got {getattr(self, name)}")

    def __call__(self, columns: ColumnState, dt: float,
                 out: ColumnTendencies | None = None) -> ColumnTendencies:
        """The tendencies of ``exchange``, written into ``out`` if given (gcm.physics.column:
        the lowest level of the profiles and shf, lhf; the rest is left alone)."""
        return self.exchange(columns, dt, out).tendencies

    def exchange(self, columns: ColumnState, dt: float,
                 out: ColumnTendencies | None = None) -> SurfaceExchange:
        """Tendencies of the lowest level, fluxes consistent with them, and the wind stress,
        for the columns over the interval dt (s, >= 0; dt = 0 gives the explicit fluxes)."""
        if not dt >= 0.0:
            raise ValueError(f"SurfaceFluxes: the time step must be >= 0 s, got {dt}")
        out = fill_into(out, columns, "SurfaceFluxes")  # the same entries every call
        T = columns.temperature[:, -1]
        q = columns.humidity[:, -1]
        u = columns.u[:, -1]
        v = columns.v[:, -1]
        p = columns.pressure[:, -1]
        ps = columns.surface_pressure
        dp = columns.pressure_half[:, -1] - columns.pressure_half[:, -2]
        sst = columns.sst

        speed = np.sqrt(u * u + v * v + self.gustiness**2)
        rho = p / (RD * T)
        if self.drag_formula == "reed_jablonowski":
            cd = reed_jablonowski_drag(speed)
        else:
            cd = np.full_like(speed, self.drag_coefficient)
        # exchange rates of the whole lowest layer with the sea, s-1
        mass_rate = GRAVITY * rho * speed / dp
        k_heat = mass_rate * self.heat_exchange_coefficient
        k_moisture = mass_rate * self.moisture_exchange_coefficient
        k_drag = mass_rate * cd

        # Pi maps T_N to the temperature it has at the surface on a dry adiabat
        exner = (ps / p) ** KAPPA if self.adiabatic_surface_air else np.ones_like(p)
        dT = k_heat * (sst - exner * T) / (1.0 + dt * k_heat * exner)

        qs = saturation_specific_humidity(sst, ps)
        dq = k_moisture * (qs - q) / (1.0 + dt * k_moisture)
        if dt > 0.0:
            # q_N + dt dq is a convex combination of q_N and q_s; guard its round-off
            dq = np.maximum(dq, -np.maximum(q, 0.0) / dt)

        damping = k_drag / (1.0 + dt * k_drag)
        du = -damping * u
        dv = -damping * v

        out.temperature[:, -1] = dT
        out.humidity[:, -1] = dq
        out.u[:, -1] = du
        out.v[:, -1] = dv
        # fluxes from the tendencies actually applied, so that the budgets close exactly
        mass = dp / GRAVITY
        out.shf[:] = CP * dT * mass
        out.lhf[:] = LV * dq * mass
        return SurfaceExchange(tendencies=out, taux=-du * mass, tauy=-dv * mass,
                               wind_speed=speed, drag_coefficient=cd, surface_humidity=qs)
