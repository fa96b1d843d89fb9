"""exp and log written out in numba arithmetic, so that loops calling them
vectorize.

Why: numba lowers np.exp and np.log to calls into the C library (glibc), about 4 ns a
call, and LLVM cannot vectorize a loop that contains such a call. In the convection
(_betts_miller_kernel) and boundary-layer (_boundary_layer_kernel) kernels at T42L25 these
calls were 35-40 % of the time. The functions here are only multiplications, additions,
one division (log) and bit manipulations, which LLVM turns into SIMD code: about 1 ns a
value in a vectorized loop (1.3 ns for exp, 1.5 ns for log against glibc's 4.3 ns, one
thread). Measured on the T42L25 aquaplanet state, 2 threads, best of many calls: boundary
layer 4.0 -> 2.8 ms a call, convection about 5.7 -> 5.3 ms (see the commit message). In
the gray radiation's loop (strided, not vectorized) they were slower than libm's.

They are scalar functions meant to be inlined into the loops of numba kernels
(inline="always"); the kernels must not be compiled with fastmath, whose reassociation
would undo the rounding trick of exp's range reduction. numba's on-disk cache does not
notice a change of this file in the kernels that inline these functions: after editing
it, delete the callers' cached .nbi/.nbc files (gcm/physics/__pycache__, tests/__pycache__).

Algorithms (double precision, round to nearest):

exp(x): x = k ln 2 + r with k = round(x / ln 2) and |r| <= ln 2 / 2. k is rounded by
    adding 1.5 * 2^52 (the sum's last bit is then the units of x / ln 2); r is computed
    as (x - k ln2_hi) - k ln2_lo, with ln2_hi holding the first 32 bits of ln 2, so that
    k ln2_hi is exact. exp(r) - 1 = r + r^2 P(r) with P the Taylor polynomial of degree 11
    (the series of exp to r^13), whose truncation error is below (ln 2/2)^14 / 14! =
    4e-18, 0.02 ulp of exp(r). The result 2^k (1 + (exp(r) - 1)) is scaled by two powers
    of two, 2^(k - k//2) and 2^(k//2), so that gradual underflow (x < -708.4) comes out
    right to within an ulp of the subnormal result. Outside [-746, 710] (and for NaN)
    the reduction gives garbage, which selects replace by 0, inf or NaN: in a vector
    loop a select is cheaper than clamping the argument first.
    Accuracy: within 1 ulp of the correctly rounded result (tests/test_vector_math.py
    measures it against numpy). x >= 709.79 gives +inf, x <= -745.14 gives +0, +inf and
    -inf give +inf and 0, NaN gives NaN.
log(x): x = 2^e m with m in [sqrt(2)/2, sqrt(2)) (subnormal x are first scaled by 2^54).
    With f = m - 1 and s = f / (2 + f), log(m) = 2 atanh(s) = 2s + s R(s^2) with
    R(z) = sum_{n>=1} 2 z^n / (2n + 1), summed to n = 10: |s| <= 0.172 and z <= 0.0295,
    so the omitted terms are below z^11 / 23 = 6e-19 of log(m). log(m) is evaluated as
    f - s (f - R) (since 2s = f - s f) to keep f's exactness, and e ln 2 is added in the
    same two parts as in exp. Within 1 ulp. log(+0) and log(-0) give -inf, log(x < 0)
    and log(-inf) NaN, log(+inf) +inf, log(NaN) NaN.
"""

from __future__ import annotations

import decimal
import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def _as_float(typingctx, bits):
    """The float64 whose bit pattern is the int64 bits (no conversion of the value)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _as_bits(typingctx, x):
    """The bit pattern of the float64 x as an int64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


def _ln2_parts():
    """ln 2 as hi + lo: hi with the last 21 of its 52 fraction bits zero (so that k hi is
    exact for |k| < 2^21), lo the rest, from a 40-digit ln 2."""
    decimal.getcontext().prec = 40
    ln2 = decimal.Decimal(2).ln()
    bits = np.float64(float(ln2)).view(np.int64)
    hi = float(np.int64(bits & ~np.int64((1 << 21) - 1)).view(np.float64))
    lo = float(ln2 - decimal.Decimal(hi))
    return hi, lo


LN2_HI, LN2_LO = _ln2_parts()
INV_LN2 = 1.0 / math.log(2.0)
ROUNDING_SHIFT = 1.5 * 2.0**52  # x + this, then - this, rounds x to an integer
ROUNDING_SHIFT_BITS = int(np.float64(ROUNDING_SHIFT).view(np.int64))
EXP_ARGUMENT_MAX = 710.0  # exp(710) overflows: from here on the result is set to inf
EXP_ARGUMENT_MIN = -746.0  # exp(-746) rounds to 0: from here down the result is set to 0
# Taylor coefficients 1/n! of exp, n = 2..13
E2, E3, E4, E5, E6, E7, E8, E9, E10, E11, E12, E13 = (1.0 / math.factorial(n)
                                                       for n in range(2, 14))
