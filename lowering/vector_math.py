"""``expand-math``: the ``math`` dialect's transcendental ops on f32/f64 scalars (exp, log,
tanh, sin, cos, powf, log2, log10, exp2, expm1, log1p, erf, atan, atan2, asin, acos, sinh,
cosh, tan, asinh, acosh, atanh) to branch-free ``arith``.

LLVM's x86 backend turns ``llvm.tanh.f32`` and friends into scalar libm calls (``tanhf``,
~20 ns each), and a loop that calls libm does not vectorise. This pass replaces each op by
straight-line ``arith`` + ``math.fma``/``math.roundeven``/``math.floor``/``math.absf``/
``math.copysign`` (all of which lower to LLVM intrinsics with vector forms): Cody-Waite range
reduction, a polynomial, and the exponent rebuilt with integer bit operations. Special values
are patched with ``arith.select``, never branches, so the loop body stays one basic block::

    %y = math.tanh %x : f32
  becomes (all f32, i32 for the exponent bits)
    %a = math.absf %x : f32
    ...                                  // t = expm1(2|x|): roundeven, fma, 2^n by bitcast
    %q = arith.divf %t, %t2 : f32        // tanh|x| = t / (t + 2)
    %p = math.fma %a3, %P, %a : f32      // |x| < 0.45: |x| + |x|^3 * P(x^2)
    %m = arith.select %lt, %p, %q : f32
    %s = math.copysign %m, %x : f32      // tanh(-0) = -0
    %n = arith.cmpf uno, %x, %x : f32
    %y = arith.select %n, %x, %s : f32   // NaN in, NaN out

f32 ops compute in f32 with f32 constants, at twice the vector width of f64, except for
three steps that need more precision: the sin/cos reduction (in f64, then the polynomials in
f32), a general f32 ``powf`` (exp(y*log|x|) in f64, rounded once) and constant integer powers
(products in f64, rounded once). A general f64 ``powf`` computes log|x| and y*log|x| in
double-double (106-bit significands from ``fma`` error terms). Measured errors and domains:
docs/vector-math.md.

``ExpandMathPass(strict=True)`` (``-p 'expand-math{strict=true}'``) keeps the original op as
a fallback, chosen by ``select``, where the expansion is inaccurate (sin/cos beyond
|x| > 2^50 for f32, 2^47 for f64, where the default gives NaN): exact everywhere, but the
libm call then runs for every element.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import pi as math_pi

from xdsl.context import Context
from xdsl.dialects import arith, math
from xdsl.dialects.builtin import (Float32Type, Float64Type, FloatAttr, IntegerAttr, ModuleOp,
                                    f32, f64, i32, i64)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from ember.dialects import llvmx
from ember.lowering import vector_math_data as D

Value = SSAValue

#: float type -> (kind, same-width integer type, width, mantissa bits, exponent bias)
_LAYOUT = {f32: ("f32", i32, 32, 23, 127), f64: ("f64", i64, 64, 52, 1023)}


class _Emitter:
    """Builds arithmetic of one float type (f32 or f64, with the integer type of its width)
    as a list of ops; each method returns the new value. ``wide()`` shares the list in f64."""

    def __init__(self, ftype: Attribute = f64, ops: list[Operation] | None = None,
                 ldexp: bool = False) -> None:
        self.ops: list[Operation] = [] if ops is None else ops
        self.ftype = ftype
        self.kind, self.itype, self.width, self.mant, self.bias = _LAYOUT[ftype]
        #: scale by 2^n with ``llvm.ldexp`` (one ``vscalef`` on AVX-512) instead of building
        #: 2^n from bits in two halves
        self.ldexp = ldexp

    def wide(self) -> _Emitter:
        return _Emitter(f64, self.ops, self.ldexp)

    def emit(self, op: Operation) -> Value:
        self.ops.append(op)
        return op.results[0]

    def const(self, value: float) -> Value:
        return self.emit(arith.ConstantOp(FloatAttr(value, self.ftype)))

    def int(self, value: int) -> Value:
        signed = value - (1 << self.width) if value >= 1 << (self.width - 1) else value
        return self.emit(arith.ConstantOp(IntegerAttr(signed, self.itype)))

    def add(self, a, b): return self.emit(arith.AddfOp(a, b))
    def sub(self, a, b): return self.emit(arith.SubfOp(a, b))
    def mul(self, a, b): return self.emit(arith.MulfOp(a, b))
    def div(self, a, b): return self.emit(arith.DivfOp(a, b))
    def fma(self, a, b, c): return self.emit(math.FmaOp(a, b, c))
    def abs(self, x): return self.emit(math.AbsFOp(x))
    def floor(self, x): return self.emit(math.FloorOp(x))
    def cmp(self, pred, a, b): return self.emit(arith.CmpfOp(a, b, pred))
    def select(self, c, a, b): return self.emit(arith.SelectOp(c, a, b))
    def to_int(self, x): return self.emit(arith.FPToSIOp(x, self.itype))
    def bits(self, x): return self.emit(arith.BitcastOp(x, self.itype))
    def from_bits(self, n): return self.emit(arith.BitcastOp(n, self.ftype))
    def extend(self, x): return self.emit(arith.ExtFOp(x, f64))
    def narrow(self, x): return self.emit(arith.TruncFOp(x, f32))

    def poly(self, x: Value, coeffs: list[float]) -> Value:
        """Horner with fma; ``coeffs`` from the constant term up."""
        acc = self.const(coeffs[-1])
        for c in reversed(coeffs[:-1]):
            acc = self.fma(acc, x, self.const(c))
        return acc

    def pow2(self, n: Value) -> Value:
        """2^n for an integer n in the normal exponent range: ``bitcast((n + bias) << mant)``."""
        biased = self.emit(arith.AddiOp(n, self.int(self.bias)))
        return self.from_bits(self.emit(arith.ShLIOp(biased, self.int(self.mant))))

    def clamp(self, x: Value, lo: float, hi: float) -> Value:
        """min(max(x, lo), hi), keeping NaN."""
        c_hi = self.const(hi)
        x = self.select(self.cmp("ogt", x, c_hi), c_hi, x)
        c_lo = self.const(lo)
        return self.select(self.cmp("olt", x, c_lo), c_lo, x)


def _expm1_parts(e: _Emitter, y: Value, tail: Value | None = None,
                 q: list[float] | None = None) -> tuple[Value, Value]:
    """y = n*ln2 + r with |r| <= ln2/2 (n as an integer); returns n and p = e^r - 1 =
    r + r^2*Q(r). ``n`` is poison for NaN ``y`` (``fptosi``); callers select NaN lanes away.
    ``tail`` is a small correction to y (the low half of a double-double), added to r; ``q``
    replaces the type's Q (a shorter one where less precision is needed)."""
    hi, lo = (D.LN2_HI, D.LN2_LO) if e.kind == "f64" else (D.LN2_HI_F32, D.LN2_LO_F32)
    n = e.emit(math.RoundEvenOp(e.mul(y, e.const(D.LOG2E))))
    minus_n = e.emit(arith.NegfOp(n))
    r = e.fma(minus_n, e.const(hi), y)
    r = e.fma(minus_n, e.const(lo), r)
    if tail is not None:
        r = e.add(r, tail)
    p = e.fma(e.mul(r, r), e.poly(r, q or D.EXPM1_Q[e.kind]), r)
    return e.to_int(n), p


