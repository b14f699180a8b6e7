"""Hypothesis strategies for ember (part of :mod:`ember.testing`): dtypes, shapes that
broadcast, arrays with edge values, and random well-typed tensor-stage programs.

    from hypothesis import given
    import ember.testing as et

    @given(et.arrays(np.float32, (2, 3)))          # ±0, ±inf, nan, subnormals, 3e32 included
    def test_exp(x): ...

    @given(et.programs(ops=["add", "exp", "sum"], max_ops=6))
    def test_my_pass(program):
        et.check_rewrite(program, MyPass())

Programs are built through ember's typed builder, so they always verify, and they track
the run-time size of every value, so operands that meet in an op always broadcast. They
shrink toward fewer ops, earlier ops in ``ops``, fewer and smaller inputs, and plain values.
The op generators live in :data:`OPS`; :func:`register_op` adds one (for a user op).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from xdsl.builder import Builder
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, UnitAttr
from xdsl.ir import Block, Region
from xdsl.rewriter import InsertPoint

from ember.dialects import etensor as T
from ember.dialects import shapes as S
from ember.frontends.builder import PY_ELEMENT, BuildError, TensorBuilder, TValue
from ember.testing_program import Program

DTYPES = tuple(np.dtype(d) for d in (np.float32, np.float64, np.int32, np.int64, np.bool_))


def dtypes(allowed: Sequence = DTYPES) -> st.SearchStrategy[np.dtype]:
    """One of ember's dtypes (``float32`` first, so failures shrink toward it)."""
    return st.sampled_from([np.dtype(d) for d in allowed])


def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 4) -> st.SearchStrategy[tuple]:
    """An array shape; sizes 0 and 1 included."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=max_side)


def broadcast_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3,
                     max_side: int = 4) -> st.SearchStrategy[tuple]:
    """``num_shapes`` shapes that broadcast together (sizes 0 and 1 included)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=0,
        max_side=max_side).map(lambda r: r.input_shapes)


#: The kinds of edge values, all on by default.
EDGE_KINDS = ("zero", "inf", "nan", "subnormal", "large", "limits")


def edge_values(dtype, kinds=EDGE_KINDS) -> list:
    """The values where implementations disagree, of the given ``kinds``: ``zero`` (±0),
    ``inf``, ``nan``, ``subnormal``, ``large`` (2**-20 of the largest float: products
    overflow, sums of a few do not), ``limits`` (integer minimum and maximum).

        >>> edge_values(np.int32)
        [0, 1, -1, -2147483648, 2147483647]
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return [False, True]
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return [0, 1, -1] + ([int(info.min), int(info.max)] if "limits" in kinds else [])
    info = np.finfo(dtype)
    tiny, large = float(info.smallest_subnormal), float(info.max) / 2**20
    table = {"zero": [0.0, -0.0], "inf": [np.inf, -np.inf], "nan": [np.nan],
             "subnormal": [tiny, -tiny, 3 * tiny], "large": [large, -large]}
    return [v for kind in EDGE_KINDS if kind in kinds for v in table.get(kind, [])]


def elements(dtype, edge=True) -> st.SearchStrategy:
    """Scalars of ``dtype``: plain values, plus (one time in four) :func:`edge_values`.

    ``edge`` is True (all kinds), False (none) or a collection of :data:`EDGE_KINDS`."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind == "f":
        plain = st.floats(-100, 100, width=dtype.itemsize * 8, allow_subnormal=False).map(lambda v: v + 0.0)
    else:
        plain = st.integers(-100, 100)
    edges = edge_values(dtype, EDGE_KINDS if edge is True else edge or ())
    if not edges:
        return plain
    return st.one_of(plain, plain, plain, st.sampled_from(edges))


@st.composite
def arrays(draw, dtype, shape, edge: bool = True, contiguous: bool = True) -> np.ndarray:
    """An array of ``dtype`` and ``shape`` (each a strategy or a value). ``edge`` as for
    :func:`elements` (``False`` switches edge values off); ``contiguous=False`` sometimes
    gives a strided or reversed view."""
    dtype = np.dtype(draw(dtype) if isinstance(dtype, st.SearchStrategy) else dtype)
    shape = draw(shape) if isinstance(shape, st.SearchStrategy) else tuple(shape)
    a = draw(hnp.arrays(dtype, shape, elements=elements(dtype, edge)))
    if not contiguous and a.ndim and draw(st.booleans()):
        axis = draw(st.integers(0, a.ndim - 1))
        index = [slice(None)] * a.ndim
        index[axis] = slice(None, None, 2)
        a = np.repeat(a, 2, axis=axis)[tuple(index)]
        if draw(st.booleans()):
            index[axis] = slice(None, None, -1)
            a = np.ascontiguousarray(a[tuple(index)])[tuple(index)]
    return a


