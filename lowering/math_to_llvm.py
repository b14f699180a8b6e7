"""``math-to-llvm``: ``math`` ops to LLVM intrinsics (keeping fast-math) or libm calls.

    %y = math.tanh %x fastmath<fast> : f32  ->  %y = llvmx.intrinsic "llvm.tanh.f32"(%x) {fastmath = #llvm.fastmath<fast>} : (f32) -> f32
    %y = math.erf %x : f64                  ->  %y = llvm.call @erf(%x) : (f64) -> f64   (+ llvm.func @erf declared)
    %y = math.absi %n : i32                 ->  llvmx.intrinsic "llvm.abs.i32"(%n, %false)
    %y = math.rsqrt %x : f32                ->  1.0 / llvm.sqrt.f32(%x)

The X86 backend turns most float intrinsics into scalar libm calls (``expf``, ``tanhf``),
which MCJIT resolves from the process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import llvm, math
from xdsl.dialects.builtin import Float32Type, FloatAttr, IntegerAttr, ModuleOp, i1
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriteWalker

from ember.dialects import llvmx
from ember.lowering.llvm_common import (Emitter, TableLowering, call, declare, i32,
    intrinsic_suffix, module_of)

Rule = Callable[[Operation, list[SSAValue], Emitter], SSAValue]

_FLOAT_INTRINSICS = {
    math.ExpOp: "exp", math.Exp2Op: "exp2", math.LogOp: "log", math.Log2Op: "log2",
    math.Log10Op: "log10", math.SqrtOp: "sqrt", math.SinOp: "sin", math.CosOp: "cos",
    math.TanOp: "tan", math.TanhOp: "tanh", math.SinhOp: "sinh", math.CoshOp: "cosh",
    math.AsinOp: "asin", math.AcosOp: "acos", math.AtanOp: "atan", math.Atan2Op: "atan2",
    math.AbsFOp: "fabs", math.FloorOp: "floor", math.CeilOp: "ceil", math.TruncOp: "trunc",
    math.RoundOp: "round", math.RoundEvenOp: "roundeven", math.PowFOp: "pow",
    math.CopySignOp: "copysign", math.FmaOp: "fma",
}
_LIBM = {math.ErfOp: "erf", math.Log1pOp: "log1p", math.ExpM1Op: "expm1", math.CbrtOp: "cbrt",
         math.AsinhOp: "asinh", math.AcoshOp: "acosh", math.AtanhOp: "atanh"}
_INT_INTRINSICS = {math.CountLeadingZerosOp: "ctlz", math.CountTrailingZerosOp: "cttz",
                   math.AbsIOp: "abs"}


def _fastmath(op: Operation) -> llvm.FastMathAttr:
    flags = op.properties.get("fastmath")
    return llvm.FastMathAttr(flags.data if flags is not None else None)


def _intrinsic(base: str) -> Rule:
    def rule(op, a, e):
        t = a[0].type
        return e.emit(llvmx.IntrinsicOp(f"llvm.{base}.{intrinsic_suffix(t)}", a, t, _fastmath(op)))
    return rule


def _int_intrinsic(base: str) -> Rule:
    """``llvm.abs``/``ctlz``/``cttz`` take an extra ``i1 false`` (zero/INT_MIN is not poison)."""
    def rule(op, a, e):
        t = a[0].type
        false = e.emit(llvm.ConstantOp(IntegerAttr(0, i1), i1))
        return e.emit(llvmx.IntrinsicOp(f"llvm.{base}.{intrinsic_suffix(t)}", [a[0], false], t))
    return rule


def _libm(name: str) -> Rule:
    def rule(op, a, e):
        t = a[0].type
        symbol = name + ("f" if isinstance(t, Float32Type) else "")
        declare(module_of(op), symbol, [t], t)
        return e.emit(call(symbol, a, t, _fastmath(op)))
    return rule


def _rsqrt(op, a, e):
    t = a[0].type
    root = e.emit(llvmx.IntrinsicOp(f"llvm.sqrt.{intrinsic_suffix(t)}", a, t, _fastmath(op)))
    one = e.emit(llvm.ConstantOp(FloatAttr(1.0, t), t))
    return e.emit(llvm.FDivOp(one, root, _fastmath(op)))


def _fpowi(op, a, e):
    """``llvm.powi.fN.i32``: the exponent is resized to i32."""
    x, n = a
    width = n.type.width.data
    if width != 32:
        n = e.emit((llvm.TruncOp if width > 32 else llvm.SExtOp)(n, i32))
    t = x.type
    return e.emit(llvmx.IntrinsicOp(f"llvm.powi.{intrinsic_suffix(t)}.i32", [x, n], t, _fastmath(op)))


_RULES: dict[type[Operation], Rule] = {
    **{k: _intrinsic(v) for k, v in _FLOAT_INTRINSICS.items()},
    **{k: _libm(v) for k, v in _LIBM.items()},
    **{k: _int_intrinsic(v) for k, v in _INT_INTRINSICS.items()},
    math.CtPopOp: lambda op, a, e: e.emit(llvmx.IntrinsicOp(
        f"llvm.ctpop.{intrinsic_suffix(a[0].type)}", a, a[0].type)),
    math.RsqrtOp: _rsqrt,
    math.FPowIOp: _fpowi,
}


@dataclass(frozen=True)
class MathToLLVMPass(ModulePass):
    """Lower ``math`` to LLVM intrinsics and libm calls."""

    name = "math-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(TableLowering(_RULES), apply_recursively=False).rewrite_module(op)
