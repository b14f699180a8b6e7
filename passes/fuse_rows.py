"""``fuse-rows``: fuse consecutive ``loop.parallel`` nests that share their outermost
dimension into one nest over it, when each iteration of that dimension only touches its own
slice of the buffers the nests pass to each other.

``tensor-to-loop`` gives each op that cannot be recomputed a loop nest of its own: softmax is
a row-max nest, a row-sum-of-exp nest and an exp-divide nest, each sweeping the whole array.
After this pass it is one nest over the rows that runs the three in turn on each row, so the
row is read from memory once and stays in the L1 cache for the next two sweeps (and the
outlined parallel loop is one, over the rows)::

    loop.parallel (%i, %k) = (%c0, %c0) to (%n, %c1) step (%c1, %c1) {   # row max -> %m
      ... memref.store %mx, %m[%i, %k]
    }
    loop.parallel (%i, %j) = (%c0, %c0) to (%n, %c) step (%c1, %c1) {    # reads %m[%i, %c0]
      ...
    }
  ->
    loop.parallel (%i) = (%c0) to (%n) step (%c1) {
      ... memref.store %mx, %m[%i, %c0]                   # a size-1 dimension disappears
      loop.parallel (%j) = (%c0) to (%c) step (%c1) { ... }
    }

Legality, checked per pair of nests (the later one joins the group of the earlier ones):

* both have a zero lower bound and unit step in their outermost dimension, the same upper
  bound (the same SSA value, or equal constants) and no accumulators of their own;
* their bodies hold only loads, stores, arithmetic, math, vector and nested ``loop``/``scf``
  ops: no calls, asserts, allocations or anything else with effects we cannot see;
* every buffer that one of them writes and another reads or writes is a ``memref.alloc`` of
  this block, used in the group only by loads and stores whose index in one fixed dimension
  ``p`` is the outermost induction variable of the nest that holds them: iteration ``i``
  then touches only slice ``i`` of it, in every nest, and running the nests row by row
  computes exactly what running them one after another did.

Ops between the nests move out of the way when that cannot change anything: allocations,
``memref.dim``, pure arithmetic and ``cf.assert`` (on sizes; an assert does not read
buffers) move above the fused nest, ``memref.dealloc`` below it.  Anything else ends the
group.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import cf, memref
from xdsl.dialects.builtin import IndexType, ModuleOp
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass

from ember.dialects.loop import ParallelOp, YieldOp
from ember.lowering.llvm_common import constant_int

#: op-name prefixes a fused body may hold: effects limited to the loads and stores we check
_BODY_OK = ("arith.", "math.", "vector.", "loop.", "scf.for", "scf.if", "scf.yield", "scf.while",
            "scf.condition", "llvmx.")
_BODY_OK_EXACT = {"memref.load", "memref.store", "memref.dim"}


def _body_ok(block: Block) -> bool:
    for op in block.walk():
        name = op.name
        if name not in _BODY_OK_EXACT and not name.startswith(_BODY_OK):
            return False
    return True


def _candidate(op: Operation) -> bool:
    return (isinstance(op, ParallelOp) and not op.iter_args and constant_int(op.lb[0]) == 0
            and constant_int(op.step[0]) == 1 and _body_ok(op.body.block))


def _same_bound(a: SSAValue, b: SSAValue) -> bool:
    return a is b or (constant_int(a) is not None and constant_int(a) == constant_int(b))


@dataclass
class _Access:
    buf: SSAValue
    indices: tuple[SSAValue, ...]
    write: bool
    iv: SSAValue  # the outermost induction variable of the nest holding the access


def _accesses(nest: ParallelOp) -> list[_Access]:
    iv = nest.body.block.args[0]
    out = []
    for op in nest.body.block.walk():
        if isinstance(op, memref.LoadOp):
            out.append(_Access(op.memref, tuple(op.indices), False, iv))
        elif isinstance(op, memref.StoreOp):
            out.append(_Access(op.memref, tuple(op.indices), True, iv))
    return out


def _row_dims(accesses: list[_Access]) -> set[int]:
    """The dimensions in which every access indexes with its nest's outer variable."""
    dims: set[int] | None = None
    for a in accesses:
        here = {p for p, v in enumerate(a.indices) if v is a.iv}
        dims = here if dims is None else dims & here
    return dims or set()


