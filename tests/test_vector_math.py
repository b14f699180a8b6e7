"""``expand-math``: accuracy of the expanded exp/log/tanh/sin/cos against correctly rounded
references, special values, vectorisation, and the strict (libm) pipeline.

Each (function, dtype) compiles once; the tests call it on large arrays. References: f32 is
computed in f64 and compared before rounding; f64 in x87 long double (64-bit mantissa, libm's
``expl``/``logl``/...: error about 2^-11 f64 ulp, so measured errors are good to ~0.001 ulp).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ember

F32, F64 = np.float32, np.float64
NAMES = ["exp", "log", "tanh", "sin", "cos"]

#: The documented contract (docs/vector-math.md), in ulp of the result type.
MAX_ULP = {
    F32: {"exp": 1.0, "log": 1.0, "tanh": 1.0, "sin": 1.0, "cos": 1.0},
    F64: {"exp": 1.0, "log": 1.0, "tanh": 3.0, "sin": 2.0, "cos": 2.0},
}
#: Dense sampling ranges, and where sin/cos are accurate (NaN beyond, see the docs).
DENSE = {"exp": {F32: (-105, 90), F64: (-750, 711)}, "log": (0, 1e4), "tanh": (-20, 20),
         "sin": (-1e4, 1e4), "cos": (-1e4, 1e4)}
TRIG_BOUND = {F32: 2.0**50, F64: 2.0**47}

needs_long_double = pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63,
                                       reason="the f64 reference needs 80-bit long double")


def _exp(x): return np.exp(x)
def _log(x): return np.log(x)
def _tanh(x): return np.tanh(x)
def _sin(x): return np.sin(x)
def _cos(x): return np.cos(x)


PY = {"exp": _exp, "log": _log, "tanh": _tanh, "sin": _sin, "cos": _cos}


@pytest.fixture(scope="module")
def compiled():
    """One ``ember.script`` per function; each specialises once per dtype."""
    return {name: ember.script(fn) for name, fn in PY.items()}


def reference(name, x):
    wide = np.float64 if x.dtype == F32 else np.longdouble
    with np.errstate(all="ignore"):
        return getattr(np, name)(x.astype(wide))


def ulp_errors(y, ref_wide):
    """|y - exact| in ulps of the correctly rounded result; NaN/inf must match exactly."""
    with np.errstate(over="ignore"):
        ref = ref_wide.astype(y.dtype)
    finite = np.isfinite(ref)
    same = (y == ref) | (np.isnan(y) & np.isnan(ref))
    assert same[~finite].all(), f"special values differ: {y[~finite & ~same][:5]} vs {ref[~finite & ~same][:5]}"
    ulp = np.spacing(np.abs(ref[finite])).astype(np.longdouble)
    return np.abs(y[finite].astype(np.longdouble) - ref_wide[finite].astype(np.longdouble)) / ulp


def samples(name, dtype, n=1 << 19):
    """n random bit patterns (every exponent, subnormals, inf, NaN) + n dense in the domain."""
    rng = np.random.default_rng(sum(map(ord, name)))
    bits = np.uint32 if dtype == F32 else np.uint64
    raw = rng.integers(0, np.iinfo(bits).max, n, dtype=bits, endpoint=True).view(dtype)
    lo, hi = DENSE[name][dtype] if isinstance(DENSE[name], dict) else DENSE[name]
    x = np.concatenate([raw, rng.uniform(lo, hi, n).astype(dtype)])
    if name in ("sin", "cos"):
        x = x[~(np.abs(x) > TRIG_BOUND[dtype])]
    return x


@pytest.mark.parametrize("dtype", [F32, pytest.param(F64, marks=needs_long_double)],
                         ids=["f32", "f64"])
@pytest.mark.parametrize("name", NAMES)
def test_max_ulp_error(compiled, name, dtype):
    x = samples(name, dtype)
    with np.errstate(all="ignore"):
        y = compiled[name](x)
    err = ulp_errors(y, reference(name, x))
    assert err.max() <= MAX_ULP[dtype][name], f"max {float(err.max()):.3f} ulp at x={x[np.isfinite(reference(name, x).astype(dtype))][err.argmax()]!r}"


def _specials(dtype):
    fi = np.finfo(dtype)
    return np.array([0.0, -0.0, np.inf, -np.inf, np.nan, fi.smallest_subnormal, -fi.smallest_subnormal,
                     fi.tiny, fi.max, -fi.max, 1.0, -1.0, 0.5], dtype)


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", NAMES)
def test_special_values_match_numpy(compiled, name, dtype):
    x = _specials(dtype)
    if name in ("sin", "cos"):
        x = x[~(np.abs(x) > TRIG_BOUND[dtype])]
    with np.errstate(all="ignore"):
        y, ref = compiled[name](x), getattr(np, name)(x)
    np.testing.assert_array_equal(np.signbit(y[y == 0]), np.signbit(ref[ref == 0]))
    np.testing.assert_allclose(y, ref, rtol=2 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("dtype, over, under, tiny", [
    (F32, 88.73, -103.98, -100.0), (F64, 709.79, -745.14, -740.0)], ids=["f32", "f64"])
def test_exp_overflow_underflow(compiled, dtype, over, under, tiny):
    x = np.array([over, under, tiny, 88.72 if dtype == F32 else 709.78], dtype)
    y = compiled["exp"](x)
    assert y[0] == np.inf and y[1] == 0.0 and y[2] > 0
    assert y[2] < np.finfo(dtype).tiny, "exp of a large negative number is subnormal"
    assert np.isfinite(y[3])


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_sin_cos_beyond_domain_is_nan(compiled, dtype):
    x = np.array([TRIG_BOUND[dtype] * 2, -np.finfo(dtype).max], dtype)
    assert np.isnan(compiled["sin"](x)).all() and np.isnan(compiled["cos"](x)).all()


def test_tanh_loop_is_vectorised(compiled):
    f = compiled["tanh"]
    f(np.zeros(16, F32))
    ir = f.llvm_ir(optimized=True)
    assert "<8 x float>" in ir or "<16 x float>" in ir
    assert "@llvm.tanh" not in ir and "@tanhf" not in ir


def test_strict_math_keeps_libm(monkeypatch):
    monkeypatch.setenv("EMBER_STRICT_MATH", "1")
    f = ember.script(_tanh)
    f(np.zeros(16, F32))
    assert "@llvm.tanh" in f.llvm_ir(optimized=True)  # the backend makes it a tanhf call


@pytest.fixture(scope="module")
def strict_and_fast():
    """Each function compiled twice per dtype: libm calls (EMBER_STRICT_MATH=1) and expanded."""
    pairs = {}
    with pytest.MonkeyPatch.context() as mp:
        for name, fn in PY.items():
            mp.setenv("EMBER_STRICT_MATH", "1")
            strict = ember.script(fn)
            for dtype in (F32, F64):
                strict(np.ones(4, dtype))
            mp.delenv("EMBER_STRICT_MATH")
            pairs[name] = (strict, ember.script(fn))
    return pairs


_floats = {dt: st.floats(width=32 if dt == F32 else 64, allow_nan=True, allow_infinity=True)
           for dt in (F32, F64)}


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(NAMES), data=st.data())
def test_expansion_matches_libm(strict_and_fast, name, data):
    """Property: the program computes the same values before and after expand-math, within
    the documented bound (libm itself is within 1 ulp, so the bound gets one more)."""
    dtype = data.draw(st.sampled_from([F32, F64]))
    x = data.draw(hnp.arrays(dtype, st.integers(2, 64), elements=_floats[dtype]))
    if name in ("sin", "cos"):
        x = x[~(np.abs(x) > TRIG_BOUND[dtype])]
        x = np.concatenate([x, np.zeros(2, dtype)])
    strict, fast = strict_and_fast[name]
    with np.errstate(all="ignore"):
        want, got = strict(x), fast(x)
    exact = want.astype(np.longdouble)
    err = ulp_errors(got, exact) if np.isfinite(want).any() else np.zeros(1)
    assert err.max() <= MAX_ULP[dtype][name] + 1
