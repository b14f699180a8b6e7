"""NumPy-exact scalar semantics as arith/math ops: what one element of each etensor op does.

``emit(b, kind, element, *operands)`` builds the scalar computation for ``kind`` on
``element``-typed values with a Builder. Integer division by zero gives 0 as in NumPy (no
trap), ``INT_MIN // -1`` wraps, float floor division and remainder follow NumPy's
``npy_divmod``, ``maximum``/``minimum`` propagate NaN and keep NumPy's choice between
``-0.0`` and ``+0.0``, and float-to-int casts of NaN or out-of-range values give
``INT_MIN`` as NumPy does on x86.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from xdsl.builder import Builder
from xdsl.dialects import arith, cf, scf
from xdsl.dialects import math as xmath
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, IntegerType, i1
from xdsl.ir import Attribute, Block, Region, SSAValue
from xdsl.rewriter import InsertPoint

from ember.dialects import shapes as S
from ember.dialects.arith_ext import RemFOp


def const(b: Builder, value: float | int | bool, t: Attribute) -> SSAValue:
    if S.is_float(t):
        return b.insert(arith.ConstantOp(FloatAttr(float(value), t))).result
    if isinstance(t, IntegerType) and t.width.data == 1:
        value = -1 if value else 0
    return b.insert(arith.ConstantOp(IntegerAttr(int(value), t))).result


def int_min(t: IntegerType) -> int:
    return -(1 << (t.width.data - 1))


def _op(b: Builder, op) -> SSAValue:
    return b.insert(op).results[0]


def cmpf(b, pred, x, y):
    return _op(b, arith.CmpfOp(x, y, pred))


def cmpi(b, pred, x, y):
    return _op(b, arith.CmpiOp(x, y, pred))


def select(b, c, x, y):
    return _op(b, arith.SelectOp(c, x, y))


# -- binary ---------------------------------------------------------------------------

def _int_safe_divisor(b, x, y, t):
    """A divisor that never traps: 1 where y == 0 or (x == INT_MIN and y == -1)."""
    zero, one, m1 = const(b, 0, t), const(b, 1, t), const(b, -1, t)
    is_zero = cmpi(b, "eq", y, zero)
    overflow = _op(b, arith.AndIOp(cmpi(b, "eq", x, const(b, int_min(t), t)), cmpi(b, "eq", y, m1)))
    return select(b, _op(b, arith.OrIOp(is_zero, overflow)), one, y), is_zero, zero


def _floordiv_int(b, x, y, t):
    safe, is_zero, zero = _int_safe_divisor(b, x, y, t)
    return select(b, is_zero, zero, _op(b, arith.FloorDivSIOp(x, safe)))


def _mod_int(b, x, y, t):
    safe, is_zero, zero = _int_safe_divisor(b, x, y, t)
    r = _op(b, arith.RemSIOp(x, safe))
    adjust = _op(b, arith.AndIOp(cmpi(b, "ne", r, zero),
                                 cmpi(b, "ne", cmpi(b, "slt", r, zero), cmpi(b, "slt", y, zero))))
    r = select(b, adjust, _op(b, arith.AddiOp(r, y)), r)
    return select(b, is_zero, zero, r)


def _divmod_float(b, x, y, t):
    """NumPy's npy_divmod: returns (floordiv, mod)."""
    zero, one = const(b, 0.0, t), const(b, 1.0, t)
    mod = _op(b, RemFOp(x, y))
    div = _op(b, arith.DivfOp(_op(b, arith.SubfOp(x, mod)), y))
    mod_nz = cmpf(b, "une", mod, zero)
    sign_differs = cmpi(b, "ne", cmpf(b, "olt", y, zero), cmpf(b, "olt", mod, zero))
    fix = _op(b, arith.AndIOp(mod_nz, sign_differs))
    mod = select(b, fix, _op(b, arith.AddfOp(mod, y)), mod)
    div = select(b, fix, _op(b, arith.SubfOp(div, one)), div)
    mod = select(b, mod_nz, mod, _op(b, xmath.CopySignOp(zero, y)))
    floor = _op(b, xmath.FloorOp(div))
    half = const(b, 0.5, t)
    floor = select(b, cmpf(b, "ogt", _op(b, arith.SubfOp(div, floor)), half),
                   _op(b, arith.AddfOp(floor, one)), floor)
    quotient = _op(b, arith.DivfOp(x, y))
    floor = select(b, cmpf(b, "une", div, zero), floor, _op(b, xmath.CopySignOp(zero, quotient)))
    y_zero = cmpf(b, "oeq", y, zero)
    return select(b, y_zero, quotient, floor), select(b, y_zero, _op(b, RemFOp(x, y)), mod)


