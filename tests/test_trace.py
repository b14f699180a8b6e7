"""ember.trace: unchanged NumPy code, symbolic shapes, loud warnings where a value is baked in."""

import functools
import inspect
import os
import warnings

import numpy as np
import pytest
from numpy import zeros as np_zeros
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ember

FAST = settings(max_examples=60 if os.environ.get("EMBER_FUZZ") == "long" else 12,
                deadline=None, suppress_health_check=list(HealthCheck))
RNG = np.random.default_rng(0)


def rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def reseed(*key: int) -> None:
    """Make ``rand`` a function of ``key``, so a hypothesis example replays with the same data."""
    global RNG
    RNG = np.random.default_rng(key)


def mlp(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0)
    z = h @ w2 + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def mlp_weights(dtype=np.float32):
    return rand(5, 16, dtype=dtype), rand(16, dtype=dtype), rand(16, 3, dtype=dtype), rand(3, dtype=dtype)


def clean_trace(fn, *args, **kwargs):
    """Trace with every TracerWarning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ember.TracerWarning)
        return ember.trace(fn, args, **kwargs)


def line_of(fn, marker: str) -> int:
    """The line of ``fn``'s source that holds the comment ``# <marker>``."""
    lines, first = inspect.getsourcelines(fn)
    return first + next(k for k, text in enumerate(lines) if text.rstrip().endswith(f"# {marker}"))


# -- the example -------------------------------------------------------------------


def test_mlp_traces_once_for_every_batch_size_and_never_warns():
    w = mlp_weights()
    g = clean_trace(mlp, rand(8, 5), *w)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ember.TracerWarning)
        for n in (8, 3, 100):
            x = rand(n, 5)
            np.testing.assert_allclose(g(x, *w), mlp(x, *w), rtol=1e-5, atol=1e-6)
    info = g.cache_info()
    assert info["misses"] == 1 and info["compiles"][0]["reason"] == "example inputs"
    ir = g.ir()
    assert "func.func @mlp(%x: tensor<?x?xf32>, %w1: tensor<?x?xf32>, %b1: tensor<?xf32>" in ir
    assert ir.count("etensor.matmul") == 2 and "etensor.exp" in ir


def test_new_dtype_or_rank_retraces_and_says_why():
    g = ember.trace(lambda x: x * 2 + x.sum(), (rand(4, 3),))
    g(rand(7, 2))
    g(rand(4, 3, dtype=np.float64))
    g(rand(6, dtype=np.float64))
    reasons = [c["reason"] for c in g.cache_info()["compiles"]]
    assert reasons == ["example inputs", "retraced: argument 0: new dtype float64",
                       "retraced: argument 0: new rank 1"]
    assert g.signatures == ["float32[?,?]", "float64[?,?]", "float64[?]"]


def test_python_scalar_arguments_stay_arguments():
    g = clean_trace(lambda x, a, n: x * a + n, rand(3), 2.0, 1)
    x = rand(5)
    np.testing.assert_allclose(g(x, 3.0, 4), x * 3.0 + 4, rtol=1e-6)
    assert g.cache_info()["misses"] == 1
    assert "%a: f64, %n: i64" in g.ir()
    assert g(x, 3.0, 4).dtype == np.float32  # NEP 50: weak Python scalars


# -- symbolic shapes ---------------------------------------------------------------------


def shapes(x):
    n = x.shape[0]
    flat = x.reshape(n, -1)
    z = np.zeros((n, 4), dtype=x.dtype)
    half = x[: n // 2]
    return flat.sum(axis=1) / x.shape[1], z + flat[:, :4], half * 2, n * 3 + 1, x.size


@given(rows=st.integers(2, 9), cols=st.integers(4, 7))
@FAST
def test_sizes_read_from_shape_stay_symbolic(rows, cols):
    reseed(rows, cols)
    x = rand(rows, cols)
    got, want = traced_shapes()(x), shapes(x)
    for a, b in zip(got, want):
        # a row mean can cancel to ~1e-4: the f32 sum order differs from NumPy's pairwise one
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert np.shape(a) == np.shape(b)
    assert type(got[3]) is int and got[3] == rows * 3 + 1
    assert traced_shapes().cache_info()["misses"] == 1


@functools.cache
def traced_shapes():
    return clean_trace(shapes, rand(6, 5))


def test_symbolic_sizes_are_index_arithmetic():
    ir = traced_shapes().ir()
    assert "etensor.dim %x[0]" in ir and "arith.floordivsi" in ir
    assert "tensor<?x4xf32>" in ir  # np.zeros((n, 4)): the 4 is static, n is not


def test_creation_functions_imported_by_name_are_traced_too():
    g = clean_trace(lambda x: np_zeros((x.shape[0], 2), np.float32) + x[:, :2], rand(3, 4))
    x = rand(7, 4)
    np.testing.assert_array_equal(g(x), x[:, :2])


def test_creation_functions_are_restored_after_tracing():
    real = (np.zeros, np.full, np.arange, np.asarray)
    with pytest.raises(ZeroDivisionError):
        ember.trace(lambda x: np.zeros((x.shape[0], 1)) + 1 / 0, (rand(3),))
    assert (np.zeros, np.full, np.arange, np.asarray) == real
    assert np.zeros((2,)).shape == (2,)


# -- hypothesis: traced programs equal NumPy -----------------------------------------------


def norm(x, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps)


def mixer(x, y):
    t = np.tanh(x.T @ y) * 0.5
    return np.where(t > 0, t, -t).reshape(-1), np.add.reduce(x, axis=1), x[..., -1]


def gelu_rows(x):
    c = np.sqrt(2.0 / np.pi)
    return 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x ** 3))) - x.max(axis=0)


