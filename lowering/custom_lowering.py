"""``tensor-to-loop`` for ``etensor.custom``: a user operator's scalar lowering or native call.

An operator with a scalar lowering (``@op.lower_scalar``) is an elementwise op like any
other: its body is the user's arith/math ops, and it fuses with its producers and consumers::

    %r = etensor.custom "mylib::softplus"(%x) : (tensor<?xf64>) -> tensor<?xf64>
becomes
    loop.parallel (%i) = (%c0) to (%n) step (%c1) {
      %v = memref.load %x[%i] : memref<?xf64>
      %e = math.exp %v : f64
      %s = math.log1p %e : f64
      memref.store %s, %r[%i] : memref<?xf64>
    }

An operator with a native kernel becomes a call on contiguous buffers (inputs that
broadcast, are strided or are fused values are first copied into fresh contiguous
buffers), declaring the C function ``void k(const T *in..., T *out, int64_t n)``::

    %r = memref.alloc(%n) : memref<?xf64>
    %d = builtin.unrealized_conversion_cast %x : memref<?xf64> to !llvm.struct<(ptr, array<1 x i64>, array<1 x i64>)>
    %pa = llvm.extractvalue %d[0] : !llvm.struct<(ptr, array<1 x i64>, array<1 x i64>)>
    ... the same for %r ...
    func.call @relu6_f64(%pa, %pr, %n64) : (!llvm.ptr, !llvm.ptr, i64) -> ()

The pointers come from ember's memref descriptor (``ember.lowering.llvm_common``): the cast
meets the inverse cast of the ``*-to-llvm`` passes and ``reconcile-unrealized-casts``
removes both. ``func-to-llvm`` gives the private declaration external linkage.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.builder import Builder
from xdsl.dialects import arith, func, llvm
from xdsl.dialects.builtin import DenseArrayBase, ModuleOp, UnrealizedConversionCastOp, i64
from xdsl.ir import Operation, SSAValue

from ember.dialects import shapes as S
from ember.dialects.etensor_custom import CustomOp
from ember.errors import CompilerError
from ember.lowering import scalar_ops as X
from ember.lowering import tensor_ops
from ember.lowering.llvm_common import PTR, descriptor_type, is_strided


def _registered(op: CustomOp):
    from ember.custom_op import CUSTOM_OPS

    custom = CUSTOM_OPS.get(op.op_name.data)
    if custom is None:
        raise CompilerError(f"tensor-to-loop: custom op {op.op_name.data!r} is not registered in "
                            f"this process (import the module that declares it) at {op.location}")
    return custom


def custom(fl, op: CustomOp):
    """Emit ``etensor.custom`` by the operator's scalar lowering or native kernel."""
    c = _registered(op)
    if c.scalar_lowering is not None:
        _scalar(fl, op, c.scalar_lowering)
    elif c.native:
        _native(fl, op, c)
    else:
        raise CompilerError(f"tensor-to-loop: custom op {c.name!r} has no lowering: give it "
                            "@op.lower_scalar or native=(symbol, library)")


def _scalar(fl, op: CustomOp, lower):
    out = op.result.type.element_type

    def compute(b: Builder, values: list[SSAValue]) -> SSAValue:
        v = lower(b, *values)
        if isinstance(v, Operation):
            v = v.results[0]
        if not isinstance(v, SSAValue):
            raise CompilerError(f"the scalar lowering of {op.op_name.data!r} returned "
                                f"{type(v).__name__}, not an SSA value")
        return v if v.type == out else X.cast(b, v, v.type, out)

    tensor_ops._elementwise(fl, op, list(op.inputs), compute)


def _native(fl, op: CustomOp, c):
    element = op.inputs[0].type.element_type
    kernel = c.native.get(S.to_numpy_dtype(element))
    if kernel is None or op.result.type.element_type != element:
        raise CompilerError(f"tensor-to-loop: custom op {c.name!r} has no native kernel from "
                            f"{element} to {op.result.type.element_type}")
    shape = S.shape_of(op.result.type)
    sizes = tensor_ops.broadcast_sizes(fl, list(op.inputs), shape)
    ins = [_contiguous(fl, v, shape, sizes) for v in op.inputs]
    out = fl.alloc(shape, sizes, element)
    n = fl.index(1)
    for s in sizes:
        n = fl.b.insert(arith.MuliOp(n, s)).result
    args = [*(_pointer(fl.b, buf.ref) for buf in [*ins, out]),
            fl.b.insert(arith.IndexCastOp(n, i64)).result]
    _declare(fl.fop, kernel.symbol, [a.type for a in args])
    fl.b.insert(func.CallOp(kernel.symbol, args, []))
    fl.bufs[op.result] = out


def _contiguous(fl, v: SSAValue, shape: Sequence[int], sizes: list[SSAValue]):
    """``v``'s buffer if it is a C-contiguous array of the result's shape, else a copy."""
    buf = fl.buffer(v)
    in_shape = S.shape_of(v.type)
    if buf.scalar is None and tuple(in_shape) == tuple(shape) and not is_strided(buf.ref.type):
        return buf
    copy = fl.alloc(shape, sizes, v.type.element_type)
    zero = fl.index(0)
    tensor_ops.parallel(fl, sizes, lambda b, ivs: tensor_ops.store(
        b, tensor_ops.load(b, buf, ivs, zero, in_shape), copy, ivs))
    return copy


def _pointer(b: Builder, ref: SSAValue) -> SSAValue:
    """The address of element [0, ..., 0] of ``ref``: field 0 of its LLVM descriptor.

    The cast to the descriptor type meets the inverse cast that the ``*-to-llvm`` passes put
    on the lowered buffer, and ``reconcile-unrealized-casts`` removes the pair; no
    ``inttoptr`` is involved."""
    descriptor = b.insert(UnrealizedConversionCastOp.get([ref], [descriptor_type(len(ref.type.shape))]))
    return b.insert(llvm.ExtractValueOp(DenseArrayBase.from_list(i64, [0]), descriptor.results[0],
                                        PTR)).results[0]


def _declare(fop: func.FuncOp, symbol: str, types: list) -> None:
    """``func.func private @symbol(types) -> ()`` in the module of ``fop``, once."""
    module = fop.parent_op()
    assert isinstance(module, ModuleOp)
    for other in module.ops:
        if isinstance(other, func.FuncOp) and other.sym_name.data == symbol:
            if list(other.function_type.inputs) != types:
                raise CompilerError(f"native symbol @{symbol} is called with two signatures")
            return
    module.body.block.insert_op_before(func.FuncOp.external(symbol, types, []), module.body.block.first_op)


EMITTERS = {CustomOp: custom}
