"""Tests of the Gaussian grid and the spherical harmonic transforms.

Every test checks a property that a wrong sign, normalisation, parity or indexing
would break: exact quadrature, orthonormality, closed-form derivatives of low-order
harmonics, solid-body rotation, transform round trips, batching and threading.
"""

from functools import cache

import numba
import numpy as np
import pytest
from numpy.polynomial import legendre as npleg

from gcm.gaussian_grid import gaussian_grid
from gcm.spherical_harmonics import SpectralTransform, legendre_functions

RADIUS = 6.371e6
TRUNCATIONS = [21, 31, 42]


@cache
def transform(truncation: int, kind: str = "quadratic") -> SpectralTransform:
    return SpectralTransform(gaussian_grid(truncation, kind), radius=RADIUS)


def random_spec(st: SpectralTransform, rng, lead=(), zero_mean=False) -> np.ndarray:
    """Random band-limited coefficients: zero for n < m, real for m = 0."""
    shape = tuple(lead) + st.spec_shape
    spec = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * st.valid
    spec[..., 0, :] = spec[..., 0, :].real
    if zero_mean:
        spec[..., :, 0] = 0.0
    return spec


def rel_err(a, b) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def lonlat(st: SpectralTransform):
    """Broadcastable (nlat, 1) mu, coslat and (1, nlon) longitude in radians."""
    g = st.grid
    return g.mu[:, None], g.coslat[:, None], np.radians(g.lon)[None, :]


# ----------------------------------------------------------------------------------
# Gaussian grid
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "truncation, nlon, nlat",
    [(21, 64, 32), (31, 96, 48), (42, 128, 64), (63, 192, 96), (85, 256, 128)],
)
def test_quadratic_grid_sizes(truncation, nlon, nlat):
    g = gaussian_grid(truncation)
    assert (g.nlon, g.nlat) == (nlon, nlat)
    assert g.mu.shape == g.weights.shape == g.lat.shape == g.coslat.shape == (nlat,)
    assert g.lon.shape == (nlon,)


@pytest.mark.parametrize("truncation", [5, 21, 42, 106])
def test_linear_grid_rule(truncation):
    g = gaussian_grid(truncation, "linear")
    assert g.nlon >= 2 * truncation + 1 and g.nlon % 2 == 0 and g.nlat == g.nlon // 2
    n = g.nlon
    for p in (2, 3, 5):
        while n % p == 0:
            n //= p
    assert n == 1
    # smallest such number: nlon - 2 must fail the rule
    assert g.nlon - 2 < 2 * truncation + 1 or not _is_235(g.nlon - 2)


def _is_235(n: int) -> bool:
    for p in (2, 3, 5):
        while n % p == 0:
            n //= p
    return n == 1


@pytest.mark.parametrize("truncation", [21, 29, 42, 85])
def test_gaussian_quadrature_exact(truncation):
    g = gaussian_grid(truncation)
    assert abs(g.weights.sum() - 2.0) < 1e-14
    assert np.all(np.diff(g.mu) > 0)
    np.testing.assert_array_equal(g.mu, -g.mu[::-1])
    for k in range(2 * g.nlat):
        exact = 2.0 / (k + 1) if k % 2 == 0 else 0.0
        assert abs(np.dot(g.weights, g.mu**k) - exact) < 2e-15, k
    # the nodes are the roots of P_nlat, so the degree-2nlat integrand P_nlat² (exact
    # integral 2/(2 nlat + 1)) is the first one the rule gets wrong
    c = np.zeros(g.nlat + 1)
    c[-1] = 1.0
    p_nlat = npleg.legval(g.mu, c)
    node_error = np.abs(p_nlat / npleg.legval(g.mu, npleg.legder(c)))  # one Newton step
    assert np.max(node_error) < 1e-15
    assert np.dot(g.weights, p_nlat**2) < 1e-25


