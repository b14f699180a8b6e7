"""``ember.prange``: parallel loops in ``ember.script`` with Numba's semantics.

Every program runs three ways: plain Python (``prange`` is ``range``), compiled, and
compiled on 1 and 2 threads with the grain at 0 (every outlined loop splits into chunks,
however small). Integers must match exactly; float sums are reassociated per chunk, so
they match within a relative 1e-12 per term.
"""

import linecache
import math
import re
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from ember import prange
from ember.lowering import parallel_runtime as runtime


@contextmanager
def threads(n: int):
    saved = ember.get_num_threads(), runtime.get_grain()
    ember.set_num_threads(n)
    runtime.set_grain(0)
    try:
        yield
    finally:
        ember.set_num_threads(saved[0])
        runtime.set_grain(saved[1])


def ranged(x, start: int, stop: int, step: int):
    out = np.zeros(x.shape[0])
    count = 0
    total = 0
    for i in prange(start, stop, step):
        out[i] = x[i] * 2.0 + 1.0
        count += 1
        total += i
    return out, count, total


def reductions(x, k):
    s = 0.0
    t = 0
    p = 1
    hi = -1e300
    lo = 1e300
    m = -100
    flag = False
    for i in prange(x.shape[0]):
        s += x[i]
        t -= k[i]
        p *= k[i] % 2 + 1
        hi = max(hi, x[i])
        lo = min(x[i], lo)
        m = max(m, k[i])
        flag |= k[i] > 2
    return s, t, p, hi, lo, m, flag


def bool_reductions(k):
    some = False
    every = True
    for i in prange(k.shape[0]):
        some += k[i] > 0      # NumPy's bool +: or
        every *= k[i] > -3    # NumPy's bool *: and
    return some, every


def nested(x):
    out = np.zeros((x.shape[0], x.shape[1]))
    total = 0
    for i in prange(x.shape[0]):
        for j in prange(x.shape[1]):
            out[i, j] = x[i, j] * 2.0
        s = 0
        for j in prange(x.shape[1]):
            s += j * (i + 1)
        total += s
    return out, total


def conditional(x):
    out = np.zeros(x.shape[0])
    count = 0
    for i in prange(x.shape[0]):
        if x[i] < 0.0:
            continue
        out[i] = math.sqrt(x[i])
        count += 1
    return out, count


def private_arrays(x):
    out = np.zeros(x.shape[0])
    t = 5.0
    for i in prange(x.shape[0]):
        t = x[i] + 1.0
        tmp = np.zeros(3)
        for k in range(3):
            tmp[k] = t * k
        out[i] = tmp.sum()
    for i in range(x.shape[0]):  # t is assigned again before it is read: not carried
        t = out[i]
        out[i] = t * 2.0
    return out


def mandelbrot(h: int, w: int, max_iter: int):
    out = np.zeros((h, w), np.int64)
    for i in prange(h):
        for j in range(w):
            cr = -2.0 + 3.0 * j / w
            ci = -1.5 + 3.0 * i / h
            zr = 0.0
            zi = 0.0
            n = 0
            while n < max_iter and zr * zr + zi * zi <= 4.0:
                zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
                n += 1
            out[i, j] = n
    return out


def jacobi(a, iters: int):
    """A prange inside a serial loop; the arrays swap roles every iteration."""
    n = a.shape[0]
    m = a.shape[1]
    new = a.copy()
    for it in range(iters):
        for i in prange(1, n - 1):
            for j in range(1, m - 1):
                new[i, j] = 0.25 * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])
        a, new = new, a
    return a


def _same(got, want, terms: int = 1):
    if isinstance(want, tuple):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w, terms)
        return
    got, want = np.asarray(got), np.asarray(want)
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=1e-12 * max(terms, 1), atol=1e-12 * max(terms, 1))
    else:
        np.testing.assert_array_equal(got, want)


COMPILED = {fn: ember.script(fn) for fn in (ranged, reductions, bool_reductions, nested, jacobi, conditional,
                                            private_arrays, mandelbrot)}


def _check(fn, args, terms=1):
    fresh = lambda: [a.copy() if isinstance(a, np.ndarray) else a for a in args]  # noqa: E731
    want = fn(*fresh())  # Python may write into its arguments (jacobi's swap)
    for n in (1, 2, 3):
        with threads(n):
            _same(COMPILED[fn](*fresh()), want, terms)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 40), st.data())