# -- programs ----------------------------------------------------------------------------


@dataclass
class Value:
    """A value of the program being drawn: its IR value and its run-time shape."""

    tv: TValue
    shape: tuple[int, ...]

    @property
    def static(self) -> tuple[int, ...]:
        return self.tv.shape


@dataclass
class ProgramDraw:
    """The state while one program is drawn; op generators add values to ``pool``."""

    draw: Callable
    tb: TensorBuilder
    dtypes: tuple[np.dtype, ...]
    max_side: int
    edge: bool
    pool: list[Value] = field(default_factory=list)

    def pick(self, ok: Callable[[Value], bool] = lambda v: True) -> Value | None:
        """A value of the pool satisfying ``ok`` (shrinks toward the first argument)."""
        candidates = [v for v in self.pool if ok(v)]
        if not candidates:
            return None
        return candidates[self.draw(st.integers(0, len(candidates) - 1))]

    def add(self, tv: TValue, shape) -> Value:
        v = Value(tv, tuple(int(d) for d in shape))
        self.pool.append(v)
        return v


def compatible(*values: Value) -> bool:
    """Whether ``values`` broadcast both in their IR types and at run time, by ember's rule:
    only a static ``1`` broadcasts, so aligned dimensions that are not static ones must
    have the same run-time size."""
    try:
        S.broadcast_shapes(*(v.static for v in values))
    except S.ShapeError:
        return False
    rank = max((len(v.shape) for v in values), default=0)
    for k in range(1, rank + 1):
        sizes = {v.shape[-k] for v in values if len(v.shape) >= k and v.static[-k] != 1}
        if len(sizes) > 1:
            return False
    return True


def run_shape(*values: Value) -> tuple[int, ...]:
    return np.broadcast_shapes(*(v.shape for v in values))


def _element_ok(kind: str, element) -> bool:
    if kind in T.INT_OR_BOOL_ONLY and S.is_float(element):
        return False
    if S.is_bool(element) and kind in ("sub", "floordiv", "mod", "pow", "neg"):
        return False  # NumPy rejects these on bools
    return not (kind in T.UNARY and kind in T.FLOAT_ONLY and S.is_bool(element))  # float16


def _binary(g: ProgramDraw, kind: str) -> bool:
    a = g.pick()
    b = g.pick(lambda v: compatible(a, v) and _element_ok(kind, g.tb.result_element(a.tv, v.tv)))
    if b is None:
        return False
    if kind == "pow" and not S.is_float(g.tb.result_element(a.tv, b.tv)):
        exponent = g.tb.literal(g.draw(st.integers(0, 3)))  # ints to negative powers raise
        g.add(g.tb.binary("pow", a.tv, exponent), a.shape)
        return True
    g.add(g.tb.binary(kind, a.tv, b.tv), run_shape(a, b))
    return True


def _unary(g: ProgramDraw, kind: str) -> bool:
    a = g.pick(lambda v: _element_ok(kind, v.tv.element))
    if a is None:
        return False
    g.add(g.tb.unary(kind, a.tv), a.shape)
    return True


def _reduce(g: ProgramDraw, kind: str) -> bool:
    a = g.pick()
    axes = g.draw(st.lists(st.integers(0, max(a.tv.rank - 1, 0)), unique=True, max_size=a.tv.rank)
                  if a.tv.rank else st.just([]))
    axes = sorted(axes) if axes or g.draw(st.booleans()) else None
    reduced = range(a.tv.rank) if axes is None else axes
    if kind in ("max", "min") and any(a.shape[k] == 0 for k in reduced):
        return False  # NumPy raises: a zero-size reduction has no identity
    keep = g.draw(st.booleans())
    out = g.tb.reduce(kind, a.tv, axes, keep)
    g.add(out, S.reduce_shape(a.shape, tuple(reduced), keep))
    return True


def _arg_reduce(g: ProgramDraw, kind: str) -> bool:
    a = g.pick()
    rank = a.tv.rank
    axis = g.draw(st.one_of(st.none(), st.integers(-rank, rank - 1))) if rank else None
    reduced = range(rank) if axis is None else [axis % rank]
    if any(a.shape[k] == 0 for k in reduced):
        return False  # NumPy raises: an empty sequence has no extreme
    keep = g.draw(st.booleans())
    g.add(g.tb.reduce(kind, a.tv, axis, keep), S.reduce_shape(a.shape, tuple(reduced), keep))
    return True


def _scan(g: ProgramDraw, kind: str) -> bool:
    a = g.pick()
    rank = a.tv.rank
    axis = g.draw(st.one_of(st.none(), st.integers(-rank, rank - 1))) if rank else None
    out = g.tb.scan(kind, a.tv, axis)
    g.add(out, (int(np.prod(a.shape)),) if axis is None else a.shape)
    return True


