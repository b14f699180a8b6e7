"""``expand-math``'s kernels for the special and inverse functions: erf, atan, atan2, asin,
acos, sinh, cosh, tan, asinh, acosh and atanh, without branches (fdlibm's methods where it
has one). f32 computes in f64 and rounds once, except atan and atan2, which use fdlibm's f32
tables. See docs/vector-math.md.
"""

from __future__ import annotations

from math import pi as math_pi

from xdsl.dialects import arith, math

from ember.lowering import vector_math_data as D
from ember.lowering.vector_math_elementary import (Kernel, Value, _Emitter, _exp, _nan_passthrough,
                                                   _sin_cos_f64, _through_f64, _two_sum)
from ember.lowering.vector_math_pow import _expm1, _log1p


@_through_f64
def _erf(w: _Emitter, v: Value) -> Value:
    """fdlibm's erf (``D.ERF_P``/``ERF_Q``) without branches: the region of |x| picks, per
    lane, the variable (x^2, |x| - 1 or 1/x^2) and each coefficient of one rational
    approximation; then x + x*R, ERX + R, or 1 - exp(-z^2 - 0.5625 + (z - |x|)(z + |x|) + R)/|x|
    with z = |x| cut to 21 significant bits (so -z^2 - 0.5625 is exact), and 1 from 6 on;
    the sign of x is copied back. f32 in f64."""
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
    return y


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


@_through_f64
def _asin(w: _Emitter, v: Value) -> Value:
    """atan(x / sqrt(1 - x^2)) with 1 - x^2 rounded once (``fma``); |x| > 1 gives NaN.
    f32 through f64."""
    a = w.abs(v)
    root = w.emit(math.SqrtOp(w.fma(w.emit(arith.NegfOp(a)), a, w.const(1.0))))
    y = w.emit(math.CopySignOp(_atan_abs(w, w.div(a, root)), v))
    y = w.select(w.cmp("ogt", a, w.const(1.0)), w.const(float("nan")), y)
    return y


@_through_f64
def _acos(w: _Emitter, v: Value) -> Value:
    """2 atan(sqrt((1 - x)/(1 + x))): no cancellation near 1 or -1; |x| > 1 gives NaN.
    f32 through f64."""
    one = w.const(1.0)
    ratio = w.div(w.sub(one, v), w.add(one, v))
    y = _atan_abs(w, w.emit(math.SqrtOp(ratio)))
    y = w.select(w.cmp("ogt", w.abs(v), one), w.const(float("nan")), w.add(y, y))
    return y


def _half_exp(w: _Emitter, a: Value) -> Value:
    """e^a / 2 = e^(a - ln2) with a - ln2 as a double-double (TwoSum of a and -ln2_hi, the
    rest and -ln2_lo in exp's tail): finite where e^a / 2 is, up to a = 710.47. f64."""
    hi_c, lo_c = D.LN2_DD
    t, err = _two_sum(w, a, w.const(-hi_c))
    tail = w.sub(err, w.const(lo_c))
    tail = w.select(w.cmp("olt", w.abs(t), w.const(2048.0)), tail, w.const(0.0))
    return _exp(w, t, tail)


@_through_f64
def _cosh(w: _Emitter, v: Value) -> Value:
    """h + 1/(4h) with h = e^|x| / 2 (``_half_exp``); f32 through f64."""
    h = _half_exp(w, w.abs(v))
    y = w.add(h, w.div(w.const(0.25), h))
    return y


@_through_f64
def _sinh(w: _Emitter, v: Value) -> Value:
    """copysign of (t + t/(t + 1))/2 with t = expm1|x| (no cancellation near 0) below 22,
    e^|x| / 2 from there (``_half_exp``, finite up to 710.47); f32 through f64."""
    a = w.abs(v)
    below = w.cmp("olt", a, w.const(D.SINH_EXPM1_BELOW))
    t = _expm1(w, w.select(below, a, w.const(0.0)))
    near = w.mul(w.const(0.5), w.add(t, w.div(t, w.add(t, w.const(1.0)))))
    y = w.select(below, near, _half_exp(w, a))
    y = _nan_passthrough(w, v, w.emit(math.CopySignOp(y, v)))
    return y


@_through_f64
def _tan(w: _Emitter, v: Value) -> Value:
    """sin r / cos r, or -cos r / sin r for odd k, with sin/cos's f64 reduction and kernels
    (f32 widened); tan(-0) = -0; NaN beyond ``D.TAN_BOUND`` (as sin/cos)."""
    sin_r, cos_r, k_mod4 = _sin_cos_f64(w, v)
    odd = w.emit(arith.CmpiOp(w.emit(arith.AndIOp(k_mod4, w.int(1))), w.int(0), "ne"))
    y = w.div(w.select(odd, w.emit(arith.NegfOp(cos_r)), sin_r), w.select(odd, sin_r, cos_r))
    y = w.select(w.cmp("oeq", v, w.const(0.0)), v, y)
    y = w.select(w.cmp("ugt", w.abs(v), w.const(D.TAN_BOUND["f64"])), w.const(float("nan")), y)
    return y


def _inverse_hyperbolic(kind: str) -> Kernel:
    """asinh, acosh, atanh through log1p (``_log1p``, f64; f32 widened): for |x| (or x - 1)
    below 2^28, asinh = log1p(a + a^2/(1 + sqrt(1 + a^2))), acosh = log1p(t + sqrt(t(t + 2)))
    with t = x - 1, beyond it log1p(|x| - 1) + ln 2 (= log 2|x| to the last bit); atanh =
    log1p(2a/(1 - a))/2. The sign of x is copied back (asinh, atanh); acosh of x < 1 and
    atanh of |x| > 1 are NaN (log1p's, of an argument below -1)."""
    @_through_f64
    def kernel(w: _Emitter, v: Value) -> Value:
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
        return _nan_passthrough(w, v, y)
    return kernel
