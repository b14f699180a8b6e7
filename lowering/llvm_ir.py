"""LLVM-dialect module -> LLVM IR text.

Reuses ``xdsl.backend.llvm.convert`` (types, declarations, globals, and every ``llvm`` op)
and adds what it lacks:

* the ``llvmx`` ops (``fptosi``, ``fptoui``, ``uitofp``, intrinsic calls with fast-math);
* linkage: an ``llvm.func internal`` with a body becomes ``define internal``.

    llvm.func @f(%x: f32) -> i64 {           define i64 @"f"(float %".1") {
      %i = llvmx.fptosi %x : f32 to i64  ->    %".3" = fptosi float %".1" to i64
      llvm.return %i : i64                     ret i64 %".3"
    }                                        }
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import llvmlite.ir as ir
from xdsl.backend.llvm import convert as xconvert
from xdsl.backend.llvm import convert_op as xop
from xdsl.backend.llvm.convert_op import convert_op
from xdsl.backend.llvm.convert_type import convert_type
from xdsl.dialects import llvm
from xdsl.dialects.builtin import ModuleOp, VectorType
from xdsl.ir import Attribute, Block, Operation, SSAValue

from ember.dialects import llvmx
from ember.lowering.llvm_common import walk_ops

ValMap = dict[SSAValue, ir.Value]


def _cast(opname: str) -> Callable[[Operation, ir.IRBuilder, ValMap], ir.Value]:
    def emit(op: Operation, b: ir.IRBuilder, vals: ValMap) -> ir.Value:
        return getattr(b, opname)(vals[op.operands[0]], convert_type(op.results[0].type))
    return emit


#: LLVM's own order of fast-math flags (``FastMathFlags::print``). xDSL keeps an op's flags
#: in a frozenset, whose order follows the process's string hashing: the module's text
#: differed from one process to the next ("fadd reassoc contract" / "fadd contract reassoc").
_FASTMATH_ORDER = {f: k for k, f in enumerate(
    ("fast", "nnan", "ninf", "nsz", "arcp", "contract", "afn", "reassoc"))}


def _fastmath(attr) -> list[str]:
    """The flags of a fast-math attribute, in LLVM's order."""
    last = len(_FASTMATH_ORDER)
    return sorted((f.value for f in attr.data), key=lambda f: _FASTMATH_ORDER.get(f, last))


def _fneg(op: llvm.FNegOp, b: ir.IRBuilder, vals: ValMap, blocks) -> None:
    """``xop._convert_fneg`` with the flags in LLVM's order."""
    vals[op.res] = b.fneg(vals[op.arg], flags=_fastmath(op.fastmathFlags))


def _intrinsic(op: llvmx.IntrinsicOp, b: ir.IRBuilder, vals: ValMap) -> ir.Value:
    args = [vals[a] for a in op.args]
    ret = convert_type(op.res.type) if op.res is not None else ir.VoidType()
    name = op.intrin.data
    fn = b.module.globals.get(name)
    if fn is None:
        fn = ir.Function(b.module, ir.FunctionType(ret, [a.type for a in args]), name=name)
    return b.call(fn, args, fastmath=_fastmath(op.fastmath))


class _IndirectCall(ir.instructions.Instruction):
    """``call <ret> %fnptr(args)``: llvmlite's ``call`` needs a typed function pointer."""

    def __init__(self, parent: ir.Block, ret: ir.Type, callee: ir.Value, args: list[ir.Value]):
        super().__init__(parent, ret, "call", [callee, *args])

    def descr(self, buf: list[str]) -> None:
        callee, *args = self.operands
        arg_text = ", ".join(f"{a.type} {a.get_reference()}" for a in args)
        buf.append(f"call {self.type} {callee.get_reference()}({arg_text})\n")


def _call_indirect(op: llvmx.CallIndirectOp, b: ir.IRBuilder, vals: ValMap) -> ir.Value:
    ret = convert_type(op.res.type) if op.res is not None else ir.VoidType()
    instr = _IndirectCall(b.block, ret, vals[op.callee], [vals[a] for a in op.args])
    b._insert(instr)  # noqa: SLF001 (llvmlite's own builders do the same)
    return instr


