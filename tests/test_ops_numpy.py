"""Every tensor op, compiled end to end, against NumPy: dtypes, broadcasting, empty and
size-1 dimensions, non-contiguous inputs. f32 within 1e-5 relative, integers exact."""

import operator
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ember
from ember.context import make_context
from ember.dialects import reference
from xdsl.parser import Parser

CTX = make_context()

DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_]
# Each new signature compiles (~0.1-0.3 s), so the default profile is small; EMBER_FUZZ=long
# runs the long campaign.
EXAMPLES = 200 if os.environ.get("EMBER_FUZZ") == "long" else 4
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


def assert_matches(got, want):
    want = np.asarray(want)
    got = np.asarray(got)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype.kind == "f":
        rtol = 1e-5 if want.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def check(f, args, want):
    """``f(*args)`` compiled, and its tensor-stage IR (printed, parsed back) interpreted by
    the NumPy reference implementations, both equal ``want``."""
    got = f(*args)
    wants = want if isinstance(want, tuple) else (want,)
    gots = got if isinstance(got, tuple) else (got,)
    for g, w in zip(gots, wants):
        assert_matches(g, w)
    module = Parser(CTX, f.ir("tensor")).parse_module()
    refs = reference.run(module, f.py_func.__name__, *args)
    for r, w in zip(refs, wants):
        assert_matches(r[()] if np.ndim(w) == 0 else r, np.asarray(w) if np.ndim(w) else w)


def values(dtype):
    if dtype == np.bool_:
        return st.booleans()
    if np.dtype(dtype).kind == "i":
        return st.integers(-1000, 1000)
    return st.floats(-100, 100, width=32 if dtype == np.float32 else 64)


@st.composite
def arrays(draw, dtype, shape, layout=True):
    a = draw(hnp.arrays(dtype, shape, elements=values(dtype)))
    if layout and a.ndim >= 1 and draw(st.booleans()):
        # a non-contiguous view with the same values: reversed or strided along one axis
        axis = draw(st.integers(0, a.ndim - 1))
        big = np.repeat(a, 2, axis=axis)
        index = [slice(None)] * a.ndim
        index[axis] = slice(None, None, 2)
        a = big[tuple(index)]
        if draw(st.booleans()):
            index[axis] = slice(None, None, -1)
            a = np.ascontiguousarray(a[tuple(index)])[tuple(index)]
    return a


shapes2 = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=4)

BINARY = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "maximum": np.maximum,
    "minimum": np.minimum, "eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
    "le": operator.le, "gt": operator.gt, "ge": operator.ge,
    "and": operator.and_, "or": operator.or_, "xor": operator.xor, "arctan2": np.arctan2,
}
_compiled = {}


def compiled(key, fn):
    if key not in _compiled:
        _compiled[key] = ember.script(fn)
    return _compiled[key]


def numpy_or_error(fn, *args):
    with np.errstate(all="ignore"):
        try:
            return fn(*args), None
        except (TypeError, ValueError) as e:
            return None, e


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
@SETTINGS
def test_binary(name, data):
    fn = BINARY[name]
    da, db = data.draw(st.sampled_from(DTYPES)), data.draw(st.sampled_from(DTYPES))
    (sa, sb), _ = data.draw(shapes2)
    a, b = data.draw(arrays(da, sa)), data.draw(arrays(db, sb))
    want, err = numpy_or_error(fn, a, b)
    f = compiled(name, lambda x, y: fn(x, y))
    if err is not None or want.dtype not in [np.dtype(d) for d in DTYPES]:  # e.g. bool // bool -> int8
        with pytest.raises((TypeError, ValueError, ember.ScriptError)):
            f(a, b)
        return
    check(f, (a, b), want)


def _pow(x, y):
    return x ** y


@given(data=st.data())
@SETTINGS
def test_pow(data):
    dt = data.draw(st.sampled_from([np.float32, np.float64, np.int32, np.int64]))
    (sa, sb), _ = data.draw(shapes2)
    a = data.draw(hnp.arrays(dt, sa, elements=values(dt).map(lambda v: abs(v) % 7)))
    b = data.draw(hnp.arrays(dt, sb, elements=st.integers(0, 5).map(dt)))
    check(compiled("pow", _pow), (a, b), a ** b)


