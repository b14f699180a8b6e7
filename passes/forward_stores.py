"""``forward-stores``: inside one loop body, a load of the element that the body itself
stored earlier in the same iteration reads the stored value instead; a temporary buffer
left with nothing but such stores disappears.

After ``fuse-rows`` the loop that fills a temporary and the loops that read it are often
one loop, and each iteration reads back exactly the element it just wrote. A value with
three or more users in an elementwise chain (``a = np.exp(x); b = a * a + a``), or a row
statistic (softmax's row max, layer_norm's mean) is then an SSA value, not memory::

    loop.parallel (%i) = (%c0) to (%n) step (%c1) {
      %e = math.exp %v : f32
      memref.store %e, %a[%i] : memref<?xf32>          %e = math.exp %v : f32
      %l = memref.load %a[%i] : memref<?xf32>     ->    %s = arith.mulf %e, %e : f32
      %s = arith.mulf %l, %l : f32                      ...
    }
    memref.dealloc %a                                   (no %a at all)

A load is forwarded when the buffer is stored exactly once in the loop body (the store
directly in the body, before the load; the load in the body or in a loop nested in it,
after the store) at the same index values, so every iteration reads what it wrote itself.
The buffer is removed when it is a ``memref.alloc`` of the enclosing block whose every other
use is that store and a ``memref.dealloc``.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import memref
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation
from xdsl.passes import ModulePass

from ember.dialects.loop import ForOp, ParallelOp


def _top(op: Operation, block: Block) -> Operation | None:
    """The ancestor of ``op`` (or ``op``) that sits directly in ``block``."""
    while op is not None and op.parent_block() is not block:
        op = op.parent_op()
    return op


def _forward_in(loop: Operation) -> int:
    block = loop.regions[0].blocks.first
    order = {op: k for k, op in enumerate(block.ops)}
    stores: dict = {}
    for op in loop.walk():
        if isinstance(op, memref.StoreOp):
            stores.setdefault(op.memref, []).append(op)
    forwarded = 0
    for buf, ops in stores.items():
        if len(ops) != 1 or ops[0].parent_block() is not block:
            continue
        store = ops[0]
        index = list(store.indices)
        for use in list(buf.uses):
            load = use.operation
            if not isinstance(load, memref.LoadOp) or list(load.indices) != index:
                continue
            top = _top(load, block)
            if top is None or order[top] <= order[store]:
                continue
            load.res.replace_all_uses_with(store.value)
            load.detach()
            load.erase()
            forwarded += 1
        _drop_if_write_only(buf, store)
    return forwarded


def _drop_if_write_only(buf, store: memref.StoreOp) -> None:
    alloc = buf.owner
    if not isinstance(alloc, memref.AllocOp) or "ember.result" in alloc.attributes:
        return
    deallocs = []
    for use in buf.uses:
        op = use.operation
        if op is store and use.index == 1:
            continue
        if isinstance(op, memref.DeallocOp):
            deallocs.append(op)
            continue
        return
    for op in (store, *deallocs, alloc):
        op.detach()
        op.erase()


@dataclass(frozen=True)
class ForwardStoresPass(ModulePass):
    """Forward stores to loads of the same element in the same iteration and drop the
    buffers left write-only (see the module docstring)."""

    name = "forward-stores"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        loops = [o for o in op.walk() if isinstance(o, (ParallelOp, ForOp))]
        for loop in loops:
            if loop.parent is not None:
                _forward_in(loop)
