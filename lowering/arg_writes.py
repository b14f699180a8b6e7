"""Which arguments of an entry function it writes into, and which tensors may be their memory.

An element write ``x[i] = v`` into an argument changes the caller's array, as in Python.
At the tensor stage that write is an ``etensor.insert`` (value semantics); bufferization
(``tensor-to-loop``) does it in place in the argument's buffer. This module follows the
argument tensors through inserts and the ``scf`` ops that carry them, so that bufferization
can tell which writes must land in a caller's array, and the runtime which arguments a call
may write (``ember.written``: read-only arrays and overlapping arguments are refused)::

    func.func @f(%x: tensor<?xf64>, %n: i64) {
      %r = scf.for ... iter_args(%a = %x) {        // %a, %r: may be %x's memory
        %b = etensor.insert %v, %a[%i]             // %b: may be %x's memory; %x is written
        scf.yield %b
      } ...
"""

from __future__ import annotations

from xdsl.dialects import func, scf
from xdsl.dialects.builtin import MemRefType, TensorType
from xdsl.ir import SSAValue

from ember.dialects import etensor as T
from ember.dialects import shapes as S


def _is_array(v: SSAValue) -> bool:
    t = v.type
    return isinstance(t, MemRefType) or (isinstance(t, TensorType) and bool(S.shape_of(t)))


def _edges(fop: func.FuncOp) -> dict[SSAValue, list[SSAValue]]:
    """value -> the values whose memory it may be: an insert's result and its destination, a
    loop's carried values, inits, yields and results, an ``if``'s results and its branches'
    yields."""
    edges: dict[SSAValue, list[SSAValue]] = {}  # value -> values whose memory it may be

    def link(dst: SSAValue, src: SSAValue):
        if _is_array(dst) and _is_array(src):
            edges.setdefault(dst, []).append(src)

    for op in fop.walk():
        if isinstance(op, T.InsertOp):
            link(op.result, op.dest)
        elif isinstance(op, scf.IfOp):
            for region in (op.true_region, op.false_region):
                if region.blocks:
                    for r, y in zip(op.results, region.block.last_op.operands):
                        link(r, y)
        elif isinstance(op, scf.ForOp):
            body = op.body.block
            for k, (init, r) in enumerate(zip(op.iter_args, op.results)):
                arg, y = body.args[k + 1], body.last_op.operands[k]
                link(arg, init)
                link(arg, y)
                link(r, init)
                link(r, y)
        elif isinstance(op, scf.WhileOp):
            before, after = op.before_region.block, op.after_region.block
            cond = before.last_op
            for k, init in enumerate(op.arguments):
                link(before.args[k], init)
                link(before.args[k], after.last_op.operands[k])
            for k, (r, a) in enumerate(zip(op.results, after.args)):
                link(r, cond.args[k])
                link(a, cond.args[k])

    return edges


def analyse(fop: func.FuncOp) -> tuple[dict[SSAValue, frozenset[int]], set[int], set[SSAValue]]:
    """``(argument_flow, written_arguments, written_values)`` of ``fop``, from one walk."""
    edges = _edges(fop)
    flow = argument_flow(fop, edges)
    return flow, set(written_arguments(fop, flow)), written_values(fop, edges)


def argument_flow(fop: func.FuncOp, edges=None) -> dict[SSAValue, frozenset[int]]:
    """For each tensor (or, after bufferization, memref) of ``fop`` that may share memory
    with entry arguments: their positions (a fixed point over ``_edges``)."""
    edges = _edges(fop) if edges is None else edges
    flow: dict[SSAValue, frozenset[int]] = {
        a: frozenset([k]) for k, a in enumerate(fop.args) if _is_array(a)}
    changed = True
    while changed:
        changed = False
        for dst, srcs in edges.items():
            got = flow.get(dst, frozenset()).union(*(flow.get(s, frozenset()) for s in srcs))
            if got != flow.get(dst, frozenset()):
                flow[dst] = got
                changed = True
    return flow


def written_arguments(fop: func.FuncOp, flow: dict[SSAValue, frozenset[int]] | None = None) -> list[int]:
    """The positions of the arguments an element write may change (sorted)."""
    flow = argument_flow(fop) if flow is None else flow
    found: set[int] = set()
    for op in fop.walk():
        if isinstance(op, T.InsertOp):
            found |= flow.get(op.dest, frozenset())
    return sorted(found)


def written_values(fop: func.FuncOp, edges=None) -> set[SSAValue]:
    """The tensors an element write may change in place: each insert's destination and the
    values whose memory that may be (a loop's init, when its body writes the carried value)."""
    edges = _edges(fop) if edges is None else edges
    work = [op.dest for op in fop.walk() if isinstance(op, T.InsertOp)]
    seen: set[SSAValue] = set(work)
    while work:
        for src in edges.get(work.pop(), ()):
            if src not in seen:
                seen.add(src)
                work.append(src)
    return seen
