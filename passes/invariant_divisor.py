"""``invariant-divisor``: an f32 division inside a loop whose divisor is defined outside
that loop becomes a multiplication by the divisor's reciprocal, computed once, in f64::

    %s = ...                                    %s = ...
    loop.parallel (%j) = ... {                  %s64 = arith.extf %s : f32 to f64
      %x = memref.load %e[%j]          ->       %r = arith.divf %one, %s64 : f64
      %q = arith.divf %x, %s : f32              loop.parallel (%j) = ... {
      ...                                         %x = memref.load %e[%j]
                                                  %x64 = arith.extf %x : f32 to f64
                                                  %p = arith.mulf %x64, %r : f64
                                                  %q = arith.truncf %p : f64 to f32

The result is bit for bit the IEEE quotient ``x / s`` rounded to f32, for every input:

* ``r = RN64(1/s)`` and ``p = RN64(x * r)`` are each within half an f64 ulp, so ``p`` is
  within ``2^-52`` (relative) of the exact ``x/s`` and never over- or underflows in f64.
* Rounding ``p`` to f32 gives ``RN32(x/s)`` unless an f32 rounding boundary (a midpoint
  between neighbouring f32 values, or the overflow threshold) lies between ``p`` and
  ``x/s``. A midpoint ``m`` has a 25-bit significand; ``x - m*s`` is a nonzero multiple of
  the last place of ``m*s``, whose significand has at most 49 bits, so ``|x/s - m|`` is at
  least ``2^-49 |x/s|``, far more than ``p``'s error. (The same argument with fewer bits
  covers subnormal results.)
* Zeros, infinities and NaNs come out as IEEE division gives them: ``1/±0 = ±inf``,
  ``1/±inf = ±0``, and ``x * r`` then produces the right signed zero, infinity or NaN.

``tests/test_invariant_divisor.py`` checks this against NumPy's ``x / s`` on random bit
patterns, specials and subnormals. Why: a vector ``divps`` costs about ten cycles per
vector on current x86 cores, the conversions and the multiply about three; softmax's
normalisation divides every element of a row by the row's sum. f64 division has no wider
type to borrow and is left alone, as is a division whose divisor changes inside the loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, scf
from xdsl.dialects.builtin import Float32Type, FloatAttr, ModuleOp, f64
from xdsl.ir import Block, BlockArgument, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from ember.dialects.loop import ForOp, ParallelOp

LOOPS = (ParallelOp, ForOp, scf.ForOp, scf.WhileOp, scf.ParallelOp)


def _defined_inside(value: SSAValue, op: Operation) -> bool:
    owner = value.block.parent_op() if isinstance(value, BlockArgument) else value.owner
    return owner is not None and (owner is op or op.is_ancestor(owner))


def _invariant_in_loop(div: arith.DivfOp) -> bool:
    """Whether a loop encloses ``div`` but not the definition of its divisor."""
    divisor = div.rhs
    op = div.parent_op()
    while op is not None and not _defined_inside(divisor, op):
        if isinstance(op, LOOPS):
            return True
        op = op.parent_op()
    return False


def _reciprocal(divisor: SSAValue) -> SSAValue:
    """``1 / f64(divisor)``, inserted right after the divisor's definition."""
    one = arith.ConstantOp(FloatAttr(1.0, f64))
    wide = arith.ExtFOp(divisor, f64)
    recip = arith.DivfOp(one, wide)
    if isinstance(divisor, BlockArgument):
        block: Block = divisor.block
        point = InsertPoint.at_start(block)
    else:
        point = InsertPoint.after(divisor.owner)
    Rewriter.insert_op([one, wide, recip], point)
    return recip.result


@dataclass(frozen=True)
class InvariantDivisorPass(ModulePass):
    """f32 division by a loop-invariant divisor -> multiplication by its f64 reciprocal
    (bit-exact; see the module docstring)."""

    name = "invariant-divisor"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        divisions = [d for d in op.walk() if isinstance(d, arith.DivfOp)
                     and isinstance(d.result.type, Float32Type) and _invariant_in_loop(d)]
        reciprocals: dict[SSAValue, SSAValue] = {}
        for div in divisions:
            if div.rhs not in reciprocals:
                reciprocals[div.rhs] = _reciprocal(div.rhs)
            wide = arith.ExtFOp(div.lhs, f64)
            product = arith.MulfOp(wide, reciprocals[div.rhs])
            narrow = arith.TruncFOp(product, div.result.type)
            Rewriter.replace_op(div, [wide, product, narrow])
