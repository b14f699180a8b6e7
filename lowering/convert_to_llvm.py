"""``convert-to-llvm``: ``func-to-llvm``, ``memref-to-llvm``, ``vector-to-llvm``,
``arith-to-llvm``, ``math-to-llvm`` and ``reconcile-unrealized-casts`` in one walk.

The six passes each walk the whole module with xDSL's pattern rewriter and meet at
``unrealized_conversion_cast`` seams; on the ~2000-op module of an MLP that cost about
0.14 s. This pass visits each op once, in dominance order, with the same rule tables
(``arith_to_llvm._RULES``, ...): a rule gets the op's operands already converted (looked
up in a map from old values to new ones) and emits the LLVM ops before it. No cast is
made, so none has to be reconciled. Each distinct constant is made once per function, at the
top, each descriptor field is read once, where the descriptor is defined, and index
arithmetic folds those constants (``x[1, i]`` reads at ``n1 + i``, not ``1 * n1 + i``).
Otherwise the ops are those of the six passes, which stay for ``ember-opt`` and their lit
tests (``tests/test_convert_to_llvm.py`` checks both routes on random programs)::

    func.func @f(%x: memref<?xf32>) -> memref<?xf32> attributes {ember.entry} { ... }
  ->
    llvm.func @f(%x: !llvm.ptr, %alloc_result: !llvm.ptr, %alloc_ctx: !llvm.ptr) -> i32 attributes {ember.entry} { ... }

It runs after ``lower-scf-to-cf`` (blocks and ``cf`` branches only) and ``parallel-outline``.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, cf, func, llvm
from xdsl.dialects.builtin import (FloatAttr, IntegerAttr, MemRefType, ModuleOp, UnitAttr,
                                   UnrealizedConversionCastOp)
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.transforms.reconcile_unrealized_casts import ReconcileUnrealizedCastsPass

from ember.lowering import arith_to_llvm, math_to_llvm, memref_to_llvm, vector_to_llvm
from ember.lowering.func_to_llvm import (_result_type, emit_return, _unpack_array, _unpack_scalar, abi_type,
                                         is_entry)
from ember.lowering.llvm_common import (PTR, Emitter, Int, br, cond_br, i32, i64, int_attr,
                                        llvm_type, make, position, walk_ops)

RULES = {**arith_to_llvm._RULES, **math_to_llvm._RULES, **memref_to_llvm._RULES,  # noqa: SLF001
         **vector_to_llvm._RULES}  # noqa: SLF001


def _rpo(first: Block) -> list[Block]:
    """The blocks reachable from ``first`` in reverse post-order: each after its dominators."""
    seen, order, stack = {first}, [], [(first, iter(first.last_op.successors if first.last_op else ()))]
    while stack:
        block, succs = stack[-1]
        nxt = next(succs, None)
        if nxt is None:
            order.append(block)
            stack.pop()
        elif nxt not in seen:
            seen.add(nxt)
            stack.append((nxt, iter(nxt.last_op.successors if nxt.last_op else ())))
    order.reverse()
    return order


class _FunctionEmitter(Emitter):
    """An emitter whose constants and descriptor reads are shared by the whole function:
    each distinct constant is made once at the top of the entry block, each
    ``extractvalue`` of a descriptor once, right after the descriptor is defined (so it
    dominates every use). Fewer ops to build, print and hand to LLVM."""

    def __init__(self, conv: _Function):
        super().__init__()
        self.conv = conv

    def value(self, x: Int, t: Attribute = i64) -> SSAValue:
        return self.conv.constant(x, t) if isinstance(x, int) else x

    def entry_constant(self, block: Block, x: int, t: Attribute = i64) -> SSAValue:
        return self.conv.constant(x, t)

    def add(self, a: Int, b: Int) -> Int:  # index arithmetic folds constants seen as SSA values
        ints = self.conv.ints
        return super().add(ints.get(a, a), ints.get(b, b))

    def mul(self, a: Int, b: Int) -> Int:
        ints = self.conv.ints
        return super().mul(ints.get(a, a), ints.get(b, b))

    def extract(self, struct: SSAValue, pos, t: Attribute) -> SSAValue:
        if isinstance(struct.owner, Operation) and struct.owner.parent is None:
            return super().extract(struct, pos, t)  # made by this very rewrite
        return self.conv.extract(struct, tuple(pos), t)


class _Function:
    """The conversion of one ``func.func``: the old-to-new value map and what to erase."""

    def __init__(self, fn: func.FuncOp):
        self.fn = fn
        self.entry = is_entry(fn)
        self.vmap: dict[SSAValue, SSAValue] = {}
        self.dead: list[Operation] = []
        self.casts: list[Operation] = []
        self.top: Operation | None = None  # constants go before it, in the entry block
        self.entry_block: Block | None = None
        self.constants: dict[tuple, SSAValue] = {}
        self.ints: dict[SSAValue, int] = {}  # the i64 constants among them
        self.extracts: dict[tuple, SSAValue] = {}

    def constant(self, value, t: Attribute) -> SSAValue:
        key = (value, t)
        v = self.constants.get(key)
        if v is None:
            attr = int_attr(value, t) if isinstance(value, int) else value
            op = make(llvm.ConstantOp, (), t, {"value": attr})
            if self.top is not None:
                self.entry_block.insert_op_before(op, self.top)
            else:
                self.entry_block.add_op(op)
            v = self.constants[key] = op.result
            if t == i64 and isinstance(value, int):
                self.ints[v] = value
        return v

    def extract(self, struct: SSAValue, pos: tuple, t: Attribute) -> SSAValue:
        key = (struct, pos)
        v = self.extracts.get(key)
        if v is None:
            op = make(llvm.ExtractValueOp, (struct,), t, {"position": position(pos)})
            owner = struct.owner
            if isinstance(owner, Block):
                owner.insert_op_before(op, owner.first_op) if owner.first_op else owner.add_op(op)
            else:
                owner.parent_block().insert_op_after(op, owner)
            v = self.extracts[key] = op.results[0]
        return v

    def mapped(self, op: Operation) -> list[SSAValue]:
        vmap = self.vmap
        return [vmap.get(v, v) for v in op.operands]

    def run(self) -> llvm.FuncOp:
        fn = self.fn
        ft = fn.function_type
        blocks = list(fn.body.blocks)
        old_args = [a for b in blocks for a in b.args]
        if self.entry:
            fn_type = self._entry_signature(blocks[0])
        else:
            fn_type = llvm.LLVMFunctionType([llvm_type(t) for t in ft.inputs],
                                            _result_type(list(ft.outputs)))
        for i, block in enumerate(blocks):
            if i > 0 or not self.entry:
                self._retype_args(block)
        self._lower_asserts()
        public = self.entry or not blocks
        new = llvm.FuncOp(fn.sym_name.data, fn_type,
                          linkage=llvm.LinkageAttr("external" if public else "internal"),
                          body=fn.detach_region(fn.body))
        if self.entry:
            new.attributes["ember.entry"] = UnitAttr()
            if "ember.returns_argument" in fn.attributes:  # read by the caller (abi)
                new.attributes["ember.returns_argument"] = fn.attributes["ember.returns_argument"]
        fn.parent_block().insert_op_before(new, fn)
        fn.parent_block().erase_op(fn)
        if new.body.blocks:
            self.entry_block = new.body.blocks.first
            self.top = self.entry_block.first_op
            order = _rpo(new.body.blocks.first)
            reached = set(order)
            order += [b for b in new.body.blocks if b not in reached]  # unreachable: any order
            for block in order:
                for op in list(block.ops):
                    self.convert(op)
        for op in self.dead:  # every user of a dead op is dead too (or was remapped)
            op.parent_block().detach_op(op)
        for op in self.dead:
            op.drop_all_references()
        for arg in old_args:
            if arg.block is not None and arg in self.vmap:
                arg.block.erase_arg(arg)
        return new

    # -- signature and blocks ---------------------------------------------------------------

    def _entry_signature(self, block: Block) -> llvm.LLVMFunctionType:
        """The Python ABI (see ``func-to-llvm``): unpack each argument, map the old one to it."""
        e = Emitter()
        for arg in list(block.args):
            new = block.insert_arg(abi_type(arg.type), len(block.args))
            new.name_hint = arg.name_hint
            self.vmap[arg] = (_unpack_array(e, new, arg.type) if isinstance(arg.type, MemRefType)
                              else _unpack_scalar(e, new, arg.type))
        block.insert_arg(PTR, len(block.args)).name_hint = "alloc_result"
        block.insert_arg(PTR, len(block.args)).name_hint = "alloc_ctx"
        if e.ops:
            block.insert_ops_before(e.ops, block.first_op) if block.first_op else block.add_ops(e.ops)
        return llvm.LLVMFunctionType([a.type for a in block.args[len(self.vmap):]], i32)

    def _retype_args(self, block: Block) -> None:
        for arg in list(block.args):
            lt = llvm_type(arg.type)
            if lt != arg.type:
                new = block.insert_arg(lt, arg.index + 1)  # takes its place once it is erased
                new.name_hint = arg.name_hint
                self.vmap[arg] = new

    def _lower_asserts(self) -> None:
        """As ``func-to-llvm``: in an entry, ``cond_br %ok, ^continue, ^fail``; ``^fail:
        return k``; elsewhere dropped. Done first, since it splits blocks."""
        for op in [o for o in walk_ops(self.fn) if type(o) is cf.AssertOp]:
            block = op.parent_block()
            if self.entry and "ember.assert_id" in op.attributes:
                rest = block.split_before(op)
                fail = Block()
                status = llvm.ConstantOp(IntegerAttr(op.attributes["ember.assert_id"].value.data,
                                                     i32), i32)
                fail.add_ops([status, llvm.ReturnOp(status.result)])
                block.parent_region().insert_block_after(fail, block)
                block.add_op(llvm.CondBrOp(op.arg, rest, (), fail, ()))
                op = rest.first_op
                rest.detach_op(op)
            else:
                block.detach_op(op)
            op.erase(safe_erase=False)

    # -- ops ----------------------------------------------------------------------------------

    def convert(self, op: Operation) -> None:
        rule = RULES.get(type(op))
        if rule is not None:
            if type(op) is arith.ConstantOp:
                value = op.properties["value"]
                if isinstance(value, _NUMBERS):
                    result = op.results[0]
                    self.vmap[result] = self.constant(
                        value.value.data if isinstance(value, IntegerAttr) else value,
                        llvm_type(result.type))
                    self.dead.append(op)
                    return
            e = _FunctionEmitter(self)
            result = rule(op, self.mapped(op), e)
            if isinstance(result, int):
                result = e.value(result)
            self._replace(op, e.ops, [] if result is None else [result])
            return
        if type(op) is llvm.ConstantOp and isinstance(op.value, _NUMBERS):
            self._share_constant(op)  # made by parallel-outline
            return
        special = _SPECIAL.get(type(op))
        if special is not None:
            special(self, op)
            return
        if isinstance(op, UnrealizedConversionCastOp):
            src = self.vmap.get(op.inputs[0], op.inputs[0])
            if len(op.inputs) == 1 and src.type == llvm_type(op.results[0].type):
                self.vmap[op.results[0]] = src
                self.dead.append(op)
                return
            self.casts.append(op)
        if any(v in self.vmap for v in op.operands):  # an llvm op (from parallel-outline)
            op.operands = self.mapped(op)

    def _share_constant(self, op: llvm.ConstantOp) -> None:
        value = op.value.value.data if isinstance(op.value, IntegerAttr) else op.value
        key = (value, op.result.type)
        if key in self.constants:
            self.vmap[op.result] = self.constants[key]
            self.dead.append(op)
        elif op.parent_block() is self.entry_block:  # dominates every later use
            self.constants[key] = op.result
            if key[1] == i64 and isinstance(value, int):
                self.ints[op.result] = value

    def _replace(self, op: Operation, new_ops: list[Operation], results: list[SSAValue]) -> None:
        if new_ops:  # (new ops: their results have no name yet)
            op.parent_block().insert_ops_before(new_ops, op)
        for old, new in zip(op.results, results, strict=True):
            self.vmap[old] = new
            if new.owner in new_ops:
                new.name_hint = old.name_hint
        self.dead.append(op)

    def _return(self, op: func.ReturnOp) -> None:
        e = _FunctionEmitter(self)
        emit_return(e, op, self.entry, [] if self.entry else self.mapped(op))
        self._replace(op, e.ops, [])

    def _call(self, op: func.CallOp) -> None:
        e = _FunctionEmitter(self)
        types = list(op.result_types)
        out = e.call(op.callee.string_value(), self.mapped(op),
                     None if not types else _result_type(types))
        results = [out] if len(types) == 1 else \
            [e.extract(out, [i], llvm_type(t)) for i, t in enumerate(types)]
        self._replace(op, e.ops, results)

    def _branch(self, op: cf.BranchOp) -> None:
        self._replace(op, [br(op.successor, [self.vmap.get(v, v) for v in op.arguments])], [])

    def _cond_branch(self, op: cf.ConditionalBranchOp) -> None:
        m = self.vmap.get
        self._replace(op, [cond_br(m(op.cond, op.cond), op.then_block,
                                   [m(v, v) for v in op.then_arguments], op.else_block,
                                   [m(v, v) for v in op.else_arguments])], [])


_NUMBERS = (IntegerAttr, FloatAttr)
_SPECIAL = {func.ReturnOp: _Function._return, func.CallOp: _Function._call,
            cf.BranchOp: _Function._branch, cf.ConditionalBranchOp: _Function._cond_branch}


@dataclass(frozen=True)
class ConvertToLLVMPass(ModulePass):
    """``func``/``cf``/``memref``/``vector``/``arith``/``math`` to ``llvm`` in one walk."""

    name = "convert-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        casts = []
        for fn in list(op.ops):
            if isinstance(fn, func.FuncOp):
                conversion = _Function(fn)
                conversion.run()
                casts += conversion.casts
        memref_to_llvm._check_allocations(op)  # noqa: SLF001
        if casts:
            ReconcileUnrealizedCastsPass().apply(ctx, op)
