"""``expand-math``: ``math.exp/log/tanh/sin/cos`` on f32/f64 scalars to branch-free ``arith``.

LLVM's x86 backend turns ``llvm.tanh.f32`` and friends into scalar libm calls (``tanhf``,
~20 ns each), and a loop that calls libm does not vectorise. This pass replaces each op by
straight-line ``arith`` + ``math.fma``/``math.roundeven``/``math.floor``/``math.absf``/
``math.copysign`` (all of which lower to LLVM intrinsics with vector forms): Cody-Waite range
reduction, a polynomial, and the exponent rebuilt with integer bit operations. Special values
are patched with ``arith.select``, never branches, so the loop body stays one basic block::

    %y = math.tanh %x : f32
  becomes
    %w = arith.extf %x : f32 to f64
    %a = math.absf %w : f64
    ...                                  // t = expm1(2|x|): roundeven, fma, 2^n by bitcast
    %q = arith.divf %t, %t2 : f64        // tanh|x| = t / (t + 2)
    %s = math.copysign %q, %w : f64
    %n = arith.cmpf uno, %w, %w : f64
    %r = arith.select %n, %w, %s : f64   // NaN in, NaN out
    %y = arith.truncf %r : f64 to f32

Every kernel computes in f64: f32 ops are widened, use the shorter f32 polynomials of
``vector_math_data`` and round once, so f32 subnormals, overflow and underflow come out of
the final ``truncf`` correctly rounded. Measured errors and domains: docs/vector-math.md.

``ExpandMathPass(strict=True)`` (``-p 'expand-math{strict=true}'``) keeps the original op as
a fallback, chosen by ``select``, where the expansion is inaccurate (sin/cos beyond
|x| > 2^50 for f32, 2^47 for f64, where the default gives NaN): exact everywhere, but the
libm call then runs for every element.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, math
from xdsl.dialects.builtin import (Float32Type, Float64Type, FloatAttr, IntegerAttr, ModuleOp,
                                    f64, i64)
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from ember.lowering import vector_math_data as D

Value = SSAValue


class _Emitter:
    """Builds f64/i64 arithmetic as a list of ops; each method returns the new value."""

    def __init__(self) -> None:
        self.ops: list[Operation] = []

    def emit(self, op: Operation) -> Value:
        self.ops.append(op)
        return op.results[0]

    def const(self, value: float) -> Value:
        return self.emit(arith.ConstantOp(FloatAttr(value, f64)))

    def int(self, value: int) -> Value:
        signed = value - (1 << 64) if value >= 1 << 63 else value
        return self.emit(arith.ConstantOp(IntegerAttr(signed, i64)))

    def add(self, a, b): return self.emit(arith.AddfOp(a, b))
    def sub(self, a, b): return self.emit(arith.SubfOp(a, b))
    def mul(self, a, b): return self.emit(arith.MulfOp(a, b))
    def div(self, a, b): return self.emit(arith.DivfOp(a, b))
    def fma(self, a, b, c): return self.emit(math.FmaOp(a, b, c))
    def cmp(self, pred, a, b): return self.emit(arith.CmpfOp(a, b, pred))
    def select(self, c, a, b): return self.emit(arith.SelectOp(c, a, b))
    def to_int(self, x): return self.emit(arith.FPToSIOp(x, i64))
    def bits(self, x): return self.emit(arith.BitcastOp(x, i64))
    def from_bits(self, n): return self.emit(arith.BitcastOp(n, f64))

    def poly(self, x: Value, coeffs: list[float]) -> Value:
        """Horner with fma; ``coeffs`` from the constant term up."""
        acc = self.const(coeffs[-1])
        for c in reversed(coeffs[:-1]):
            acc = self.fma(acc, x, self.const(c))
        return acc

    def pow2(self, n: Value) -> Value:
        """2^n for an i64 n in f64's normal exponent range: ``bitcast((n + 1023) << 52)``."""
        biased = self.emit(arith.AddiOp(n, self.int(1023)))
        return self.from_bits(self.emit(arith.ShLIOp(biased, self.int(52))))

    def clamp(self, x: Value, lo: float, hi: float) -> Value:
        """min(max(x, lo), hi), keeping NaN."""
        c_hi = self.const(hi)
        x = self.select(self.cmp("ogt", x, c_hi), c_hi, x)
        c_lo = self.const(lo)
        return self.select(self.cmp("olt", x, c_lo), c_lo, x)


