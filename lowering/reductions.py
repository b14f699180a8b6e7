"""``tensor-to-loop``'s emitter for the etensor reductions (``sum``, ``prod``, ``max``,
``min``, ``mean``): a reducing ``loop.parallel`` per output element, float32 sums in float32
blocks added in float64, float ``max``/``min`` with NumPy's NaN rule, and reductions that
keep the innermost axis (column reductions) as rows streamed into blocks of accumulators;
and the index reductions (``argmax``, ``argmin``). The scans are in :mod:`ember.lowering.scans`.
"""

from __future__ import annotations

from xdsl.builder import Builder
from xdsl.dialects import arith, memref
from xdsl.dialects.builtin import FloatAttr, IndexType, IntegerAttr, f32, f64, i1, i64
from xdsl.dialects.utils.fast_math import FastMathFlag
from xdsl.ir import Attribute, Block, SSAValue
from xdsl.rewriter import InsertPoint

from ember.dialects import etensor as T
from ember.dialects import shapes as S
from ember.dialects.loop import ForOp, ParallelOp, YieldOp
from ember.lowering import scalar_ops as X
from ember.lowering.tensor_ops import load, parallel, reduce_loop, seq_loop, store

_COMBINE = {"sum": "add", "mean": "add", "prod": "mul", "max": "max", "min": "min"}


def _accumulator_type(kind: str, src: Attribute, dst: Attribute) -> Attribute:
    if S.is_float(dst) and kind in ("sum", "mean", "prod"):
        return f64  # f32 sums accumulate in f64: NumPy's pairwise sum is this accurate
    return dst


def _identity(kind: str, t: Attribute):
    if kind in ("sum", "mean"):
        return 0
    if kind == "prod":
        return 1
    big = kind == "min"
    if S.is_float(t):
        return float("inf") if big else float("-inf")
    if S.is_bool(t):
        return 1 if big else 0
    w = t.width.data
    return (1 << (w - 1)) - 1 if big else -(1 << (w - 1))


#: elements of a float32 sum added in float32 before the float64 accumulator takes them: the
#: inner loop runs at the full f32 vector width (an f32 -> f64 widening halves it and costs
#: a conversion per element), and its error stays far below NumPy's pairwise f32 sum
#: (LLVM's vector accumulators each add about SUM_BLOCK / 64 elements)
SUM_BLOCK = 256


def _reassociable(v: SSAValue) -> SSAValue:
    """Let LLVM reassociate a reduction's float combine (NumPy's own sums are pairwise), so
    it keeps several vector accumulators in flight."""
    v.owner.properties["fastmath"] = arith.FastMathFlagsAttr(
        [FastMathFlag.REASSOC, FastMathFlag.ALLOW_CONTRACT])
    return v


def _float_extremum(fl, b: Builder, sizes, init: SSAValue, combine: str, element) -> SSAValue:
    """A float max/min reduction as NumPy defines it (a NaN anywhere gives NaN) in two
    accumulators: ``maxnum``/``minnum`` with ``nnan nsz`` flags, which LLVM reduces with one
    ``vmaxps`` per vector, and an ``or`` of ``isnan``; the result is NaN when that is set.
    (``arith.maximumf`` propagates NaN itself, but x86 has no instruction for it: seven per
    vector, and a max over data in cache ran at half the speed of a sum.) A lane whose
    ``maxnum`` saw a NaN is poison under ``nnan``, but the final select then discards it.
    Which zero a max of -0.0 and +0.0 gives is unspecified, as in NumPy's own loops."""
    flags = arith.FastMathFlagsAttr([FastMathFlag.NO_NANS, FastMathFlag.NO_SIGNED_ZEROS])
    false = b.insert(arith.ConstantOp(IntegerAttr(0, i1))).result
    block = Block(arg_types=[IndexType()] * len(sizes) + [init.type, i1])
    inner = Builder(InsertPoint.at_end(block))
    *ivs, acc, seen = block.args
    v = element(inner, list(ivs))
    cls = arith.MaxnumfOp if combine == "maximum" else arith.MinnumfOp
    best = inner.insert(cls(acc, v, flags)).result
    nan = inner.insert(arith.CmpfOp(v, v, "uno")).result
    seen_next = inner.insert(arith.OrIOp(seen, nan)).result
    inner.insert(YieldOp(best, seen_next))
    zeros, ones = [fl.index(0)] * len(sizes), [fl.index(1)] * len(sizes)
    loop = b.insert(ParallelOp(zeros, list(sizes), ones, block, [init, false],
                               ["max" if combine == "maximum" else "min", "or"]))
    nan_value = b.insert(arith.ConstantOp(FloatAttr(float("nan"), init.type))).result
    return b.insert(arith.SelectOp(loop.res[1], nan_value, loop.res[0])).result


