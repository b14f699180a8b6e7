"""Structured loops down to ``scf``, then to ``cf`` branches.

``loop-to-scf``: ``loop.for`` is an ``scf.for``; an n-D ``loop.parallel`` is a nest of
``scf.for`` with its accumulators threaded through every level as ``iter_args``
(sequential execution needs no combiner: the body already combines)::

    %r = loop.parallel (%i, %j) = (%a, %b) to (%n, %m) step (%c1, %c1)
           reduce(add) init(%acc = %z) -> (f32) { ... loop.yield %s : f32 }
  ->
    %r = scf.for %i = %a to %n step %c1 iter_args(%x = %z) -> (f32) {
      %q = scf.for %j = %b to %m step %c1 iter_args(%acc = %x) -> (f32) {
        ... scf.yield %s : f32
      }
      scf.yield %q : f32
    }

``expand-memref-copy``: ``memref.copy %src, %dst`` becomes a loop nest of loads and stores.

``lower-scf-to-cf``: xDSL's ``convert-scf-to-cf`` patterns (``scf.for``, ``scf.if``,
``scf.index_switch``) plus the missing ``scf.while``, applied in one walk so that nested
structured ops are lowered outside-in::

    %r = scf.while (%a = %x) : (i64) -> i64 {        cf.br ^before(%x : i64)
      %c = ... ; scf.condition(%c) %a : i64        ^before(%a: i64):  ... cf.cond_br %c, ^after(%a), ^end(%a)
    } do { ^bb0(%b: i64): ... scf.yield %y : i64 } ^after(%b: i64):   ... cf.br ^before(%y : i64)
                                                   ^end(%r: i64): ...
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, cf, memref, scf
from xdsl.dialects.builtin import DYNAMIC_INDEX, UNKNOWN_LOC, IndexType, ModuleOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern
from xdsl.rewriter import BlockInsertPoint, InsertPoint
from xdsl.transforms.convert_scf_to_cf import ForLowering, IfLowering, SwitchLowering

from ember.dialects import loop
from ember.lowering.llvm_common import walk_ops


def rewrite_outside_in(module: ModuleOp, patterns: dict[type[Operation], RewritePattern]) -> None:
    """Apply to each op its type's pattern, once, outer ops first. Enough for lowerings whose
    patterns move nested ops without rebuilding them; xDSL's ``PatternRewriteWalker`` walks
    the module again after any change until nothing matches, and asks every op whether it
    is dead, which cost three times as much on an MLP's ~1000 ops."""
    for op in [op for op in walk_ops(module) if type(op) in patterns]:
        patterns[type(op)].match_and_rewrite(op, PatternRewriter(op))


def _yield_to_scf(rewriter: PatternRewriter, block: Block) -> None:
    term = block.last_op
    assert isinstance(term, loop.YieldOp)
    rewriter.replace(term, _yield(*term.operands))


# ``scf.ForOp``/``scf.YieldOp`` without the constructors' argument checks (as many checks
# as the rest of these rewrites cost): the same ops.
def _yield(*values: SSAValue) -> scf.YieldOp:
    return scf.YieldOp.create(operands=values, location=UNKNOWN_LOC)


def _scf_for(lb: SSAValue, ub: SSAValue, step: SSAValue, inits, body: Region) -> scf.ForOp:
    return scf.ForOp.create(operands=(lb, ub, step, *inits), location=UNKNOWN_LOC,
                            result_types=[v.type for v in inits], regions=(body,))


class ForToScf(RewritePattern):
    """``loop.for`` -> ``scf.for`` with the same body."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: loop.ForOp, rewriter: PatternRewriter):
        body = rewriter.move_region_contents_to_new_regions(op.body)
        _yield_to_scf(rewriter, body.block)
        new = _scf_for(op.lb[0], op.ub[0], op.step[0], op.iter_args, body)
        rewriter.replace(op, new, new.results)


class ParallelToScf(RewritePattern):
    """``loop.parallel`` -> a nest of ``scf.for``, outermost dimension first."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: loop.ParallelOp, rewriter: PatternRewriter):
        n = len(op.lb)
        acc_types = [v.type for v in op.iter_args]
        body = op.body.block
        outer = [Block(arg_types=[IndexType(), *acc_types]) for _ in range(n - 1)]
        for d in reversed(range(n - 1)):
            body.args[d].replace_all_uses_with(outer[d].args[0])
            body.erase_arg(body.args[d])
        _yield_to_scf(rewriter, body)
        inner_body = rewriter.move_region_contents_to_new_regions(op.body)
        for d in reversed(range(n)):
            inits = outer[d - 1].args[1:] if d > 0 else op.iter_args
            inner = _scf_for(op.lb[d], op.ub[d], op.step[d], inits, inner_body)
            if d > 0:
                outer[d - 1].add_ops([inner, _yield(*inner.results)])
                inner_body = Region(outer[d - 1])
        rewriter.replace(op, inner, inner.results)


