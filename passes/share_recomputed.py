"""``share-recomputed``: in a row nest made by ``fuse-rows``, a value that a reduction
computes for every element of the row and that the row's last loop computes again before
storing a result is computed once, into that result row, by a loop of its own; the
reduction and the last loop read it back.

``tensor-to-loop`` recomputes an elementwise value read by two consumers instead of giving
it a buffer; in softmax that is ``exp(x - max)``, once for the row sum and once for the
division, two exps per element. After this pass each exp is computed once and the row is
read back from L1::

    %s = loop.parallel (%j) ... reduce(add) {       loop.parallel (%j) = (%c0) to (%n) {
      %e = math.exp (x[i, j] - m[i])                  %e = math.exp (x[i, j] - m[i])
      ...                                             memref.store %e, %out[%i, %j]
    }                                           ->    }
    loop.parallel (%j) = (%c0) to (%n) {            %s = loop.parallel (%j) ... reduce(add) {
      %e2 = math.exp (x[i, j] - m[i])                 %e = memref.load %out[%i, %j] ...
      memref.store %e2 / %s, %out[%i, %j]           }
    }                                               loop.parallel (%j) = (%c0) to (%n) {
                                                      %e2 = memref.load %out[%i, %j]
                                                      memref.store %e2 / %s, %out[%i, %j]
                                                    }

The value gets a loop of its own rather than being stored from inside the reduction: a
reducing loop that also stores is vectorised by LLVM behind a run-time check that the
stored row does not overlap the rows read, and the check's scalar fallback adds in another
order, so the last bits of a sum would depend on where the allocator put the arrays.

Conditions, all checked:

* the loop ``B`` is a ``loop.parallel (%j) = (0) to (%n) step 1`` directly in a row body,
  whose store ``memref.store %v, %out[%i, %j]`` (``%i`` the row, in the row body's own
  index) writes a buffer that nothing else in the row body reads or writes;
* an earlier loop ``A`` in the same row body reduces over exactly ``[0, %n)``: directly, or
  in the blocks ``fuse-rows``' input comes in (``tensor-to-loop``'s blocked f32 sums:
  blocks ``[k*B, min(k*B+B, %n))`` for ``k`` below ``ceil(%n / B)``);
* ``A``'s innermost body computes a value equal, op for op, to a subexpression of ``%v``
  that holds a ``math`` op or a division (what is worth storing), reading the same
  buffers at the same indices with ``%j`` for ``%j``, and no buffer it reads is written in
  the row body from ``A`` to ``B``.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, memref
from xdsl.dialects.builtin import IndexType, ModuleOp
from xdsl.ir import Block, BlockArgument, Operation, SSAValue
from xdsl.passes import ModulePass

from ember.dialects.loop import ParallelOp, YieldOp
from ember.lowering.llvm_common import constant_int

_WORTH = ("math.", "arith.divf")


def _unit_range(loop: ParallelOp) -> bool:
    return len(loop.lb) == 1 and constant_int(loop.lb[0]) == 0 and constant_int(loop.step[0]) == 1


def _is(v: SSAValue, cls, *operands) -> bool:
    op = v.owner
    return isinstance(op, cls) and all(a is b for a, b in zip(op.operands, operands))


def _innermost_over(loop: ParallelOp, n: SSAValue) -> ParallelOp | None:
    """The loop of ``loop`` whose iterations are exactly ``[0, n)``, once each: ``loop``
    itself, or the inner loop of a blocked reduction over ``n``."""
    if not loop.iter_args or not len(loop.lb) == 1:
        return None
    if _unit_range(loop) and loop.ub[0] is n:
        return loop
    inner = [op for op in loop.body.block.ops if isinstance(op, ParallelOp)]
    if not (_unit_range(loop) and len(inner) == 1 and len(inner[0].lb) == 1
            and constant_int(inner[0].step[0]) == 1):
        return None
    k, lb, ub = loop.body.block.args[0], inner[0].lb[0], inner[0].ub[0]
    lb_op = lb.owner
    if not isinstance(lb_op, arith.MuliOp) or lb_op.lhs is not k:
        return None
    block = lb_op.rhs
    size = constant_int(block)
    end = ub.owner
    if size is None or not (isinstance(end, arith.MinUIOp) and end.rhs is n
                            and _is(end.lhs, arith.AddiOp, lb, block)):
        return None
    # the block count is ceil(n / size): (n + size - 1) / size
    count = loop.ub[0].owner
    if not (isinstance(count, arith.DivUIOp) and constant_int(count.rhs) == size):
        return None
    up = count.lhs.owner
    if not (isinstance(up, arith.AddiOp) and up.lhs is n and constant_int(up.rhs) == size - 1):
        return None
    return inner[0]


class _Keys:
    """Structural keys of the values of a loop body, ``iv`` standing for the element."""

    def __init__(self, iv: SSAValue, inside: Block):
        self.iv, self.inside, self.memo = iv, inside, {}

    def key(self, v: SSAValue):
        if v is self.iv:
            return ("iv",)
        if v in self.memo:
            return self.memo[v]
        op = v.owner
        if isinstance(v, BlockArgument) or not self._within(op):
            k = ("value", id(v))
        elif op.regions or len(op.results) != 1:
            k = ("opaque", id(v))
        else:
            props = tuple(sorted((n, str(a)) for n, a in op.properties.items()))
            attrs = tuple(sorted((n, str(a)) for n, a in op.attributes.items()))
            k = (op.name, props, attrs, v.type, tuple(self.key(o) for o in op.operands))
        self.memo[v] = k
        return k

    def _within(self, op: Operation) -> bool:
        while op is not None:
            if op.parent_block() is self.inside:
                return True
            op = op.parent_op()
        return False


def _loads(v: SSAValue, inside: Block) -> list[memref.LoadOp]:
    out, todo, seen = [], [v], set()
    while todo:
        w = todo.pop()
        op = w.owner
        if not isinstance(op, Operation) or op in seen or op.parent_block() is not inside:
            continue
        seen.add(op)
        if isinstance(op, memref.LoadOp):
            out.append(op)
        todo.extend(op.operands)
    return out


def _worth(v: SSAValue, inside: Block) -> bool:
    todo, seen = [v], set()
    while todo:
        op = todo.pop().owner
        if not isinstance(op, Operation) or op in seen or op.parent_block() is not inside:
            continue
        seen.add(op)
        if op.name.startswith(_WORTH):
            return True
        todo.extend(op.operands)
    return False


def _stored_buffers(ops: list[Operation]) -> set:
    return {o.memref for op in ops for o in op.walk() if isinstance(o, memref.StoreOp)}


def _erase_dead(op: Operation) -> None:
    todo = [op]
    while todo:
        o = todo.pop()
        if o.parent is None or any(r.uses for r in o.results) or o.regions:
            continue
        if not (o.name.startswith(("arith.", "math.")) or isinstance(o, memref.LoadOp)):
            continue
        inputs = [v.owner for v in o.operands if isinstance(v.owner, Operation)]
        o.detach()
        o.erase()
        todo.extend(inputs)


def _fill_row(row: Block, a: ParallelOp, b: ParallelOp, v: SSAValue, out: SSAValue,
              i: SSAValue) -> None:
    """Insert before ``a`` a loop over ``b``'s range that computes ``v`` (an expression of
    ``b``'s body) for every element and stores it into ``out[i, j]``."""
    source = b.body.block
    tree: set[Operation] = set()
    todo = [v]
    while todo:
        op = todo.pop().owner
        if isinstance(op, Operation) and op.parent_block() is source and op not in tree:
            tree.add(op)
            todo.extend(op.operands)
    block = Block(arg_types=[IndexType()])
    mapping = {source.args[0]: block.args[0]}
    for op in source.ops:  # in order: operands are cloned before their users
        if op in tree:
            clone = op.clone(value_mapper=mapping)
            block.add_op(clone)
            for old, new in zip(op.results, clone.results):
                mapping[old] = new
    block.add_ops([memref.StoreOp.get(mapping[v], out, [i, block.args[0]]), YieldOp()])
    row.insert_op_before(ParallelOp([b.lb[0]], [b.ub[0]], [b.step[0]], block), a)


