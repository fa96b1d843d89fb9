"""The Robert–Asselin–Williams filter has one definition (time_integration.raw_filter):
the spectral kernel, the conservation ledger and the carried old level use it."""

import numpy as np

from gcm.conservation import GlobalTotals, Ledger
from gcm.old_level_grid import OldLevelGrid
from gcm.time_integration import raw_filter, robert_asselin_williams


def test_the_spectral_kernel_is_the_filter_bit_for_bit():
    rng = np.random.default_rng(3)
    old, now, new = (rng.normal(size=(4, 8, 8)) + 1j * rng.normal(size=(4, 8, 8))
                     for _ in range(3))
    curvature = old - 2 * now + new
    expected_now, expected_new = raw_filter(old, now, new, 0.05, 0.53)
    robert_asselin_williams(old, now, new, 0.05, 0.53)
    assert now.tobytes() == expected_now.tobytes() and new.tobytes() == expected_new.tobytes()
    # and it filters: the curvature old - 2 now + new shrinks by 1 - (1 + alpha) nu/2
    np.testing.assert_allclose(old - 2 * now + new, curvature * (1 - 1.53 * 0.025), rtol=1e-12)


def test_the_ledger_filters_its_totals_with_the_filter():
    ledger = Ledger(GlobalTotals(mass=1e4, water=25.0, energy=2.5e9))
    ledger.water = np.array([25.0, 25.5])
    ledger.advance(1e-4, 0.0, 3600.0, (0.05, 0.53))
    assert tuple(ledger.water) == raw_filter(25.0, 25.5, 25.0 + 3600.0 * 1e-4, 0.05, 0.53)


def test_kappa_of_the_carried_old_level_is_read_off_the_filter():
    rng = np.random.default_rng(4)
    for nu, alpha in [(0.05, 0.53), (0.1, 1.0), *rng.uniform(0.0, 1.0, size=(1000, 2))]:
        kappa = OldLevelGrid.filter_weight(nu, alpha)
        # the closed form of gcm.old_level_grid, bitwise
        assert kappa == alpha * 0.5 * nu / (1.0 - (1.0 - alpha) * 0.5 * nu)
        # and what it means: next old = now + kappa (old - 2 now + filtered new)
        old, now, raw = rng.normal(size=3)
        next_old, next_now = raw_filter(old, now, raw, nu, alpha)
        assert abs(now + kappa * (old - 2 * now + next_now) - next_old) < 1e-12
