"""The compile driver's fast path: what it still verifies, the LLVM thread, the timings."""

import re
from dataclasses import dataclass, replace

import numpy as np
import pytest
from xdsl.dialects import func
from xdsl.dialects.builtin import FunctionType, f64
from xdsl.passes import ModulePass

import ember
import ember.compiler as compiler
from ember.lowering import jit


@pytest.fixture(autouse=True)
def no_disk_cache(monkeypatch, tmp_path):
    """Every call here must compile, not load an earlier compile; the repro files of the
    failures provoked here go to the test's own directory."""
    import tempfile

    monkeypatch.setenv("EMBER_CACHE", "0")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


@dataclass(frozen=True)
class BreakSignature(ModulePass):
    """Leaves invalid IR: every function type gains a parameter its entry block lacks."""

    name = "break-signature"

    def apply(self, ctx, op) -> None:
        for fn in op.ops:
            if isinstance(fn, func.FuncOp):
                ft = fn.function_type
                fn.function_type = FunctionType.from_lists([*ft.inputs, f64], list(ft.outputs))


def test_user_passes_are_always_verified():
    f = ember.script(lambda x: x + 1.0, passes={"loop": [BreakSignature()]})
    with pytest.raises(ember.CompilerError, match="pass 'break-signature' failed"):
        f(np.ones(3))


def test_ember_verify_names_the_internal_pass_that_broke_the_ir(monkeypatch):
    stages = [replace(s, passes=(lambda s=s: [*s.passes(), BreakSignature()]))
              if s.name == "loop" else s for s in compiler.STAGES]
    monkeypatch.setattr(compiler, "STAGES", stages)
    monkeypatch.setenv("EMBER_VERIFY", "1")
    with pytest.raises(ember.CompilerError, match="pass 'break-signature' failed"):
        ember.script(lambda x: x * 2.0)(np.ones(3))


def test_results_and_stage_texts_with_llvm_on_a_thread():
    """LLVM runs on a thread while the llvm stage prints: the result, every stage's text and
    the timings are all there, and the switch interval is restored."""
    import sys

    interval = sys.getswitchinterval()
    f = ember.script(lambda x, y: np.tanh(x * 0.5 + y) * 0.5 + x)
    x, y = np.linspace(-2, 2, 7, dtype=np.float32), np.ones(7, np.float32)
    np.testing.assert_allclose(f(x, y), np.tanh(x * 0.5 + y) * 0.5 + x, rtol=1e-6)
    assert sys.getswitchinterval() == interval
    assert "llvm.func" in f.ir("llvm") and "etensor." in f.ir("tensor")
    assert "define" in f.llvm_ir()
    timings = f.cache_info()["compiles"][0]["timings"]
    assert {"convert-to-llvm", "to-llvm-ir", "llvm-O3+codegen"} <= set(timings)


def test_llvm_errors_reach_the_caller(monkeypatch):
    from ember.lowering import jit

    def broken(text, opt_level=3, **kernels):
        raise RuntimeError("LLVM IR parsing error (injected)")

    monkeypatch.setattr(jit, "Engine", broken)
    with pytest.raises(RuntimeError, match="injected"):
        ember.script(lambda x: x - 3.0)(np.ones(2))