def _share(row: Block, b: ParallelOp) -> bool:
    if not (_unit_range(b) and not b.iter_args):
        return False
    j2 = b.body.block.args[0]
    stores = [op for op in b.body.block.ops if isinstance(op, memref.StoreOp)]
    if len(stores) != 1:
        return False
    store = stores[0]
    i = row.args[0] if row.args else None
    out = store.memref
    if i is None or list(store.indices) != [i, j2]:
        return False
    ops = list(row.ops)
    pos = ops.index(b)
    # nothing else in the row touches the result buffer
    for op in ops:
        if op is b:
            continue
        for o in op.walk():
            if out in o.operands:
                return False
    for a in reversed(ops[:pos]):
        if not isinstance(a, ParallelOp):
            continue
        inner = _innermost_over(a, b.ub[0])
        if inner is None:
            continue
        body = inner.body.block
        keys_a = _Keys(body.args[0], body)
        table = {}
        for op in body.ops:
            if len(op.results) == 1 and not op.regions:
                table.setdefault(keys_a.key(op.results[0]), op.results[0])
        keys_b = _Keys(j2, b.body.block)
        todo = [store.value]
        while todo:
            v = todo.pop(0)
            if not isinstance(v.owner, Operation) or v.owner.parent_block() is not b.body.block:
                continue
            if not _worth(v, b.body.block):
                continue
            match = table.get(keys_b.key(v))
            if match is not None:
                written = _stored_buffers(ops[ops.index(a):pos + 1])
                if any(ld.memref in written for ld in _loads(v, b.body.block)):
                    return False
                # a loop of its own before A computes the value into the result row; A and B
                # read it back. (Storing from inside A's reduction would make LLVM guard
                # the vectorised loop with a run-time overlap check between the result and
                # the inputs, whose scalar fallback sums in another order: the last bits of a
                # result would depend on where the allocator put the arrays.)
                _fill_row(row, a, b, v, out, i)
                for loop_body, iv, value in ((body, body.args[0], match), (b.body.block, j2, v)):
                    load = memref.LoadOp.get(out, [i, iv])
                    loop_body.insert_op_before(load, value.owner)
                    old = value.owner
                    value.replace_all_uses_with(load.res)
                    _erase_dead(old)
                return True
            todo.extend(v.owner.operands)
        return False
    return False


@dataclass(frozen=True)
class ShareRecomputedPass(ModulePass):
    """Store a row's recomputed value into the row's result once (see the module docstring)."""

    name = "share-recomputed"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        rows = [o for o in op.walk() if isinstance(o, ParallelOp) and len(o.lb) == 1
                and not o.iter_args]
        for row in rows:
            block = row.body.block
            for b in [o for o in block.ops if isinstance(o, ParallelOp)]:
                _share(block, b)