def _nan_passthrough(e: _Emitter, x: Value, result: Value) -> Value:
    """NaN inputs return themselves (and lanes whose integer path was poison are dropped)."""
    return e.select(e.cmp("uno", x, x), x, result)


def _exp(e: _Emitter, x: Value, tail: Value | None = None,
         q: list[float] | None = None) -> Value:
    """2^n * (1 + p); the scale is split in two halves so that 2^n never overflows, and the
    last multiply rounds subnormal results. ``tail``/``q``: see ``_expm1_parts``."""
    lo, hi = D.EXP_RANGE[e.kind]
    n, p = _expm1_parts(e, e.clamp(x, lo, hi), tail, q)
    return _nan_passthrough(e, x, _scale2n(e, e.add(p, e.const(1.0)), n))


def _scale2n(e: _Emitter, y: Value, n: Value) -> Value:
    """y * 2^n for an integer n up to twice the exponent range, rounded once: ``llvm.ldexp``
    (one ``vscalef`` on AVX-512), or two halves 2^(n>>1) * 2^(n - (n>>1)) from integer
    bits so that no factor overflows, the last multiply rounding a subnormal result."""
    if e.ldexp:
        return e.emit(llvmx.IntrinsicOp(f"llvm.ldexp.{e.kind}.{e.itype}", [y, n], e.ftype))
    n1 = e.emit(arith.ShRSIOp(n, e.int(1)))
    return e.mul(e.mul(y, e.pow2(n1)), e.pow2(e.emit(arith.SubiOp(n, n1))))


def _tanh_expm1(e: _Emitter, a: Value, clamp: float) -> Value:
    """tanh(a) for a >= 0 as t / (t + 2) with t = expm1(2a) = 2^n*p + (2^n - 1): no
    cancellation. ``a`` is clamped with ``olt``, so a NaN becomes ``clamp`` (no poison)."""
    c_hi = e.const(clamp)
    c = e.select(e.cmp("olt", a, c_hi), a, c_hi)
    if e.kind == "f64":
        n, p = _expm1_parts(e, e.add(c, c))
        scale = e.pow2(n)
    else:
        scale, p = _expm1_parts_f32_small(e, e.add(c, c))
    t = e.fma(scale, p, e.sub(scale, e.const(1.0)))
    return e.div(t, e.add(t, e.const(2.0)))


def _expm1_parts_f32_small(e: _Emitter, y: Value) -> tuple[Value, Value]:
    """f32 y in [0, 2^21): 2^n and p = e^r - 1 with the round-to-integer of the shifter
    1.5 * 2^23: fma(y, log2e, 1.5 * 2^23) holds n in its low mantissa bits, and those bits
    shifted into the exponent field are 2^n's. Q is one degree shorter than exp's (its
    2^-22.8 error is damped below 2^-26 in e^r - 1 and halved again by tanh)."""
    shifter = e.const(D.SHIFTER_F32)
    s = e.fma(y, e.const(D.LOG2E), shifter)
    minus_n = e.sub(shifter, s)
    r = e.fma(minus_n, e.const(D.LN2_HI_F32), y)
    r = e.fma(minus_n, e.const(D.LN2_LO_F32), r)
    p = e.fma(e.mul(r, r), e.poly(r, D.EXPM1_Q_TANH_F32), r)
    one_bits = e.int(e.bias << e.mant)
    scale = e.from_bits(e.emit(arith.AddiOp(e.emit(arith.ShLIOp(e.bits(s), e.int(e.mant))), one_bits)))
    return scale, p


def _tanh(e: _Emitter, x: Value) -> Value:
    """copysign(tanh|x|, x), so tanh(-0) = -0. f64: the expm1 form everywhere (tiny inputs
    return themselves). f32: the odd polynomial a + a^3*P(a^2) below 0.45, where t/(t+2)
    would round three times; both are computed and one is selected, the polynomial for NaN
    (``ult``), which carries it through."""
    a = e.abs(x)
    if e.kind == "f64":
        return _nan_passthrough(e, x, e.emit(math.CopySignOp(_tanh_expm1(e, a, D.TANH_CLAMP), x)))
    big = _tanh_expm1(e, a, D.TANH_CLAMP_F32)
    z = e.mul(a, a)
    small = e.fma(e.mul(a, z), e.poly(z, D.TANH_P_F32), a)
    y = e.select(e.cmp("ult", a, e.const(D.TANH_SMALL_F32)), small, big)
    return e.emit(math.CopySignOp(y, x))


def _log(e: _Emitter, x: Value) -> Value:
    """x = 2^k * m, m in [sqrt(1/2), sqrt(2)) by bit arithmetic (musl log.c), f = m - 1;
    f64: fdlibm's form with s = f / (2 + f); f32: f + f^2*(-1/2 + f*P(f)), no division."""
    dk, f = _log_reduce(e, x)
    if e.kind == "f32":
        c = _log1p_rest_f32(e, f)
        y = e.fma(dk, e.const(D.LN2_HI_F32), e.add(f, e.fma(dk, e.const(D.LN2_LO_F32), c)))
    else:
        s = e.div(f, e.add(f, e.const(2.0)))
        z = e.mul(s, s)
        r = e.mul(z, e.poly(z, D.LOG_LG))
        hfsq = e.mul(e.const(0.5), e.mul(f, f))
        inner = e.fma(s, e.add(hfsq, r), e.mul(dk, e.const(D.LN2_LO)))
        y = e.fma(dk, e.const(D.LN2_HI), e.sub(f, e.sub(hfsq, inner)))
    return _log_specials(e, x, y)


