"""``np.cumsum``/``np.cumprod`` (``etensor.cumsum``/``cumprod``, lowered by
``lowering/scans.py``) and ``np.argmax``/``np.argmin`` (``arg_reduction``) against
NumPy, bit for bit: each running value comes from the one before, in order, as NumPy's
``add.accumulate`` computes it; an index reduction gives the first extreme (a NaN first).

Every dtype, axes None/first/middle/last/negative, empty and 0-d arrays, ``dtype=`` and
``keepdims=``, fused producers and consumers, both frontends, errors; hypothesis properties
over random arrays.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
import ember.testing as et
from ember.dialects import etensor as T

DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_]
SHAPES = [(), (0,), (7,), (3, 5), (2, 0, 3), (4, 3, 5)]


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind == "i":
        return rng.integers(-3, 4, shape).astype(dtype)
    return (rng.standard_normal(shape) * 2).astype(dtype)


def _same(got, want):
    got = np.asarray(got)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)  # (NaN equals NaN; exact otherwise)
    if want.dtype.kind == "f":
        assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("kind", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_axis_matches_numpy(kind, dtype, shape):
    x = _data(shape, dtype)
    fn = getattr(np, kind)
    for axis in [None, *range(-len(shape), len(shape))]:
        f = ember.trace((lambda ax: lambda a: fn(a, axis=ax))(axis), (x,))
        _same(f(x), fn(x, axis=axis))


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_])
def test_dtype_argument_accumulates_in_that_type(dtype):
    x = _data((4, 6), np.int32, 1) * 1000
    for kind in ("cumsum", "cumprod"):
        fn = getattr(np, kind)
        f = ember.trace((lambda fn: lambda a: fn(a, axis=1, dtype=dtype))(fn), (x,))
        _same(f(x), fn(x, axis=1, dtype=dtype))  # int32 products wrap around, as NumPy's


def test_methods_and_scripts():
    x = _data((5, 4), np.float32, 2)

    @ember.script
    def running(a):
        return a.cumsum(axis=0) + np.cumprod(a * 0.5, axis=-1) - a.cumsum()[3]

    want = x.cumsum(axis=0) + np.cumprod(x * 0.5, axis=-1) - x.cumsum()[3]
    _same(running(x), want)


def test_signed_zero_and_nan_are_kept():
    x = np.array([-0.0, -0.0, np.nan, 1.0], np.float32)
    f = ember.trace(lambda a: np.cumsum(a), (x,))
    _same(f(x), np.cumsum(x))
    with pytest.raises(TypeError, match="wrap it: lambda x: cumsum"):
        ember.trace(np.cumsum, (x,))  # a NumPy function has no Python source to compile
    y = np.array([[-0.0, 2.0], [-0.0, -0.0]], np.float64)
    g = ember.trace(lambda a: np.cumsum(a, axis=0), (y,))
    _same(g(y), np.cumsum(y, axis=0))


def test_fused_producer_long_rows_and_columns():
    x = _data((300, 1000), np.float32, 3)
    for axis in (None, 0, 1):
        f = ember.trace((lambda ax: lambda a: np.cumsum(a * 2.0 + 1.0, axis=ax))(axis), (x,))
        _same(f(x), np.cumsum(x * 2.0 + 1.0, axis=axis))
    text = ember.trace(lambda a: np.cumsum(a * 2.0, axis=1), (x,)).ir("loop")
    assert text.count("memref.alloc") == 1  # the product is computed in the scan, not stored


def test_flattening_a_strided_array():
    x = _data((6, 5), np.float64, 4)
    xt = x.T  # a view: the flat order is the view's C order
    f = ember.trace(lambda a: np.cumsum(a), (xt,))
    _same(f(xt), np.cumsum(xt))


def test_bad_axis_is_a_script_error():
    with pytest.raises(ember.ScriptError, match="axis 2 is out of bounds for array of dimension 2"):
        @ember.script
        def bad(a):
            return np.cumsum(a, axis=2)
        bad(np.ones((2, 2)))
    with pytest.raises(ember.ScriptError, match="unsupported keyword"):
        @ember.script
        def bad_out(a):
            return np.cumsum(a, out=a)
        bad_out(np.ones(2))


def test_ops_verify_their_types():
    from xdsl.dialects.builtin import TensorType, f32, i32, i64
    from xdsl.ir import Block
    from xdsl.utils.exceptions import VerifyException

    block = Block(arg_types=[TensorType(i32, [-1, 3])])
    x = block.args[0]
    assert T.CumsumOp(x, 1).result.type == TensorType(i64, [-1, 3])  # NumPy's widening
    assert T.CumsumOp(x, 0, i32).result.type == TensorType(i32, [-1, 3])  # dtype=int32
    T.CumsumOp(x, 1).verify()
    with pytest.raises(VerifyException, match="axis 2"):
        T.CumprodOp(x, 2).verify()
    with pytest.raises(VerifyException, match="neither"):
        T.CumsumOp(x, 0, f32).verify()


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_random_arrays_match_numpy(data):
    dtype = data.draw(et.dtypes())
    x = data.draw(et.arrays(dtype, et.shapes(max_dims=3, max_side=5)))
    axis = data.draw(st.none() | st.integers(-x.ndim, x.ndim - 1)) if x.ndim else None
    kind = data.draw(st.sampled_from(["cumsum", "cumprod"]))
    fn = getattr(np, kind)
    f = ember.trace((lambda ax: lambda a: fn(a, axis=ax))(axis), (x,))
    with np.errstate(all="ignore"):
        want = fn(x, axis=axis)
    _same(f(x), want)


def test_ufunc_accumulate_is_a_scan_along_axis_0():
    """``np.add.accumulate(x)`` is ``np.cumsum(x, axis=0)`` (NumPy 2 widens bools and ints
    the same way)."""
    for x in (_data((4, 5), np.bool_, 5), _data((4, 5), np.int32, 6), _data((4, 5), np.float32, 7)):
        for ufunc in (np.add, np.multiply):
            f = ember.trace((lambda u: lambda a: u.accumulate(a))(ufunc), (x,))
            _same(f(x), ufunc.accumulate(x))
        g = ember.trace(lambda a: np.add.accumulate(a, axis=1, dtype=np.float64), (x,))
        _same(g(x), np.add.accumulate(x, axis=1, dtype=np.float64))


# -- argmax / argmin (index reductions: lowering/reductions.arg_reduction) --------------


@pytest.mark.parametrize("kind", ["argmax", "argmin"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 5), (4, 3, 5), (2, 600)])
def test_arg_reductions_match_numpy(kind, dtype, shape):
    x = _data(shape, dtype, 8)
    fn = getattr(np, kind)
    for axis in [None, *range(-len(shape), len(shape))]:
        for keep in (False, True):
            f = ember.trace((lambda ax, k: lambda a: fn(a, axis=ax, keepdims=k))(axis, keep), (x,))
            _same(f(x), np.asarray(fn(x, axis=axis, keepdims=keep)))


def test_arg_reductions_take_the_first_extreme_and_the_first_nan():
    x = np.array([1.0, 3.0, 3.0, -np.inf, 3.0], np.float32)
    y = np.array([[1.0, np.nan, 5.0, np.nan], [-0.0, 0.0, 0.0, -0.0]], np.float64)
    z = np.full(1000, -np.inf, np.float32)
    z[[700, 900]] = np.nan
    for v in (x, y, z, np.zeros(513, np.float32), np.full(300, 7, np.int64)):
        for kind in ("argmax", "argmin"):
            fn = getattr(np, kind)
            _same(ember.trace((lambda fn: lambda a: fn(a))(fn), (v,))(v), np.asarray(fn(v)))
            if v.ndim == 2:
                f = ember.trace((lambda fn: lambda a: fn(a, axis=1))(fn), (v,))
                _same(f(v), fn(v, axis=1))


def test_arg_reduction_of_nothing_raises_as_numpy():
    @ember.script
    def first_max(a):
        return a.argmax()

    with pytest.raises(ValueError, match="attempt to get argmax of an empty sequence"):
        first_max(np.zeros((0, 3), np.float32))
    with pytest.raises(ember.ScriptError, match="axis must be an integer or None"):
        @ember.script
        def two_axes(a):
            return np.argmax(a, axis=(0, 1))
        two_axes(np.zeros((2, 3)))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_arg_reductions_of_random_arrays(data):
    dtype = data.draw(et.dtypes())
    x = data.draw(et.arrays(dtype, et.shapes(min_dims=1, max_dims=3, max_side=5).filter(lambda s: 0 not in s)))
    axis = data.draw(st.none() | st.integers(-x.ndim, x.ndim - 1))
    fn = getattr(np, data.draw(st.sampled_from(["argmax", "argmin"])))
    f = ember.trace((lambda ax: lambda a: fn(a, axis=ax))(axis), (x,))
    _same(f(x), np.asarray(fn(x, axis=axis)))
