"""Custom operators (``ember.custom_op``): a scalar lowering and a native C kernel, called
from ``ember.script``, agree with their NumPy reference; the reference interpreter runs them."""

import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from xdsl.dialects import arith, math

import ember
from ember.custom_op import CUSTOM_OPS, custom_op

C_SOURCE = r"""
#include <stdint.h>
void clip6_f64(const double *in, double *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) { double v = in[i]; out[i] = v < 0 ? 0 : (v > 6 ? 6 : v); }
}
void clip6_f32(const float *in, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) { float v = in[i]; out[i] = v < 0 ? 0 : (v > 6 ? 6 : v); }
}
void fma2_f64(const double *a, const double *b, double *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = 2.0 * a[i] + b[i];
}
"""


@custom_op("test::softplus")
def softplus(x):
    return np.log1p(np.exp(x))


@softplus.lower_scalar
def _softplus(b, x):
    return b.insert(math.Log1pOp(b.insert(math.ExpOp(x)).result)).result


@custom_op("test::hypot2", dtype=np.float64)
def hypot2(a, b):
    return (a * a + b * b).astype(np.float64)


@hypot2.lower_scalar
def _hypot2(b, x, y):
    return b.insert(arith.AddfOp(b.insert(arith.MulfOp(x, x)).result,
                                 b.insert(arith.MulfOp(y, y)).result)).result


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("native")
    (d / "k.c").write_text(C_SOURCE)
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", str(d / "k.c"), "-o", str(d / "libk.so")], check=True)
    return str(d / "libk.so")


@pytest.fixture(scope="module")
def clip6(library):
    return custom_op("test::clip6", native={np.float64: ("clip6_f64", library),
                                           np.float32: ("clip6_f32", library)})(
        lambda x: np.clip(x, 0, 6).astype(x.dtype))


@pytest.fixture(scope="module")
def fma2(library):
    return custom_op("test::fma2", native=("fma2_f64", library))(lambda a, b: 2.0 * a + b)


def test_registry_and_eager_call():
    assert CUSTOM_OPS["test::softplus"] is softplus
    x = np.linspace(-2, 2, 5)
    np.testing.assert_array_equal(softplus(x), np.log1p(np.exp(x)))
    assert "scalar" in repr(softplus)


def test_scalar_lowering_matches_reference_and_fuses():
    f = ember.script(lambda x: softplus(x * 2.0) + 1.0)
    x = np.linspace(-5, 5, 101)
    np.testing.assert_allclose(f(x), softplus(x * 2.0) + 1.0, rtol=1e-12)
    assert 'etensor.custom "test::softplus"' in f.ir("tensor")
    loop = f.ir("loop")
    assert "etensor" not in loop and "math.log1p" not in loop  # expand-math's kernel
    assert loop.count("loop.parallel") == 1  # x * 2.0 fuses into the op, the op into the add


def test_scalar_lowering_promotes_and_broadcasts():
    f = ember.script(lambda a, b: hypot2(a, b))
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1, 2, 3], dtype=np.int32)
    out = f(a, b)
    assert out.dtype == np.float64 and out.shape == (2, 3)
    np.testing.assert_allclose(out, hypot2(a.astype(np.float64), b.astype(np.float64)))


def test_native_kernel_per_dtype(clip6):
    f = ember.script(lambda x: clip6(x * 3.0) - 1.0)
    for dtype in (np.float64, np.float32):
        x = np.linspace(-3, 3, 13).astype(dtype)
        out = f(x)
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, clip6(x * dtype(3.0)) - dtype(1.0))
    assert "func.call @clip6_f32" in f.ir("loop")


def test_native_kernel_on_views_and_broadcast(fma2):
    f = ember.script(lambda a, b: fma2(a, b))
    a = np.arange(12.0).reshape(3, 4)[:, ::2]        # not contiguous: copied first
    b = np.array([10.0, 20.0])                        # broadcast: copied to a's shape
    np.testing.assert_array_equal(f(a, b), 2.0 * a + b)
    ints = np.arange(4).reshape(2, 2)                 # int64 -> the float64 kernel
    np.testing.assert_array_equal(f(ints, 1.5), 2.0 * ints + 1.5)


def test_reference_interpreter_runs_custom_ops(clip6):
    from ember.dialects.reference import run
    from ember.dialects.shapes import DYN
    from ember.frontends.script import ArraySpec, build_function

    def g(x):
        return clip6(x) + softplus(x)

    module, *_ = build_function(g, [ArraySpec(np.dtype(np.float64), (DYN,), True)])
    x = np.linspace(-8, 8, 9)
    (ref,) = run(module, "g", x)
    np.testing.assert_allclose(ref, ember.script(g)(x), rtol=1e-12)


def test_errors():
    with pytest.raises(ValueError, match="namespace::name"):
        custom_op("nonamespace")
    with pytest.raises(ValueError, match="not found"):
        custom_op("test::missing", native=("no_such_symbol_anywhere", None))
    bare = custom_op("test::bare")(lambda x: x)
    with pytest.raises(ember.CompilerError, match="has no lowering"):
        ember.script(lambda x: bare(x))(np.ones(3))


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                  elements=st.floats(-50, 50)))
def test_property_custom_ops_match_reference(clip6, x):
    f = ember.script(lambda x: clip6(x) * softplus(x))
    np.testing.assert_allclose(f(x), clip6(x) * softplus(x), rtol=1e-12, atol=0)



def test_callable_from_trace():
    g = ember.trace(lambda x: softplus(x) * 2.0, (np.linspace(-1, 1, 4),))
    x = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(g(x), softplus(x) * 2.0, rtol=1e-12)


def test_extending_doc_runs(tmp_path, monkeypatch):
    """docs/extending.md: every python block, in order, as one module (C compiled inside)."""
    import importlib.util
    import re
    from pathlib import Path

    from ember.context import USER_DIALECTS
    from ember.custom_op import custom_op as declare
    from ember.registry import USER_PASSES

    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    if not callable(getattr(ember, "custom_op", None)):  # until core/__init__ exports it
        monkeypatch.setattr(ember, "custom_op", declare, raising=False)
    monkeypatch.chdir(tmp_path)
    page = Path(__file__).resolve().parent.parent / "docs" / "extending.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    path = tmp_path / "doc_extending.py"
    path.write_text("\n".join(blocks))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    try:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    finally:
        USER_DIALECTS.pop("demo", None)
        for name in ("demo-to-etensor", "fold-log-exp"):
            USER_PASSES.pop(name, None)