UNARY = {"neg": operator.neg, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh,
         "sin": np.sin, "cos": np.cos, "abs": np.abs, "invert": operator.invert,
         **{name: getattr(np, name) for name in (
             "floor", "ceil", "trunc", "rint", "exp2", "expm1", "log2", "log10", "log1p", "tan",
             "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "fabs",
             "square", "sign", "isnan", "isinf", "isfinite", "reciprocal")}}
#: what ember refuses where NumPy gives an answer: np.reciprocal of integers (NumPy's
#: truncates), and results of types ember lacks (bool -> float16 or int8)
REFUSED = {"reciprocal": "iu"}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
@SETTINGS
def test_unary(name, data):
    fn = UNARY[name]
    dt = data.draw(st.sampled_from(DTYPES))
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    a = data.draw(arrays(dt, shape))
    if name in ("exp",) and a.dtype.kind == "f":
        a = np.clip(a, -20, 20)
    want, err = numpy_or_error(fn, a)
    f = compiled("u" + name, lambda x: fn(x))
    if (err is not None or want.dtype not in [np.dtype(d) for d in DTYPES]
            or a.dtype.kind in REFUSED.get(name, "")):
        with pytest.raises((TypeError, ValueError, ember.ScriptError)):
            f(a)
        return
    check(f, (a,), want)


@pytest.mark.parametrize("target", DTYPES)
@given(data=st.data())
@SETTINGS
def test_cast(target, data):
    dt = data.draw(st.sampled_from(DTYPES))
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    a = data.draw(arrays(dt, shape))
    f = compiled(("cast", target), lambda x: x.astype(target))
    check(f, (a,), a.astype(target))


REDUCTIONS = ["sum", "prod", "max", "min", "mean"]


@pytest.mark.parametrize("kind", REDUCTIONS)
@given(data=st.data())
@SETTINGS
def test_reductions(kind, data):
    dt = data.draw(st.sampled_from(DTYPES))
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    a = data.draw(arrays(dt, shape))
    if kind == "prod" and a.dtype.kind == "f":
        a = np.clip(a, -2, 2)
    axis = data.draw(st.none() | st.integers(0, a.ndim - 1))
    keepdims = data.draw(st.booleans())
    fn = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min, "mean": np.mean}[kind]

    def reduce(x):
        return fn(x, axis=axis, keepdims=keepdims)

    f = compiled((kind, axis, keepdims), reduce)
    want = getattr(a, kind)(axis=axis, keepdims=keepdims)
    check(f, (a,), want)


def test_reduction_of_empty_max_raises():
    f = ember.script(lambda x: x.max(axis=0))
    with pytest.raises(ValueError, match="zero-size array"):
        f(np.zeros((0, 3), np.float32))
    np.testing.assert_array_equal(f(np.ones((2, 3), np.float32)), np.ones(3, np.float32))


@given(data=st.data())
@SETTINGS
def test_matmul(data):
    dt = data.draw(st.sampled_from(DTYPES))
    m, k, n = (data.draw(st.integers(1, 6)) for _ in range(3))
    ra, rb = data.draw(st.sampled_from([(2, 2), (1, 2), (2, 1), (1, 1), (3, 3), (3, 2)]))
    sa = {1: (k,), 2: (m, k), 3: (2, m, k)}[ra]
    sb = {1: (k,), 2: (k, n), 3: (2, k, n)}[rb]
    a, b = data.draw(arrays(dt, sa)), data.draw(arrays(dt, sb))
    f = compiled("matmul", lambda x, y: x @ y)
    check(f, (a, b), a @ b)


@given(data=st.data())
@SETTINGS
def test_transpose_reshape_where(data):
    dt = data.draw(st.sampled_from(DTYPES))
    a = data.draw(arrays(dt, (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))))
    c = data.draw(arrays(np.bool_, a.shape))
    f = compiled("shape-ops", lambda x, c: (x.T, x.reshape(-1), np.where(c, x, x.T.T), np.transpose(x)))
    got = f(a, c)
    for g, w in zip(got, (a.T, a.reshape(-1), np.where(c, a, a), np.transpose(a))):
        assert_matches(g, w)


def test_creation_ops():
    @ember.script
    def f(x):
        n = x.shape[0]
        return np.zeros((n, 2)), np.ones_like(x), np.full((2, 3), 7, dtype=np.int32), np.arange(n)

    x = np.arange(5, dtype=np.float32)
    for g, w in zip(f(x), (np.zeros((5, 2)), np.ones_like(x), np.full((2, 3), 7, np.int32), np.arange(5))):
        assert_matches(g, w)