def blocked_sum(fl, b: Builder, sizes, n_blocks: SSAValue, init: SSAValue, narrow_t,
                 step_narrow) -> SSAValue:
    """Sum over ``sizes`` with the last dimension cut into blocks of ``SUM_BLOCK``: each block
    is summed in ``narrow_t`` and the block sums in ``init``'s (wider) type."""
    n, block = sizes[-1], fl.index(SUM_BLOCK)

    def outer(ob: Builder, rivs, acc):
        start = ob.insert(arith.MuliOp(rivs[-1], block)).result
        end = ob.insert(arith.MinUIOp(ob.insert(arith.AddiOp(start, block)).result, n)).result
        body = Block(arg_types=[IndexType(), narrow_t])
        ib = Builder(InsertPoint.at_end(body))
        ib.insert(YieldOp(step_narrow(ib, [*rivs[:-1], body.args[0]], body.args[1])))
        zero = X.const(ob, 0, narrow_t)
        part = ob.insert(ParallelOp([start], [end], [fl.index(1)], body, [zero], ["add"])).res[0]
        wide = X.cast(ob, part, narrow_t, init.type)
        return _reassociable(X.emit_binary(ob, "add", acc, wide, init.type))

    return reduce_loop(fl, b, [*sizes[:-1], n_blocks], init, "add", outer)


#: columns of the output each task of a reduction over leading axes accumulates (its
#: accumulators stay in L1 while the rows stream past)
COLUMN_BLOCK = 512
#: rows added per load and store of the accumulators
ROWS_PER_STEP = 4


