"""The typed IR builder shared by both frontends: NumPy 2 rules made explicit.

Every value the frontends handle is a :class:`TValue`, a tensor SSA value (scalars are
0-d tensors) plus a *weak* flag: Python scalars are weak under NEP 50, so
``f32_array * 2.0`` stays ``f32`` while ``f32_array * np.float64(2)`` does not. The builder
inserts the ``etensor.cast`` ops that promotion implies and checks shapes with the same
functions the verifiers use, so what it builds always verifies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects import arith
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IndexType,
    IntegerAttr,
    f64,
    i1,
    i64,
)
from xdsl.ir import Attribute, Operation, SSAValue

from ember.dialects import etensor as T
from ember.dialects import shapes as S

PY_ELEMENT = {bool: i1, int: i64, float: f64}
PY_RANK = {bool: 0, int: 1, float: 2}


class ArrayObject:
    """The identity of one Python array object in a scripted function (Python's ``is``).

    Names bound to the same object see each other's element writes, as in Python: the script
    frontend rebinds them all to the new value. ``version`` counts the writes, so that a view
    taken before one (ember's views are copies) is caught when read after it."""

    __slots__ = ("name", "version", "argument")

    def __init__(self, name: str, argument: bool = False):
        self.name = name
        self.version = 0
        #: the caller's array (an argument): its writes must survive dead-code elimination
        self.argument = argument


@dataclass(frozen=True)
class TValue:
    """A tensor value; ``weak`` is the Python scalar type it came from, if any.

    ``obj`` is the array object a name holds (``None`` for values not bound to a name yet);
    ``views`` lists ``(object, version)`` for each object this value may share memory with
    without being it (a slice, ``.T``, a reshape, a name bound to different objects on
    different paths): writing through it is refused, and reading it after one of those
    objects was written."""

    ssa: SSAValue
    weak: type | None = None
    obj: ArrayObject | None = field(default=None, compare=False)
    views: tuple = field(default=(), compare=False)

    @property
    def shape(self) -> S.Shape:
        return S.shape_of(self.ssa.type)

    @property
    def element(self) -> Attribute:
        return self.ssa.type.element_type

    @property
    def rank(self) -> int:
        return len(self.shape)


@dataclass(frozen=True)
class Dim:
    """A run-time size (``x.shape[k]``) or a static one; or a loop counter, which may be
    negative (``nonneg=False``) unless its range shows it is not."""

    ssa: SSAValue
    static: int = S.DYN
    nonneg: bool = True


class BuildError(Exception):
    """A user mistake found while building (bad shapes, dtypes, arguments)."""


class TensorBuilder:
    def __init__(self, builder: Builder, boundscheck: bool = True):
        self.b = builder
        self.location = None
        self.boundscheck = boundscheck

    def emit(self, op: Operation) -> Operation:
        if self.location is not None:
            op.location = self.location
        self.b.insert(op)
        return op

    # -- scalars and constants ---------------------------------------------------------

    def index_const(self, v: int) -> SSAValue:
        return self.emit(arith.ConstantOp(IntegerAttr(v, IndexType()))).results[0]

    def scalar_const(self, v: bool | int | float, element: Attribute) -> SSAValue:
        if S.is_float(element):
            attr = FloatAttr(float(v), element)
        else:
            width = element.width.data
            v = int(v)
            if width == 1:
                v = -1 if v else 0
            attr = IntegerAttr(v, element)
        return self.emit(arith.ConstantOp(attr)).results[0]

    def literal(self, v: bool | int | float) -> TValue:
        kind = type(v)
        if kind not in PY_ELEMENT:
            raise BuildError(f"unsupported constant {v!r}")
        if kind is int and not -2**63 <= v < 2**63:
            raise BuildError(f"integer {v} does not fit in int64")
        return self.from_scalar(self.scalar_const(v, PY_ELEMENT[kind]), weak=kind)

    def constant(self, v: bool | int | float, element: Attribute) -> TValue:
        """A 0-d tensor of ``element`` holding ``v``: typed, not a weak Python number."""
        return self.from_scalar(self.scalar_const(v, element))

    def from_scalar(self, s: SSAValue, weak: type | None = None) -> TValue:
        return TValue(self.emit(T.FillOp(s, [], [])).results[0], weak)

    def array_constant(self, a: np.ndarray) -> TValue:
        element = S.NUMPY_TO_ELEMENT.get(a.dtype)
        if element is None:
            raise BuildError(f"unsupported constant array dtype {a.dtype}")
        ttype = S.tensor_type(a.shape, element)
        values = a.astype(np.int64 if a.dtype == np.bool_ else a.dtype).ravel().tolist()
        attr = DenseIntOrFPElementsAttr.from_list(ttype, values)
        return TValue(self.emit(T.ConstantOp(attr)).results[0])

    # -- dtype handling ----------------------------------------------------------------

    def cast(self, x: TValue, element: Attribute) -> TValue:
        if x.element == element:
            return x
        return TValue(self.emit(T.CastOp(x.ssa, element)).results[0], x.weak)

    def result_element(self, a: TValue, b: TValue) -> Attribute:
        if a.weak and b.weak:
            return PY_ELEMENT[max(a.weak, b.weak, key=PY_RANK.__getitem__)]
        if a.weak:
            return S.promote_with_python_scalar(b.element, a.weak)
        if b.weak:
            return S.promote_with_python_scalar(a.element, b.weak)
        return S.promote(a.element, b.element)

    @staticmethod
    def joint_weak(*xs: TValue) -> type | None:
        if all(x.weak for x in xs):
            return max((x.weak for x in xs), key=PY_RANK.__getitem__)
        return None

    # -- elementwise -------------------------------------------------------------------

    def binary(self, kind: str, a: TValue, b: TValue) -> TValue:
        element = self.result_element(a, b)
        weak = self.joint_weak(a, b)
        if kind in ("div", "atan2") and not S.is_float(element):
            if kind == "atan2" and S.is_bool(element):
                raise BuildError("np.arctan2 of bool arrays gives float16, which ember does not support")
            element, weak = f64, (float if weak else None)
        if S.is_bool(element):
            kind = {"add": "or", "mul": "and"}.get(kind, kind)
            if kind in ("sub", "div", "floordiv", "mod", "pow"):
                raise BuildError(f"numpy boolean {kind} is not supported; use logical operators")
        if kind in T.INT_OR_BOOL_ONLY and S.is_float(element):
            raise BuildError(f"bitwise '{kind}' is not supported for float operands")
        try:
            S.broadcast_shapes(a.shape, b.shape)
        except S.ShapeError as e:
            raise BuildError(str(e)) from None
        a, b = self.cast(a, element), self.cast(b, element)
        op = self.emit(T.ELEMENTWISE[kind](a.ssa, b.ssa))
        return TValue(op.results[0], None if kind in T.COMPARE else weak)

    def unary(self, kind: str, x: TValue) -> TValue:
        if kind in T.FLOAT_ONLY and not S.is_float(x.element):
            if S.is_bool(x.element):
                raise BuildError(f"np.{kind} of a bool array gives float16, which ember does not support")
            x = self.cast(x, f64)
        if kind == "neg" and S.is_bool(x.element):
            raise BuildError("the numpy boolean negative, the `-` operator, is not supported, "
                             "use the `~` operator or the logical_not function instead")
        if kind == "not" and S.is_float(x.element):
            raise BuildError("'~' (invert) is not supported for float operands")
        return TValue(self.emit(T.ELEMENTWISE[kind](x.ssa)).results[0], x.weak)

    def where(self, c: TValue, a: TValue, b: TValue) -> TValue:
        c = self.truth(c)
        element = self.result_element(a, b)
        try:
            S.broadcast_shapes(c.shape, a.shape, b.shape)
        except S.ShapeError as e:
            raise BuildError(str(e)) from None
        a, b = self.cast(a, element), self.cast(b, element)
        return TValue(self.emit(T.WhereOp(c.ssa, a.ssa, b.ssa)).results[0])

    def truth(self, x: TValue) -> TValue:
        if S.is_bool(x.element):
            return x
        zero = self.cast(self.literal(0), x.element)
        return self.binary("ne", x, zero)

    # -- reductions, linear algebra, shapes --------------------------------------------

    def reduce(self, kind: str, x: TValue, axis=None, keepdims: bool = False) -> TValue:
        if kind in T.ARG_REDUCTIONS:
            _one_axis(kind, axis)
        try:
            axes = S.normalize_axes(axis, x.rank)
        except S.ShapeError as e:
            raise BuildError(str(e)) from None
        if kind == "mean" and not S.is_float(x.element):
            x = self.cast(x, f64)
        op = self.emit(T.REDUCE[kind](x.ssa, axes, keepdims))
        return TValue(op.results[0], x.weak if x.rank == 0 else None)

    def scan(self, kind: str, x: TValue, axis=None, element: Attribute | None = None) -> TValue:
        """``np.cumsum``/``np.cumprod(x, axis, dtype)``: with no axis, along ``x`` flattened
        (a 0-d ``x`` gives one element); ``element`` (``dtype=``) casts ``x`` first, so the
        running values are of that type, as in NumPy."""
        if axis is None:
            x = x if x.rank == 1 else self.reshape(x, [-1])
            axis = 0
        _one_axis(kind, axis)
        try:
            (axis,) = S.normalize_axes(int(axis), x.rank)
        except S.ShapeError as e:
            raise BuildError(str(e)) from None
        if element is not None:
            x = self.cast(x, element)
        op = self.emit(T.SCAN[kind](x.ssa, axis, element))
        return TValue(op.results[0])

    def matmul(self, a: TValue, b: TValue) -> TValue:
        if a.rank == 0 or b.rank == 0:
            raise BuildError("matmul: Input operand does not have enough dimensions")
        element = self.result_element(a, b)
        a, b = self.cast(a, element), self.cast(b, element)
        if a.rank == 1 and b.rank == 1 and S.is_float(element):
            # a dot product of two vectors: their product, fused into a float sum (blocked,
            # float64 across blocks for float32), in one pass; as a 1 x n @ n x 1 matmul it
            # copied both vectors and summed in float32 alone (4M f32: 23 ms, 0.4 % off)
            (n, p), (m, q) = (self.dim(a, 0), a.shape[0]), (self.dim(b, 0), b.shape[0])
            if S.DYN not in (p, q) and p != q:
                raise BuildError(f"matmul: Input operand 1 has a mismatch in its core dimension 0, "
                                 f"with gufunc signature (n?,k),(k,m?)->(n?,m?) (size {q} is different from {p})")
            self.emit(_assert(self.emit(arith.CmpiOp(n.ssa, m.ssa, "eq")).results[0],
                              "matmul: Input operand 1 has a mismatch in its core dimension 0"))
            return self.reduce("sum", self.binary("mul", a, b))
        squeeze = []
        if a.rank == 1:
            a = self.reshape(a, [1, self.dim(a, 0)])
            squeeze.append(-2)
        if b.rank == 1:
            b = self.reshape(b, [self.dim(b, 0), 1])
            squeeze.append(-1)
        try:
            op = self.emit(T.MatmulOp(a.ssa, b.ssa))
        except S.ShapeError as e:
            raise BuildError(f"matmul: {e}") from None
        r = TValue(op.results[0])
        if squeeze:
            keep = [k for k in range(r.rank) if k - r.rank not in squeeze]
            r = self.reshape(r, [self.dim(r, k) for k in keep])
        return r

    def transpose(self, x: TValue, perm: Sequence[int] | None = None) -> TValue:
        if perm is None:
            perm = list(reversed(range(x.rank)))
        perm = [p % x.rank if -x.rank <= p < x.rank else p for p in perm]
        try:
            return TValue(self.emit(T.TransposeOp(x.ssa, perm)).results[0])
        except S.ShapeError as e:
            raise BuildError(str(e)) from None

    def dim(self, x: TValue, k: int) -> Dim:
        if not -x.rank <= k < x.rank:
            raise BuildError(f"tuple index {k} out of range for a tensor of rank {x.rank}")
        k %= x.rank
        static = x.shape[k]
        if static != S.DYN:
            return Dim(self.index_const(static), static)
        return Dim(self.emit(T.DimOp(x.ssa, k)).results[0])

    def as_dim(self, v: int | Dim) -> Dim:
        if isinstance(v, Dim) and v.nonneg:
            return v
        if isinstance(v, Dim) or isinstance(v, TValue) and v.rank == 0 and S.is_int(v.element):
            i = self.to_index(v)
            ok = self.emit(arith.CmpiOp(i, self.index_const(0), "sge")).results[0]
            self.emit(_assert(ok, "negative dimensions are not allowed"))
            return Dim(i)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            shown = repr(v) if isinstance(v, int | float) else type(v).__name__
            raise BuildError(f"sizes must be non-negative integers, got {shown}")
        return Dim(self.index_const(v), v)

    def reshape(self, x: TValue, sizes: Sequence[int | Dim]) -> TValue:
        minus = [k for k, s in enumerate(sizes) if isinstance(s, int) and s == -1]
        if len(minus) > 1:
            raise BuildError("can only specify one unknown dimension")
        dims = [None if k in minus else self.as_dim(s) for k, s in enumerate(sizes)]
        if minus:
            total = self.numel(x)
            known = self.index_const(1)
            for d in dims:
                if d is not None:
                    known = self.emit(arith.MuliOp(known, d.ssa)).results[0]
            safe = self.emit(arith.MaxUIOp(known, self.index_const(1))).results[0]
            dims[minus[0]] = Dim(self.emit(arith.DivUIOp(total, safe)).results[0])
        shape = [d.static for d in dims]
        return TValue(self.emit(T.ReshapeOp(x.ssa, [d.ssa for d in dims], shape)).results[0])

    def numel(self, x: TValue) -> SSAValue:
        total = self.index_const(1)
        for k in range(x.rank):
            total = self.emit(arith.MuliOp(total, self.dim(x, k).ssa)).results[0]
        return total

    def broadcast_to(self, x: TValue, sizes: Sequence[int | Dim]) -> TValue:
        dims = [self.as_dim(s) for s in sizes]
        shape = [d.static for d in dims]
        try:
            if S.broadcast_shapes(x.shape, tuple(shape)) != tuple(shape) or x.rank > len(shape):
                raise S.ShapeError(f"cannot broadcast {S.format_shape(x.shape)} to {S.format_shape(shape)}")
        except S.ShapeError as e:
            raise BuildError(str(e)) from None
        return TValue(self.emit(T.BroadcastOp(x.ssa, [d.ssa for d in dims], shape)).results[0])

    def full(self, sizes: Sequence[int | Dim], value: TValue, element: Attribute) -> TValue:
        dims = [self.as_dim(s) for s in sizes]
        scalar = self.cast(value, element)
        return self.broadcast_to(scalar, dims) if dims else scalar

    def iota(self, n: int | Dim, element: Attribute) -> TValue:
        return TValue(self.emit(T.IotaOp(self.as_dim(n).ssa, element)).results[0])

    # -- elements and scalars (the script frontend's loops and element access) ---------

    def item(self, x: TValue) -> SSAValue:
        """The scalar SSA value of a 0-d tensor."""
        if x.rank != 0:
            raise BuildError(f"expected a scalar, got a tensor of rank {x.rank}")
        return self.emit(T.ItemOp(x.ssa)).results[0]

    def condition(self, x) -> SSAValue:
        """An ``i1`` for Python truthiness of a scalar (``if x:``)."""
        if isinstance(x, bool | int | float):
            x = self.literal(x)
        if isinstance(x, Dim):
            x = self.from_index(x.ssa)
        if x.rank != 0:
            raise BuildError("the truth value of an array with more than one element is ambiguous")
        return self.item(self.truth(x))

    def from_index(self, v: SSAValue) -> TValue:
        """An ``index`` (loop counter, size) as a weak Python int."""
        return self.from_scalar(self.emit(arith.IndexCastOp(v, i64)).results[0], weak=int)

    def to_index(self, v) -> SSAValue:
        """An index operand from a Python int, a ``Dim`` or a 0-d integer tensor."""
        if isinstance(v, Dim):
            return v.ssa
        if isinstance(v, bool) or isinstance(v, float):
            raise BuildError("indices must be integers")
        if isinstance(v, int):
            return self.index_const(v)
        if not isinstance(v, TValue) or v.rank != 0 or not S.is_int(v.element):
            raise BuildError("indices must be integers or x.shape[k]")
        return self.emit(arith.IndexCastOp(self.item(self.cast(v, i64)), IndexType())).results[0]

    def element_index(self, x: TValue, k: int, v) -> SSAValue:
        """Index ``v`` into dimension ``k`` of ``x``: negative counts from the end, checked."""
        size = self.dim(x, k).ssa
        if isinstance(v, int) and v >= 0:
            i = self.index_const(v)
        else:
            i = self.to_index(v)
            if not (isinstance(v, Dim) and v.nonneg):
                neg = self.emit(arith.CmpiOp(i, self.index_const(0), "slt")).results[0]
                wrapped = self.emit(arith.AddiOp(i, size)).results[0]
                i = self.emit(arith.SelectOp(neg, wrapped, i)).results[0]
        if self.boundscheck:
            ok = self.emit(arith.CmpiOp(i, size, "ult")).results[0]
            self.emit(_assert(ok, f"index out of bounds for axis {k}"))
        return i

    def extract(self, x: TValue, indices: Sequence) -> TValue:
        if len(indices) != x.rank:
            raise BuildError(f"too {'many' if len(indices) > x.rank else 'few'} indices for a "
                             f"tensor of rank {x.rank}: got {len(indices)}")
        idx = [self.element_index(x, k, v) for k, v in enumerate(indices)]
        return TValue(self.emit(T.ExtractOp(x.ssa, idx)).results[0])

    def insert(self, x: TValue, indices: Sequence, v: TValue) -> TValue:
        if len(indices) != x.rank:
            raise BuildError(f"element assignment needs {x.rank} indices, got {len(indices)}")
        idx = [self.element_index(x, k, i) for k, i in enumerate(indices)]
        v = self.cast(v, x.element)
        if v.rank != 0:
            raise BuildError("only single elements can be assigned: x[i, j] = scalar")
        return TValue(self.emit(T.InsertOp(v.ssa, x.ssa, idx)).results[0])


def _assert(cond: SSAValue, message: str):
    from xdsl.dialects import cf

    return cf.AssertOp(cond, message)


def _one_axis(kind: str, axis) -> None:
    """``argmax``, ``cumsum``...: one axis or None, not a tuple of them."""
    if axis is not None and (isinstance(axis, bool) or not isinstance(axis, int | np.integer)):
        raise BuildError(f"{kind}: axis must be an integer or None, not {axis!r}")