def _log1p_rest_f32(e: _Emitter, f: Value) -> Value:
    """log(1 + f) - f = f^2*(-1/2 + f*P(f)) for f in [sqrt(1/2) - 1, sqrt(2) - 1], in f32."""
    return e.mul(e.mul(f, f), e.fma(f, e.poly(f, D.LOG1P_P_F32), e.const(-0.5)))


def _log_specials(e: _Emitter, x: Value, y: Value) -> Value:
    """log(+inf) = +inf, log(+-0) = -inf, log of a negative number or NaN is NaN."""
    y = e.select(e.cmp("oeq", x, e.const(float("inf"))), x, y)
    y = e.select(e.cmp("oeq", x, e.const(0.0)), e.const(float("-inf")), y)
    return e.select(e.cmp("ult", x, e.const(0.0)), e.const(float("nan")), y)


def _log2_f32(e: _Emitter, x: Value) -> Value:
    """log2 in f32: k + log(1 + f)*log2(e), the product f*log2(e) with its exact error
    (``fma``) and k + that by Fast2Sum, so that the last rounding is the only large one;
    exact at powers of 2."""
    dk, f = _log_reduce(e, x)
    c = _log1p_rest_f32(e, f)
    l_hi = e.const(D.LOG2E_F32)
    t = e.mul(f, l_hi)
    rest = e.fma(c, l_hi, e.fma(f, e.const(D.LOG2E_F32_LO), e.fma(f, l_hi, e.emit(arith.NegfOp(t)))))
    s = e.add(dk, t)
    err = e.add(e.sub(dk, s), t)  # exact: |dk| >= |t| unless dk = 0, and then s = t
    return _log_specials(e, x, e.add(s, e.add(err, rest)))


def _log_reduce(e: _Emitter, x: Value) -> tuple[Value, Value]:
    """(k, f) as floats with x = 2^k * (1 + f), 1 + f in [sqrt(1/2), sqrt(2)); subnormal x
    scaled first. f = m - 1 is exact."""
    min_normal, sub_scale = (2.0 ** -1022, 54) if e.kind == "f64" else (2.0 ** -126, 23)
    tiny = e.cmp("olt", x, e.const(min_normal))
    xs = e.select(tiny, e.mul(x, e.const(2.0 ** sub_scale)), x)
    ix = e.bits(xs)
    tmp = e.emit(arith.SubiOp(ix, e.int(D.LOG_OFF[e.kind])))
    k = e.emit(arith.ShRSIOp(tmp, e.int(e.mant)))
    m = e.from_bits(e.emit(arith.SubiOp(ix, e.emit(arith.ShLIOp(k, e.int(e.mant))))))
    dk = e.sub(e.emit(arith.SIToFPOp(k, e.ftype)),
               e.select(tiny, e.const(float(sub_scale)), e.const(0.0)))
    return dk, e.sub(m, e.const(1.0))


def _reduce_pio2(w: _Emitter, x: Value, parts: int = 3) -> tuple[Value, Value]:
    """In f64: x = k*pi/2 + r (Cody-Waite with fma and ``parts`` parts of pi/2); returns r
    and k (f64)."""
    k = w.emit(math.RoundEvenOp(w.mul(x, w.const(D.TWO_OVER_PI))))
    minus_k = w.emit(arith.NegfOp(k))
    r = x
    for part in (D.PIO2_1, D.PIO2_2, D.PIO2_3)[:parts]:
        r = w.fma(minus_k, w.const(part), r)
    return r, k


def _sin_cos_f64(e: _Emitter, x: Value) -> tuple[Value, Value, Value]:
    """(sin r, cos r, k mod 4) with fdlibm's kernels (k_sin.c, k_cos.c); k mod 4 is computed
    in floating point, so it is exact and finite for every finite x."""
    r, k = _reduce_pio2(e, x)
    k_mod4 = e.to_int(e.fma(e.floor(e.mul(k, e.const(0.25))), e.const(-4.0), k))
    z = e.mul(r, r)
    sin_r = e.fma(e.mul(r, z), e.poly(z, D.SIN_S), r)
    return sin_r, _cos_kernel(e, z, D.COS_C), k_mod4


def _cos_kernel(e: _Emitter, z: Value, coeffs: list[float]) -> Value:
    """1 - z/2 rounded, plus what that rounding lost, plus z^2 * C(z) (fdlibm k_cos.c)."""
    half_z = e.mul(z, e.const(0.5))
    w = e.sub(e.const(1.0), half_z)
    lost = e.sub(e.sub(e.const(1.0), w), half_z)
    return e.add(w, e.fma(e.mul(z, z), e.poly(z, coeffs), lost))


def _sin_cos_f32(e: _Emitter, x: Value) -> tuple[Value, Value, Value]:
    """The reduction in f64 (two parts of pi/2 are plenty for f32 inputs up to 2^50), r
    rounded to f32 and the polynomials in f32; k mod 4 from k's low bits. Rounding r costs
    at most 2^-24 relative in sin r and 0.8 * 2^-24 in cos r (|r| <= pi/4), which keeps
    both under 2 ulp; correcting by the f32 rest of r would cost three more f64 ops."""
    w = e.wide()
    r, k = _reduce_pio2(w, w.extend(x), parts=2)
    k_low = e.emit(arith.TruncIOp(w.to_int(k), i32))
    r = w.narrow(r)
    z = e.mul(r, r)
    sin_r = e.fma(e.mul(r, z), e.poly(z, D.SIN_S_F32), r)
    return sin_r, _cos_kernel(e, z, D.COS_C[:D.COS_TERMS_F32]), k_low