def test_grid_coordinates():
    g = gaussian_grid(31)
    np.testing.assert_allclose(np.sin(np.radians(g.lat)), g.mu, atol=1e-15)
    np.testing.assert_allclose(g.coslat, np.sqrt(1 - g.mu**2), rtol=1e-13)
    assert g.lon[0] == 0.0 and abs(g.lon[1] - 360.0 / g.nlon) < 1e-12
    assert abs(g.area_weights.sum() - 1.0) < 1e-14


@pytest.mark.parametrize("truncation", [4, 0, 342, 1000])
def test_unsupported_truncation_raises(truncation):
    with pytest.raises(ValueError, match=rf"unsupported truncation T{truncation}\b.*T5.*T341"):
        gaussian_grid(truncation)


def test_unknown_grid_kind_raises():
    with pytest.raises(ValueError, match="quadratic.*linear"):
        gaussian_grid(21, "cubic")


# ----------------------------------------------------------------------------------
# Legendre functions
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("truncation", TRUNCATIONS)
def test_legendre_orthonormal(truncation):
    st = transform(truncation)
    gram = np.einsum("mnj,mkj,j->mnk", st.P, st.P, st.grid.weights)
    expected = np.eye(truncation + 1)[None] * st.valid[:, :, None] * st.valid[:, None, :]
    assert np.max(np.abs(gram - expected)) < 1e-12


def test_legendre_closed_forms():
    mu = np.linspace(-0.99, 0.99, 37)
    p, h = legendre_functions(6, mu)
    s = np.sqrt(1 - mu**2)
    np.testing.assert_allclose(p[0, 0], 1 / np.sqrt(2), rtol=1e-15)
    np.testing.assert_allclose(p[0, 1], np.sqrt(1.5) * mu, rtol=1e-14)
    np.testing.assert_allclose(p[1, 1], np.sqrt(3) / 2 * s, rtol=1e-14)
    np.testing.assert_allclose(p[1, 2], np.sqrt(15) / 2 * mu * s, rtol=1e-14)
    np.testing.assert_allclose(h[0, 1], np.sqrt(1.5) * (1 - mu**2), rtol=1e-14)
    np.testing.assert_allclose(h[1, 1], -np.sqrt(3) / 2 * mu * s, rtol=1e-13, atol=1e-16)
    # m = 0 against numpy's Legendre polynomials: P_n^0 = sqrt((2n+1)/2) L_n
    for n in range(7):
        c = np.zeros(n + 1)
        c[n] = 1.0
        np.testing.assert_allclose(p[0, n], np.sqrt(n + 0.5) * npleg.legval(mu, c), atol=1e-14)
        dl = npleg.legval(mu, npleg.legder(c))
        np.testing.assert_allclose(h[0, n], np.sqrt(n + 0.5) * (1 - mu**2) * dl, atol=1e-13)
    assert np.all(p[np.tril_indices(7, -1)] == 0) and np.all(h[np.tril_indices(7, -1)] == 0)


def test_legendre_parity_and_h_derivative():
    st = transform(21)
    sign = (-1.0) ** (st.n_index + st.m_index)
    np.testing.assert_allclose(st.P[:, :, ::-1], sign[:, :, None] * st.P, atol=1e-14)
    np.testing.assert_allclose(st.H[:, :, ::-1], -sign[:, :, None] * st.H, atol=1e-13)
    # H = (1 - mu²) dP/dmu, checked by central differences
    mu = np.array([-0.7, -0.2, 0.3, 0.8])
    d = 1e-6
    p_plus, _ = legendre_functions(21, mu + d)
    p_minus, _ = legendre_functions(21, mu - d)
    _, h = legendre_functions(21, mu)
    fd = (1 - mu**2) * (p_plus - p_minus) / (2 * d)
    np.testing.assert_allclose(h, fd, atol=2e-6 * np.max(np.abs(h)))


# ----------------------------------------------------------------------------------
# Scalar transforms
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("truncation", TRUNCATIONS)
def test_round_trip_spectral_grid_spectral(truncation):
    st = transform(truncation)
    spec = random_spec(st, np.random.default_rng(truncation), lead=(3,))
    back = st.to_spectral(st.to_grid(spec))
    assert rel_err(back, spec) < 1e-12
    assert np.all(back[..., 0, :].imag == 0.0)
    assert np.all(back[..., ~st.valid] == 0.0)


