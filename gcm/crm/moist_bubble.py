"""The Bryan & Fritsch (2002) moist benchmark and its dry twin, the CRM's moist validation case.

Bryan, G. H., and J. M. Fritsch, 2002: A benchmark simulation for moist nonhydrostatic
numerical models. Mon. Wea. Rev., 130, 2917–2928. Domain 20 km × 10 km, free-slip walls,
1000 s. Dry twin: neutral θ = 300 K and a bubble θ′ = 2 cos²(πL/2) K for
L = √(((x − 10 km)/2 km)² + ((z − 2 km)/2 km)²) ≤ 1. Moist case: a saturated, moist-neutral
environment of total-water mixing ratio r_t = 0.020 and θ_e = 320 K (surface θ = 289.8486 K
at 1000 hPa, from Bryan's initialization program), reversible phase changes, no rain, and
the same bubble applied to the density potential temperature, with the bubble kept saturated
at the same r_t: both start with the same buoyancy. Their finding: the moist thermal evolves
much like the dry one.

Here: periodic x (for a bubble in the middle, the mirror symmetry makes this the walled
domain); the CRM's own thermodynamics (constant Lv, cp of dry air, specific humidities: see
``saturation_adjustment``), so the moist-neutral environment is uniform s_l and q_t =
0.020/1.020 with T from the saturation adjustment, and the bubble's T is the saturated one
whose linearized buoyancy exceeds the environment's by g θ′/300, exactly the dry twin's
g θ′/θ0. The anelastic base state is hydrostatic for the moist environment's density
potential temperature θ_ρ = T (1 + 0.608 q_v − q_c)/π0 (iterated to convergence).
"""

import numpy as np

from gcm.constants import CP, GRAVITY, LV, P0, RD
from gcm.crm import thermodynamics
from gcm.crm.base_state import BaseState
from gcm.crm.grid import CrmGrid
from gcm.crm.model import Crm, CrmState
from gcm.crm.saturation_adjustment import VIRTUAL, adjust
from gcm.physics.saturation import (
    saturation_specific_humidity,
    saturation_specific_humidity_derivative,
)

LENGTH = 20000.0  # m
DEPTH = 10000.0  # m
DURATION = 1000.0  # s
DRY_THETA = 300.0  # K
SURFACE_TEMPERATURE = 289.8486  # K at 1000 hPa (Bryan's mbm program, θ_e = 320 K)
TOTAL_WATER = 0.020 / 1.020  # r_t = 0.020 as specific humidity, kg kg-1
AMPLITUDE = 2.0  # K
RADIUS = 2000.0  # m
CENTRE_HEIGHT = 2000.0  # m
BASE_ITERATIONS = 10  # fixed-point passes of the moist base state (the 9th changes θ_ρ < 1e-7 K)
FINE_SPACING = 10.0  # m: the grid on which θ_ρ(z) is tabulated for the hydrostatic integral


def surface_liquid_static_energy() -> float:
    """s_l of the environment (uniform), J kg-1: saturated at the surface temperature."""
    qc = TOTAL_WATER - saturation_specific_humidity(SURFACE_TEMPERATURE, P0)
    return CP * SURFACE_TEMPERATURE - LV * qc


def environment(heights: np.ndarray, exner: np.ndarray):
    """(T K, q_v, q_c kg kg-1) of the moist-neutral environment at ``heights`` (m) where
    the Exner function is ``exner``."""
    s_l = surface_liquid_static_energy()
    temperature, qc = np.empty(len(heights)), np.empty(len(heights))
    for j, (z, pi) in enumerate(zip(heights, exner, strict=True)):
        temperature[j], qc[j] = adjust((s_l - GRAVITY * z) / CP, TOTAL_WATER, 0.0,
                                       P0 * pi ** (CP / RD))
    return temperature, TOTAL_WATER - qc, qc


def moist_neutral_base(grid: CrmGrid) -> BaseState:
    """The hydrostatic base state of the environment's density potential temperature."""
    fine = np.linspace(0.0, grid.z_faces[-1], int(round(grid.z_faces[-1] / FINE_SPACING)) + 1)
    theta_rho = np.full(len(fine), DRY_THETA)
    for _ in range(BASE_ITERATIONS):
        inverse = 1.0 / theta_rho
        integral = np.concatenate(([0.0], np.cumsum(0.5 * (inverse[1:] + inverse[:-1])
                                                     * np.diff(fine))))
        exner = 1.0 - GRAVITY / CP * integral
        temperature, qv, qc = environment(fine, exner)
        theta_rho = temperature * (1.0 + VIRTUAL * qv - qc) / exner
    table = theta_rho
    return BaseState.from_theta(grid, lambda z: np.interp(z, fine, table))


def bubble_model(resolution: float, moist: bool, dt: float | None = None,
                 mixing: float | str = 0.0) -> Crm:
    """The CRM for the moist case or its dry twin at ``resolution`` m (dx = dz); dt defaults
    to resolution/200 s; ``mixing``: ν = κ, m2 s-1, or "smagorinsky". Static-energy variable
    (SAM's)."""
    if LENGTH % resolution or DEPTH % resolution:
        raise ValueError(f"bubble_model: resolution {resolution} m must divide "
                         f"{LENGTH:.0f} m and {DEPTH:.0f} m")
    grid = CrmGrid(int(LENGTH / resolution), int(DEPTH / resolution), resolution, resolution)
    base = moist_neutral_base(grid) if moist else BaseState.constant_theta(grid, DRY_THETA)
    dt = dt if dt else resolution / 200.0
    if mixing == "smagorinsky":
        return Crm(grid, base, dt=dt, moist=moist, mixing="smagorinsky")
    return Crm(grid, base, dt=dt, nu=float(mixing), kappa=float(mixing), moist=moist)


