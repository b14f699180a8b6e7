"""A plugin for ember-opt --load-plugin: registers one pass."""

from dataclasses import dataclass

from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern

import ember.registry
from ember.dialects import etensor as T


class _Double(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: T.ExpOp, rewriter: PatternRewriter):
        if "done" not in op.attributes:
            from xdsl.dialects.builtin import UnitAttr
            first = T.ExpOp(op.input)
            first.attributes["done"] = UnitAttr()
            second = T.ExpOp(first.result)
            second.attributes["done"] = UnitAttr()
            rewriter.replace(op, [first, second])


@ember.registry.register_pass
@dataclass(frozen=True)
class DoubleExp(ModulePass):
    """Replace etensor.exp by two of them (a toy user pass)."""

    name = "double-exp"

    def apply(self, ctx, op):
        PatternRewriteWalker(_Double(), apply_recursively=False).rewrite_module(op)
