"""``tensor-to-loop`` for ``scf.if``, ``scf.for`` and ``scf.while`` with tensor values.

0-d tensors (the script frontend's scalars) cross regions as plain scalars. Other tensors
cross as memrefs with single ownership:

* an ``scf.if`` branch yields a buffer it owns (it copies a borrowed one); the parent owns
  the result and frees it when its own region ends. A whole buffer of the parent that is
  dead after the ``if`` and used in it moves into both branches (the branches are
  exclusive): each writes it in place, yields it, or frees it;
* a loop owns one buffer per carried tensor. The body updates it in place (element writes)
  or yields a new buffer it allocated, in which case the old one is freed; yielding a
  buffer the body does not own copies it. Everything else allocated in a region is freed
  at the end of that region, every iteration. An initial value the loop cannot take over
  is copied, except an entry argument no element write changes (``acc = x; for ...: acc =
  acc * 2``): the loop carries it as it is, and every free of what the loop carries is
  guarded by a pointer test against it (``tensor_to_loop.guard_deallocs``).

An ``scf.for`` marked ``{ember.prange = [...]}`` (``ember.prange``: one entry per carried
value, ``"shared"`` or a reduction kind) becomes a ``loop.parallel`` when its body updates
every shared buffer in place: the buffer is used directly instead of carried, and the
scalars become named reductions::

    %r:2 = scf.for %i = %a to %b step %c1 iter_args(%o = %out, %s = %z)
           -> (tensor<?xf64>, tensor<f64>) {ember.prange = ["shared", "add"]}
  ->
    %s2 = loop.parallel (%i) = (%a) to (%b) step (%c1) reduce(add) init(%s = %z) -> (f64) {
      ... memref.store %v, %out[%i] ...
      loop.yield %s1 : f64
    } {ember.prange}

A body that does not update a shared buffer in place (it cannot, when the frontend's prange
rules hold) stays a serial ``scf.for``.
"""

from __future__ import annotations

from xdsl.dialects import memref, scf
from xdsl.dialects.builtin import IndexType, MemRefType, TensorType, UnitAttr
from xdsl.ir import Attribute, Block, Region, SSAValue

from ember.dialects import loop
from ember.dialects import shapes as S
from ember.errors import CompilerError
from ember.lowering import tensor_ops
from ember.lowering.element_ops import dead_after, scalar_of


def _is_scalar(t: Attribute) -> bool:
    return isinstance(t, TensorType) and not S.shape_of(t)


def lowered_type(t: Attribute) -> Attribute:
    """What a region-crossing value becomes: a scalar, a memref, or itself."""
    if isinstance(t, TensorType):
        if not S.shape_of(t):
            return t.element_type
        return MemRefType(t.element_type, S.shape_of(t))
    return t


def _bind(fl, old: SSAValue, new: SSAValue, owner_scope: list | None):
    """Record the buffer (or scalar) that ``new`` provides for tensor-stage value ``old``."""
    from ember.lowering.tensor_to_loop import Buffer

    t = old.type
    if not isinstance(t, TensorType):
        fl.values[old] = new
    elif _is_scalar(t):
        fl.bufs[old] = Buffer(None, [], None, new)
    else:
        sizes = [fl.index(d) if d != S.DYN else
                 fl.b.insert(memref.DimOp(new, fl.index(k))).result
                 for k, d in enumerate(S.shape_of(t))]
        fl.bufs[old] = Buffer(new, sizes, new)
        if owner_scope is not None:
            owner_scope.append(new)


def _outgoing(fl, old: SSAValue, claimed: set, loop_args: tuple = (),
              receivers: tuple = ()) -> SSAValue:
    """The value to yield for tensor-stage ``old``: a scalar or an owned buffer.
    ``receivers``: the tensor-stage values that take it (an ``if``'s result, a loop's result
    and carried value); a copy is refused when one of them is written in place later."""
    t = old.type
    if not isinstance(t, TensorType):
        return fl.value(old)
    buf = fl.buffer(old)
    if _is_scalar(t):
        return scalar_of(fl, buf)
    mine = (buf.root is not None and buf.ref is buf.root
            and (buf.root in fl.temps or buf.root in loop_args) and buf.root not in claimed)
    if not mine:
        if any(fl.writes_argument(r) for r in receivers):
            fl.refuse_copy(next(r for r in receivers if fl.writes_argument(r)),
                           old.owner if not isinstance(old.owner, Block) else old.owner.parent_op())
        buf = tensor_ops.copy_to_new(fl, buf, t)
    claimed.add(buf.root)
    return buf.ref


