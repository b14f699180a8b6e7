"""``memref-to-llvm``: memref ops on descriptors ``(ptr, sizes[N], strides[N])``.

Addresses are one ``getelementptr`` on the element type.  Identity layouts are
C-contiguous: the linear index is built from the sizes with an implicit innermost stride 1
(so LLVM sees unit-stride accesses and vectorises); strided layouts use their strides,
static ones as constants::

    %v = memref.load %m[%i, %j] : memref<?x?xf32>
  ->
    %p = llvm.extractvalue %d[0]; %n1 = llvm.extractvalue %d[1, 1]
    %l = llvm.mul %i, %n1; %l2 = llvm.add %l, %j
    %a = llvm.getelementptr inbounds %p[%l2] : (!llvm.ptr, i64) -> !llvm.ptr, f32
    %v = llvm.load %a : !llvm.ptr -> f32

``memref.alloc`` calls the runtime's ``ember_temp_alloc`` (at least one byte, 64-byte aligned,
large blocks reused across calls: ``ember.lowering.parallel_runtime``), ``memref.dealloc``
calls ``ember_temp_free``; the module only declares them.
Inside an ``ember.entry`` function (already lowered by ``func-to-llvm``), an alloc marked
``ember.result = k`` instead asks the caller for the buffer: it stores the sizes in an
entry-block ``alloca`` and calls the function's ``%alloc_result(%alloc_ctx, k, rank, sizes,
dtype)`` (its last two parameters; ``dtype`` is NumPy's type number).
``reinterpret_cast``/``subview`` fold their offset into the pointer, relative to the
source's element [0, ..., 0]; ``memref.copy`` is expected to be expanded earlier.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func, llvm, memref
from xdsl.dialects.builtin import (DYNAMIC_INDEX, UNKNOWN_LOC, FloatAttr, IntegerAttr, IntegerType,
                                   MemRefType, ModuleOp, SymbolRefAttr, f64, i1)
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriteWalker

from ember.dialects import llvmx
from ember.dialects.loop import PrefetchOp
from ember.lowering.llvm_common import (PTR, Emitter, Int, TableLowering, constant_int,
    descriptor_type, element_bytes, i32, i64, is_strided, module_of,
    cond_br, int_attr, like, make, storage_type, walk_ops)
from ember.dialects.shapes import to_numpy_dtype
from ember.lowering.parallel_runtime import TEMP_ALLOC, TEMP_FREE, declare_runtime


class Descriptor:
    """Reads a lowered memref: static facts from its type, the rest from the struct."""

    def __init__(self, e: Emitter, value: SSAValue, t: MemRefType):
        self.e, self.value, self.type = e, value, t
        self.shape = t.get_shape()
        self._ptr: SSAValue | None = None

    def ptr(self) -> SSAValue:
        if self._ptr is None:
            self._ptr = self.e.extract(self.value, [0], PTR)
        return self._ptr

    def size(self, d: int) -> Int:
        n = self.shape[d]
        return self.e.extract(self.value, [1, d], i64) if n == DYNAMIC_INDEX else n

    def strides(self) -> list[Int]:
        if is_strided(self.type):
            return [self.e.extract(self.value, [2, d], i64) if s is None else s
                    for d, s in enumerate(self.type.layout.get_strides())]
        strides: list[Int] = [1] * len(self.shape)
        for d in reversed(range(len(self.shape) - 1)):
            strides[d] = self.e.mul(strides[d + 1], self.size(d + 1))
        return strides

    def element_ptr(self, indices: Sequence[SSAValue]) -> SSAValue:
        e = self.e
        if is_strided(self.type):
            linear: Int = 0
            for i, s in zip(indices, self.strides()):
                linear = e.add(linear, e.mul(i, s))
        else:  # Horner over the sizes: ((i0 * n1 + i1) * n2 + i2) ...
            linear = indices[0] if indices else 0
            for d in range(1, len(indices)):
                linear = e.add(e.mul(linear, self.size(d)), indices[d])
        return e.gep(self.ptr(), linear, storage_type(self.type.element_type))


def build_descriptor(e: Emitter, t: MemRefType, ptr: SSAValue, sizes: Sequence[Int],
                     strides: Sequence[Int] | None = None) -> SSAValue:
    """``insertvalue`` the pointer, sizes and (strided layouts only) strides into an undef."""
    d = e.insert(e.undef(descriptor_type(len(sizes))), ptr, [0])
    for i, n in enumerate(sizes):
        d = e.insert(d, n, [1, i])
    if is_strided(t):
        for i, s in enumerate(strides if strides is not None else _contiguous(e, sizes)):
            d = e.insert(d, s, [2, i])
    return d


def _contiguous(e: Emitter, sizes: Sequence[Int]) -> list[Int]:
    strides: list[Int] = [1] * len(sizes)
    for d in reversed(range(len(sizes) - 1)):
        strides[d] = e.mul(strides[d + 1], sizes[d + 1])
    return strides


def _mixed(static: Sequence[int], dynamic: Sequence[SSAValue]) -> list[Int]:
    """Static values with ``DYNAMIC_INDEX`` holes filled from ``dynamic``, in order."""
    it = iter(dynamic)
    return [next(it) if s == DYNAMIC_INDEX else s for s in static]


def _load(op: memref.LoadOp, a: list[SSAValue], e: Emitter) -> SSAValue:
    et = op.res.type
    v = e.load(Descriptor(e, a[0], op.memref.type).element_ptr(a[1:]), storage_type(et))
    return e.cast(llvm.TruncOp, v, et) if storage_type(et) != et and isinstance(et, IntegerType) else v


def _store(op: memref.StoreOp, a: list[SSAValue], e: Emitter) -> None:
    et = op.value.type
    v = a[0]
    if storage_type(et) != et and isinstance(et, IntegerType):
        v = e.cast(llvm.ZExtOp, v, storage_type(et))
    e.store(v, Descriptor(e, a[1], op.memref.type).element_ptr(a[2:]))


def _prefetch(op: PrefetchOp, a: list[SSAValue], e: Emitter) -> None:
    e.emit(llvmx.PrefetchOp(Descriptor(e, a[0], op.memref.type).element_ptr(a[1:]), op.locality.value.data))


def _alloc_sizes(op: memref.AllocOp, a: list[SSAValue]) -> list[Int]:
    return _mixed(op.memref.type.get_shape(), a)


def _alloc(op: memref.AllocOp, a: list[SSAValue], e: Emitter) -> SSAValue:
    t = op.memref.type
    sizes = _alloc_sizes(op, a)
    entry = _entry_function(op)
    if entry is not None and "ember.result" in op.attributes:
        ptr = _alloc_result(op, entry, sizes, e)
    else:
        declare_runtime(module_of(op), [TEMP_ALLOC])
        ptr = e.call(TEMP_ALLOC, [_nbytes(e, t, sizes)], PTR)
    return build_descriptor(e, t, ptr, sizes)


#: a temporary of this many bytes or more is not attempted (the byte count could have wrapped
#: around 64 bits): ``ember_temp_alloc`` gets ``SIZE_MAX``, returns NULL, and the call fails with
#: the out-of-memory status instead of writing past a small buffer
TOO_BIG_BYTES = float(1 << 62)


def _nbytes(e: Emitter, t: MemRefType, sizes: list[Int]) -> SSAValue:
    """``max(product(sizes) * element size, 1)``: malloc(0) may return NULL. A product that
    reaches ``TOO_BIG_BYTES`` (computed again in f64, which cannot wrap) gives ``SIZE_MAX``."""
    n: Int = element_bytes(t.element_type)
    wide: SSAValue | None = None
    for size in sizes:
        n = e.mul(n, size)
        if not isinstance(size, int):
            f = e.cast(llvm.SIToFPOp, size, f64)
            wide = f if wide is None else e.emit(like(llvm.FMulOp, (wide, f), f64))
    if isinstance(n, int):
        return e.value(max(n, 1))
    is_zero = e.emit(like(llvm.ICmpOp, (n, e.value(0)), i1, _EQ))
    n = e.select(is_zero, e.value(1), n)
    if wide is None:
        return n
    static = element_bytes(t.element_type)
    for size in sizes:
        static *= size if isinstance(size, int) else 1
    limit = e.emit(make(llvm.ConstantOp, (), f64,
                        {"value": FloatAttr(TOO_BIG_BYTES / max(static, 1), f64)}))
    too_big = e.emit(like(llvm.FCmpOp, (wide, limit), i1, "oge"))  # NaN (inf * 0): product 0
    return e.select(too_big, e.value(-1), n)


def _alloc_result(op: Operation, entry: llvm.FuncOp, sizes: list[Int], e: Emitter) -> SSAValue:
    """``%alloc_result(%alloc_ctx, k, rank, sizes, dtype)``; the sizes array is an alloca in
    the entry block, ``dtype`` is NumPy's type number of the element type."""
    block = entry.body.blocks.first
    count = e.entry_constant(block, max(len(sizes), 1))
    array = llvm.AllocaOp(count, i64, alignment=8)
    block.insert_op_after(array, count.owner)
    for d, n in enumerate(sizes):
        e.store(e.value(n), e.gep(array.res, d, i64))
    k = e.value(op.attributes["ember.result"].value.data)
    dtype = e.value(to_numpy_dtype(op.memref.type.element_type).num, i32)
    alloc, ctx = block.args[-2], block.args[-1]
    return e.emit(llvmx.CallIndirectOp(alloc, [ctx, k, e.value(len(sizes)), array.res, dtype], PTR))