PROGRAMS = [
    (norm, lambda r, c: (rand(r, c, dtype=np.float64), 1e-5)),
    (mixer, lambda r, c: (rand(r, c), rand(r, c + 1))),
    (gelu_rows, lambda r, c: (rand(r, c, dtype=np.float64),)),
    (mlp, lambda r, c: (rand(r, 5), *mlp_weights())),
]


@functools.cache
def traced(which: int):
    fn, make = PROGRAMS[which]
    return clean_trace(fn, *make(3, 4))


@given(which=st.integers(0, len(PROGRAMS) - 1), rows=st.integers(2, 40), cols=st.integers(2, 12))
@FAST
def test_traced_programs_equal_numpy_on_random_shapes(which, rows, cols):
    fn, make = PROGRAMS[which]
    reseed(which, rows, cols)
    args = make(rows, cols)
    got, want = traced(which)(*args), fn(*args)
    for a, b in zip(got, want) if isinstance(want, tuple) else [(got, want)]:
        assert np.asarray(a).dtype == np.asarray(b).dtype and np.shape(a) == np.shape(b)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert traced(which).cache_info()["misses"] == 1


# -- baked-in values warn with the user's line ---------------------------------------------


def branchy(x):
    if x.sum() > 0:  # bool
        x = x * 2
    s = float(x.max())  # float
    k = int(x.shape[0])  # int
    acc = 0
    for row in x:  # iter
        acc = acc + row
    idx = np.ones(x.shape[1], dtype=np.int64)
    return acc + s + k + np.arange(int(idx.sum()))  # item


BAKED = [
    ("bool", "a Python condition on a traced tensor was True when traced", "np.where"),
    ("float", "float() of a traced tensor gives the Python float 2.0", "x / x.sum()"),
    ("int", "int() of a traced size: the size 3 (its value when traced) is baked", "x.shape[0]"),
    ("iter", "iterating over a traced tensor unrolls the loop 3 times", "ember.script"),
    ("item", "int() of a traced tensor gives the Python int 2", "ember.script"),
]


def test_each_baked_value_warns_with_its_line_and_a_fix():
    x = np.full((3, 2), 1.0)
    with pytest.warns(ember.TracerWarning) as record:
        g = ember.trace(branchy, (x,))
    assert len(record) == len(BAKED)
    for w, (marker, what, fix) in zip(record, BAKED):
        text = str(w.message)
        assert w.filename == __file__ and w.lineno == line_of(branchy, marker), text
        assert text.startswith(f"{__file__}:{w.lineno}: ") and what in text and fix in text, text
    np.testing.assert_allclose(g(x), branchy(x))


def test_len_range_and_array_conversion_warn():
    def f(x):
        n = len(x)  # len
        for _ in range(x.shape[0]):  # range
            pass
        return x + np.asarray(x).sum() + n  # ok: np.asarray of a traced tensor is traced

    with pytest.warns(ember.TracerWarning) as record:
        ember.trace(f, (rand(4, 2),))
    assert [w.lineno for w in record] == [line_of(f, "len"), line_of(f, "range")]
    assert "len() of a traced tensor gives the Python int 4" in str(record[0].message)
    assert "a traced size is used as a Python int" in str(record[1].message)


def test_size_one_dimensions_are_known_and_never_warn():
    def f(x):
        assert x.shape[1] == 1 and x.shape[0] != 1
        return x.reshape(len(x.T), -1) * x.shape[1]

    g = clean_trace(f, rand(5, 1))
    np.testing.assert_allclose(g(rand(2, 1)).shape, (1, 2))


def test_check_inputs_catches_a_baked_branch():
    def relu_ish(x):
        if x.max() > 0:
            return x
        return -x

    with pytest.warns(ember.TracerWarning):
        with pytest.raises(ember.TraceCheckError, match=r"relu_ish: the trace disagrees with the "
                           r"Python function on check_inputs\[0\], result 0: at index \(0,\)"):
            ember.trace(relu_ish, (np.ones(3),), check_inputs=[(-np.ones(4),)])
    clean_trace(mlp, rand(2, 5), *mlp_weights(), check_inputs=[(rand(9, 5), *mlp_weights())])


# -- errors ------------------------------------------------------------------------------


