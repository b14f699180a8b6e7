"""The script frontend's Python subset: control flow, element loops, calls, and errors."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ember

FAST = settings(max_examples=200 if os.environ.get("EMBER_FUZZ") == "long" else 25,
                deadline=None, suppress_health_check=list(HealthCheck))


def mandel(h: int, w: int, max_iter: int):
    out = np.zeros((h, w), np.int64)
    for i in range(h):
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
    n, m = a.shape[0], a.shape[1]
    new = a.copy()
    for it in range(iters):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                new[i, j] = 0.25 * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])
        a, new = new, a
    return a


def prefix_sum(x):
    out = np.empty_like(x)
    acc = 0.0
    for i in range(len(x)):
        acc += x[i]
        out[i] = acc
    return out


def matmul_loops(a, b):
    n, k, m = a.shape[0], a.shape[1], b.shape[1]
    c = np.zeros((n, m), a.dtype)
    for i in range(n):
        for p in range(k):
            aip = a[i, p]
            for j in range(m):
                c[i, j] += aip * b[p, j]
    return c


def test_mandelbrot_matches_python():
    np.testing.assert_array_equal(ember.script(mandel)(40, 30, 50), mandel(40, 30, 50))


@pytest.mark.parametrize("iters", [0, 1, 4, 5])
def test_jacobi_swaps_buffers_and_matches_python(iters):
    """The swap loop writes into the caller's array on every other iteration, as in Python."""
    a = np.random.rand(20, 17)
    mine, theirs = a.copy(), a.copy()
    np.testing.assert_allclose(ember.script(jacobi)(mine, iters), jacobi(theirs, iters), rtol=1e-12)
    np.testing.assert_allclose(mine, theirs, rtol=1e-12)


def test_prefix_sum_and_nep50_accumulator():
    x = np.random.rand(100).astype(np.float32)
    got = ember.script(prefix_sum)(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, prefix_sum(x), rtol=1e-6)


def test_triple_loop_matmul():
    a, b = np.random.rand(7, 5).astype(np.float32), np.random.rand(5, 3).astype(np.float32)
    np.testing.assert_allclose(ember.script(matmul_loops)(a, b), a @ b, rtol=1e-5)


def test_writing_into_an_argument_changes_the_caller_array():
    @ember.script
    def bump(x):
        x[0] = 42.0
        return x

    x = np.zeros(3)
    assert bump(x).tolist() == [42.0, 0.0, 0.0]
    assert x.tolist() == [42.0, 0.0, 0.0]


def test_negative_indices_and_bounds():
    f = ember.script(lambda x: x[-1] + x[0])
    assert f(np.array([1.0, 2.0, 5.0])) == 6.0
    g = ember.script(lambda x, i: x[i])
    with pytest.raises(ValueError, match="index out of bounds for axis 0"):
        g(np.ones(3), 3)


def test_range_with_negative_step_and_early_return():
    def down(n: int):
        s = 0
        for i in range(n, 0, -3):
            s += i
        return s

    def sign(x: float):
        if x > 0:
            return 1
        elif x < 0:
            return -1
        return 0

    for n in (-2, 0, 1, 9, 10):
        assert ember.script(down)(n) == down(n)
    assert [ember.script(sign)(v) for v in (2.5, -1.0, 0.0)] == [1, -1, 0]


def test_calls_are_inlined_and_tuples_unpack():
    def pair(x):
        return x + 1, x - 1

    def sq(v):
        return v * v

    @ember.script
    def f(x):
        a, b = pair(x)
        return sq(a) + sq(b)

    x = np.arange(4.0)
    np.testing.assert_allclose(f(x), (x + 1) ** 2 + (x - 1) ** 2)


def _control(n: int, a: float, b: float):
    s = 0.0
    k = 0
    for i in range(n):
        if (i * a) % 3.0 < b:
            s += i * a
        elif i % 2 == 0:
            s -= b
        else:
            s = s * 0.5
        k += 1
    while k > 0 and s > -1000.0:
        s = s / 2 - 1
        k -= 3
    t = s if k % 2 == 0 else -s
    return t, k


_control_script = ember.script(_control)


