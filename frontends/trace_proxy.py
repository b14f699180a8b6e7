"""The values ``ember.trace`` hands to the traced function: :class:`Proxy` and :class:`SymInt`.

A :class:`Proxy` stands for a tensor. It holds the builder value (``TValue``) that the
trace records *and* the concrete NumPy value the same code computes on the example inputs.
Every operation goes through the one op table (:mod:`ember.frontends.optable`) for the IR
and through NumPy for the concrete value, so Python control flow still runs the way plain
NumPy would, and whatever the trace bakes in can be reported with its value::

    def f(x):
        if x.sum() > 0:          # TracerWarning: the condition was True when traced
            return x * 2
        return x

A :class:`SymInt` is a size read from a tensor (``x.shape[0]``). Integer arithmetic on it
emits ``index`` arithmetic, so ``x.reshape(x.shape[0] * 2, -1)`` holds for every size;
turning it into a Python ``int`` bakes the example's size in, with a warning.
"""

from __future__ import annotations

import itertools
import linecache
import operator
import os
import sys
import warnings
from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import FileLineColLoc, IntAttr, StringAttr

from ember.dialects import shapes as S
from ember.errors import TraceError, TracerWarning
from ember.frontends import optable

# -- the user's line --------------------------------------------------------------------

_SKIPPED: tuple[str, ...] = ()


def _skipped_dirs() -> tuple[str, ...]:
    """Folders whose frames are not user code: ember's packages and NumPy."""
    global _SKIPPED
    if not _SKIPPED:
        import ember
        import ember.dialects
        import ember.frontends
        import ember.lowering

        mods = (ember, ember.frontends, ember.dialects, ember.lowering, np)
        _SKIPPED = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep for m in mods)
    return _SKIPPED


@dataclass(frozen=True)
class UserLine:
    """The line of traced code that is running: file, line, 0-based column, source text."""

    filename: str
    lineno: int
    col: int
    globals: dict

    @property
    def source(self) -> str:
        return linecache.getline(self.filename, self.lineno).rstrip()

    def location(self) -> FileLineColLoc:
        return FileLineColLoc(StringAttr(self.filename), IntAttr(self.lineno), IntAttr(self.col + 1))

    def error(self, message: str, hint: str = "", construct: str = "") -> TraceError:
        return TraceError(message, filename=self.filename, lineno=self.lineno, col_offset=self.col,
                          construct=construct, source_line=self.source, hint=hint)


def user_line() -> UserLine:
    """The innermost frame outside ember and NumPy."""
    skipped = _skipped_dirs()
    frame = sys._getframe(1)
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(skipped):
        frame = frame.f_back
    lineno, col = frame.f_lineno, 0
    try:
        pos = next(itertools.islice(frame.f_code.co_positions(), frame.f_lasti // 2, None))
        lineno, col = pos[0] or lineno, pos[2] or 0
    except (AttributeError, StopIteration):
        pass
    return UserLine(frame.f_code.co_filename, lineno, col, frame.f_globals)


def bake_warning(what: str, hint: str) -> None:
    """Warn that a value is baked into the trace, pointing at the user's line."""
    line = user_line()
    text = f"{line.filename}:{line.lineno}: {what}\n    {line.source.strip()}\nhint: {hint}"
    registry = line.globals.setdefault("__warningregistry__", {})
    warnings.warn_explicit(text, TracerWarning, line.filename, line.lineno,
                           module=line.globals.get("__name__"), registry=registry)


_SCRIPT_HINT = "or compile the function with ember.script, which keeps Python control flow"
HINTS = {
    "bool": "select values with np.where(cond, a, b), " + _SCRIPT_HINT,
    "scalar": "keep the value a tensor (x / x.sum() instead of x / float(x.sum())), " + _SCRIPT_HINT,
    "size": "pass the size on unchanged (x.reshape(x.shape[0], -1), np.zeros((x.shape[0], 4))), "
            + _SCRIPT_HINT,
    "iter": "use whole-array NumPy operations, " + _SCRIPT_HINT + " (for i in range(x.shape[0]))",
    "array": "keep the traced value instead of converting it to a NumPy array",
}

# -- unwrapping -------------------------------------------------------------------------


def ir_value(v):
    """What the op table takes for ``v``: ``TValue`` for proxies, ``Dim`` for sizes."""
    if isinstance(v, Proxy | SymInt):
        return v._ir
    if isinstance(v, tuple | list):
        return type(v)(ir_value(x) for x in v)
    return v


def concrete(v):
    """The value NumPy computes for ``v`` on the example inputs."""
    if isinstance(v, Proxy | SymInt):
        return v._value
    if isinstance(v, tuple | list):
        return type(v)(concrete(x) for x in v)
    return v


def find_tracer(args, kwargs=None):
    """The tracer of the first traced value in ``args``/``kwargs`` (nested), or None."""
    for v in itertools.chain(args, (kwargs or {}).values()):
        if isinstance(v, Proxy | SymInt):
            return v._tracer
        if isinstance(v, tuple | list) and (t := find_tracer(v)) is not None:
            return t
    return None


# -- tensors ----------------------------------------------------------------------------

_BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
           "truediv": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod,
           "pow": operator.pow, "matmul": operator.matmul, "and": operator.and_,
           "or": operator.or_, "xor": operator.xor}
_COMPARE = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
            "gt": operator.gt, "ge": operator.ge}