def _prefetch(op: llvmx.PrefetchOp, b: ir.IRBuilder, vals: ValMap) -> None:
    """``call void @llvm.prefetch.p0(ptr, i32 0 (read), i32 locality, i32 1 (data))``"""
    fn = b.module.globals.get("llvm.prefetch.p0")
    if fn is None:
        i32 = ir.IntType(32)
        fn = ir.Function(b.module, ir.FunctionType(ir.VoidType(), [ir.PointerType(), i32, i32, i32]),
                         name="llvm.prefetch.p0")
    i32 = ir.IntType(32)
    b.call(fn, [vals[op.ptr], i32(0), i32(op.locality.value.data), i32(1)])


_LLVMX: dict[type[Operation], Callable[[Operation, ir.IRBuilder, ValMap], ir.Value]] = {
    llvmx.FPToSIOp: _cast("fptosi"),
    llvmx.FPToUIOp: _cast("fptoui"),
    llvmx.UIToFPOp: _cast("uitofp"),
    llvmx.IntrinsicOp: _intrinsic,
    llvmx.CallIndirectOp: _call_indirect,
    llvmx.PrefetchOp: _prefetch,
}


def _xdsl(fn: Callable) -> Callable:
    return lambda op, b, vals, blocks: fn(op, b, vals)


def _xdsl_branch(fn: Callable) -> Callable:
    return lambda op, b, vals, blocks: fn(op, b, vals, blocks)


def _constant(op: llvm.ConstantOp, b: ir.IRBuilder, vals: ValMap, blocks) -> None:
    vals[op.result] = xop.create_constant(op.result.type, op.value)


# Decoded attributes and converted types, by attribute (attributes are immutable values):
# the lowerings share a few positions and types among hundreds of ops.
_POSITIONS: dict[Attribute, tuple[int, ...]] = {}
_TYPES: dict[Attribute, ir.Type] = {}


def _position(attr: Attribute) -> list[int]:
    pos = _POSITIONS.get(attr)
    if pos is None:
        pos = _POSITIONS[attr] = tuple(attr.iter_values())
    return list(pos)


def _type(t: Attribute) -> ir.Type:
    lt = _TYPES.get(t)
    if lt is None:
        lt = _TYPES[t] = convert_type(t)
    return lt


def _extract(op: llvm.ExtractValueOp, b: ir.IRBuilder, vals: ValMap, blocks) -> None:
    vals[op.results[0]] = b.extract_value(vals[op.container], _position(op.position))


def _insert(op: llvm.InsertValueOp, b: ir.IRBuilder, vals: ValMap, blocks) -> None:
    vals[op.results[0]] = b.insert_value(vals[op.container], vals[op.value],
                                         _position(op.position))


def _gep(op: llvm.GEPOp, b: ir.IRBuilder, vals: ValMap, blocks) -> None:
    """``xop._convert_getelementptr`` with its types converted once per element type."""
    elem = _type(op.elem_type)
    ptr = b.bitcast(vals[op.ptr], elem.as_pointer())
    ssa = iter(op.ssa_indices)
    indices = [vals[next(ssa)] if i == llvm.GEP_USE_SSA_VAL else ir.Constant(_I32, i)
               for i in _position(op.rawConstantIndices)]
    vals[op.results[0]] = b.gep(ptr, indices, inbounds=op.inbounds is not None,
                                source_etype=elem)


_I32 = ir.IntType(32)


def _fma(op: llvm.FMAOp, b: ir.IRBuilder, vals: ValMap, blocks) -> None:
    """``xop._convert_fma``, finding the intrinsic's declaration by a name made once per type."""
    if any(op.fastmathFlags.data):
        raise NotImplementedError("Fast-math flags not supported")
    t = op.res.type
    name = _FMA_NAMES.get(t)
    if name is None:
        name = _FMA_NAMES[t] = f"llvm.fma.{xop.intrinsic_suffix(_type(t))}"
    fn = b.module.globals.get(name)
    if fn is None:
        lt = _type(t)
        fn = ir.Function(b.module, ir.FunctionType(lt, [lt, lt, lt]), name=name)
    vals[op.res] = b.call(fn, [vals[op.a], vals[op.b], vals[op.c]])


_FMA_NAMES: dict[Attribute, str] = {}


def _flag_kind(cls: type[Operation]) -> str:
    """Which flags ``xop._convert_binop`` passes for ``cls``: its first ``match`` case."""
    for base, kind in ((llvm.ArithmeticBinOpOverflow, "overflow"),
                       (llvm.AbstractFloatArithOp, "fastmath"),
                       (llvm.ArithmeticBinOpExact, "exact"),
                       (llvm.ArithmeticBinOpDisjoint, "disjoint")):
        if issubclass(cls, base):
            return kind
    return ""


