"""Transposing copies: by blocks in registers (``transposes._block_transpose``) for arrays
with contiguous rows, in tiles element by element (``transposes._tiled``) for the others;
every permutation that moves the innermost axis, on sizes that are and are not multiples of
a block (16 elements of 4 bytes, 8 of 8) or a tile (32)."""

import numpy as np
import pytest

import ember


@pytest.mark.parametrize("shape, perm", [
    ((70, 33), (1, 0)), ((32, 64), (1, 0)), ((1, 40), (1, 0)), ((40, 1), (1, 0)), ((0, 5), (1, 0)),
    ((16, 16), (1, 0)), ((17, 15), (1, 0)), ((8, 9), (1, 0)), ((48, 7), (1, 0)), ((7, 48), (1, 0)),
    ((3, 45, 37), (0, 2, 1)), ((5, 6, 7), (2, 0, 1)), ((5, 6, 7), (1, 2, 0)), ((4, 3, 2, 35), (3, 1, 0, 2)),
    ((5, 6, 7), (1, 0, 2)), ((2, 33, 18), (2, 1, 0)), ((17, 3, 40), (2, 1, 0)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.bool_])
def test_transposes_match_numpy(shape, perm, dtype):
    x = (np.arange(np.prod(shape)).reshape(shape) % 97).astype(dtype)

    def f(x):
        return np.transpose(x, perm) * 1

    np.testing.assert_array_equal(ember.trace(f, (x,))(x), f(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transposes_of_views(dtype):
    """Views (arguments with strides: a step in the rows, a slice, a transposed or reversed
    array) go by tiles and read the right elements."""
    x = np.arange(40 * 50, dtype=dtype).reshape(40, 50)
    for view in (x[:, ::2], x[3:37, 5:45], x.T, x[::-1]):
        f = ember.trace(lambda v: v.T.copy(), (view,))
        np.testing.assert_array_equal(f(view), view.T)


def test_contiguous_rows_are_transposed_by_blocks_in_registers():
    f = ember.trace(lambda x: x.T + 1.0, (np.ones((40, 50), np.float32),))
    loop = f.ir("loop")
    assert loop.count("vector.load") == 16 and loop.count("vector.shuffle") == 64
    assert loop.count("vector.store") == 16


def test_strided_rows_are_transposed_in_tiles():
    x = np.ones((40, 100))[:, ::2]
    f = ember.trace(lambda x: x.T + 1.0, (x,))
    loop = f.ir("loop")
    assert "arith.constant 32 : index" in loop and loop.count("loop.for") == 2
    assert "vector.shuffle" not in loop