# atanh series coefficients 2/(2n + 1), n = 1..10
A1, A2, A3, A4, A5, A6, A7, A8, A9, A10 = (2.0 / (2 * n + 1) for n in range(1, 11))
# the two polynomials, highest coefficient first (Horner's order)
EXP_POLYNOMIAL = (E13, E12, E11, E10, E9, E8, E7, E6, E5, E4, E3, E2)
LOG_POLYNOMIAL = (A10, A9, A8, A7, A6, A5, A4, A3, A2, A1)
SQRT2 = math.sqrt(2.0)
SMALLEST_NORMAL = 2.0**-1022
SUBNORMAL_SCALE = 2.0**54
EXPONENT_MASK = 0x7FF
FRACTION_MASK = (1 << 52) - 1
ONE_BITS = 0x3FF0000000000000  # bits of 1.0: exponent field 1023, fraction 0
EXPONENT_TO_FLOAT_BITS = 0x4330000000000000  # bits of 2^52: adding n < 2^52 gives 2^52 + n
TWO_TO_52 = 2.0**52


@numba.njit(cache=True, inline="always", error_model="numpy")
def _horner(x, coefficients):
    """sum_i coefficients[i] x^(n-1-i) by Horner's rule (a constant tuple: the loop is
    unrolled, the same operations as written out)."""
    p = coefficients[0]
    for c in coefficients[1:]:
        p = p * x + c
    return p


@numba.njit(cache=True, inline="always", error_model="numpy")
def _exp_reduced(x):
    """(k, exp(r) - 1) with exp(x) = 2^k exp(r), k an int64 and |r| <= ln 2 / 2, for
    x in [EXP_ARGUMENT_MIN, EXP_ARGUMENT_MAX] (garbage, but no error, outside)."""
    shifted = x * INV_LN2 + ROUNDING_SHIFT
    kf = shifted - ROUNDING_SHIFT
    k = _as_bits(shifted) - ROUNDING_SHIFT_BITS  # the integer kf, without a conversion
    r = (x - kf * LN2_HI) - kf * LN2_LO
    return k, r + (r * r) * _horner(r, EXP_POLYNOMIAL)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _power_of_two(k):
    """2^k (float64) for the int64 k in [-1022, 1023]."""
    return _as_float((k + 1023) << 52)


@numba.njit(cache=True, inline="always", error_model="numpy")
def vexp(x):
    """exp(x) of a float64, within 1 ulp; inf beyond 709.78, 0 below -745.13, NaN for NaN."""
    # arguments outside [EXP_ARGUMENT_MIN, EXP_ARGUMENT_MAX] (and NaN) give garbage in the
    # reduction, replaced by the selects below: cheaper in a vector loop than clamping
    k, em1 = _exp_reduced(x)
    half = k >> 1  # two factors 2^half 2^(k - half): each normal for k in [-1076, 1024]
    y = (_power_of_two(half) + _power_of_two(half) * em1) * _power_of_two(k - half)
    y = y if x < EXP_ARGUMENT_MAX else np.inf
    y = y if x > EXP_ARGUMENT_MIN else 0.0
    return y if x == x else x


@numba.njit(cache=True, inline="always", error_model="numpy")
def vlog(x):
    """Natural logarithm of a float64, within 1 ulp; -inf for +-0, NaN for x < 0 and NaN,
    inf for inf."""
    tiny = x < SMALLEST_NORMAL
    scaled = x * SUBNORMAL_SCALE if tiny else x
    bits = _as_bits(scaled)
    biased_exponent = (bits >> 52) & EXPONENT_MASK
    m = _as_float((bits & FRACTION_MASK) | ONE_BITS)  # in [1, 2)
    above = m > SQRT2
    m = 0.5 * m if above else m
    # the exponent as a float without an int-to-float conversion: 2^52 + n - 2^52
    e = (_as_float(EXPONENT_TO_FLOAT_BITS | biased_exponent) - TWO_TO_52) - 1023.0
    e = e + 1.0 if above else e
    e = e - 54.0 if tiny else e
    f = m - 1.0  # exact
    s = f / (2.0 + f)
    z = s * s
    R = _horner(z, LOG_POLYNOMIAL) * z
    y = e * LN2_HI + ((f - s * (f - R)) + e * LN2_LO)
    y = y if x < np.inf else x  # +inf stays, NaN stays
    return y if x > 0.0 else (-np.inf if x == 0.0 else np.nan)