def _legal(group: list[ParallelOp], nest: ParallelOp, cache: dict) -> bool:
    before = [a for g in group for a in cache[g]]
    after = cache[nest]
    written_before = {a.buf for a in before if a.write}
    written_after = {a.buf for a in after if a.write}
    touched_after = {a.buf for a in after}
    touched_before = {a.buf for a in before}
    shared = (written_before & touched_after) | (written_after & touched_before)
    members = set(group) | {nest}
    for buf in shared:
        if not isinstance(buf.owner, memref.AllocOp):
            return False
        # every use of the buffer inside the group is one of the accesses we see
        for use in buf.uses:
            op = use.operation
            holder = op
            while holder is not None and holder not in members:
                holder = holder.parent_op()
            if holder is not None and not isinstance(op, (memref.LoadOp, memref.StoreOp, memref.DimOp)):
                return False
            if isinstance(op, memref.StoreOp) and use.index == 0:  # stored as a value
                return False
        if not _row_dims([a for a in before + after if a.buf is buf]):
            return False
    return True


def _movable(op: Operation) -> bool:
    if op.regions:
        return False
    if isinstance(op, (memref.AllocOp, memref.DimOp, memref.DeallocOp, cf.AssertOp)):
        return True
    return op.name.startswith("arith.")


def _fuse(group: list[ParallelOp], between: list[Operation]) -> None:
    first = group[0]
    block = first.parent_block()
    sink = [op for op in between if isinstance(op, memref.DeallocOp)]
    for op in between:
        if not isinstance(op, memref.DeallocOp):
            op.detach()
            block.insert_op_before(op, first)
    outer = Block(arg_types=[IndexType()])
    row = outer.args[0]
    for nest in group:
        body = nest.body.block
        body.args[0].replace_all_uses_with(row)
        keep = [d for d in range(1, len(nest.lb))
                if not (constant_int(nest.lb[d]) == 0 and constant_int(nest.ub[d]) == 1)]
        for d in range(1, len(nest.lb)):
            if d not in keep:
                body.args[d].replace_all_uses_with(nest.lb[d])
        ops = [op for op in body.ops if not isinstance(op, YieldOp)]
        for op in ops:
            op.detach()
        if keep:
            inner = Block(arg_types=[IndexType()] * len(keep))
            for new, d in zip(inner.args, keep):
                body.args[d].replace_all_uses_with(new)
            inner.add_ops([*ops, YieldOp()])
            outer.add_op(ParallelOp([nest.lb[d] for d in keep], [nest.ub[d] for d in keep],
                                    [nest.step[d] for d in keep], inner))
        else:
            outer.add_ops(ops)
    outer.add_op(YieldOp())
    fused = ParallelOp([first.lb[0]], [first.ub[0]], [first.step[0]], outer)
    block.insert_op_before(fused, first)
    last = group[-1]
    for op in sink:
        op.detach()
        block.insert_op_after(op, last)
    for nest in group:
        nest.detach()
        nest.erase()


def fuse_block(block: Block) -> int:
    """Fuse the groups of nests in ``block`` (not in nested blocks); returns how many nests
    were fused away."""
    fused = 0
    ops = list(block.ops)
    cache: dict[ParallelOp, list[_Access]] = {}
    i = 0
    while i < len(ops):
        head = ops[i]
        if not _candidate(head):
            i += 1
            continue
        cache[head] = _accesses(head)
        group, between, pending = [head], [], []
        j = i + 1
        while j < len(ops):
            op = ops[j]
            if _candidate(op) and _same_bound(op.ub[0], head.ub[0]):
                cache[op] = _accesses(op)
                if not _legal(group, op, cache):
                    break
                group.append(op)
                between += pending
                pending = []
            elif _movable(op):
                pending.append(op)
            else:
                break
            j += 1
        if len(group) > 1:
            _fuse(group, between)
            fused += len(group) - 1
            ops = list(block.ops)
            i = 0
            continue
        i += 1
    return fused


@dataclass(frozen=True)
class FuseRowsPass(ModulePass):
    """Fuse consecutive ``loop.parallel`` nests over the same outermost dimension whose
    iterations only exchange data through their own slice (see the module docstring)."""

    name = "fuse-rows"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        blocks = [b for o in op.walk() for r in o.regions for b in r.blocks]
        for block in blocks:
            fuse_block(block)
