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

The kernels live by family: ``vector_math_elementary`` (the emitter; exp, log, tanh, sin,
cos), ``vector_math_pow`` (pow, log2, log10, exp2, expm1, log1p) and ``vector_math_special``
(erf, the inverse trigonometric and the hyperbolic functions, tan); their constants in
``vector_math_data``. This module registers them (``KERNELS``) and holds the pass.

``ExpandMathPass(strict=True)`` (``-p 'expand-math{strict=true}'``) keeps the original op as
a fallback, chosen by ``select``, where the expansion is inaccurate (sin/cos beyond
|x| > 2^50 for f32, 2^47 for f64, where the default gives NaN): exact everywhere, but the
libm call then runs for every element.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import math
from xdsl.dialects.builtin import Float32Type, Float64Type, ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from ember.lowering import vector_math_data as D
from ember.lowering.vector_math_elementary import Kernel, _Emitter, _exp, _log, _sincos, _tanh
from ember.lowering.vector_math_pow import _exp2, _expm1, _log1p, _log2_f32, _log_base, _pow
from ember.lowering.vector_math_special import (_acos, _asin, _atan, _atan2, _cosh, _erf,
                                                _inverse_hyperbolic, _sinh, _tan)


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