_FLAG_KINDS = {cls: _flag_kind(cls) for cls in xop._BINARY_OP_MAP}  # noqa: SLF001
_OVERFLOW_FLAGS: dict[int, tuple[str, ...]] = {}


def _binop(op: Operation, b: ir.IRBuilder, vals: ValMap, blocks) -> None:
    """``xop._convert_binop`` with the flag kind found once per op class (its ``match`` on
    abstract classes took a third of the time) and overflow flags decoded once per value."""
    kind = _FLAG_KINDS[type(op)]
    kwargs = {}
    if kind == "overflow":
        if op.overflowFlags:
            n = op.overflowFlags.value.data
            flags = _OVERFLOW_FLAGS.get(n)
            if flags is None:
                flags = _OVERFLOW_FLAGS[n] = tuple(
                    f.value for f in llvm.OverflowAttr.from_int(n).data)
            kwargs["flags"] = list(flags)
    elif kind == "fastmath":
        if op.fastmathFlags:
            kwargs["flags"] = _fastmath(op.fastmathFlags)
    elif kind == "exact":
        if op.is_exact:
            kwargs["flags"] = ["exact"]
    elif kind == "disjoint":
        if op.is_disjoint:
            kwargs["flags"] = ["disjoint"]
    operands = op.operands
    vals[op.results[0]] = xop._BINARY_OP_MAP[type(op)](b)(  # noqa: SLF001
        vals[operands[0]], vals[operands[1]], **kwargs)


#: xDSL's ``convert_op`` finds an op's converter through a ``match`` of ~30 cases (a third
#: of the translation time of an MLP); the frequent ops go straight to the same converters.
_XDSL_BY_TYPE: dict[type[Operation], Callable] = {
    **{t: _binop for t in xop._BINARY_OP_MAP},  # noqa: SLF001
    **{t: _xdsl(xop._convert_cast) for t in xop._CAST_OP_NAMES},  # noqa: SLF001
    llvm.ICmpOp: _xdsl(xop._convert_icmp),  # noqa: SLF001
    llvm.FCmpOp: _xdsl(xop._convert_fcmp),  # noqa: SLF001
    llvm.CallOp: _xdsl(xop._convert_call),  # noqa: SLF001
    llvm.LoadOp: _xdsl(xop._convert_load),  # noqa: SLF001
    llvm.StoreOp: _xdsl(xop._convert_store),  # noqa: SLF001
    llvm.GEPOp: _gep,
    llvm.FMAOp: _fma,
    llvm.FNegOp: _fneg,
    llvm.SelectOp: _xdsl(xop._convert_select),  # noqa: SLF001
    llvm.ReturnOp: _xdsl(xop._convert_return),  # noqa: SLF001
    llvm.BrOp: _xdsl_branch(xop._convert_br),  # noqa: SLF001
    llvm.CondBrOp: _xdsl_branch(xop._convert_condbr),  # noqa: SLF001
    llvm.ConstantOp: _constant,
    llvm.ExtractValueOp: _extract,
    llvm.InsertValueOp: _insert,
}


def _convert_op(op: Operation, b: ir.IRBuilder, vals: ValMap, blocks: dict[Block, ir.Block]):
    emit = _LLVMX.get(type(op))
    if emit is None:
        fast = _XDSL_BY_TYPE.get(type(op))
        if fast is not None:
            fast(op, b, vals, blocks)
        else:
            convert_op(op, b, vals, blocks)
        return
    result = emit(op, b, vals)
    if op.results:
        vals[op.results[0]] = result


def _convert_func(op: llvm.FuncOp, module: ir.Module) -> None:
    """Like ``xconvert._convert_func`` but dispatching through ``_convert_op``."""
    fn = module.get_global(op.sym_name.data)
    if op.linkage.linkage.data == "internal":
        fn.linkage = "internal"
    blocks = {block: fn.append_basic_block(name=block.name_hint or "") for block in op.body.blocks}
    vals: ValMap = dict(zip(op.body.blocks.first.args, fn.args))
    for block in list(op.body.blocks)[1:]:
        builder = ir.IRBuilder(blocks[block])
        for arg in block.args:
            vals[arg] = builder.phi(convert_type(arg.type))
    for block in op.body.blocks:
        builder = ir.IRBuilder(blocks[block])
        for inner in block.ops:
            _convert_op(inner, builder, vals, blocks)


