"""``fuse-rows`` and ``share-recomputed``: row-wise programs compute the same before and
after each pass (a property over random shapes, dtypes and values), and the passes do fuse
the rows and compute softmax's exp once."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ember
import ember.testing as et


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(x):
    s = x - x.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def layer_norm(x, g, b):
    mu = x.mean(axis=1, keepdims=True)
    d = x - mu
    var = (d * d).mean(axis=1, keepdims=True)
    return d / np.sqrt(var + 1e-5) * g + b


def shared_three_ways(x, g, b):
    t = np.tanh(x) * g          # three users: gets a buffer of its own
    m = t.max(axis=1, keepdims=True)
    return t - m + t.sum(axis=1, keepdims=True) * t + b


def rows_then_columns(x, g, b):
    r = x - x.mean(axis=1, keepdims=True)   # rows: fusible
    return r - r.mean(axis=0)                # a column mean reads every row: not into the rows


def elementwise_temporaries(x, g, b):
    a = np.exp(x * 0.01)
    t = a * a + a - np.tanh(a)      # a: three users, a buffer of its own before fuse-rows
    return t * t + t / (1.0 + t * t) + np.sin(t)


PROGRAMS = [softmax, log_softmax, layer_norm, shared_three_ways, rows_then_columns,
            elementwise_temporaries]


def _args(fn, x):
    if fn in (softmax, log_softmax):
        return (x,)
    if fn is elementwise_temporaries:
        return (x.ravel(), x, x)
    g = np.linspace(0.5, 1.5, x.shape[1]).astype(x.dtype)
    return (x, g, g[::-1].copy())


@pytest.mark.parametrize("rewrite", ["fuse-rows", "share-recomputed", "forward-stores"])
def test_row_passes_preserve_semantics(rewrite):
    @et.fuzz_settings(8, long=300)
    @given(data=st.data())
    def preserves(data):
        _check_row_program(data, rewrite)

    preserves()


def _check_row_program(data, rewrite):
    fn = data.draw(st.sampled_from(PROGRAMS))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    shape = data.draw(st.tuples(st.integers(1, 40), st.integers(1, 300)))
    x = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-30, 30, width=np.dtype(dtype).itemsize * 8)))
    program = et.Program.from_function(fn, *_args(fn, x)).before(rewrite)
    et.check_rewrite(program, rewrite)


def _top_level_nests(f) -> int:
    text = f.ir(stage="loop")
    return sum(1 for line in text.splitlines() if line.startswith("    loop.parallel"))


@pytest.mark.parametrize("fn, nests", [(softmax, 1), (log_softmax, 1), (layer_norm, 1),
                                       (shared_three_ways, 1), (rows_then_columns, 3)])
def test_row_programs_become_one_nest(fn, nests):
    x = np.random.default_rng(0).standard_normal((8, 33)).astype(np.float32)
    f = ember.script(fn)
    np.testing.assert_allclose(f(*_args(fn, x)), fn(*_args(fn, x)), rtol=2e-5, atol=2e-6)
    assert _top_level_nests(f) == nests, f.ir(stage="loop")


def test_softmax_computes_each_exp_once(monkeypatch):
    monkeypatch.setenv("EMBER_STRICT_MATH", "1")  # keep math.exp as one op to count
    x = np.random.default_rng(1).standard_normal((5, 300)).astype(np.float32)
    f = ember.script(softmax)
    np.testing.assert_allclose(f(x), softmax(x), rtol=2e-6, atol=1e-7)
    assert f.ir(stage="loop").count("math.exp") == 1, f.ir(stage="loop")


def test_temporaries_filled_and_read_in_one_loop_disappear():
    """After fuse-rows the temporaries of an elementwise chain are filled and read back in
    the same iteration: forward-stores makes them SSA values, and only the result buffer is
    allocated (the peak memory drops from three arrays to one)."""
    x = np.random.default_rng(2).standard_normal(1000).astype(np.float32)
    f = ember.script(elementwise_temporaries)
    np.testing.assert_allclose(f(*_args(elementwise_temporaries, x)),
                               elementwise_temporaries(*_args(elementwise_temporaries, x)),
                               rtol=2e-5, atol=1e-6)
    loop_ir = f.ir(stage="loop")
    assert loop_ir.count("memref.alloc") == 1, loop_ir
    assert "ember.result" in loop_ir


def test_row_results_do_not_depend_on_where_arrays_are_allocated():
    """The same input gives the same bits on every call, wherever the allocator puts the
    input and the result: no loop that reduces also stores (LLVM would guard its vector form
    with a run-time overlap check whose scalar fallback sums in another order, and small
    arrays allocated next to each other take the fallback)."""
    rng = np.random.default_rng(3)
    f = ember.script(softmax)
    for shape in [(4, 10), (3, 17), (2, 40), (5, 3)]:
        x = rng.standard_normal(shape).astype(np.float32)
        want = f(x)
        keep = []  # hold arrays so that the allocator keeps handing out fresh places
        for _ in range(300):
            y = x.copy()
            keep.append(y)
            got = f(y)
            keep.append(got)
            assert np.array_equal(got, want), (shape, np.abs(got - want).max())