def _rows_into_accumulators(fl, op, src, out, out_sizes, kept, red, red_sizes, acc_t, combine):
    """A reduction that keeps the innermost axis (``x.sum(axis=0)``, a column reduction):
    the reduced axes run outside and the kept innermost axis inside, so every row is read
    along its length and added into a block of accumulators, as NumPy does; reducing each
    output element over a column instead strided through memory (2048² f32: 26 ms against
    NumPy's 0.58). One ``loop.parallel`` over (outer kept indices, blocks of
    ``COLUMN_BLOCK`` columns), its threads each on their own columns::

        loop.parallel (%jb) = ... {                          (blocks of 512 columns)
          acc[j] = identity                                  for j in the block
          loop.for %i = 0 to %rows { loop.parallel (%j) { acc[j] = acc[j] + x[i, j] } }
          out[j] = acc[j]                                    (/ rows for a mean)
        }

    The accumulators have the reduction's accumulator type (f64 for a float sum; four
    float32 rows are added in float32 and widened once, as the blocked sums do: 2048² f32
    0.71-0.74 -> 0.68-0.70 ms), and the additions along each column keep the rows' order."""
    kind, src_t, dst_t = op.KIND, op.input.type.element_type, op.result.type.element_type
    in_shape = S.shape_of(op.input.type)
    keep = op.keepdims is not None
    zero, one = fl.index(0), fl.index(1)
    last = kept[-1]  # the input's innermost axis
    n_last = src.sizes[last]
    block = fl.index(COLUMN_BLOCK)
    blocks = fl.b.insert(arith.DivUIOp(fl.b.insert(arith.AddiOp(
        n_last, fl.index(COLUMN_BLOCK - 1))).result, block)).result
    acc = out if acc_t == dst_t else fl.alloc(S.shape_of(op.result.type), out_sizes, acc_t)
    init = X.const(fl.b, _identity(kind, acc_t), acc_t)
    outer_sizes = [src.sizes[k] for k in kept[:-1]]

    def out_index(kept_ivs):
        if not keep:
            return list(kept_ivs)
        by_axis = dict(zip(kept, kept_ivs))
        return [by_axis.get(k, zero) for k in range(len(in_shape))]

    def task(b: Builder, ivs):
        *outer_ivs, jb = ivs
        lo = b.insert(arith.MuliOp(jb, block)).result
        hi = b.insert(arith.MinUIOp(b.insert(arith.AddiOp(lo, block)).result, n_last)).result

        def columns(cb: Builder, body):
            inner = Block(arg_types=[IndexType()])
            ib = Builder(InsertPoint.at_end(inner))
            body(ib, out_index([*outer_ivs, inner.args[0]]), inner.args[0])
            ib.insert(YieldOp())
            cb.insert(ParallelOp([lo], [hi], [one], inner))

        columns(b, lambda ib, at, j: ib.insert(memref.StoreOp.get(init, acc.ref, at)))

        narrow = combine == "add" and src_t == f32 and acc_t == f64

        def rows(rb: Builder, rivs, count: int = 1):
            """Rows ``rivs`` .. ``rivs[-1] + count - 1`` of the innermost reduced axis into
            the accumulators: one load and store of each accumulator per ``count`` rows."""
            def add(ib: Builder, at, j):
                def element(r):
                    full = [None] * len(in_shape)
                    for k, iv in zip(kept, [*outer_ivs, j]):
                        full[k] = iv
                    row = rivs[-1] if r == 0 else ib.insert(arith.AddiOp(rivs[-1], fl.index(r))).result
                    for k, iv in zip(red, [*rivs[:-1], row]):
                        full[k] = iv
                    return load(ib, src, full, zero, in_shape)

                a = ib.insert(memref.LoadOp.get(acc.ref, at)).res
                if narrow:  # the rows' float32 sum, widened once (as the blocked sums do)
                    part = element(0)
                    for r in range(1, count):
                        part = ib.insert(arith.AddfOp(part, element(r))).result
                    a = _combined(ib, combine, acc_t, a, X.cast(ib, part, src_t, acc_t))
                else:
                    for r in range(count):
                        a = _combined(ib, combine, acc_t, a, X.cast(ib, element(r), src_t, acc_t))
                ib.insert(memref.StoreOp.get(a, acc.ref, at))
            columns(rb, add)

        def innermost(nb: Builder, outer_rivs):
            n = red_sizes[-1]
            step = fl.index(ROWS_PER_STEP)
            main = nb.insert(arith.SubiOp(n, nb.insert(arith.RemUIOp(n, step)).result)).result
            seq_loop(nb, zero, main, step, lambda lb, i: rows(lb, [*outer_rivs, i], ROWS_PER_STEP))
            seq_loop(nb, main, n, one, lambda lb, i: rows(lb, [*outer_rivs, i]))
        _nest(b, red_sizes[:-1], innermost, zero, one)

        if acc is not out or kind == "mean":
            count = None
            if kind == "mean":
                count = one
                for s in red_sizes:
                    count = b.insert(arith.MuliOp(count, s)).result
                count = X.cast(b, b.insert(arith.IndexCastOp(count, i64)).result, i64, acc_t)

            def finish(ib: Builder, at, j):
                r = ib.insert(memref.LoadOp.get(acc.ref, at)).res
                if count is not None:
                    r = ib.insert(arith.DivfOp(r, count)).result
                ib.insert(memref.StoreOp.get(X.cast(ib, r, acc_t, dst_t), out.ref, at))
            columns(b, finish)

    parallel(fl, [*outer_sizes, blocks], task)


