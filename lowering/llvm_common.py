"""Shared pieces of the ``*-to-llvm`` passes: type mapping, casts at the seams, an op emitter.

Type conversion is cheap and non-recursive: a pattern converts only the op it matched.
Where a converted value meets an unconverted user (or the reverse), the pattern inserts a
``builtin.unrealized_conversion_cast``; ``reconcile-unrealized-casts`` removes the pairs::

    %a = arith.addi %i, %j : index        %0 = builtin.unrealized_conversion_cast %i : index to i64
                                     ->   %1 = builtin.unrealized_conversion_cast %j : index to i64
                                          %2 = llvm.add %0, %1 : i64
                                          %a = builtin.unrealized_conversion_cast %2 : i64 to index

Memrefs become descriptors ``!llvm.struct<(ptr, array<N x i64>, array<N x i64>)>`` =
(pointer to element [0, ..., 0], sizes, strides in elements).  Identity-layout memrefs are
C-contiguous and their stride field is unused (undef); strided-layout memrefs fill it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence

from xdsl.dialects import arith, llvm, memref, vector
from xdsl.dialects.builtin import (
    DenseArrayBase,
    Float16Type,
    Float32Type,
    Float64Type,
    IndexType,
    IntegerAttr,
    IntegerType,
    MemRefType,
    StridedLayoutAttr,
    UNKNOWN_LOC,
    UnitAttr,
    UnrealizedConversionCastOp,
    i8,
    i1,
    i32,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern
from xdsl.rewriter import InsertPoint

PTR = llvm.LLVMPointerType()
_DESCRIPTORS: dict[int, llvm.LLVMStructType] = {}


def descriptor_type(rank: int) -> llvm.LLVMStructType:
    """``!llvm.struct<(ptr, array<rank x i64>, array<rank x i64>)>``, cached by rank."""
    if rank not in _DESCRIPTORS:
        arr = llvm.LLVMArrayType(rank, i64)
        _DESCRIPTORS[rank] = llvm.LLVMStructType.from_type_list([PTR, arr, arr])
    return _DESCRIPTORS[rank]


def llvm_type(t: Attribute) -> Attribute:
    """The LLVM-dialect type of a value of type ``t`` (index -> i64, memref -> descriptor)."""
    if isinstance(t, IndexType):
        return i64
    if isinstance(t, MemRefType):
        return descriptor_type(len(t.shape))
    return t


def storage_type(t: Attribute) -> Attribute:
    """How an element of type ``t`` sits in memory: i1 as an i8 byte, index as i64."""
    if isinstance(t, IntegerType) and t.width.data == 1:
        return i8
    return llvm_type(t)


_FLOAT_BYTES = {Float16Type: 2, Float32Type: 4, Float64Type: 8}


def element_bytes(t: Attribute) -> int:
    """Size in bytes of a stored element of type ``t``."""
    st = storage_type(t)
    if isinstance(st, IntegerType):
        return st.width.data // 8
    return _FLOAT_BYTES[type(st)]


def intrinsic_suffix(t: Attribute) -> str:
    """The type suffix of an overloaded intrinsic name: ``f32``, ``f64``, ``i64``..."""
    if isinstance(t, IntegerType):
        return f"i{t.width.data}"
    return {Float16Type: "f16", Float32Type: "f32", Float64Type: "f64"}[type(t)]


def is_strided(t: MemRefType) -> bool:
    return isinstance(t.layout, StridedLayoutAttr)


def cast_to(rewriter: PatternRewriter, before: Operation, value: SSAValue, t: Attribute) -> SSAValue:
    """``value`` as type ``t``, looking through an existing cast before making a new one."""
    if value.type == t:
        return value
    owner = value.owner
    if isinstance(owner, UnrealizedConversionCastOp) and owner.inputs[0].type == t:
        return owner.inputs[0]
    cast = UnrealizedConversionCastOp.get([value], [t])
    rewriter.insert(cast, InsertPoint.before(before))
    return cast.results[0]


def llvm_operands(rewriter: PatternRewriter, op: Operation) -> list[SSAValue]:
    """The operands of ``op`` converted to their LLVM types (casting where needed)."""
    return [cast_to(rewriter, op, v, llvm_type(v.type)) for v in op.operands]


def replace(rewriter: PatternRewriter, op: Operation, new_ops: Sequence[Operation],
            new_results: Sequence[SSAValue]) -> None:
    """Replace ``op``, casting each new result back to the old result's type if it differs."""
    ops = list(new_ops)
    results = []
    for old, new in zip(op.results, new_results, strict=True):
        if old.type != new.type:
            cast = UnrealizedConversionCastOp.get([new], [old.type])
            ops.append(cast)
            new = cast.results[0]
        results.append(new)
    hints = [r.name_hint for r in op.results]
    rewriter.replace(op, ops, results)
    for new_op in ops:  # xDSL gives every new result the old name; keep it on the result only
        for r in new_op.results:
            r.name_hint = None
    new_ops_set = set(ops)
    for r, hint in zip(results, hints):
        if r.owner in new_ops_set:
            r.name_hint = hint