def _expm1_parts(e: _Emitter, y: Value, q: list[float]) -> tuple[Value, Value]:
    """y = n*ln2 + r with |r| <= ln2/2 (n as i64); returns n and p = e^r - 1 = r + r^2*Q(r).

    ``n`` is poison for NaN ``y`` (``fptosi``); callers select NaN lanes away."""
    n = e.emit(math.RoundEvenOp(e.mul(y, e.const(D.LOG2E))))
    minus_n = e.emit(arith.NegfOp(n))
    r = e.fma(minus_n, e.const(D.LN2_HI), y)
    r = e.fma(minus_n, e.const(D.LN2_LO), r)
    p = e.fma(e.mul(r, r), e.poly(r, q), r)
    return e.to_int(n), p


def _nan_passthrough(e: _Emitter, x: Value, result: Value) -> Value:
    """NaN inputs return themselves (and lanes whose integer path was poison are dropped)."""
    return e.select(e.cmp("uno", x, x), x, result)


def _exp(e: _Emitter, x: Value, kind: str) -> Value:
    """2^n * (1 + p); the scale is split in two halves so that 2^n never overflows."""
    lo, hi = D.EXP_RANGE[kind]
    n, p = _expm1_parts(e, e.clamp(x, lo, hi), D.EXPM1_Q[kind])
    n1 = e.emit(arith.ShRSIOp(n, e.int(1)))
    n2 = e.emit(arith.SubiOp(n, n1))
    y = e.mul(e.mul(e.add(p, e.const(1.0)), e.pow2(n1)), e.pow2(n2))
    return _nan_passthrough(e, x, y)


def _tanh(e: _Emitter, x: Value, kind: str) -> Value:
    """copysign(t / (t + 2), x) with t = expm1(2|x|) = 2^n*p + (2^n - 1): no cancellation
    near 0, so tanh(-0) = -0 and tiny inputs return themselves."""
    a = e.clamp(e.emit(math.AbsFOp(x)), 0.0, D.TANH_CLAMP)
    n, p = _expm1_parts(e, e.add(a, a), D.EXPM1_Q[kind])
    scale = e.pow2(n)
    t = e.fma(scale, p, e.sub(scale, e.const(1.0)))
    q = e.div(t, e.add(t, e.const(2.0)))
    return _nan_passthrough(e, x, e.emit(math.CopySignOp(q, x)))


def _log(e: _Emitter, x: Value, kind: str) -> Value:
    """x = 2^k * m, m in [sqrt(1/2), sqrt(2)) by bit arithmetic (musl log.c), f = m - 1,
    s = f / (2 + f), then fdlibm's form (f64) or 2s + s*z*P(z) (f32)."""
    tiny = e.cmp("olt", x, e.const(2.0 ** -1022))
    xs = e.select(tiny, e.mul(x, e.const(2.0 ** 54)), x)
    ix = e.bits(xs)
    tmp = e.emit(arith.SubiOp(ix, e.int(D.LOG_OFF)))
    k = e.emit(arith.ShRSIOp(tmp, e.int(52)))
    m = e.from_bits(e.emit(arith.SubiOp(ix, e.emit(arith.ShLIOp(k, e.int(52))))))
    dk = e.sub(e.emit(arith.SIToFPOp(k, f64)), e.select(tiny, e.const(54.0), e.const(0.0)))
    f = e.sub(m, e.const(1.0))
    s = e.div(f, e.add(f, e.const(2.0)))
    z = e.mul(s, s)
    if kind == "f32":
        log1p = e.fma(s, e.mul(z, e.poly(z, D.LOG_P_F32)), e.add(s, s))
        y = e.fma(dk, e.const(D.LN2_HI + D.LN2_LO), log1p)
    else:
        r = e.mul(z, e.poly(z, D.LOG_LG))
        hfsq = e.mul(e.const(0.5), e.mul(f, f))
        inner = e.fma(s, e.add(hfsq, r), e.mul(dk, e.const(D.LN2_LO)))
        y = e.fma(dk, e.const(D.LN2_HI), e.sub(f, e.sub(hfsq, inner)))
    y = e.select(e.cmp("oeq", x, e.const(float("inf"))), x, y)
    y = e.select(e.cmp("oeq", x, e.const(0.0)), e.const(float("-inf")), y)
    return e.select(e.cmp("ult", x, e.const(0.0)), e.const(float("nan")), y)