def test_unchecked_ops_print_as_checked_ones():
    """``llvm_common.make`` skips the constructors' checks: each hot op it builds must equal
    (print as) the op its checked constructor builds."""
    from xdsl.dialects import llvm
    from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr, f32, i64
    from xdsl.ir import Block

    from ember.lowering.arith_to_llvm import _icmp
    from ember.lowering.llvm_common import PTR, Emitter, descriptor_type

    block = Block(arg_types=[i64, i64, descriptor_type(2), PTR])
    x, y, d, p = block.args
    e = Emitter()
    pairs = [
        (e.add(x, y), llvm.AddOp(x, y)),
        (e.mul(x, y), llvm.MulOp(x, y)),
        (e.value(7), llvm.ConstantOp(IntegerAttr(7, i64), i64)),
        (e.gep(p, x, f32), llvm.GEPOp(p, [llvm.GEP_USE_SSA_VAL], f32, [x], inbounds=True)),
        (e.load(p, f32), llvm.LoadOp(p, f32)),
        (e.extract(d, [1, 0], i64), llvm.ExtractValueOp(DenseArrayBase.from_list(i64, [1, 0]), d, i64)),
        (e.insert(d, x, [1, 1]), llvm.InsertValueOp(DenseArrayBase.from_list(i64, [1, 1]), d, x)),
        (_icmp("slt", x, y, e), llvm.ICmpOp(x, y, IntegerAttr(llvm.ICmpPredicateFlag("slt").to_int(), i64))),
    ]
    for fast, checked in pairs:
        fast_op = fast.owner
        assert fast_op.properties == checked.properties, fast_op.name
        assert [r.type for r in fast_op.results] == [r.type for r in checked.results], fast_op.name
        fast_op.verify()
        block.add_ops([fast_op.clone(), checked])
    ops = list(block.ops)
    assert [str(o).split("=", 1)[-1] for o in ops[::2]] == [str(o).split("=", 1)[-1] for o in ops[1::2]]


@pytest.mark.parametrize("fastmath", [None, "fast"])
def test_unchecked_binary_ops_equal_checked_ones(fastmath):
    """arith-to-llvm's binary rules build their ops with ``make``: same properties, same text."""
    from xdsl.dialects import llvm
    from xdsl.dialects.builtin import f32, i64
    from xdsl.ir import Block

    from ember.lowering.llvm_common import binary_properties, make

    block = Block(arg_types=[i64, i64, f32, f32])
    x, y, u, v = block.args
    for cls in (llvm.AddOp, llvm.SubOp, llvm.MulOp, llvm.SDivOp, llvm.UDivOp, llvm.SRemOp,
                llvm.URemOp, llvm.AndOp, llvm.OrOp, llvm.XOrOp, llvm.ShlOp, llvm.AShrOp, llvm.LShrOp):
        fast, checked = make(cls, (x, y), i64, dict(binary_properties(cls))), cls(x, y)
        assert fast.properties == checked.properties and str(fast) == str(checked), cls.name
    fm = llvm.FastMathAttr(fastmath)
    for cls in (llvm.FAddOp, llvm.FSubOp, llvm.FMulOp, llvm.FDivOp, llvm.FRemOp):
        fast, checked = make(cls, (u, v), f32, {"fastmathFlags": fm}), cls(u, v, fm)
        assert fast.properties == checked.properties and str(fast) == str(checked), cls.name


def _two_matmuls(x, w1, w2):
    return np.maximum(x @ w1, 0.0) @ w2


def test_matmul_kernels_are_compiled_apart_and_once(tmp_path):
    """The packed matmuls' outlined bodies (explicit vector code) form a module of their own,
    optimised by KERNEL_PASSES and compiled to an object of its own on a second thread;
    two matmuls of one dtype share one body. The result still equals NumPy's, also after a
    save and load (the artifact holds both objects)."""
    from xdsl.parser import Parser

    from ember.context import make_context
    from ember.lowering.llvm_ir import to_llvm_ir_parts

    rng = np.random.default_rng(0)
    x, w1, w2 = (rng.standard_normal(s).astype(np.float32) for s in [(40, 64), (64, 96), (96, 32)])
    want = np.maximum(x @ w1, 0) @ w2
    f = ember.script(_two_matmuls)
    np.testing.assert_allclose(f(x, w1, w2), want, rtol=2e-5, atol=2e-5)
    module = Parser(make_context(), f.ir(stage="llvm")).parse_module()
    parts = to_llvm_ir_parts(module)
    assert len(parts.kernel_names) == 1  # one body for both matmuls
    (kernel,) = parts.kernel_names
    assert f'define i32 @"{kernel}"' in parts.kernels
    assert f'declare i32 @"{kernel}"' in parts.main
    assert f'define internal i32 @"{kernel}"' in parts.whole
    vector_fma = 'call <16 x float> @"llvm.fma.v16f32"'
    assert vector_fma in parts.kernels and vector_fma not in parts.main
    assert f.llvm_ir() == parts.whole
    engine = f._last.call.engine
    assert engine.object_code[:4] == engine.kernel_code[:4] == b"\x7fELF"
    main, kernels = f.llvm_ir(optimized=True).split("; ---- the kernels' module")
    assert re.search(rf'^declare [^@]*@"?{kernel}\b', main, re.M), main[:2000]
    assert re.search(rf'^define [^@]*@"?{kernel}\b', kernels, re.M), kernels[:2000]
    ember.save(f, tmp_path / "f.ember")
    g = ember.load(tmp_path / "f.ember")
    assert np.array_equal(g(x, w1, w2), f(x, w1, w2))