@pytest.mark.parametrize("truncation", TRUNCATIONS)
def test_round_trip_grid_spectral_grid(truncation):
    st = transform(truncation)
    grid = st.to_grid(random_spec(st, np.random.default_rng(1), lead=(2,)))
    assert grid.dtype == np.float64 and grid.shape == (2,) + st.grid_shape
    assert rel_err(st.to_grid(st.to_spectral(grid)), grid) < 1e-12


def test_synthesis_ignores_m0_imag_and_lower_triangle():
    st = transform(21)
    rng = np.random.default_rng(2)
    spec = random_spec(st, rng)
    junk = spec + 1j * rng.standard_normal(st.spec_shape) * (st.m_index == 0)
    junk = junk + rng.standard_normal(st.spec_shape) * ~st.valid
    np.testing.assert_allclose(st.to_grid(junk), st.to_grid(spec), rtol=0, atol=1e-14)


def test_synthesis_matches_direct_sum():
    st = transform(21)
    spec = random_spec(st, np.random.default_rng(3))
    mu, _, lam = lonlat(st)
    m = np.arange(22)
    four = np.einsum("mn,mnj->jm", spec, st.P)  # F_m(mu_j)
    phase = np.exp(1j * m[None, None, :] * lam[..., None])  # (1, nlon, m)
    weight = np.where(m == 0, 1.0, 2.0)  # + complex conjugate for m > 0
    direct = np.real(np.einsum("jm,ilm,m->jl", four, phase, weight))
    np.testing.assert_allclose(st.to_grid(spec), direct, atol=1e-12 * np.abs(direct).max())


def test_analysis_of_constant_and_mu():
    st = transform(31)
    mu, _, _ = lonlat(st)
    ones = np.ones(st.grid_shape)
    spec = st.to_spectral(ones)
    expected = np.zeros(st.spec_shape, complex)
    expected[0, 0] = np.sqrt(2.0)  # 1 = sqrt(2) P_0^0
    np.testing.assert_allclose(spec, expected, atol=1e-14)
    spec = st.to_spectral(mu * ones)
    expected[0, 0] = 0.0
    expected[0, 1] = np.sqrt(2.0 / 3.0)  # mu = sqrt(2/3) P_1^0
    np.testing.assert_allclose(spec, expected, atol=1e-14)
    assert abs(st.global_mean(3.0 * ones) - 3.0) < 1e-14
    assert abs(st.global_mean(mu**2 * ones) - 1.0 / 3.0) < 1e-14


# ----------------------------------------------------------------------------------
# Spectral operators and gradients against closed forms
# ----------------------------------------------------------------------------------


def _p_mm_constant(m: int) -> float:
    """c_m with P_m^m = c_m (1 - mu²)^(m/2) for unit-norm functions on [-1, 1]."""
    c = 1 / np.sqrt(2.0)
    for k in range(1, m + 1):
        c *= np.sqrt((2 * k + 1) / (2 * k))
    return c


def _analytic_fields(st):
    """(f, coefficients {(m, n): c}, n, gx, gy) for low-order spherical harmonics.

    gx = (1/a) df/dlambda, gy = (1/a)(1-mu²) df/dmu.  A real field c P e^{im lambda}
    + c.c. = 2 Re(c e^{im lambda}) P for m > 0.
    """
    mu, cs, lam = lonlat(st)
    a = st.radius
    zero = 0.0 * lam
    c5 = 1 / (2 * _p_mm_constant(5))
    return [
        (mu + zero, {(0, 1): np.sqrt(2 / 3)}, 1, zero + 0.0 * mu, (1 - mu**2) / a + zero),
        (cs * np.cos(lam), {(1, 1): 1 / np.sqrt(3)}, 1,
         -cs * np.sin(lam) / a, -mu * cs * np.cos(lam) / a),
        (mu * cs * np.sin(lam), {(1, 2): -1j / np.sqrt(15)}, 2,
         mu * cs * np.cos(lam) / a, cs * (1 - 2 * mu**2) * np.sin(lam) / a),
        (cs**5 * np.cos(5 * lam), {(5, 5): c5}, 5,
         -5 * cs**5 * np.sin(5 * lam) / a, -5 * mu * cs**5 * np.cos(5 * lam) / a),
    ]


