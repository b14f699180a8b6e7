"""Epilogue fusion for ``tensor-to-loop``: a packed matmul applies the elementwise ops that
consume its result to each finished tile, as it writes the tile back.

    %0 = etensor.matmul %x, %w1 : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
    %1 = etensor.add %0, %b1 : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
    %5 = etensor.maximum %1, %4 : (tensor<?x?xf32>, tensor<f32>) -> tensor<?x?xf32>

is one packed matmul writing ``%5``: at the last ``k`` slice, each element of ``C`` gets
``maximum(sum + b1[j], 0)``, so the result is written once and ``%0``, ``%1`` get no buffer
and no loop nest. The *chain* (``%1``, ``%5``) is found in the tensor IR: starting from the
matmul, each value has exactly one user, an elementwise op in the same block with the
matmul's shape; its last op has the matmul's element type (``C`` holds the partial sums of
the earlier ``k`` slices). No op between the matmul and the chain's end may write memory.

No second code generator: the matmul's result becomes a lazy value (a :class:`Hole`) that
the chain's ops fuse as they fuse any lazy operand (``tensor_ops._elementwise``), and the
chain's last op, instead of emitting a loop nest, hands its element function to the
matmul (``fl.epilogues``). The epilogue computes the ops the unfused loop nest computes,
on the same finished sum, so both give the same bits.

Off by default (``tensor-to-loop{fuse_epilogue=true}`` turns it on): it measured no faster
than the separate loop nest, and a matmul with an epilogue no longer shares its outlined
task function with the module's other matmuls (the MLP's cold compile: +260 ms). See
docs/matmul.md.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.builder import Builder
from xdsl.ir import Operation, SSAValue

from ember.dialects import etensor as T
from ember.dialects import shapes as S

#: ops that compute an element from the elements at the same index (``_elementwise``)
ELEMENTWISE = (*T.BINARY_OPS, *T.COMPARE_OPS, *T.UNARY_OPS, T.CastOp, T.WhereOp)


def chain(op: T.MatmulOp) -> list[Operation]:
    """The elementwise ops the matmul ``op`` can apply to its result (empty: none)."""
    from ember.lowering.tensor_to_loop import WRITES_MEMORY

    result, shape, t = op.result, S.shape_of(op.result.type), op.result.type.element_type
    ops = list(op.parent_block().ops)
    after = ops[ops.index(op) + 1:]
    links: list[Operation] = []
    value = result
    while True:
        users = {use.operation for use in value.uses}
        if len(users) != 1:
            break
        user = users.pop()
        if not isinstance(user, ELEMENTWISE) or user.parent_block() is not op.parent_block() \
                or S.shape_of(user.results[0].type) != shape:
            break
        if any(type(o) in WRITES_MEMORY for o in after[:after.index(user)]):
            break  # a write would materialise the lazy links before the matmul could run
        links.append(user)
        value = user.results[0]
    while links and links[-1].results[0].type.element_type != t:
        links.pop()  # C holds the partial sums: the chain must end in the matmul's type
    return links


class Hole:
    """The lazy element function of a deferred matmul's result: inside the epilogue, the
    finished sum being written back (``value``); nowhere else is it read."""

    def __init__(self):
        self.value: SSAValue | None = None

    def __call__(self, b: Builder, idx: list[SSAValue]) -> SSAValue:
        assert self.value is not None, "a fused matmul result was read outside its epilogue"
        return self.value


def defer(fl, op: T.MatmulOp, links: list[Operation], sizes: list[SSAValue],
          emit: Callable[[object, Callable | None], None]) -> None:
    """Lower ``op`` at the end of its chain: its result is a :class:`Hole` until then, and
    the chain's last op calls ``fl.epilogues[last](element, sizes)`` with its element
    function; ``emit(out, epilogue)`` then emits the matmul into ``out``."""
    from ember.lowering.tensor_to_loop import Buffer

    hole = Hole()
    fl.bufs[op.result] = Buffer(None, list(sizes), None, lazy=hole, ttype=op.result.type)
    last = links[-1]

    def finish(element: Callable[[Builder, list[SSAValue]], SSAValue], out_sizes):
        inner = {fl.bufs[link.results[0]].lazy for link in links[:-1]}
        fl.pending[:] = [p for p in fl.pending if p.lazy not in inner]  # consumed here
        out = fl.alloc(S.shape_of(last.results[0].type), out_sizes, last.results[0].type.element_type)

        def epilogue(b: Builder, idx: list[SSAValue], value: SSAValue) -> SSAValue:
            hole.value = value
            try:
                return element(b, idx)
            finally:
                hole.value = None
        emit(out, epilogue)
        return out

    fl.epilogues[last] = finish
    fl.epilogue_ops.update(links)