def test_nep50_promotion():
    f = ember.script(lambda x, a: x * a + 2.0)
    x = np.ones(3, np.float32)
    assert f(x, 2.0).dtype == np.float32
    xi = x.astype(np.int32)
    assert f(xi, 2).dtype == (xi * 2 + 2.0).dtype == np.float64
    h = ember.script(lambda x, a: x * a)
    assert h(xi, 2).dtype == np.int32
    g = ember.script(lambda x, y: x / y)
    assert g(np.ones(2, np.int32), np.ones(2, np.int32)).dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_matmul_tiles_and_edges(dtype):
    """Shapes that exercise the register tiles and both edge loops, batched too."""
    rng = np.random.default_rng(1)
    f = compiled("matmul-big", lambda x, y: x @ y)
    for sa, sb in [((37, 70), (70, 65)), ((3, 9, 33), (33, 40)), ((64, 64), (64, 64))]:
        a = (rng.random(sa) * 10).astype(dtype)
        b = (rng.random(sb) * 10).astype(dtype)
        got, want = f(a, b), a @ b
        if dtype == np.int64:
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_power_one_half_is_numpys_sqrt_fast_path(dtype):
    """NumPy computes ``arr ** 0.5`` and ``np.power(arr, 0.5)`` as ``np.sqrt``: -0.0 stays -0.0
    and -inf gives nan (``pow`` gives +0.0 and inf); an array of exponents gets ``pow``."""
    import warnings

    x = np.array([-0.0, 0.0, -np.inf, np.inf, 4.0, -1.0, np.nan], dtype)
    e = np.full(x.shape, 0.5, dtype)

    def op(x):
        return x ** 0.5

    def ufunc(x):
        return np.power(x, 0.5)

    def elementwise(x, e):
        return np.power(x, e)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for fn, args in ((op, (x,)), (ufunc, (x,)), (elementwise, (x, e))):
            want = fn(*args)
            for got in (ember.script(fn)(*args), ember.trace(fn, args)(*args)):
                assert got.dtype == want.dtype
                np.testing.assert_array_equal(got, want)
                finite = ~np.isnan(want)
                np.testing.assert_array_equal(np.signbit(got[finite]), np.signbit(want[finite]))


def _sum0(v):
    return v.sum(axis=0)


def _sum1(v):
    return v.sum(axis=1)


def _sum(v):
    return v.sum()


def _mean0(v):
    return v.mean(axis=0)


def _mean1(v):
    return v.mean(axis=1)


def _mean(v):
    return v.mean()


_SUMS = {("sum", 0): _sum0, ("sum", 1): _sum1, ("sum", None): _sum,
         ("mean", 0): _mean0, ("mean", 1): _mean1, ("mean", None): _mean}


@pytest.mark.parametrize("n", [1, 1023, 1024, 1025, 3000])
def test_float32_sums_are_blocked_and_accurate(n):
    """f32 sums add blocks of 256 elements in f32 and the block sums in f64: at every block
    edge (a partial last block, one element past a block), on every reduced axis and for
    the whole array the error is within half an ulp of the result plus 2 eps of the sum of
    magnitudes (NumPy's pairwise f32 sum is bounded by about log2(n) eps of it; a running
    f32 sum would be off by hundreds of ulps here)."""
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((3, n)) * 1e3).astype(np.float32)
    x[:, ::7] += np.float32(1e6)  # magnitudes that a naive f32 running sum would lose
    cases = [(x, 1), (x, None), (np.ascontiguousarray(x.T), 0), (x.T, 0), (x[:, ::-2], 1)]
    eps = float(np.finfo(np.float32).eps)
    for a, axis in cases:
        for kind in ("sum", "mean"):
            f = ember.script(_SUMS[kind, axis])
            got = np.asarray(f(a), np.float64)
            exact = getattr(a.astype(np.float64), kind)(axis=axis)
            ours = np.abs(got - exact)
            magnitude = getattr(np.abs(a.astype(np.float64)), kind)(axis=axis)
            half_ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64) / 2
            bound = half_ulp + 2 * eps * magnitude
            assert np.all(ours <= bound), (a.shape, axis, kind, ours, bound)