def _sincos(e: _Emitter, x: Value, quadrant: int) -> Value:
    """[sin, cos, -sin, -cos] of r picked by (k + quadrant) mod 4: quadrant 0 gives sin x,
    1 gives cos x. NaN, inf and |x| beyond the accurate domain give NaN."""
    sin_r, cos_r, k_low = (_sin_cos_f64 if e.kind == "f64" else _sin_cos_f32)(e, x)
    q = e.emit(arith.AddiOp(k_low, e.int(quadrant)))
    odd = e.emit(arith.CmpiOp(e.emit(arith.AndIOp(q, e.int(1))), e.int(0), "ne"))
    value = e.select(odd, cos_r, sin_r)
    sign = e.emit(arith.ShLIOp(e.emit(arith.AndIOp(q, e.int(2))), e.int(e.width - 2)))
    y = e.from_bits(e.emit(arith.XOrIOp(e.bits(value), sign)))
    if quadrant == 0:
        # fma(-k, pi/2, x) is +0 for x = -0, so sin(-0) would lose its sign
        y = e.select(e.cmp("oeq", x, e.const(0.0)), x, y)
    # the select also drops the lanes where k was NaN and fptosi made poison
    outside = e.cmp("ugt", e.abs(x), e.const(D.TRIG_BOUND[e.kind]))
    return e.select(outside, e.const(float("nan")), y)


def _pow_int(e: _Emitter, x: Value, n: int) -> Value:
    """x^n for a constant integer n: x*x for n = 2; otherwise f32 multiplies in f64 (x^2
    exact, at most two more roundings of 2^-53) and rounds once; f64 n = 3, 4 adds the
    error of x*x by fma."""
    if n in (0, 1):
        return e.const(1.0) if n == 0 else x
    if n == 2:
        return e.mul(x, x)
    if e.kind == "f32":
        w = e.wide()
        xw = w.extend(x)
        y = xw
        for _ in range(abs(n) - 1):
            y = w.mul(y, xw)
        return w.narrow(w.div(w.const(1.0), y) if n < 0 else y)
    if n == -1:
        return e.div(e.const(1.0), x)
    x2 = e.mul(x, x)
    err = e.fma(x, x, e.emit(arith.NegfOp(x2)))
    if n == 3:
        naive, fine = e.mul(x2, x), e.fma(x2, x, e.mul(err, x))
    else:
        naive, fine = e.mul(x2, x2), e.fma(x2, x2, e.mul(e.add(x2, x2), err))
    # near overflow the correction term itself overflows (to either sign)
    return e.select(e.cmp("oeq", e.abs(naive), e.const(float("inf"))), naive, fine)


def _two_sum(e: _Emitter, a: Value, b: Value) -> tuple[Value, Value]:
    """a + b = s + err exactly (Knuth's TwoSum, any magnitudes)."""
    s = e.add(a, b)
    bb = e.sub(s, a)
    return s, e.add(e.sub(a, e.sub(s, bb)), e.sub(b, bb))


def _pow_log(e: _Emitter, x: Value, double_double: bool) -> tuple[Value, Value | None]:
    """log x for x >= 0 (f64): (hi, lo) with |hi + lo - log x| <= ~2^-64 |log x| when
    ``double_double``, else (value, None) to ~2^-45. x = 2^k * m, m in [sqrt(1/2), sqrt(2)),
    s = (m - 1)/(m + 1) (m - 1 is exact; m + 1 and the quotient are kept to 106 bits for
    double-double), log x = k*ln2 + 2s + (2/3)s^3 + s^5 * P(s^2). +0 gives -inf, +inf and
    NaN themselves."""
    tiny = e.cmp("olt", x, e.const(2.0 ** -1022))
    xs = e.select(tiny, e.mul(x, e.const(2.0 ** 64)), x)
    ix = e.bits(xs)
    k = e.emit(arith.ShRSIOp(e.emit(arith.SubiOp(ix, e.int(D.LOG_OFF["f64"]))), e.int(52)))
    m = e.from_bits(e.emit(arith.SubiOp(ix, e.emit(arith.ShLIOp(k, e.int(52))))))
    dk = e.sub(e.emit(arith.SIToFPOp(k, f64)), e.select(tiny, e.const(64.0), e.const(0.0)))
    one = e.const(1.0)
    f = e.sub(m, one)
    d = e.add(m, one)
    if not double_double:
        s = e.div(f, d)
        z = e.mul(s, s)
        inner = e.fma(z, e.poly(z, D.POW_LOG_P["f32"]), e.const(D.TWO_THIRDS_HI))
        y = e.fma(dk, e.const(D.LN2_HI), e.fma(e.mul(s, z), inner,
                                             e.fma(dk, e.const(D.LN2_LO), e.add(s, s))))
        return _pow_log_specials(e, x, y), None
    d_lo = e.sub(m, e.sub(d, one))                      # m + 1 = d + d_lo (Fast2Sum)
    inv = e.div(one, d)
    q = e.mul(f, inv)                                   # s = q + ql
    minus_q = e.emit(arith.NegfOp(q))
    rem = e.fma(minus_q, d, f)
    rem = e.fma(minus_q, d_lo, rem)
    ql = e.mul(rem, inv)
    z = e.mul(q, q)                                     # s^2 = z + zl
    zl = e.fma(e.add(q, q), ql, e.fma(q, q, e.emit(arith.NegfOp(z))))
    s3 = e.mul(z, q)                                    # s^3 = s3 + s3l
    s3l = e.add(e.fma(z, q, e.emit(arith.NegfOp(s3))), e.fma(z, ql, e.mul(zl, q)))
    t3 = e.mul(s3, e.const(D.TWO_THIRDS_HI))            # (2/3)s^3 = t3 + t3l
    t3l = e.add(e.fma(s3, e.const(D.TWO_THIRDS_HI), e.emit(arith.NegfOp(t3))),
                e.fma(s3, e.const(D.TWO_THIRDS_LO), e.mul(s3l, e.const(D.TWO_THIRDS_HI))))
    # s^5 with the low halves: q alone may be 2 ulp off s, 10 ulp in s^5
    s5 = e.fma(s3, z, e.fma(s3l, z, e.mul(s3, zl)))
    t5 = e.mul(s5, e.poly(z, D.POW_LOG_P["f64"]))
    h1, l1 = _two_sum(e, e.mul(dk, e.const(D.LN2_HI)), e.add(q, q))   # both exact
    h2, l2 = _two_sum(e, h1, t3)
    small = e.add(t5, e.fma(dk, e.const(D.LN2_LO), e.add(ql, ql)))
    lo = e.add(e.add(l1, l2), e.add(t3l, small))
    hi = e.add(h2, lo)
    lo = e.sub(lo, e.sub(hi, h2))
    hi = _pow_log_specials(e, x, hi)
    return hi, e.select(e.cmp("one", e.abs(hi), e.const(float("inf"))), lo, e.const(0.0))