def _entry_function(op: Operation) -> llvm.FuncOp | None:
    parent = op.parent_op()
    while parent is not None and not isinstance(parent, (llvm.FuncOp, func.FuncOp)):
        parent = parent.parent_op()
    if parent is None or "ember.entry" not in parent.attributes:
        return None
    if isinstance(parent, func.FuncOp):
        raise ValueError("memref-to-llvm: run func-to-llvm first (entry results need the ABI)")
    return parent


def _alloca(op: memref.AllocaOp, a: list[SSAValue], e: Emitter) -> SSAValue:
    t = op.memref.type
    sizes = _alloc_sizes(op, a)
    count: Int = 1
    for n in sizes:
        count = e.mul(count, n)
    ptr = e.emit(llvm.AllocaOp(e.value(count), storage_type(t.element_type), alignment=16))
    return build_descriptor(e, t, ptr, sizes)


def _dealloc(op: memref.DeallocOp, a: list[SSAValue], e: Emitter) -> None:
    declare_runtime(module_of(op), [TEMP_FREE])
    e.call(TEMP_FREE, [Descriptor(e, a[0], op.memref.type).ptr()], None)


def _pointer(op: memref.ExtractAlignedPointerAsIndexOp, a: list[SSAValue], e: Emitter) -> SSAValue:
    return e.cast(llvm.PtrToIntOp, Descriptor(e, a[0], op.source.type).ptr(), i64)


