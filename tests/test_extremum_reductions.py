"""Float max/min reductions (two accumulators: maxnum/minnum with nnan, and an "or" of
isnan): NumPy's results, NaN wherever a NaN is (first, last, every position, in one chunk of
a parallel loop), infinities, all-equal and one-element axes, f32 and f64, every axis."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ember
import ember.testing as et


def row_max(x):
    return x.max(axis=1)


def col_min(x):
    return x.min(axis=0)


def all_max(x):
    return x.max()


def all_min(x):
    return np.min(x)


def keep_max(x):
    return x.max(axis=1, keepdims=True)


FUNCS = [row_max, col_min, all_max, all_min, keep_max]


def _same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])  # -0.0 == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", FUNCS)
def test_nan_anywhere_gives_nan(fn, dtype):
    f = ember.script(fn)
    rng = np.random.default_rng(0)
    base = rng.standard_normal((7, 37)).astype(dtype)
    _same(f(base), fn(base))
    for i, j in [(0, 0), (6, 36), (3, 17), (0, 36), (6, 0)]:
        x = base.copy()
        x[i, j] = np.nan
        _same(f(x), fn(x))
    x = np.full((3, 5), np.nan, dtype)
    _same(f(x), fn(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_infinities_and_constants(dtype):
    for x in [np.full((4, 9), -np.inf, dtype), np.full((4, 9), np.inf, dtype),
              np.array([[-np.inf, np.inf, 0.0], [1.0, -0.0, -1.0]], dtype),
              np.full((5, 1), 3.5, dtype), np.array([[np.nan, np.inf, -np.inf]], dtype)]:
        for fn in FUNCS:
            _same(ember.script(fn)(x), fn(x))


def test_nan_in_one_chunk_of_a_parallel_reduction():
    """A reduction large enough to run on threads: the NaN flag of one chunk must survive
    the combination of the chunks' partial results."""
    f = ember.script(all_max)
    x = np.random.default_rng(1).standard_normal(1 << 22).astype(np.float32)
    with ember_threads(2):
        assert f(x) == x.max()
        for at in (0, len(x) // 2 + 3, len(x) - 1):
            y = x.copy()
            y[at] = np.nan
            assert np.isnan(f(y))


class ember_threads:
    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.old = ember.get_num_threads()
        ember.set_num_threads(self.n)

    def __exit__(self, *exc):
        ember.set_num_threads(self.old)


def test_integer_reductions_unchanged():
    x = np.array([[3, -7, 2], [0, 9, -1]], np.int32)
    for fn in FUNCS:
        np.testing.assert_array_equal(ember.script(fn)(x), fn(x))


@et.fuzz_settings(25, long=400)
@given(data=st.data())
def test_extremum_reductions_match_numpy(data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    shape = data.draw(st.tuples(st.integers(1, 9), st.integers(1, 70)))
    x = data.draw(hnp.arrays(dtype, shape, elements=st.floats(
        allow_nan=True, allow_infinity=True, width=np.dtype(dtype).itemsize * 8)))
    fn = data.draw(st.sampled_from(FUNCS))
    _same(ember.script(fn)(x), fn(x))