def _matmul_ok(a: Value, b: Value) -> bool:
    """``a @ b`` type-checks and runs: contracted sizes agree, batch dimensions broadcast."""
    if not a.shape or not b.shape:
        return False
    k = -2 if len(b.shape) > 1 else 0
    if a.shape[-1] != b.shape[k] or S.DYN not in (a.static[-1], b.static[k]) and a.static[-1] != b.static[k]:
        return False
    sa, sb = a.static[:-2], b.static[:-2]
    ra, rb = a.shape[:-2], b.shape[:-2]
    try:
        S.broadcast_shapes(sa, sb)
    except S.ShapeError:
        return False
    return all(sa[-k] == 1 or sb[-k] == 1 or ra[-k] == rb[-k]
               for k in range(1, min(len(ra), len(rb)) + 1))


def _matmul(g: ProgramDraw, kind: str) -> bool:
    a = g.pick(lambda v: v.tv.rank >= 1)
    if a is None:
        return False
    b = g.pick(lambda v: _matmul_ok(a, v))
    if b is None:
        return False
    out = g.tb.matmul(a.tv, b.tv)
    want = np.matmul(np.empty(a.shape, np.int8), np.empty(b.shape, np.int8)).shape
    g.add(out, want)
    return True


def _transpose(g: ProgramDraw, kind: str) -> bool:
    a = g.pick(lambda v: v.tv.rank >= 2)
    if a is None:
        return False
    perm = g.draw(st.permutations(range(a.tv.rank)))
    g.add(g.tb.transpose(a.tv, perm), tuple(a.shape[p] for p in perm))
    return True


