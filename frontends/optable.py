"""The op table: which Python callables ember compiles, and how.

Both frontends look calls up here, so adding ``np.tanh`` is one row. Keys are the Python
objects themselves (``np.exp``, ``operator.add``), methods are looked up by name in
:data:`METHODS`. A handler receives the builder, the positional arguments (``TValue``,
``Dim``, Python literals, dtypes) and the keyword arguments.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections.abc import Callable

import numpy as np
from xdsl.ir import Attribute

from ember.dialects import etensor as T
from ember.dialects import shapes as S
from ember.frontends.builder import PY_ELEMENT, PY_RANK, BuildError, Dim, TensorBuilder, TValue

Handler = Callable[..., object]

BINARY_UFUNCS = {
    np.add: "add", np.subtract: "sub", np.multiply: "mul", np.true_divide: "div",
    np.floor_divide: "floordiv", np.remainder: "mod", np.power: "pow",
    np.maximum: "maximum", np.minimum: "minimum",
    np.equal: "eq", np.not_equal: "ne", np.less: "lt", np.less_equal: "le",
    np.greater: "gt", np.greater_equal: "ge",
    np.bitwise_and: "and", np.bitwise_or: "or", np.bitwise_xor: "xor",
    np.logical_and: "and", np.logical_or: "or", np.logical_xor: "xor",
    np.arctan2: "atan2", math.atan2: "atan2",
}
PY_BINARY = {
    operator.add: "add", operator.sub: "sub", operator.mul: "mul", operator.truediv: "div",
    operator.floordiv: "floordiv", operator.mod: "mod", operator.pow: "pow",
    operator.eq: "eq", operator.ne: "ne", operator.lt: "lt", operator.le: "le",
    operator.gt: "gt", operator.ge: "ge",
    operator.and_: "and", operator.or_: "or", operator.xor: "xor",
}
UNARY_UFUNCS = {
    np.negative: "neg", np.exp: "exp", np.log: "log", np.sqrt: "sqrt", np.tanh: "tanh",
    np.sin: "sin", np.cos: "cos", np.absolute: "abs", np.invert: "not", np.logical_not: "not",
    operator.neg: "neg", operator.invert: "not", builtins.abs: "abs",
    math.exp: "exp", math.log: "log", math.sqrt: "sqrt", math.tanh: "tanh", math.sin: "sin",
    math.cos: "cos",
    np.rint: "rint", np.exp2: "exp2", np.expm1: "expm1", np.log2: "log2", np.log10: "log10",
    np.log1p: "log1p", np.tan: "tan", np.arcsin: "arcsin", np.arccos: "arccos",
    np.arctan: "arctan", np.sinh: "sinh", np.cosh: "cosh", np.arcsinh: "arcsinh",
    np.arccosh: "arccosh", np.arctanh: "arctanh",
    math.expm1: "expm1", math.log2: "log2", math.log10: "log10", math.log1p: "log1p",
    math.tan: "tan", math.asin: "arcsin", math.acos: "arccos", math.atan: "arctan",
    math.sinh: "sinh", math.cosh: "cosh", math.asinh: "arcsinh", math.acosh: "arccosh",
    math.atanh: "arctanh", math.erf: "erf",
}
#: floor, ceil and trunc keep integer and bool arrays as they are (NumPy 2)
ROUNDING_UFUNCS = {np.floor: "floor", np.ceil: "ceil", np.trunc: "trunc"}
REDUCTIONS = {np.sum: "sum", np.prod: "prod", np.max: "max", np.amax: "max", np.min: "min",
              np.amin: "min", np.mean: "mean"}

DTYPES: dict[object, np.dtype] = {
    np.float32: np.dtype(np.float32), np.float64: np.dtype(np.float64),
    np.int32: np.dtype(np.int32), np.int64: np.dtype(np.int64), np.bool_: np.dtype(np.bool_),
    float: np.dtype(np.float64), int: np.dtype(np.int64), bool: np.dtype(np.bool_),
}


def element_of(dtype: object) -> Attribute:
    """The element type for a dtype given as ``np.float32``, ``"float32"``, ``float``…"""
    try:
        dt = DTYPES[dtype] if dtype in DTYPES else np.dtype(dtype)
    except (TypeError, KeyError):
        raise BuildError(f"unsupported dtype {dtype!r}") from None
    if dt not in S.NUMPY_TO_ELEMENT:
        raise BuildError(f"unsupported dtype {dt}; ember supports float32, float64, int32, int64, bool")
    return S.NUMPY_TO_ELEMENT[dt]


def _tensor(tb: TensorBuilder, v: object) -> TValue:
    if isinstance(v, TValue):
        return v
    if isinstance(v, Dim):
        return tb.cast(tb.from_scalar(tb.emit(_index_to_i64(v.ssa)).results[0], weak=int), S.i64)
    if isinstance(v, np.generic):  # before float: np.float64 subclasses it but is not weak
        return tb.array_constant(np.asarray(v))
    if isinstance(v, bool | int | float):
        return tb.literal(v)
    if isinstance(v, np.ndarray):
        return tb.array_constant(v)
    raise BuildError(f"expected an array or a number, got {type(v).__name__}")


def _index_to_i64(v):
    from xdsl.dialects import arith
    return arith.IndexCastOp(v, S.i64)


def _sizes(v: object) -> list:
    if isinstance(v, tuple | list):
        return list(v)
    return [v]


def _no_extra(name: str, kwargs: dict, allowed: tuple[str, ...] = ()):
    extra = set(kwargs) - set(allowed)
    if extra:
        raise BuildError(f"{name}() got unsupported keyword argument(s): {', '.join(sorted(extra))}")


def _binary(kind: str) -> Handler:
    def h(tb: TensorBuilder, a, b, **kw):
        _no_extra(kind, kw)
        return tb.binary(kind, _tensor(tb, a), _tensor(tb, b))
    return h


def _array_power(tb: TensorBuilder, a, b, **kw):
    """``a ** b`` and ``np.power(a, b)``. For a float array and a scalar exponent 0.5, NumPy
    computes ``np.sqrt(a)``, which differs from ``pow`` at -0.0 (-0.0, not +0.0) and at -inf
    (nan, not inf); an array of exponents, or a Python float base, gets ``pow``."""
    _no_extra("pow", kw)
    if (isinstance(a, TValue) and not a.weak and S.is_float(a.element)
            and isinstance(b, float | int | np.floating | np.integer) and not isinstance(b, bool)
            and b == 0.5):
        return tb.unary("sqrt", a)
    return tb.binary("pow", _tensor(tb, a), _tensor(tb, b))


def _unary(kind: str) -> Handler:
    def h(tb: TensorBuilder, a, **kw):
        _no_extra(kind, kw)
        return tb.unary(kind, _tensor(tb, a))
    return h


def _rounding(kind: str) -> Handler:
    def h(tb: TensorBuilder, a, **kw):
        _no_extra(kind, kw)
        x = _tensor(tb, a)
        return tb.unary(kind, x) if S.is_float(x.element) else x
    return h


def _no_bool(name: str, x: TValue, gives: str):
    if S.is_bool(x.element):
        raise BuildError(f"np.{name} of a bool array gives {gives}, which ember does not support")


def _round(tb: TensorBuilder, a, decimals=0, **kw):
    """``np.round(a, decimals)`` as NumPy computes it: ``rint(a * 10**d) / 10**d`` (for
    d < 0, ``rint(a / 10**-d) * 10**-d``) in the array's float type, halves to even; integer
    arrays stay as they are for d >= 0."""
    _no_extra("round", kw)
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise BuildError(f"round: decimals must be an integer constant, got {decimals!r}")
    x = _tensor(tb, a)
    _no_bool("round", x, "float16")
    if not S.is_float(x.element):
        if decimals >= 0:
            return x
        raise BuildError("np.round of integers with decimals < 0 is not supported")
    if decimals == 0:
        return tb.unary("rint", x)
    scale = tb.constant(10.0 ** abs(decimals), x.element)
    inner, outer = ("mul", "div") if decimals > 0 else ("div", "mul")
    return tb.binary(outer, tb.unary("rint", tb.binary(inner, x, scale)), scale)


def _fabs(tb: TensorBuilder, a, **kw):
    """``np.fabs``: ``abs`` of a float (integers become float64 first)."""
    _no_extra("fabs", kw)
    x = _tensor(tb, a)
    _no_bool("fabs", x, "float16")
    return tb.unary("abs", x if S.is_float(x.element) else tb.cast(x, S.f64))


def _square(tb: TensorBuilder, a, **kw):
    _no_extra("square", kw)
    x = _tensor(tb, a)
    _no_bool("square", x, "int8")
    return tb.binary("mul", x, x)


def _reciprocal(tb: TensorBuilder, a, **kw):
    _no_extra("reciprocal", kw)
    x = _tensor(tb, a)
    if not S.is_float(x.element):
        raise BuildError("np.reciprocal of integers is not supported (NumPy's truncates to 0 "
                         "for |x| > 1); write 1 / x for a float result")
    return tb.binary("div", tb.constant(1.0, x.element), x)


def _sign(tb: TensorBuilder, a, **kw):
    """``np.sign``: -1, 0 or 1 in the array's type; NaN stays NaN, and -0.0 gives +0.0."""
    _no_extra("sign", kw)
    x = _tensor(tb, a)
    _no_bool("sign", x, "an error in NumPy")
    zero = tb.constant(0, x.element)
    inner = tb.where(tb.binary("eq", x, x), zero, x) if S.is_float(x.element) else zero
    negative = tb.where(tb.binary("lt", x, zero), tb.constant(-1, x.element), inner)
    return tb.where(tb.binary("gt", x, zero), tb.constant(1, x.element), negative)


