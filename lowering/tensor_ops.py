"""Per-op emitters for ``tensor-to-loop``: one function per etensor op, in a table.

Each emitter receives the ``FunctionLowering`` (its builder ``fl.b``, buffers and helpers)
and the op, and records the op's result buffer in ``fl.bufs``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.builder import Builder
from xdsl.dialects import arith, memref
from xdsl.dialects.builtin import FloatAttr, IndexType, IntegerAttr, TensorType, f32, f64, i1, i64
from xdsl.ir import Attribute, Block, SSAValue
from xdsl.rewriter import InsertPoint

from xdsl.dialects.utils.fast_math import FastMathFlag

from ember.dialects import etensor as T
from ember.dialects import shapes as S
from ember.dialects.loop import ForOp, ParallelOp, YieldOp
from ember.lowering import scalar_ops as X


def parallel(fl, sizes: Sequence[SSAValue], body: Callable[[Builder, list[SSAValue]], None]):
    """Emit ``loop.parallel`` over ``sizes`` (inline the body when there are none)."""
    if not sizes:
        body(fl.b, [])
        return
    block = Block(arg_types=[IndexType()] * len(sizes))
    inner = Builder(InsertPoint.at_end(block))
    body(inner, list(block.args))
    inner.insert(YieldOp())
    zeros, ones = [fl.index(0)] * len(sizes), [fl.index(1)] * len(sizes)
    fl.b.insert(ParallelOp(zeros, list(sizes), ones, block))


def reduce_loop(fl, b: Builder, sizes, init: SSAValue, kind: str,
                step: Callable[[Builder, list[SSAValue], SSAValue], SSAValue]) -> SSAValue:
    """A reducing ``loop.parallel`` over ``sizes`` built with ``b``; returns the result."""
    if not sizes:
        return step(b, [], init)
    block = Block(arg_types=[IndexType()] * len(sizes) + [init.type])
    inner = Builder(InsertPoint.at_end(block))
    inner.insert(YieldOp(step(inner, list(block.args[:-1]), block.args[-1])))
    zeros, ones = [fl.index(0)] * len(sizes), [fl.index(1)] * len(sizes)
    return b.insert(ParallelOp(zeros, list(sizes), ones, block, [init], [kind])).res[0]


def load(b: Builder, buf, ivs: Sequence[SSAValue], zero: SSAValue, shape) -> SSAValue:
    """The element of ``buf`` at the broadcast position of ``ivs`` (aligned from the
    right): a load, or the fused computation of a lazy value."""
    if buf.scalar is not None:
        return buf.scalar
    offset = len(ivs) - len(shape)
    idx = [zero if d == 1 else ivs[offset + k] for k, d in enumerate(shape)]
    if buf.lazy is not None:
        return buf.lazy(b, idx)
    return b.insert(memref.LoadOp.get(buf.ref, idx)).res


#: consumers that compute their operands element by element, so producers fuse into them
FUSING_CONSUMERS: tuple[type, ...] = ()


#: an elementwise value read by up to this many fusing consumer ops is recomputed in each of
#: them instead of stored: softmax's ``e`` (summed, then divided by the sum) and layer_norm's
#: ``x - mean`` never touch memory. Recomputing costs a few flops per element; storing costs
#: a buffer's page faults and two passes over memory.
MAX_RECOMPUTED_USES = 2


def fusible(op, operands: Sequence = ()) -> bool:
    """Fuse ``op``'s result into its users when each reads it elementwise: one user, or up to
    ``MAX_RECOMPUTED_USES`` when no operand is itself recomputed (no nested recomputation)."""
    result = op.results[0]
    users = _users(result)
    if not S.shape_of(result.type) or not 1 <= len(users) <= MAX_RECOMPUTED_USES:
        return False
    if not all(isinstance(u, FUSING_CONSUMERS) and u.parent_block() is op.parent_block()
               for u in users):
        return False
    return len(users) == 1 or not any(b.shared for b in operands)


def _users(value) -> list:
    """The distinct ops that use ``value`` (``d * d`` is one user: LLVM computes the value
    once for both operands of one op)."""
    users = []
    for use in value.uses:
        if use.operation not in users:
            users.append(use.operation)
    return users


def materialize(fl, buf):
    """Compute a lazy value into a buffer of its own (at the current position)."""
    t = buf.ttype
    out = fl.alloc(S.shape_of(t), buf.sizes, t.element_type)
    lazy, buf.lazy = buf.lazy, None
    parallel(fl, buf.sizes, lambda b, ivs: store(b, lazy(b, list(ivs)), out, ivs))
    buf.ref, buf.root = out.ref, out.root


def store(b: Builder, v: SSAValue, buf, ivs: Sequence[SSAValue]):
    b.insert(memref.StoreOp.get(v, buf.ref, list(ivs)))


def broadcast_sizes(fl, values: Sequence[SSAValue], out_shape) -> list[SSAValue]:
    """The result sizes of broadcasting ``values``; asserts run-time sizes agree."""
    sizes = []
    rank = len(out_shape)
    for k, d in enumerate(out_shape):
        if d != S.DYN and d == 1:
            sizes.append(fl.index(1))
            continue
        chosen = None
        for v in values:
            shape = S.shape_of(v.type)
            j = k - (rank - len(shape))
            if j < 0 or shape[j] == 1:
                continue
            size = fl.peek(v).sizes[j]
            if chosen is None:
                chosen = size
            else:
                fl.check_equal(chosen, size, "operands could not be broadcast together")
        sizes.append(chosen if chosen is not None else fl.index(d))
    return sizes


def _elementwise(fl, op, operands: Sequence[SSAValue],
                 compute: Callable[[Builder, list[SSAValue]], SSAValue]):
    out_t: TensorType = op.results[0].type
    shape = S.shape_of(out_t)
    sizes = broadcast_sizes(fl, operands, shape)
    bufs = [fl.peek(v) for v in operands]
    if not shape and all(buf.scalar is not None for buf in bufs):
        scalar = compute(fl.b, [buf.scalar for buf in bufs])
        fl.bufs[op.results[0]] = splat(fl, scalar, out_t)
        return
    zero = fl.index(0)

    def at(b: Builder, idx):
        return compute(b, [load(b, buf, idx, zero, S.shape_of(v.type)) for buf, v in zip(bufs, operands)])

    finish = fl.epilogues.pop(op, None)
    if finish is not None:  # the end of a matmul's epilogue: the matmul writes the result
        fl.bufs[op.results[0]] = finish(at, sizes)
        return
    if fusible(op, [b for b in bufs if b.lazy is not None]):
        from ember.lowering.tensor_to_loop import Buffer

        lazy = Buffer(None, sizes, None, lazy=at, ttype=out_t)
        # recomputed by several consumers, directly or through the lazy values built on it
        lazy.shared = len(_users(op.results[0])) > 1 or any(
            b.shared for b in bufs if b.lazy is not None)
        fl.pending.append(lazy)
        fl.bufs[op.results[0]] = lazy
        return
    out = fl.alloc(shape, sizes, out_t.element_type)

    parallel(fl, sizes, lambda b, ivs: store(b, at(b, ivs), out, ivs))
    fl.bufs[op.results[0]] = out


def splat(fl, scalar: SSAValue, t: TensorType):
    """A 0-d tensor known to hold ``scalar``: materialised lazily (only if returned)."""
    from ember.lowering.tensor_to_loop import Buffer

    return Buffer(None, [], None, scalar)


def binary(fl, op):
    t = op.lhs.type.element_type
    _elementwise(fl, op, [op.lhs, op.rhs], lambda b, v: X.emit_binary(b, op.KIND, v[0], v[1], t))


def unary(fl, op):
    t = op.input.type.element_type
    _elementwise(fl, op, [op.input], lambda b, v: X.emit_unary(b, op.KIND, v[0], t))


def cast(fl, op: T.CastOp):
    src, dst = op.input.type.element_type, op.result.type.element_type
    _elementwise(fl, op, [op.input], lambda b, v: X.cast(b, v[0], src, dst))


def where(fl, op: T.WhereOp):
    _elementwise(fl, op, [op.cond, op.lhs, op.rhs], lambda b, v: X.select(b, v[0], v[1], v[2]))


def fill(fl, op: T.FillOp):
    value = fl.value(op.value)
    if not op.sizes:
        fl.bufs[op.result] = splat(fl, value, op.result.type)
        return
    shape = S.shape_of(op.result.type)
    sizes = [fl.value(s) for s in op.sizes]
    out = fl.alloc(shape, sizes, op.result.type.element_type)
    parallel(fl, sizes, lambda b, ivs: store(b, value, out, ivs))
    fl.bufs[op.result] = out


def broadcast(fl, op: T.BroadcastOp):
    shape = S.shape_of(op.result.type)
    sizes = [fl.value(s) for s in op.sizes]
    if T.UNINITIALIZED in op.attributes:  # np.empty: the allocation is all there is to it
        fl.bufs[op.result] = fl.alloc(shape, sizes, op.result.type.element_type)
        return
    src = fl.buffer(op.input)
    src_shape = S.shape_of(op.input.type)
    off = len(shape) - len(src_shape)
    for j, d in enumerate(src_shape):
        if d != 1:
            fl.check_equal(src.sizes[j], sizes[off + j], "input operand has a shape that cannot be broadcast")
    out = fl.alloc(shape, sizes, op.result.type.element_type)
    zero = fl.index(0)
    parallel(fl, sizes, lambda b, ivs: store(b, load(b, src, ivs, zero, src_shape), out, ivs))
    fl.bufs[op.result] = out


def copy_to_new(fl, buf, t: TensorType):
    shape = S.shape_of(t)
    out = fl.alloc(shape, buf.sizes, t.element_type)
    if buf.scalar is not None:
        store(fl.b, buf.scalar, out, [])
        return out
    zero = fl.index(0)
    parallel(fl, buf.sizes, lambda b, ivs: store(b, load(b, buf, ivs, zero, [S.DYN] * len(shape)), out, ivs))
    return out


def iota(fl, op: T.IotaOp):
    n = fl.value(op.sizes[0])
    t = op.result.type.element_type
    out = fl.alloc([S.DYN], [n], t)

    def body(b, ivs):
        v = b.insert(arith.IndexCastOp(ivs[0], i64)).result
        store(b, X.cast(b, v, i64, t), out, ivs)

    parallel(fl, [n], body)
    fl.bufs[op.result] = out


def constant(fl, op: T.ConstantOp):
    t = op.result.type
    shape = S.shape_of(t)
    values = op.value.get_values()
    out = fl.alloc(shape, [fl.index(d) for d in shape], t.element_type)
    strides = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    for flat, v in enumerate(values):
        idx = [fl.index((flat // s) % d) for s, d in zip(strides, shape)]
        store(fl.b, X.const(fl.b, v, t.element_type), out, idx)
    fl.bufs[op.result] = out


def dim(fl, op: T.DimOp):
    fl.values[op.result] = fl.buffer(op.input).sizes[op.index.data]


# -- reductions ------------------------------------------------------------------------

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


def _blocked_sum(fl, b: Builder, sizes, n_blocks: SSAValue, init: SSAValue, narrow_t,
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

    The accumulators have the reduction's accumulator type (f64 for a float sum), and the
    order of the additions along each column is the rows' order."""
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

        def combined(ib: Builder, a, v):
            if S.is_float(acc_t) and combine in ("maximum", "minimum"):
                cls = arith.MaximumfOp if combine == "maximum" else arith.MinimumfOp
                return ib.insert(cls(a, v)).result  # NaN wins, as in NumPy
            return X.emit_binary(ib, combine, a, v, acc_t)

        def rows(rb: Builder, rivs, count: int = 1):
            """Rows ``rivs`` .. ``rivs[-1] + count - 1`` of the innermost reduced axis into
            the accumulators: one load and store of each accumulator per ``count`` rows."""
            def add(ib: Builder, at, j):
                a = ib.insert(memref.LoadOp.get(acc.ref, at)).res
                for r in range(count):
                    full = [None] * len(in_shape)
                    for k, iv in zip(kept, [*outer_ivs, j]):
                        full[k] = iv
                    row = rivs[-1] if r == 0 else ib.insert(arith.AddiOp(rivs[-1], fl.index(r))).result
                    for k, iv in zip(red, [*rivs[:-1], row]):
                        full[k] = iv
                    a = combined(ib, a, X.cast(ib, load(ib, src, full, zero, in_shape), src_t, acc_t))
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


