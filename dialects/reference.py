"""NumPy reference implementations of the tensor stage: one function per op.

:data:`REFERENCE` maps an op class to ``impl(op, *operand_values) -> result_value``; values
are NumPy arrays (tensors) and NumPy scalars (``index``/scalar SSA values).
:func:`run` interprets a tensor-stage function with them, which makes the tensor stage
executable without compiling: the oracle for property tests of tensor-level rewrites.

    from ember.dialects.reference import run
    (out,) = run(module, "f", x, y)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from xdsl.dialects import arith, cf, func
from xdsl.dialects.builtin import IndexType, ModuleOp, TensorType
from xdsl.ir import Attribute, Operation

from ember.dialects import etensor as T
from ember.dialects import shapes as S

Impl = Callable[..., object]


def _np_type(t: Attribute):
    if isinstance(t, IndexType):
        return np.int64
    return S.to_numpy_dtype(t).type


def _result_dtype(op: Operation) -> np.dtype:
    return S.to_numpy_dtype(op.results[0].type.element_type)


_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
    "floordiv": np.floor_divide, "mod": np.remainder, "pow": np.power, "maximum": np.maximum,
    "minimum": np.minimum, "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor,
    "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
    "gt": np.greater, "ge": np.greater_equal, "atan2": np.arctan2,
}
_UNARY = {"neg": np.negative, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh,
          "sin": np.sin, "cos": np.cos, "abs": np.abs, "not": np.invert,
          "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "rint": np.rint,
          "exp2": np.exp2, "expm1": np.expm1, "log2": np.log2, "log10": np.log10,
          "log1p": np.log1p, "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos,
          "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "arcsinh": np.arcsinh,
          "arccosh": np.arccosh, "arctanh": np.arctanh,
          # NumPy has no erf: Python's, element by element (double precision)
          "erf": np.frompyfunc(math.erf, 1, 1)}


def _binary(kind: str) -> Impl:
    ufunc = _BINARY[kind]

    def impl(op, a, b):
        if kind == "pow" and a.dtype.kind == "i" and np.any(b < 0):
            raise ValueError("Integers to negative integer powers are not allowed.")
        return np.asarray(ufunc(a, b)).astype(_result_dtype(op), copy=False)
    return impl


def _unary(kind: str) -> Impl:
    return lambda op, a: np.asarray(_UNARY[kind](a)).astype(_result_dtype(op), copy=False)


def _reduction(kind: str) -> Impl:
    fn = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min, "mean": np.mean}[kind]

    def impl(op, a):
        keep = op.keepdims is not None
        return np.asarray(fn(a, axis=op.axes_tuple, keepdims=keep)).astype(_result_dtype(op), copy=False)
    return impl


def _arg_reduction(kind: str) -> Impl:
    fn = {"argmax": np.argmax, "argmin": np.argmin}[kind]

    def impl(op, a):
        axes = op.axes_tuple
        r = np.asarray(fn(a, axis=axes[0] if len(axes) == 1 else None))
        if op.keepdims is not None:
            r = r.reshape(tuple(1 if k in axes else n for k, n in enumerate(a.shape)))
        return r.astype(np.int64)
    return impl


def _scan(kind: str) -> Impl:
    fn = {"cumsum": np.cumsum, "cumprod": np.cumprod}[kind]
    return lambda op, a: np.asarray(fn(a, axis=op.axis_index, dtype=_result_dtype(op)))


def _constant(op: T.ConstantOp):
    t = op.result.type
    return np.array(op.value.get_values(), dtype=S.to_numpy_dtype(t.element_type)).reshape(S.shape_of(t))


def _slice(op, x, *operands):
    n = len(op.offsets)
    offsets, sizes = operands[:n], operands[n:]
    index = [np.arange(int(o), int(o) + int(s) * st, st)[: int(s)] if int(s) else np.zeros(0, int)
             for o, s, st in zip(offsets, sizes, op.strides.get_values())]
    out = x[np.ix_(*index)] if index else x
    return out.reshape(S.shape_of_runtime(out.shape, op.dropped.get_values())).copy()


def _extract(op, x, *idx):
    return np.asarray(x[tuple(int(i) for i in idx)])


def _insert(op, v, x, *idx):
    out = x.copy()
    out[tuple(int(i) for i in idx)] = v
    return out


REFERENCE: dict[type, Impl] = {
    **{T.ELEMENTWISE[k]: _binary(k) for k in _BINARY},
    **{T.ELEMENTWISE[k]: _unary(k) for k in _UNARY},
    **{T.REDUCE[k]: _reduction(k) for k in T.REDUCTIONS},
    **{T.SCAN[k]: _scan(k) for k in T.SCANS},
    **{T.REDUCE[k]: _arg_reduction(k) for k in T.ARG_REDUCTIONS},
    T.CastOp: lambda op, a: a.astype(_result_dtype(op)),
    T.MatmulOp: lambda op, a, b: np.matmul(a, b),
    T.TransposeOp: lambda op, a: np.transpose(a, op.perm.get_values()).copy(),
    T.ReshapeOp: lambda op, a, *s: np.reshape(a, tuple(int(d) for d in s)).copy(),
    T.BroadcastOp: lambda op, a, *s: np.broadcast_to(a, tuple(int(d) for d in s)).copy(),
    T.FillOp: lambda op, v, *s: np.full(tuple(int(d) for d in s), v, _result_dtype(op)),
    T.IotaOp: lambda op, n: np.arange(int(n)).astype(_result_dtype(op)),
    T.WhereOp: lambda op, c, a, b: np.where(c, a, b),
    T.ConstantOp: _constant,
    T.DimOp: lambda op, a: np.int64(a.shape[op.index.data]),
    T.SliceOp: _slice,
    T.ExtractOp: _extract,
    T.InsertOp: _insert,
    T.CopyOp: lambda op, a: np.array(a, copy=True),
    T.KeepOp: lambda op, a: None,
    T.ItemOp: lambda op, a: a[()],
}

def _custom(op, *inputs):
    """``etensor.custom``: the operator's own NumPy reference (``ember.custom_op``)."""
    from ember.custom_op import CUSTOM_OPS

    custom = CUSTOM_OPS.get(op.op_name.data)
    if custom is None:
        raise NotImplementedError(f"custom op {op.op_name.data!r} is not registered in this process")
    out = np.asarray(custom.reference(*inputs))
    return np.broadcast_to(out, np.broadcast_shapes(*(np.shape(x) for x in inputs))) \
        .astype(_result_dtype(op), copy=True)


