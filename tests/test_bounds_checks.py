"""``bounds-checks``: random stencil loops compute the same with and without the pass, and
as plain Python does (negative indices wrap, an out-of-range index raises); Jacobi's sweep
loses all its checks and still matches NumPy."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ember
import ember.testing as et
from stencils import jacobi, jacobi_numpy

# -- random loop programs ---------------------------------------------------------------------


@st.composite
def _index(draw, iv: str) -> str:
    """An index expression along one axis: the loop variable shifted, or a constant."""
    if draw(st.integers(0, 4)) == 0:
        return str(draw(st.integers(-2, 1)))
    d = draw(st.integers(-2, 2))
    return iv if d == 0 else f"{iv} {'+' if d > 0 else '-'} {abs(d)}"


@st.composite
def _bound(draw, size: str) -> tuple[str, str]:
    """``range(lo, size - h)``; ``h = -1`` runs one past the end."""
    lo = draw(st.integers(0, 2))
    h = draw(st.integers(-1, 2))
    hi = size if h == 0 else f"{size} {'-' if h > 0 else '+'} {abs(h)}"
    return str(lo), hi


@st.composite
def stencil_sources(draw) -> str:
    """``f(a, b, iters)``: ``iters`` sweeps of a 2-D stencil over ``a`` and ``b`` into
    ``out``, swapping ``a`` and ``out`` after each sweep (Jacobi's pattern) or not."""
    (lo0, hi0), (lo1, hi1) = draw(_bound("n")), draw(_bound("m"))
    terms = []
    for _ in range(draw(st.integers(1, 4))):
        src = draw(st.sampled_from(["a", "b"]))
        terms.append(f"{src}[{draw(_index('i'))}, {draw(_index('j'))}]")
    weights = draw(st.lists(st.sampled_from(["0.25", "0.5", "1.5"]), min_size=len(terms), max_size=len(terms)))
    expr = " + ".join(f"{w} * {t}" for w, t in zip(weights, terms))
    store = f"out[{draw(_index('i'))}, {draw(_index('j'))}]"
    swap = ["        a, out = out, a"] if draw(st.booleans()) else []
    return "\n".join([
        "import numpy as np",
        "def f(a, b, iters: int):",
        "    n = a.shape[0]",
        "    m = a.shape[1]",
        "    out = a.copy()",
        "    for it in range(iters):",
        f"        for i in range({lo0}, {hi0}):",
        f"            for j in range({lo1}, {hi1}):",
        f"                {store} = {expr}",
        *swap,
        "    return out",
        "",
    ])


_load = et.load_source


def _python(fn, a, b, iters):
    try:
        return fn(a.copy(), b.copy(), iters), None
    except IndexError as e:
        return None, e


def _jit(fn, inputs, with_pass: bool) -> et.Outcome:
    passes = [p for _, p in et.pipeline() if with_pass or p.name != "bounds-checks"]
    return et.run_jit(et.Program.from_function(fn, *inputs), passes)


def check_stencil(source: str, a: np.ndarray, b: np.ndarray, iters: int) -> None:
    fn = _load(source)
    want, error = _python(fn, a, b, iters)
    on, off = _jit(fn, (a, b, iters), True), _jit(fn, (a, b, iters), False)
    case = f"{source}# a.shape={a.shape} b.shape={b.shape} iters={iters}"
    assert on.error == off.error, f"{case}\nwith the pass: {on.error}; without: {off.error}"
    if error is not None:
        assert on.error is not None and "index out of bounds" in on.error, \
            f"{case}\nPython raised {error!r}; ember returned"
        return
    assert on.error is None, f"{case}\nPython returned; ember raised {on.error}"
    np.testing.assert_array_equal(on.values[0], off.values[0], err_msg=case)
    np.testing.assert_allclose(on.values[0], want, rtol=1e-12, atol=0, err_msg=case)


@st.composite
def _arrays(draw):
    shape = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    same = draw(st.booleans())
    other = shape if same else (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return rng.random(shape), rng.random(other)


def test_stencils_compute_the_same_with_and_without_the_pass():
    @et.fuzz_settings(12, long=400)
    @given(source=stencil_sources(), arrays=_arrays(), iters=st.integers(0, 3))
    def same(source, arrays, iters):
        check_stencil(source, *arrays, iters)

    same()


@pytest.mark.parametrize("index, raises", [("i - 1", False), ("i + 1", True), ("-1", False)])
def test_wrap_and_raise_are_kept(index, raises):
    """``i - 1`` from 0 reads the last row, ``i + 1`` up to ``n`` runs past the end."""
    source = "\n".join([
        "def f(a, b, iters: int):",
        "    n = a.shape[0]",
        "    out = a.copy()",
        "    for it in range(iters):",
        "        for i in range(n):",
        f"            out[i, 0] = a[{index}, 0] + b[0, 0]",
        "    return out",
        "",
    ])
    a, b = np.arange(12.0).reshape(4, 3), np.ones((1, 1))
    check_stencil(source, a, b, 1)
    assert (_python(_load(source), a, b, 1)[1] is not None) == raises


# -- Jacobi --------------------------------------------------------------------------------------


def test_jacobi_has_no_checks_left_and_matches_numpy():
    f = ember.script(jacobi)
    a = np.random.default_rng(0).random((24, 17))
    np.testing.assert_allclose(f(a.copy(), 5), jacobi_numpy(a, 5), rtol=1e-13)
    loop_ir = f.ir(stage="loop")
    assert "cf.assert" not in loop_ir
    assert "arith.select" not in loop_ir
    assert re.search(r"fadd <\d+ x double>", f.llvm_ir(optimized=True)), "the sweep is not vectorised"