def _combined(b: Builder, combine: str, t: Attribute, acc: SSAValue, v: SSAValue) -> SSAValue:
    """``acc`` combined with ``v``; a float max/min is IEEE maximum/minimum (NaN wins, as in
    NumPy): LLVM vectorises its reduction, not the select NumPy's elementwise rule needs
    (they differ only in which zero a max of -0.0 and +0.0 returns)."""
    if S.is_float(t) and combine in ("maximum", "minimum"):
        cls = arith.MaximumfOp if combine == "maximum" else arith.MinimumfOp
        return b.insert(cls(acc, v)).result
    return X.emit_binary(b, combine, acc, v, t)


def _nest(b: Builder, sizes, body, zero, one, ivs=()):
    """Sequential ``loop.for`` nests over ``sizes`` (outermost first), ``body(builder, ivs)``
    innermost."""
    if not sizes:
        body(b, list(ivs))
        return
    seq_loop(b, zero, sizes[0], one, lambda lb, iv: _nest(lb, sizes[1:], body, zero, one, (*ivs, iv)))


def _reduced_element(src, in_shape, kept, red, keep: bool, ivs, zero):
    """``element(builder, rivs)``: the input element of a reduction at output indices ``ivs``
    (all of them with ``keepdims``) and reduced indices ``rivs``."""
    def element(ib: Builder, rivs) -> SSAValue:
        full = [None] * len(in_shape)
        for k, iv in zip(kept, ivs if not keep else [ivs[k] for k in kept]):
            full[k] = iv
        for k, iv in zip(red, rivs):
            full[k] = iv
        return load(ib, src, full, zero, in_shape)
    return element


def _axes(fl, op):
    """``(input buffer, input shape, kept axes, reduced axes, keepdims, output sizes, reduced
    sizes)`` of a reduction."""
    in_shape = S.shape_of(op.input.type)
    red = sorted(op.axes_tuple)
    keep = op.keepdims is not None
    src = fl.peek(op.input)
    kept = [k for k in range(len(in_shape)) if k not in red]
    out_sizes = [fl.index(1) if k in red else src.sizes[k] for k in range(len(in_shape))] if keep \
        else [src.sizes[k] for k in kept]
    return src, in_shape, kept, red, keep, out_sizes, [src.sizes[k] for k in red]


def _check_nonempty(fl, sizes, message: str):
    """Assert that ``sizes`` hold at least one element (NumPy's error otherwise)."""
    count = fl.index(1)
    for size in sizes:
        count = fl.b.insert(arith.MuliOp(count, size)).result
    fl.check(fl.b.insert(arith.CmpiOp(count, fl.index(0), "ne")).result, message)