def _float_test(name: str) -> Handler:
    """``np.isnan``/``isinf``/``isfinite``: compares on floats; a constant for the others."""
    def h(tb: TensorBuilder, a, **kw):
        _no_extra(name, kw)
        x = _tensor(tb, a)
        if not S.is_float(x.element):
            return tb.binary("eq" if name == "isfinite" else "ne", x, x)
        if name == "isnan":
            return tb.binary("ne", x, x)
        inf = tb.constant(float("inf"), x.element)
        return tb.binary("eq" if name == "isinf" else "lt", tb.unary("abs", x), inf)
    return h


def _reduction(kind: str) -> Handler:
    def h(tb: TensorBuilder, a, axis=None, keepdims=False, **kw):
        _no_extra(kind, kw)
        return tb.reduce(kind, _tensor(tb, a), axis, bool(keepdims))
    return h


def _scan(kind: str) -> Handler:
    def h(tb: TensorBuilder, a, axis=None, dtype=None, **kw):
        _no_extra(kind, kw)
        return tb.scan(kind, _tensor(tb, a), axis, None if dtype is None else element_of(dtype))
    return h


def _clip(tb: TensorBuilder, a, a_min=None, a_max=None, **kw):
    """``np.clip(a, a_min, a_max)``: ``np.minimum(np.maximum(a, a_min), a_max)`` (either bound
    may be None), with NumPy's promotions and NaN propagation."""
    _no_extra("clip", kw)
    if a_min is None and a_max is None:
        raise BuildError("clip: one of a_min and a_max must be given")
    x = _tensor(tb, a)
    if a_min is not None:
        x = tb.binary("maximum", x, _tensor(tb, a_min))
    if a_max is not None:
        x = tb.binary("minimum", x, _tensor(tb, a_max))
    return x


