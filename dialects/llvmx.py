"""The ``llvmx`` dialect: the few LLVM instructions xDSL 0.74's ``llvm`` dialect lacks.

They print like their ``llvm`` cousins and are translated to LLVM IR by
``ember.lowering.llvm_ir``::

    %i = llvmx.fptosi %x : f32 to i64
    %u = llvmx.fptoui %x : f64 to i32
    %f = llvmx.uitofp %n : i64 to f32
    %t = llvmx.intrinsic "llvm.tanh.f32"(%x) {fastmath = #llvm.fastmath<fast>} : (f32) -> f32
    %p = llvmx.call_indirect %callback(%k, %sizes) : (i64, !llvm.ptr) -> !llvm.ptr
    llvmx.prefetch %p {locality = 3 : i32}
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from xdsl.dialects.builtin import I32, UNKNOWN_LOC, IntegerAttr, StringAttr
from xdsl.dialects.llvm import FastMathAttr, LLVMPointerType
from xdsl.ir import Attribute, Dialect, Operation, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_result_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import Pure


# The constructors below build their ops with ``Operation.__init__`` directly: the lowerings
# make hundreds of them, and ``IRDLOperation.__init__``'s argument checks cost more than the
# op. The ops are the same (``__post_init__`` still fills in default properties).


class _CastOp(IRDLOperation):
    arg = operand_def()
    result = result_def()
    traits = traits_def(Pure())
    assembly_format = "$arg attr-dict `:` type($arg) `to` type($result)"

    def __init__(self, arg: SSAValue | Operation, result_type: Attribute):
        Operation.__init__(self, operands=[SSAValue.get(arg)], result_types=[result_type],
                           location=UNKNOWN_LOC)


@irdl_op_definition
class FPToSIOp(_CastOp):
    """Float to signed integer, rounding toward zero: ``%i = llvmx.fptosi %x : f32 to i64``."""

    name = "llvmx.fptosi"


@irdl_op_definition
class FPToUIOp(_CastOp):
    """Float to unsigned integer, rounding toward zero: ``%u = llvmx.fptoui %x : f64 to i32``."""

    name = "llvmx.fptoui"


@irdl_op_definition
class UIToFPOp(_CastOp):
    """Unsigned integer to float: ``%f = llvmx.uitofp %n : i64 to f32``."""

    name = "llvmx.uitofp"


@irdl_op_definition
class IntrinsicOp(IRDLOperation):
    """A call of an LLVM intrinsic by its mangled name, keeping fast-math flags.

    (``llvm.call_intrinsic`` rejects fast-math flags and the ``llvm.intr.*`` ops drop them.)

        %t = llvmx.intrinsic "llvm.tanh.f32"(%x) {fastmath = #llvm.fastmath<fast>} : (f32) -> f32
        %m = llvmx.intrinsic "llvm.smax.i64"(%a, %b) : (i64, i64) -> i64
    """

    name = "llvmx.intrinsic"
    intrin = prop_def(StringAttr)
    fastmath = prop_def(FastMathAttr, default_value=FastMathAttr(None))
    args = var_operand_def()
    res = opt_result_def()
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$intrin `(` $args `)` attr-dict `:` functional-type($args, results)"

    def __init__(self, intrin: str, args: Sequence[SSAValue], result_type: Attribute | None,
                 fastmath: FastMathAttr | None = None):
        Operation.__init__(self, operands=[SSAValue.get(a) for a in args], location=UNKNOWN_LOC,
                           result_types=[] if result_type is None else [result_type],
                           properties={"intrin": _string(intrin),
                                       "fastmath": fastmath or _NO_FASTMATH})


@irdl_op_definition
class CallIndirectOp(IRDLOperation):
    """A call through a function pointer (``llvm.call`` only translates direct calls).

        %p = llvmx.call_indirect %callback(%k, %sizes) : (i64, !llvm.ptr) -> !llvm.ptr
    """

    name = "llvmx.call_indirect"
    callee = operand_def(LLVMPointerType())
    args = var_operand_def()
    res = opt_result_def()
    assembly_format = "$callee `(` $args `)` attr-dict `:` functional-type($args, results)"

    def __init__(self, callee: SSAValue, args: Sequence[SSAValue], result_type: Attribute | None):
        Operation.__init__(self, operands=[SSAValue.get(callee), *(SSAValue.get(a) for a in args)],
                           location=UNKNOWN_LOC,
                           result_types=[] if result_type is None else [result_type])


@irdl_op_definition
class PrefetchOp(IRDLOperation):
    """A hint to fetch the cache line at ``ptr`` for reading (``llvm.prefetch``; ``locality``
    0-3, 3: keep it in every level). Not pure: it must survive dead-code elimination.

        llvmx.prefetch %p {locality = 3 : i32}
    """

    name = "llvmx.prefetch"
    ptr = operand_def(LLVMPointerType())
    locality = prop_def(IntegerAttr[I32])
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$ptr attr-dict"

    def __init__(self, ptr: SSAValue, locality: int = 3):
        Operation.__init__(self, operands=[SSAValue.get(ptr)], location=UNKNOWN_LOC,
                           properties={"locality": IntegerAttr(locality, 32)})


_NO_FASTMATH = FastMathAttr(None)


@functools.cache
def _string(text: str) -> StringAttr:
    return StringAttr(text)


LLVMX = Dialect("llvmx", [FPToSIOp, FPToUIOp, UIToFPOp, IntrinsicOp, CallIndirectOp, PrefetchOp], [])