@functools.cache
def _position(pos: tuple[int, ...]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, pos)


def position(pos: Sequence[int]) -> DenseArrayBase:
    """The ``[i, j]`` of an ``extractvalue``/``insertvalue``; attributes are immutable, so
    each distinct position is built once (building one costs as much as the op)."""
    return _position(tuple(pos))


@functools.cache
def int_attr(value: int, t: Attribute = i64) -> IntegerAttr:
    """``IntegerAttr(value, t)``, built once per value and type (a predicate, a constant)."""
    return IntegerAttr(value, t)


def constant_int(value: SSAValue) -> int | None:
    """The integer value of ``value`` if it is an (arith or llvm) constant, seen through casts."""
    owner = value.owner
    while isinstance(owner, UnrealizedConversionCastOp):
        owner = owner.inputs[0].owner
    attr = getattr(owner, "value", None) if owner is not None and owner.name in (
        "arith.constant", "llvm.mlir.constant") else None
    return attr.value.data if isinstance(attr, IntegerAttr) else None


Int = int | SSAValue


_NO_FLAGS = IntegerAttr(0, i32)
_NOT_ATOMIC = IntegerAttr(0, i64)
_DYNAMIC_INDEX = DenseArrayBase.from_list(i32, [llvm.GEP_USE_SSA_VAL])


def make(cls: type[Operation], operands: Sequence[SSAValue], result: Attribute,
         properties: dict[str, Attribute]) -> Operation:
    """``cls.create(...)``: the op with exactly these operands, result type and properties,
    without the argument checks of ``cls(...)``, which cost twice the op itself. Used for
    the few ops the lowerings make most; ``tests/test_compile_time.py`` checks that each
    prints as its checked constructor's op does."""
    return cls.create(operands=operands, result_types=[result], properties=properties,
                      location=UNKNOWN_LOC)


@functools.cache
def binary_properties(cls: type[Operation]) -> dict[str, Attribute]:
    """The properties ``cls(a, b)`` gives a binary op (``overflowFlags``...), taken once from
    a prototype: for ``make(cls, (a, b), a.type, dict(binary_properties(cls)))``."""
    block = Block(arg_types=[i64, i64])
    return dict(cls(*block.args).properties)


@functools.cache
def cast_properties(cls: type[Operation]) -> dict[str, Attribute]:
    """The properties ``cls(x, t)`` gives a cast (``trunc``, ``sitofp``...; none depend on the
    types), taken once from a prototype: for ``make(cls, (x,), t, dict(cast_properties(cls)))``."""
    block = Block(arg_types=[i64])
    return dict(cls(block.args[0], i32).properties)


_FASTMATH_NONE = llvm.FastMathAttr(None)


@functools.cache
def _prototype_properties(cls: type[Operation], types: tuple[Attribute, ...],
                          args: tuple) -> dict[str, Attribute]:
    block = Block(arg_types=types)
    return dict(cls(*block.args, *args).properties)


def like(cls: type[Operation], operands: Sequence[SSAValue], result: Attribute,
         *args) -> Operation:
    """``cls(*operands, *args)`` (an ``arith`` op: ``like(arith.CmpiOp, (a, b), i1, "ult")``)
    built unchecked, with the properties the checked constructor gives a prototype on
    operands of the same types and the same other arguments; ``result`` is the result type.
    For ops whose properties depend only on those (``tests/test_fast_builders.py``)."""
    props = _prototype_properties(cls, tuple(v.type for v in operands), args)
    return cls.create(operands=operands, result_types=(result,), properties=dict(props),
                      location=UNKNOWN_LOC)