def _pow_log_specials(e: _Emitter, x: Value, y: Value) -> Value:
    y = e.select(e.cmp("oeq", x, e.const(float("inf"))), x, y)
    y = e.select(e.cmp("oeq", x, e.const(0.0)), e.const(float("-inf")), y)
    return _nan_passthrough(e, x, y)


def _pow_f64(e: _Emitter, x: Value, y: Value) -> Value:
    """exp(y * log|x|) with log|x| and the product in double-double, the low half added to
    exp's reduced argument: about 1 ulp (docs/vector-math.md)."""
    hi, lo = _pow_log(e, e.abs(x), double_double=True)
    t = e.mul(y, hi)
    t_lo = e.fma(y, lo, e.fma(y, hi, e.emit(arith.NegfOp(t))))
    # infinite or huge t: exp gives 0 or inf anyway, and the tail may be NaN (inf - inf)
    t_lo = e.select(e.cmp("olt", e.abs(t), e.const(2048.0)), t_lo, e.const(0.0))
    return _pow_specials(e, x, y, _exp(e, t, t_lo))


def _pow_f32(e: _Emitter, x: Value, y: Value) -> Value:
    """exp(y * log|x|) in f64 (log to ~2^-50, exp with f32's Q: ~2^-32 relative), rounded
    once."""
    w = e.wide()
    yw = w.extend(y)
    log_x, _ = _pow_log(w, w.abs(w.extend(x)), double_double=False)
    return _pow_specials(e, x, y, w.narrow(_exp(w, w.mul(yw, log_x), q=D.EXPM1_Q["f32"])))


def _pow_specials(e: _Emitter, x: Value, y: Value, mag: Value) -> Value:
    """C99/NumPy's special cases of pow(x, y) given mag = |x|^y by select: the sign for
    x < 0 and odd y, NaN for finite x < 0 and non-integer y, 1 for y = 0, x = 1 and |x| = 1
    with y = +-inf."""
    floor_y = e.floor(y)
    y_odd = e.emit(arith.AndIOp(e.cmp("oeq", floor_y, y), e.cmp(
        "une", e.mul(e.floor(e.mul(y, e.const(0.5))), e.const(2.0)), y)))
    x_neg = e.emit(arith.CmpiOp(e.bits(x), e.int(0), "slt"))
    r = e.select(e.emit(arith.AndIOp(x_neg, y_odd)), e.emit(arith.NegfOp(mag)), mag)
    finite_neg = e.emit(arith.AndIOp(e.cmp("olt", x, e.const(0.0)),
                                     e.cmp("ogt", x, e.const(float("-inf")))))
    r = e.select(e.emit(arith.AndIOp(finite_neg, e.cmp("une", floor_y, y))),
                 e.const(float("nan")), r)
    one = e.const(1.0)
    unit_inf = e.emit(arith.AndIOp(e.cmp("oeq", e.abs(x), one),
                                   e.cmp("oeq", e.abs(y), e.const(float("inf")))))
    r = e.select(unit_inf, one, r)
    trivial = e.emit(arith.OrIOp(e.cmp("oeq", y, e.const(0.0)), e.cmp("oeq", x, one)))
    return e.select(trivial, one, r)


def _log_base(ln_inverse: tuple[float, float]) -> Kernel:
    """log2 or log10: log x times 1/ln(base), rounded once. f64: the double-double log
    times the double-double constant (hi*C_hi + (hi*C_lo + lo*C_hi), the product's
    rounding inside the fma); f32: widened, the single-double log. Exact at powers of the
    base; -0 gives -inf, negatives NaN."""
    hi_c, lo_c = ln_inverse

    def kernel(e: _Emitter, x: Value) -> Value:
        w = e.wide()
        v = x if e.kind == "f64" else w.extend(x)
        hi, lo = _pow_log(w, v, double_double=e.kind == "f64")
        if lo is None:
            y = w.mul(hi, w.const(hi_c))
        else:
            y = w.fma(hi, w.const(hi_c), w.fma(hi, w.const(lo_c), w.mul(lo, w.const(hi_c))))
        y = w.select(w.cmp("olt", v, w.const(0.0)), w.const(float("nan")), y)
        return y if e.kind == "f64" else w.narrow(y)
    return kernel


def _exp2(e: _Emitter, x: Value) -> Value:
    """f64: e^(x ln2) with x*ln2 in double-double, its low half added to exp's reduced
    argument (exact at integers). f32, in f32: 2^n * (1 + r*P(r)) with n = round(x) and
    r = x - n exact (``D.EXP2_P_F32``)."""
    if e.kind == "f32":
        c = e.clamp(x, -152.0, 129.0)  # 0 and +inf beyond
        n = e.emit(math.RoundEvenOp(c))
        r = e.sub(c, n)
        y = e.fma(r, e.poly(r, D.EXP2_P_F32), e.const(1.0))
        return _nan_passthrough(e, x, _scale2n(e, y, e.to_int(n)))
    w = e.wide()
    v = x if e.kind == "f64" else w.extend(x)
    hi_c, lo_c = D.LN2_DD
    t = w.mul(v, w.const(hi_c))
    t_lo = w.fma(v, w.const(lo_c), w.fma(v, w.const(hi_c), w.emit(arith.NegfOp(t))))
    t_lo = w.select(w.cmp("olt", w.abs(t), w.const(2048.0)), t_lo, w.const(0.0))
    if e.kind == "f64":
        return _exp(w, t, t_lo)
    return w.narrow(_exp(w, t, t_lo, q=D.EXPM1_Q["f32"]))