def _dim(op: memref.DimOp, a: list[SSAValue], e: Emitter) -> Int:
    d = constant_int(op.index)
    if d is None:
        raise ValueError(f"memref-to-llvm: memref.dim needs a constant index ({op.index})")
    return Descriptor(e, a[0], op.source.type).size(d)


def _cast(op: memref.CastOp, a: list[SSAValue], e: Emitter) -> SSAValue:
    src, dst = op.source.type, op.dest.type
    if is_strided(dst) and not is_strided(src):
        desc = Descriptor(e, a[0], src)
        d = a[0]
        for i, s in enumerate(desc.strides()):
            d = e.insert(d, s, [2, i])
        return d
    return a[0]


def _view(op: memref.ReinterpretCastOp | memref.SubviewOp, a: list[SSAValue], e: Emitter) -> SSAValue:
    """A view: new pointer (offset folded in), sizes and strides."""
    dyn = dict(zip(op.operands, a))
    offsets = _mixed(op.static_offsets.get_values(), [dyn[v] for v in op.offsets])
    sizes = _mixed(op.static_sizes.get_values(), [dyn[v] for v in op.sizes])
    strides = _mixed(op.static_strides.get_values(), [dyn[v] for v in op.strides])
    src = Descriptor(e, a[0], op.source.type)
    et = storage_type(op.source.type.element_type)
    if isinstance(op, memref.ReinterpretCastOp):
        return build_descriptor(e, op.result.type, e.gep(src.ptr(), offsets[0], et), sizes, strides)
    src_strides = src.strides()
    offset: Int = 0
    for o, s in zip(offsets, src_strides):
        offset = e.add(offset, e.mul(o, s))
    strides = [e.mul(s, step) for s, step in zip(src_strides, strides)]
    if len(sizes) != len(op.result.type.shape):
        raise ValueError("memref-to-llvm: rank-reducing memref.subview is not supported")
    return build_descriptor(e, op.result.type, e.gep(src.ptr(), offset, et), sizes, strides)