def _moment(root: bool) -> Handler:
    """``var``/``std`` (``ddof=0``): the mean of the squared deviations from the mean (of a
    float64 copy for integers and bools, as NumPy), and its square root for ``std``."""
    name = "std" if root else "var"

    def h(tb: TensorBuilder, a, axis=None, keepdims=False, ddof=0, **kw):
        _no_extra(name, kw)
        if ddof != 0:
            raise BuildError(f"{name}: only ddof=0 is supported; for ddof={ddof!r} write "
                             f"((x - x.mean()) ** 2).sum() / (n - {ddof!r})")
        x = _tensor(tb, a)
        if not S.is_float(x.element):
            x = tb.cast(x, S.f64)
        d = tb.binary("sub", x, tb.reduce("mean", x, axis, True))
        r = tb.reduce("mean", tb.binary("mul", d, d), axis, bool(keepdims))
        return tb.unary("sqrt", r) if root else r
    return h


def _uninitialized(t: TValue) -> TValue:
    """Mark the ``etensor.broadcast`` behind ``np.empty``: its elements may be anything (the
    NumPy reference gives zeros; compiled code leaves the memory as allocated)."""
    from xdsl.dialects.builtin import UnitAttr

    from ember.dialects import etensor as T

    owner = t.ssa.owner
    if isinstance(owner, T.BroadcastOp):
        owner.attributes[T.UNINITIALIZED] = UnitAttr()
    return t