def _expm1(e: _Emitter, x: Value) -> Value:
    """e^x - 1 = 2^n (1 + p) - 1 with x = n ln2 + r and p = e^r - 1 (exp's reduction):
    fma(2^n, p, 2^n - 1), which keeps p's relative accuracy near 0; once the -1 is below the
    last bit (n > 60, f32: n > 24), 2^(n-1) (2 + 2p) - 1, which cannot overflow before the
    result does. f32 computes in f32 with f32's Q."""
    lo, hi = (D.EXPM1_LO, D.EXPM1_HI) if e.kind == "f64" else D.EXPM1_RANGE_F32
    n, p = _expm1_parts(e, e.clamp(x, lo, hi))
    near_n = e.emit(arith.CmpiOp(n, e.int(60 if e.kind == "f64" else 24), "sle"))
    scale = e.pow2(e.emit(arith.SelectOp(near_n, n, e.emit(arith.SubiOp(n, e.int(1))))))
    near = e.fma(scale, p, e.sub(scale, e.const(1.0)))
    far = e.fma(scale, e.add(e.add(p, p), e.const(2.0)), e.const(-1.0))
    y = e.select(near_n, near, far)
    y = e.select(e.cmp("ogt", x, e.const(hi)), e.const(float("inf")), y)
    y = e.select(e.cmp("oeq", x, e.const(0.0)), x, y)  # expm1(-0) = -0
    return _nan_passthrough(e, x, y)


def _log1p(e: _Emitter, x: Value) -> Value:
    """log(u) + (x - (u - 1)) / u with u = 1 + x rounded: the quotient is what rounding u
    lost (to first order), added to the low half of the double-double log (f64), or to the
    small terms of the f32 log (f32, in f32). -0 stays -0; x = -1 gives -inf, x < -1 NaN."""
    one = e.const(1.0)
    u = e.add(one, x)
    lost = e.div(e.sub(x, e.sub(u, one)), u)
    # u = 0 or inf: nothing was lost that matters (and the quotient is NaN)
    finite = e.emit(arith.AndIOp(e.cmp("one", e.abs(u), e.const(float("inf"))),
                                 e.cmp("one", u, e.const(0.0))))
    lost = e.select(finite, lost, e.const(0.0))
    if e.kind == "f32":
        dk, f = _log_reduce(e, u)
        small = e.fma(dk, e.const(D.LN2_LO_F32), e.add(_log1p_rest_f32(e, f), lost))
        y = _log_specials(e, u, e.fma(dk, e.const(D.LN2_HI_F32), e.add(f, small)))
    else:
        hi, lo = _pow_log(e, u, double_double=True)
        y = e.add(hi, e.add(lo, lost))
    y = e.select(e.cmp("oeq", x, e.const(0.0)), x, y)  # log1p(-0) = -0
    return e.select(e.cmp("olt", u, e.const(0.0)), e.const(float("nan")), y)


def _erf(e: _Emitter, x: Value) -> Value:
    """fdlibm's erf (``D.ERF_P``/``ERF_Q``) without branches: the region of |x| picks, per
    lane, the variable (x^2, |x| - 1 or 1/x^2) and each coefficient of one rational
    approximation; then x + x*R, ERX + R, or 1 - exp(-z^2 - 0.5625 + (z - |x|)(z + |x|) + R)/|x|
    with z = |x| cut to 21 significant bits (so -z^2 - 0.5625 is exact), and 1 from 6 on;
    the sign of x is copied back. f32 in f64."""
    w = e.wide()
    v = x if e.kind == "f64" else w.extend(x)
    a = w.abs(v)
    b1, b2, b3, b4 = (w.cmp("olt", a, w.const(bound)) for bound in D.ERF_BOUNDS)
    inv = w.div(w.const(1.0), a)  # one division for 1/x^2 and for erfc's / |x|
    var = w.select(b1, w.mul(a, a), w.select(b2, w.sub(a, w.const(1.0)), w.mul(inv, inv)))

    def rational_coeff(table: list[list[float]], k: int) -> Value:
        c = [w.const(row[k]) for row in table]
        return w.select(b1, c[0], w.select(b2, c[1], w.select(b3, c[2], c[3])))

    def poly(table):
        acc = rational_coeff(table, len(table[0]) - 1)
        for k in range(len(table[0]) - 2, -1, -1):
            acc = w.fma(acc, var, rational_coeff(table, k))
        return acc

    r = w.div(poly(D.ERF_P), poly(D.ERF_Q))
    small = w.fma(a, r, a)
    middle = w.add(w.const(D.ERX), r)
    z = w.from_bits(w.emit(arith.AndIOp(w.bits(a), w.int(0xFFFFFFFF00000000))))
    # -z^2 - 0.5625 is exact; R (up to 0.7) goes into exp's argument by TwoSum, so that
    # only the rounding of that sum and (z - |x|)(z + |x|) (< 2^-13) ride in the tail
    t, t_err = _two_sum(w, w.sub(w.mul(w.emit(arith.NegfOp(z)), z), w.const(0.5625)), r)
    tail = w.fma(w.sub(z, a), w.add(z, a), t_err)
    large = w.sub(w.const(1.0), w.mul(_exp(w, t, tail), inv))
    y = w.select(b1, small, w.select(b2, middle, w.select(b4, large, w.const(1.0))))
    y = _nan_passthrough(w, v, w.emit(math.CopySignOp(y, v)))
    return y if e.kind == "f64" else w.narrow(y)


def _atan_abs(w: _Emitter, a: Value) -> Value:
    """atan a for a = |x| >= 0 (or NaN) by fdlibm's reduction (``D.ATAN_BOUNDS``) without
    branches: the region selects the numerator and denominator of t (one division) and the
    base angle as a sum of two; atan a = base_hi - ((t*z*A(z) - base_lo) - t). f64, or f32
    with fdlibm's f32 tables (``s_atanf.c``)."""
    hi_table, lo_table, coeffs = ((D.ATAN_HI, D.ATAN_LO, D.ATAN_A) if w.kind == "f64"
                                  else (D.ATAN_HI_F32, D.ATAN_LO_F32, D.ATAN_A_F32))
    regions = [w.cmp("olt", a, w.const(b)) for b in D.ATAN_BOUNDS]
    one = w.const(1.0)

    def pick(values: list[Value]) -> Value:  # the value of a's region, the last beyond
        v = values[-1]
        for cond, value in reversed(list(zip(regions, values[:-1]))):
            v = w.select(cond, value, v)
        return v

    num = pick([a, w.sub(w.add(a, a), one), w.sub(a, one), w.sub(a, w.const(1.5)),
                w.const(-1.0)])
    den = pick([one, w.add(a, w.const(2.0)), w.add(a, one), w.fma(a, w.const(1.5), one), a])
    t = w.div(num, den)
    z = w.mul(t, t)
    s = w.mul(z, w.poly(z, coeffs))
    base_hi = pick([w.const(c) for c in hi_table])
    base_lo = pick([w.const(c) for c in lo_table])
    return w.sub(base_hi, w.sub(w.fma(t, s, w.emit(arith.NegfOp(base_lo))), t))


