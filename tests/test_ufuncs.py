"""NumPy's rounding, classification and libm-backed ufuncs, and ``math``'s functions on
scalars: exact results (signed zeros, NaN, infinities) where NumPy's are exact, libm's
where NumPy's are transcendental."""

import math

import numpy as np
import pytest

import ember

SPECIALS = [0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.7, -3.7, 1e-300, 1e30, np.inf, -np.inf, np.nan]
EXACT = ["floor", "ceil", "trunc", "rint", "sign", "isnan", "isinf", "isfinite", "fabs", "square",
         "reciprocal"]


def _same(got, want):
    """Equal values, NaN where NumPy has NaN, the same sign on zeros."""
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    if want.dtype.kind == "f":  # the sign of zeros (a NaN's sign means nothing)
        number = ~np.isnan(want)
        np.testing.assert_array_equal(np.signbit(got[number]), np.signbit(want[number]))


@pytest.mark.parametrize("name", EXACT)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_ufuncs_on_special_values(name, dtype):
    fn = getattr(np, name)
    x = np.array(SPECIALS, dtype)
    with np.errstate(all="ignore"):
        _same(ember.trace(lambda a: fn(a), (x,))(x), fn(x))


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "sign", "square", "isnan", "isinf",
                                  "isfinite"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_exact_ufuncs_keep_integers(name, dtype):
    """floor/ceil/trunc of integers are the integers themselves (NumPy 2); sign and square
    stay integers; the classifications are constants."""
    fn = getattr(np, name)
    x = np.array([-7, -1, 0, 1, 5, np.iinfo(dtype).max], dtype)
    with np.errstate(all="ignore"):
        _same(ember.trace(lambda a: fn(a), (x,))(x), fn(x))


@pytest.mark.parametrize("name, message", [("reciprocal", "integers"), ("sign", "bool"),
                                           ("square", "int8"), ("rint", "float16")])
def test_refused_types_say_why(name, message):
    fn = getattr(np, name)
    x = np.array([1, 2, 3], np.int64) if name == "reciprocal" else np.array([True, False])
    with pytest.raises(ember.ScriptError, match=message):
        ember.script(lambda a: fn(a))(x)


TRANSCENDENTAL = ["exp2", "expm1", "log2", "log10", "log1p", "tan", "arcsin", "arccos", "arctan",
                  "sinh", "cosh", "arcsinh", "arccosh", "arctanh"]


@pytest.mark.parametrize("name", TRANSCENDENTAL)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transcendental_ufuncs(name, dtype):
    """Within 2 ulp of NumPy's (both within about 1 ulp of the exact value for f32, up to
    3 for ember's f64 kernels and 1 for NumPy's), specials exactly as NumPy."""
    fn = getattr(np, name)
    rng = np.random.default_rng(len(name))
    x = np.concatenate([np.array(SPECIALS), rng.uniform(-3, 3, 2000), rng.uniform(-0.999, 0.999, 500),
                        rng.uniform(1, 50, 500), np.exp(rng.uniform(-30, 30, 500))]).astype(dtype)
    if name == "tan":  # NaN beyond 2^47, as sin and cos (docs/vector-math.md)
        x = x[~(np.abs(x) > 2.0 ** 47)]
    with np.errstate(all="ignore"):
        got, want = ember.trace(lambda a: fn(a), (x,))(x), fn(x)
    assert got.dtype == want.dtype
    special = ~np.isfinite(want) | (want == 0)
    np.testing.assert_array_equal(got[special], want[special])
    finite = ~special
    ulp = np.spacing(np.abs(want[finite]))
    assert np.all(np.abs(got[finite] - want[finite]) <= (2 if dtype == np.float32 else 4) * ulp), name


def test_arctan2_matches_numpy_on_all_quadrants_and_zeros():
    v = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 2.5])
    a, b = (g.ravel() for g in np.meshgrid(v, v))
    for dtype in (np.float32, np.float64):
        x, y = a.astype(dtype), b.astype(dtype)
        got, want = ember.trace(lambda p, q: np.arctan2(p, q), (x, y))(x, y), np.arctan2(x, y)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.signbit(got[~np.isnan(want)]), np.signbit(want[~np.isnan(want)]))
        np.testing.assert_array_max_ulp(got[~np.isnan(want)], want[~np.isnan(want)], maxulp=1)
    i = np.array([1, -2, 0, 3])
    _same(ember.trace(lambda p, q: np.arctan2(p, q), (i, i[::-1]))(i, i[::-1]), np.arctan2(i, i[::-1]))


def _scalars(v: float):
    return (math.erf(v), math.expm1(v), math.log1p(abs(v)), math.log2(abs(v) + 1),
            math.log10(abs(v) + 1), math.atan2(v, 0.5), math.tan(v), math.atan(v),
            math.sinh(v), math.cosh(v), math.asinh(v), math.tanh(v))


@pytest.mark.parametrize("v", [0.0, -0.3, 0.7, 2.5, -4.0])
def test_math_functions_on_scalars(v):
    got = ember.script(_scalars)(v)
    want = _scalars(v)
    assert all(math.isclose(g, w, rel_tol=4e-16, abs_tol=1e-300) for g, w in zip(got, want)), (got, want)


def test_erf_in_an_element_loop():
    """math.erf element by element over an array (NumPy has no erf)."""
    def erf_all(x):
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            out[i] = math.erf(x[i])
        return out

    x = np.linspace(-4, 4, 101)
    np.testing.assert_allclose(ember.script(erf_all)(x), [math.erf(v) for v in x], rtol=1e-15, atol=0)


@pytest.mark.parametrize("decimals", [0, 1, 2, 3, -1, -2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_is_numpys_to_the_bit(decimals, dtype):
    """np.round / .round: rint(x * 10**d) / 10**d in the array's type, halves to even, as
    NumPy computes it (2.675 -> 2.67 or 2.68 as NumPy says, signed zeros, NaN, inf)."""
    rng = np.random.default_rng(decimals + 10)
    x = np.concatenate([np.array([1.2345, -2.5, 0.125, 2.675, -0.0, 0.5, 1.5, -0.5, 1e30, 1e-300,
                                  np.inf, np.nan]), rng.uniform(-1000, 1000, 500)]).astype(dtype)
    for fn in (lambda a: np.round(a, decimals), lambda a: a.round(decimals)):
        _same(ember.trace(fn, (x,))(x), np.round(x, decimals))


def test_round_of_integers_and_refusals():
    i = np.arange(-50, 50, 7)
    _same(ember.trace(lambda a: np.round(a), (i,))(i), np.round(i))
    _same(ember.trace(lambda a: np.round(a, 2), (i,))(i), np.round(i, 2))
    with pytest.raises(ember.ScriptError, match="decimals < 0"):
        ember.script(lambda a: np.round(a, -1))(i)
    with pytest.raises(ember.ScriptError, match="integer constant"):
        ember.script(lambda a: np.round(a, 1.5))(i.astype(np.float64))
