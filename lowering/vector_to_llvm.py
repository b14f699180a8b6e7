"""``vector-to-llvm``: the few ``vector`` ops ember emits (matmul's register tiles).

``tensor-to-loop`` writes matmul's inner kernel with explicit SIMD values, so the IR holds a
handful of vector ops instead of a hundred scalar ones per tile (compile time), and LLVM gets
register tiles it need not discover (run time). Widths are generic: LLVM splits a
``vector<16xf32>`` into the registers of the target (one on AVX-512, two on AVX2, four on NEON).

    %v = vector.load %m[%i, %j] : memref<?x?xf32>, vector<16xf32>
  ->
    %p = llvm.getelementptr inbounds ...     (the memref element address, as memref.load)
    %v = llvm.load %p {alignment = 4} : !llvm.ptr -> vector<16xf32>

Loads and stores keep the element's alignment (a row of a NumPy array is not 64-byte
aligned). ``vector.broadcast`` of a scalar is ``insertelement`` + ``shufflevector``;
``vector.fma`` is ``llvm.intr.fma`` on vectors; ``vector.shuffle`` (the block transposes of
``tensor_ops``) is ``shufflevector``.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import vector
from xdsl.dialects.builtin import DenseArrayBase, ModuleOp, i32
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriteWalker

from ember.lowering.llvm_common import Emitter, TableLowering, element_bytes, splat_mask
from ember.lowering.memref_to_llvm import Descriptor


def _load(op: vector.LoadOp, a: list[SSAValue], e: Emitter) -> SSAValue:
    ptr = Descriptor(e, a[0], op.base.type).element_ptr(a[1:])
    return e.load(ptr, op.result.type, element_bytes(op.base.type.element_type))


def _store(op: vector.StoreOp, a: list[SSAValue], e: Emitter) -> None:
    ptr = Descriptor(e, a[1], op.base.type).element_ptr(a[2:])
    e.store(a[0], ptr, element_bytes(op.base.type.element_type))


def _broadcast(op: vector.BroadcastOp, a: list[SSAValue], e: Emitter) -> SSAValue:
    t = op.vector.type
    if not isinstance(op.source.type, type(t.element_type)):
        raise ValueError(f"vector-to-llvm: only scalar broadcasts are supported, got {op.source.type}")
    undef = e.undef(t)
    one = e.insert_element(undef, a[0], e.value(0, i32))
    return e.shuffle(one, undef, splat_mask(t.get_shape()[0]), t)


def _fma(op: vector.FMAOp, a: list[SSAValue], e: Emitter) -> SSAValue:
    return e.fma(a[0], a[1], a[2])


def _shuffle(op: vector.ShuffleOp, a: list[SSAValue], e: Emitter) -> SSAValue:
    mask = DenseArrayBase.from_list(i32, list(op.mask.get_values()))  # LLVM's mask is i32
    return e.shuffle(a[0], a[1], mask, op.result.type)


_RULES = {vector.LoadOp: _load, vector.StoreOp: _store, vector.BroadcastOp: _broadcast,
          vector.FMAOp: _fma, vector.ShuffleOp: _shuffle}


@dataclass(frozen=True)
class VectorToLLVMPass(ModulePass):
    """Lower ``vector.load``/``store``/``broadcast``/``fma``/``shuffle`` to the LLVM dialect."""

    name = "vector-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(TableLowering(_RULES), apply_recursively=False).rewrite_module(op)