def reduction(fl, op):
    kind = op.KIND
    src_t, dst_t = op.input.type.element_type, op.result.type.element_type
    acc_t = _accumulator_type(kind, src_t, dst_t)
    src, in_shape, kept, red, keep, out_sizes, red_sizes = _axes(fl, op)
    axes = set(red)
    out_shape = S.shape_of(op.result.type)
    if kind in ("max", "min"):
        name = "maximum" if kind == "max" else "minimum"
        _check_nonempty(fl, red_sizes, f"zero-size array to reduction operation {name} which has no identity")
    out = fl.alloc(out_shape, out_sizes, dst_t)
    combine = {"sum": "add", "mean": "add", "prod": "mul", "max": "maximum", "min": "minimum"}[kind]
    if red and len(in_shape) - 1 not in axes and src.scalar is None:
        _rows_into_accumulators(fl, op, src, out, out_sizes, kept, red, red_sizes, acc_t, combine)
        fl.bufs[op.result] = out
        return
    # a float sum accumulated wider than its elements (f32 in f64) adds blocks of
    # SUM_BLOCK elements in the element type first, at full vector width
    blocked = combine == "add" and src_t == f32 and acc_t == f64 and red_sizes
    if blocked:
        block = fl.index(SUM_BLOCK)
        rounded_up = fl.b.insert(arith.AddiOp(red_sizes[-1], fl.index(SUM_BLOCK - 1))).result
        n_blocks = fl.b.insert(arith.DivUIOp(rounded_up, block)).result

    def body(b: Builder, ivs):
        init = X.const(b, _identity(kind, acc_t), acc_t)

        element = _reduced_element(src, in_shape, kept, red, keep, ivs, fl.index(0))

        def step_narrow(ib: Builder, rivs, acc):
            return _reassociable(X.emit_binary(ib, "add", acc, element(ib, rivs), src_t))

        def step(ib: Builder, rivs, acc):
            v = X.cast(ib, element(ib, rivs), src_t, acc_t)
            new = _combined(ib, combine, acc_t, acc, v)
            if S.is_float(acc_t) and combine in ("add", "mul"):
                new = _reassociable(new)
            return new

        if blocked:
            r = blocked_sum(fl, b, red_sizes, n_blocks, init, src_t, step_narrow)
        elif S.is_float(acc_t) and combine in ("maximum", "minimum") and red_sizes:
            r = _float_extremum(fl, b, red_sizes, init, combine,
                                lambda ib, rivs: X.cast(ib, element(ib, rivs), src_t, acc_t))
        else:
            r = reduce_loop(fl, b, red_sizes, init, _COMBINE[kind], step)
        if kind == "mean":
            n = fl.index(1)
            for s in red_sizes:
                n = b.insert(arith.MuliOp(n, s)).result
            n = X.cast(b, b.insert(arith.IndexCastOp(n, i64)).result, i64, acc_t)
            r = b.insert(arith.DivfOp(r, n)).result
        store(b, X.cast(b, r, acc_t, dst_t), out, ivs)

    parallel(fl, out_sizes, body)
    fl.bufs[op.result] = out


#: elements per block of an argmax/argmin along a row: each block's extreme is a vectorised
#: reduction; only the block that holds the first extreme is searched for its index
ARG_BLOCK = 256


