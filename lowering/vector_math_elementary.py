"""The emitter of ``expand-math``'s kernels, and its elementary kernels: exp, log, tanh,
sin and cos, with the pieces the other kernels build on (exp's reduction and scaling, log's
reduction, sin/cos's reduction, TwoSum).

A kernel takes an ``_Emitter`` of the op's float type and the op's operands and returns the
result: straight-line ``arith`` and ``math.fma``/``roundeven``/``floor``/``absf``/
``copysign``, special values patched with ``arith.select``. ``ember.lowering.vector_math``
registers the kernels and holds the pass; docs/vector-math.md has the methods and errors.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.dialects import arith, math
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, f32, f64, i32, i64
from xdsl.ir import Attribute, Operation, SSAValue

from ember.dialects import llvmx
from ember.lowering import vector_math_data as D

Value = SSAValue
#: (emitter of the op's type, operands...) -> the result, or None to keep the op
Kernel = Callable[..., Value | None]


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


def _through_f64(f64_kernel: Callable[..., Value]) -> Kernel:
    """A kernel for both types from an f64 one, ``f64_kernel(w, *operands)``: f32 operands
    are widened, the f64 result rounded once to f32 (for functions whose f32 methods would
    lose more than the rounding)."""
    def kernel(e: _Emitter, *xs: Value) -> Value:
        if e.kind == "f64":
            return f64_kernel(e, *xs)
        w = e.wide()
        return w.narrow(f64_kernel(w, *(w.extend(x) for x in xs)))
    return kernel


def _two_sum(e: _Emitter, a: Value, b: Value) -> tuple[Value, Value]:
    """a + b = s + err exactly (Knuth's TwoSum, any magnitudes)."""
    s = e.add(a, b)
    bb = e.sub(s, a)
    return s, e.add(e.sub(a, e.sub(s, bb)), e.sub(b, bb))


def _nan_passthrough(e: _Emitter, x: Value, result: Value) -> Value:
    """NaN inputs return themselves (and lanes whose integer path was poison are dropped)."""
    return e.select(e.cmp("uno", x, x), x, result)


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


def _log1p_rest_f32(e: _Emitter, f: Value) -> Value:
    """log(1 + f) - f = f^2*(-1/2 + f*P(f)) for f in [sqrt(1/2) - 1, sqrt(2) - 1], in f32."""
    return e.mul(e.mul(f, f), e.fma(f, e.poly(f, D.LOG1P_P_F32), e.const(-0.5)))


def _log_specials(e: _Emitter, x: Value, y: Value) -> Value:
    """log(+inf) = +inf, log(+-0) = -inf, log of a negative number or NaN is NaN."""
    y = e.select(e.cmp("oeq", x, e.const(float("inf"))), x, y)
    y = e.select(e.cmp("oeq", x, e.const(0.0)), e.const(float("-inf")), y)
    return e.select(e.cmp("ult", x, e.const(0.0)), e.const(float("nan")), y)


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