def _region(fl, old_block: Block, arg_types, bind_args, finish, owned=()):
    """Lower ``old_block`` into a new block in a fresh ownership scope (holding ``owned``)."""
    new = Block(arg_types=arg_types)
    fl.scopes.append(list(owned))
    saved = fl.b
    from xdsl.builder import Builder
    from xdsl.rewriter import InsertPoint

    fl.b = Builder(InsertPoint.at_end(new))
    try:
        bind_args(new)
        for op in list(old_block.ops)[:-1]:
            fl.lower_op(op)
        finish(old_block.last_op, new)
    finally:
        fl.b = saved
    # The region's fused values were consumed inside it (nothing pending came in: the region
    # op flushed before it); one left pending must not be computed after the region, where
    # its operands are out of scope.
    fl.pending.clear()
    return new


def _used_only_by(v: SSAValue, op) -> bool:
    """Every use of ``v`` is inside ``op`` or runs before it (same block, earlier)."""
    block = op.parent_block()
    for use in v.uses:
        user = use.operation
        while user is not None and user.parent_block() is not block:
            user = user.parent_op()
        if user is None or (user is not op and not user.is_before_in_block(op)):
            return False
    return True


def _moved_into_if(fl, op: scf.IfOp) -> list[SSAValue]:
    """Tensors of the ``if``'s block whose whole buffer it takes over (owned, dead after it).

    Only values defined in that block: one from outside a loop around the ``if`` is read
    again by the next iteration."""
    found: dict[SSAValue, None] = {}
    for region in (op.true_region, op.false_region):
        for inner in region.walk():
            for v in inner.operands:
                t = v.type
                if v in found or not isinstance(t, TensorType) or _is_scalar(t) or v not in fl.bufs:
                    continue
                owner = v.owner
                if (owner if isinstance(owner, Block) else owner.parent_block()) is not op.parent_block():
                    continue  # defined inside the if, or outside a loop around it
                buf = fl.bufs[v]
                roots = [fl.bufs[u].root for u in found]
                if (buf.lazy is None and buf.root is not None and buf.ref is buf.root
                        and (buf.root in fl.temps or buf.root in fl.carried
                             or buf.root in fl.external)
                        and buf.root not in fl.moved and buf.root not in roots
                        and _used_only_by(v, op)):
                    found[v] = None
    return list(found)


class _HiddenUses:
    """Uses of ``values`` inside ``region`` point at stand-ins while the other branch is
    lowered, so that branch sees the values dead after its own last use."""

    def __init__(self, values: list[SSAValue], region: Region):
        self.uses = [(use.operation, use.index, v) for v in values for use in list(v.uses)
                     if region.is_ancestor(use.operation)]
        self.values = values

    def __enter__(self):
        stand_ins = {v: Block(arg_types=[v.type]).args[0] for v in self.values}
        for user, k, v in self.uses:
            user.operands[k] = stand_ins[v]

    def __exit__(self, *exc):
        for user, k, v in self.uses:
            user.operands[k] = v


def lower_if(fl, op: scf.IfOp):
    types = [lowered_type(r.type) for r in op.results]

    def finish(term, new):
        claimed: set = set()
        values = [_outgoing(fl, v, claimed, receivers=(r,)) for v, r in zip(term.operands, op.results)]
        fl.close_scope(claimed)
        fl.b.insert(scf.YieldOp(*values))

    moved = _moved_into_if(fl, op)
    roots = [fl.bufs[v].root for v in moved]
    for root in roots:
        fl.temps.remove(root) if root in fl.temps else fl.moved.add(root)
    regions = (op.true_region, op.false_region)
    blocks = []
    for region, other in zip(regions, reversed(regions)):
        with _HiddenUses(moved, other):
            blocks.append(_region(fl, region.block, [], lambda b: None, finish, roots))
    new = fl.b.insert(scf.IfOp(fl.value(op.cond), types, Region(blocks[0]), Region(blocks[1])))
    for old, res in zip(op.results, new.results):
        _bind(fl, old, res, fl.temps)


