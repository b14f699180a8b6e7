"""Basic indexing ``x[i]``, ``x[a:b]``, ``x[:, j]``, ``x[::-1]`` as ``etensor.slice``.

Python's ``slice.indices`` rules are computed on run-time sizes with index arithmetic:
negative bounds count from the end, bounds clamp to the dimension, and the size is
``ceil((stop - start) / step)`` (never negative). Steps must be integer constants.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects import arith
from xdsl.dialects.builtin import IndexType
from xdsl.ir import SSAValue

from ember.dialects import etensor as T
from ember.dialects import shapes as S
from ember.frontends.builder import BuildError, TensorBuilder, TValue


@dataclass(frozen=True)
class Slice:
    lower: object
    upper: object
    step: int


def _i64(tb: TensorBuilder, v: SSAValue) -> SSAValue:
    return tb.emit(arith.IndexCastOp(v, S.i64)).results[0]


def _op(tb, op) -> SSAValue:
    return tb.emit(op).results[0]


def _bound(tb: TensorBuilder, v, n: SSAValue, default: int | None, lo: int, hi_offset: int):
    """Normalise one bound (``None``/int/value) to ``[lo, n + hi_offset]`` in i64."""
    if v is None:
        return None
    raw = _i64(tb, tb.to_index(v)) if not isinstance(v, int) else tb.scalar_const(v, S.i64)
    zero = tb.scalar_const(0, S.i64)
    neg = _op(tb, arith.CmpiOp(raw, zero, "slt"))
    raw = _op(tb, arith.SelectOp(neg, _op(tb, arith.AddiOp(raw, n)), raw))
    raw = _op(tb, arith.MaxSIOp(raw, tb.scalar_const(lo, S.i64)))
    hi = _op(tb, arith.AddiOp(n, tb.scalar_const(hi_offset, S.i64)))
    return _op(tb, arith.MinSIOp(raw, hi))


def _slice_dim(tb: TensorBuilder, n_index: SSAValue, s: Slice) -> tuple[SSAValue, SSAValue]:
    """(offset, size) as index values for slice ``s`` of a dimension of size ``n``."""
    if s.step == 0:
        raise BuildError("slice step cannot be zero")
    n = _i64(tb, n_index)
    if s.step > 0:
        start = _bound(tb, s.lower, n, None, 0, 0) or tb.scalar_const(0, S.i64)
        stop = _bound(tb, s.upper, n, None, 0, 0) or n
        span = _op(tb, arith.SubiOp(stop, start))
    else:
        start = _bound(tb, s.lower, n, None, -1, -1) or _op(tb, arith.SubiOp(n, tb.scalar_const(1, S.i64)))
        stop = _bound(tb, s.upper, n, None, -1, -1) or tb.scalar_const(-1, S.i64)
        span = _op(tb, arith.SubiOp(start, stop))
    mag = abs(s.step)
    size = _op(tb, arith.DivSIOp(_op(tb, arith.AddiOp(span, tb.scalar_const(mag - 1, S.i64))),
                                 tb.scalar_const(mag, S.i64)))
    size = _op(tb, arith.MaxSIOp(size, tb.scalar_const(0, S.i64)))
    # an empty slice keeps offset 0 so that no address outside the array is formed
    empty = _op(tb, arith.CmpiOp(size, tb.scalar_const(0, S.i64), "eq"))
    start = _op(tb, arith.SelectOp(empty, tb.scalar_const(0, S.i64), start))
    return (_op(tb, arith.IndexCastOp(start, IndexType())), _op(tb, arith.IndexCastOp(size, IndexType())))


def build_slice(tb: TensorBuilder, x: TValue, items: list) -> TValue:
    """``x[items]`` where each item is a ``Slice`` or an integer index (dims dropped)."""
    if len(items) > x.rank:
        raise BuildError(f"too many indices for a tensor of rank {x.rank}: got {len(items)}")
    items = list(items) + [Slice(None, None, 1)] * (x.rank - len(items))
    if all(not isinstance(i, Slice) for i in items):
        return tb.extract(x, items)
    offsets, sizes, strides, dropped, shape = [], [], [], [], []
    for k, item in enumerate(items):
        if isinstance(item, Slice):
            if item == Slice(None, None, 1):
                d = tb.dim(x, k)
                offsets.append(tb.index_const(0))
                sizes.append(d.ssa)
                shape.append(x.shape[k])
            else:
                off, size = _slice_dim(tb, tb.dim(x, k).ssa, item)
                offsets.append(off)
                sizes.append(size)
                shape.append(S.DYN)
            strides.append(item.step)
        else:
            offsets.append(tb.element_index(x, k, item))
            sizes.append(tb.index_const(1))
            strides.append(1)
            dropped.append(k)
    op = T.SliceOp(x.ssa, offsets, sizes, strides, dropped, shape)
    return TValue(tb.emit(op).results[0])
