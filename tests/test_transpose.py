"""Transposing copies in tiles (``tensor_ops._tiled``): every permutation that moves the
innermost axis, on sizes that are and are not multiples of the tile."""

import numpy as np
import pytest

import ember


@pytest.mark.parametrize("shape, perm", [
    ((70, 33), (1, 0)), ((32, 64), (1, 0)), ((1, 40), (1, 0)), ((40, 1), (1, 0)), ((0, 5), (1, 0)),
    ((3, 45, 37), (0, 2, 1)), ((5, 6, 7), (2, 0, 1)), ((5, 6, 7), (1, 2, 0)), ((4, 3, 2, 35), (3, 1, 0, 2)),
    ((5, 6, 7), (1, 0, 2)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
def test_transposes_match_numpy(shape, perm, dtype):
    x = (np.arange(np.prod(shape)).reshape(shape) % 7).astype(dtype)

    def f(x):
        return np.transpose(x, perm) * 1

    np.testing.assert_array_equal(ember.trace(f, (x,))(x), f(x))


def test_a_transpose_moving_the_innermost_axis_is_tiled():
    f = ember.trace(lambda x: x.T + 1.0, (np.ones((40, 50)),))
    loop = f.ir("loop")
    assert "arith.constant 32 : index" in loop and loop.count("loop.for") == 2