def _takers(op, k: int) -> tuple:
    """The tensor-stage values that take a loop's k-th init: its carried value and result."""
    if isinstance(op, scf.ForOp):
        return op.body.block.args[k + 1], op.results[k]
    return op.before_region.block.args[k], op.after_region.block.args[k], op.results[k]


def _loop_inits(fl, op, inits) -> list[SSAValue]:
    """Scalars, or buffers the loop will own (moved when dead after the loop, else copied)."""
    out = []
    for k, v in enumerate(inits):
        t = v.type
        if not isinstance(t, TensorType):
            out.append(fl.value(v))
        elif _is_scalar(t):
            out.append(scalar_of(fl, fl.buffer(v)))
        else:
            buf = fl.buffer(v)
            mine = buf.root is not None and (buf.root in fl.temps or buf.root in fl.carried
                                             or buf.root in fl.external)
            movable = (mine and buf.ref is buf.root and dead_after(v, op) and buf.ref not in out
                       and buf.root not in fl.moved)
            if movable:  # the loop takes the buffer over
                if buf.root in fl.temps:
                    fl.temps.remove(buf.root)
                else:
                    fl.moved.add(buf.root)
            else:
                written = [r for r in _takers(op, k) if fl.writes_argument(r)]
                if written:
                    fl.refuse_copy(written[0], op)
                if fl.borrowable(v, buf):  # (acc = x; for ...: acc = acc * 2): no copy of x
                    fl.borrowed.add(buf.ref)
                else:
                    buf = tensor_ops.copy_to_new(fl, buf, t)
                    fl.temps.remove(buf.root)
            out.append(buf.ref)
    return out


def _body_finish(fl, carried_args: list[SSAValue], receivers: list[tuple] = ()):
    """Yield for a loop body: owned buffers move on, replaced carried buffers are freed.
    ``receivers``: per yielded value, the tensor-stage values that take it."""
    def finish(term, new):
        claimed: set = set()
        args = tuple(a for a in carried_args if isinstance(a.type, MemRefType))
        takers = receivers or [()] * len(term.operands)
        values = [_outgoing(fl, v, claimed, args, r) for v, r in zip(term.operands, takers)]
        fl.close_scope(claimed)
        for a in args:
            if a not in claimed and a not in fl.moved:
                fl.b.insert(memref.DeallocOp.get(a))
        fl.b.insert(type(term)(*values) if not isinstance(term, scf.ConditionOp)
                    else scf.ConditionOp(fl.value(term.condition), *values))
    return finish


def _lower_loop_region(fl, old: Block, types, leading: list[Attribute], bind_leading, finish_factory):
    def bind(new):
        bind_leading(new)
        n_lead = len(leading)
        for o, n in zip(old.args[n_lead:], new.args[n_lead:]):
            _bind(fl, o, n, None)
            if isinstance(n.type, MemRefType):
                fl.carried.add(n)

    def finish(term, new):
        finish_factory(list(new.args[len(leading):]))(term, new)

    return _region(fl, old, [*leading, *types], bind, finish)


def lower_for_op(fl, op: scf.ForOp):
    inits = _loop_inits(fl, op, op.iter_args)
    types = [lowered_type(v.type) for v in op.iter_args]
    old = op.body.block

    def bind_iv(new):
        fl.values[old.args[0]] = new.args[0]

    takers = [(r, a) for r, a in zip(op.results, old.args[1:])]
    body = _lower_loop_region(fl, old, types, [IndexType()], bind_iv,
                              lambda args: _body_finish(fl, args, takers))
    bounds = fl.value(op.lb), fl.value(op.ub), fl.value(op.step)
    kinds = op.attributes.get("ember.prange")
    if kinds is not None and _in_place(body):
        results = _parallel(fl, bounds, inits, body, [k.data for k in kinds.data])
    else:
        results = fl.b.insert(scf.ForOp(*bounds, inits, body)).results
    for o, r in zip(op.results, results):
        _bind(fl, o, r, fl.temps)