_UNARY = {"neg": operator.neg, "invert": operator.invert, "abs": abs}


class Proxy:
    """A tensor inside ``ember.trace``: records operations, computes them on the example.

    >>> g = ember.trace(lambda x: (x * 2).sum(axis=0), (np.ones((3, 4), np.float32),))
    >>> print(g.ir())   # etensor.mul, etensor.sum on tensor<?x?xf32>
    """

    __slots__ = ("_tracer", "_ir", "_value")
    __hash__ = None  # like ndarray

    def __init__(self, tracer, tv, value):
        self._tracer = tracer
        self._ir = tv
        self._value = value

    def __repr__(self) -> str:
        dims = ",".join("1" if d == 1 else "?" for d in self._ir.shape)
        return f"<ember.trace Proxy {self.dtype}[{dims}], {np.shape(self._value)} when traced>"

    # -- attributes -------------------------------------------------------------------

    @property
    def shape(self) -> tuple:
        tb = self._tracer.tb
        return tuple(self._tracer.wrap(tb.dim(self._ir, k), np.shape(self._value)[k], never_one=True)
                     for k in range(self.ndim))

    @property
    def ndim(self) -> int:
        return self._ir.rank

    @property
    def dtype(self) -> np.dtype:
        return S.to_numpy_dtype(self._ir.element)

    @property
    def size(self):
        n = 1
        for d in self.shape:
            n = n * d
        return n

    @property
    def T(self):
        return self._tracer.call(np.transpose, optable.FUNCTIONS[np.transpose], (self,), {})

    def __getattr__(self, name: str):
        if name in optable.METHODS:
            return lambda *args, **kwargs: self._tracer.method(name, self, args, kwargs)
        if name.startswith("__") or not hasattr(np.ndarray, name):
            raise AttributeError(f"traced tensors have no attribute '{name}'")
        raise user_line().error(f"the method 'ndarray.{name}' is not supported by ember.trace",
                                "see docs/trace.md for what traces", "method")

    def item(self):
        value = np.asarray(self._value).item()
        bake_warning(f"x.item() turns a traced tensor into the Python value {value!r}, which is "
                     "baked into the trace", HINTS["scalar"])
        return value

    # -- NumPy's protocols --------------------------------------------------------------

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return self._tracer.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        handler = optable.lookup(func)
        if handler is None:
            raise self._tracer.unsupported(f"numpy.{func.__name__}")
        return self._tracer.call(func, handler, args, kwargs)

    def __array__(self, dtype=None, copy=None):
        bake_warning("a traced tensor is converted to a NumPy array: its value on the example "
                     "inputs is baked into the trace as a constant", HINTS["array"])
        return np.asarray(self._value, dtype=dtype)

    # -- where values leave the trace ---------------------------------------------------

    def __bool__(self) -> bool:
        value = bool(self._value)
        bake_warning(f"a Python condition on a traced tensor was {value} when traced: only that "
                     "branch is in the trace", HINTS["bool"])
        return value

    def _scalar(self, kind: type):
        value = kind(self._value)
        bake_warning(f"{kind.__name__}() of a traced tensor gives the Python {kind.__name__} "
                     f"{value!r}: that value is baked into the trace", HINTS["scalar"])
        return value

    def __float__(self) -> float:
        return self._scalar(float)

    def __int__(self) -> int:
        return self._scalar(int)

    def __index__(self) -> int:
        if not np.issubdtype(self.dtype, np.integer):
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return self._scalar(int)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of unsized object")
        n = np.shape(self._value)[0]
        if self._ir.shape[0] != 1:
            bake_warning(f"len() of a traced tensor gives the Python int {n}: the trace is only "
                         "valid for that length", "use x.shape[0], which stays symbolic")
        return n

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        n = np.shape(self._value)[0]
        if self._ir.shape[0] != 1:
            bake_warning(f"iterating over a traced tensor unrolls the loop {n} times (its length "
                         "when traced)", HINTS["iter"])
        return (self[k] for k in range(n))

    def __getitem__(self, key):
        return self._tracer.getitem(self, key)

    def __setitem__(self, key, value):
        raise user_line().error("element and slice assignment is not supported by ember.trace",
                                "build the result with np.where, or use ember.script", "assignment")