def _nest(b: Builder, sizes, body, zero, one, ivs=()):
    """Sequential ``loop.for`` nests over ``sizes`` (outermost first), ``body(builder, ivs)``
    innermost."""
    if not sizes:
        body(b, list(ivs))
        return
    seq_loop(b, zero, sizes[0], one, lambda lb, iv: _nest(lb, sizes[1:], body, zero, one, (*ivs, iv)))


def reduction(fl, op):
    kind = op.KIND
    src_t, dst_t = op.input.type.element_type, op.result.type.element_type
    acc_t = _accumulator_type(kind, src_t, dst_t)
    in_shape = S.shape_of(op.input.type)
    axes = set(op.axes_tuple)
    keep = op.keepdims is not None
    src = fl.peek(op.input)
    kept = [k for k in range(len(in_shape)) if k not in axes]
    red = sorted(axes)
    out_shape = S.shape_of(op.result.type)
    out_sizes = [fl.index(1) if k in axes else src.sizes[k] for k in range(len(in_shape))] if keep \
        else [src.sizes[k] for k in kept]
    red_sizes = [src.sizes[k] for k in red]
    if kind in ("max", "min"):
        count = fl.index(1)
        for s in red_sizes:
            count = fl.b.insert(arith.MuliOp(count, s)).result
        name = "maximum" if kind == "max" else "minimum"
        fl.check(fl.b.insert(arith.CmpiOp(count, fl.index(0), "ne")).result,
                 f"zero-size array to reduction operation {name} which has no identity")
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

        def element(ib: Builder, rivs) -> SSAValue:
            full = [None] * len(in_shape)
            for k, iv in zip(kept, ivs if not keep else [ivs[k] for k in kept]):
                full[k] = iv
            for k, iv in zip(red, rivs):
                full[k] = iv
            return load(ib, src, full, fl.index(0), in_shape)

        def step_narrow(ib: Builder, rivs, acc):
            return _reassociable(X.emit_binary(ib, "add", acc, element(ib, rivs), src_t))

        def step(ib: Builder, rivs, acc):
            v = X.cast(ib, element(ib, rivs), src_t, acc_t)
            if S.is_float(acc_t) and combine in ("maximum", "minimum"):
                # IEEE maximum/minimum (NaN wins, as in NumPy): LLVM vectorises its reduction,
                # not the select NumPy's elementwise rule needs (they differ only in which
                # zero a max of -0.0 and +0.0 returns)
                cls = arith.MaximumfOp if combine == "maximum" else arith.MinimumfOp
                return ib.insert(cls(acc, v)).result
            new = X.emit_binary(ib, combine, acc, v, acc_t)
            if S.is_float(acc_t) and combine in ("add", "mul"):
                new = _reassociable(new)
            return new

        if blocked:
            r = _blocked_sum(fl, b, red_sizes, n_blocks, init, src_t, step_narrow)
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