def test_ranges_match_python(n, data):
    """Any start, stop and step whose values index ``x`` (negative ones from the end). A
    range with negative and non-negative values could write one element twice: an error."""
    step = data.draw(st.sampled_from([-3, -2, -1, 1, 2, 3]))
    lo, hi = (-n, n) if step > 0 else (-n - 1, n - 1)
    start, stop = data.draw(st.integers(lo, hi)), data.draw(st.integers(lo, hi))
    x = np.arange(n, dtype=np.float64) * 0.5 - 3.0
    values = range(start, stop, step)
    if values and (values[0] < 0) != (values[-1] < 0):
        for k in (1, 2):
            with threads(k), pytest.raises(ValueError, match="prange: the loop index takes "
                                                             "negative and non-negative values"):
                COMPILED[ranged](x, start, stop, step)
        return
    _check(ranged, (x, start, stop, step))


def negative_range(x):
    out = np.zeros(x.shape[0])
    for i in range(-3, 0):
        out[i] = x[i] + 1.0
    for i in range(-1, -4, -1):
        out[i] += x[i]
    return out


def test_negative_range_values_index_from_the_end():
    x = np.arange(5.0)
    _same(ember.script(negative_range)(x), negative_range(x))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 60), st.integers(0, 2**31))
def test_reductions_match_python(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    k = rng.integers(-4, 5, n)
    _check(reductions, (x, k), terms=n)
    _check(bool_reductions, (k,))


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 9), st.integers(0, 9), st.integers(0, 2**31))
def test_nested_prange_matches_python(n, m, seed):
    _check(nested, (np.random.default_rng(seed).standard_normal((n, m)),))


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 50), st.integers(0, 2**31))
def test_continue_and_private_arrays_match_python(n, seed):
    x = np.random.default_rng(seed).standard_normal(n)
    _check(conditional, (x,))
    _check(private_arrays, (x,))


def int_reductions(k):
    out = np.zeros(k.shape[0], np.int64)
    s = 0
    m = -100
    for i in prange(k.shape[0]):
        out[i] = k[i] * 3
        s += k[i] * i
        m = max(k[i], m)
    return out, s, m


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 30), st.integers(0, 2**31), st.sampled_from([1, 2]))
def test_parallel_lowering_preserves_prange_programs(n, seed, nthreads):
    """The tensor stage with ``{ember.prange}`` (a loop.parallel after tensor-to-loop) and
    without it (a serial scf.for) compute the same."""
    import ember.testing as et

    k = np.random.default_rng(seed).integers(-50, 50, n)
    for fn, args in ((int_reductions, (k,)), (ranged, (k * 0.5, 0, n, 1))):
        program = et.Program.from_function(fn, *args)
        serial_text = re.sub(r" \{ember.prange = \[[^\]]*\]\}", "", program.text)
        assert serial_text != program.text
        with threads(nthreads):
            parallel = et.run_jit(program)
            serial = et.run_jit(program.with_text(serial_text, program.position))
        assert parallel.error is None and serial.error is None
        _same(parallel.values, serial.values)


def test_mandelbrot_matches_python():
    _check(mandelbrot, (12, 17, 30))


@pytest.mark.parametrize("iters", [0, 1, 4])
def test_jacobi_matches_python(iters):
    x = np.random.default_rng(iters).random((9, 11)).astype(np.float32)
    _check(jacobi, (x.copy(), iters))


def test_prange_is_range_outside_scripts(monkeypatch):
    assert ember.prange(1, 7, 2) == range(1, 7, 2) and list(prange(3)) == [0, 1, 2]
    monkeypatch.setenv("EMBER_DISABLE_JIT", "1")
    f = ember.script(ranged)
    x = np.arange(5.0)
    _same(f(x, 4, -1, -1), ranged(x, 4, -1, -1))


def test_loop_stage_has_a_parallel_loop_with_named_reductions():
    f = COMPILED[reductions]
    f(np.ones(3), np.ones(3, np.int64))
    assert 'ember.prange = ["add", "add", "mul", "max", "min", "max", "or"]' in f.ir("tensor")
    loop_ir = f.ir("loop")
    assert "reduce(add, add, mul, max, min, max, or)" in loop_ir and "scf.for" not in loop_ir


def test_prange_body_writes_shared_arrays_in_place():
    """An element write under an ``if`` updates the array in place (no copy per
    iteration): the loop stays a loop.parallel without a carried buffer."""
    f = COMPILED[conditional]
    f(np.ones(3))
    loop_ir = f.ir("loop")
    assert "loop.parallel" in loop_ir and "iter_args" not in loop_ir
    assert loop_ir.count("memref.alloc") == 2  # the result array and the count


# -- errors -----------------------------------------------------------------------------

def breaks(x):
    out = np.zeros(x.shape[0])
    for i in prange(x.shape[0]):
        if x[i] < 0:
            break
        out[i] = x[i]
    return out