def _reshape(g: ProgramDraw, kind: str) -> bool:
    a = g.pick()
    total = int(np.prod(a.shape))
    divisors = [d for d in range(2, g.max_side + 1) if total and total % d == 0]
    choice = g.draw(st.sampled_from(["flat", "column", "row"] + (["split"] if divisors else [])))
    if choice == "split":
        d = g.draw(st.sampled_from(divisors))
        sizes, shape = [d, total // d], (d, total // d)
    else:
        sizes = {"flat": [-1], "column": [-1, 1], "row": [1, -1]}[choice]
        shape = {"flat": (total,), "column": (total, 1), "row": (1, total)}[choice]
    g.add(g.tb.reshape(a.tv, sizes), shape)
    return True


def _broadcast(g: ProgramDraw, kind: str) -> bool:
    a = g.pick()
    sizes = [g.draw(st.integers(0, g.max_side)) if s == 1 else d for d, s in zip(a.shape, a.static)]
    if g.draw(st.booleans()):
        sizes.insert(0, g.draw(st.integers(0, g.max_side)))
    g.add(g.tb.broadcast_to(a.tv, sizes), sizes)
    return True


def _where(g: ProgramDraw, kind: str) -> bool:
    c = g.pick()
    a = g.pick(lambda v: compatible(c, v))
    b = g.pick(lambda v: compatible(c, a, v))
    if b is None:
        return False
    g.add(g.tb.where(c.tv, a.tv, b.tv), run_shape(c, a, b))
    return True


def _cast(g: ProgramDraw, kind: str) -> bool:
    a = g.pick()
    target = g.draw(dtypes(g.dtypes))
    g.add(g.tb.cast(a.tv, S.NUMPY_TO_ELEMENT[target]), a.shape)
    return True


_LITERALS = [1, 2, 0, -3, 0.5, 2.0, -1.5, 0.0, -0.0, True, False]


def _literal(g: ProgramDraw, kind: str) -> bool:
    g.add(g.tb.literal(g.draw(st.sampled_from(_LITERALS))), ())
    return True


def _constant(g: ProgramDraw, kind: str) -> bool:
    dtype = g.draw(dtypes(g.dtypes))
    a = g.draw(arrays(dtype, shapes(max_dims=2, max_side=g.max_side), edge=False))
    g.add(g.tb.array_constant(a), a.shape)
    return True


OpGenerator = Callable[[ProgramDraw, str], bool]

#: Op name -> generator ``(draw state, name) -> added?``. Names are etensor op kinds, plus
#: ``literal`` (a weak Python scalar) and ``constant`` (a literal array).
OPS: dict[str, OpGenerator] = {
    **{k: _binary for k in (*T.BINARY, *T.COMPARE)},
    **{k: _unary for k in T.UNARY},
    **{k: _reduce for k in T.REDUCTIONS},
    **{k: _arg_reduce for k in T.ARG_REDUCTIONS},
    **{k: _scan for k in T.SCANS},
    "matmul": _matmul, "transpose": _transpose, "reshape": _reshape, "broadcast": _broadcast,
    "where": _where, "cast": _cast, "literal": _literal, "constant": _constant,
}


def register_op(name: str, generator: OpGenerator) -> None:
    """Make ``programs(ops=[..., name])`` able to draw a new op.

    ``generator(g, name)`` picks operands with ``g.pick(...)`` (see :func:`compatible`),
    builds the op through ``g.tb`` (a :class:`~ember.frontends.builder.TensorBuilder`), adds
    the result with ``g.add(tvalue, run_time_shape)`` and returns True (False: no operand
    fits; another op is drawn). The op needs a NumPy implementation in
    ``ember.dialects.reference.REFERENCE`` for the reference oracle.
    """
    OPS[name] = generator


@st.composite
def _inputs(draw, dtypes_, max_inputs: int, max_dims: int, max_side: int, edge: bool,
            layouts: bool, scalars: bool):
    n = draw(st.integers(1, max_inputs))
    shapes_ = draw(broadcast_shapes(n, 0, max_dims, max_side))
    out = []
    for shape in shapes_:
        if scalars and draw(st.integers(0, 5)) == 5:
            kind = draw(st.sampled_from([float, int, bool]))
            out.append(kind(draw(elements(_PY_DTYPE[kind], edge))))
        else:
            out.append(draw(arrays(dtypes(dtypes_), shape, edge, contiguous=not layouts)))
    return out


_PY_DTYPE = {float: np.float64, int: np.int64, bool: np.bool_}


def _erase_dead(block: Block) -> None:
    for op in reversed(list(block.ops)):
        if not isinstance(op, func.ReturnOp) and all(not r.uses for r in op.results):
            block.erase_op(op)


@st.composite
def programs(draw, ops: Sequence[str] | None = None, max_ops: int = 8, dtypes: Sequence = DTYPES,
             max_inputs: int = 3, max_dims: int = 3, max_side: int = 4, edge_values=True,
             layouts: bool = True, scalars: bool = True) -> Program:
    """A random tensor-stage :class:`Program` (function ``@f``) with inputs to call it on.

    ``ops`` names the ops to draw from (:data:`OPS`; default all). Arguments are arrays of
    ``dtypes`` (sometimes strided views, with ``ember.strided``, if ``layouts``) and Python
    scalars (if ``scalars``); ``edge_values`` as ``edge`` of :func:`elements`. The result is
    the last value, and sometimes every unused one too; half the programs keep dead code.
    """
    names = list(OPS) if ops is None else list(ops)
    unknown = [n for n in names if n not in OPS]
    if unknown:
        raise ValueError(f"unknown op {unknown[0]!r}; known: {', '.join(OPS)}")
    inputs = draw(_inputs(tuple(dtypes), max_inputs, max_dims, max_side, edge_values, layouts, scalars))
    types = [S.tensor_type([1 if d == 1 else S.DYN for d in x.shape], S.NUMPY_TO_ELEMENT[x.dtype])
             if isinstance(x, np.ndarray) else PY_ELEMENT[type(x)] for x in inputs]
    block = Block(arg_types=types)
    g = ProgramDraw(draw, TensorBuilder(Builder(InsertPoint.at_end(block))),
                    tuple(np.dtype(d) for d in dtypes), max_side, edge_values)
    for k, (x, arg) in enumerate(zip(inputs, block.args)):
        arg.name_hint = f"x{k}"
        if isinstance(x, np.ndarray):
            g.add(TValue(arg), x.shape)
        else:
            g.add(g.tb.from_scalar(arg, weak=type(x)), ())
    for _ in range(draw(st.integers(1, max_ops))):
        for _attempt in range(3):  # an op may find no operands that fit
            name = draw(st.sampled_from(names))
            try:
                if OPS[name](g, name):
                    break
            except BuildError:
                pass
    results = [g.pool[-1]]
    if draw(st.booleans()):
        for v in g.pool[:-1]:
            if not v.tv.ssa.uses and v.tv.ssa.owner is not block and v.tv.ssa not in [r.tv.ssa for r in results]:
                results.append(v)
    g.tb.emit(func.ReturnOp(*(v.tv.ssa for v in results)))
    if not draw(st.booleans()):  # shrinks toward no dead code: readable reports
        _erase_dead(block)
    fop = func.FuncOp("f", func.FunctionType.from_lists(types, [v.tv.ssa.type for v in results]),
                      Region(block))
    fop.attributes["ember.entry"] = UnitAttr()
    fop.arg_attrs = ArrayAttr([DictionaryAttr({"ember.strided": UnitAttr()} if isinstance(x, np.ndarray)
                                              and not x.flags.c_contiguous else {}) for x in inputs])
    return Program.from_module(ModuleOp([fop]), inputs, "f", position=0)
