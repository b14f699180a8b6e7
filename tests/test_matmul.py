"""The packed float matmul (``lowering/matmul_packed.py``) against NumPy.

Shapes are chosen around every boundary of the blocking: the 12-row and 4-row kernels
(``MR``, ``MR_TAIL``), the 32-column strip (``NR`` of f32; 16 for f64), the task block
(about ``MB`` rows, ``nb`` columns), the k slice (``KC``), a first strip of rows (which packs B
as it goes) of 12 rows or fewer; empty and one-element dimensions; strided and transposed
operands; batches that broadcast. Floats agree with NumPy within a tolerance that grows with ``k``
(both sum in a different order).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
import ember.testing as et
from ember.lowering import matmul_packed as P


def _mm(x, y):
    return x @ y


MM = ember.script(_mm)


def _close(got, want, k):
    assert got.shape == want.shape and got.dtype == want.dtype
    tol = (2e-6 if want.dtype == np.float32 else 1e-14) * (max(k, 1) ** 0.5) * 8
    scale = max(np.abs(want).max(initial=0.0), 1.0)
    np.testing.assert_allclose(got, want, rtol=0, atol=tol * scale)


def _data(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _layouts(a, b):
    """The operands as they are, B transposed in memory (strided), A transposed in memory."""
    yield a, b
    yield a, np.ascontiguousarray(b.T).T
    yield np.ascontiguousarray(a.T).T, b


EDGES = [
    (2, 3, 5), (3, 1, 40), (4, 7, 32), (11, 9, 31), (12, 5, 33), (13, 20, 64),
    (15, 17, 65), (16, 17, 65), (17, 40, 97), (25, 257, 70), (64, 64, 64),
    (365, 30, 40), (250, 513, 130), (40, 0, 50), (0, 10, 40), (40, 10, 0),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", EDGES)
def test_edges_match_numpy(dtype, m, k, n):
    a, b = _data((m, k), dtype, 1), _data((k, n), dtype, 2)
    for x, y in _layouts(a, b):
        _close(MM(x, y), x @ y, k)


def test_blocking_constants_fit_the_tests():
    """The edge shapes above straddle the blocking; if the constants change, so must they."""
    assert (P.MR, P.MR_TAIL, P.NV) == (12, 4, 2)
    assert P.KC < 513 and 365 + P.MB // 2 >= 2 * P.MB  # 365 rows: two row blocks


@pytest.mark.parametrize("sa,sb", [
    ((3, 5, 70), (3, 70, 65)), ((5, 70), (3, 70, 65)), ((3, 5, 70), (1, 70, 65)),
    ((2, 3, 20, 40), (3, 40, 70)), ((2, 1, 20, 40), (3, 40, 70)),
])
def test_batches_broadcast(sa, sb):
    a, b = _data(sa, np.float32, 3), _data(sb, np.float32, 4)
    _close(MM(a, b), a @ b, sa[-1])


@pytest.mark.parametrize("sa,sb,dtype", [((50, 300), (300,), np.float32), ((2, 7, 30), (30, 1), np.float64),
                                         ((30,), (30, 9), np.float32), ((1, 30), (30, 9), np.float64)])
def test_vectors(sa, sb, dtype):
    """A column (``n == 1``: row dot products) or a row (``m == 1``: i-k-j) operand."""
    a, b = _data(sa, dtype, 5), _data(sb, dtype, 6)
    _close(np.asarray(MM(a, b)), np.asarray(a @ b), sa[-1])


def test_views_and_specials():
    """Sliced views (row stride above the width), infinities and NaN propagate as in NumPy."""
    big = _data((100, 90), np.float32, 7)
    a, b = big[3:30, 5:50], big[::2, 10:80][:45]
    _close(MM(a, b), a @ b, 45)
    a = np.ones((20, 8), np.float32)
    b = np.ones((8, 40), np.float32)
    a[3, 2], b[5, 7] = np.inf, np.nan
    got, want = MM(a, b), a @ b
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[np.isfinite(want)], want[np.isfinite(want)])


def test_two_threads_same_result():
    a, b = _data((300, 200), np.float32, 8), _data((200, 300), np.float32, 9)
    before = ember.get_num_threads()
    try:
        ember.set_num_threads(2)
        two = MM(a, b)
        ember.set_num_threads(1)
        one = MM(a, b)
    finally:
        ember.set_num_threads(before)
    np.testing.assert_array_equal(one, two)  # the blocking, not the thread count, fixes the order
    _close(one, a @ b, 200)


MATMUL = """builtin.module {
  func.func @f(%a: tensor<?x?xDT>, %b: tensor<?x?xDT>) -> tensor<?x?xDT> attributes {ember.entry} {
    %0 = etensor.matmul %a, %b : (tensor<?x?xDT>, tensor<?x?xDT>) -> tensor<?x?xDT>
    func.return %0 : tensor<?x?xDT>
  }
}"""


@settings(max_examples=40, deadline=None)
@given(m=st.integers(2, 40), k=st.integers(0, 300), n=st.integers(2, 90),
       transposed=st.booleans(), seed=st.integers(0, 2**16))
def test_shapes_match_numpy(m, k, n, transposed, seed):
    """Property, on one compiled function (sizes are dynamic): any shape matches NumPy."""
    a, b = _data((m, k), np.float32, seed), _data((k, n), np.float32, seed + 1)
    if transposed:
        b = np.ascontiguousarray(b.T).T
    _close(MM(a, b), a @ b, k)


@settings(max_examples=5, deadline=None)  # each example compiles (about a second)
@given(m=st.integers(2, 30), k=st.integers(0, 40), n=st.integers(2, 70),
       dt=st.sampled_from(["f32", "f64"]), seed=st.integers(0, 2**16))
def test_tensor_to_loop_preserves_matmul(m, k, n, dt, seed):
    """Property: the lowered matmul computes what the tensor-stage program computes."""
    dtype = np.float32 if dt == "f32" else np.float64
    a, b = _data((m, k), dtype, seed), _data((k, n), dtype, seed + 1)
    program = et.Program.from_module(MATMUL.replace("DT", dt), [a, b], position=0)
    et.check_rewrite(program, "tensor-to-loop")


def _dot(v, w):
    return np.dot(v, w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_dot_of_two_vectors_is_a_fused_sum(dtype):
    """``np.dot`` / ``@`` of two float vectors: the product fused into a float sum (blocked in
    float64 for float32), one pass and no matmul: far closer to the exact dot than NumPy's
    own float32 sdot; the lengths must agree as in NumPy."""
    rng = np.random.default_rng(3)
    v, w = (rng.standard_normal(1 << 20).astype(dtype) for _ in range(2))
    f = ember.script(_dot)
    got = f(v, w)
    exact = float(np.dot(v.astype(np.float64), w.astype(np.float64)))
    assert np.asarray(got).dtype == dtype and np.asarray(got).shape == ()
    scale = float(np.abs(v.astype(np.float64) * w).sum())
    eps = 2**-24 if dtype == np.float32 else 2**-53
    assert abs(float(got) - exact) <= scale * eps + abs(exact) * eps
    assert "etensor.matmul" not in f.ir("tensor") and "etensor.sum" in f.ir("tensor")
    with pytest.raises(ValueError, match="mismatch in its core dimension 0"):
        f(v, w[:-1])


def test_a_one_row_float32_matmul_sums_in_float64_blocks():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((1, 1 << 20)).astype(np.float32)
    b = rng.standard_normal((1 << 20, 1)).astype(np.float32)
    got = MM(a, b)
    exact = (a.astype(np.float64) @ b.astype(np.float64))[0, 0]
    assert got.shape == (1, 1) and got.dtype == np.float32
    scale = float((np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)))[0, 0])
    assert abs(float(got[0, 0]) - exact) <= scale * 2**-24 + abs(exact) * 2**-24