def _atan(e: _Emitter, x: Value) -> Value:
    """copysign(atan |x|, x), in x's type."""
    return e.emit(math.CopySignOp(_atan_abs(e, e.abs(x)), x))


def _atan2(e: _Emitter, y: Value, x: Value) -> Value:
    """atan2(y, x) = copysign(z or pi - z, y) with z = atan(|y| / |x|), pi - z for x with
    its sign bit set; |y| = |x| = 0 gives z = 0 and both infinite z = pi/4 (C99's special
    cases), NaN stays NaN. In the operands' type."""
    w, yv, xv = e, y, x
    ay, ax = w.abs(yv), w.abs(xv)
    z = _atan_abs(w, w.div(ay, ax))
    inf = w.const(float("inf"))
    zero = w.const(0.0)
    both = lambda pred, c: w.emit(arith.AndIOp(w.cmp(pred, ay, c), w.cmp(pred, ax, c)))
    z = w.select(both("oeq", zero), zero, z)
    z = w.select(both("oeq", inf), w.const(math_pi / 4), z)
    x_neg = w.emit(arith.CmpiOp(w.bits(xv), w.int(0), "slt"))
    pi_hi, pi_lo = D.PI_DD if e.kind == "f64" else D.PI_F32
    r = w.select(x_neg, w.sub(w.const(pi_hi), w.sub(z, w.const(pi_lo))), z)
    return w.emit(math.CopySignOp(r, yv))


def _asin(e: _Emitter, x: Value) -> Value:
    """atan(x / sqrt(1 - x^2)) with 1 - x^2 rounded once (``fma``); |x| > 1 gives NaN.
    f32 through f64."""
    w = e.wide()
    v = x if e.kind == "f64" else w.extend(x)
    a = w.abs(v)
    root = w.emit(math.SqrtOp(w.fma(w.emit(arith.NegfOp(a)), a, w.const(1.0))))
    y = w.emit(math.CopySignOp(_atan_abs(w, w.div(a, root)), v))
    y = w.select(w.cmp("ogt", a, w.const(1.0)), w.const(float("nan")), y)
    return y if e.kind == "f64" else w.narrow(y)


def _acos(e: _Emitter, x: Value) -> Value:
    """2 atan(sqrt((1 - x)/(1 + x))): no cancellation near 1 or -1; |x| > 1 gives NaN.
    f32 through f64."""
    w = e.wide()
    v = x if e.kind == "f64" else w.extend(x)
    one = w.const(1.0)
    ratio = w.div(w.sub(one, v), w.add(one, v))
    y = _atan_abs(w, w.emit(math.SqrtOp(ratio)))
    y = w.select(w.cmp("ogt", w.abs(v), one), w.const(float("nan")), w.add(y, y))
    return y if e.kind == "f64" else w.narrow(y)


def _half_exp(w: _Emitter, a: Value) -> Value:
    """e^a / 2 = e^(a - ln2) with a - ln2 as a double-double (TwoSum of a and -ln2_hi, the
    rest and -ln2_lo in exp's tail): finite where e^a / 2 is, up to a = 710.47. f64."""
    hi_c, lo_c = D.LN2_DD
    t, err = _two_sum(w, a, w.const(-hi_c))
    tail = w.sub(err, w.const(lo_c))
    tail = w.select(w.cmp("olt", w.abs(t), w.const(2048.0)), tail, w.const(0.0))
    return _exp(w, t, tail)


def _cosh(e: _Emitter, x: Value) -> Value:
    """h + 1/(4h) with h = e^|x| / 2 (``_half_exp``); f32 through f64."""
    w = e.wide()
    v = x if e.kind == "f64" else w.extend(x)
    h = _half_exp(w, w.abs(v))
    y = w.add(h, w.div(w.const(0.25), h))
    return y if e.kind == "f64" else w.narrow(y)


def _sinh(e: _Emitter, x: Value) -> Value:
    """copysign of (t + t/(t + 1))/2 with t = expm1|x| (no cancellation near 0) below 22,
    e^|x| / 2 from there (``_half_exp``, finite up to 710.47); f32 through f64."""
    w = e.wide()
    v = x if e.kind == "f64" else w.extend(x)
    a = w.abs(v)
    below = w.cmp("olt", a, w.const(D.SINH_EXPM1_BELOW))
    t = _expm1(w, w.select(below, a, w.const(0.0)))
    near = w.mul(w.const(0.5), w.add(t, w.div(t, w.add(t, w.const(1.0)))))
    y = w.select(below, near, _half_exp(w, a))
    y = _nan_passthrough(w, v, w.emit(math.CopySignOp(y, v)))
    return y if e.kind == "f64" else w.narrow(y)


def _tan(e: _Emitter, x: Value) -> Value:
    """sin r / cos r, or -cos r / sin r for odd k, with sin/cos's f64 reduction and kernels
    (f32 widened); tan(-0) = -0; NaN beyond ``D.TAN_BOUND`` (as sin/cos)."""
    w = e.wide()
    v = x if e.kind == "f64" else w.extend(x)
    sin_r, cos_r, k_mod4 = _sin_cos_f64(w, v)
    odd = w.emit(arith.CmpiOp(w.emit(arith.AndIOp(k_mod4, w.int(1))), w.int(0), "ne"))
    y = w.div(w.select(odd, w.emit(arith.NegfOp(cos_r)), sin_r), w.select(odd, sin_r, cos_r))
    y = w.select(w.cmp("oeq", v, w.const(0.0)), v, y)
    y = w.select(w.cmp("ugt", w.abs(v), w.const(D.TAN_BOUND["f64"])), w.const(float("nan")), y)
    return y if e.kind == "f64" else w.narrow(y)


