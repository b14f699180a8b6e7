"""``func-to-llvm``: functions, calls, returns and ``cf`` branches; the entry-function ABI.

Internal functions take and return memref descriptors by value (several results as one
struct) and get ``internal`` linkage.  A ``func.func`` marked ``ember.entry`` is called from
Python and gets the C ABI described in ``ember.lowering.abi``::

    func.func @f(%x: memref<?xf32>, %s: f32) -> memref<?xf32> attributes {ember.entry}
  ->
    llvm.func @f(%x: !llvm.ptr, %s: f64, %alloc_result: !llvm.ptr, %alloc_ctx: !llvm.ptr) -> i32 attributes {ember.entry}
      (the PyArrayObject* %x is unpacked into a descriptor; func.return becomes return 0)

``cf.assert`` in an entry function returns its 1-based number (``ember.assert_id``, set by
``number-asserts``) as the status when it fails.  Elsewhere asserts are dropped: an internal
function has no status channel yet, so execution simply continues.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import cf, func, llvm
from xdsl.dialects.builtin import (
    Float32Type,
    Float64Type,
    IntegerAttr,
    IntegerType,
    MemRefType,
    ModuleOp,
    UNKNOWN_LOC,
    UnitAttr,
    UnrealizedConversionCastOp,
    f64,
    i8,
)
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint, Rewriter

from ember.lowering.llvm_common import (PTR, Emitter, cast_to, element_bytes, i32, i64,
                                        is_strided, llvm_operands, llvm_type, replace, walk_ops)
from ember.lowering.abi import NUMPY_ARRAY_LAYOUT
from ember.lowering.memref_to_llvm import build_descriptor



def is_entry(fn: Operation) -> bool:
    return "ember.entry" in fn.attributes


def _enclosing_function(op: Operation) -> Operation:
    parent = op.parent_op()
    while not isinstance(parent, (func.FuncOp, llvm.FuncOp)):
        parent = parent.parent_op()
    return parent


def abi_type(t: Attribute) -> Attribute:
    """Entry parameter types: arrays are ``PyArrayObject*``; floats double; ints i64; i1 i8."""
    if isinstance(t, MemRefType):
        return PTR
    if isinstance(t, (Float32Type, Float64Type)):
        return f64
    if isinstance(t, IntegerType) and t.width.data == 1:
        return i8
    return i64


def _unpack_array(e: Emitter, obj: SSAValue, t: MemRefType) -> SSAValue:
    """A descriptor from the fields of a numpy array object (sizes static where known)."""
    def field(name: str) -> SSAValue:
        return e.load(e.gep(obj, NUMPY_ARRAY_LAYOUT[name], i8), PTR)

    shape = t.get_shape()
    dims = field("dimensions") if any(n < 0 for n in shape) else None
    sizes = [e.load(e.gep(dims, d, i64), i64) if n < 0 else n for d, n in enumerate(shape)]
    strides = None
    if is_strided(t):
        byte_strides = field("strides")
        esize = e.value(element_bytes(t.element_type))
        strides = [e.emit(llvm.SDivOp(e.load(e.gep(byte_strides, d, i64), i64), esize,
                                      is_exact=UnitAttr())) if s is None else s
                   for d, s in enumerate(t.layout.get_strides())]
    return build_descriptor(e, t, field("data"), sizes, strides)


def _unpack_scalar(e: Emitter, arg: SSAValue, t: Attribute) -> SSAValue:
    lt = llvm_type(t)
    if arg.type == lt:
        return arg
    if isinstance(lt, Float32Type):
        return e.emit(llvm.FPTruncOp(arg, lt))
    return e.emit(llvm.TruncOp(arg, lt))


def _lower_entry_signature(op: func.FuncOp) -> llvm.LLVMFunctionType:
    """Give the entry block the ABI parameters and unpack them into the old arguments."""
    block = op.body.blocks.first
    old_args = list(block.args)
    e = Emitter()
    new_values = []
    for arg in old_args:
        new = block.insert_arg(abi_type(arg.type), len(block.args))
        new.name_hint = arg.name_hint
        v = (_unpack_array(e, new, arg.type) if isinstance(arg.type, MemRefType)
             else _unpack_scalar(e, new, arg.type))
        new_values.append(v)
    block.insert_arg(PTR, len(block.args)).name_hint = "alloc_result"
    block.insert_arg(PTR, len(block.args)).name_hint = "alloc_ctx"
    for arg, v in zip(old_args, new_values):
        if v.type != arg.type:
            cast = UnrealizedConversionCastOp.get([v], [arg.type])
            e.ops.append(cast)
            v = cast.results[0]
        arg.replace_all_uses_with(v)
        block.erase_arg(arg)
    if e.ops:
        block.insert_ops_before(e.ops, block.first_op) if block.first_op else block.add_ops(e.ops)
    return llvm.LLVMFunctionType([a.type for a in block.args], i32)


def _retype_block_args(block: Block) -> None:
    """Give block arguments their LLVM types; old users see them through a cast."""
    for arg in list(block.args):
        lt = llvm_type(arg.type)
        if lt == arg.type:
            continue
        old_type, uses = arg.type, list(arg.uses)
        new = Rewriter.replace_value_with_new_type(arg, lt)
        cast = UnrealizedConversionCastOp.get([new], [old_type])
        block.insert_op_before(cast, block.first_op) if block.first_op else block.add_op(cast)
        for use in uses:
            use.operation.operands[use.index] = cast.results[0]


def emit_return(e: Emitter, op: func.ReturnOp, entry: bool, vals: list[SSAValue]) -> None:
    """The ``llvm.return`` of ``op``: an entry returns status 0 (its results went out through
    the ABI); another function returns its one value, or its values packed in a struct."""
    if entry:
        e.ops.append(llvm.ReturnOp.create(operands=(e.value(0, i32),), location=UNKNOWN_LOC))
        return
    if len(vals) > 1:
        packed = e.undef(_result_type([v.type for v in op.operands]))
        for i, v in enumerate(vals):
            packed = e.insert(packed, v, [i])
        vals = [packed]
    e.ops.append(llvm.ReturnOp.create(operands=vals[:1], location=UNKNOWN_LOC))


def _result_type(types: list[Attribute]) -> Attribute:
    if not types:
        return llvm.LLVMVoidType()
    if len(types) == 1:
        return llvm_type(types[0])
    return llvm.LLVMStructType.from_type_list([llvm_type(t) for t in types])


class FuncLowering(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: func.FuncOp, rewriter: PatternRewriter):
        ft = op.function_type
        if is_entry(op):
            fn_type = _lower_entry_signature(op)
        else:
            fn_type = llvm.LLVMFunctionType([llvm_type(t) for t in ft.inputs],
                                            _result_type(list(ft.outputs)))
        for i, block in enumerate(op.body.blocks):
            if i > 0 or not is_entry(op):
                _retype_block_args(block)
        public = is_entry(op) or not op.body.blocks
        new = llvm.FuncOp(op.sym_name.data, fn_type,
                          linkage=llvm.LinkageAttr("external" if public else "internal"),
                          body=rewriter.move_region_contents_to_new_regions(op.body))
        if is_entry(op):
            new.attributes["ember.entry"] = UnitAttr()
            if "ember.returns_argument" in op.attributes:  # read by the caller (abi)
                new.attributes["ember.returns_argument"] = op.attributes["ember.returns_argument"]
        rewriter.replace(op, new, [])


class ReturnLowering(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: func.ReturnOp, rewriter: PatternRewriter):
        e = Emitter()
        entry = is_entry(_enclosing_function(op))
        emit_return(e, op, entry, [] if entry else llvm_operands(rewriter, op))
        rewriter.replace(op, e.ops, [])


class CallLowering(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: func.CallOp, rewriter: PatternRewriter):
        e = Emitter()
        types = list(op.result_types)
        ret = _result_type(types)
        out = e.call(op.callee.string_value(), llvm_operands(rewriter, op),
                     None if not types else ret)
        results = [out] if len(types) == 1 else \
            [e.extract(out, [i], llvm_type(t)) for i, t in enumerate(types)]
        replace(rewriter, op, e.ops, results)


class BranchLowering(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter):
        if isinstance(op, cf.BranchOp):
            new = llvm.BrOp(op.successor, *_as_llvm(rewriter, op, op.arguments))
        elif isinstance(op, cf.ConditionalBranchOp):
            new = llvm.CondBrOp(op.cond, op.then_block, _as_llvm(rewriter, op, op.then_arguments),
                                op.else_block, _as_llvm(rewriter, op, op.else_arguments))
        else:
            return
        rewriter.replace(op, new, [])


def _as_llvm(rewriter: PatternRewriter, op: Operation, vals) -> list[SSAValue]:
    return [cast_to(rewriter, op, v, llvm_type(v.type)) for v in vals]


class AssertLowering(RewritePattern):
    """In an entry function: ``cond_br %ok, ^continue, ^fail``; ``^fail: return k``."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: cf.AssertOp, rewriter: PatternRewriter):
        fn = _enclosing_function(op)
        if not is_entry(fn) or "ember.assert_id" not in op.attributes:
            rewriter.erase(op)
            return
        k = op.attributes["ember.assert_id"].value.data
        block = op.parent_block()
        rest = block.split_before(op)
        fail = Block()
        status = llvm.ConstantOp(IntegerAttr(k, i32), i32)
        fail.add_ops([status, llvm.ReturnOp(status.result)])
        block.parent_region().insert_block_after(fail, block)
        rewriter.insert(llvm.CondBrOp(op.arg, rest, (), fail, ()), InsertPoint.at_end(block))
        rewriter.erase(op)


@dataclass(frozen=True)
class FuncToLLVMPass(ModulePass):
    """Lower ``func`` and ``cf`` to ``llvm`` (entry functions get the Python ABI)."""

    name = "func-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(GreedyRewritePatternApplier(
            [FuncLowering(), ReturnLowering(), CallLowering(), BranchLowering(), AssertLowering()]),
            apply_recursively=False).rewrite_module(op)


@dataclass(frozen=True)
class NumberAssertsPass(ModulePass):
    """Number the ``cf.assert`` ops of each entry function 1, 2, ... in walk order
    (``ember.assert_id``): the status an entry call returns when that assert fails."""

    name = "number-asserts"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for fn in op.ops:
            if isinstance(fn, func.FuncOp) and is_entry(fn):
                asserts = [a for a in walk_ops(fn) if type(a) is cf.AssertOp]
                for k, a in enumerate(asserts, start=1):
                    a.attributes["ember.assert_id"] = IntegerAttr(k, i64)
