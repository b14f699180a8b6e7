"""Shape and dtype inference: the one place NumPy's rules live.

The frontends use these functions to type what they build; the ``etensor`` verifiers use
the same functions to type-check IR. Shapes are tuples of ints where ``DYN`` (xDSL's
``DYNAMIC_INDEX``) marks a dimension only known at run time. ember specialises each
function on which argument dimensions have size 1 (as TorchInductor specialises 0/1
sizes), so a static ``1`` means "broadcasts" and ``DYN`` never does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    Float32Type,
    Float64Type,
    IntegerType,
    TensorType,
    f32,
    f64,
    i1,
    i32,
    i64,
)
from xdsl.ir import Attribute

DYN = DYNAMIC_INDEX
Shape = tuple[int, ...]


class ShapeError(ValueError):
    """Shapes or dtypes that NumPy would reject."""


# dtype <-> element type ---------------------------------------------------------------

NUMPY_TO_ELEMENT: dict[np.dtype, Attribute] = {
    np.dtype(np.float32): f32,
    np.dtype(np.float64): f64,
    np.dtype(np.int32): i32,
    np.dtype(np.int64): i64,
    np.dtype(np.bool_): i1,
}
ELEMENT_TO_NUMPY: dict[Attribute, np.dtype] = {v: k for k, v in NUMPY_TO_ELEMENT.items()}


def to_numpy_dtype(element: Attribute) -> np.dtype:
    try:
        return ELEMENT_TO_NUMPY[element]
    except KeyError:
        raise ShapeError(f"unsupported element type {element}") from None


def is_float(t: Attribute) -> bool:
    return isinstance(t, Float32Type | Float64Type)


def is_bool(t: Attribute) -> bool:
    return isinstance(t, IntegerType) and t.width.data == 1


def is_int(t: Attribute) -> bool:
    return isinstance(t, IntegerType) and t.width.data > 1


def promote(a: Attribute, b: Attribute) -> Attribute:
    """NumPy's result type for two array dtypes."""
    return NUMPY_TO_ELEMENT[np.promote_types(to_numpy_dtype(a), to_numpy_dtype(b))]


def promote_with_python_scalar(array: Attribute, scalar: type) -> Attribute:
    """NEP 50: a Python scalar is 'weak' and adopts the array's kind when it can."""
    if scalar is bool:
        return array
    if scalar is int:
        return i64 if is_bool(array) else array
    if scalar is float:
        return array if is_float(array) else f64
    raise ShapeError(f"unsupported scalar type {scalar.__name__}")


def tensor_type(shape: Sequence[int], element: Attribute) -> TensorType:
    return TensorType(element, list(shape))


def shape_of(t: Attribute) -> Shape:
    assert isinstance(t, TensorType), t
    return tuple(t.get_shape())


def format_shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join("?" if d == DYN else str(d) for d in shape) + ")"


# shape rules --------------------------------------------------------------------------

def broadcast_shapes(*shapes: Shape) -> Shape:
    """NumPy broadcasting with run-time dims: ``1`` broadcasts, ``?`` matches ``?``.

    ``?`` against a static size ``n > 1`` gives ``n`` (checked at run time).
    """
    rank = max((len(s) for s in shapes), default=0)
    out: list[int] = []
    for k in range(rank):
        dims = [s[len(s) - rank + k] for s in shapes if len(s) - rank + k >= 0]
        static = {d for d in dims if d not in (1, DYN)}
        if len(static) > 1:
            raise ShapeError("operands could not be broadcast together with shapes "
                             + " ".join(format_shape(s) for s in shapes))
        if static:
            out.append(static.pop())
        elif DYN in dims:
            out.append(DYN)
        else:
            out.append(1)
    return tuple(out)


def normalize_axes(axes: int | Sequence[int] | None, rank: int) -> tuple[int, ...]:
    if axes is None:
        return tuple(range(rank))
    if isinstance(axes, int):
        axes = (axes,)
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise ShapeError(f"axis {a} is out of bounds for array of dimension {rank}")
        out.append(a % rank)
    if len(set(out)) != len(out):
        raise ShapeError("duplicate value in 'axis'")
    return tuple(sorted(out))


def reduce_shape(shape: Shape, axes: Sequence[int], keepdims: bool) -> Shape:
    if keepdims:
        return tuple(1 if k in axes else d for k, d in enumerate(shape))
    return tuple(d for k, d in enumerate(shape) if k not in axes)


def reduce_dtype(kind: str, element: Attribute) -> Attribute:
    """NumPy's result dtype of ``x.sum()`` etc.: small ints and bools widen to int64."""
    if kind in ("sum", "prod"):
        return i64 if (is_bool(element) or is_int(element)) else element
    if kind == "mean":
        return element if is_float(element) else f64
    if kind in ("argmax", "argmin"):
        return i64
    return element  # max, min


def matmul_shape(a: Shape, b: Shape) -> Shape:
    """``a @ b`` for operands of rank >= 2 (the builder handles NumPy's 1-D rules)."""
    if len(a) < 2 or len(b) < 2:
        raise ShapeError("matmul: operands must have rank >= 2 here")
    k1, k2 = a[-1], b[-2]
    if DYN not in (k1, k2) and k1 != k2:
        raise ShapeError(f"matmul: contracted dimensions differ: {format_shape(a)} @ {format_shape(b)}")
    batch = broadcast_shapes(a[:-2], b[:-2])
    return (*batch, a[-2], b[-1])


def transpose_shape(shape: Shape, perm: Sequence[int]) -> Shape:
    if sorted(perm) != list(range(len(shape))):
        raise ShapeError(f"axes {tuple(perm)} don't match array of dimension {len(shape)}")
    return tuple(shape[p] for p in perm)


def shape_of_runtime(shape: Sequence[int], dropped: Sequence[int]) -> tuple[int, ...]:
    """A concrete shape with the ``dropped`` (size-1) dimensions removed."""
    return tuple(d for k, d in enumerate(shape) if k not in set(dropped))
