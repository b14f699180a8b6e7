"""``canonicalize`` of the loop stage: xDSL's canonicalize, minus the loops ember generates
in their final form.

``tensor-to-loop`` writes a packed matmul as one ``loop.parallel`` of about 380 ops (packing,
micro-kernel, write-back: ``ember.lowering.matmul_packed``) and marks it ``ember.generated``.
Nothing in it is for canonicalize to fold: its index arithmetic is built folded, it has no
checks, no element accesses of the script frontend, nothing dead. Yet xDSL's canonicalize
visits every op (about 22 us each), and the MLP's two matmuls made canonicalize the slowest
Python pass of its first call (28-31 ms of about 340).

This pass applies the same patterns (``CanonicalizationRewritePattern`` with folding) and then
removes dead ops, like ``xdsl.transforms.canonicalize.CanonicalizePass``, but neither walks
into a marked op: the op itself is visited (an unused marked loop would still go), its
regions are not. Patterns that a change outside queues on an op inside (a replaced operand's
users) still run, as they would in xDSL's walk.

One pattern is added, which MLIR's canonicalize has and xDSL's lacks (``ForOpIterArgsFolder``
in MLIR): an ``scf.for`` stops carrying a value it yields unchanged (its own block argument,
or its initial value). The script frontend carries every name of an array a loop may write
(``acc = x; for ...: acc = acc * 2`` carries ``x`` too, unchanged), and tensor-to-loop gives
each carried tensor a buffer of the loop's own: a copy of ``x`` at every entry. Without marks,
and apart from that pattern, the two passes do the same.

Dead code: xDSL's ``region_dce`` propagates liveness through the whole region (dead blocks,
dead cycles through block arguments). Here a reverse walk erases trivially dead ops (no used
results, no effects beyond them) until none is left. The loop stage has single-block regions
(``loop``, ``scf``), where the two agree.
"""

from __future__ import annotations

from collections.abc import Iterator

from xdsl.context import Context
from xdsl.dialects import scf
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation, Region
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (GreedyRewritePatternApplier, PatternRewriter,
                                   PatternRewriterListener, PatternRewriteWalker, RewritePattern,
                                   op_type_rewrite_pattern)
from xdsl.transforms.canonicalize import CanonicalizationRewritePattern
from xdsl.transforms.dead_code_elimination import is_trivially_dead

#: Marks an op whose regions ember generated in their final form (see the module docstring).
GENERATED = "ember.generated"


def walk_outside(root: Operation | Region | Block, *, reverse: bool = False,
                 region_first: bool = False) -> Iterator[Operation]:
    """``root.walk(...)`` (same order) without the ops nested in ``ember.generated`` ops."""
    if isinstance(root, Operation):
        if not region_first:
            yield root
        if GENERATED not in root.attributes:
            for region in reversed(root.regions) if reverse else root.regions:
                yield from walk_outside(region, reverse=reverse, region_first=region_first)
        if region_first:
            yield root
    elif isinstance(root, Region):
        for block in reversed(root.blocks) if reverse else root.blocks:
            yield from walk_outside(block, reverse=reverse, region_first=region_first)
    else:
        for op in reversed(root.ops) if reverse else root.ops:
            yield from walk_outside(op, reverse=reverse, region_first=region_first)


def erase_dead(region: Region, listener: PatternRewriterListener | None = None) -> bool:
    """Erase the trivially dead ops outside ``ember.generated`` ops, users first, until none
    is left; whether any was."""
    changed = False
    while True:
        dead = [op for op in walk_outside(region, reverse=True, region_first=True)
                if op.parent is not None and is_trivially_dead(op)]
        if not dead:
            return changed
        for op in dead:
            if op.parent is None or not is_trivially_dead(op):  # (its user went first)
                continue
            if listener is not None:
                listener.handle_operation_removal(op)
            op.parent.erase_op(op, safe_erase=False)
            changed = True


class FoldUnchangedCarries(RewritePattern):
    """``scf.for`` values yielded unchanged stop being carried::

        %r:2 = scf.for %i = %a to %b step %s iter_args(%p = %x, %q = %y) -> (T, U) {
          ... %q ...
          scf.yield %v, %q : T, U          (or: scf.yield %v, %y)
        }
      ->
        %r = scf.for %i = %a to %b step %s iter_args(%p = %x) -> (T) {
          ... %y ...
          scf.yield %v : T
        }                                  (uses of %r#1 read %y)
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: scf.ForOp, rewriter: PatternRewriter) -> None:
        block = op.body.block
        term = block.last_op
        if not isinstance(term, scf.YieldOp):
            return
        carried = block.args[1:]
        keep = [k for k, (arg, init, out) in enumerate(zip(carried, op.iter_args, term.operands))
                if out is not arg and out is not init]
        if len(keep) == len(carried):
            return
        inits = list(op.iter_args)
        rewriter.replace(term, scf.YieldOp(*(term.operands[k] for k in keep)))
        for k in reversed(range(len(carried))):
            if k not in keep:
                rewriter.replace_all_uses_with(carried[k], inits[k])
                rewriter.replace_all_uses_with(op.results[k], inits[k])
                rewriter.erase_block_argument(carried[k])
        body = op.detach_region(op.body)
        new = scf.ForOp(op.lb, op.ub, op.step, [inits[k] for k in keep], body)
        rewriter.replace(op, new, [new.results[keep.index(k)] if k in keep else None
                                      for k in range(len(carried))])


class _Walker(PatternRewriteWalker):
    def _populate_worklist(self, op: Operation | Region | Block) -> None:
        for sub_op in walk_outside(op, reverse=not self.walk_reverse,
                                   region_first=not self.walk_regions_first):
            self._worklist.push(sub_op)


class CanonicalizePass(ModulePass):
    """xDSL's canonicalize, plus :class:`FoldUnchangedCarries`, that leaves
    ``ember.generated`` loops alone."""

    name = "canonicalize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        pattern = GreedyRewritePatternApplier([CanonicalizationRewritePattern(),
                                               FoldUnchangedCarries()], ctx=ctx,
                                              folding_enabled=True)
        _Walker(pattern, post_walk_func=erase_dead).rewrite_module(op)