# -- shape ops and matmul --------------------------------------------------------------

def transpose(fl, op: T.TransposeOp):
    perm = list(op.perm.get_values())
    src = fl.buffer(op.input)
    shape = S.shape_of(op.result.type)
    sizes = [src.sizes[p] for p in perm]
    out = fl.alloc(shape, sizes, op.result.type.element_type)
    in_shape = S.shape_of(op.input.type)
    zero = fl.index(0)

    def body(b, ivs):
        idx = [None] * len(perm)
        for k, p in enumerate(perm):
            idx[p] = ivs[k]
        idx = [zero if in_shape[j] == 1 else idx[j] for j in range(len(idx))]
        store(b, b.insert(memref.LoadOp.get(src.ref, idx)).res, out, ivs)

    if src.scalar is not None:
        fl.bufs[op.result] = src
        return
    rank = len(perm)
    if rank >= 2 and perm[-1] != rank - 1 and in_shape[-1] != 1 and shape[-1] != 1:
        _tiled(fl, sizes, perm.index(rank - 1), body)
    else:
        parallel(fl, sizes, body)
    fl.bufs[op.result] = out


#: the side of the square tiles a transposing copy moves (32 x 32 f32: 4 KiB read, 4 KiB
#: written, both in L1)
TRANSPOSE_TILE = 32