def returns(x):
    for i in prange(x.shape[0]):
        return x
    return x


def prefix_sum(x):
    out = np.zeros(x.shape[0])
    acc = 0.0
    for i in prange(x.shape[0]):
        acc += x[i]
        out[i] = acc
    return out


def same_element(x):
    out = np.zeros(1)
    for i in prange(x.shape[0]):
        out[0] = x[i]
    return out


def inner_index(x):
    out = np.zeros(x.shape[0])
    for i in prange(x.shape[0]):
        for j in range(x.shape[0]):
            out[j] = x[i]
    return out


def reads_neighbour(x):
    out = np.zeros(x.shape[0])
    for i in prange(1, x.shape[0]):
        out[i] = out[i - 1] + x[i]
    return out


def transposed(x):
    out = np.zeros((x.shape[0], x.shape[0]))
    for i in prange(x.shape[0]):
        out[i, 0] = out[0, i] + 1.0
    return out


def whole_array(x):
    out = np.zeros(x.shape[0])
    for i in prange(x.shape[0]):
        out[i] = out.sum()
    return out


def mixed_kinds(x):
    s = 1.0
    for i in prange(x.shape[0]):
        s += x[i]
        s *= 2.0
    return s


def assigns_index(x):
    out = np.zeros(x.shape[0])
    for i in prange(x.shape[0]):
        i = 0
        out[i] = x[i]
    return out


def conditional_carry(x):
    out = np.zeros(x.shape[0])
    t = 0.0
    for i in prange(x.shape[0]):
        if x[i] > 0:
            t = x[i]
        out[i] = t
    return out


def private_after(x):
    t = 0.0
    out = np.zeros(x.shape[0])
    for i in prange(x.shape[0]):
        t = x[i] * 2.0
        out[i] = t
    return t


def array_reduction(x):
    acc = np.zeros(x.shape[1])
    for i in prange(x.shape[0]):
        acc += x[i]
    return acc


X = np.ones(4)
ERRORS = [
    (breaks, (X,), "break inside a prange loop is not supported: its iterations run in any order",
     "hint: use range for a loop whose iterations depend on each other"),
    (returns, (X,), "return inside a prange loop is not supported",
     "hint: set an array element per iteration and return after the loop"),
    (prefix_sum, (X,), "reduction variable 'acc' is read inside the prange loop: its value depends "
     "on the order of the iterations", "hint: a reduction is only updated, as s += e"),
    (same_element, (X,), "iterations of this prange loop may write the same element of 'out': "
     "no index is the loop variable 'i'", "hint: write out[i, ...] = v with the prange variable"),
    (inner_index, (X,), "iterations of this prange loop may write the same element of 'out': "
     "no index is the loop variable 'i'", "hint: write out[i, ...] = v"),
    (reads_neighbour, (X,), "this read of 'out' may touch elements that other iterations of the "
     "prange loop write: the writes use 'i' as index 0, this read does not",
     "hint: use i as index 0 in every access to 'out'"),
    (transposed, (np.ones((3, 3)),), "this read of 'out' may touch elements that other iterations "
     "of the prange loop write: the writes use 'i' as index 0, this read does not", ""),
    (whole_array, (X,), "array 'out' is written by the iterations of this prange loop, so the loop "
     "may only use its elements, shape and len()", "hint: index it with the prange variable: out[i, ...]"),
    (mixed_kinds, (X,), "reduction variable 's' is combined with both 'add' and 'mul' in this "
     "prange loop", "hint: use one of += (or -=), *=, &=, |=, max, min per variable"),
    (assigns_index, (X,), "the prange variable 'i' cannot be assigned in the loop body",
     "hint: use another name"),
    (conditional_carry, (X,), "variable 't' is read before it is assigned in this iteration, so it "
     "carries a value from one iteration of the prange loop to the next",
     "hint: assign 't' first in every iteration"),
    (private_after, (X,), "variable 't' was assigned inside the prange loop at line "
     f"{private_after.__code__.co_firstlineno + 3}, so it has no value after the loop",
     "hint: assign it after the loop, or make it a reduction"),
    (array_reduction, (np.ones((3, 2)),), "'acc' is an array: a prange loop reduces scalars only",
     "hint: write acc[...] element by element, or use range"),
]


@pytest.mark.parametrize("fn, args, message, hint", ERRORS, ids=[e[0].__name__ for e in ERRORS])
def test_error_messages(fn, args, message, hint):
    with pytest.raises(ember.ScriptError) as info:
        ember.script(fn)(*args)
    first, source, caret, *rest = str(info.value).splitlines()
    assert first.startswith(__file__ + ":")
    assert first.endswith(": " + message)
    line, col = (int(v) for v in first[len(__file__) + 1:].split(":")[:2])
    assert source.strip() == linecache.getline(__file__, line).strip()
    assert caret.index("^") - 4 == col - 1
    if hint:
        assert rest and rest[0].startswith(hint)