def _sincos(e: _Emitter, x: Value, kind: str, quadrant: int) -> Value:
    """x = k*pi/2 + r (three-part Cody-Waite with fma), then [sin, cos, -sin, -cos] of r
    picked by (k + quadrant) mod 4: quadrant 0 gives sin x, 1 gives cos x."""
    k = e.emit(math.RoundEvenOp(e.mul(x, e.const(D.TWO_OVER_PI))))
    minus_k = e.emit(arith.NegfOp(k))
    r = e.fma(minus_k, e.const(D.PIO2_1), x)
    r = e.fma(minus_k, e.const(D.PIO2_2), r)
    r = e.fma(minus_k, e.const(D.PIO2_3), r)
    z = e.mul(r, r)
    terms = D.TERMS[kind]
    sin_r = e.fma(e.mul(r, z), e.poly(z, D.SIN_S[:terms["sin"]]), r)
    half_z = e.mul(z, e.const(0.5))
    w = e.sub(e.const(1.0), half_z)
    # 1 - z/2 rounded, plus what that rounding lost, plus z^2 * C(z) (fdlibm k_cos.c)
    tail = e.fma(e.mul(z, z), e.poly(z, D.COS_C[:terms["cos"]]), e.sub(e.sub(e.const(1.0), w), half_z))
    cos_r = e.add(w, tail)
    # k mod 4 in floating point is exact and finite for finite x, so fptosi never sees NaN/inf
    k_mod4 = e.fma(e.emit(math.FloorOp(e.mul(k, e.const(0.25)))), e.const(-4.0), k)
    q = e.emit(arith.AddiOp(e.to_int(k_mod4), e.int(quadrant)))
    odd = e.emit(arith.CmpiOp(e.emit(arith.AndIOp(q, e.int(1))), e.int(0), "ne"))
    value = e.select(odd, cos_r, sin_r)
    sign = e.emit(arith.ShLIOp(e.emit(arith.AndIOp(q, e.int(2))), e.int(62)))
    y = e.from_bits(e.emit(arith.XOrIOp(e.bits(value), sign)))
    if quadrant == 0:
        # fma(-k, pi/2, x) is +0 for x = -0, so sin(-0) would lose its sign
        y = e.select(e.cmp("oeq", x, e.const(0.0)), x, y)
    # NaN, inf and |x| beyond the accurate domain give NaN; this also drops the lanes where
    # k_mod4 was NaN and fptosi made poison
    outside = e.cmp("ugt", e.emit(math.AbsFOp(x)), e.const(D.TRIG_BOUND[kind]))
    return e.select(outside, e.const(float("nan")), y)


Kernel = Callable[[_Emitter, Value, str], Value]

#: math op -> kernel (x in f64, "f32"/"f64" for the coefficient tables) -> f64 result.
KERNELS: dict[type[Operation], Kernel] = {
    math.ExpOp: _exp,
    math.LogOp: _log,
    math.TanhOp: _tanh,
    math.SinOp: lambda e, x, kind: _sincos(e, x, kind, 0),
    math.CosOp: lambda e, x, kind: _sincos(e, x, kind, 1),
}

#: Ops whose expansion is inaccurate for |x| > bound; strict mode selects the original there.
_STRICT_BOUND: dict[type[Operation], dict[str, float]] = {
    math.SinOp: D.TRIG_BOUND, math.CosOp: D.TRIG_BOUND}

_KINDS = {Float32Type: "f32", Float64Type: "f64"}


@dataclass
class ExpandMath(RewritePattern):
    """Replace one ``math`` op of ``KERNELS`` on an f32/f64 scalar by its kernel."""

    strict: bool = False

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        kernel = KERNELS.get(type(op))
        kind = _KINDS.get(type(op.results[0].type)) if kernel is not None else None
        if kind is None:
            return
        e = _Emitter()
        x = op.operands[0]
        wide = e.emit(arith.ExtFOp(x, f64)) if kind == "f32" else x
        y = kernel(e, wide, kind)
        bound = _STRICT_BOUND.get(type(op))
        if self.strict and bound is not None:
            exact = e.emit(type(op)(wide))
            big = e.cmp("ugt", e.emit(math.AbsFOp(wide)), e.const(bound[kind]))
            y = e.select(big, exact, y)
        if kind == "f32":
            y = e.emit(arith.TruncFOp(y, op.results[0].type))
        rewriter.replace(op, e.ops, [y])


@dataclass(frozen=True)
class ExpandMathPass(ModulePass):
    """Expand exp/log/tanh/sin/cos into vectorisable arith (see the module docstring)."""

    name = "expand-math"

    strict: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(ExpandMath(self.strict), apply_recursively=False).rewrite_module(op)