def _tiled(fl, sizes, a: int, body):
    """``body`` over ``sizes`` in square tiles of output axes ``a`` (which reads the input's
    contiguous axis) and the last (which writes the output's): a transposing copy read one
    element per cache line along a row of its output, a line that was gone by the next row.
    x.T of 2048² f32 took 34 ms (NumPy's ``ascontiguousarray(x.T)``: 31), now 10.5; tiles
    of 8 to 256 all gave 10.4-11.4 ms, and the loads stay scalar (an in-register transpose
    of 16 x 16 blocks would be the next step)::

        loop.parallel (other axes..., %ta, %tb) = ... {        (tiles)
          loop.for %i = %ta * 32 to min(%ta * 32 + 32, n_a) {
            loop.for %j = %tb * 32 to min(...) { out[..., %i, ..., %j] = x[...] }
          }
        }
    """
    b_axis = len(sizes) - 1
    one = fl.index(1)
    ta_n = tb_n = TRANSPOSE_TILE

    def tiles(n, t):
        return fl.b.insert(arith.DivUIOp(fl.b.insert(arith.AddiOp(
            n, fl.index(t - 1))).result, fl.index(t))).result

    others = [k for k in range(len(sizes)) if k not in (a, b_axis)]

    def task(b: Builder, ivs):
        *rest, ta, tb = ivs

        def span(t, n, width):
            lo = b.insert(arith.MuliOp(t, fl.index(width))).result
            return lo, b.insert(arith.MinUIOp(b.insert(arith.AddiOp(lo, fl.index(width))).result, n)).result

        (a_lo, a_hi), (b_lo, b_hi) = span(ta, sizes[a], ta_n), span(tb, sizes[b_axis], tb_n)

        def inner(ib: Builder, i):
            def element(eb: Builder, j):
                full = [None] * len(sizes)
                for k, iv in zip(others, rest):
                    full[k] = iv
                full[a], full[b_axis] = i, j
                body(eb, full)
            seq_loop(ib, b_lo, b_hi, one, element)
        seq_loop(b, a_lo, a_hi, one, inner)

    parallel(fl, [*(sizes[k] for k in others), tiles(sizes[a], ta_n), tiles(sizes[b_axis], tb_n)], task)


