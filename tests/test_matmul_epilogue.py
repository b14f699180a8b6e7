"""Epilogue fusion (``lowering/matmul_epilogue.py``) and the packed matmul's first-slice
stores: the elementwise ops on a packed matmul's result, applied in its last write-back, give
the same bits as the separate loop nest they replace, and NumPy's values.

Both sides run ember's whole pipeline; only ``tensor-to-loop{fuse_epilogue=...}`` differs.
Sizes are dynamic, so one compiled module per function and dtype serves every shape.
"""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
import ember.testing as et
from ember.context import make_context
from ember.lowering.matmul_epilogue import chain
from ember.lowering.tensor_to_loop import TensorToLoopPass


def relu_layer(x, w, b):
    return np.maximum(x @ w + b, 0.0)


def scaled_column_bias(x, w, c):
    return (x @ w) * 0.5 + c


def tanh_layer(x, w, b):
    return np.tanh(x @ w - b)


def two_layers(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0.0)
    return h @ w2 + b2


def summed(x, w1, w2):
    return x @ w1 + x @ w2


def used_twice(x, w, b):
    z = x @ w
    return z + b, z * 2.0


def reduced(x, w):
    return (x @ w).sum(axis=1)


@functools.lru_cache(maxsize=None)
def _lower(text: str, fuse: bool) -> str:
    module = et.Program.from_module(text, []).module()
    ctx = make_context()
    for _, p in et.pipeline():
        (TensorToLoopPass(fuse_epilogue=fuse) if isinstance(p, TensorToLoopPass) else p).apply(ctx, module)
    return str(module)


def run(fn, *args, fuse: bool):
    """``fn`` through ember's pipeline with the epilogue fused or not, on the JIT."""
    program = et.Program.from_function(fn, *args)
    lowered = program.with_text(_lower(program.text, fuse), len(et.pipeline()))
    outcome = et.run_jit(lowered)
    assert outcome.error is None, outcome.error
    return outcome.values


def check(fn, *args, k: int):
    """Fused == unfused bit for bit; both match NumPy within a tolerance growing with k."""
    fused, unfused = run(fn, *args, fuse=True), run(fn, *args, fuse=False)
    want = fn(*args)
    want = want if isinstance(want, tuple) else (want,)
    for f, u, w in zip(fused, unfused, want):
        np.testing.assert_array_equal(f.view(np.uint8), u.view(np.uint8))
        assert f.shape == w.shape and f.dtype == w.dtype
        tol = (2e-6 if w.dtype == np.float32 else 1e-14) * (max(k, 1) ** 0.5) * 8
        np.testing.assert_allclose(f, w, rtol=0, atol=tol * max(np.abs(w).max(initial=0.0), 1.0))