def _in_place(body: Block) -> bool:
    """Whether the loop body updates each carried buffer in place (yields its own memory)."""
    args = body.args[1:]
    if any(isinstance(o, memref.DeallocOp) and o.memref in args for o in body.walk()):
        return False
    return all(memory_root(v) is a for v, a in zip(body.last_op.operands, args)
               if isinstance(a.type, MemRefType))


def _parallel(fl, bounds, inits: list[SSAValue], body: Block, kinds: list[str]) -> list[SSAValue]:
    """The prange body as a ``loop.parallel``: shared buffers used directly, reductions named."""
    term = body.last_op
    reduced = [k for k, kind in enumerate(kinds) if kind != "shared"]
    body.insert_op_before(loop.YieldOp(*(term.operands[k] for k in reduced)), term)
    body.erase_op(term)
    for k in reversed(range(len(kinds))):
        if kinds[k] == "shared":
            arg = body.args[k + 1]
            arg.replace_all_uses_with(inits[k])
            body.erase_arg(arg)
    lb, ub, step = bounds
    par = fl.b.insert(loop.ParallelOp([lb], [ub], [step], body, [inits[k] for k in reduced],
                                      [kinds[k] for k in reduced]))
    par.attributes["ember.prange"] = UnitAttr()  # the user asked for threads (parallel-outline)
    results = list(inits)
    for k, r in zip(reduced, par.res):
        results[k] = r
    return results


def lower_while(fl, op: scf.WhileOp):
    inits = _loop_inits(fl, op, op.arguments)
    types = [lowered_type(v.type) for v in op.arguments]

    def before_finish(args):
        def finish(term: scf.ConditionOp, new):
            for v, a in zip(term.args, op.before_region.block.args):
                if v is not a:
                    raise CompilerError("tensor-to-loop: scf.condition must forward the "
                                        "before-region arguments unchanged")
            fl.close_scope(set())
            fl.b.insert(scf.ConditionOp(fl.value(term.condition), *args))
        return finish

    before = _lower_loop_region(fl, op.before_region.block, types, [], lambda n: None, before_finish)
    after = _lower_loop_region(fl, op.after_region.block, types, [], lambda n: None,
                               lambda args: _body_finish(fl, args, list(zip(
                                   op.before_region.block.args, op.results, op.after_region.block.args))))
    new = fl.b.insert(scf.WhileOp(inits, types, Region(before), Region(after)))
    for o, r in zip(op.results, new.results):
        _bind(fl, o, r, fl.temps)


def memory_root(ref: SSAValue) -> SSAValue:
    """The value whose memory ``ref`` is, seen through loops that update a carried
    buffer in place (the body yields its own argument) and ``if``s whose branches yield
    the same memory: an alloc, an argument, or ``ref``."""
    owner = ref.owner
    if isinstance(owner, scf.IfOp):
        k = ref.index
        roots = {memory_root(r.block.last_op.operands[k]) for r in (owner.true_region, owner.false_region)}
        if len(roots) == 1:
            return roots.pop()
    if isinstance(owner, scf.ForOp):
        k = ref.index
        if memory_root(owner.body.block.last_op.operands[k]) is owner.body.block.args[k + 1]:
            return memory_root(owner.iter_args[k])
    if isinstance(owner, scf.WhileOp):
        k = ref.index
        cond, body = owner.before_region.block, owner.after_region.block
        if cond.last_op.operands[k + 1] is cond.args[k] and \
                memory_root(body.last_op.operands[k]) is body.args[k]:
            return memory_root(owner.arguments[k])
    return ref


EMITTERS = {scf.IfOp: lower_if, scf.ForOp: lower_for_op, scf.WhileOp: lower_while}