class FastArith:
    """The integer ``arith`` constructors a lowering builds by the hundred, built with
    :func:`like` (unchecked): ``FastArith.AddiOp(x, y)`` is ``arith.AddiOp(x, y)``. The
    packed matmul builds about a thousand; with :class:`FastAccess`, its ``tensor-to-loop``
    went from 16.3 to 10.7 ms."""

    @staticmethod
    def _binary(cls: type[Operation]):
        return staticmethod(lambda x, y: like(cls, (x, y), x.type))

    AddiOp = _binary(arith.AddiOp)
    SubiOp = _binary(arith.SubiOp)
    MuliOp = _binary(arith.MuliOp)
    DivUIOp = _binary(arith.DivUIOp)
    RemUIOp = _binary(arith.RemUIOp)
    MinUIOp = _binary(arith.MinUIOp)
    MaxUIOp = _binary(arith.MaxUIOp)
    AddfOp = _binary(arith.AddfOp)

    @staticmethod
    def CmpiOp(x: SSAValue, y: SSAValue, predicate: str) -> Operation:
        return like(arith.CmpiOp, (x, y), i1, predicate)

    @staticmethod
    def SelectOp(c: SSAValue, x: SSAValue, y: SSAValue) -> Operation:
        return like(arith.SelectOp, (c, x, y), x.type)


@functools.cache
def _access_properties(cls: type[Operation], types: tuple[Attribute, ...], value: bool,
                       result: Attribute | None) -> dict[str, Attribute]:
    """The properties ``cls``'s checked constructor gives a load (``value`` False) or store on
    operands of these types (memref, then indices; a store's value first)."""
    block = Block(arg_types=types)
    args = list(block.args)
    if value:
        op = cls.get(args[0], args[1], args[2:]) if cls is memref.StoreOp else cls(args[0], args[1], args[2:])
    else:
        op = cls.get(args[0], args[1:]) if cls is memref.LoadOp else cls(args[0], args[1:], result)
    return dict(op.properties)


class FastAccess:
    """``memref``/``vector`` loads, stores, broadcasts and FMAs built unchecked, as the
    checked constructors build them (``tests/test_fast_builders.py``): the micro-kernels of the
    packed matmul are made of little else."""

    @staticmethod
    def _access(cls: type[Operation], operands: tuple, result: Attribute | None, value: bool) -> Operation:
        props = _access_properties(cls, tuple(v.type for v in operands), value, result)
        return cls.create(operands=operands, result_types=() if result is None else (result,),
                          properties=dict(props), location=UNKNOWN_LOC)

    @staticmethod
    def load(ref: SSAValue, indices: Sequence[SSAValue]) -> Operation:
        """``memref.LoadOp.get(ref, indices)``"""
        return FastAccess._access(memref.LoadOp, (ref, *indices), ref.type.element_type, False)

    @staticmethod
    def store(value: SSAValue, ref: SSAValue, indices: Sequence[SSAValue]) -> Operation:
        """``memref.StoreOp.get(value, ref, indices)``"""
        return FastAccess._access(memref.StoreOp, (value, ref, *indices), None, True)

    @staticmethod
    def vload(ref: SSAValue, indices: Sequence[SSAValue], vt: Attribute) -> Operation:
        """``vector.LoadOp(ref, indices, vt)``"""
        return FastAccess._access(vector.LoadOp, (ref, *indices), vt, False)

    @staticmethod
    def vstore(value: SSAValue, ref: SSAValue, indices: Sequence[SSAValue]) -> Operation:
        """``vector.StoreOp(value, ref, indices)``"""
        return FastAccess._access(vector.StoreOp, (value, ref, *indices), None, True)

    @staticmethod
    def broadcast(x: SSAValue, vt: Attribute) -> Operation:
        """``vector.BroadcastOp(x, vt)``"""
        return vector.BroadcastOp.create(operands=(x,), result_types=(vt,), location=UNKNOWN_LOC)

    @staticmethod
    def fma(a: SSAValue, b: SSAValue, c: SSAValue) -> Operation:
        """``vector.FMAOp(a, b, c)``"""
        return vector.FMAOp.create(operands=(a, b, c), result_types=(c.type,), location=UNKNOWN_LOC)

@functools.cache
def _segments(*sizes: int) -> DenseArrayBase:
    return DenseArrayBase.from_list(i32, sizes)


@functools.cache
def splat_mask(lanes: int) -> DenseArrayBase:
    """The ``shufflevector`` mask that broadcasts lane 0 to ``lanes`` lanes."""
    return DenseArrayBase.from_list(i32, [0] * lanes)