def test_unsupported_numpy_function_names_it_and_the_line():
    def f(x):
        return np.argsort(x) + 1  # here

    with pytest.raises(ember.TraceError) as e:
        ember.trace(f, (rand(3),))
    assert str(e.value) == (
        f"{__file__}:{line_of(f, 'here')}:16: 'numpy.argsort' is not supported by ember.trace\n"
        "            return np.argsort(x) + 1  # here\n"
        "                   ^\n"
        "hint: ember traces the NumPy functions of its op table "
        "(ember.frontends.optable.FUNCTIONS); see docs/trace.md")


@pytest.mark.parametrize("body, message", [
    (lambda x: np.hypot(x, x), "'numpy.hypot' is not supported"),
    (lambda x: np.maximum.accumulate(x), "'numpy.maximum.accumulate' is not supported"),
    (lambda x: x.argsort(), "the method 'ndarray.argsort' is not supported"),
    (lambda x: x[x > 0], "fancy or boolean indexing"),
    (lambda x: x + 1j, "expected an array or a number, got complex"),
])
def test_unsupported_operations_raise_trace_errors(body, message):
    with pytest.raises(ember.TraceError, match=message):
        ember.trace(body, (rand(3),))


def test_element_writes_are_rejected():
    def f(x):
        x[0] = 1.0
        return x

    with pytest.raises(ember.TraceError, match="assignment is not supported by ember.trace"):
        ember.trace(f, (rand(3),))


# -- constants and mixing with ember.script ------------------------------------------------

TABLE = np.array([1.0, 2.0, 3.0], dtype=np.float32)
SCALE = 0.5


def test_captured_arrays_and_scalars_become_constants():
    g = clean_trace(lambda x: x * TABLE + SCALE, rand(4, 3))
    x = rand(7, 3)
    np.testing.assert_allclose(g(x), x * TABLE + SCALE, rtol=1e-6)
    assert "etensor.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00]>" in g.ir()


@ember.script
def power_sum(v, n: int):
    acc = v * 0
    for i in range(n):
        if i % 2 == 0:
            acc = acc + v ** i
    return acc


def test_traced_code_keeps_a_scripted_call_and_its_control_flow():
    def f(x, n):
        return power_sum(np.tanh(x), n) / x.shape[0]

    g = clean_trace(f, rand(4, 3, dtype=np.float64), 3)
    ir = g.ir()
    assert "scf.for" in ir and "scf.if" in ir and "etensor.tanh" in ir
    for shape, n in (((6, 2), 5), ((2, 9), 0)):
        x = rand(*shape, dtype=np.float64)
        np.testing.assert_allclose(g(x, n), f(x, n), rtol=1e-12)
    assert g.cache_info()["misses"] == 1


def test_scripted_code_can_call_a_traced_function():
    inner = clean_trace(lambda x: np.exp(x) - 1, rand(3))

    @ember.script
    def outer(x):
        return inner(x) * 2

    x = rand(5)
    # exp(x) - 1 cancels for small x: a 1-ulp difference in f32 exp (ember's vs NumPy's)
    # shows up as ~1e-5 relative there, so the check needs an absolute floor at f32 eps
    np.testing.assert_allclose(outer(x), (np.exp(x) - 1) * 2, rtol=1e-6, atol=1e-6)


def test_a_traced_function_called_while_tracing_is_traced_through():
    inner = clean_trace(lambda x: x + 1, rand(3))
    g = clean_trace(lambda x: inner(x) * inner(x), rand(2, 2))
    x = rand(3, 5)
    np.testing.assert_allclose(g(x), (x + 1) ** 2, rtol=1e-6)
    assert "etensor.add" in g.ir() and "call" not in g.ir()


@pytest.mark.parametrize("fn", [
    lambda x: np.clip(x, -0.5, 0.5), lambda x: x.clip(-0.5, 0.7), lambda x: np.clip(x, None, 0.2),
    lambda x: x.var(), lambda x: x.std(axis=0), lambda x: np.var(x, axis=1, keepdims=True),
    lambda x: np.std(x.astype(np.int64)), lambda x: (x > 0).var(axis=1),
])
def test_clip_var_std_match_numpy(fn):
    x = np.random.default_rng(5).standard_normal((50, 40)).astype(np.float32)
    got, want = ember.trace(fn, (x,))(x), fn(x)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=2e-6)


def test_clip_and_std_propagate_nan():
    x = np.ones((4, 3))
    x[2, 1] = np.nan
    for fn in (lambda x: np.clip(x, 0.0, 0.5), lambda x: x.std(axis=0)):
        np.testing.assert_array_equal(np.isnan(ember.trace(fn, (x,))(x)), np.isnan(fn(x)))


def test_var_with_ddof_is_refused_with_a_hint():
    with pytest.raises(ember.TraceError, match=r"only ddof=0 is supported; for ddof=1 write"):
        ember.trace(lambda x: x.var(ddof=1), (np.ones(3),))