def to_llvm_module(module: ModuleOp, triple: str | None = None, data_layout: str = "") -> ir.Module:
    """Translate a module of ``llvm.func``/``llvm.mlir.global`` ops to an llvmlite module."""
    out = ir.Module()
    if triple is None:
        import llvmlite.binding as llb
        triple = llb.get_process_triple()
    out.triple = triple
    if data_layout:
        out.data_layout = data_layout
    funcs = []
    for op in module.ops:
        if isinstance(op, llvm.GlobalOp):
            xconvert._convert_global(op, out)  # noqa: SLF001 (reused, not vendored)
        elif isinstance(op, llvm.FuncOp):
            funcs.append(op)
        else:
            raise NotImplementedError(f"cannot translate '{op.name}' to LLVM IR "
                                      "(expected only llvm.func and llvm.mlir.global)")
    for op in funcs:
        xconvert._declare_func(op, out)  # noqa: SLF001
    for op in funcs:
        if op.body.blocks:
            _convert_func(op, out)
    return out


def to_llvm_ir(module: ModuleOp, triple: str | None = None) -> str:
    """LLVM IR text of an llvm-dialect module (the ``-t llvm`` output, plus llvmx and linkage)."""
    return str(to_llvm_module(module, triple))


@dataclass(frozen=True)
class Parts:
    """An llvm-dialect module as LLVM IR text, whole, and split for the JIT: ``kernels`` holds
    the explicitly vectorised functions (a packed matmul's outlined body: vector FMAs written
    out register by register), ``main`` the rest, with the kernels as declarations. The JIT
    optimises ``kernels`` at O1 (O3's extra work gained them nothing and cost the MLP's
    compile 0.15 s), links it into ``main`` and compiles one object."""

    whole: str
    main: str
    kernels: str | None = None
    kernel_names: tuple[str, ...] = ()


def _vector_code(op: llvm.FuncOp) -> bool:
    return any(isinstance(r.type, VectorType) for o in walk_ops(op) for r in o.results)


def _callees(op: llvm.FuncOp) -> set[str]:
    names = set()
    for o in walk_ops(op):
        if isinstance(o, llvm.CallOp) and o.callee is not None:
            names.add(o.callee.string_value())
        elif isinstance(o, llvm.AddressOfOp):
            names.add(o.global_name.string_value())
    return names


def to_llvm_ir_parts(module: ModuleOp, triple: str | None = None) -> Parts:
    """:class:`Parts` of ``module``: private functions with vector-typed code are the kernels
    (entry functions never are: they stay in ``main``)."""
    out = to_llvm_module(module, triple)
    whole = str(out)
    funcs = [op for op in module.ops if isinstance(op, llvm.FuncOp) and op.body.blocks]
    kernels = [op for op in funcs
               if op.linkage.linkage.data == "internal" and _vector_code(op)]
    shared_globals = any(isinstance(op, llvm.GlobalOp) and op.linkage.linkage.data
                         not in ("internal", "private") for op in module.ops)
    if not kernels or shared_globals:  # (both modules would define such a global)
        return Parts(whole, whole)
    names = {op.sym_name.data for op in kernels}
    needed = set().union(*(_callees(op) for op in kernels))
    saved = {fn.name: (fn.blocks, fn.linkage) for fn in out.functions}

    def text(declared: set[str]) -> str:
        for fn in out.functions:
            blocks, linkage = saved[fn.name]
            fn.blocks = [] if fn.name in declared else blocks
            fn.linkage = "" if fn.name in declared or fn.name in names else linkage
        try:
            return str(out)
        finally:
            for fn in out.functions:
                fn.blocks, fn.linkage = saved[fn.name]

    main = text(names)
    # the kernels' module keeps the internal helpers they call: internal
    # copies are renamed when linked; everything else becomes a declaration
    keep = names | {op.sym_name.data for op in funcs
                    if op.sym_name.data in needed and op.linkage.linkage.data == "internal"}
    kernel_text = text({op.sym_name.data for op in funcs} - keep)
    return Parts(whole, main, kernel_text, tuple(sorted(names)))
