"""``tensor-to-loop`` for element access: ``etensor.extract``, ``etensor.insert``, ``etensor.item``.

    %y = etensor.insert %v, %x[%i] : tensor<f32>, tensor<?xf32>
becomes, when ``%x``'s buffer is ours (a temporary, or an argument: the caller sees the
write, as in Python) and ``%x`` is dead afterwards, an in-place store:
    memref.store %v, %xbuf[%i] : memref<?xf32>
and otherwise a copy of ``%xbuf`` followed by the store; a copy of an argument's memory would
hide the write from the caller, so that is refused (``FunctionLowering.refuse_copy``).
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.dialects import arith, memref, scf
from xdsl.ir import Block, Operation, SSAValue

from ember.dialects import etensor as T
from ember.dialects import shapes as S
from ember.lowering.tensor_ops import copy_to_new


def scalar_of(fl, buf) -> SSAValue:
    """The scalar a 0-d buffer holds."""
    if buf.scalar is not None:
        return buf.scalar
    return fl.b.insert(memref.LoadOp.get(buf.ref, [])).res


def _indices(fl, t, indices) -> list[SSAValue]:
    zero = fl.index(0)
    return [zero if d == 1 else fl.value(i) for d, i in zip(S.shape_of(t), indices)]


def extract(fl, op: T.ExtractOp):
    from ember.lowering.tensor_to_loop import Buffer

    src = fl.buffer(op.input)
    if src.scalar is not None:
        value = src.scalar
    else:
        value = fl.b.insert(memref.LoadOp.get(src.ref, _indices(fl, op.input.type, op.indices))).res
    fl.bufs[op.result] = Buffer(None, [], None, value)


def item(fl, op: T.ItemOp):
    fl.values[op.result] = scalar_of(fl, fl.buffer(op.input))


def insert(fl, op: T.InsertOp):
    """In place when the destination is ours and dead after this op; else copy first."""
    dest = fl.buffer(op.dest)
    if not (fl.owned(dest) and dest.ref is dest.root and dead_after(op.dest, op)):
        if fl.writes_argument(op.dest):
            fl.refuse_copy(op.dest, op)
        dest = copy_to_new(fl, dest, op.dest.type)
    value = scalar_of(fl, fl.buffer(op.value))
    fl.b.insert(memref.StoreOp.get(value, dest.ref, _indices(fl, op.dest.type, op.indices)))
    fl.bufs[op.result] = dest


_LOOPS = (scf.ForOp, scf.WhileOp)


def copy(fl, op: T.CopyOp):
    """A real copy (``FunctionLowering.run`` folds the copies that separate nothing)."""
    fl.bufs[op.result] = copy_to_new(fl, fl.buffer(op.input), op.result.type)


def dead_after(value: SSAValue, op) -> bool:
    """True when no use of ``value`` other than ``op`` can run after ``op``: each runs before
    it in a block around it (or in the other branch of an ``if`` around it), and no loop lies
    between ``op`` and ``value``'s definition (the next iteration would read it again)."""
    owner = value.owner
    home = owner if isinstance(owner, Block) else owner.parent_block()
    around: dict[Block, Operation] = {}  # block -> op's ancestor in it
    a = op
    while a is not None:
        block = a.parent_block()
        around[block] = a
        if block is home:
            break
        a = a.parent_op()
        if isinstance(a, _LOOPS):
            return False
    else:
        return False
    for use in value.uses:
        user = use.operation
        if user is op:
            continue
        inner = None
        while user is not None and user.parent_block() not in around:
            inner, user = user, user.parent_op()
        if user is None:
            return False
        mine = around[user.parent_block()]
        if user is mine:  # nested in one of op's ancestors, off op's own path
            if not (isinstance(mine, scf.IfOp) and _other_branch(mine, inner, op)):
                return False
        elif not user.is_before_in_block(mine):
            return False
    return True


def _other_branch(if_op, inner: Operation | None, op: Operation) -> bool:
    """Whether ``inner`` (an op nested in ``if_op``) is in the branch ``op`` is not in."""
    if inner is None:
        return False
    regions = {r for r in if_op.regions if r.is_ancestor(inner)}
    return not any(r.is_ancestor(op) for r in regions)


def slice_(fl, op: T.SliceOp):
    """The selected elements, as a *lazy* value: each consumer that computes element by
    element (elementwise ops, reductions) loads them from the source where it needs them,
    and only other consumers get a copy (``FunctionLowering.buffer`` materialises it). As
    with fused values, a pending slice is materialised before anything writes memory or a
    region begins. ``x[:-2, 1:-1] + x[2:, 1:-1] + ...`` (a stencil in slices) reads ``x``
    in one pass: 2048² f32 took 10.9 ms with a copy per slice (NumPy 8-10), now 1.2 ms."""
    from ember.lowering.tensor_to_loop import Buffer

    src = fl.buffer(op.input)
    dropped = set(op.dropped.get_values())
    strides = op.strides.get_values()
    offsets = [fl.value(o) for o in op.offsets]
    kept = [k for k in range(len(offsets)) if k not in dropped]
    sizes = [fl.value(op.sizes[k]) for k in kept]
    in_shape = S.shape_of(op.input.type)
    zero = fl.index(0)

    def at(b, ivs):
        if src.scalar is not None:
            return src.scalar
        idx = list(offsets)
        for iv, k in zip(ivs, kept):
            step = strides[k]
            scaled = iv if step == 1 else b.insert(arith.MuliOp(iv, fl.index(step))).result
            idx[k] = b.insert(arith.AddiOp(offsets[k], scaled)).result
        idx = [zero if in_shape[k] == 1 else i for k, i in enumerate(idx)]
        return b.insert(memref.LoadOp.get(src.ref, idx)).res

    lazy = Buffer(None, sizes, None, lazy=at, ttype=op.result.type)
    fl.pending.append(lazy)
    fl.bufs[op.result] = lazy


EMITTERS: dict[type, Callable] = {T.ExtractOp: extract, T.InsertOp: insert, T.CopyOp: copy,
                                  T.KeepOp: lambda fl, op: None, T.ItemOp: item,
                                  T.SliceOp: slice_}
