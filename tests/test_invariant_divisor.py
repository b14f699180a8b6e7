"""``invariant-divisor``: f32 division by a loop-invariant divisor, done as a multiplication
by the f64 reciprocal, gives NumPy's ``x / s`` bit for bit (random bit patterns, zeros,
infinities, NaNs, subnormals, overflow), and the pass preserves what programs compute."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ember
import ember.testing as et

F32_SPECIALS = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 3.0, 0.1,
                         np.finfo(np.float32).max, -np.finfo(np.float32).max,
                         np.finfo(np.float32).tiny, np.finfo(np.float32).smallest_subnormal,
                         -np.finfo(np.float32).smallest_subnormal, 1e-40, 2.0**-126 * 1.5,
                         2.0**127, 2.0**-149 * 3], np.float32)


def by_scalar(x, s):
    return x / s


def by_row_max(x):
    return x / x.max(axis=1, keepdims=True)


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _same_bits(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype == np.float32
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    mismatch = got.view(np.uint32)[~nan] != want.view(np.uint32)[~nan]
    assert not mismatch.any(), (got[~nan][mismatch][:5], want[~nan][mismatch][:5])


def _random_bits(rng, shape):
    return rng.integers(0, 2**32, shape, dtype=np.uint64).astype(np.uint32).view(np.float32)


def test_the_pass_fires_on_invariant_divisors():
    f = ember.script(by_row_max)
    f(np.ones((2, 3), np.float32))
    loop = f.ir(stage="loop")
    assert "arith.divf" in loop and "arith.truncf" in loop and "f64" in loop
    g = ember.script(by_row_max)
    g(np.ones((2, 3), np.float64))
    assert "arith.truncf" not in g.ir(stage="loop")  # f64: nothing wider to borrow


def test_scalar_divisor_bit_for_bit():
    f = ember.script(by_scalar)
    rng = np.random.default_rng(0)
    x = np.concatenate([_random_bits(rng, 200_000), F32_SPECIALS])
    divisors = list(F32_SPECIALS) + list(_random_bits(rng, 40))
    with np.errstate(all="ignore"):
        for s in divisors:
            _same_bits(f(x, np.float32(s)), x / np.float32(s))


def test_row_divisor_bit_for_bit():
    """Rows of random bit patterns (their max: large, inf or NaN), of specials, of
    subnormals and of values near the overflow threshold."""
    f = ember.script(by_row_max)
    rng = np.random.default_rng(1)
    rows = [_random_bits(rng, (64, 257)),
            rng.choice(F32_SPECIALS, (64, 257)),
            (rng.random((64, 257), np.float32) * 1e-38).astype(np.float32),
            (rng.random((64, 257), np.float32) * 3e38).astype(np.float32),
            rng.random((64, 257), np.float32) * np.float32(2.0) ** rng.integers(-149, 128, (64, 257)).astype(np.float32)]
    with np.errstate(all="ignore"):
        for x in rows:
            _same_bits(f(x), x / x.max(axis=1, keepdims=True))


def test_softmax_matches_the_division():
    """Softmax's normalisation is the one place the benchmarks divide: the result equals
    ember's own exp divided by ember's own row sums, bit for bit."""
    f = ember.script(softmax)
    x = np.random.default_rng(2).standard_normal((33, 1000)).astype(np.float32)
    got = f(x)

    def pieces(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e, e.sum(axis=1, keepdims=True)

    e, s = ember.script(pieces)(x)
    _same_bits(got, e / s)


@et.fuzz_settings(10, long=300)
@given(data=st.data())
def test_invariant_divisor_preserves_semantics(data):
    fn = data.draw(st.sampled_from([by_row_max, softmax]))
    shape = data.draw(st.tuples(st.integers(1, 20), st.integers(1, 200)))
    x = data.draw(hnp.arrays(np.float32, shape, elements=st.floats(-2.0**100, 2.0**100, width=32)))
    program = et.Program.from_function(fn, x).before("invariant-divisor")
    et.check_rewrite(program, "invariant-divisor")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scalar_divisor_program_rewrite(dtype):
    x = np.linspace(-3, 3, 50).astype(dtype)
    program = et.Program.from_function(by_scalar, x, dtype(0.7)).before("invariant-divisor")
    et.check_rewrite(program, "invariant-divisor")