def _spec_from(st, coefficients):
    spec = np.zeros(st.spec_shape, complex)
    for (m, n), c in coefficients.items():
        spec[m, n] = c
    return spec


@pytest.mark.parametrize("truncation", TRUNCATIONS)
def test_harmonic_coefficients_closed_form(truncation):
    st = transform(truncation)
    for f, coefficients, _, _, _ in _analytic_fields(st):
        spec = _spec_from(st, coefficients)
        assert np.max(np.abs(st.to_spectral(f) - spec)) < 1e-14
        assert rel_err(st.to_grid(spec), f) < 1e-13


@pytest.mark.parametrize("truncation", TRUNCATIONS)
def test_laplacian_of_harmonics(truncation):
    st = transform(truncation)
    for f, coefficients, n, _, _ in _analytic_fields(st):
        expected = -n * (n + 1) / st.radius**2 * f
        lap = st.to_grid(st.laplacian(_spec_from(st, coefficients)))
        assert rel_err(lap, expected) < 1e-12
        # From grid data the analysis leaves ~1e-14 noise on the other coefficients
        # (the orthonormality error of P in double precision), which the Laplacian
        # amplifies by up to T(T+1)/(n(n+1)).
        lap = st.to_grid(st.laplacian(st.to_spectral(f)))
        assert rel_err(lap, expected) < 2e-14 * truncation * (truncation + 1)


@pytest.mark.parametrize("truncation", TRUNCATIONS)
def test_cos_gradient_of_harmonics(truncation):
    st = transform(truncation)
    for _, coefficients, _, gx, gy in _analytic_fields(st):
        spec = _spec_from(st, coefficients)
        cx, cy = st.cos_gradient(spec)
        scale = np.max(np.abs(gy)) + np.max(np.abs(gx))
        assert np.max(np.abs(cx - gx)) < 1e-12 * scale
        assert np.max(np.abs(cy - gy)) < 1e-12 * scale
        fx, fy = st.gradient(spec)
        coslat = st.grid.coslat[:, None]
        np.testing.assert_allclose(fx * coslat, cx, rtol=0, atol=1e-13 * scale)
        np.testing.assert_allclose(fy * coslat, cy, rtol=0, atol=1e-13 * scale)


def test_gradient_of_mu_is_northward():
    st = transform(31)
    _, cs, _ = lonlat(st)
    spec = np.zeros(st.spec_shape, complex)
    spec[0, 1] = np.sqrt(2 / 3)  # f = mu
    fx, fy = st.gradient(spec)
    expected = np.broadcast_to(cs / st.radius, fy.shape)
    assert np.max(np.abs(fx)) < 1e-12 / st.radius
    np.testing.assert_allclose(fy, expected, rtol=0, atol=1e-12 / st.radius)


def test_spectral_attributes_and_inverse_laplacian():
    st = transform(21)
    n = st.n_index
    assert st.n_index.shape == st.valid.shape == st.eigenvalues.shape == (22, 22)
    assert np.array_equal(st.valid, n >= st.m_index)
    np.testing.assert_allclose(st.eigenvalues, -n * (n + 1) / RADIUS**2, rtol=1e-15)
    spec = random_spec(st, np.random.default_rng(4), lead=(2,))
    back = st.inverse_laplacian(st.laplacian(spec))
    expected = np.where(n > 0, spec, 0.0)
    assert rel_err(back, expected) < 1e-14
    assert np.all(st.inverse_laplacian(spec)[..., 0] == 0.0)


