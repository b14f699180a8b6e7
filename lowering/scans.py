"""``tensor-to-loop``'s emitter for the etensor scans (``cumsum``, ``cumprod``): running
values in order along one axis, as NumPy's ``add.accumulate`` computes them."""

from __future__ import annotations

from xdsl.builder import Builder
from xdsl.dialects import arith, memref, scf
from xdsl.dialects.builtin import IndexType
from xdsl.ir import Block, Region, SSAValue
from xdsl.rewriter import InsertPoint

from ember.dialects import etensor as T
from ember.dialects import shapes as S
from ember.dialects.loop import ForOp, YieldOp
from ember.lowering import scalar_ops as X
from ember.lowering.tensor_ops import load, parallel, seq_loop, store


def scan(fl, op):
    """``cumsum``/``cumprod`` along ``axis``, each value from the one before, in order (the
    sums NumPy's ``add.accumulate`` makes, to the bit). Along the last axis: one
    ``loop.parallel`` over the other indices, a ``loop.for`` along the row carrying the running
    value. Along another axis: a ``loop.for`` over it (after its first index, copied) whose
    steps run the indices after it as an inner nest, ``out[.., i, :] = out[.., i - 1, :] + x[..,
    i, :]``, which LLVM vectorises."""
    src_t, t = op.input.type.element_type, op.result.type.element_type
    shape = S.shape_of(op.input.type)
    axis = op.axis_index
    src = fl.peek(op.input)
    sizes = list(src.sizes)
    out = fl.alloc(shape, sizes, t)
    zero, one = fl.index(0), fl.index(1)
    combine = {"cumsum": "add", "cumprod": "mul"}[op.KIND]
    if S.is_bool(t):  # a bool's running sum is "any so far", its product "all so far"
        combine = {"add": "or", "mul": "and"}[combine]

    def element(b: Builder, ivs) -> SSAValue:
        return X.cast(b, load(b, src, ivs, zero, shape), src_t, t)

    outer, n, inner = sizes[:axis], sizes[axis], sizes[axis + 1:]
    if not inner:
        # -0.0 + x is x for every float x (0.0 + -0.0 is +0.0); 1 * x is x
        first = -0.0 if S.is_float(t) and combine == "add" else {"add": 0, "mul": 1, "or": 0, "and": 1}[combine]

        def row(b: Builder, oivs):
            block = Block(arg_types=[IndexType(), t])
            rb = Builder(InsertPoint.at_end(block))
            i, acc = block.args
            v = X.emit_binary(rb, combine, acc, element(rb, [*oivs, i]), t)
            store(rb, v, out, [*oivs, i])
            rb.insert(YieldOp(v))
            b.insert(ForOp(zero, n, one, [X.const(b, first, t)], block))
        parallel(fl, outer, row)
        fl.bufs[op.result] = out
        return

    def lines(b: Builder, oivs):
        def step(sb: Builder, i):
            before = sb.insert(arith.SubiOp(i, one)).result
            parallel(fl, inner, lambda ib, iivs: store(ib, X.emit_binary(
                ib, combine, ib.insert(memref.LoadOp.get(out.ref, [*oivs, before, *iivs])).res,
                element(ib, [*oivs, i, *iivs]), t), out, [*oivs, i, *iivs]), sb)

        def nonempty(nb: Builder):
            parallel(fl, inner, lambda ib, iivs: store(
                ib, element(ib, [*oivs, zero, *iivs]), out, [*oivs, zero, *iivs]), nb)
            seq_loop(nb, one, n, one, step)
            nb.insert(scf.YieldOp())
        block = Block()
        nonempty(Builder(InsertPoint.at_end(block)))
        b.insert(scf.IfOp(b.insert(arith.CmpiOp(n, zero, "ne")).result, [], Region(block)))
    parallel(fl, outer, lines)
    fl.bufs[op.result] = out


EMITTERS = {cls: scan for cls in T.SCAN_OPS}
