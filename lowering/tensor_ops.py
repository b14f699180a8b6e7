"""Per-op emitters for ``tensor-to-loop``: one function per etensor op, in a table.

Each emitter receives the ``FunctionLowering`` (its builder ``fl.b``, buffers and helpers)
and the op, and records the op's result buffer in ``fl.bufs``. The reductions are in
:mod:`ember.lowering.reductions`, element reads and writes in
:mod:`ember.lowering.element_ops`, transposes in :mod:`ember.lowering.transposes`, matmuls
in :mod:`ember.lowering.matmul`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.builder import Builder
from xdsl.dialects import arith, memref
from xdsl.dialects.builtin import DYNAMIC_INDEX, IndexType, MemRefType, TensorType, i64
from xdsl.ir import Block, SSAValue
from xdsl.rewriter import InsertPoint

from ember.dialects import etensor as T
from ember.dialects import shapes as S
from ember.dialects.loop import ForOp, ParallelOp, YieldOp
from ember.lowering import scalar_ops as X
from ember.lowering.llvm_common import is_strided


def parallel(fl, sizes: Sequence[SSAValue], body: Callable[[Builder, list[SSAValue]], None],
             at: Builder | None = None, lower: Sequence[SSAValue] | None = None):
    """Emit ``loop.parallel`` over ``sizes`` (inline the body when there are none) with ``at``,
    by default the function's builder (inside a loop it runs as a plain nest, which LLVM
    vectorises); from ``lower`` instead of zeros if given."""
    b = at or fl.b
    if not sizes:
        body(b, [])
        return
    block = Block(arg_types=[IndexType()] * len(sizes))
    inner = Builder(InsertPoint.at_end(block))
    body(inner, list(block.args))
    inner.insert(YieldOp())
    starts = list(lower) if lower is not None else [fl.index(0)] * len(sizes)
    b.insert(ParallelOp(starts, list(sizes), [fl.index(1)] * len(sizes), block))


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


# -- shape ops and matmul --------------------------------------------------------------

def flat_view(b: Builder, buf, element, one: SSAValue) -> SSAValue:
    """A C-contiguous buffer as one ``memref<?xT>`` of all its elements."""
    total = one
    for size in buf.sizes:
        total = b.insert(arith.MuliOp(total, size)).result
    return b.insert(memref.ReinterpretCastOp(buf.ref, [], [total], [], [0], [DYNAMIC_INDEX], [1],
                                             MemRefType(element, [DYNAMIC_INDEX]))).result


def reshape(fl, op: T.ReshapeOp):
    """Copy in C order through a flat index (no views yet: simple and always correct): from a
    flat view of a C-contiguous source (1000 x 1000 f32 flattened: 3.2 -> 0.3 ms), else through
    the source's indices of the flat index."""
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

    view = None if is_strided(src.ref.type) else flat_view(fl.b, src, op.result.type.element_type, fl.index(1))

    def body(b: Builder, ivs):
        flat = fl.index(0)
        for iv, s in zip(ivs, sizes):
            flat = b.insert(arith.AddiOp(b.insert(arith.MuliOp(flat, s)).result, iv)).result
        if view is not None:
            store(b, b.insert(memref.LoadOp.get(view, [flat])).res, out, ivs)
            return
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
                    *T.SCAN_OPS, *T.ARG_OPS, T.CastOp, T.WhereOp, T.CustomOp)

EMITTERS: dict[type, Callable] = {
    **{cls: binary for cls in T.BINARY_OPS + T.COMPARE_OPS},
    **{cls: unary for cls in T.UNARY_OPS},
    T.CastOp: cast, T.WhereOp: where, T.FillOp: fill, T.BroadcastOp: broadcast,
    T.IotaOp: iota, T.ConstantOp: constant, T.DimOp: dim, T.ReshapeOp: reshape,
    T.MatmulOp: matmul,
}