def bubble_shape(grid: CrmGrid) -> np.ndarray:
    """θ′ of the bubble, K, (nz, nx): 2 cos²(πL/2) inside L ≤ 1."""
    x = grid.x_centres - grid.length / 2
    distance = np.hypot(x[None, :] / RADIUS, (grid.z_centres[:, None] - CENTRE_HEIGHT) / RADIUS)
    return np.where(distance <= 1.0, AMPLITUDE * np.cos(0.5 * np.pi * distance) ** 2, 0.0)


def initial_state(model: Crm) -> CrmState:
    """One CRM at rest with the bubble: θ′ for the dry twin; for the moist case saturated
    air of the environment's q_t whose buoyancy exceeds the environment's by g θ′/300."""
    state = model.rest_state(1)
    bump = bubble_shape(model.grid)
    if not model.moist:
        state.scalar("thermo")[0] = thermodynamics.from_theta_prime(model.thermodynamic, bump,
                                                                    model.base)
        return state
    profiles = model.profiles
    temperature = _saturated_temperature(model, bump)
    qc = TOTAL_WATER - saturation_specific_humidity(temperature, profiles.pressure[:, None])
    state.scalar("thermo")[0] = profiles.field_from_liquid_temperature(temperature - LV / CP * qc)
    state.scalar("qt")[0] = TOTAL_WATER
    return state


def _saturated_temperature(model: Crm, bump: np.ndarray) -> np.ndarray:
    """T (K, (nz, nx)) of saturated air with q_t = TOTAL_WATER whose linearized buoyancy
    b/g = (T − T0)/T0 + 0.608 q_s − (q_t − q_s) is the environment's + bump/300 (Newton)."""
    profiles = model.profiles
    t0, p = profiles.t0[:, None], profiles.pressure[:, None]
    t_env = np.array([adjust(t_l, TOTAL_WATER, 0.0, pk)[0] for t_l, pk in
                      zip(_environment_liquid_temperature(model), profiles.pressure,
                          strict=True)])[:, None]
    target = _linear_buoyancy(t_env, saturation_specific_humidity(t_env, p), t0) + bump / 300.0
    temperature = np.repeat(t_env, bump.shape[1], axis=1)
    for _ in range(30):
        qs = saturation_specific_humidity(temperature, p)
        slope = 1.0 / t0 + (1.0 + VIRTUAL) * saturation_specific_humidity_derivative(
            temperature, p)
        temperature = temperature - (_linear_buoyancy(temperature, qs, t0) - target) / slope
    return temperature


def _linear_buoyancy(temperature, qs, t0):
    """b/g of saturated air at T (K) with q_v = q_s and q_c = TOTAL_WATER − q_s."""
    return (temperature - t0) / t0 + VIRTUAL * qs - (TOTAL_WATER - qs)


def theta_prime(model: Crm, state: CrmState) -> np.ndarray:
    """The energy variable's perturbation from the environment in K of θ, (ncrm, nz, nx):
    θ′ for the dry twin, θ_l′ (with uniform q_t a measure of θ_e′) in the moist case."""
    _, scale = thermodynamics.reference_and_scale(model.thermodynamic, model.base)
    return (state.scalar("thermo") - environment_field(model)[:, None]) / scale[:, None]


def thermal_diagnostics(model: Crm, state: CrmState, initial_peak: float) -> dict:
    """w max (m/s) and its height (m), max θ′ (K, see ``theta_prime``), and the thermal top
    (m): the highest cell centre where θ′ ≥ 10 % of ``initial_peak``, the initial max θ′
    (2 K dry; larger in θ_l′ for the moist bubble, whose s_l excess includes its extra
    vapour), i.e. the contour that bounds the thermal in either case."""
    g = model.grid
    theta = theta_prime(model, state)[0]
    w = state.w[0]
    k, _ = np.unravel_index(np.argmax(w), w.shape)
    rows = np.nonzero((theta >= 0.1 * initial_peak).any(axis=1))[0]
    return {"w_max_m_s": float(w.max()), "w_max_height_m": float(g.z_faces[k]),
            "thermal_top_m": float(g.z_centres[rows[-1]]) if len(rows) else 0.0,
            "theta_prime_max_K": float(theta.max())}


def environment_field(model: Crm) -> np.ndarray:
    """The energy field of the environment, (nz,): the rest state's for the dry twin,
    uniform s_l for the moist case."""
    reference, _ = thermodynamics.reference_and_scale(model.thermodynamic, model.base)
    if not model.moist:
        return reference
    return model.profiles.field_from_liquid_temperature(_environment_liquid_temperature(model)
                                                        [:, None])[:, 0]


def _environment_liquid_temperature(model: Crm) -> np.ndarray:
    """T_l = (s_l − g z)/cp of the moist environment at the cell centres, K, (nz,)."""
    return (surface_liquid_static_energy() - GRAVITY * model.grid.z_centres) / CP