def _inverse_hyperbolic(kind: str) -> Kernel:
    """asinh, acosh, atanh through log1p (``_log1p``, f64; f32 widened): for |x| (or x - 1)
    below 2^28, asinh = log1p(a + a^2/(1 + sqrt(1 + a^2))), acosh = log1p(t + sqrt(t(t + 2)))
    with t = x - 1, beyond it log1p(|x| - 1) + ln 2 (= log 2|x| to the last bit); atanh =
    log1p(2a/(1 - a))/2. The sign of x is copied back (asinh, atanh); acosh of x < 1 and
    atanh of |x| > 1 are NaN (log1p's, of an argument below -1)."""
    def kernel(e: _Emitter, x: Value) -> Value:
        w = e.wide()
        v = x if e.kind == "f64" else w.extend(x)
        one = w.const(1.0)
        if kind == "atanh":
            a = w.abs(v)
            y = w.mul(w.const(0.5), _log1p(w, w.div(w.add(a, a), w.sub(one, a))))
            y = w.emit(math.CopySignOp(y, v))
        else:
            a = w.abs(v) if kind == "asinh" else w.sub(v, one)
            big = w.cmp("ogt", a, w.const(2.0 ** 28))
            if kind == "asinh":
                a2 = w.mul(a, a)
                near = w.add(a, w.div(a2, w.add(one, w.emit(math.SqrtOp(w.add(one, a2))))))
            else:
                near = w.add(a, w.emit(math.SqrtOp(w.mul(a, w.add(a, w.const(2.0))))))
            # log1p(|x| - 1) = log|x| (log1p(|x|) would be 1/|x| too large)
            arg = w.select(big, w.sub(w.abs(v), one), near)
            y = w.add(_log1p(w, arg), w.select(big, w.const(D.LN2_DD[0]), w.const(0.0)))
            if kind == "asinh":
                y = w.emit(math.CopySignOp(y, v))
            else:
                y = w.select(w.cmp("olt", v, one), w.const(float("nan")), y)
        y = _nan_passthrough(w, v, y)
        return y if e.kind == "f64" else w.narrow(y)
    return kernel


def _constant_integer(v: Value) -> int | None:
    """The value of ``v`` if it is an integral constant (or ``sitofp``/``extf``/``truncf`` of
    one, as the frontend casts Python numbers)."""
    op = v.owner
    if isinstance(op, (arith.SIToFPOp, arith.ExtFOp, arith.TruncFOp)):
        op = op.input.owner
    if not isinstance(op, arith.ConstantOp) or not isinstance(op.value, (FloatAttr, IntegerAttr)):
        return None
    value = op.value.value.data
    return int(value) if float(value).is_integer() and abs(value) < 2 ** 31 else None


def _pow(e: _Emitter, x: Value, y: Value) -> Value | None:
    """Products for small constant integer exponents, else exp(y * log|x|)."""
    n = _constant_integer(y)
    if n is not None and (-D.POW_INT_MAX if e.kind == "f32" else -1) <= n <= D.POW_INT_MAX:
        return _pow_int(e, x, n)
    return _pow_f32(e, x, y) if e.kind == "f32" else _pow_f64(e, x, y)


Kernel = Callable[..., Value | None]

#: math op -> kernel: (emitter of the op's type, operands...) -> result, or None to keep it.
KERNELS: dict[type[Operation], Kernel] = {
    math.ExpOp: _exp,
    math.LogOp: _log,
    math.TanhOp: _tanh,
    math.SinOp: lambda e, x: _sincos(e, x, 0),
    math.CosOp: lambda e, x: _sincos(e, x, 1),
    math.PowFOp: _pow,
    math.Log2Op: lambda e, x: (_log2_f32 if e.kind == "f32" else _log_base(D.LOG2E_DD))(e, x),
    math.Log10Op: _log_base(D.LOG10E_DD),
    math.Exp2Op: _exp2,
    math.ExpM1Op: _expm1,
    math.Log1pOp: _log1p,
    math.ErfOp: _erf,
    math.AtanOp: _atan,
    math.Atan2Op: _atan2,
    math.AsinOp: _asin,
    math.AcosOp: _acos,
    math.SinhOp: _sinh,
    math.CoshOp: _cosh,
    math.TanOp: _tan,
    math.AsinhOp: _inverse_hyperbolic("asinh"),
    math.AcoshOp: _inverse_hyperbolic("acosh"),
    math.AtanhOp: _inverse_hyperbolic("atanh"),
}

#: Ops whose expansion is inaccurate for |x| > bound; strict mode selects the original there.
_STRICT_BOUND: dict[type[Operation], dict[str, float]] = {
    math.SinOp: D.TRIG_BOUND, math.CosOp: D.TRIG_BOUND, math.TanOp: D.TAN_BOUND}


@dataclass
class ExpandMath(RewritePattern):
    """Replace one ``math`` op of ``KERNELS`` on an f32/f64 scalar by its kernel."""

    strict: bool = False
    ldexp: bool = False

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        kernel = KERNELS.get(type(op))
        if kernel is None or not isinstance(op.results[0].type, (Float32Type, Float64Type)):
            return
        e = _Emitter(op.results[0].type, ldexp=self.ldexp)
        y = kernel(e, *op.operands)
        if y is None:
            return
        bound = _STRICT_BOUND.get(type(op))
        if self.strict and bound is not None:
            x = op.operands[0]
            exact = e.emit(type(op)(x))
            big = e.cmp("ugt", e.abs(x), e.const(bound[e.kind]))
            y = e.select(big, exact, y)
        rewriter.replace(op, e.ops, [y])


@dataclass(frozen=True)
class ExpandMathPass(ModulePass):
    """Expand exp/log/tanh/sin/cos/powf into vectorisable arith (see the module docstring)."""

    name = "expand-math"

    strict: bool = False
    #: scale exp's result with ``llvm.ldexp`` (the pipeline sets it on AVX-512 hosts, where
    #: it is one ``vscalefps``; elsewhere LLVM may call libm's ``ldexp`` per element)
    ldexp: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(ExpandMath(self.strict, self.ldexp),
                             apply_recursively=False).rewrite_module(op)
