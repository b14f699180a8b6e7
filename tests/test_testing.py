"""``ember.testing`` itself: its strategies draw what they promise, its checks catch wrong
passes and name them, its reports hold the MLIR, a repro command and a lit skeleton, and
the tutorial in docs/testing.md runs."""

import os
import re
import runpy
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import find, given
from xdsl.dialects import arith
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

import ember
import ember.testing as et
from ember.dialects.etensor import ELEMENTWISE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXP_OF_DIFFERENCE = """builtin.module {
  func.func @f(%x: tensor<?xf64>, %y: tensor<?xf64>) -> tensor<?xf64> attributes {ember.entry} {
    %d = etensor.sub %x, %y : (tensor<?xf64>, tensor<?xf64>) -> tensor<?xf64>
    %e = etensor.exp %d : tensor<?xf64>
    func.return %e : tensor<?xf64>
  }
}"""


def exp_of_difference() -> et.Program:
    return et.Program.from_module(EXP_OF_DIFFERENCE, [np.array([1.0, 2.0]), np.array([0.5, 4.0])],
                                  position=0)


# -- deliberately wrong passes -------------------------------------------------------------


class _SwapOperands(RewritePattern):
    def __init__(self, op_type):
        self.op_type = op_type

    def match_and_rewrite(self, op, rewriter: PatternRewriter):
        if isinstance(op, self.op_type) and op.lhs is not op.rhs:
            rewriter.replace(op, self.op_type(op.rhs, op.lhs))


@dataclass(frozen=True)
class SwapSubPass(ModulePass):
    """Wrong on purpose: ``a - b`` becomes ``b - a`` at the tensor stage."""

    name = "swap-sub"

    def apply(self, ctx, op):
        PatternRewriteWalker(_SwapOperands(ELEMENTWISE["sub"]), apply_recursively=False).rewrite_module(op)


@dataclass(frozen=True)
class SwapSubfPass(ModulePass):
    """Wrong on purpose: ``arith.subf a, b`` becomes ``b - a`` at the loop stage."""

    name = "swap-subf"

    def apply(self, ctx, op):
        PatternRewriteWalker(_SwapOperands(arith.SubfOp), apply_recursively=False).rewrite_module(op)


@dataclass(frozen=True)
class CrashingPass(ModulePass):
    name = "crash"

    def apply(self, ctx, op):
        raise RuntimeError("boom")


# -- strategies ------------------------------------------------------------------------------


@et.fuzz_settings(30)
@given(et.arrays(et.dtypes(), et.shapes(), edge=False))
def test_arrays_without_edge_values_are_plain(a):
    if a.dtype.kind == "f":
        assert np.all(np.isfinite(a)) and not np.any(np.signbit(a) & (a == 0))
        assert not np.any((a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny))
    elif a.dtype.kind == "i":
        assert np.all(np.abs(a) <= 100)


@pytest.mark.parametrize("kind", ["nan", "inf", "subnormal", "zero", "large"])
def test_arrays_draw_each_edge_kind(kind):
    edges = et.edge_values(np.float32, [kind])
    found = find(et.arrays(np.float32, (4,)),
                 lambda a: any(np.array_equal(np.float32(e), v, equal_nan=True)
                               and np.signbit(np.float32(e)) == np.signbit(v) for e in edges for v in a))
    assert found.dtype == np.float32


@et.fuzz_settings(30)
@given(et.broadcast_shapes(3))
def test_broadcast_shapes_broadcast(shapes):
    np.broadcast_shapes(*shapes)


@et.fuzz_settings(30)
@given(et.programs(ops=["add", "exp", "sum"], max_ops=5))
def test_programs_are_well_typed_and_use_the_ops_asked_for(program):
    assert program.stage == "tensor"
    names = {op.name for op in program.module().walk()}
    # plus what NumPy's rules add: casts, scalar fills, and `or` for a bool add
    helpers = {"builtin.module", "func.func", "func.return", "etensor.fill", "etensor.cast", "etensor.or"}
    assert names <= helpers | {"etensor.add", "etensor.exp", "etensor.sum"}
    outcome = et.run_reference(program)
    assert outcome.error is None and len(outcome.values) == len(program.results)
    for value, (dtype, rank) in zip(outcome.values, program.results):
        assert value.dtype == dtype and value.ndim == rank


