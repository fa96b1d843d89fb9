"""Large-scale condensation with re-evaporation of falling precipitation.

Frierson, D. M. W., I. M. Held, and P. Zurita-Gotor, 2006: A gray-radiation aquaplanet
moist GCM. Part I: Static stability and eddy scale. J. Atmos. Sci., 63, 2548-2566
(section 2c), as configured in Isca (``lscale_cond`` with ``do_evap = .true.``).

Wherever the specific humidity q exceeds h q_s(T, p) (h = ``saturation_threshold``),
the excess condenses within the step and the latent heat warms the layer, so that T
and q end on the curve q = h q_s(T):

    solve  f(dq) = q + dq - h q_s(T - (Lv/cp) dq) = 0   by Newton's method from dq = 0,
    dq_{n+1} = dq_n - f(dq_n) / (1 + (Lv/cp) h dq_s/dT),   dT = -(Lv/cp) dq.

The first iterate is the classical linearized adjustment dq = (h q_s - q)/(1 + (Lv/cp) h
dq_s/dT). Because q_s is convex in T, f is increasing and concave in dq, so the iterates
approach the root from the dry side: after any number of iterations the layer is at or
just below h q_s (never supersaturated) and q stays positive.

Condensate falls out at once. Going down the column, the precipitation flux F from the
layers above evaporates in each layer that does not condense, by at most the amount
that brings the layer to h q_s (the same Newton iteration, which again approaches
saturation from the dry side) and at most F itself, so F never becomes negative and
re-evaporation never supersaturates a layer. Evaporation cools with the same Lv.

Budgets (DESIGN.md) close by construction: dT = -(Lv/cp) dq at every level, and the
surface precipitation is P = -sum_k dq_k dp_k / g from the returned tendencies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from gcm.constants import CP, GRAVITY, LV, RV
from gcm.physics.column import ColumnScheme, ColumnState, ColumnTendencies, fill_into
from gcm.physics.saturation import (
    EPSILON,
    saturation_vapour_pressure,
    saturation_vapour_pressure_vectorizable,
)


@dataclass
class LargeScaleCondensation(ColumnScheme):
    """Large-scale condensation of Frierson et al. (2006), with Isca's re-evaporation.

    Two Newton iterations leave a layer that was up to 30% supersaturated within 2e-4
    (relative) of saturation, 5% supersaturated within 2e-7; extreme supersaturation
    (q many times q_s in cold air) needs about 8 to converge and ends drier until then."""

    name = "condensation"

    saturation_threshold: float = 1.0  # relative humidity at which vapour condenses (Isca hc)
    reevaporation: bool = True  # evaporate falling precipitation in layers below (Isca do_evap)
    newton_iterations: int = 2  # Newton iterations of the saturation adjustment (1: linearized)

    def __post_init__(self):
        if not self.saturation_threshold > 0.0:
            raise ValueError("LargeScaleCondensation.saturation_threshold must be > 0, "
                             f"got {self.saturation_threshold}")
        if int(self.newton_iterations) < 1:
            raise ValueError("LargeScaleCondensation.newton_iterations must be >= 1, "
                             f"got {self.newton_iterations}")

    def __call__(self, columns: ColumnState, dt: float,
                 out: ColumnTendencies | None = None) -> ColumnTendencies:
        """Tendencies (K s-1, kg kg-1 s-1, (ncol, nlev)) that bring supersaturated layers
        to saturation over dt (s), and the surface precipitation (kg m-2 s-1, (ncol,));
        written into ``out`` if given (gcm.physics.column), whose other fields are left
        alone."""
        if not dt > 0.0:
            raise ValueError(f"LargeScaleCondensation: dt must be > 0 s, got {dt}")
        # the kernel writes the condensing (or re-evaporating) layers only
        out = fill_into(out, columns, "LargeScaleCondensation",
                        partly_written=("temperature", "humidity"))
        _condensation_kernel(
            np.asarray(columns.temperature, dtype=np.float64),
            np.asarray(columns.humidity, dtype=np.float64),
            np.asarray(columns.pressure, dtype=np.float64),
            np.asarray(columns.pressure_half, dtype=np.float64),
            float(self.saturation_threshold), bool(self.reevaporation),
            int(self.newton_iterations), float(dt),
            out.temperature, out.humidity, out.precipitation,
        )
        return out


@numba.njit(cache=True)
def saturation_humidity_and_slope(T, p):
    """q_s (kg kg-1) and dq_s/dT (kg kg-1 K-1) at T (K), p (Pa), scalars.

    The formula of gcm.physics.saturation, q_s = eps e_s / (p - (1 - eps) e_s), reaches 1
    when e_s = p and turns negative beyond. Where e_s >= p (warm air at very low pressure,
    where no saturation is possible) it is continued by its tangent in e_s,
    q_s = 1 + (e_s - p) / (eps p), so that q_s stays finite, increasing and convex in T
    for every input: the Newton iterations of saturation_adjustment then still approach
    saturation from the dry side."""
    es = saturation_vapour_pressure(T)
    des_dT = es * LV / (RV * T * T)
    if es >= p:
        return 1.0 + (es - p) / (EPSILON * p), des_dT / (EPSILON * p)
    denominator = p - (1.0 - EPSILON) * es
    qs = EPSILON * es / denominator
    return qs, EPSILON * p * des_dT / (denominator * denominator)  # dq_s/de_s de_s/dT


@numba.njit(cache=True)
def saturation_adjustment(T, q, p, threshold, iterations):
    """Humidity change dq (kg kg-1) that moves (T, q) at pressure p (Pa) onto q = threshold
    q_s(T) with dT = -(Lv/cp) dq: ``iterations`` Newton steps from dq = 0. Negative for a
    supersaturated layer (condensation), positive for a subsaturated one (the most it can
    evaporate); the iterates approach saturation from the dry side."""
    lv_cp = LV / CP
    dq = 0.0
    for _ in range(iterations):
        qs, dqs = saturation_humidity_and_slope(T - lv_cp * dq, p)
        dq -= (q + dq - threshold * qs) / (1.0 + lv_cp * threshold * dqs)
    return dq


BLOCK = 64  # columns processed together, level by level


@numba.njit(cache=True, inline="always", error_model="numpy")
def _saturation_row(T, p, k, first, last, qs):
    """q_s (kg kg-1) of level k of columns first..last-1 into qs (BLOCK,), as
    saturation_humidity_and_slope gives it but with a select instead of a branch and
    the vectorizable exp (within 1 ulp), so that the loop vectorizes."""
    for i in range(first, last):
        pk = p[i, k]
        es = saturation_vapour_pressure_vectorizable(T[i, k])
        below = EPSILON * es / (pk - (1.0 - EPSILON) * es)
        above = 1.0 + (es - pk) / (EPSILON * pk)
        qs[i - first] = above if es >= pk else below


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _condensation_kernel(T, q, p, p_half, threshold, reevaporation, iterations, dt,
                         dT, dq, precip):
    """Fill dT (K s-1), dq (kg kg-1 s-1), (ncol, nlev), and precip (kg m-2 s-1, (ncol,))
    from T (K), q (kg kg-1), p (Pa), all (ncol, nlev), and p_half (Pa, (ncol, nlev + 1)),
    level 0 at the top, in any memory layout. A block of columns goes down level by
    level together: the model's transposed views hold a level's columns side by side."""
    ncol, nlev = T.shape
    lv_cp = LV / CP
    nblock = (ncol + BLOCK - 1) // BLOCK
    for b in numba.prange(nblock):
        first, last = b * BLOCK, min(ncol, (b + 1) * BLOCK)
        # precipitation mass falling into the layer from above, kg m-2 per step, and
        # sum dq dp of the column so far
        falling = np.zeros(last - first)
        column = np.zeros(last - first)
        saturation = np.empty(last - first)
        for k in range(nlev):
            # the saturation test needs q_s everywhere: computed for the whole row first,
            # in a loop that vectorizes (vectorizing the Newton iterations of the third
            # of the points that condense or re-evaporate as well was slower: 2.9 -> 3.3
            # ms at T42 in a developed climate)
            _saturation_row(T, p, k, first, last, saturation)
            for i in range(first, last):
                j = i - first
                dp = p_half[i, k + 1] - p_half[i, k]
                mass = dp / GRAVITY  # kg m-2
                qs = saturation[j]
                change = 0.0  # humidity change over the step, kg kg-1
                if q[i, k] > threshold * qs:
                    change = saturation_adjustment(T[i, k], q[i, k], p[i, k], threshold,
                                                   iterations)
                    change = min(change, 0.0)  # the iteration only ever condenses here
                    falling[j] -= change * mass
                elif reevaporation and falling[j] > 0.0 and mass > 0.0:
                    deficit = saturation_adjustment(T[i, k], q[i, k], p[i, k], threshold,
                                                    iterations)
                    # at most to saturation, at most what arrives from above
                    change = min(max(deficit, 0.0), falling[j] / mass)
                    falling[j] = max(falling[j] - change * mass, 0.0)
                if change != 0.0:
                    dq[i, k] = change / dt
                    dT[i, k] = -lv_cp * dq[i, k]
                column[j] += dq[i, k] * dp
        # surface precipitation from the tendencies themselves, so that the water budget
        # closes to round-off; the clip only removes round-off when everything re-evaporated
        for i in range(first, last):
            j = i - first
            precip[i] = -column[j] / GRAVITY if column[j] < 0.0 else 0.0
