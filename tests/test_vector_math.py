"""gcm.physics.vector_math: exp and log within 1 ulp of numpy's over their whole range,
and the special values (overflow, underflow, zero, negative, inf, NaN) of the docstring."""

import numba
import numpy as np
import pytest

from gcm.physics.saturation import (
    saturation_vapour_pressure,
    saturation_vapour_pressure_vectorizable,
)
from gcm.physics.vector_math import vexp, vlog

EXP, LOG, SATURATION = range(3)  # what _elementwise applies


@numba.njit(cache=True, error_model="numpy")
def _elementwise(function, x):
    """vexp, vlog or saturation_vapour_pressure_vectorizable of every entry of x, in a
    loop like the kernels' ones."""
    out = np.empty_like(x)
    for i in range(x.size):
        if function == EXP:
            out[i] = vexp(x[i])
        elif function == LOG:
            out[i] = vlog(x[i])
        else:
            out[i] = saturation_vapour_pressure_vectorizable(x[i])
    return out


def _exp_of(x):
    return _elementwise(EXP, x)


def _log_of(x):
    return _elementwise(LOG, x)


def _es_of(T):
    return _elementwise(SATURATION, T)


def ulps_apart(a, b):
    """Number of representable doubles between a and b (same-sign finite arrays)."""
    ia, ib = a.view(np.int64), b.view(np.int64)
    return np.abs(ia - ib)


RNG = np.random.default_rng(20240611)
N = 400_000


@pytest.mark.parametrize("low, high", [(-745.0, 709.78), (-2.0, 2.0), (-1e-6, 1e-6),
                                       (-60.0, 0.0)])
def test_exp_within_one_ulp_of_numpy(low, high):
    x = RNG.uniform(low, high, N)
    assert ulps_apart(_exp_of(x), np.exp(x)).max() <= 1


@pytest.mark.parametrize("log_low, log_high", [(-745.0, 709.7), (-0.7, 0.7),
                                               (-1e-7, 1e-7), (np.log(1e3), np.log(1e6))])
def test_log_within_one_ulp_of_numpy(log_low, log_high):
    x = np.exp(RNG.uniform(log_low, log_high, N))
    x = x[x != 1.0]  # log(1) = 0 is compared below, its ulp is not that of its neighbours
    assert ulps_apart(_log_of(x), np.log(x)).max() <= 1


def test_log_of_subnormals_within_one_ulp():
    x = RNG.integers(1, 2**52, 100_000).view(np.float64)  # every subnormal exponent
    assert ulps_apart(_log_of(x), np.log(x)).max() <= 1


def test_exp_and_log_at_exact_points():
    x = np.array([0.0, -0.0, 1.0, np.log(2.0) * 10])
    np.testing.assert_array_equal(_exp_of(x[:2]), [1.0, 1.0])
    np.testing.assert_array_equal(_log_of(np.array([1.0, 2.0**-1074, 2.0**1023])),
                                  np.log([1.0, 2.0**-1074, 2.0**1023]))


def test_exp_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 709.78, 709.79, 1e300, -745.13, -745.14,
                  -1e300, -708.5])
    y = _exp_of(x)
    assert np.isnan(y[0])
    np.testing.assert_array_equal(y[1:3], [np.inf, 0.0])
    assert np.isfinite(y[3]) and y[4] == np.inf and y[5] == np.inf  # overflow at 709.78
    assert y[6] == 5e-324 and y[7] == 0.0 and y[8] == 0.0  # gradual underflow, then 0
    assert ulps_apart(y[9:], np.exp(x[9:])).max() <= 1  # subnormal result


def test_log_special_values():
    x = np.array([0.0, -0.0, -1.0, -np.inf, np.nan, np.inf, -5e-324])
    y = _log_of(x)
    np.testing.assert_array_equal(y[:2], [-np.inf, -np.inf])
    assert np.isnan(y[2:5]).all() and np.isnan(y[6])
    assert y[5] == np.inf


def test_saturation_vapour_pressure_vectorizable_matches_libm():
    T = RNG.uniform(150.0, 350.0, N)
    assert ulps_apart(_es_of(T), saturation_vapour_pressure(T)).max() <= 2