def _data(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@settings(max_examples=30, deadline=None)
@given(m=st.integers(2, 70), k=st.integers(0, 70), n=st.integers(2, 70),
       dt=st.sampled_from([np.float32, np.float64]), transposed=st.booleans(),
       seed=st.integers(0, 2**16))
def test_fused_layer_matches_unfused_and_numpy(m, k, n, dt, transposed, seed):
    """Property: bias + ReLU in the write-back, any shape (partial tiles, 4-row strips, B read
    in place below 16 rows, empty k: the epilogue of zeros), f32 and f64, B transposed."""
    x, w, b = _data((m, k), dt, seed), _data((k, n), dt, seed + 1), _data((n,), dt, seed + 2)
    if transposed:
        w = np.ascontiguousarray(w.T).T
    check(relu_layer, x, w, b, k=k)


@settings(max_examples=10, deadline=None)
@given(m=st.integers(2, 70), k=st.integers(0, 70), n=st.integers(2, 70), seed=st.integers(0, 2**16))
def test_other_epilogues(m, k, n, seed):
    """A column bias after a scale, a unary op (tanh, expanded into polynomials)."""
    x, w = _data((m, k), np.float32, seed), _data((k, n), np.float32, seed + 1)
    check(scaled_column_bias, x, w, _data((m, 1), np.float32, seed + 2), k=k)
    check(tanh_layer, x, w, _data((n,), np.float32, seed + 3), k=k)


@pytest.mark.parametrize("m,k,n", [(2, 3, 5), (13, 0, 40), (17, 300, 33), (250, 513, 130), (365, 30, 40)])
def test_edges_and_k_slices(m, k, n):
    """Several k slices (the epilogue only at the last), two row blocks, no k at all."""
    x, w = _data((m, k), np.float32, 1), _data((k, n), np.float32, 2)
    check(relu_layer, x, w, _data((n,), np.float32, 3), k=k)


def test_batched_and_two_layers():
    x3, w = _data((3, 20, 40), np.float64, 4), _data((40, 70), np.float64, 5)
    check(relu_layer, x3, w, _data((70,), np.float64, 6), k=40)
    args = [_data(s, np.float32, 7 + i) for i, s in enumerate([(30, 50), (50, 80), (80,), (80, 20), (20,)])]
    check(two_layers, *args, k=80)


def test_results_that_do_not_fuse():
    """A result used twice, or by a reduction, keeps its buffer; values are unchanged."""
    x, w, b = _data((20, 30), np.float32, 8), _data((30, 40), np.float32, 9), _data((40,), np.float32, 10)
    check(used_twice, x, w, b, k=30)
    check(reduced, x, w, k=30)
    check(summed, x, w, _data((30, 40), np.float32, 11), k=30)  # the add joins one epilogue


@pytest.mark.parametrize("threads", [1, 2])
def test_threads(threads):
    """Tasks large enough to run on threads: the thread count does not change a bit."""
    x, w, b = _data((300, 200), np.float32, 11), _data((200, 300), np.float32, 12), _data((300,), np.float32, 13)
    before = ember.get_num_threads()
    try:
        ember.set_num_threads(threads)
        check(relu_layer, x, w, b, k=200)
    finally:
        ember.set_num_threads(before)


def test_chain_stops_where_it_must():
    """The chain follows single elementwise users of the matmul's shape and ends in its type."""
    def chain_of(fn, *args):
        module = et.Program.from_function(fn, *args).module()
        mm = next(op for op in module.walk() if op.name == "etensor.matmul")
        return [op.name for op in chain(mm)]

    x, w, b = _data((20, 30), np.float32, 0), _data((30, 40), np.float32, 1), _data((40,), np.float32, 2)
    assert chain_of(relu_layer, x, w, b) == ["etensor.add", "etensor.maximum"]
    assert chain_of(used_twice, x, w, b) == []
    assert chain_of(reduced, x, w) == []
    assert chain_of(to_float64, x, w) == []  # ends in float64: C holds float32 sums


def to_float64(x, w):
    return (x @ w).astype(np.float64)


def test_fused_layer_has_one_loop_nest():
    """Fused, the layer is the matmul's task loop alone; unfused, a second nest adds and clamps."""
    x, w, b = _data((20, 30), np.float32, 0), _data((30, 40), np.float32, 1), _data((40,), np.float32, 2)
    text = et.Program.from_function(relu_layer, x, w, b).text
    calls = {fuse: _lower(text, fuse).count("ember_parallel_for") for fuse in (True, False)}
    assert calls[True] == calls[False] - 1  # (each text also declares the runtime function)


#: (name, arity) of the ops a random epilogue draws from; binary ops take an operand of
#: OPERANDS (a bias row, a bias column, a 0-d scalar, a full matrix) or the value itself
OPS = [("add", 2), ("sub", 2), ("mul", 2), ("maximum", 2), ("minimum", 2), ("tanh", 1), ("neg", 1),
       ("abs", 1)]
OPERANDS = {"r": "?xDT", "c": "?x1xDT", "s": "DT", "y": "?x?xDT"}


@st.composite
def epilogues(draw):
    """A tensor-stage function: a matmul, then a chain of elementwise ops, some of whose
    values may also be returned (which ends the fusible chain there)."""
    lines, value, results = ["%v0 = etensor.matmul %x, %w : (tensor<?x?xDT>, tensor<?x?xDT>) -> tensor<?x?xDT>"], "%v0", []
    for k in range(1, draw(st.integers(1, 5)) + 1):
        name, arity = draw(st.sampled_from(OPS))
        if arity == 1:
            lines.append(f"%v{k} = etensor.{name} {value} : tensor<?x?xDT>")
        else:
            other = draw(st.sampled_from([*OPERANDS, "self"]))
            ref, t = (value, "?x?xDT") if other == "self" else (f"%{other}", OPERANDS[other])
            lhs, rhs = draw(st.sampled_from([(value, ref), (ref, value)]))
            types = f"tensor<?x?xDT>, tensor<{t}>" if lhs == value else f"tensor<{t}>, tensor<?x?xDT>"
            lines.append(f"%v{k} = etensor.{name} {lhs}, {rhs} : ({types}) -> tensor<?x?xDT>")
        if draw(st.integers(0, 4)) == 0:
            results.append(value)
        value = f"%v{k}"
    results.append(value)
    body = "\n    ".join(lines + [f"func.return {', '.join(results)} : {', '.join(['tensor<?x?xDT>'] * len(results))}"])
    args = "%x: tensor<?x?xDT>, %w: tensor<?x?xDT>, " + ", ".join(f"%{n}: tensor<{t}>" for n, t in OPERANDS.items())
    outs = ", ".join(["tensor<?x?xDT>"] * len(results))
    return f"""builtin.module {{
  func.func @f({args}) -> ({outs}) attributes {{ember.entry}} {{
    {body}
  }}
}}"""


@et.fuzz_settings(12, 300)  # each example compiles three times
@given(text=epilogues(), m=st.integers(2, 40), k=st.integers(0, 40), n=st.integers(2, 40),
       dt=st.sampled_from(["f32", "f64"]), seed=st.integers(0, 2**16))
def test_random_epilogues(text, m, k, n, dt, seed):
    """Property: a random chain (bias rows and columns, scalars, matrices, the value itself,
    unary ops, values also returned) fused gives the unfused bits, and the tensor stage's values."""
    dtype = np.float32 if dt == "f32" else np.float64
    shapes = [(m, k), (k, n), (n,), (m, 1), (), (m, n)]
    inputs = [_data(shape, dtype, seed + i) for i, shape in enumerate(shapes)]
    program = et.Program.from_module(text.replace("DT", dt), inputs, position=0)
    fused, unfused = (et.run_jit(program.with_text(_lower(program.text, fuse), len(et.pipeline())))
                      for fuse in (True, False))
    for f, u in zip(fused.values, unfused.values):
        np.testing.assert_array_equal(f.view(np.uint8), u.view(np.uint8))
    et.check_rewrite(program, TensorToLoopPass(fuse_epilogue=True))
