"""Reductions over leading axes (``x.sum(axis=0)``): rows streamed into blocks of
accumulators (``reductions._rows_into_accumulators``), checked against NumPy on every kind,
dtype and shape class, with ``keepdims``, empty axes, NaN and multiple reduced axes."""

import warnings
import zlib

import numpy as np
import pytest

import ember

SHAPES = [((7, 5), 0), ((3, 4, 1000), 0), ((3, 4, 1000), 1), ((3, 4, 1000), (0, 1)),
          ((2, 3, 4, 5), (0, 2)), ((0, 6), 0), ((5, 0), 0), ((1301, 3), 0), ((4, 1), 0),
          ((6, 1030), 0)]
DTYPES = [np.float32, np.float64, np.int64, np.int32, np.bool_]


def _data(shape, dtype, kind, rng):
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if np.issubdtype(dtype, np.integer):
        return rng.integers(-50, 50, shape).astype(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    return (1 + 0.01 * x).astype(dtype) if kind == "prod" else x


def _reducer(kind, axis, keep):
    def f(x):
        return getattr(x, kind)(axis=axis, keepdims=keep)
    return f


@pytest.mark.parametrize("kind", ["sum", "mean", "prod", "max", "min"])
@pytest.mark.parametrize("shape, axis", SHAPES, ids=[f"{s}-{a}" for s, a in SHAPES])
def test_matches_numpy(kind, shape, axis):
    rng = np.random.default_rng(zlib.crc32(repr((kind, shape, axis)).encode()))
    for k, dtype in enumerate(DTYPES):
        if kind in ("max", "min") and shape[0] == 0 or kind == "mean" and dtype == np.bool_:
            continue
        for keep in [(k + len(shape)) % 2 == 0]:  # each dtype with or without keepdims
            x = _data(shape, dtype, kind, rng)
            f = _reducer(kind, axis, keep)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # the mean of an empty axis
                got, want = ember.trace(f, (x,))(x), f(x)
            assert got.shape == want.shape and got.dtype == want.dtype, (dtype, keep)
            if kind in ("sum", "mean") and np.issubdtype(dtype, np.floating):
                # against the float64 sum, within a few eps of the sum of magnitudes (NumPy's
                # own float32 column sum is further off than that on long columns)
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    ref = f(x.astype(np.float64))
                    scale = _reducer(kind, axis, keep)(np.abs(x.astype(np.float64)))
                ok = np.abs(got - ref) <= 4 * np.finfo(dtype).eps * scale
                assert np.all(ok | np.isnan(ref) & np.isnan(got)), f"{dtype} {keep}"
            else:
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=f"{dtype} {keep}")


def test_an_empty_max_raises_as_numpy_does():
    f = _reducer("max", 0, False)
    with pytest.raises(ValueError, match="zero-size array to reduction operation maximum"):
        ember.trace(f, (np.ones((2, 3)),))(np.ones((0, 3)))


@pytest.mark.parametrize("kind", ["max", "min"])
def test_a_nan_in_a_column_wins(kind):
    x = np.ones((9, 4))
    x[5, 2] = np.nan
    got = ember.trace(_reducer(kind, 0, False), (x,))(x)
    assert np.isnan(got[2]) and not np.isnan(got[[0, 1, 3]]).any()


def test_float32_columns_accumulate_in_float64():
    """Each column sums in float64, as ember's other float32 sums do: far below the error of
    NumPy's own (float32) column sum."""
    rng = np.random.default_rng(0)
    x = (rng.random((20000, 3)) * 1e4).astype(np.float32)
    got = ember.trace(_reducer("sum", 0, False), (x,))(x)
    exact = x.astype(np.float64).sum(axis=0)
    assert np.abs(got - exact).max() <= np.abs(exact).max() * 2**-24


def test_a_fused_producer_is_computed_in_the_rows():
    x = np.random.default_rng(1).standard_normal((300, 700))
    f = ember.trace(lambda x: (x * x + 1.0).sum(axis=0), (x,))
    np.testing.assert_allclose(f(x), (x * x + 1.0).sum(axis=0), rtol=1e-12)
    assert f.ir("loop").count("memref.alloc") == 1  # the result, which accumulates (float64)