_EQ = IntegerAttr(llvm.ICmpPredicateFlag("eq").to_int(), i64)
_TEMP_ALLOC = SymbolRefAttr(TEMP_ALLOC)

_RULES: dict[type[Operation], Callable[[Operation, list[SSAValue], Emitter], SSAValue | None]] = {
    memref.LoadOp: _load, memref.StoreOp: _store, memref.AllocOp: _alloc,
    memref.AllocaOp: _alloca, memref.DeallocOp: _dealloc, memref.DimOp: _dim,
    memref.CastOp: _cast, memref.ReinterpretCastOp: _view, memref.SubviewOp: _view,
    memref.ExtractAlignedPointerAsIndexOp: _pointer, PrefetchOp: _prefetch,
}


@dataclass(frozen=True)
class MemrefToLLVMPass(ModulePass):
    """Lower memref ops to descriptor arithmetic, the runtime's allocator and the result
    callback."""

    name = "memref-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(TableLowering(_RULES), apply_recursively=False).rewrite_module(op)
        _check_allocations(op)


#: The status an entry returns when its result allocator gave it NULL (NumPy could not
#: allocate the array: ``MemoryError`` in Python); far above any assert number.
OUT_OF_MEMORY_STATUS = 2**31 - 1


def _check_allocations(module: ModuleOp) -> None:
    """After each allocation of a function with a status (an entry, or a body outlined by
    ``parallel-outline``: both return i32), ``if (!ptr) return OUT_OF_MEMORY``, so an array too
    large to allocate is an error, never a write through NULL. That covers an entry's
    ``%alloc_result(...)`` calls and every ``ember_temp_alloc``."""
    for fn in module.ops:
        if not (isinstance(fn, llvm.FuncOp) and fn.body.blocks
                and fn.function_type.output == i32):
            continue
        entry = "ember.entry" in fn.attributes
        alloc = fn.body.blocks.first.args[-2] if entry else None
        calls = [c for c in walk_ops(fn)
                 if (type(c) is llvmx.CallIndirectOp and alloc is not None and c.callee is alloc)
                 or (type(c) is llvm.CallOp and c.properties.get("callee") == _TEMP_ALLOC)]
        for call in calls:  # (ops built unchecked: see llvm_common.make)
            block = call.parent_block()
            rest = block.split_before(call.next_op)
            fail = Block()
            status = make(llvm.ConstantOp, (), i32, {"value": int_attr(OUT_OF_MEMORY_STATUS, i32)})
            fail.add_ops([status, llvm.ReturnOp.create(operands=status.results,
                                                       location=UNKNOWN_LOC)])
            block.parent_region().insert_block_after(fail, block)
            address = like(llvm.PtrToIntOp, call.results, i64, i64)
            zero = make(llvm.ConstantOp, (), i64, {"value": int_attr(0, i64)})
            is_null = like(llvm.ICmpOp, (address.results[0], zero.results[0]), i1, _EQ)
            block.add_ops([address, zero, is_null, cond_br(is_null.results[0], fail, (), rest, ())])