def _creation(fill: object | None) -> Handler:
    def h(tb: TensorBuilder, shape, dtype=float, **kw):
        _no_extra("zeros/ones/empty", kw)
        element = element_of(dtype)
        value = tb.literal(0 if fill is None else fill)
        t = tb.full(_sizes(shape), value, element)
        return _uninitialized(t) if fill is None else t
    return h


def _full(tb: TensorBuilder, shape, fill_value, dtype=None, **kw):
    _no_extra("full", kw)
    v = _tensor(tb, fill_value)
    element = element_of(dtype) if dtype is not None else (
        S.PY_ELEMENT[v.weak] if v.weak else v.element)
    return tb.full(_sizes(shape), v, element)


def _like(fill: object | None) -> Handler:
    def h(tb: TensorBuilder, a, dtype=None, **kw):
        _no_extra("*_like", kw)
        a = _tensor(tb, a)
        element = element_of(dtype) if dtype is not None else a.element
        sizes = [tb.dim(a, k) for k in range(a.rank)]
        t = tb.full(sizes, tb.literal(0 if fill is None else fill), element)
        return _uninitialized(t) if fill is None else t
    return h


def _arange(tb: TensorBuilder, *args, dtype=None, **kw):
    _no_extra("arange", kw)
    if len(args) != 1 or not isinstance(args[0], int | Dim):
        raise BuildError("only arange(n) with an integer n is supported")
    element = element_of(dtype) if dtype is not None else S.i64
    return tb.iota(args[0], element)


def _where(tb: TensorBuilder, c, a, b, **kw):
    _no_extra("where", kw)
    return tb.where(_tensor(tb, c), _tensor(tb, a), _tensor(tb, b))


def _matmul(tb: TensorBuilder, a, b, **kw):
    _no_extra("matmul", kw)
    return tb.matmul(_tensor(tb, a), _tensor(tb, b))


def _transpose(tb: TensorBuilder, a, axes=None, **kw):
    _no_extra("transpose", kw)
    return tb.transpose(_tensor(tb, a), None if axes is None else list(axes))


def _reshape(tb: TensorBuilder, a, shape, **kw):
    _no_extra("reshape", kw)
    return tb.reshape(_tensor(tb, a), _sizes(shape))


def _broadcast_to(tb: TensorBuilder, a, shape, **kw):
    _no_extra("broadcast_to", kw)
    return tb.broadcast_to(_tensor(tb, a), _sizes(shape))


def _astype(tb: TensorBuilder, a, dtype, **kw):
    _no_extra("astype", kw)
    return TValue(tb.cast(_tensor(tb, a), element_of(dtype)).ssa)


def _copy(tb: TensorBuilder, a, **kw):
    _no_extra("copy", kw)
    a = _tensor(tb, a)
    return TValue(tb.emit(T.CopyOp(a.ssa)).results[0], a.weak) if a.rank else a


def _asarray(tb: TensorBuilder, a, **kw):
    _no_extra("asarray", kw)
    return a if isinstance(a, TValue) else _tensor(tb, a)  # an array is returned as is


def _len(tb: TensorBuilder, a, **kw):
    _no_extra("len", kw)
    a = _tensor(tb, a)
    if a.rank == 0:
        raise BuildError("len() of a 0-d tensor")
    return tb.dim(a, 0)


def _py_scalar(kind: type) -> Handler:
    element = {float: S.f64, int: S.i64, bool: S.i1}[kind]

    def h(tb: TensorBuilder, a, **kw):
        _no_extra(kind.__name__, kw)
        if isinstance(a, bool | int | float):
            return kind(a)
        a = _tensor(tb, a)
        if a.rank != 0:
            raise BuildError(f"{kind.__name__}() of a tensor of rank {a.rank}: only scalars convert")
        v = tb.truth(a) if kind is bool else tb.cast(a, element)
        return TValue(v.ssa, kind)
    return h