@given(st.integers(-3, 40), st.floats(-10, 10), st.floats(-10, 10))
@FAST
def test_random_trip_counts_and_branches_match_python(n, a, b):
    got = _control_script(n, a, b)
    want = _control(n, a, b)
    assert got[1] == want[1]
    assert got[0] == pytest.approx(want[0], rel=1e-12, abs=1e-12)


def _int_ops(a: int, b: int):
    q = a // b if b != 0 else 0
    r = a % b if b != 0 else 0
    return q, r, abs(a), min(a, b), max(a, b), a ** 2


_int_script = ember.script(_int_ops)


@given(st.integers(-1000, 1000), st.integers(-50, 50))
@FAST
def test_python_integer_semantics(a, b):
    assert _int_script(a, b) == _int_ops(a, b)


def test_types_unify_across_branches_and_iterations():
    @ember.script
    def f(n: int):
        x = 0
        for i in range(n):
            x = x + 0.5
        return x

    assert f(3) == 1.5 and isinstance(f(3), float)


# -- errors: one per construct, exact text -------------------------------------------------

def _error(fn, *args) -> str:
    with pytest.raises(ember.ScriptError) as info:
        ember.script(fn)(*args)
    return str(info.value)


def uses_try(x):
    try:
        y = x
    except ValueError:
        y = x
    return y


def uses_lambda(x):
    f = lambda v: v  # noqa: E731
    return f(x)


def uses_comprehension(x):
    return [v for v in x]


def uses_generator(x):
    return sum(v for v in x)


def uses_global(x):
    global counter
    return x


def uses_string(x):
    return "text"


def uses_dict(x):
    return {"a": x}


def uses_unknown(x):
    return print(x)


def uses_with(x):
    with open("f"):
        return x


def uses_class(x):
    class A:
        pass
    return x


def uses_yield(x):
    yield x


def branch_types(x, c: float):
    if c > 0:
        y = x
    else:
        y = 1.0
    return y


def matmul_rank(x, y):
    return x @ y


def tuple_plus(x):
    return (x, x) + x


def star_args(*xs):
    return xs[0]


def recursive(n: int):
    return n * recursive(n - 1) if n > 1 else 1


def tensor_if(x):
    if x > 0:
        return x
    return -x


X = np.ones(3)
ERRORS = [
    (uses_try, (X,), "try/except is not supported in ember.script", "hint: move error handling"),
    (uses_lambda, (X,), "lambda is not supported in ember.script", "hint: define a function at module level"),
    (uses_comprehension, (X,), "list comprehension is not supported in ember.script", "hint: use a for loop"),
    (uses_generator, (X,), "generator expression is not supported in ember.script", "hint: use a for loop"),
    (uses_global, (X,), "global statement is not supported in ember.script", "hint: pass the value"),
    (uses_string, (X,), "string constants are not supported in ember.script", ""),
    (uses_dict, (X,), "dict is not supported in ember.script", "hint: pass separate arguments"),
    (uses_unknown, (X,), "call to unsupported function 'print'", "hint: ember.script compiles"),
    (uses_with, (X,), "with statement is not supported in ember.script", "hint: move context managers"),
    (uses_class, (X,), "class definition is not supported in ember.script", "hint: define classes"),
    (uses_yield, (X,), "yield is not supported in ember.script", "hint: return an array"),
    (branch_types, (X, 1.0), "variable 'y' is a tensor on one path and a scalar on another",
     "hint: give the variable the same kind on every path"),
    (matmul_rank, (X, np.float64(2.0)), "matmul: Input operand does not have enough dimensions", ""),
    (tuple_plus, (X,), "unsupported operand types for add: tuple", "hint: tuples can only be"),
    (recursive, (3,), "recursive call to 'recursive' is not supported", "hint: rewrite the recursion"),
    (tensor_if, (X,), "the truth value of an array with more than one element is ambiguous",
     "hint: use np.where"),
]