def reshape(fl, op: T.ReshapeOp):
    """Copy in C order through a flat index (no views yet: simple and always correct)."""
    src = fl.buffer(op.input)
    in_shape = S.shape_of(op.input.type)
    shape = S.shape_of(op.result.type)
    sizes = [fl.value(s) for s in op.sizes]
    total_in, total_out = fl.index(1), fl.index(1)
    for s in src.sizes:
        total_in = fl.b.insert(arith.MuliOp(total_in, s)).result
    for s in sizes:
        total_out = fl.b.insert(arith.MuliOp(total_out, s)).result
    fl.check_equal(total_in, total_out, "cannot reshape array: the number of elements differs")
    out = fl.alloc(shape, sizes, op.result.type.element_type)
    if src.scalar is not None:
        parallel(fl, sizes, lambda b, ivs: store(b, src.scalar, out, ivs))
        fl.bufs[op.result] = out
        return

    def body(b: Builder, ivs):
        flat = fl.index(0)
        for iv, s in zip(ivs, sizes):
            flat = b.insert(arith.AddiOp(b.insert(arith.MuliOp(flat, s)).result, iv)).result
        idx = [None] * len(in_shape)
        for k in range(len(in_shape) - 1, -1, -1):
            idx[k] = b.insert(arith.RemUIOp(flat, src.sizes[k])).result
            flat = b.insert(arith.DivUIOp(flat, src.sizes[k])).result
        store(b, b.insert(memref.LoadOp.get(src.ref, idx)).res, out, ivs)

    parallel(fl, sizes, body)
    fl.bufs[op.result] = out


def matmul(fl, op: T.MatmulOp):
    """Register-blocked, see :mod:`ember.lowering.matmul`."""
    from ember.lowering.matmul import matmul as blocked

    blocked(fl, op)


def seq_loop(b: Builder, lb: SSAValue, ub: SSAValue, step: SSAValue,
             body: Callable[[Builder, SSAValue], None]):
    """``loop.for %i = lb to ub step step { body(builder, %i) }`` (no iteration values)."""
    block = Block(arg_types=[IndexType()])
    inner = Builder(InsertPoint.at_end(block))
    body(inner, block.args[0])
    inner.insert(YieldOp())
    b.insert(ForOp(lb, ub, step, [], block))


def for_in(fl, b: Builder, n: SSAValue, body: Callable[[Builder, SSAValue], None]):
    seq_loop(b, fl.index(0), n, fl.index(1), body)


FUSING_CONSUMERS = (*T.BINARY_OPS, *T.COMPARE_OPS, *T.UNARY_OPS, *T.REDUCTION_OPS,
                    T.CastOp, T.WhereOp, T.CustomOp)

EMITTERS: dict[type, Callable] = {
    **{cls: binary for cls in T.BINARY_OPS + T.COMPARE_OPS},
    **{cls: unary for cls in T.UNARY_OPS},
    **{cls: reduction for cls in T.REDUCTION_OPS},
    T.CastOp: cast, T.WhereOp: where, T.FillOp: fill, T.BroadcastOp: broadcast,
    T.IotaOp: iota, T.ConstantOp: constant, T.DimOp: dim, T.TransposeOp: transpose,
    T.ReshapeOp: reshape, T.MatmulOp: matmul,
}