FUNCTIONS: dict[object, Handler] = {
    **{f: _binary(k) for f, k in {**BINARY_UFUNCS, **PY_BINARY}.items()},
    operator.pow: _array_power, np.power: _array_power,
    **{f: _unary(k) for f, k in UNARY_UFUNCS.items()},
    **{f: _rounding(k) for f, k in ROUNDING_UFUNCS.items()},
    np.fabs: _fabs, np.square: _square, np.reciprocal: _reciprocal, np.sign: _sign,
    np.round: _round, np.around: _round,
    np.isnan: _float_test("isnan"), np.isinf: _float_test("isinf"),
    np.isfinite: _float_test("isfinite"),
    **{f: _reduction(k) for f, k in REDUCTIONS.items()},
    np.matmul: _matmul, operator.matmul: _matmul, np.dot: _matmul,
    np.transpose: _transpose, np.reshape: _reshape, np.where: _where,
    np.broadcast_to: _broadcast_to, np.clip: _clip, np.var: _moment(False), np.std: _moment(True),
    np.cumsum: _scan("cumsum"), np.cumprod: _scan("cumprod"),
    np.argmax: _reduction("argmax"), np.argmin: _reduction("argmin"),
    np.zeros: _creation(0), np.ones: _creation(1), np.empty: _creation(None), np.full: _full,
    np.zeros_like: _like(0), np.ones_like: _like(1), np.empty_like: _like(None),
    np.arange: _arange, np.copy: _copy, np.asarray: _asarray, np.array: _copy,
    builtins.max: _binary("maximum"), builtins.min: _binary("minimum"),
    builtins.len: _len, builtins.float: _py_scalar(float), builtins.int: _py_scalar(int),
    builtins.bool: _py_scalar(bool),
}


METHODS: dict[str, Handler] = {
    **{k: _reduction(k) for k in ("sum", "prod", "max", "min", "mean")},
    "reshape": lambda tb, a, *shape, **kw: _reshape(tb, a, shape[0] if len(shape) == 1 else shape, **kw),
    "transpose": lambda tb, a, *axes, **kw: _transpose(
        tb, a, (axes[0] if len(axes) == 1 and isinstance(axes[0], tuple | list) else axes) or None, **kw),
    "astype": _astype,
    "copy": _copy,
    "clip": _clip, "var": _moment(False), "std": _moment(True),
    "cumsum": _scan("cumsum"), "cumprod": _scan("cumprod"),
    "argmax": _reduction("argmax"), "argmin": _reduction("argmin"),
    "round": _round,
}


def lookup(fn: object) -> Handler | None:
    try:
        return FUNCTIONS.get(fn)
    except TypeError:  # unhashable callables
        return None


# -- custom operators (``ember.custom_op``): registered into FUNCTIONS when declared --------


def custom_handler(op) -> Handler:
    """The handler of custom operator ``op`` (an ``ember.custom_op.CustomOp``): broadcast and
    promote the inputs like an elementwise op, build ``etensor.custom``, cast the result to
    the operator's dtype when a native kernel computes in another one."""
    from ember.dialects.etensor_custom import CustomOp

    def h(tb: TensorBuilder, *args, **kw):
        _no_extra(op.name, kw)
        if not args:
            raise BuildError(f"{op.name}() needs at least one argument")
        xs = [_tensor(tb, a) for a in args]
        element = _common_element(xs)
        compute = element
        if op.native:
            try:
                compute = S.NUMPY_TO_ELEMENT[op.kernel_dtype(S.to_numpy_dtype(element))]
            except TypeError as e:
                raise BuildError(str(e)) from None
        try:
            S.broadcast_shapes(*(x.shape for x in xs))
        except S.ShapeError as e:
            raise BuildError(f"{op.name}: {e}") from None
        operands = [tb.cast(x, compute).ssa for x in xs]
        result = TValue(tb.emit(CustomOp(op.name, operands, op.result_element(compute))).results[0],
                        TensorBuilder.joint_weak(*xs))
        return tb.cast(result, op.result_element(element))
    return h


def _common_element(xs: list[TValue]) -> Attribute:
    """The element type NumPy 2 promotes ``xs`` to (NEP 50: Python scalars are weak)."""
    strong = [x.element for x in xs if not x.weak]
    if not strong:
        return PY_ELEMENT[max((x.weak for x in xs), key=PY_RANK.__getitem__)]
    element = strong[0]
    for e in strong[1:]:
        element = S.promote(element, e)
    for x in xs:
        if x.weak:
            element = S.promote_with_python_scalar(element, x.weak)
    return element
