"""``parallel-outline``: run the outermost ``loop.parallel`` loops on threads.

Each outermost ``loop.parallel`` (not inside another ``loop.parallel`` or a ``loop.for``)
is moved into a new private function, the *body*, which runs one chunk of the loop's
first dimension that has more than one iteration.  The loop is replaced by a call of the
threads runtime (``ember.lowering.parallel_runtime``: declared here, linked by the JIT or by
``ember.export``)::

    loop.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) { ... }
  ->
    %work = ...                     (trip count x estimated cost of one iteration, f64)
    %chunks = llvm.call @ember_parallel_chunks(%trip, %work) : (i64, f64) -> i64
    (pack the captured values into %ctx, a stack struct)
    %body = llvm.mlir.addressof @f_parallel0 : !llvm.ptr
    %status = llvm.call @ember_parallel_for(%body, %ctx, %chunks)
                : (!llvm.ptr, !llvm.ptr, i64) -> i32
    cf.assert ...                   (one per assert of the body: its status)

    func.func private @f_parallel0(%ctx: !llvm.ptr, %k: index, %chunks: index) -> i32 {
      (unpack %ctx; chunk %k of %chunks covers iterations [lo, hi) of the split dimension)
      loop.parallel (%i, %j) = (%lo, %c0) to (%hi, %m) step (%c1, %c1) { ... }
      func.return %c0_i32 : i32
    }

Small loops stay serial: the runtime asks for one chunk unless the estimated work exceeds
the grain.  The estimate multiplies a nested loop's cost by its trip count: computed at the
call site when its bounds are known there, ``GUESSED_TRIP`` when they are computed in the
body, ``WHILE_TRIP`` (large) for an ``scf.while``.  Constants are cloned into the body rather than captured.  A reduction writes
one partial per chunk into a stack buffer; the caller combines the partials in chunk order,
so a result depends on the number of chunks only (deterministic for a thread count).
Chunk ``k > 0`` of an ``add``/``mul`` reduction starts from the identity; the other
combiners are idempotent and start from the initial value.  An assert inside the body
returns its number among the body's asserts (the body is lowered to branches at once), and
the caller re-asserts each, so the entry function still reports the failing assert.

Not outlined: loops that call functions (``func.call``: C kernels need not be thread-safe)
or allocate a result buffer (only the entry function can ask Python for one).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, cf, func, llvm, memref, scf
from xdsl.dialects.builtin import (UNKNOWN_LOC, FloatAttr, FunctionType, IndexType, IntegerAttr,
                                   IntegerType, ModuleOp, UnitAttr, UnrealizedConversionCastOp,
                                   VectorType, f64, i1, i32, i64)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriteWalker
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.transforms.convert_scf_to_cf import IfLowering, SwitchLowering

from ember.dialects import loop
from ember.lowering.llvm_common import (PTR, Emitter, call, int_attr, like, llvm_type, make,
                                        position, walk_ops)
from ember.lowering.memref_to_llvm import OUT_OF_MEMORY_STATUS
from ember.lowering.loop_to_scf import ForLowering, ForToScf, ParallelToScf, WhileLowering
from ember.lowering.parallel_runtime import MAX_CHUNKS, declare_runtime

#: Estimated cost of one op, in scalar operations (``math`` ops may be libm calls).
MATH_COST = 16
#: Trip count assumed for a nested loop whose bounds are only known inside the body.
GUESSED_TRIP = 16
#: Trip count assumed for a nested ``scf.while``: unknown, so large: a body that searches or
#: iterates to convergence is worth splitting whatever the grain (2^32 iterations of one op
#: exceed any sensible grain; ``ember_parallel_chunks`` still caps the chunks).
WHILE_TRIP = float(1 << 32)
BODY_ATTR = "ember.parallel_body"
#: a ``loop.parallel`` from ``ember.prange`` is split whatever its estimated work: the
#: estimate claims more than any grain (the chunk count is then bounded only by the trip
#: count, the threads and ``MAX_CHUNKS``)
PRANGE_ATTR = "ember.prange"
PRANGE_WORK = 1e300
_CHEAP_MATH = {"math.absf", "math.fma", "math.copysign", "math.roundeven", "math.floor",
               "math.ceil", "math.trunc", "math.sqrt", "math.absi"}
_INDEX = IndexType()


def _inside(v: SSAValue, root: Operation) -> bool:
    """Whether ``v`` is defined in ``root`` (one of its results or in its regions)."""
    owner = v.owner
    op = owner.parent_op() if isinstance(owner, Block) else owner
    while op is not None:
        if op is root:
            return True
        op = op.parent_op()
    return False


def _constant(v: SSAValue) -> Operation | None:
    owner = v.owner
    return owner if isinstance(owner, arith.ConstantOp) else None


def _static_int(v: SSAValue) -> int | None:
    c = _constant(v)
    return c.value.value.data if c is not None and isinstance(c.value, IntegerAttr) else None


def _free_values(op: loop.ParallelOp, dim: int) -> list[SSAValue]:
    """The values the body needs from outside: the bounds and inits of ``op`` (but the
    upper bound of the split dimension ``dim``), and what its region uses."""
    seen = dict.fromkeys(v for k, v in enumerate(op.operands) if k != len(op.lb) + dim)
    inner_ops = list(walk_ops(op.body))
    defined: set[SSAValue] = set()
    for inner in inner_ops:
        defined.update(inner.results)
        for region in inner.regions:
            for block in region.blocks:
                defined.update(block.args)
    for block in op.body.blocks:
        defined.update(block.args)
    for inner in inner_ops:
        for v in inner.operands:
            if v not in defined:
                seen.setdefault(v)
    return list(seen)


def _outlinable(op: loop.ParallelOp) -> bool:
    parent = op.parent_op()
    while not isinstance(parent, func.FuncOp):
        if parent is None or isinstance(parent, (loop.ParallelOp, loop.ForOp)):
            return False
        parent = parent.parent_op()
    if BODY_ATTR in parent.attributes or _split_dim(op) is None:
        return False
    return not any(isinstance(o, func.CallOp) or
                   (isinstance(o, memref.AllocOp) and "ember.result" in o.attributes)
                   for o in walk_ops(op))


def _split_dim(op: loop.ParallelOp) -> int | None:
    """The first dimension that is not statically a single iteration."""
    for d, (lb, ub, step) in enumerate(zip(op.lb, op.ub, op.step)):
        bounds = [_static_int(v) for v in (lb, ub, step)]
        if None in bounds or -(-(bounds[1] - bounds[0]) // bounds[2]) > 1:
            return d
    return None


class _Arith:
    """Index and f64 arithmetic that folds Python numbers (like ``llvm_common.Emitter``)."""

    def __init__(self, ip: InsertPoint):
        self.ip = ip

    def emit(self, op: Operation) -> SSAValue:
        Rewriter.insert_op(op, self.ip)
        return op.results[0] if op.results else None  # type: ignore[return-value]

    def emit_all(self, op: Operation) -> list[SSAValue]:
        Rewriter.insert_op(op, self.ip)
        return list(op.results)

    def index(self, x: int | SSAValue) -> SSAValue:
        return self.emit(_int_constant(x, _INDEX)) if isinstance(x, int) else x

    def float(self, x: float | SSAValue) -> SSAValue:
        if not isinstance(x, float):
            return x
        return self.emit(arith.ConstantOp.create(result_types=(f64,), location=UNKNOWN_LOC,
                                                 properties={"value": FloatAttr(x, f64)}))

    def binary(self, cls, a, b, fold):
        if not isinstance(a, SSAValue) and not isinstance(b, SSAValue):
            return fold(a, b)
        neutral = 1.0 if cls is arith.MulfOp else 0.0
        if a == neutral or b == neutral:
            return b if a == neutral else a
        conv = self.float if cls in (arith.AddfOp, arith.MulfOp) else self.index
        a, b = conv(a), conv(b)
        return self.emit(like(cls, (a, b), a.type))

    def trip(self, lb, ub, step) -> int | SSAValue:
        """``max(ceil((ub - lb) / step), 0)``; just ``ub`` for ``0 to dim step 1``."""
        s = [_static_int(v) for v in (lb, ub, step)]
        if None not in s:
            return max(-(-(s[1] - s[0]) // s[2]), 0)
        if s[0] == 0 and s[2] == 1 and isinstance(ub.owner, memref.DimOp):
            return ub  # a size is never negative
        count = ub if s[0] == 0 else self.op(arith.SubiOp, ub, lb)
        if s[2] != 1:
            count = self.op(arith.DivUIOp, self.op(arith.AddiOp, count, self.op(
                arith.SubiOp, step, self.index(1))), step)
        positive = self.cmpi(ub, lb, "sgt")
        return self.select(positive, count, self.index(0))

    def op(self, cls: type[Operation], a: SSAValue, b: SSAValue) -> SSAValue:
        """``cls(a, b)`` for an integer ``arith`` op whose result has the operands' type."""
        return self.emit(like(cls, (a, b), a.type))

    def cmpi(self, a: SSAValue, b: SSAValue, predicate: str) -> SSAValue:
        return self.emit(like(arith.CmpiOp, (a, b), i1, predicate))

    def select(self, cond: SSAValue, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(like(arith.SelectOp, (cond, a, b), a.type))

    def to_float(self, x: int | SSAValue) -> float | SSAValue:
        if isinstance(x, int):
            return float(x)
        as_int = self.emit(like(arith.IndexCastOp, (x,), i64, i64))
        return self.emit(like(arith.SIToFPOp, (as_int,), f64, f64))

    def add(self, a, b):
        return self.binary(arith.AddfOp, a, b, lambda x, y: x + y)

    def iadd(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return b if _static_int(a) == 0 else a if _static_int(b) == 0 else \
            self.op(arith.AddiOp, a, b)

    def imul(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return b if _static_int(a) == 1 else a if _static_int(b) == 1 else \
            self.op(arith.MuliOp, a, b)

    def mul(self, a, b):
        return self.binary(arith.MulfOp, a, b, lambda x, y: x * y)


def _nest_trip(a: _Arith, op: Operation, root: Operation) -> float | SSAValue:
    """The trip count of a nested loop as f64, when its bounds are known outside ``root``."""
    if isinstance(op, (loop.ForOp, loop.ParallelOp)):
        dims = list(zip(op.lb, op.ub, op.step))
    elif isinstance(op, scf.ForOp):
        dims = [(op.lb, op.ub, op.step)]
    elif isinstance(op, scf.WhileOp):
        return WHILE_TRIP
    else:
        return float(GUESSED_TRIP)
    total: float | SSAValue = 1.0
    for bounds in dims:
        if all(_static_int(v) is not None or not _inside(v, root) for v in bounds):
            total = a.mul(total, a.to_float(a.trip(*bounds)))
        else:
            total = a.mul(total, float(GUESSED_TRIP))
    return total


def _lanes(op: Operation) -> int:
    """Scalar operations one op stands for: the elements of a vector result or operand
    (matmul's ``vector.fma`` on ``vector<16xf32>`` is 16 multiply-adds), else 1."""
    for v in (*op.results, *op.operands):
        if isinstance(v.type, VectorType):
            n = 1
            for d in v.type.get_shape():
                n *= d
            return n
    return 1


def _cost(a: _Arith, block: Block, root: Operation) -> float | SSAValue:
    """Estimated scalar operations of one run of ``block`` (nested loops times their trips)."""
    static, dynamic = 0.0, []
    for op in block.ops:
        if not op.regions:
            cheap = not op.name.startswith("math.") or op.name in _CHEAP_MATH
            static += (1.0 if cheap else MATH_COST) * _lanes(op)
            continue
        inner: float | SSAValue = 0.0
        for region in op.regions:
            for b in region.blocks:
                inner = a.add(inner, _cost(a, b, root))
        if isinstance(op, (loop.ForOp, loop.ParallelOp, scf.ForOp, scf.WhileOp)):
            inner = a.mul(inner, _nest_trip(a, op, root))
        if isinstance(inner, float):
            static += inner
        else:
            dynamic.append(inner)
    total: float | SSAValue = static
    for term in dynamic:
        total = a.add(total, term)
    return total


def _combine(kind: str, t: Attribute, x: SSAValue, y: SSAValue) -> Operation:
    """The combiner of reduction ``kind`` on two partials of type ``t``."""
    is_float = not isinstance(t, (IntegerType, IndexType))
    is_bool = isinstance(t, IntegerType) and t.width.data == 1
    table = {
        "add": arith.AddfOp if is_float else arith.AddiOp,
        "mul": arith.MulfOp if is_float else arith.MuliOp,
        "max": arith.MaximumfOp if is_float else arith.OrIOp if is_bool else arith.MaxSIOp,
        "min": arith.MinimumfOp if is_float else arith.AndIOp if is_bool else arith.MinSIOp,
        "and": arith.AndIOp, "or": arith.OrIOp,
    }
    return table[kind](x, y)


def _identity(kind: str, t: Attribute) -> Operation:
    """The identity of ``add``/``mul`` (-0.0 for a float sum: -0.0 + x is x for every x)."""
    if isinstance(t, (IntegerType, IndexType)):
        return arith.ConstantOp(IntegerAttr(0 if kind == "add" else 1, t))
    return arith.ConstantOp(FloatAttr(-0.0 if kind == "add" else 1.0, t))


@dataclass
class _Outline:
    """The pieces of one outlined loop shared by the body and the call site."""

    op: loop.ParallelOp
    dim: int
    name: str
    captured: list[SSAValue]  # call-site values packed into the context, in order
    constants: list[Operation]  # cloned into the body instead
    trips: list[int | SSAValue]  # call-site trip count of each dimension
    trip: SSAValue  # ... and of the split dimension, as a value
    partials: list[SSAValue]  # one memref<MAX_CHUNKS x T> per reduction
    work: SSAValue | None = None  # call site: the estimated work of the whole loop (f64)
    allocates: bool = False  # whether the body allocates (it may then run out of memory)

    @property
    def struct_type(self) -> llvm.LLVMStructType:
        return llvm.LLVMStructType.from_type_list([llvm_type(v.type) for v in self.captured])


def _cast(v: SSAValue, t: Attribute) -> Operation:
    """``UnrealizedConversionCastOp.get([v], [t])``, unchecked."""
    return UnrealizedConversionCastOp.create(operands=(v,), result_types=(t,),
                                             location=UNKNOWN_LOC)


def _int_constant(x: int, t: Attribute) -> Operation:
    """``arith.ConstantOp(IntegerAttr(x, t))``, unchecked."""
    return arith.ConstantOp.create(result_types=(t,), properties={"value": int_attr(x, t)},
                                   location=UNKNOWN_LOC)


def _unpack(o: _Outline, a: _Arith, ctx: SSAValue) -> dict[SSAValue, SSAValue]:
    packed = a.emit(Emitter().load(ctx, o.struct_type).owner)
    mapper: dict[SSAValue, SSAValue] = {}
    for i, v in enumerate(o.captured):
        word = a.emit(make(llvm.ExtractValueOp, (packed,), llvm_type(v.type),
                           {"position": position([i])}))
        if word.type != v.type:
            word = a.emit(_cast(word, v.type))
        mapper[v] = word
    for c in o.constants:
        mapper[c.results[0]] = a.emit(c.clone())
    return mapper


def _chunk_bounds(a: _Arith, o: _Outline, mapper, k: SSAValue, chunks: SSAValue):
    """Iterations ``[lo, hi)`` of chunk ``k``: the first ``trip % chunks`` chunks get one more."""
    trip = mapper[o.trip]
    q = a.op(arith.DivUIOp, trip, chunks)
    r = a.op(arith.RemUIOp, trip, chunks)
    first = a.iadd(a.imul(k, q), a.op(arith.MinUIOp, k, r))
    extra = a.select(a.cmpi(k, r, "ult"), a.index(1), a.index(0))
    last = a.iadd(a.iadd(first, q), extra)
    lb, step = mapper[o.op.lb[o.dim]], mapper[o.op.step[o.dim]]
    return a.iadd(lb, a.imul(first, step)), a.iadd(lb, a.imul(last, step))


def _build_body(o: _Outline) -> func.FuncOp:
    block = Block(arg_types=[PTR, _INDEX, _INDEX])
    ctx, k, chunks = block.args
    ctx.name_hint, k.name_hint, chunks.name_hint = "ctx", "chunk", "chunks"
    a = _Arith(InsertPoint.at_end(block))
    mapper = _unpack(o, a, ctx)
    lo, hi = _chunk_bounds(a, o, mapper, k, chunks)
    op = o.op
    # the loop's own body moves into the new function (the loop itself is replaced by the
    # runtime call): cheaper than a clone, and the same ops
    for inner in walk_ops(op.body):
        operands = inner.operands
        if any(v in mapper for v in operands):
            inner.operands = [mapper.get(v, v) for v in operands]
    lbs = [mapper.get(v, v) for v in op.lb]
    ubs = [mapper.get(v, v) for v in op.ub]
    lbs[o.dim], ubs[o.dim] = lo, hi
    iter_args = [mapper.get(v, v) for v in op.iter_args]
    is_first = a.cmpi(k, a.index(0), "eq") if iter_args else None
    inits = []
    for init, kind in zip(iter_args, op.reduction_kinds):
        if kind in ("add", "mul"):
            init = a.select(is_first, init, a.emit(_identity(kind, init.type)))
        inits.append(init)
    new = loop.ParallelOp(lbs, ubs, [mapper.get(v, v) for v in op.step],
                          Rewriter.move_region_contents_to_new_regions(op.body), inits,
                          op.reduction_kinds)
    new.attributes |= op.attributes
    a.emit(new)
    for r, buf in zip(new.res, o.partials):
        a.emit(memref.StoreOp.get(r, mapper[buf], [k]))
    a.emit(func.ReturnOp(a.emit(arith.ConstantOp(IntegerAttr(0, i32)))))
    body = func.FuncOp(o.name, FunctionType.from_lists([PTR, _INDEX, _INDEX], [i32]),
                       Region(block), visibility="private")
    body.attributes[BODY_ATTR] = UnitAttr()
    return body


def _lower_body_asserts(body: func.FuncOp) -> list[tuple[int, str, Attribute | None]]:
    """Make each ``cf.assert`` of the body return its number j (1, 2, ... in walk order).

    The body is lowered to branches first (an assert must leave nested loops).  Returns
    ``(j, message, ember.assert_id)`` per assert, for the caller to re-assert the status."""
    asserts = [op for op in walk_ops(body) if isinstance(op, cf.AssertOp)]
    if not asserts:
        return []
    found = []
    for j, op in enumerate(asserts, start=1):
        op.attributes["ember.chunk_status"] = IntegerAttr(j, i32)
        found.append((j, op.msg.data, op.attributes.get("ember.assert_id")))
    PatternRewriteWalker(GreedyRewritePatternApplier([ForToScf(), ParallelToScf()]),
                         apply_recursively=True).rewrite_region(body.body)
    PatternRewriteWalker(GreedyRewritePatternApplier(
        [SwitchLowering(), IfLowering(), ForLowering(), WhileLowering()])).rewrite_region(body.body)
    for op in [op for op in walk_ops(body) if isinstance(op, cf.AssertOp)]:
        block = op.parent_block()
        rest = block.split_before(op)
        fail = Block()
        status = arith.ConstantOp(op.attributes["ember.chunk_status"])
        fail.add_ops([status, func.ReturnOp(status.result)])
        block.parent_region().insert_block_after(fail, block)
        block.add_op(cf.ConditionalBranchOp(op.arg, rest, (), fail, ()))
        Rewriter.erase_op(op)
    return found


def _entry_block(op: Operation) -> Block:
    parent = op.parent_op()
    while not isinstance(parent, func.FuncOp):
        parent = parent.parent_op()
    return parent.body.blocks.first


def _prepare(op: loop.ParallelOp, name: str) -> _Outline:
    """Compute the call-site values (trip count, partials buffers) and what to capture."""
    dim = _split_dim(op)
    a = _Arith(InsertPoint.before(op))
    trips = [a.trip(*bounds) for bounds in zip(op.lb, op.ub, op.step)]
    trip = a.index(trips[dim])
    entry = _entry_block(op)
    partials = []
    for v in op.iter_args:
        buf = memref.AllocaOp.get(v.type, 8, shape=[MAX_CHUNKS])
        entry.insert_op_before(buf, entry.first_op) if entry.first_op else entry.add_op(buf)
        partials.append(buf.memref)
    free = _free_values(op, dim)
    constants = [v.owner for v in free if _constant(v) is not None]
    captured = [v for v in free if _constant(v) is None] + [trip, *partials]
    if isinstance(trip.owner, arith.ConstantOp):
        captured.remove(trip)
        constants.append(trip.owner)
    return _Outline(op, dim, name, captured, constants, trips, trip, partials)


def _estimate(o: _Outline) -> None:
    """The loop's estimated work (``o.work``, computed before the loop) and whether its body
    allocates: read from the body before it moves into its own function."""
    op = o.op
    a = _Arith(InsertPoint.before(op))
    total: int | SSAValue = 1
    for t in o.trips:  # an index product: the iterations of a loop over buffers fit in i64
        if isinstance(t, int) and isinstance(total, int):
            total *= t
        else:
            total = t if total == 1 else a.imul(a.index(total), a.index(t))
    if PRANGE_ATTR in op.attributes:  # the user asked for threads (as Numba's prange does)
        o.work = a.float(PRANGE_WORK)
    else:
        o.work = a.float(a.mul(a.to_float(total), _cost(a, op.body.block, op)))
    o.allocates = any(isinstance(x, memref.AllocOp) for x in walk_ops(op.body))


def _call(o: _Outline, asserts) -> list[SSAValue]:
    """Replace the loop: pick the chunk count, pack the context, run, check, combine."""
    op = o.op
    a = _Arith(InsertPoint.before(op))
    trip64 = a.emit(arith.IndexCastOp(o.trip, i64))
    chunks = a.emit(call("ember_parallel_chunks", (trip64, o.work), i64))
    entry = _entry_block(op)
    one = llvm.ConstantOp(IntegerAttr(1, i64), i64)
    ctx = llvm.AllocaOp(one.result, o.struct_type, alignment=8)
    for new in (ctx, one):
        entry.insert_op_before(new, entry.first_op) if entry.first_op else entry.add_op(new)
    packed = a.emit(llvm.UndefOp(o.struct_type))
    for i, v in enumerate(o.captured):
        if llvm_type(v.type) != v.type:
            v = a.emit(_cast(v, llvm_type(v.type)))
        packed = a.emit(make(llvm.InsertValueOp, (packed, v), packed.type, {"position": position([i])}))
    a.emit(llvm.StoreOp(packed, ctx.res))
    body = a.emit(llvm.AddressOfOp(o.name, PTR))
    status = a.emit(call("ember_parallel_for", (body, ctx.res, chunks), i32))
    # a body that could not allocate a temporary returns OUT_OF_MEMORY (memref-to-llvm):
    # the entry returns it too (Python raises MemoryError)
    oom = [(OUT_OF_MEMORY_STATUS, "out of memory", IntegerAttr(OUT_OF_MEMORY_STATUS, i64))]
    for j, message, assert_id in [*asserts, *(oom if o.allocates else [])]:
        ok = a.cmpi(status, a.emit(_int_constant(j, i32)), "ne")
        check = cf.AssertOp(ok, message)
        if assert_id is not None:
            check.attributes["ember.assert_id"] = assert_id
        a.emit(check)
    return _combine_partials(a, o, chunks)


def _combine_partials(a: _Arith, o: _Outline, chunks: SSAValue) -> list[SSAValue]:
    """``r = partial[0]; for k in 1..chunks: r = combine(r, partial[k])``."""
    if not o.partials:
        return []
    zero, one = a.index(0), a.index(1)
    firsts = [a.emit(memref.LoadOp.get(buf, [zero])) for buf in o.partials]
    count = a.emit(arith.IndexCastOp(chunks, _INDEX))
    block = Block(arg_types=[_INDEX, *(v.type for v in firsts)])
    k, *accs = block.args
    combined = []
    for buf, acc, kind in zip(o.partials, accs, o.op.reduction_kinds):
        part = memref.LoadOp.get(buf, [k])
        step = _combine(kind, acc.type, acc, part.res)
        block.add_ops([part, step])
        combined.append(step.results[0])
    block.add_op(loop.YieldOp(*combined))
    return a.emit_all(loop.ForOp(one, count, one, firsts, block))


@dataclass(frozen=True)
class ParallelOutlinePass(ModulePass):
    """Outline the outermost ``loop.parallel`` loops into bodies run on threads."""

    name = "parallel-outline"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        targets = [p for p in walk_ops(op) if isinstance(p, loop.ParallelOp) and _outlinable(p)]
        if not targets:
            return
        taken = {o.sym_name.data for o in op.ops if hasattr(o, "sym_name")}
        last: dict[Operation, Operation] = {}  # function -> its last body so far
        bodies: list[tuple[tuple, func.FuncOp]] = []  # (fingerprint, body)
        for target in targets:
            fn = target.parent_op()
            while not isinstance(fn, func.FuncOp):
                fn = fn.parent_op()
            name = _fresh(f"{fn.sym_name.data}_parallel", taken)
            outline = _prepare(target, name)
            _estimate(outline)
            body = _build_body(outline)
            asserts = _lower_body_asserts(body)
            print_ = _fingerprint(body)
            twin = _same_body(body, print_, bodies)
            if twin is None:
                Rewriter.insert_op(body, InsertPoint.after(last.get(fn, fn)))
                last[fn] = body
                bodies.append((print_, body))
            else:  # an identical loop (two matmuls of the same dtype): one body, compiled once
                taken.discard(name)
                outline.name = twin.sym_name.data
                body.erase()
            results = _call(outline, asserts)
            for old, new in zip(target.results, results):
                old.replace_all_uses_with(new)
            Rewriter.erase_op(target)
        declare_runtime(op)


def _fingerprint(body: func.FuncOp) -> tuple:
    """Each op's name and result types, in walk order: bodies that differ here are not
    the same code (comparing these first spares most structural comparisons)."""
    return tuple((o.name, tuple(r.type for r in o.results)) for o in walk_ops(body))


def _same_body(body: func.FuncOp, fingerprint: tuple,
               bodies: list[tuple[tuple, func.FuncOp]]) -> func.FuncOp | None:
    """An outlined body with the same code as ``body``, if there is one. Two matmuls or
    two elementwise loops of the same shape kinds outline to identical functions; LLVM
    would optimise and generate the copy again (the MLP's two packed matmuls: 0.2 s).
    (xDSL's structural equivalence does not compare result types, such as memref layouts:
    the fingerprints do.)"""
    for print_, other in bodies:
        if print_ == fingerprint and other.function_type == body.function_type and \
                other.body.is_structurally_equivalent(body.body):
            return other
    return None


def _fresh(stem: str, taken: set[str]) -> str:
    k = 0
    while f"{stem}{k}" in taken:
        k += 1
    taken.add(f"{stem}{k}")
    return f"{stem}{k}"