# ----------------------------------------------------------------------------------
# Winds, vorticity and divergence
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("truncation", TRUNCATIONS)
def test_solid_body_rotation(truncation):
    st = transform(truncation)
    mu, cs, _ = lonlat(st)
    u0 = 25.0
    u = u0 * cs * np.ones(st.grid_shape)
    vor, div = st.vordiv_from_uv(u, np.zeros(st.grid_shape))
    expected = 2.0 * u0 * mu / st.radius * np.ones(st.grid_shape)
    assert rel_err(st.to_grid(vor), expected) < 1e-12
    assert abs(vor[0, 1] - 2.0 * u0 / st.radius * np.sqrt(2.0 / 3.0)) < 1e-12 * u0 / st.radius
    assert np.max(np.abs(div)) < 1e-12 * u0 / st.radius
    U, V = st.cos_uv_from_vordiv(vor, div)
    assert np.max(np.abs(U - u0 * (1 - mu**2))) < 1e-12 * u0
    assert np.max(np.abs(V)) < 1e-12 * u0
    u_back, v_back = st.uv_from_vordiv(vor, div)
    assert np.max(np.abs(u_back - u)) < 1e-12 * u0 and np.max(np.abs(v_back)) < 1e-12 * u0
    # the cosφ-weighted entry point gives the same
    vor2, div2 = st.vordiv_from_cos_uv(u * cs, np.zeros(st.grid_shape))
    np.testing.assert_allclose(vor2, vor, atol=1e-13 * u0 / st.radius)


def test_purely_divergent_flow():
    # velocity potential chi = v0 a mu: v = v0 cosφ, D = -2 v0 mu / a
    st = transform(31)
    mu, cs, _ = lonlat(st)
    v0 = 3.0
    v = v0 * cs * np.ones(st.grid_shape)
    vor, div = st.vordiv_from_uv(np.zeros(st.grid_shape), v)
    assert np.max(np.abs(vor)) < 1e-12 * v0 / st.radius
    assert rel_err(st.to_grid(div), -2 * v0 * mu / st.radius * np.ones(st.grid_shape)) < 1e-12
    U, V = st.cos_uv_from_vordiv(vor, div)
    assert np.max(np.abs(U)) < 1e-12 * v0
    assert np.max(np.abs(V - v0 * (1 - mu**2))) < 1e-12 * v0


@pytest.mark.parametrize("truncation", TRUNCATIONS)
def test_vector_round_trip(truncation):
    st = transform(truncation)
    rng = np.random.default_rng(10 + truncation)
    vor = random_spec(st, rng, lead=(2,), zero_mean=True)
    div = random_spec(st, rng, lead=(2,), zero_mean=True)
    U, V = st.cos_uv_from_vordiv(vor, div)
    vor2, div2 = st.vordiv_from_cos_uv(U, V)
    assert rel_err(vor2, vor) < 1e-12 and rel_err(div2, div) < 1e-12
    u, v = st.uv_from_vordiv(vor, div)
    coslat = st.grid.coslat[:, None]
    np.testing.assert_allclose(u * coslat, U, atol=1e-13 * np.abs(U).max())
    vor3, div3 = st.vordiv_from_uv(u, v)
    assert rel_err(vor3, vor) < 1e-12 and rel_err(div3, div) < 1e-12


def test_vordiv_ignores_mean_and_is_real_at_m0():
    st = transform(21)
    rng = np.random.default_rng(5)
    vor = random_spec(st, rng)
    div = random_spec(st, rng)
    U, V = st.cos_uv_from_vordiv(vor, div)
    vor[0, 0] = div[0, 0] = 0.0
    U0, V0 = st.cos_uv_from_vordiv(vor, div)
    np.testing.assert_array_equal(U, U0)
    vor2, div2 = st.vordiv_from_cos_uv(U, V)
    assert np.all(vor2[0].imag == 0.0) and np.all(div2[0].imag == 0.0)
    assert np.all(vor2[~st.valid] == 0.0)


@pytest.mark.parametrize("truncation", TRUNCATIONS)
def test_divergence_only_matches(truncation):
    st = transform(truncation)
    rng = np.random.default_rng(6)
    A = rng.standard_normal((3,) + st.grid_shape)  # not band-limited: still identical
    B = rng.standard_normal((3,) + st.grid_shape)
    _, div = st.vordiv_from_cos_uv(A, B)
    np.testing.assert_allclose(st.divergence_from_cos_uv(A, B), div, rtol=0,
                               atol=1e-14 * np.abs(div).max())


