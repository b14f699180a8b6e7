"""``arith-to-llvm``: every ``arith`` op to ``llvm``/``llvmx`` ops; ``index`` becomes i64.

One table maps each arith op class to a rule ``(op, emitter) -> value``::

    %s = arith.addf %a, %b fastmath<fast> : f32  ->  %s = llvm.fadd %a, %b {fastmathFlags = #llvm.fastmath<fast>} : f32
    %q = arith.floordivsi %a, %b : index         ->  sdiv, srem, icmp, and, select (rounds to -inf)
    %m = arith.maxsi %a, %b : i64                ->  icmp sgt + select
    %f = arith.fptosi %x : f32 to i32            ->  llvmx.fptosi %x : f32 to i32
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, llvm
from xdsl.dialects.arith import CMPF_COMPARISON_OPERATIONS
from xdsl.dialects.builtin import IntegerAttr, IntegerType, ModuleOp, i1
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriteWalker

from ember.dialects import llvmx
from ember.dialects.arith_ext import RemFOp
from ember.lowering.llvm_common import (Emitter, TableLowering, binary_properties, i64, int_attr,
    intrinsic_suffix, llvm_type, make)

Rule = Callable[[Operation, list[SSAValue], Emitter], SSAValue]


def _fastmath(op: Operation) -> llvm.FastMathAttr:
    flags = op.properties.get("fastmath")
    return llvm.FastMathAttr(flags.data if flags is not None else None)


def _int_binary(cls: type[Operation]) -> Rule:
    props = binary_properties(cls)
    return lambda op, a, e: e.emit(make(cls, a, a[0].type, dict(props)))


def _float_binary(cls: type[Operation]) -> Rule:
    return lambda op, a, e: e.emit(make(cls, a, a[0].type, {"fastmathFlags": _fastmath(op)}))


def _cast(cls: type[Operation]) -> Rule:
    return lambda op, a, e: e.cast(cls, a[0], llvm_type(op.results[0].type))


_PREDICATES = {p.value: llvm.ICmpPredicateFlag(p.value).to_int() for p in llvm.ICmpPredicateFlag}


def _icmp(pred: str, a: SSAValue, b: SSAValue, e: Emitter) -> SSAValue:
    return e.emit(make(llvm.ICmpOp, (a, b), i1, {"predicate": int_attr(_PREDICATES[pred])}))


def _minmax(pred: str) -> Rule:
    """``maxsi`` etc.: ``select(icmp pred a b, a, b)`` (LLVM turns it into smax/umin...)."""
    return lambda op, a, e: e.select(_icmp(pred, a[0], a[1], e), a[0], a[1])


def _float_intrinsic(base: str) -> Rule:
    def rule(op: Operation, a: list[SSAValue], e: Emitter) -> SSAValue:
        t = a[0].type
        return e.emit(llvmx.IntrinsicOp(f"{base}.{intrinsic_suffix(t)}", a, t, _fastmath(op)))
    return rule


def _constant(op: arith.ConstantOp, a: list[SSAValue], e: Emitter) -> SSAValue:
    t = llvm_type(op.result.type)
    value = op.value
    if isinstance(value, IntegerAttr):
        value = IntegerAttr(value.value.data, t)
    return e.emit(llvm.ConstantOp(value, t))


def _int_resize(signed: bool) -> Rule:
    """``index_cast``/``index_castui``: sext/zext, trunc, or nothing (index <-> i64)."""
    def rule(op: Operation, a: list[SSAValue], e: Emitter) -> SSAValue:
        src, dst = a[0].type, llvm_type(op.results[0].type)
        assert isinstance(src, IntegerType) and isinstance(dst, IntegerType)
        if src.width.data == dst.width.data:
            return a[0]
        if src.width.data > dst.width.data:
            return e.emit(llvm.TruncOp(a[0], dst))
        return e.emit((llvm.SExtOp if signed else llvm.ZExtOp)(a[0], dst))
    return rule


def _cmpi(op: arith.CmpiOp, a: list[SSAValue], e: Emitter) -> SSAValue:
    return e.emit(make(llvm.ICmpOp, a, i1, {"predicate": int_attr(op.predicate.value.data)}))


_FPREDICATES = {f.value: f.to_int() for f in llvm.FCmpPredicateFlag}


def _cmpf(op: arith.CmpfOp, a: list[SSAValue], e: Emitter) -> SSAValue:
    pred = CMPF_COMPARISON_OPERATIONS[op.predicate.value.data]
    if pred not in _FPREDICATES:  # "false"/"true": the checked constructor says why not
        return e.emit(llvm.FCmpOp(a[0], a[1], pred))
    return e.emit(make(llvm.FCmpOp, a, i1, {"predicate": int_attr(_FPREDICATES[pred])}))


def _divide_rounding(toward: str) -> Rule:
    """``floordivsi``/``ceildivsi``: truncating ``sdiv``, then step by one where the
    remainder is non-zero and its sign (vs. the divisor's) says we rounded the wrong way."""
    def rule(op: Operation, a: list[SSAValue], e: Emitter) -> SSAValue:
        x, y = a
        t = x.type
        q = e.emit(llvm.SDivOp(x, y))
        r = e.emit(llvm.SRemOp(x, y))
        zero = e.emit(llvm.ConstantOp(IntegerAttr(0, t), t))
        one = e.emit(llvm.ConstantOp(IntegerAttr(1, t), t))
        inexact = _icmp("ne", r, zero, e)
        signs = e.emit(llvm.XOrOp(r, y))
        wrong = _icmp("slt" if toward == "floor" else "sge", signs, zero, e)
        fix = e.emit(llvm.AndOp(inexact, wrong))
        stepped = e.emit((llvm.SubOp if toward == "floor" else llvm.AddOp)(q, one))
        return e.emit(llvm.SelectOp(fix, stepped, q))
    return rule


_RULES: dict[type[Operation], Rule] = {
    arith.ConstantOp: _constant,
    **{src: _int_binary(dst) for src, dst in [
        (arith.AddiOp, llvm.AddOp), (arith.SubiOp, llvm.SubOp), (arith.MuliOp, llvm.MulOp),
        (arith.DivSIOp, llvm.SDivOp), (arith.DivUIOp, llvm.UDivOp), (arith.RemSIOp, llvm.SRemOp),
        (arith.RemUIOp, llvm.URemOp), (arith.AndIOp, llvm.AndOp), (arith.OrIOp, llvm.OrOp),
        (arith.XOrIOp, llvm.XOrOp), (arith.ShLIOp, llvm.ShlOp), (arith.ShRSIOp, llvm.AShrOp),
        (arith.ShRUIOp, llvm.LShrOp)]},
    **{src: _float_binary(dst) for src, dst in [
        (arith.AddfOp, llvm.FAddOp), (arith.SubfOp, llvm.FSubOp), (arith.MulfOp, llvm.FMulOp),
        (arith.DivfOp, llvm.FDivOp), (RemFOp, llvm.FRemOp)]},
    arith.NegfOp: lambda op, a, e: e.emit(make(llvm.FNegOp, a, a[0].type,
                                                {"fastmathFlags": _fastmath(op)})),
    **{src: _cast(dst) for src, dst in [
        (arith.ExtFOp, llvm.FPExtOp), (arith.TruncFOp, llvm.FPTruncOp), (arith.ExtSIOp, llvm.SExtOp),
        (arith.ExtUIOp, llvm.ZExtOp), (arith.TruncIOp, llvm.TruncOp), (arith.SIToFPOp, llvm.SIToFPOp),
        (arith.UIToFPOp, llvmx.UIToFPOp), (arith.FPToSIOp, llvmx.FPToSIOp),
        (arith.FPToUIOp, llvmx.FPToUIOp), (arith.BitcastOp, llvm.BitcastOp)]},
    arith.IndexCastOp: _int_resize(signed=True),
    arith.CmpiOp: _cmpi,
    arith.CmpfOp: _cmpf,
    arith.SelectOp: lambda op, a, e: e.select(*a),
    arith.MaxSIOp: _minmax("sgt"), arith.MinSIOp: _minmax("slt"),
    arith.MaxUIOp: _minmax("ugt"), arith.MinUIOp: _minmax("ult"),
    arith.MaximumfOp: _float_intrinsic("llvm.maximum"),
    arith.MinimumfOp: _float_intrinsic("llvm.minimum"),
    arith.MaxnumfOp: _float_intrinsic("llvm.maxnum"),
    arith.MinnumfOp: _float_intrinsic("llvm.minnum"),
    arith.FloorDivSIOp: _divide_rounding("floor"),
    arith.CeilDivSIOp: _divide_rounding("ceil"),
}
if hasattr(arith, "IndexCastUIOp"):
    _RULES[arith.IndexCastUIOp] = _int_resize(signed=False)


@dataclass(frozen=True)
class ArithToLLVMPass(ModulePass):
    """Lower ``arith`` to the ``llvm`` dialect (index as i64)."""

    name = "arith-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(TableLowering(_RULES), apply_recursively=False).rewrite_module(op)


