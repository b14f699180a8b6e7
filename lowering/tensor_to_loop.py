"""``tensor-to-loop``: bufferize the tensor stage into loop nests over memref buffers.

Each tensor value gets a buffer (``memref.alloc``) and its sizes as ``index`` values; each
etensor op becomes a loop nest that reads its operands' buffers and writes its own.
Broadcasting is resolved here: a static size-1 operand dimension reads index 0, and two
run-time sizes that must agree get a ``cf.assert``. Temporaries are freed before the
function returns; returned buffers are allocated with ``{ember.result = k}`` so the
runtime hands them to NumPy. The postcondition is checked: no etensor op survives.

    %r = etensor.exp %x : tensor<?xf32>
becomes
    %n = memref.dim %x, %c0 : memref<?xf32>
    %r = memref.alloc(%n) : memref<?xf32>
    loop.parallel (%i) = (%c0) to (%n) step (%c1) {
      %v = memref.load %x[%i] : memref<?xf32>
      %e = math.exp %v : f32
      memref.store %e, %r[%i] : memref<?xf32>
    }
"""

from __future__ import annotations

import linecache
from collections.abc import Callable
from dataclasses import dataclass

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import arith, cf, func, memref, scf
from xdsl.dialects.builtin import (
    DenseArrayBase,
    FileLineColLoc,
    IndexType,
    IntegerAttr,
    MemRefType,
    ModuleOp,
    StridedLayoutAttr,
    TensorType,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint

from ember.dialects import etensor as T
from ember.dialects import shapes as S
from ember.errors import CompilerError, ScriptError
from ember.lowering import (arg_writes, bufferize_scf, custom_lowering, element_ops, reductions,
                            scans, tensor_ops, transposes)

_EMITTERS = {**tensor_ops.EMITTERS, **transposes.EMITTERS, **reductions.EMITTERS,
             **scans.EMITTERS, **element_ops.EMITTERS, **bufferize_scf.EMITTERS,
             **custom_lowering.EMITTERS}
#: ops that may write into existing buffers: fused values must be computed before them
WRITES_MEMORY = {T.InsertOp, *bufferize_scf.EMITTERS}


@dataclass
class Buffer:
    """A tensor's storage: the memref, its sizes, and the allocation it lives in."""

    ref: SSAValue
    sizes: list[SSAValue]
    #: the memref.alloc this aliases; an argument the function writes into; None for the
    #: other arguments (read only)
    root: SSAValue | None
    scalar: SSAValue | None = None  # set when the tensor is a 0-d splat of this scalar
    #: set while the tensor is fused into its consumer: computes the element at an index
    lazy: Callable[[Builder, list[SSAValue]], SSAValue] | None = None
    ttype: TensorType | None = None
    #: a lazy value computed again by each of several consumers (``tensor_ops.fusible``)
    shared: bool = False


def memref_type(t: TensorType, strided: bool = False) -> MemRefType:
    shape = S.shape_of(t)
    element = t.element_type
    if strided:
        return MemRefType(element, shape, StridedLayoutAttr([None] * len(shape), 0))
    return MemRefType(element, shape)


class FunctionLowering:
    """Lowers one func.func; ``self.b`` builds into the new body."""

    def __init__(self, fop: func.FuncOp, fuse_epilogue: bool = False):
        self.fop = fop
        self.entry = "ember.entry" in fop.attributes
        self.bufs: dict[SSAValue, Buffer] = {}
        self.values: dict[SSAValue, SSAValue] = {}
        #: allocations owned by each open region, innermost last; freed when it closes
        self.scopes: list[list[SSAValue]] = [[]]
        #: buffers carried by the loops being lowered (owned, freed by the loop lowering)
        self.carried: set[SSAValue] = set()
        #: carried buffers handed over to an inner loop (which now frees or yields them)
        self.moved: set[SSAValue] = set()
        #: lazy (fused) buffers not yet consumed
        self.pending: list[Buffer] = []
        self._consts: dict[int, SSAValue] = {}
        #: whether a packed matmul applies the elementwise ops on its result (matmul_epilogue)
        self.fuse_epilogue = fuse_epilogue
        #: the entry's arguments it writes into (``arg_writes``): owned like temporaries, never
        #: freed; element writes to them must be done in place (the caller sees them)
        self.external: set[SSAValue] = set()
        #: arguments the function never writes that a loop carries as they are (its first
        #: iteration reads them in place): like ``external``, never freed
        self.borrowed: set[SSAValue] = set()
        #: tensors an element write may change in place (``arg_writes.written_values``)
        self.in_place: set[SSAValue] = set()
        self.full_flow: dict[SSAValue, frozenset[int]] = {}
        #: attributes for the lowered function (``ember.returns_argument``)
        self.fop_attributes: dict[str, Attribute] = {}
        #: tensor value -> positions of the written arguments whose memory it may be, for the
        #: values that are written in place (or flow into one that is)
        self.argument_flow: dict[SSAValue, frozenset[int]] = {}
        #: the last op of each deferred matmul's epilogue -> what emits the matmul there
        self.epilogues: dict[Operation, Callable] = {}
        #: every op of those epilogues (an op joins one matmul's epilogue at most)
        self.epilogue_ops: set[Operation] = set()

    # -- helpers used by tensor_ops ----------------------------------------------------

    @property
    def temps(self) -> list[SSAValue]:
        return self.scopes[-1]

    def index(self, v: int) -> SSAValue:
        """An index constant, created once at the top of the function (dominates all uses)."""
        if v not in self._consts:
            op = arith.ConstantOp(IntegerAttr(v, IndexType()))
            self.entry_block.insert_op_before(op, self.entry_block.first_op) \
                if self.entry_block.first_op else self.entry_block.add_op(op)
            self._consts[v] = op.result
        return self._consts[v]

    def owned(self, buf: Buffer) -> bool:
        return buf.root is not None and (buf.root in self.carried or buf.root in self.external
                                         or any(buf.root in scope for scope in self.scopes))

    def borrowable(self, v: SSAValue, buf: Buffer) -> bool:
        """Whether a loop may carry tensor ``v`` without a copy: its buffer is an argument of
        the entry function, and no element write may change ``v`` in place (``arg_writes.
        written_values``: not in the loop either), so nothing writes that memory; the
        loop's frees of what it carries are guarded against it (``guard_deallocs``)."""
        return (self.entry and buf.lazy is None and buf.scalar is None and buf.root is None
                and buf.ref in self.entry_block.args and buf.ref not in self.external
                and v not in self.in_place and buf.ref.type == memref_type(v.type, False))

    def writes_argument(self, v: SSAValue) -> bool:
        """Whether tensor ``v`` may be the memory of an argument the function writes into
        (a copy of it would hide a write from the caller)."""
        return bool(self.argument_flow.get(v))

    def refuse_copy(self, v: SSAValue, where: Operation):
        """Raise ``ScriptError`` at ``where``'s source location: bufferization would copy
        ``v``, which may be a caller's array written later, so the caller would not see the
        write (as Python would show it)."""
        k = min(self.argument_flow[v])
        name = self.fop.args[k].name_hint or f"#{k}"
        loc = where.location
        filename, line, col = "<unknown>", 0, 1
        if isinstance(loc, FileLineColLoc):
            filename, line, col = loc.filename.data, loc.line.data, loc.column.data
        raise ScriptError(
            f"ember cannot write argument '{name}' in place here: its old value is still used "
            "after the write, or the array is both written and replaced in a loop",
            filename=filename, lineno=line, col_offset=col - 1, construct="element assignment",
            source_line=linecache.getline(filename, line) if line else "",
            hint=f"to work on a private array, copy it first: {name} = {name}.copy()")

    def lower_block(self, old: Block, new: Block):
        """Lower the ops of ``old`` into ``new`` (the caller manages scopes)."""
        saved = self.b
        self.b = Builder(InsertPoint.at_end(new))
        try:
            for op in list(old.ops):
                self.lower_op(op)
        finally:
            self.b = saved

    def close_scope(self, keep: set[SSAValue]):
        """Free the innermost region's allocations except ``keep`` (which escape)."""
        for root in self.scopes.pop():
            if root not in keep:
                self.b.insert(memref.DeallocOp.get(root))

    def alloc(self, shape, sizes: list[SSAValue], element: Attribute) -> Buffer:
        dyn = [s for d, s in zip(shape, sizes) if d == S.DYN]
        op = self.b.insert(memref.AllocOp(dyn, [], MemRefType(element, shape)))
        buf = Buffer(op.memref, list(sizes), op.memref)
        self.temps.append(op.memref)
        return buf

    def check(self, cond: SSAValue, message: str):
        self.b.insert(cf.AssertOp(cond, message))

    def check_equal(self, a: SSAValue, b: SSAValue, message: str):
        if a is b:
            return
        self.check(self.b.insert(arith.CmpiOp(a, b, "eq")).result, message)

    def buffer(self, v: SSAValue) -> Buffer:
        """``v``'s buffer, materialising it if it was waiting to be fused."""
        buf = self.bufs[v]
        if buf.lazy is not None:
            tensor_ops.materialize(self, buf)
        return buf

    def peek(self, v: SSAValue) -> Buffer:
        """``v``'s buffer as is (possibly lazy): for consumers that can fuse it."""
        return self.bufs[v]

    def flush(self):
        """Materialise every pending fused value (before anything writes memory)."""
        for buf in self.pending:
            if buf.lazy is not None:
                tensor_ops.materialize(self, buf)
        self.pending.clear()

    def value(self, v: SSAValue) -> SSAValue:
        return self.values.get(v, v)

    # -- the function ------------------------------------------------------------------

    def run(self) -> func.FuncOp:
        old = self.fop
        arg_types = []
        for k, a in enumerate(old.args):
            strided = bool(old.arg_attrs and "ember.strided" in old.arg_attrs.data[k].data)
            arg_types.append(memref_type(a.type, strided) if isinstance(a.type, TensorType) else a.type)
        block = Block(arg_types=arg_types)
        self.entry_block = block
        self.b = Builder(InsertPoint.at_end(block))
        written: set[int] = set()
        flow: dict[SSAValue, frozenset[int]] = {}
        if self.entry:
            flow, written, later = arg_writes.analyse(old)
            self.full_flow = flow
            self.argument_flow = {v: ks & written for v, ks in flow.items()
                                  if ks & written and v in later}
        for op in [o for o in old.walk() if isinstance(o, T.CopyOp)]:
            if not (self.entry and flow.get(op.input, frozenset()) & written):
                op.result.replace_all_uses_with(op.input)  # value semantics: nothing to copy
                op.detach()
                op.erase()
        # the values an element write may change in place (after the copies went: a value
        # copied from an argument is that argument now, and written only through a copy)
        self.in_place = arg_writes.written_values(old) if self.entry else set()
        for k, (a, new) in enumerate(zip(old.args, block.args)):
            new.name_hint = a.name_hint
            if isinstance(a.type, TensorType):
                root = new if k in written else None
                self.bufs[a] = Buffer(new, self._arg_sizes(new, a.type), root)
                if root is not None:
                    self.external.add(new)
            else:
                self.values[a] = new
        for op in list(old.body.block.ops):
            self.lower_op(op)
        fop = func.FuncOp(old.sym_name.data, func.FunctionType.from_lists(arg_types, self.result_types),
                          Region(block))
        fop.attributes.update({k: v for k, v in old.attributes.items()
                               if k not in ("sym_name", "function_type")})
        fop.attributes.update(self.fop_attributes)
        fop.arg_attrs = old.arg_attrs
        fop.location = old.location
        hoist_checks(block)
        if self.external or self.borrowed:
            guard_deallocs(fop, self.external | self.borrowed)
        return fop

    def _arg_sizes(self, ref: SSAValue, t: TensorType) -> list[SSAValue]:
        sizes = []
        for k, d in enumerate(S.shape_of(t)):
            if d == S.DYN:
                sizes.append(self.b.insert(memref.DimOp(ref, self.index(k))).result)
            else:
                sizes.append(self.index(d))
        return sizes

    def lower_op(self, op: Operation):
        if isinstance(op, func.ReturnOp):
            return self._return(op)
        if type(op) in WRITES_MEMORY:
            self.flush()
        emitter = _EMITTERS.get(type(op))
        if emitter is not None:
            emitter(self, op)
            return
        if any(isinstance(r.type, TensorType) for r in (*op.operands, *op.results)):
            raise CompilerError(f"tensor-to-loop: no lowering for {op.name} at {op.location}")
        new = op.clone(value_mapper={k: self.value(k) for k in op.operands})
        self.b.insert(new)
        for old_r, new_r in zip(op.results, new.results):
            self.values[old_r] = new_r

    def _return(self, op: func.ReturnOp):
        results, types = [], []
        claimed: set[SSAValue] = set()
        returned = [-1] * len(op.operands)
        for k, v in enumerate(op.operands):
            buf = self.buffer(v)
            t = MemRefType(v.type.element_type, S.shape_of(v.type))
            origin = bufferize_scf.memory_root(buf.ref) if buf.ref is not None and buf.ref is buf.root else None
            fresh = (buf.scalar is None and origin is not None and origin not in claimed
                     and isinstance(origin.owner, memref.AllocOp) and buf.root in self.temps
                     and origin.owner.parent_block() is self.entry_block)
            last = None if fresh or buf.ref in claimed else self._last_iteration_result(v, buf, t, k)
            if last is not None:
                result, returned[k] = last
                claimed.add(buf.ref)
                results.append(result)
                types.append(t)
                continue
            j = None if fresh else self._returned_argument(v, buf, t)
            if j is not None:
                results.append(self._argument_or_copy(buf, v.type, t, k, j))
                types.append(t)
                returned[k] = j
                continue
            if not fresh:
                buf = tensor_ops.copy_to_new(self, buf, v.type)
                origin = buf.root
            claimed |= {buf.root, origin}
            if self.entry:
                _mark_result(origin, k)
            results.append(buf.ref)
            types.append(t)
        self.close_scope(claimed)
        self.b.insert(func.ReturnOp(*results))
        self.result_types = types
        if any(j >= 0 for j in returned):
            self.fop_attributes["ember.returns_argument"] = DenseArrayBase.from_list(i64, returned)

    def _returned_argument(self, v: SSAValue, buf: Buffer, t: MemRefType) -> int | None:
        """The argument whose memory returned tensor ``v`` is or may be (Python returns that
        very array object): the argument itself, or one written argument that a loop or an
        ``if`` may hand back; of the result's own layout (C order)."""
        if not (self.entry and buf.scalar is None and buf.lazy is None and buf.ref is not None
                and buf.ref.type == t):
            return None
        args = list(self.entry_block.args)
        if buf.ref in args:  # the argument itself, written or not
            return args.index(buf.ref)
        ks = self.full_flow.get(v, frozenset())
        if len(ks) != 1:
            return None
        j = next(iter(ks))
        return j if args[j] in self.external or args[j] in self.borrowed else None

    def _last_iteration_result(self, v: SSAValue, buf: Buffer, t: MemRefType, k: int):
        """Result ``k`` when it is what a loop at the top of the function carries out and the
        loop's body allocates what it yields (``acc = acc * 0.5 + 1.0``): the last iteration
        allocates that buffer as the result, the caller's array, and nothing is copied after
        the loop. A loop that runs no iteration returns its initial value as before (a copy,
        or the argument itself)::

            %r = scf.for %i = %lb to %ub step %s iter_args(%c = %init) -> (memref) {
              %next = arith.addi %i, %s : index
              %last = arith.cmpi sge, %next, %ub : index
              %a = scf.if %last -> (memref) { alloc {ember.result = k} } else { alloc }
              ...
              scf.yield %a
            }
            %ran = arith.cmpi slt, %lb, %ub : index
            %res = scf.if %ran -> (memref) { scf.yield %r } else { <copy of %r>; dealloc %r }

        Returns the value to return and the argument it may be (-1: none), or None."""
        ref, loop = buf.ref, buf.ref.owner if buf.ref is not None else None
        if not (self.entry and buf.lazy is None and buf.scalar is None and isinstance(loop, scf.ForOp)
                and loop.parent_block() is self.entry_block and ref.type == t):
            return None
        body = loop.body.block
        alloc = body.last_op.operands[ref.index].owner
        if not (isinstance(alloc, memref.AllocOp) and alloc.parent_block() is body
                and alloc.memref.type == t and "ember.result" not in alloc.attributes):
            return None
        # no check may fail once the result exists: an exported function's C caller gets no
        # result data from a failed call (it could not free it)
        later, op = [], loop
        while op is not None:
            later.append(op)
            op = op.next_op
        if any(isinstance(o, cf.AssertOp) for top in later for o in top.walk()):
            return None
        b = Builder(InsertPoint.before(alloc))
        after = b.insert(arith.AddiOp(body.args[0], loop.step)).result
        last = b.insert(arith.CmpiOp(after, loop.ub, "sge")).result
        result, temp = alloc.clone(), alloc.clone()
        _mark_result(result.memref, k)
        pick = b.insert(scf.IfOp(last, [t], Region(Block([result, scf.YieldOp(result.memref)])),
                                 Region(Block([temp, scf.YieldOp(temp.memref)]))))
        alloc.memref.replace_all_uses_with(pick.results[0])
        alloc.detach()
        alloc.erase()
        ran = self.b.insert(arith.CmpiOp(loop.lb, loop.ub, "slt")).result
        other = Block()
        saved = self.b
        self.b = Builder(InsertPoint.at_end(other))
        try:
            j = self._returned_argument(v, buf, t)
            if j is not None:
                value = self._argument_or_copy(buf, v.type, t, k, j)
            else:
                value = self._result_copy(buf, v.type, k)
            self.b.insert(memref.DeallocOp.get(ref))  # (not when it is an argument: guard_deallocs)
            self.b.insert(scf.YieldOp(value))
        finally:
            self.b = saved
        out = self.b.insert(scf.IfOp(ran, [t], Region(Block([scf.YieldOp(ref)])), Region(other)))
        return out.results[0], -1 if j is None else j

    def _result_copy(self, buf: Buffer, tt: TensorType, k: int) -> SSAValue:
        """A copy of ``buf`` in a buffer the caller allocates as result ``k``."""
        copy = tensor_ops.copy_to_new(self, buf, tt)
        self.temps.remove(copy.root)
        _mark_result(copy.root, k)
        return copy.ref

    def _argument_or_copy(self, buf: Buffer, tt: TensorType, t: MemRefType, k: int, j: int) -> SSAValue:
        """Result ``k`` when it may be argument ``j``'s memory: no result is allocated when it
        is (the caller hands back the argument itself, ``ember.returns_argument``); otherwise
        a copy into a result buffer::

            %same = arith.cmpi eq, <pointer of %buf>, <pointer of %arg>
            %r = scf.if %same -> memref { scf.yield %buf } else { %c = alloc {ember.result}; copy; yield %c }
        """
        arg = self.entry_block.args[j]
        if buf.ref is arg:
            return arg
        same = same_memory(self.b, buf.ref, arg, "eq")
        then, other = Block(), Block()
        then.add_op(scf.YieldOp(buf.ref))
        saved = self.b
        self.b = Builder(InsertPoint.at_end(other))
        try:
            self.b.insert(scf.YieldOp(self._result_copy(buf, tt, k)))
        finally:
            self.b = saved
        return self.b.insert(scf.IfOp(same, [t], Region(then), Region(other))).results[0]


def _mark_result(alloc: SSAValue, k: int) -> None:
    """The ``memref.alloc`` of ``alloc`` asks the caller for result ``k`` (``ember.result``)."""
    alloc.owner.attributes["ember.result"] = IntegerAttr(k, i64)


def same_memory(b: Builder, x: SSAValue, y: SSAValue, predicate: str) -> SSAValue:
    """``arith.cmpi <predicate>`` of the data pointers of memrefs ``x`` and ``y``."""
    pointers = [b.insert(memref.ExtractAlignedPointerAsIndexOp(
        operands=[v], result_types=[IndexType()])).results[0] for v in (x, y)]
    return b.insert(arith.CmpiOp(*pointers, predicate)).result


def guard_deallocs(fop: func.FuncOp, arguments: set[SSAValue]) -> None:
    """Free a buffer that may be a written argument's memory (a loop took the argument over,
    or an ``if`` yields it) only when it is not::

        memref.dealloc %b
      ->
        %p = memref.extract_aligned_pointer_as_index %b
        %q = memref.extract_aligned_pointer_as_index %x
        %other = arith.cmpi ne, %p, %q : index
        scf.if %other { memref.dealloc %b }
    """
    block = fop.body.block
    flow = arg_writes.argument_flow(fop)
    for op in list(fop.walk()):
        if not isinstance(op, memref.DeallocOp):
            continue
        ks = sorted(k for k in flow.get(op.memref, ()) if block.args[k] in arguments)
        if not ks:
            continue
        if op.memref in arguments:
            op.detach()
            op.erase()
            continue
        b = Builder(InsertPoint.before(op))
        cond = None
        for k in ks:
            ne = same_memory(b, op.memref, block.args[k], "ne")
            cond = ne if cond is None else b.insert(arith.AndIOp(cond, ne)).result
        guard = b.insert(scf.IfOp(cond, [], Region(Block([scf.YieldOp()]))))
        op.detach()
        guard.true_region.block.insert_op_before(op, guard.true_region.block.last_op)


_PURE_DIALECTS = ("arith",)


def _hoistable(op: Operation) -> bool:
    return op.dialect_name() in _PURE_DIALECTS or isinstance(op, memref.DimOp)


def hoist_checks(block: Block) -> None:
    """Move each top-level ``cf.assert`` and the size arithmetic it needs above the first
    allocation, so that a failing check returns before anything is allocated (no leak)."""
    ops = list(block.ops)
    first = next((k for k, o in enumerate(ops) if not _hoistable(o) and not isinstance(o, cf.AssertOp)),
                 None)
    if first is None:
        return
    anchor = ops[first]
    position = {o: k for k, o in enumerate(ops)}
    moved: set[Operation] = set()  # already above the anchor
    for check in [o for o in ops[first:] if isinstance(o, cf.AssertOp)]:
        slice_ops, work = {check}, [check]
        while work:
            for v in work.pop().operands:
                owner = v.owner
                if isinstance(owner, Operation) and owner.parent is block and \
                        position[owner] >= first and owner not in slice_ops and owner not in moved:
                    slice_ops.add(owner)
                    work.append(owner)
        if all(o is check or _hoistable(o) for o in slice_ops):
            for o in sorted(slice_ops, key=position.__getitem__):
                o.detach()
                block.insert_op_before(o, anchor)
            moved |= slice_ops


@dataclass(frozen=True)
class TensorToLoopPass(ModulePass):
    """Bufferize every function: etensor ops become loop nests over memrefs.
    ``fuse_epilogue=true`` applies the elementwise ops on a packed matmul's result in its
    write-back (``ember.lowering.matmul_epilogue``; off by default)."""

    name = "tensor-to-loop"

    fuse_epilogue: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for fop in list(op.ops):
            if isinstance(fop, func.FuncOp) and fop.body.blocks:
                new = FunctionLowering(fop, self.fuse_epilogue).run()
                op.body.block.insert_op_before(new, fop)
                op.body.block.erase_op(fop)
        for inner in op.walk():
            if inner.dialect_name() == "etensor" or any(
                    isinstance(v.type, TensorType) for v in (*inner.operands, *inner.results)):
                raise CompilerError(f"tensor-to-loop left {inner.name} at {inner.location}")