@pytest.mark.parametrize("size", [0, 1])
def test_programs_have_dimensions_of_size_zero_and_one(size):
    found = find(et.programs(max_ops=2),
                 lambda p: any(isinstance(x, np.ndarray) and size in x.shape for x in p.inputs))
    assert any(size in x.shape for x in found.inputs if isinstance(x, np.ndarray))


def test_programs_reject_unknown_ops():
    with pytest.raises(ValueError, match="unknown op 'frobnicate'"):
        find(et.programs(ops=["frobnicate"]), lambda p: True)


# -- check_rewrite ---------------------------------------------------------------------------


def test_a_wrong_pass_is_caught_with_mlir_repro_and_lit_skeleton(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_REPRO_DIR", str(tmp_path))

    @et.fuzz_settings(100)
    @given(et.programs(ops=["sub", "add", "exp"], max_ops=4))
    def swap_sub_preserves_semantics(program):
        et.check_rewrite(program, SwapSubPass())

    with pytest.raises(et.RewriteMismatch) as info:
        swap_sub_preserves_semantics()
    report = str(info.value)
    assert "check_rewrite: 'swap-sub' changed what the program computes" in report
    assert "etensor.sub" in report and "inputs:\n    x0 = np.array(" in report
    assert "before (reference):" in report and "after (reference):" in report
    assert "// RUN: ember-opt %s -p swap-sub | filecheck %s" in report
    assert "// CHECK-LABEL: func.func @f(" in report
    command = re.search(r"ember-opt (\S+) -p swap-sub", report)
    assert command is not None
    repro = command.group(1)
    assert os.path.dirname(repro) == str(tmp_path) and "etensor.sub" in open(repro).read()
    opt = os.path.join(os.path.dirname(sys.executable), "ember-opt")
    parsed = subprocess.run([opt, repro], capture_output=True, text=True)
    assert parsed.returncode == 0 and "etensor.sub" in parsed.stdout


@et.fuzz_settings(20)
@given(et.programs(max_ops=6))
def test_ember_tensor_passes_as_a_pipeline_string(program):
    et.check_rewrite(program, "canonicalize,cse")


def test_a_crashing_pass_is_reported_with_its_input():
    with pytest.raises(et.RewriteMismatch, match=r"pass 'crash' failed: RuntimeError: boom") as info:
        et.check_rewrite(exp_of_difference(), CrashingPass())
    assert "ember-opt" in str(info.value) and "etensor.exp" in str(info.value)


def test_a_lowering_is_checked_against_the_tensor_stage():
    program = exp_of_difference()
    checked = et.check_rewrite(program.before("convert-to-llvm"), "convert-to-llvm")
    assert checked.before.oracle == "reference" and checked.after.oracle == "jit"
    np.testing.assert_allclose(checked.after.values[0], np.exp([0.5, -2.0]))


def test_a_loop_stage_optimisation_is_compiled_with_and_without_it():
    checked = et.check_rewrite(exp_of_difference().before("canonicalize", stage="loop"), "canonicalize")
    assert checked.before.oracle == checked.after.oracle == "jit"
    with pytest.raises(et.RewriteMismatch, match="'swap-subf' changed"):
        et.check_rewrite(exp_of_difference().before("canonicalize", stage="loop"), SwapSubfPass())


def test_program_helpers():
    def f(x, y):
        return np.exp(x - y)

    program = et.Program.from_function(f, np.array([1.0, 2.0]), np.array([0.5, 4.0]))
    assert program.stage == "tensor" and program.kinds == ("array", "array")
    assert program.before("tensor-to-loop").stage == "tensor"
    assert program.lowered(3).stage == "loop"
    want = et.run_reference(program).values[0]
    np.testing.assert_allclose(et.run_jit(program).values[0], want)
    np.testing.assert_allclose(want, np.exp([0.5, -2.0]))


# -- check_pipeline --------------------------------------------------------------------------


def _with(extra: ModulePass, after: str, stage: str):
    passes = et.pipeline()
    k = next(i for i, (s, p) in enumerate(passes) if p.name == after and s == stage)
    seq = [p for _, p in passes]
    return seq[:k + 1] + [extra] + seq[k + 1:]


def test_check_pipeline_names_a_wrong_tensor_stage_pass():
    with pytest.raises(et.PipelineDivergence) as info:
        et.check_pipeline(exp_of_difference(), _with(SwapSubPass(), "cse", "tensor"))
    assert info.value.pass_name == "swap-sub" and info.value.index == 3
    assert "IR before 'swap-sub'" in str(info.value) and "IR after 'swap-sub'" in str(info.value)


def test_check_pipeline_names_a_wrong_loop_stage_pass():
    with pytest.raises(et.PipelineDivergence) as info:
        et.check_pipeline(exp_of_difference(), _with(SwapSubfPass(), "canonicalize", "loop"))
    assert info.value.pass_name == "swap-subf"
    assert "arith.subf" in str(info.value) and "(jit vs reference)" in str(info.value)


def test_check_pipeline_passes_ember_pipeline():
    checked = et.check_pipeline(exp_of_difference())
    assert checked.after.oracle == "jit"


# -- comparison ------------------------------------------------------------------------------


@pytest.mark.parametrize("want, got, ok", [
    (np.array([1, 2], np.int32), np.array([1, 2], np.int32), True),
    (np.array([1, 2], np.int32), np.array([1, 3], np.int32), False),
    (np.array([1.0, np.nan], np.float32), np.array([1.000001, np.nan], np.float32), True),
    (np.array([1.0, np.nan], np.float32), np.array([1.0, 1.0], np.float32), False),
    (np.array([np.inf]), np.array([-np.inf]), False),
    (np.array([1.0]), np.array([1.0 + 1e-9]), False),
    (np.array([-0.0]), np.array([0.0]), False),
    (np.array([1.0]), np.array([1.0], np.float32), False),
    (np.array([1.0]), np.array([[1.0]]), False),
])
def test_differences(want, got, ok):
    assert (et.differences((want,), (got,)) == []) == ok


def test_elements_decided_by_rounding_are_not_compared():
    """sum([1e20, 20000, -1e20]) is 0 in float32 and 16384 summed in float64: both right."""
    text = """builtin.module {
      func.func @f(%x: tensor<?xf32>) -> tensor<f32> attributes {ember.entry} {
        %s = etensor.sum %x {axes = array<i64: 0>} : tensor<?xf32> -> tensor<f32>
        func.return %s : tensor<f32>
      }
    }"""
    program = et.Program.from_module(text, [np.array([1e20, 20000, -1e20], np.float32)])
    want = et.run_reference(program).values
    from ember.testing_compare import stability

    assert et.differences(want, (np.float32(16384.0),), stability(program), strict_zeros=False) == []
    assert et.differences(want, (np.float32(16384.0),)) != []


# -- assert_matches_numpy ------------------------------------------------------------------


def scaled(x, y):
    return np.tanh(x) * y - x.sum(axis=-1, keepdims=True)


def test_assert_matches_numpy():
    et.assert_matches_numpy(scaled, et.arrays(np.float32, (2, 3)), et.arrays(np.float64, (3,)),
                            max_examples=5)


def test_assert_matches_numpy_reports_a_difference(monkeypatch):
    real = ember.script

    def off_by_one(fn):
        compiled = real(fn)

        class Wrong:
            def __call__(self, *args):
                return compiled(*args) + 1

            def ir(self, stage):
                return compiled.ir(stage)
        return Wrong()

    monkeypatch.setattr(ember, "script", off_by_one)
    with pytest.raises(et.RewriteMismatch, match=r"ember.script\(scaled\) differs from NumPy"):
        et.assert_matches_numpy(scaled, et.arrays(np.float32, (2, 3)), et.arrays(np.float32, (3,)),
                                max_examples=5)


# -- the tutorial ------------------------------------------------------------------------------


def test_tutorial_runs(tmp_path):
    text = open(os.path.join(ROOT, "docs", "testing.md"), encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 5
    path = tmp_path / "testing_tutorial.py"  # a file: ember.script reads its source
    path.write_text("\n\n".join(blocks), encoding="utf-8")
    namespace = runpy.run_path(str(path), run_name="tutorial")
    assert "'sub-to-add-neg' changed what the program computes" in namespace["report"]