def test_kernels_linked_in_where_the_lock_cannot_be_skipped(monkeypatch):
    """Without a second thread (an llvmlite whose lock ember cannot skip) the kernels'
    module is linked into the main one, as internal functions: same results."""
    monkeypatch.setattr(jit, "_private_threads_supported", lambda: False)
    rng = np.random.default_rng(1)
    x, w1, w2 = (rng.standard_normal(s).astype(np.float32) for s in [(20, 33), (33, 50), (50, 7)])
    f = ember.script(_two_matmuls)
    np.testing.assert_allclose(f(x, w1, w2), np.maximum(x @ w1, 0) @ w2, rtol=2e-5, atol=2e-5)
    assert f._last.call.engine.kernel_code is None
    assert "the kernels' module" not in f.llvm_ir(optimized=True)
    assert re.search(r'^define internal [^@]*@"?\w+_parallel\d*\b', f.llvm_ir(optimized=True), re.M)


def test_compiles_on_many_threads_at_once():
    """Several threads compiling functions with kernels at once: each kernels' module
    compiles in an LLVM context of its own, beside llvmlite's lock, the rest under it."""
    import threading

    rng = np.random.default_rng(2)
    results, errors = {}, []

    def work(k):
        try:
            n = 24 + 8 * k
            x, w1, w2 = (rng.standard_normal(s).astype(np.float32 if k % 2 else np.float64)
                         for s in [(n, n + 1), (n + 1, n + 2), (n + 2, 5)])
            f = ember.script(_two_matmuls)
            results[k] = np.allclose(f(x, w1, w2), np.maximum(x @ w1, 0) @ w2, rtol=1e-4,
                                     atol=1e-4)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert results == {k: True for k in range(4)}


def test_private_threads_skip_llvmlites_lock():
    """A private thread (the kernels' compile) makes its LLVM calls, disposals included,
    while another thread holds llvmlite's lock; other threads still wait for the lock."""
    import threading
    import time

    import llvmlite.binding as llb

    assert jit._private_threads_supported()
    events = []

    def private():
        jit._private.on = True
        try:
            context = llb.create_context()
            module = llb.parse_assembly("define i32 @f() {\n  ret i32 7\n}\n", context)
            events.append(f"parsed {module.get_function('f').name}")
            module.close()
            context.close()
            events.append("disposed")
        finally:
            jit._private.on = False

    def other():
        llb.parse_assembly("")
        events.append("other")

    threads = [threading.Thread(target=private), threading.Thread(target=other)]
    with llb.ffi.lib._lock:  # held by this thread, as during another compile
        for t in threads:
            t.start()
        threads[0].join(30)
        time.sleep(0.05)
        assert events == ["parsed f", "disposed"]  # the other thread still waits
    threads[1].join(30)
    assert events == ["parsed f", "disposed", "other"]
