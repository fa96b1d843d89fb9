"""The blow-up check's one-pass finiteness test (gcm.blow_up.all_finite) against numpy's."""

import numpy as np
import pytest

from gcm.blow_up import all_finite


def state_like(rng):
    """Arrays of a spectral state's kinds: complex (nlev, m, n), complex (m, n), and a
    real grid field."""
    return [rng.normal(size=(5, 6, 6)) + 1j * rng.normal(size=(5, 6, 6)),
            rng.normal(size=(6, 6)) + 0j, rng.normal(size=(4, 8))]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["first real", "last imaginary", "grid"])
def test_any_nonfinite_value_is_found(bad, where):
    rng = np.random.default_rng(0)
    arrays = state_like(rng)
    assert all_finite(arrays)
    if where == "first real":
        arrays[0][0, 0, 0] = complex(bad, 0.0)
    elif where == "last imaginary":
        arrays[1][-1, -1] = complex(0.0, bad)
    else:
        arrays[2][3, 7] = bad
    assert not all_finite(arrays)
    assert all_finite(arrays) == all(np.isfinite(x).all() for x in arrays)


def test_views_and_other_dtypes_are_checked():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 8))
    x[1, 1] = np.nan
    assert all_finite([x[::2]])  # the NaN is in a row the view skips
    assert not all_finite([x[1::2]])
    assert not all_finite([x.astype(np.float32)])
    assert all_finite([np.arange(5)])
