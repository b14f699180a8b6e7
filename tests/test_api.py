"""The user API: calling conventions, errors at call time, introspection, memory."""

import gc
import resource

import numpy as np
import pytest

import ember


@ember.script
def chain(x, y, a: float):
    return np.tanh(x * a + y) * 0.5 + x.sum(axis=1, keepdims=True)


def test_issue_example_matches_numpy_and_prints_every_stage():
    x = np.random.rand(64, 96).astype(np.float32)
    y = np.random.rand(96).astype(np.float32)
    out = chain(x, y, 2.0)
    want = np.tanh(x * 2.0 + y) * 0.5 + x.sum(axis=1, keepdims=True)
    assert out.dtype == want.dtype and out.shape == want.shape
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    assert "etensor.tanh" in chain.ir(stage="tensor")
    assert "loop.parallel" in chain.ir(stage="loop")
    assert "llvm.func" in chain.ir(stage="llvm")
    assert "define" in chain.llvm_ir()


def test_stages_parse_back():
    from xdsl.parser import Parser

    from ember.context import make_context

    chain(np.ones((2, 3), np.float32), np.ones(3, np.float32), 1.0)
    for stage in ("tensor", "loop", "llvm"):
        text = chain.ir(stage=stage)
        module = Parser(make_context(), text).parse_module()
        module.verify()
        assert str(module) == text


def test_non_contiguous_views_without_copies():
    base = np.random.rand(8, 10).astype(np.float64)
    f = ember.script(lambda x, y: x * 2 + y)
    for x in (base.T, base[::2, ::-3], base[:, 3]):
        y = np.random.rand(*x.shape)
        np.testing.assert_allclose(f(x, y), x * 2 + y, rtol=1e-12)


def test_specialisation_cache_and_reasons():
    f = ember.script(lambda x: x + 1)
    f(np.ones(3, np.float32))
    f(np.ones(5, np.float32))
    f(np.ones(3, np.float64))
    f(np.ones((2, 3), np.float64))
    info = f.cache_info()
    assert info["hits"] == 1 and info["misses"] == 3
    reasons = [c["reason"] for c in info["compiles"]]
    assert reasons[0] == "first call"
    assert "new dtype float64" in reasons[1]
    assert "new rank 2" in reasons[2]
    assert f.signatures == ["float32[?]", "float64[?]", "float64[?,?]"]


@pytest.mark.parametrize("bad, message", [
    ([1.0, 2.0], "got a list; pass a numpy array"),
    (None, "got None"),
    (np.array([object()]), "object arrays are not supported"),
    (np.ones(3, np.complex64), "unsupported dtype complex64"),
    ("text", "unsupported type str"),
])
def test_bad_arguments_raise_type_error(bad, message):
    f = ember.script(lambda x: x + 1)
    with pytest.raises(TypeError, match=message):
        f(bad)


def test_wrong_argument_count():
    with pytest.raises(TypeError, match=r"chain\(\) missing 2 required positional arguments: "
                                        "'y' and 'a'"):
        chain(np.ones(3))
    with pytest.raises(TypeError, match="takes 3 positional arguments but 4 were given"):
        chain(np.ones(3), 1.0, np.ones(3), 4)


def _with_defaults(x, y, c=2.0, scale: int = 3):
    return x * c + y * scale


def test_defaults_and_keyword_arguments_bind_as_in_python():
    """Omitted arguments take the function's defaults, keyword arguments bind by name, and
    the errors are Python's (as ``_with_defaults`` itself raises them)."""
    f = ember.script(_with_defaults)
    x, y = np.arange(3.0), np.ones(3)
    calls = [((x, y), {}), ((x, y, 3.0), {}), ((x,), {"y": y}), ((), {"x": x, "y": y, "c": 0.5}),
             ((x, y), {"scale": 1}), ((x, y), {"c": 1})]
    for _ in range(2):  # the second round takes the fast path
        for args, kwargs in calls:
            np.testing.assert_array_equal(f(*args, **kwargs), _with_defaults(*args, **kwargs))
    for args, kwargs in [((x,), {}), ((x, y, 1.0, 2, 5), {}), ((x, y), {"d": 1}),
                         ((x, y), {"x": x}), ((), {"y": y})]:
        with pytest.raises(TypeError) as want:
            _with_defaults(*args, **kwargs)
        with pytest.raises(TypeError) as got:
            f(*args, **kwargs)
        assert str(got.value) == str(want.value)
    with pytest.raises(TypeError, match="argument 'scale' is annotated as int but got float"):
        f(x, y, scale=1.5)  # a keyword argument is checked like a positional one


def test_defaults_survive_save_and_load(tmp_path):
    f = ember.script(_with_defaults)
    x, y = np.arange(3.0), np.ones(3)
    want = f(x, y)
    ember.save(f, tmp_path / "f.ember")
    g = ember.load(tmp_path / "f.ember")
    np.testing.assert_array_equal(g(x, y), want)
    np.testing.assert_array_equal(g(x, y=y), want)