@functools.cache
def _call_properties(callee: str, types: tuple[Attribute, ...], ret: Attribute | None,
                     fastmath: llvm.FastMathAttr | None) -> dict[str, Attribute]:
    block = Block(arg_types=types)
    kwargs = {} if fastmath is None else {"fastmath": fastmath}
    return dict(llvm.CallOp(callee, *block.args, return_type=ret, **kwargs).properties)


def call(callee: str, args: Sequence[SSAValue], ret: Attribute | None,
         fastmath: llvm.FastMathAttr | None = None) -> Operation:
    """``llvm.CallOp(callee, *args, return_type=ret, fastmath=...)`` built unchecked, with
    the properties of a checked prototype with the same callee and types."""
    props = _call_properties(callee, tuple(a.type for a in args), ret, fastmath)
    return llvm.CallOp.create(operands=args, result_types=() if ret is None else (ret,),
                              properties=dict(props), location=UNKNOWN_LOC)


def br(dest: Block, args: Sequence[SSAValue]) -> Operation:
    """``llvm.BrOp(dest, *args)`` without the constructor's checks."""
    return llvm.BrOp.create(operands=args, successors=(dest,), location=UNKNOWN_LOC)


def cond_br(cond: SSAValue, then: Block, then_args: Sequence[SSAValue], other: Block,
            other_args: Sequence[SSAValue]) -> Operation:
    """``llvm.CondBrOp(cond, then, then_args, other, other_args)`` without its checks."""
    return llvm.CondBrOp.create(
        location=UNKNOWN_LOC,
        operands=(cond, *then_args, *other_args), successors=(then, other),
        properties={"operandSegmentSizes": _segments(1, len(then_args), len(other_args))})