def arg_reduction(fl, op):
    """``argmax``/``argmin`` over one axis or all of them (C order): along the innermost
    reduced axis in blocks of ``ARG_BLOCK``, each block's extreme (NaN if it holds one, as in
    NumPy) against the best so far, strictly (the first block with the extreme wins, a NaN
    over any number); then the winning block is searched for the extreme's first index."""
    find_max = op.KIND == "argmax"
    t = op.input.type.element_type
    src, in_shape, kept, red, keep, out_sizes, red_sizes = _axes(fl, op)
    zero, one, block = fl.index(0), fl.index(1), fl.index(ARG_BLOCK)
    _check_nonempty(fl, red_sizes, f"attempt to get {op.KIND} of an empty sequence")
    out = fl.alloc(S.shape_of(op.result.type), out_sizes, i64)
    if not red:  # a 0-d array: its one element
        parallel(fl, out_sizes, lambda b, ivs: store(b, X.const(b, 0, i64), out, ivs))
        fl.bufs[op.result] = out
        return
    extreme = "maximum" if find_max else "minimum"
    outer, n = red_sizes[:-1], red_sizes[-1]

    def body(b: Builder, ivs):
        element = _reduced_element(src, in_shape, kept, red, keep, ivs, zero)

        def better(bb: Builder, m, cur) -> SSAValue:
            """``m`` replaces ``cur``: strictly more extreme, or the first NaN."""
            if not S.is_float(t):
                return X.cmpi(bb, ("ugt" if find_max else "ult") if S.is_bool(t) else
                              ("sgt" if find_max else "slt"), m, cur)
            strictly = X.cmpf(bb, "ogt" if find_max else "olt", m, cur)
            first_nan = bb.insert(arith.AndIOp(X.cmpf(bb, "uno", m, m), X.cmpf(bb, "ord", cur, cur))).result
            return bb.insert(arith.OrIOp(strictly, first_nan)).result

        def blocks(bb: Builder, oivs, best, where):
            blk = Block(arg_types=[IndexType(), t, IndexType()])
            kb = Builder(InsertPoint.at_end(blk))
            start, cur, at = blk.args
            width = kb.insert(arith.SubiOp(kb.insert(arith.MinUIOp(
                kb.insert(arith.AddiOp(start, block)).result, n)).result, start)).result
            at_elem = lambda ib, rivs: element(ib, [*oivs, ib.insert(arith.AddiOp(start, rivs[0])).result])  # noqa: E731
            init = X.const(kb, _identity("max" if find_max else "min", t), t)
            if S.is_float(t):
                m = _float_extremum(fl, kb, [width], init, extreme, at_elem)
            else:
                m = reduce_loop(fl, kb, [width], init, "max" if find_max else "min",
                                lambda ib, rivs, acc: X.emit_binary(ib, extreme, acc, at_elem(ib, rivs), t))
            flat = zero
            for iv, size in zip(oivs, outer):
                flat = kb.insert(arith.AddiOp(kb.insert(arith.MuliOp(flat, size)).result, iv)).result
            flat = kb.insert(arith.AddiOp(kb.insert(arith.MuliOp(flat, n)).result, start)).result
            take = better(kb, m, cur)
            kb.insert(YieldOp(X.select(kb, take, m, cur), X.select(kb, take, flat, at)))
            return list(bb.insert(ForOp(zero, n, block, [best, where], blk)).results)

        def over(bb: Builder, oivs, best, where):
            if len(oivs) == len(outer):
                return blocks(bb, oivs, best, where)
            blk = Block(arg_types=[IndexType(), t, IndexType()])
            kb = Builder(InsertPoint.at_end(blk))
            o, cur, at = blk.args
            kb.insert(YieldOp(*over(kb, [*oivs, o], cur, at)))
            return list(bb.insert(ForOp(zero, outer[len(oivs)], one, [best, where], blk)).results)

        best, where = over(b, [], X.const(b, _identity("max" if find_max else "min", t), t), zero)
        # the winning block: its row (outer indices) and start, searched for the first extreme
        start = b.insert(arith.RemUIOp(where, n)).result
        flat_o = b.insert(arith.DivUIOp(where, n)).result
        oivs, rest = [], flat_o
        for size in reversed(outer):
            oivs.insert(0, b.insert(arith.RemUIOp(rest, size)).result)
            rest = b.insert(arith.DivUIOp(rest, size)).result
        width = b.insert(arith.SubiOp(b.insert(arith.MinUIOp(
            b.insert(arith.AddiOp(start, block)).result, n)).result, start)).result

        def first_hit(kb: Builder, rivs, found):  # min over the block of (hit ? i : n)
            i = kb.insert(arith.AddiOp(start, rivs[0])).result
            x = element(kb, [*oivs, i])
            if S.is_float(t):
                hit = kb.insert(arith.OrIOp(X.cmpf(kb, "oeq", x, best), kb.insert(arith.AndIOp(
                    X.cmpf(kb, "uno", x, x), X.cmpf(kb, "uno", best, best))).result)).result
            else:
                hit = X.cmpi(kb, "eq", x, best)
            return kb.insert(arith.MinUIOp(found, X.select(kb, hit, i, n))).result
        found = reduce_loop(fl, b, [width], n, "min", first_hit)
        index = b.insert(arith.AddiOp(b.insert(arith.MuliOp(flat_o, n)).result, found)).result
        store(b, b.insert(arith.IndexCastOp(index, i64)).result, out, ivs)

    parallel(fl, out_sizes, body)
    fl.bufs[op.result] = out


EMITTERS = {**{cls: reduction for cls in T.REDUCTION_OPS}, **{cls: arg_reduction for cls in T.ARG_OPS}}