def _reads_in_inner_if(x, c: float):
    out = np.zeros(x.shape[0])
    s = 0.0
    for k in range(3):
        for j in range(x.shape[0]):
            if c > j:
                s += out[j] + x[j]
        out = np.zeros(x.shape[0]) + k   # the old buffer is dead after the inner loop
    return s, out


def test_if_inside_an_inner_loop_does_not_take_over_an_outer_buffer():
    """An ``if`` may take over only buffers defined in its own block: ``out`` of the outer
    loop is read by every iteration of the inner one."""
    x = np.arange(6.0)
    _same(ember.script(_reads_in_inner_if)(x, 4.0), _reads_in_inner_if(x, 4.0))


def test_numba_prange_is_accepted():
    numba = pytest.importorskip("numba")
    g = dict(ranged.__globals__, prange=numba.prange)
    import types
    fn = types.FunctionType(ranged.__code__, g, "ranged")
    x = np.arange(7.0)
    f = ember.script(fn)
    _same(f(x, 0, 7, 2), ranged(x, 0, 7, 2))
    f(x, 0, 7, 2)
    assert "ember.prange" in f.ir("tensor")


t_global = 5.0


def private_shadows_global(x):
    out = np.zeros(x.shape[0])
    for i in prange(x.shape[0]):
        t_global = x[i]
        out[i] = t_global
    return t_global


def test_private_name_does_not_fall_back_to_a_global():
    with pytest.raises(ember.ScriptError, match="variable 't_global' was assigned inside the "
                                                "prange loop at line"):
        ember.script(private_shadows_global)(np.ones(3))


def shifted(x):
    out = np.zeros(x.shape[0])
    for i in prange(x.shape[0]):
        out[i] = x[i + 1]
    return out


@pytest.mark.parametrize("n", [1, 2, 3])
def test_index_error_inside_a_prange_body(n):
    """A failed bounds check in any chunk raises, as the serial loop does."""
    f = ember.script(shifted)
    with threads(n):
        with pytest.raises(ValueError, match="index out of bounds for axis 0"):
            f(np.arange(40.0))


def write_in_while(x):
    out = np.zeros((x.shape[0], 4))
    for i in prange(x.shape[0]):
        j = 0
        while j < 4:
            out[i, j] = x[i] * j
            j += 1
    return out


def write_in_inner_if(x):
    out = np.zeros((x.shape[0], 5))
    for i in prange(x.shape[0]):
        for j in range(5):
            if x[i] > j:
                out[i, j] = 1.0
            else:
                out[i, j] = -1.0
    return out


def two_shared(x):
    a = np.zeros(x.shape[0])
    b = np.zeros(x.shape[0], np.int64)
    for i in prange(x.shape[0]):
        a[i] += x[i]
        if x[i] > 0:
            b[i] = 1
    return a, b


@pytest.mark.parametrize("fn", [write_in_while, write_in_inner_if, two_shared])
def test_shared_writes_stay_in_place_in_nested_control_flow(fn):
    """Writes under while, for and if inside the body: still a loop.parallel (a copy of a
    shared array would make the loop serial)."""
    x = np.linspace(-2.0, 6.0, 9)
    _same(ember.script(fn)(x), fn(x))
    f = ember.script(fn)
    f(x)
    assert "} {ember.prange}" in f.ir("loop")


# -- scf.if taking over a buffer (bufferize_scf.lower_if), in serial loops too -------------

def if_patterns(x, c: float):
    out = np.zeros(x.shape[0])
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > c:
            out[i] = x[i]
            if x[i] > c + 1.0:
                out[i] *= 2.0
        else:
            out[i] = -x[i]
        if i > 0 and x[i] < c:
            s += out[i - 1]          # read only: the buffer is used after the if
        tmp = x * float(i)
        if x[i] > 0.0:
            tmp[0] = 5.0             # a temporary of this block, dead after the if
            s += tmp.sum()
        else:
            s -= tmp[0]
    return out, s


IF_PATTERNS = ember.script(if_patterns)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 12), st.integers(0, 2**31), st.floats(-1.0, 1.0))
def test_element_writes_under_if_match_python(n, seed, c):
    x = np.random.default_rng(seed).standard_normal(n)
    _same(IF_PATTERNS(x, c), if_patterns(x, c), terms=n * n)
