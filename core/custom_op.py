"""Custom operators: a NumPy reference plus a lowering, callable from compiled code.

Like ``torch.library.custom_op``, an operator is declared by its reference implementation
(the decorated NumPy function) and gets a lowering of one of two kinds::

    @ember.custom_op("mylib::softplus")
    def softplus(x):
        return np.logaddexp(x, 0.0)

    @softplus.lower_scalar                      # (1) one element, as arith/math ops
    def _(b, x):
        return b.insert(math.Log1pOp(b.insert(math.ExpOp(x)).result)).result

    relu6 = ember.custom_op("mylib::relu6", native=("relu6_f64", "./librelu6.so"))(ref)   # (2)

``softplus(x)`` works everywhere: on NumPy arrays it runs the reference; inside
``ember.script`` (and ``ember.trace``) it becomes ``etensor.custom "mylib::softplus"``, which
``tensor-to-loop`` lowers with the scalar lowering (fused with its neighbours like any
elementwise op) or with a call of the native symbol; the NumPy reference interpreter
(``ember.dialects.reference``) runs the reference.

Custom operators are elementwise: the inputs broadcast together (NumPy rules, NEP 50 for
Python scalars) and are cast to one common dtype, the *compute dtype*; the result has the
broadcast shape and the dtype given by ``dtype=`` (default: the compute dtype).

A native symbol is a C function over contiguous data, one pointer per input, then the
output, then the element count::

    void relu6_f64(const double *in0, /* const double *in1, ... */ double *out, int64_t n);

``native=`` takes ``(symbol, path)`` (float64 data), ``(symbol, path, dtype)``, or a dict
``{dtype: (symbol, path)}`` with one kernel per dtype; ``path=None`` means the symbol is
already in the process. The library is loaded with ``RTLD_GLOBAL`` and the symbol handed to
LLVM's JIT, so compiled code calls it directly. The inputs are broadcast and made contiguous
first (a copy only when they are not already), and the output is a fresh buffer.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from xdsl.ir import Attribute

from ember.dialects import shapes as S

#: Every custom operator of this process, by name ("mylib::softplus").
CUSTOM_OPS: dict[str, CustomOp] = {}

DtypeRule = Callable[[np.dtype], object] | np.dtype | type | str | None


@dataclass
class NativeKernel:
    """A C function ``void symbol(const T *in0, ..., T *out, int64_t n)`` on ``dtype`` data."""

    symbol: str
    path: str | None
    dtype: np.dtype
    _library: object = field(default=None, repr=False)

    def load(self) -> int:
        """Load the library (once) and make ``symbol`` resolvable by the JIT; its address."""
        import llvmlite.binding as llb

        if self._library is None:
            self._library = ctypes.CDLL(self.path, mode=ctypes.RTLD_GLOBAL)
        try:
            address = ctypes.cast(getattr(self._library, self.symbol), ctypes.c_void_p).value
        except AttributeError:
            where = self.path or "the running process"
            raise ValueError(f"native symbol '{self.symbol}' not found in {where}") from None
        llb.add_symbol(self.symbol, address)
        return address


class CustomOp:
    """A user-defined operator: ``__call__`` runs the reference on NumPy values, and the op
    tables make it compile inside ``ember.script``/``ember.trace``."""

    def __init__(self, name: str, reference: Callable, dtype: DtypeRule = None,
                 native: dict[np.dtype, NativeKernel] | None = None):
        functools.update_wrapper(self, reference)
        self.name = name
        self.reference = reference
        self.dtype_rule = dtype
        self.native = native or {}
        self.scalar_lowering: Callable | None = None

    def __repr__(self) -> str:
        kind = "native" if self.native else "scalar" if self.scalar_lowering else "reference only"
        return f"<ember.custom_op {self.name!r} ({kind})>"

    def __call__(self, *args, **kwargs):
        from ember.frontends.trace_proxy import find_tracer

        tracer = find_tracer(args, kwargs)
        if tracer is not None:
            from ember.frontends.optable import FUNCTIONS

            return tracer.call(self.reference, FUNCTIONS[self], args, kwargs)
        return self.reference(*args, **kwargs)

    def lower_scalar(self, fn: Callable) -> Callable:
        """Decorator: ``fn(b, *scalars) -> scalar`` emits one element's computation with the
        xDSL ``Builder`` ``b`` (arith/math ops on values of the compute dtype)."""
        if self.native:
            raise ValueError(f"custom op {self.name!r} already has a native lowering")
        self.scalar_lowering = fn
        return fn

    # -- typing (shared by the frontend handler and the verifier) -------------------------

    def result_dtype(self, compute: np.dtype) -> np.dtype:
        rule = self.dtype_rule
        if rule is None:
            return np.dtype(compute)
        return np.dtype(rule(np.dtype(compute)) if callable(rule) and not isinstance(rule, type)
                        else rule)

    def result_element(self, compute: Attribute) -> Attribute:
        """The result element type of ``etensor.custom`` for operands of type ``compute``."""
        dtype = self.result_dtype(S.to_numpy_dtype(compute))
        if dtype not in S.NUMPY_TO_ELEMENT:
            raise ValueError(f"custom op {self.name!r}: unsupported result dtype {dtype}")
        return S.NUMPY_TO_ELEMENT[dtype]

    def kernel_dtype(self, compute: np.dtype) -> np.dtype:
        """The dtype a native op computes in for inputs promoted to ``compute``."""
        if compute in self.native:
            return compute
        for dtype in self.native:
            if np.can_cast(compute, dtype, "safe"):
                return dtype
        raise TypeError(f"custom op {self.name!r} has no native kernel for {compute} "
                        f"(kernels: {', '.join(str(d) for d in self.native)})")


def _kernels(native) -> dict[np.dtype, NativeKernel]:
    if native is None:
        return {}
    if isinstance(native, dict):
        return {np.dtype(dt): NativeKernel(sym, path, np.dtype(dt)) for dt, (sym, path) in native.items()}
    symbol, path, *rest = native
    dtype = np.dtype(rest[0] if rest else np.float64)
    return {dtype: NativeKernel(symbol, None if path is None else str(path), dtype)}


def custom_op(name: str, *, dtype: DtypeRule = None, native=None,
              shape: str = "elementwise") -> Callable[[Callable], CustomOp]:
    """Declare the custom operator ``name`` ("namespace::op") by its NumPy reference.

    ``dtype``: the result dtype, as a dtype or a function of the compute dtype (default:
    the compute dtype). ``native``: ``(symbol, path)``, ``(symbol, path, dtype)`` or
    ``{dtype: (symbol, path)}`` for a C kernel (see the module docstring); without it, give
    a scalar lowering with ``@op.lower_scalar``. ``shape``: only ``"elementwise"``.
    Re-declaring a name replaces the old operator.
    """
    if "::" not in name:
        raise ValueError(f"custom op names are 'namespace::name', got {name!r}")
    if shape != "elementwise":
        raise ValueError(f"custom op {name!r}: only shape='elementwise' is supported")
    kernels = _kernels(native)
    for kernel in kernels.values():
        if kernel.dtype not in S.NUMPY_TO_ELEMENT:
            raise ValueError(f"custom op {name!r}: unsupported kernel dtype {kernel.dtype}")
        kernel.load()  # fail at declaration, not in the middle of a compile

    def declare(reference: Callable) -> CustomOp:
        from ember.frontends.optable import FUNCTIONS, custom_handler

        op = CustomOp(name, reference, dtype, kernels)
        old = CUSTOM_OPS.get(name)
        if old is not None:
            FUNCTIONS.pop(old, None)
        CUSTOM_OPS[name] = op
        FUNCTIONS[op] = custom_handler(op)
        return op

    return declare