REFERENCE[T.CustomOp] = _custom


#: Scalar ``arith`` ops the frontends emit at the tensor stage (sizes, casts of parameters).
ARITH: dict[type, Impl] = {
    arith.MuliOp: lambda op, a, b: a * b, arith.AddiOp: lambda op, a, b: a + b,
    arith.SubiOp: lambda op, a, b: a - b, arith.DivUIOp: lambda op, a, b: a // b,
    arith.MaxUIOp: lambda op, a, b: max(a, b), arith.MinUIOp: lambda op, a, b: min(a, b),
    arith.IndexCastOp: lambda op, a: _np_type(op.results[0].type)(a),
    arith.TruncFOp: lambda op, a: _np_type(op.results[0].type)(a),
    arith.ExtFOp: lambda op, a: _np_type(op.results[0].type)(a),
    arith.SIToFPOp: lambda op, a: _np_type(op.results[0].type)(a),
    arith.CmpiOp: lambda op, a, b: np.bool_(_CMPI[op.predicate.value.data](a, b)),
}

#: ``arith.cmpi`` predicates on the frontends' sizes and integers (unsigned ones on values
#: that are never negative there)
_CMPI = {0: lambda a, b: a == b, 1: lambda a, b: a != b, 2: lambda a, b: a < b,
         3: lambda a, b: a <= b, 4: lambda a, b: a > b, 5: lambda a, b: a >= b,
         6: lambda a, b: a < b, 7: lambda a, b: a <= b, 8: lambda a, b: a > b,
         9: lambda a, b: a >= b}


def _arith_constant(op: arith.ConstantOp):
    value = op.value.value.data
    t = op.result.type
    if not isinstance(t, IndexType) and S.is_bool(t):
        return np.bool_(value != 0)
    return _np_type(t)(value)


def run(module: ModuleOp, name: str, *args):
    """Interpret tensor-stage function ``name`` on NumPy arguments; returns a tuple."""
    fop = next(op for op in module.ops if isinstance(op, func.FuncOp) and op.sym_name.data == name)
    env = {}
    for a, v in zip(fop.args, args):
        env[a] = np.asarray(v) if isinstance(a.type, TensorType) else _np_type(a.type)(v)
    with np.errstate(all="ignore"):
        for op in fop.body.block.ops:
            if isinstance(op, func.ReturnOp):
                return tuple(env[v] for v in op.operands)
            if isinstance(op, arith.ConstantOp):
                env[op.result] = _arith_constant(op)
                continue
            if isinstance(op, cf.AssertOp):  # a run-time check: ValueError, as compiled code
                if not env[op.arg]:
                    raise ValueError(op.msg.data)
                continue
            impl = REFERENCE.get(type(op)) or ARITH.get(type(op))
            if impl is None:
                raise NotImplementedError(f"no reference implementation for {op.name}")
            env[op.results[0]] = impl(op, *(env[v] for v in op.operands))
    raise ValueError(f"function {name} has no return")