class Emitter:
    """Collects new llvm ops for one rewrite; folds i64 arithmetic on Python ints.

    Values are ``int | SSAValue``: ``e.add(e.mul(i, 4), 1)`` emits one ``llvm.mul`` and
    one ``llvm.add`` when ``i`` is an SSA value, and no op at all when it is an int.
    """

    def __init__(self):
        self.ops: list[Operation] = []

    def emit(self, op: Operation) -> SSAValue:
        self.ops.append(op)
        return op.results[0] if op.results else None  # type: ignore[return-value]

    def value(self, x: Int, t: Attribute = i64) -> SSAValue:
        if isinstance(x, int):
            return self.emit(make(llvm.ConstantOp, (), t, {"value": int_attr(x, t)}))
        return x

    def entry_constant(self, block: Block, x: int, t: Attribute = i64) -> SSAValue:
        """The constant ``x`` at the top of ``block`` (a function's entry block), for ops
        placed there (``alloca``s)."""
        op = llvm.ConstantOp(IntegerAttr(x, t), t)
        block.insert_op_before(op, block.first_op) if block.first_op else block.add_op(op)
        return op.result

    def add(self, a: Int, b: Int) -> Int:
        if isinstance(a, int) and isinstance(b, int):
            return a + b
        if a == 0 or b == 0:
            return b if a == 0 else a
        a, b = self.value(a), self.value(b)
        return self.emit(make(llvm.AddOp, (a, b), a.type, {"overflowFlags": _NO_FLAGS}))

    def mul(self, a: Int, b: Int) -> Int:
        if isinstance(a, int) and isinstance(b, int):
            return a * b
        if a == 1 or b == 1:
            return b if a == 1 else a
        if a == 0 or b == 0:
            return 0
        a, b = self.value(a), self.value(b)
        return self.emit(make(llvm.MulOp, (a, b), a.type, {"overflowFlags": _NO_FLAGS}))

    def gep(self, ptr: SSAValue, index: Int, elem: Attribute) -> SSAValue:
        """``getelementptr inbounds elem, ptr, index``."""
        if index == 0:
            return ptr
        if isinstance(index, int):
            return self.emit(make(llvm.GEPOp, (ptr,), PTR, {
                "rawConstantIndices": _segments(index), "elem_type": elem,
                "noWrapFlags": _NO_FLAGS, "inbounds": UnitAttr()}))
        return self.emit(make(llvm.GEPOp, (ptr, index), PTR, {
            "rawConstantIndices": _DYNAMIC_INDEX, "elem_type": elem, "noWrapFlags": _NO_FLAGS,
            "inbounds": UnitAttr()}))

    def load(self, ptr: SSAValue, t: Attribute, alignment: int | None = None) -> SSAValue:
        props = {"ordering": _NOT_ATOMIC}
        if alignment is not None:
            props["alignment"] = int_attr(alignment, i64)
        return self.emit(make(llvm.LoadOp, (ptr,), t, props))

    def store(self, value: SSAValue, ptr: SSAValue, alignment: int | None = None) -> None:
        """``llvm.StoreOp(value, ptr, alignment)``, unchecked."""
        props = {"ordering": _NOT_ATOMIC}
        if alignment is not None:
            props["alignment"] = int_attr(alignment, i64)
        self.ops.append(llvm.StoreOp.create(operands=(value, ptr), properties=props,
                                            location=UNKNOWN_LOC))

    def select(self, cond: SSAValue, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(make(llvm.SelectOp, (cond, a, b), a.type, {}))

    def undef(self, t: Attribute) -> SSAValue:
        return self.emit(make(llvm.UndefOp, (), t, {}))

    def cast(self, cls: type[Operation], x: SSAValue, t: Attribute) -> SSAValue:
        """``cls(x, t)`` for an LLVM cast op (``llvm.TruncOp``, ``llvmx.FPToSIOp``...)."""
        return self.emit(make(cls, (x,), t, dict(cast_properties(cls))))

    def fma(self, a: SSAValue, b: SSAValue, c: SSAValue) -> SSAValue:
        return self.emit(make(llvm.FMAOp, (a, b, c), a.type, {"fastmathFlags": _FASTMATH_NONE}))

    def insert_element(self, vec: SSAValue, value: SSAValue, index: SSAValue) -> SSAValue:
        return self.emit(make(llvm.InsertElementOp, (vec, value, index), vec.type, {}))

    def shuffle(self, a: SSAValue, b: SSAValue, mask: DenseArrayBase, t: Attribute) -> SSAValue:
        return self.emit(make(llvm.ShuffleVectorOp, (a, b), t, {"mask": mask}))

    def extract(self, struct: SSAValue, pos: Sequence[int], t: Attribute) -> SSAValue:
        return self.emit(make(llvm.ExtractValueOp, (struct,), t, {"position": position(pos)}))

    def insert(self, struct: SSAValue, value: Int, pos: Sequence[int]) -> SSAValue:
        return self.emit(make(llvm.InsertValueOp, (struct, self.value(value)), struct.type,
                              {"position": position(pos)}))

    def call(self, callee: str, args: Sequence[SSAValue], ret: Attribute | None) -> SSAValue:
        return self.emit(call(callee, args, ret))


def declare(module: Operation, name: str, inputs: Sequence[Attribute], output: Attribute) -> None:
    """Add ``llvm.func @name(inputs) -> output`` (external) to ``module`` unless present."""
    for op in module.regions[0].block.ops:
        if isinstance(op, llvm.FuncOp) and op.sym_name.data == name:
            return
    fn = llvm.FuncOp(name, llvm.LLVMFunctionType(list(inputs), output),
                     linkage=llvm.LinkageAttr("external"))
    module.regions[0].block.add_op(fn)


def walk_ops(root: Operation | Region) -> Iterator[Operation]:
    """The ops nested in ``root``, in the order of ``root.walk()`` (pre-order), without
    ``root`` itself; cheaper than ``walk()``, which makes a generator per op."""
    for region in (root.regions if isinstance(root, Operation) else (root,)):
        for block in region.blocks:
            for op in block.ops:
                yield op
                if op.regions:
                    yield from walk_ops(op)


def module_of(op: Operation) -> Operation:
    while (parent := op.parent_op()) is not None:
        op = parent
    return op


__all__ = ["PTR", "i32", "i64", "Emitter", "declare", "descriptor_type", "llvm_type",
           "storage_type", "element_bytes", "intrinsic_suffix", "is_strided", "cast_to", "llvm_operands",
           "replace", "constant_int", "module_of"]


class TableLowering(RewritePattern):
    """Rewrite an op by its rule in ``rules``: ``rule(op, llvm_operands, emitter)`` returns the
    replacement value (an SSA value, a folded int, or ``None`` for ops without results)."""

    def __init__(self, rules: dict[type[Operation], Callable]):
        self.rules = rules

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter):
        rule = self.rules.get(type(op))
        if rule is None:
            return
        e = Emitter()
        result = rule(op, llvm_operands(rewriter, op), e)
        if isinstance(result, int):
            result = e.value(result)
        replace(rewriter, op, e.ops, [] if result is None else [result])