@dataclass(frozen=True)
class LoopToScfPass(ModulePass):
    """Lower the ``loop`` dialect to ``scf.for`` nests."""

    name = "loop-to-scf"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        rewrite_outside_in(op, {loop.ForOp: ForToScf(), loop.ParallelOp: ParallelToScf()})


class CopyToLoops(RewritePattern):
    """``memref.copy %src, %dst`` -> ``scf.for`` nest of ``memref.load``/``memref.store``."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: memref.CopyOp, rewriter: PatternRewriter):
        dst_type = op.destination.type
        zero, one = arith.ConstantOp.from_int_and_width(0, IndexType()), \
            arith.ConstantOp.from_int_and_width(1, IndexType())
        ops: list = [zero, one]
        bounds: list[SSAValue] = []
        for d, size in enumerate(dst_type.get_shape()):
            if size == DYNAMIC_INDEX:
                idx = arith.ConstantOp.from_int_and_width(d, IndexType())
                dim = memref.DimOp(op.destination, idx)
                ops += [idx, dim]
                bounds.append(dim.results[0])
            else:
                c = arith.ConstantOp.from_int_and_width(size, IndexType())
                ops.append(c)
                bounds.append(c.results[0])
        blocks = [Block(arg_types=[IndexType()]) for _ in bounds]
        ivs = [b.args[0] for b in blocks]
        innermost = blocks[-1] if blocks else None
        load = memref.LoadOp.get(op.source, ivs)
        store = memref.StoreOp.get(load.res, op.destination, ivs)
        if innermost is None:
            rewriter.replace(op, [load, store], [])
            return
        innermost.add_ops([load, store, scf.YieldOp()])
        nest = None
        for d in reversed(range(len(blocks))):
            nest = scf.ForOp(zero, bounds[d], one, [], blocks[d])
            if d > 0:
                blocks[d - 1].add_ops([nest, scf.YieldOp()])
        rewriter.replace(op, [*ops, nest], [])


@dataclass(frozen=True)
class ExpandMemrefCopyPass(ModulePass):
    """Expand ``memref.copy`` into explicit loops (any layouts, any rank)."""

    name = "expand-memref-copy"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        rewrite_outside_in(op, {memref.CopyOp: CopyToLoops()})


class WhileLowering(RewritePattern):
    """``scf.while`` -> ``^before``/``^after`` blocks joined by ``cf`` branches."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: scf.WhileOp, rewriter: PatternRewriter):
        init_block = op.parent_block()
        assert init_block is not None
        end_block = init_block.split_before(op)
        for i, t in enumerate(op.result_types):
            rewriter.insert_block_argument(end_block, i, t)
        before, after = op.before_region.first_block, op.after_region.first_block
        cond = op.before_region.last_block.last_op
        assert isinstance(cond, scf.ConditionOp)
        rewriter.replace(cond, cf.ConditionalBranchOp(cond.condition, after, cond.args,
                                                         end_block, cond.args))
        yield_ = op.after_region.last_block.last_op
        rewriter.replace(yield_, cf.BranchOp(before, *yield_.operands))
        rewriter.inline_region(op.before_region, BlockInsertPoint.before(end_block))
        rewriter.inline_region(op.after_region, BlockInsertPoint.before(end_block))
        rewriter.insert(cf.BranchOp(before, *op.arguments), InsertPoint.at_end(init_block))
        rewriter.replace(op, [], end_block.args)


@dataclass(frozen=True)
class LowerScfToCfPass(ModulePass):
    """``convert-scf-to-cf`` plus ``scf.while``, in a single outside-in walk."""

    name = "lower-scf-to-cf"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        rewrite_outside_in(op, {scf.IndexSwitchOp: SwitchLowering(), scf.IfOp: IfLowering(),
                                scf.ForOp: ForLowering(), scf.WhileOp: WhileLowering()})
