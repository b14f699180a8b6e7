"""``convert-to-llvm`` fuses six passes; both routes must compute what the program computes.

``test_passes_property`` checks ``convert-to-llvm`` itself (it is in the pipeline). The
passes it replaced (``func-to-llvm``, ``memref-to-llvm``, ``vector-to-llvm``,
``arith-to-llvm``, ``math-to-llvm``, ``reconcile-unrealized-casts``) are still ``ember-opt``
passes with lit tests; this property keeps them honest too, on the same random programs.
"""

import numpy as np
import pytest
from hypothesis import given

import ember
import ember.testing as et
from ember.context import make_context
from ember.lowering.convert_to_llvm import ConvertToLLVMPass
from ember.lowering.loop_to_llvm import SEPARATE_TO_LLVM_PASSES, check_llvm_stage
from xdsl.parser import Parser

BOUNDED_EDGES = tuple(k for k in et.EDGE_KINDS if k not in ("large", "limits"))


@et.fuzz_settings(8, long=150)
@given(et.programs(ops=list(et.OPS), max_ops=8, edge_values=BOUNDED_EDGES))
def test_separate_passes_preserve_semantics(program):
    et.check_rewrite(program.before("convert-to-llvm"), list(SEPARATE_TO_LLVM_PASSES))


def _llvm_stage(fn, *args):
    f = ember.script(fn)
    f(*args)
    return f


def test_no_cast_and_one_constant_each():
    """The MLP's LLVM stage: no cast survives, and no function makes a constant twice."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 8), np.float32), rng.standard_normal((8, 3), np.float32)
    f = _llvm_stage(lambda x, w: np.exp(np.maximum(x @ w, 0.0)).sum(axis=1), x, w)
    module = Parser(make_context(), f.ir("llvm")).parse_module()
    check_llvm_stage(module)
    for fn in module.ops:
        constants = [str(op) for op in fn.walk() if op.name == "llvm.mlir.constant"
                     and op.parent_block() is fn.body.blocks.first]
        assert len(constants) == len(set(constants)), fn.sym_name.data


@pytest.mark.parametrize("text", ["""
func.func @f(%m: memref<?xf32>, %i: index) -> f32 {
  %v = memref.load %m[%i] : memref<?xf32>
  func.return %v : f32
}"""])
def test_same_ops_as_separate_passes_minus_casts(text):
    """Apart from casts, constants and descriptor reads, both routes make the same ops."""
    ctx = make_context()
    fused, separate = (Parser(ctx, text).parse_module() for _ in range(2))
    ConvertToLLVMPass().apply(ctx, fused)
    for p in SEPARATE_TO_LLVM_PASSES:
        p.apply(ctx, separate)
    fused.verify()
    separate.verify()
    shared = ("llvm.mlir.constant", "llvm.extractvalue", "builtin.unrealized_conversion_cast")
    names = [[op.name for op in m.walk() if op.name not in shared] for m in (fused, separate)]
    assert names[0] == names[1]