def test_gradient_is_curl_free_and_matches_laplacian():
    # div(grad f) = lap f and curl(grad f) = 0, through the grid
    st = transform(31)
    f = random_spec(st, np.random.default_rng(7))
    f[:, -1] = 0.0  # n = T would feed n = T+1 content into the product below
    gx, gy = st.cos_gradient(f)
    vor, div = st.vordiv_from_cos_uv(gx, gy)
    lap = st.laplacian(f)
    assert rel_err(div, lap) < 1e-12
    assert np.max(np.abs(vor)) < 1e-12 * np.abs(lap).max()


# ----------------------------------------------------------------------------------
# Odd Gaussian grids, batching, threads, input checking
# ----------------------------------------------------------------------------------


def test_odd_latitude_count():
    st = transform(29)  # 90 x 45: the equator is a grid row
    assert st.nlat % 2 == 1
    rng = np.random.default_rng(8)
    spec = random_spec(st, rng, lead=(2,))
    assert rel_err(st.to_spectral(st.to_grid(spec)), spec) < 1e-12
    vor = random_spec(st, rng, zero_mean=True)
    div = random_spec(st, rng, zero_mean=True)
    vor2, div2 = st.vordiv_from_cos_uv(*st.cos_uv_from_vordiv(vor, div))
    assert rel_err(vor2, vor) < 1e-12 and rel_err(div2, div) < 1e-12
    gram = np.einsum("mnj,mkj,j->mnk", st.P, st.P, st.grid.weights)
    expected = np.eye(30)[None] * st.valid[:, :, None] * st.valid[:, None, :]
    assert np.max(np.abs(gram - expected)) < 1e-12


def test_batching_matches_slices():
    st = transform(21)
    rng = np.random.default_rng(9)
    spec = random_spec(st, rng, lead=(3, 4))
    spec2 = random_spec(st, rng, lead=(3, 4))
    grid = st.to_grid(spec)
    grid2 = st.to_grid(spec2)
    assert grid.shape == (3, 4) + st.grid_shape
    batched = {
        "to_grid": (st.to_grid(spec),),
        "to_spectral": (st.to_spectral(grid),),
        "cos_gradient": st.cos_gradient(spec),
        "gradient": st.gradient(spec),
        "cos_uv_from_vordiv": st.cos_uv_from_vordiv(spec, spec2),
        "uv_from_vordiv": st.uv_from_vordiv(spec, spec2),
        "vordiv_from_cos_uv": st.vordiv_from_cos_uv(grid, grid2),
        "vordiv_from_uv": st.vordiv_from_uv(grid, grid2),
        "divergence_from_cos_uv": (st.divergence_from_cos_uv(grid, grid2),),
    }
    for i in range(3):
        for j in range(4):
            single = {
                "to_grid": (st.to_grid(spec[i, j]),),
                "to_spectral": (st.to_spectral(grid[i, j]),),
                "cos_gradient": st.cos_gradient(spec[i, j]),
                "gradient": st.gradient(spec[i, j]),
                "cos_uv_from_vordiv": st.cos_uv_from_vordiv(spec[i, j], spec2[i, j]),
                "uv_from_vordiv": st.uv_from_vordiv(spec[i, j], spec2[i, j]),
                "vordiv_from_cos_uv": st.vordiv_from_cos_uv(grid[i, j], grid2[i, j]),
                "vordiv_from_uv": st.vordiv_from_uv(grid[i, j], grid2[i, j]),
                "divergence_from_cos_uv": (st.divergence_from_cos_uv(grid[i, j], grid2[i, j]),),
            }
            for name, outs in single.items():
                for b, s in zip(batched[name], outs, strict=True):
                    assert b[i, j].shape == s.shape, name
                    np.testing.assert_allclose(b[i, j], s, rtol=0,
                                               atol=1e-14 * np.abs(s).max(), err_msg=name)