def _pow_int(b, x, y, t):
    """Exponentiation by squaring while bits of the exponent remain (``scf.while``).

    A data-dependent trip count on purpose: a fixed 64-iteration loop gets fully unrolled
    and LLVM 22's vectoriser then takes exponential time on the unrolled chain.
    """
    b.insert(cf.AssertOp(cmpi(b, "sge", y, const(b, 0, t)),
                         "Integers to negative integer powers are not allowed."))
    types = [t, t, t]
    before = Block(arg_types=types)
    bb = Builder(InsertPoint.at_end(before))
    bb.insert(scf.ConditionOp(cmpi(bb, "ne", before.args[2], const(bb, 0, t)), *before.args))
    after = Block(arg_types=types)
    ab = Builder(InsertPoint.at_end(after))
    acc, base, e = after.args
    one = const(ab, 1, t)
    bit = cmpi(ab, "ne", _op(ab, arith.AndIOp(e, one)), const(ab, 0, t))
    acc2 = select(ab, bit, _op(ab, arith.MuliOp(acc, base)), acc)
    ab.insert(scf.YieldOp(acc2, _op(ab, arith.MuliOp(base, base)), _op(ab, arith.ShRUIOp(e, one))))
    loop = b.insert(scf.WhileOp([const(b, 1, t), x, y], types, Region(before), Region(after)))
    return loop.results[0]


def _float_or_int(f_op, i_op):
    def emit(b, x, y, t):
        return _op(b, (f_op if S.is_float(t) else i_op)(x, y))
    return emit


def _nan_or(b, pred, x, y):
    """NumPy's ``(x pred y || isnan(x)) ? x : y``: a NaN in either operand wins."""
    return _op(b, arith.OrIOp(cmpf(b, pred, x, y), cmpf(b, "uno", x, x)))


def _maximum(b, x, y, t):
    if S.is_float(t):
        return select(b, _nan_or(b, "oge", x, y), x, y)
    return _op(b, (arith.MaxUIOp if S.is_bool(t) else arith.MaxSIOp)(x, y))


def _minimum(b, x, y, t):
    if S.is_float(t):
        return select(b, _nan_or(b, "ole", x, y), x, y)
    return _op(b, (arith.MinUIOp if S.is_bool(t) else arith.MinSIOp)(x, y))


def _compare(fpred: str, spred: str, upred: str):
    def emit(b, x, y, t):
        if S.is_float(t):
            return cmpf(b, fpred, x, y)
        return cmpi(b, upred if S.is_bool(t) else spred, x, y)
    return emit


BINARY: dict[str, Callable] = {
    "add": _float_or_int(arith.AddfOp, arith.AddiOp),
    "sub": _float_or_int(arith.SubfOp, arith.SubiOp),
    "mul": _float_or_int(arith.MulfOp, arith.MuliOp),
    "div": lambda b, x, y, t: _op(b, arith.DivfOp(x, y)),
    "floordiv": lambda b, x, y, t: _divmod_float(b, x, y, t)[0] if S.is_float(t) else _floordiv_int(b, x, y, t),
    "mod": lambda b, x, y, t: _divmod_float(b, x, y, t)[1] if S.is_float(t) else _mod_int(b, x, y, t),
    "pow": lambda b, x, y, t: _op(b, xmath.PowFOp(x, y)) if S.is_float(t) else _pow_int(b, x, y, t),
    "maximum": _maximum,
    "minimum": _minimum,
    "and": lambda b, x, y, t: _op(b, arith.AndIOp(x, y)),
    "or": lambda b, x, y, t: _op(b, arith.OrIOp(x, y)),
    "xor": lambda b, x, y, t: _op(b, arith.XOrIOp(x, y)),
    "eq": _compare("oeq", "eq", "eq"),
    "ne": _compare("une", "ne", "ne"),
    "lt": _compare("olt", "slt", "ult"),
    "le": _compare("ole", "sle", "ule"),
    "gt": _compare("ogt", "sgt", "ugt"),
    "ge": _compare("oge", "sge", "uge"),
    "atan2": lambda b, x, y, t: _op(b, xmath.Atan2Op(x, y)),
}

