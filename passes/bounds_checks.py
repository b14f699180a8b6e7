"""``bounds-checks``: drop the index checks of element accesses that provably stay in bounds.

The script frontend checks every element access the way Python does: a negative index
counts from the end, anything else out of range raises ``IndexError``. For ``a[i - 1, j]``
in ``for i in range(1, n - 1)`` that is::

    %im1 = arith.subi %i64, %c1_i64 : i64                  (%i64 = index_cast %i)
    %k = arith.index_cast %im1 : i64 to index
    %neg = arith.cmpi slt, %k, %c0 : index            ->   %neg = false
    %w = arith.addi %k, %n : index
    %idx = arith.select %neg, %w, %k : index          ->   %idx = %k
    %ok = arith.cmpi ult, %idx, %n : index
    cf.assert %ok, "index out of bounds for axis 0"   ->   (gone)

The checks stop LLVM from vectorising stencil loops. The pass proves them away in two steps:

1. **Sizes of loop-carried buffers.** A buffer carried by ``scf.for``/``loop.for``
   (``a, new = new, a``) is a block argument, and its ``memref.dim`` is unrelated to the
   sizes it was allocated with. A small optimistic fixpoint over all carried memrefs gives
   each one the sizes that its initial value and every yielded value agree on (the same SSA
   value or the same constant); ``memref.dim`` of it, or of the loop's result, then reads
   those sizes.
2. **Index facts.** Each 64-bit integer is evaluated to ``atom + offset`` with a numeric
   range, seeing through constants, ``arith.addi``/``subi`` with a constant (only when the
   range shows the machine sum does not wrap), ``arith.index_cast`` between ``i64`` and
   ``index``, ``select`` of a constant condition and ``memref.dim`` (an atom in
   ``[0, 2**63)``). An induction variable of a loop with a positive constant step lies in
   ``[lb, ub)``, which adds the bound ``iv <= ub - 1``. ``cmpi slt %x, c`` / ``sge`` fold
   when the range decides them, ``cmpi ult %x, %d`` folds to true when ``x >= 0`` and
   ``x < d`` are proven, and a ``cf.assert`` of a true constant is removed.

Nothing that cannot be proven changes: negative indices still wrap and out-of-range ones
still raise. Dead arithmetic is left for ``canonicalize``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from xdsl.context import Context
from xdsl.dialects import arith, cf, memref, scf
from xdsl.dialects.builtin import (DYNAMIC_INDEX, IndexType, IntegerAttr, IntegerType, MemRefType,
                                   ModuleOp, i1)
from xdsl.ir import BlockArgument, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.transforms.dead_code_elimination import region_dce

from ember.dialects import loop

MIN, MAX = -2**63, 2**63 - 1

#: A known size: a constant, an SSA value, or ``(memref, k)`` for ``memref.dim %memref, k``
#: of a buffer whose sizes nothing else tells. ``None``: unknown; ``TOP``: not yet seen.
Size = Union[int, SSAValue, tuple[SSAValue, int], None]
TOP = "top"

SEQUENTIAL = (scf.ForOp, loop.ForOp)


# -- loop structure --------------------------------------------------------------------------


def loop_ivs(op: Operation) -> list[tuple[SSAValue, SSAValue, SSAValue, SSAValue]]:
    """``(iv, lb, ub, step)`` for each induction variable of a loop op."""
    if isinstance(op, scf.ForOp):
        return [(op.body.block.args[0], op.lb, op.ub, op.step)]
    if isinstance(op, loop.ForOp):
        return [(op.body.block.args[0], op.lb[0], op.ub[0], op.step[0])]
    if isinstance(op, loop.ParallelOp):
        return [(op.body.block.args[d], op.lb[d], op.ub[d], op.step[d]) for d in range(len(op.lb))]
    return []


def carried(op: Operation) -> list[tuple[SSAValue, BlockArgument, SSAValue, SSAValue]]:
    """``(init, iter_arg, result, yielded)`` for each value a sequential loop carries."""
    block = op.regions[0].block
    yielded = block.last_op.operands
    return [(init, block.args[k + 1], op.results[k], yielded[k])
            for k, init in enumerate(op.iter_args)]


def _constant(v: SSAValue) -> int | None:
    if isinstance(v.owner, arith.ConstantOp) and isinstance(v.owner.value, IntegerAttr):
        return v.owner.value.value.data
    return None


def _is64(v: SSAValue) -> bool:
    t = v.type
    return isinstance(t, IndexType) or isinstance(t, IntegerType) and t.width.data == 64


# -- 1. sizes of buffers, through loop-carried values ------------------------------------------


class BufferSizes:
    """The sizes of memref values: static sizes, ``memref.alloc`` operands, and for
    loop-carried buffers what the init and every yield agree on (an optimistic fixpoint:
    start from "not yet seen", lower a size to unknown when two inputs disagree)."""

    def __init__(self, root: Operation):
        self.loops = [op for op in root.walk() if isinstance(op, SEQUENTIAL)]
        self.carried: dict[SSAValue, list] = {}
        for op in self.loops:
            for _, arg, res, _ in carried(op):
                if isinstance(arg.type, MemRefType):
                    self.carried[arg] = self.carried[res] = [TOP] * arg.type.get_num_dims()
        changed = True
        while changed:
            changed = False
            for op in self.loops:
                for init, arg, _, yielded in carried(op):
                    if arg in self.carried:
                        changed |= self._meet(self.carried[arg], self.sizes(init))
                        changed |= self._meet(self.carried[arg], self.sizes(yielded))
        for sizes in self.carried.values():
            sizes[:] = [None if s is TOP else s for s in sizes]

    @staticmethod
    def _meet(into: list, sizes: list) -> bool:
        changed = False
        for k, s in enumerate(sizes):
            old = into[k]
            new = old if s is TOP or _same(s, old) else s if old is TOP else None
            if not _same(new, old):
                into[k], changed = new, True
        return changed

    def sizes(self, v: SSAValue) -> list:
        """One :data:`Size` per dimension of memref ``v``."""
        if v in self.carried:
            return self.carried[v]
        allocated = isinstance(v.owner, (memref.AllocOp, memref.AllocaOp))
        dynamic = iter(v.owner.dynamic_sizes if allocated else ())
        out: list = []
        for k, static in enumerate(v.type.get_shape()):
            if static != DYNAMIC_INDEX:
                out.append(static)
            else:
                out.append(self.size_value(next(dynamic)) if allocated else (v, k))
        return out

    def dim_size(self, dim: memref.DimOp) -> Size | str:
        """The :data:`Size` that ``memref.dim`` reads, ``None`` if unknown."""
        k, t = _constant(dim.index), dim.source.type
        if k is None or not isinstance(t, MemRefType) or not 0 <= k < t.get_num_dims():
            return None
        return self.sizes(dim.source)[k]

    def size_value(self, v: SSAValue) -> Size | str:
        """The canonical :data:`Size` of an index value (``memref.dim`` is looked through)."""
        c = _constant(v)
        if c is not None:
            return c
        if isinstance(v.owner, memref.DimOp):
            s = self.dim_size(v.owner)
            return v if s is None else s
        return v


def _same(a: Size | str, b: Size | str) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return a[0] is b[0] and a[1] == b[1]
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return a is b


# -- 2. index facts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sym:
    """A 64-bit integer equal to ``atom + offset`` (no wraparound) and within ``[lo, hi]``.
    ``atom`` is ``None`` for a constant, an SSA value, or a ``(memref, k)`` size."""

    atom: object
    offset: int
    lo: int
    hi: int

    def key(self):
        return id(self.atom) if isinstance(self.atom, SSAValue) else \
            (id(self.atom[0]), self.atom[1]) if isinstance(self.atom, tuple) else None


class Facts:
    """Symbolic values and ranges of index arithmetic, with loop induction-variable bounds."""

    def __init__(self, sizes: BufferSizes):
        self.sizes = sizes
        self.memo: dict[SSAValue, Sym] = {}
        self.iv_ub: dict[SSAValue, Sym] = {}

    def of(self, v: SSAValue) -> Sym:
        if v not in self.memo:
            self.memo[v] = self._eval(v)
        return self.memo[v]

    def _eval(self, v: SSAValue) -> Sym:
        opaque = Sym(v, 0, MIN, MAX)
        if not _is64(v):
            return opaque
        if isinstance(v, BlockArgument):
            return self._iv(v) or opaque
        op, c = v.owner, _constant(v)
        if c is not None:
            return Sym(None, c, c, c)
        if isinstance(op, memref.DimOp):
            return self._size(self.sizes.dim_size(op), v)
        if isinstance(op, arith.IndexCastOp) and _is64(op.input):
            return self.of(op.input)
        if isinstance(op, (arith.AddiOp, arith.SubiOp)):
            return self._shifted(op) or opaque
        if isinstance(op, arith.SelectOp):
            cond = _constant(op.cond)
            if cond is not None:
                return self.of(op.lhs if cond else op.rhs)
            a, b = self.of(op.lhs), self.of(op.rhs)
            return Sym(v, 0, min(a.lo, b.lo), max(a.hi, b.hi))
        return opaque

    def _size(self, size: Size, v: SSAValue) -> Sym:
        if isinstance(size, int):
            return Sym(None, size, size, size)
        if isinstance(size, SSAValue) and size is not v:
            return self.of(size)
        return Sym(v if size is None else size, 0, 0, MAX)

    def _shifted(self, op: arith.AddiOp | arith.SubiOp) -> Sym | None:
        lhs, rhs = self.of(op.lhs), self.of(op.rhs)
        if rhs.atom is None:
            x, c = lhs, rhs.offset if isinstance(op, arith.AddiOp) else -rhs.offset
        elif lhs.atom is None and isinstance(op, arith.AddiOp):
            x, c = rhs, lhs.offset
        else:
            return None
        if x.lo + c < MIN or x.hi + c > MAX:  # the machine sum might wrap
            return None
        return Sym(x.atom, x.offset + c, x.lo + c, x.hi + c)

    def _iv(self, arg: BlockArgument) -> Sym | None:
        """``lb <= iv < ub`` holds for the induction variable of a loop whose step is a
        positive constant and whose ``iv + step`` cannot wrap."""
        for iv, lb, ub, step in loop_ivs(arg.block.parent_op()):
            if iv is not arg:
                continue
            s, lo, hi = _constant(step), self.of(lb), self.of(ub)
            if s is None or s <= 0 or hi.hi - 1 > MAX - s:
                return None
            self.iv_ub[arg] = hi
            return Sym(arg, 0, lo.lo, hi.hi - 1)
        return None

    def upper(self, x: Sym, depth: int = 0) -> list[tuple[object, int]]:
        """Bounds ``(key, c)`` with ``x <= atom + c`` (``key`` identifies the atom)."""
        bounds = [(x.key(), x.offset)]
        if depth < 8 and isinstance(x.atom, SSAValue) and x.atom in self.iv_ub:
            bounds += [(k, c - 1 + x.offset) for k, c in self.upper(self.iv_ub[x.atom], depth + 1)]
        return bounds

    def less(self, a: SSAValue, b: SSAValue) -> bool:
        """Whether ``a < b`` is proven (as mathematical integers)."""
        x, y = self.of(a), self.of(b)
        return x.hi < y.lo or any(k == y.key() and c < y.offset for k, c in self.upper(x))

    def fold_cmpi(self, op: arith.CmpiOp) -> bool | None:
        """The value of a comparison, if it is proven; ``None`` otherwise."""
        pred = op.predicate.value.data
        x, y = self.of(op.lhs), self.of(op.rhs)
        if pred in (2, 5) and y.atom is None:  # slt, sge against a constant
            if x.lo >= y.offset or x.hi < y.offset:
                return (x.hi < y.offset) == (pred == 2)
        if pred == 6 and x.lo >= 0 and self.less(op.lhs, op.rhs):  # ult
            return True
        return None


# -- the pass ------------------------------------------------------------------------------------


def _const_before(op: Operation, value: int, type) -> SSAValue:
    c = arith.ConstantOp(IntegerAttr(value, type))
    Rewriter.insert_op(c, InsertPoint.before(op))
    return c.result


def _replace(op: Operation, value: SSAValue) -> None:
    op.results[0].replace_all_uses_with(value)
    op.detach()
    op.erase()


def simplify(root: Operation) -> tuple[int, int]:
    """Apply both steps to ``root``; returns the number of ``cf.assert`` removed and of ops
    folded or rewritten."""
    sizes = BufferSizes(root)
    facts = Facts(sizes)
    removed = changed = 0
    for op in list(root.walk()):
        if isinstance(op, memref.DimOp):
            changed += _fold_dim(op, sizes)
        elif isinstance(op, arith.CmpiOp):
            value = facts.fold_cmpi(op)
            if value is not None:
                _replace(op, _const_before(op, int(value), i1))
                changed += 1
        elif isinstance(op, arith.SelectOp) and _constant(op.cond) is not None:
            _replace(op, op.lhs if _constant(op.cond) else op.rhs)
            changed += 1
        elif isinstance(op, cf.AssertOp) and _constant(op.arg) not in (None, 0):
            op.detach()
            op.erase()
            removed += 1
    return removed, changed


def _fold_dim(op: memref.DimOp, sizes: BufferSizes) -> bool:
    """``memref.dim`` of a buffer with a known size reads that size instead."""
    size = sizes.dim_size(op)
    if isinstance(size, int):
        _replace(op, _const_before(op, size, IndexType()))
    elif isinstance(size, tuple) and not (size[0] is op.source and size[1] == _constant(op.index)):
        same = size[1] == _constant(op.index)
        op.operands = [size[0], op.index if same else _const_before(op, size[1], IndexType())]
    elif isinstance(size, SSAValue) and size is not op.results[0]:
        _replace(op, size)
    else:
        return False
    return True


@dataclass(frozen=True)
class BoundsChecksPass(ModulePass):
    """Remove index checks that provably pass (see the module docstring)."""

    name = "bounds-checks"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        removed, changed = simplify(op)
        if removed or changed:
            # the wraps' and checks' arithmetic left dead: a DCE, not a whole canonicalize
            # (which cost the MLP's compile 20 ms though it has no checks)
            for region in op.regions:
                region_dce(region)