@pytest.mark.parametrize("fn, args, message, hint", ERRORS, ids=[e[0].__name__ for e in ERRORS])
def test_error_messages(fn, args, message, hint):
    text = _error(fn, *args)
    first, source, caret, *rest = text.splitlines()
    assert first.startswith(__file__ + ":")
    assert first.endswith(": " + message)
    line, col = (int(v) for v in first[len(__file__) + 1:].split(":")[:2])
    import linecache
    assert source.strip() == linecache.getline(__file__, line).strip()
    assert caret.index("^") - 4 == col - 1
    if hint:
        assert rest and rest[0].startswith(hint)


def test_error_carries_fields():
    with pytest.raises(ember.ScriptError) as info:
        ember.script(uses_try)(X)
    e = info.value
    assert e.filename == __file__ and e.construct == "try/except" and e.lineno > 0


def test_star_args_rejected():
    with pytest.raises(ember.ScriptError, match=r"\*args and \*\*kwargs are not supported"):
        ember.script(star_args)(X)


def test_subset_page_is_generated_from_the_table():
    from ember.frontends.subset import render_markdown

    path = os.path.join(os.path.dirname(__file__), "..", "docs", "python-subset.md")
    with open(path) as f:
        assert f.read() == render_markdown(), "regenerate: python -m ember.frontends.subset"


def test_basic_slicing_matches_numpy():
    f = ember.script(lambda x: (x[1], x[:, 2], x[1:3], x[::-1], x[-2:, ::2], x[::-2, 1], x[5:], x[1, 1:]))
    x = np.arange(20.0).reshape(4, 5)
    want = (x[1], x[:, 2], x[1:3], x[::-1], x[-2:, ::2], x[::-2, 1], x[5:], x[1, 1:])
    for g, w in zip(f(x), want):
        assert g.shape == w.shape
        np.testing.assert_array_equal(g, w)


def test_numpy_style_jacobi_with_slices():
    @ember.script
    def step(a):
        return 0.25 * (a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:])

    a = np.random.rand(9, 7)
    np.testing.assert_allclose(step(a), 0.25 * (a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:]))


def _find(x, v: float):
    idx = -1
    for i in range(len(x)):
        if x[i] == v:
            idx = i
            break
    return idx


def _skip_and_stop(n: int):
    s = 0
    for i in range(n):
        if i % 3 == 0:
            continue
        s += i
        if s > 50:
            break
    return s


def _while_true(n: int):
    k = 0
    while True:
        k += 1
        if k * k > n:
            break
        if k % 2:
            continue
        n -= 1
    return k, n


def _countdown_break(n: int):
    last = 0
    for i in range(n, -n, -2):
        if i * i < 5:
            break
        last = i
    return last


@pytest.mark.parametrize("fn, cases", [
    (_find, [(np.array([3.0, 5.0, 7.0, 5.0]), 5.0), (np.array([3.0, 5.0]), 9.0)]),
    (_skip_and_stop, [(0,), (10,), (100,)]),
    (_while_true, [(50,), (3,), (0,)]),
    (_countdown_break, [(0,), (7,), (10,)]),
])
def test_break_and_continue(fn, cases):
    f = ember.script(fn)
    for args in cases:
        assert f(*args) == fn(*args)


def test_function_without_source_gets_a_clear_error():
    ns = {}
    exec("def g(x):\n    return x + 1\n", ns)
    with pytest.raises(ember.ScriptError, match="cannot read the source of 'g'"):
        ember.script(ns["g"])(np.ones(2))


def test_loops_with_temporaries_do_not_leak():
    import gc
    import resource

    @ember.script
    def f(x, n: int):
        acc = np.zeros_like(x)
        for i in range(n):
            t = np.exp(x) * i          # a temporary per iteration
            if i % 2 == 0:
                acc = acc + t          # a fresh buffer replaces the carried one
            else:
                acc[0] += 1.0          # an in-place write
        return acc, x[::-1]

    def rss_kb():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() // 1024

    x = np.ones(64)
    want = f.py_func(x.copy(), 7)
    got = f(x, 7)
    np.testing.assert_allclose(got[0], want[0])
    for _ in range(500):
        f(x, 7)
    gc.collect()
    before = rss_kb()
    for _ in range(20_000):
        f(x, 7)
    gc.collect()
    assert rss_kb() - before < 2048