def test_thread_count_does_not_change_results():
    st = transform(31)
    rng = np.random.default_rng(11)
    vor = random_spec(st, rng, lead=(5,), zero_mean=True)
    div = random_spec(st, rng, lead=(5,), zero_mean=True)

    def run():
        U, V = st.cos_uv_from_vordiv(vor, div)
        return (st.to_grid(vor), U, V, *st.vordiv_from_cos_uv(U, V), st.to_spectral(U))

    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = run()
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        for _ in range(3):
            for a, b in zip(run(), serial, strict=True):
                np.testing.assert_array_equal(a, b)
    finally:
        numba.set_num_threads(old)


def test_shape_errors():
    st = transform(21)
    with pytest.raises(ValueError, match="spectral array"):
        st.to_grid(np.zeros((21, 21), complex))
    with pytest.raises(ValueError, match="grid array"):
        st.to_spectral(np.zeros((32, 65)))
    with pytest.raises(ValueError, match="differ"):
        st.cos_uv_from_vordiv(np.zeros((2, 22, 22), complex), np.zeros((22, 22), complex))


def test_single_field_shapes_and_dtypes():
    st = transform(21)
    spec = st.to_spectral(np.ones(st.grid_shape))
    assert spec.shape == st.spec_shape and spec.dtype == np.complex128
    U, V = st.cos_uv_from_vordiv(spec, spec)
    assert U.shape == V.shape == st.grid_shape and U.dtype == np.float64
    vor, div = st.vordiv_from_cos_uv(U, V)
    assert vor.shape == div.shape == st.spec_shape


BOUNDS_CHECKED_TRANSFORMS = """
import numpy as np
from gcm.gaussian_grid import gaussian_grid
from gcm.spherical_harmonics import SpectralTransform
st = SpectralTransform(gaussian_grid(10))
rng = np.random.default_rng(0)
spec = rng.normal(size=(3, 11, 11)) + 1j * rng.normal(size=(3, 11, 11))
grid = st.to_grid(spec)
u, v = st.uv_from_vordiv(spec, spec)
U, V = st.cos_uv_from_vordiv(spec, spec)
st.cos_gradient(spec[0])
st.to_spectral(grid)
st.vordiv_from_uv(u, v)
st.vordiv_from_cos_uv(U, V)
st.divergence_from_cos_uv(U, V)
print("in bounds")
"""


def test_transform_kernels_stay_inside_their_arrays(tmp_path):
    """Numba does not check indices: a read past a scratch array once returned heap
    garbage that turned moist runs to NaN at random. Compile the kernels with bounds
    checking (in a fresh cache) and run every transform once."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", BOUNDS_CHECKED_TRANSFORMS], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "in bounds" in result.stdout


def test_both_fft_engines_give_the_same_transforms(monkeypatch):
    """ducc0 (the default) and scipy agree to round-off on every transform kind; an
    unknown GCM_FFT is named."""
    pytest.importorskip("ducc0")
    rng = np.random.default_rng(7)
    engines = {}
    for engine in ("ducc0", "scipy"):
        monkeypatch.setenv("GCM_FFT", engine)
        engines[engine] = SpectralTransform(gaussian_grid(42), radius=RADIUS)
    spec = random_spec(engines["scipy"], rng, lead=(4,))
    grid = engines["scipy"].to_grid(spec)
    for name, call in [("to_grid", lambda st: st.to_grid(spec)),
                       ("to_spectral", lambda st: st.to_spectral(grid)),
                       ("uv", lambda st: np.stack(st.uv_from_vordiv(spec, spec))),
                       ("vordiv", lambda st: np.stack(st.vordiv_from_cos_uv(grid, grid[::-1])))]:
        assert rel_err(call(engines["ducc0"]), call(engines["scipy"])) < 1e-13, name
    monkeypatch.setenv("GCM_FFT", "fftw")
    with pytest.raises(ValueError, match="GCM_FFT='fftw'"):
        SpectralTransform(gaussian_grid(21), radius=RADIUS)