# -- unary ----------------------------------------------------------------------------

_MATH = {"exp": xmath.ExpOp, "log": xmath.LogOp, "sqrt": xmath.SqrtOp, "tanh": xmath.TanhOp,
         "sin": xmath.SinOp, "cos": xmath.CosOp, "floor": xmath.FloorOp, "ceil": xmath.CeilOp,
         "trunc": xmath.TruncOp, "rint": xmath.RoundEvenOp, "exp2": xmath.Exp2Op,
         "expm1": xmath.ExpM1Op, "log2": xmath.Log2Op, "log10": xmath.Log10Op,
         "log1p": xmath.Log1pOp, "tan": xmath.TanOp, "arcsin": xmath.AsinOp,
         "arccos": xmath.AcosOp, "arctan": xmath.AtanOp, "sinh": xmath.SinhOp,
         "cosh": xmath.CoshOp, "arcsinh": xmath.AsinhOp, "arccosh": xmath.AcoshOp,
         "arctanh": xmath.AtanhOp, "erf": xmath.ErfOp}


def _neg(b, x, t):
    return _op(b, arith.NegfOp(x)) if S.is_float(t) else _op(b, arith.SubiOp(const(b, 0, t), x))


def _abs(b, x, t):
    if S.is_float(t):
        return _op(b, xmath.AbsFOp(x))
    if S.is_bool(t):
        return x
    return _op(b, xmath.AbsIOp(x))


UNARY: dict[str, Callable] = {
    **{k: (lambda cls: lambda b, x, t: _op(b, cls(x)))(cls) for k, cls in _MATH.items()},
    "neg": _neg,
    "abs": _abs,
    "not": lambda b, x, t: _op(b, arith.XOrIOp(x, const(b, -1, t))),
}


# -- casts ----------------------------------------------------------------------------

def cast(b: Builder, x: SSAValue, src: Attribute, dst: Attribute) -> SSAValue:
    """``dst(x)`` with NumPy's ``astype`` semantics."""
    if src == dst:
        return x
    if S.is_bool(dst):
        zero = const(b, 0, src)
        return cmpf(b, "une", x, zero) if S.is_float(src) else cmpi(b, "ne", x, zero)
    if S.is_float(src) and S.is_float(dst):
        wider = src.bitwidth < dst.bitwidth
        return _op(b, (arith.ExtFOp if wider else arith.TruncFOp)(x, dst))
    if S.is_float(dst):
        return _op(b, (arith.UIToFPOp if S.is_bool(src) else arith.SIToFPOp)(x, dst))
    if S.is_float(src):
        w = dst.width.data
        lo, hi = const(b, -math.ldexp(1.0, w - 1), src), const(b, math.ldexp(1.0, w - 1), src)
        ok = _op(b, arith.AndIOp(cmpf(b, "oge", x, lo), cmpf(b, "olt", x, hi)))
        return select(b, ok, _op(b, arith.FPToSIOp(x, dst)), const(b, int_min(dst), dst))
    sw, dw = src.width.data, dst.width.data
    if sw < dw:
        return _op(b, (arith.ExtUIOp if sw == 1 else arith.ExtSIOp)(x, dst))
    return _op(b, arith.TruncIOp(x, dst))


def emit_binary(b: Builder, kind: str, x: SSAValue, y: SSAValue, t: Attribute) -> SSAValue:
    return BINARY[kind](b, x, y, t)


def emit_unary(b: Builder, kind: str, x: SSAValue, t: Attribute) -> SSAValue:
    return UNARY[kind](b, x, t)


__all__ = ["cast", "const", "emit_binary", "emit_unary", "select", "cmpf", "cmpi", "i1"]
