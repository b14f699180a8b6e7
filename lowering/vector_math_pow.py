"""``expand-math``'s kernels on a double-double log and exp: pow (general, and constant
integer exponents as products), log2, log10, exp2, expm1 and log1p. f32 computes in f64 and
rounds once, except log2, exp2, expm1 and log1p, which have f32 methods of their own. See
docs/vector-math.md.
"""

from __future__ import annotations

from xdsl.dialects import arith, math
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, f64

from ember.lowering import vector_math_data as D
from ember.lowering.vector_math_elementary import (Kernel, Value, _Emitter, _exp, _expm1_parts,
                                                   _log1p_rest_f32, _log_reduce, _log_specials,
                                                   _nan_passthrough, _scale2n, _two_sum)


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
    hi_c, lo_c = D.LN2_DD
    t = e.mul(x, e.const(hi_c))
    t_lo = e.fma(x, e.const(lo_c), e.fma(x, e.const(hi_c), e.emit(arith.NegfOp(t))))
    t_lo = e.select(e.cmp("olt", e.abs(t), e.const(2048.0)), t_lo, e.const(0.0))
    return _exp(e, t, t_lo)


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