def test_annotations_are_checked():
    with pytest.raises(TypeError, match="argument 'a' is annotated as float but got an array"):
        chain(np.ones((2, 2)), np.ones(2), np.ones(2))


def test_shapes_that_do_not_broadcast_raise_value_error():
    f = ember.script(lambda x, y: x + y)
    with pytest.raises(ValueError, match="could not be broadcast"):
        f(np.ones(3), np.ones(4))
    np.testing.assert_array_equal(f(np.ones(3), np.ones(3)), np.full(3, 2.0))


def test_scalar_results_are_python_or_numpy_scalars():
    f = ember.script(lambda x, a: (x.sum(), a * 2))
    s, t = f(np.arange(4, dtype=np.float32), 1.5)
    assert type(s) is np.float32 and s == 6
    assert type(t) is float and t == 3.0


def test_disable_jit_runs_python(monkeypatch):
    monkeypatch.setenv("EMBER_DISABLE_JIT", "1")  # read when the function is decorated
    f = ember.script(lambda x: x + 1)
    assert f(np.ones(2)).tolist() == [2.0, 2.0]
    assert f.cache_info()["misses"] == 0


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def test_no_memory_growth_over_100k_calls():
    f = ember.script(lambda x, y: np.exp(x) * 2 + y.sum())
    x, y = np.ones(16, np.float32), np.ones(4, np.float32)
    for _ in range(2000):
        f(x, y)
    gc.collect()
    before = _rss_kb()
    for _ in range(100_000):
        f(x, y)
    gc.collect()
    growth = _rss_kb() - before
    assert growth < 2048, f"RSS grew by {growth} KiB over 100k calls"


def _overcommit_always() -> bool:
    try:
        with open("/proc/sys/vm/overcommit_memory") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


@pytest.mark.skipif(_overcommit_always(), reason="vm.overcommit_memory=1: a 364 TiB malloc "
                    "succeeds and filling it would exhaust memory")
def test_arrays_too_large_to_allocate_raise_memory_error_not_a_crash():
    """A result (made by NumPy) or a temporary (malloc) that cannot be allocated makes the
    native code return a status, never write through NULL; the process goes on."""

    @ember.script
    def ones(n: int):  # no array argument: the call keeps the GIL
        return np.ones((n, n), np.float32)

    @ember.script
    def shifted(x, n: int):  # a large argument: the call releases the GIL
        return x.sum() + np.ones((n, n), np.float32)

    x = np.ones(1 << 15, np.float32)
    huge = 10 ** 7  # 364 TiB
    with pytest.raises(MemoryError):
        ones(huge)
    with pytest.raises(MemoryError, match="shifted: out of memory"):
        shifted(x, huge)
    np.testing.assert_array_equal(ones(2), np.ones((2, 2), np.float32))
    np.testing.assert_array_equal(shifted(x, 3), np.full((3, 3), x.size + 1, np.float32))


def test_lambdas_sharing_a_line_compile_their_own_body():
    """Two lambdas with the same parameters on one line: each compiles its own body (the
    frontend used to take the first one on the line for both, a wrong answer)."""
    by_axis = [lambda v: v.sum(axis=0), lambda v: v.sum(axis=1)]
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    for axis, fn in enumerate(by_axis):
        np.testing.assert_array_equal(ember.script(fn)(x), x.sum(axis=axis))


def test_np_empty_is_not_filled():
    """``np.empty``/``np.empty_like`` allocate and nothing more (NumPy's contents are
    arbitrary too): a prefix sum writes its output once, not twice."""

    @ember.script
    def prefix(x):
        out = np.empty_like(x)
        acc = x[0] * 0
        for i in range(x.shape[0]):
            acc += x[i]
            out[i] = acc
        return out

    x = np.random.default_rng(0).random(1000)
    np.testing.assert_allclose(prefix(x), np.cumsum(x), rtol=1e-12)
    assert "ember.uninitialized" in prefix.ir("tensor")
    loop_ir = prefix.ir("loop")
    assert "loop.parallel" not in loop_ir, loop_ir  # no loop filling the buffer


def test_temporary_whose_size_wraps_around_64_bits_is_a_memory_error():
    """(2^31)^2 float64 elements are 2^65 bytes, 0 modulo 2^64: the byte count of the
    temporary would wrap to a tiny buffer that the loops then overrun. It is caught (the
    product is checked again in f64) and the call raises instead of crashing."""

    @ember.script
    def f(n: int):
        z = np.zeros((n, n)) + 1.0
        return (z * z + z).sum(axis=1)[0:1]  # z has three users: a buffer of its own

    np.testing.assert_array_equal(f(3), [6.0])
    for n in (2**31, 2**32 + 1):
        with pytest.raises(MemoryError, match="out of memory"):
            f(n)
    np.testing.assert_array_equal(f(2), [4.0])  # still usable afterwards