def _forward(fn):
    def op(self, other):
        return self._tracer.call(fn, optable.FUNCTIONS[fn], (self, other), {})
    return op


def _reverse(fn):
    def op(self, other):
        return self._tracer.call(fn, optable.FUNCTIONS[fn], (other, self), {})
    return op


def _unary(fn):
    def op(self):
        return self._tracer.call(fn, optable.FUNCTIONS[fn], (self,), {})
    return op


for _name, _fn in _BINARY.items():
    setattr(Proxy, f"__{_name}__", _forward(_fn))
    setattr(Proxy, f"__r{_name}__", _reverse(_fn))
for _name, _fn in _COMPARE.items():
    setattr(Proxy, f"__{_name}__", _forward(_fn))
for _name, _fn in _UNARY.items():
    setattr(Proxy, f"__{_name}__", _unary(_fn))
Proxy.__pos__ = lambda self: self


# -- sizes ------------------------------------------------------------------------------

_INDEX_OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
              "floordiv": operator.floordiv, "mod": operator.mod}


class SymInt:
    """A run-time size (``x.shape[k]``, or integer arithmetic on sizes) inside a trace.

    ``+ - * // %`` with ints and other sizes stay symbolic (``index`` arithmetic); other
    arithmetic turns it into a 0-d tensor. ``int()``, ``range()``, comparisons and any other
    use as a Python int bake in its value on the example inputs, with a TracerWarning.
    """

    __slots__ = ("_tracer", "_ir", "_value", "_never_one")
    __hash__ = None

    def __init__(self, tracer, dim, value: int, never_one: bool = False):
        self._tracer = tracer
        self._ir = dim
        self._value = value
        self._never_one = never_one  # a dynamic dimension: specialisation says it is not 1

    def __repr__(self) -> str:
        return f"<ember.trace SymInt, {self._value} when traced>"

    def _bake(self, what: str):
        bake_warning(f"{what}: the size {self._value} (its value when traced) is baked into the "
                     "trace, which is then only valid for that size", HINTS["size"])
        return self._value

    def __index__(self) -> int:
        return self._bake("a traced size is used as a Python int")

    def __int__(self) -> int:
        return self._bake("int() of a traced size")

    def __float__(self) -> float:
        return float(self._bake("float() of a traced size"))

    def __bool__(self) -> bool:
        return bool(self._bake("a Python condition on a traced size"))

    def _compare(self, fn, other):
        if self._never_one and type(other) is int and other == 1 and fn in (operator.eq, operator.ne):
            return fn(2, 1)  # size-1 dimensions are part of the signature: never equal to 1 here
        result = fn(self._value, concrete(other))
        self._bake(f"a comparison of a traced size was {result}")
        return result


def _sym_binary(fn, reverse: bool):
    def op(self, other):
        args = (other, self) if reverse else (self, other)
        if fn in _INDEX_OPS.values() and all(type(a) is int or isinstance(a, SymInt) for a in args):
            return self._tracer.index_arith(fn, *args)
        return self._tracer.call(fn, optable.FUNCTIONS[fn], args, {})
    return op


for _name, _fn in _BINARY.items():
    setattr(SymInt, f"__{_name}__", _sym_binary(_fn, False))
    setattr(SymInt, f"__r{_name}__", _sym_binary(_fn, True))
for _name, _fn in _COMPARE.items():
    setattr(SymInt, f"__{_name}__", lambda self, other, _fn=_fn: self._compare(_fn, other))
SymInt.__neg__ = lambda self: 0 - self
SymInt.__pos__ = lambda self: self
