"""Slices as lazy values (``element_ops.slice_``): consumers read the source in place, and
the values stay right around element writes, loops and consumers that need a buffer."""

import numpy as np
import pytest

import ember


def stencil(x):
    return 0.25 * (x[:-2, 1:-1] + x[2:, 1:-1] + x[1:-1, :-2] + x[1:-1, 2:])


def strided(x):
    return x[::2, ::3] * 2.0 + x[::-2, ::-3]


def reversed_rows(x):
    return x[::-1] - x


def row_and_column(x):
    return x[1] + x[:, 0][: x.shape[1]]


def into_matmul(x):
    return x[1:, 1:] @ x[:-1, :-1].T


def summed(x):
    return x[1:-1, 1:-1].sum(axis=0) + x[:, 2:].sum()


@pytest.mark.parametrize("fn", [stencil, strided, reversed_rows, into_matmul, summed])
@pytest.mark.parametrize("shape", [(6, 7), (33, 40), (3, 3)])
def test_slice_programs_match_numpy(fn, shape):
    x = np.random.default_rng(sum(shape)).standard_normal(shape)
    np.testing.assert_allclose(ember.trace(fn, (x,))(x), fn(x), rtol=1e-12, atol=1e-12)


def test_a_square_row_and_column():
    x = np.random.default_rng(0).standard_normal((5, 5))
    np.testing.assert_allclose(ember.trace(row_and_column, (x,))(x), row_and_column(x))


def slice_then_write(x, n: int):
    y = x * 1.0
    top = y[:2] + 0.0
    for i in range(n):
        y[0, i] = 100.0
    return top, y[:2] * 1.0


def slice_in_a_loop(x, n: int):
    acc = x[0] * 0.0
    for i in range(n):
        acc = acc + x[i] * x[i + 1]
    return acc


@pytest.mark.parametrize("fn, n", [(slice_then_write, 3), (slice_in_a_loop, 4)])
def test_slices_around_writes_and_loops(fn, n):
    x = np.random.default_rng(n).standard_normal((6, 5))
    got, want = ember.script(fn)(x.copy(), n), fn(x.copy(), n)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_a_stencil_of_slices_allocates_only_its_result():
    x = np.ones((16, 16))
    f = ember.trace(stencil, (x,))
    f(x)
    assert f.ir("loop").count("memref.alloc") == 1
