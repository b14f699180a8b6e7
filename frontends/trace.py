"""``ember.trace``'s frontend: run a NumPy function on proxies and record what it does.

:func:`trace_function` builds the entry block from the argument specialisation (as the
script frontend does), wraps each argument in a :class:`~ember.frontends.trace_proxy.Proxy`
that also carries the example's concrete value, calls the Python function, and returns what
it returned. Every operation is looked up in the one op table, so tracing and scripting
accept the same NumPy operations and build the same IR::

    def mlp(x, w, b):
        return np.maximum(x @ w + b, 0)

    module, weak, returns_tuple = trace_function(mlp, specs, (x, w, b))
    # func.func @mlp(%x: tensor<?x?xf32>, %w: tensor<?x?xf32>, %b: tensor<?xf32>) ...
    #   etensor.matmul, etensor.add, etensor.maximum

While a trace runs, NumPy's creation functions that take no array (``np.zeros``,
``np.full``, ``np.arange``, ``np.asarray``…), which NumPy does not dispatch to
``__array_function__``, are replaced in the ``numpy`` module and in the traced function's
globals by wrappers that record them when an argument is traced (``np.zeros((x.shape[0],
4))``) and call NumPy otherwise. A scripted function called with traced values is built
inline by the script frontend, so its control flow survives as ``scf`` ops.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import os
import threading

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects import arith, func
from xdsl.dialects.builtin import ModuleOp, UnitAttr
from xdsl.ir import Block, Region
from xdsl.rewriter import InsertPoint

from ember import api
from ember.dialects import shapes as S
from ember.frontends import optable
from ember.frontends.builder import PY_ELEMENT, ArrayObject, BuildError, Dim, TensorBuilder, TValue
from ember.frontends.script import ArraySpec, _arg_attrs, _FunctionBuilder
from ember.frontends.slicing import Slice, build_slice
from ember.frontends.trace_proxy import (
    Proxy,
    SymInt,
    concrete,
    find_tracer,
    ir_value,
    user_line,
)

_UFUNC_REDUCE = {np.add: "sum", np.multiply: "prod", np.maximum: "max", np.minimum: "min"}
_UFUNC_ACCUMULATE = {np.add: "cumsum", np.multiply: "cumprod"}
_INDEX_ARITH = {operator.add: arith.AddiOp, operator.sub: arith.SubiOp,
                operator.mul: arith.MuliOp, operator.floordiv: arith.FloorDivSIOp}
_UNSUPPORTED_HINT = ("ember traces the NumPy functions of its op table "
                     "(ember.frontends.optable.FUNCTIONS); see docs/trace.md")


class Tracer:
    """Records operations on proxies with the typed builder; one per trace."""

    def __init__(self, tb: TensorBuilder):
        self.tb = tb

    def wrap(self, result, value, never_one: bool = False):
        """A builder result as a traced value (``TValue`` → Proxy, ``Dim`` → SymInt)."""
        if isinstance(result, TValue):
            return Proxy(self, result, value)
        if isinstance(result, Dim):
            return result.static if result.static != S.DYN else SymInt(self, result, int(value), never_one)
        if isinstance(result, tuple | list):
            return type(result)(self.wrap(r, v) for r, v in zip(result, value))
        return value

    def call(self, fn, handler, args: tuple, kwargs: dict):
        """``fn`` on the concrete values and the op-table ``handler`` on the IR values."""
        line = user_line()
        self.tb.location = line.location()
        with np.errstate(all="ignore"):  # the example's values only steer Python control flow
            value = fn(*concrete(args), **{k: concrete(v) for k, v in kwargs.items()})
        try:
            result = handler(self.tb, *ir_value(args), **{k: ir_value(v) for k, v in kwargs.items()})
        except BuildError as e:
            raise line.error(str(e), construct="operation") from None
        except TypeError as e:
            raise line.error(f"bad arguments to {getattr(fn, '__name__', fn)}: {e}", construct="call") from None
        return self.wrap(result, value)

    def method(self, name: str, x: Proxy, args: tuple, kwargs: dict):
        def run(v, *a, **k):
            return getattr(v if hasattr(v, name) else np.asarray(v), name)(*a, **k)
        return self.call(run, optable.METHODS[name], (x, *args), kwargs)

    def ufunc(self, ufunc, method: str, inputs: tuple, kwargs: dict):
        handler, fn = None, ufunc
        if "out" in kwargs:
            raise self.unsupported(f"the out= argument of numpy.{ufunc.__name__}")
        if method == "__call__":
            handler = optable.lookup(ufunc)
        elif method == "reduce" and ufunc in _UFUNC_REDUCE:
            handler, fn = optable.METHODS[_UFUNC_REDUCE[ufunc]], ufunc.reduce
            kwargs = {"axis": 0, **kwargs}
        elif method == "accumulate" and ufunc in _UFUNC_ACCUMULATE:  # (NumPy 2 widens as cumsum)
            handler, fn = optable.METHODS[_UFUNC_ACCUMULATE[ufunc]], ufunc.accumulate
            kwargs = {"axis": 0, **kwargs}
        if handler is None:
            suffix = "" if method == "__call__" else f".{method}"
            raise self.unsupported(f"numpy.{ufunc.__name__}{suffix}")
        return self.call(fn, handler, inputs, kwargs)

    def unsupported(self, name: str):
        return user_line().error(f"'{name}' is not supported by ember.trace", _UNSUPPORTED_HINT, "call")

    def index_arith(self, fn, a, b) -> SymInt:
        """``a fn b`` on sizes and ints, as ``index`` arithmetic (Python's floor semantics)."""
        self.tb.location = user_line().location()
        x, y = (self.tb.to_index(ir_value(v)) for v in (a, b))
        if fn is operator.mod:  # x - (x // y) * y keeps Python's sign rule
            q = self.tb.emit(arith.FloorDivSIOp(x, y)).results[0]
            qy = self.tb.emit(arith.MuliOp(q, y)).results[0]
            ssa = self.tb.emit(arith.SubiOp(x, qy)).results[0]
        else:
            ssa = self.tb.emit(_INDEX_ARITH[fn](x, y)).results[0]
        return SymInt(self, Dim(ssa), fn(concrete(a), concrete(b)))

    def getitem(self, x: Proxy, key):
        """``x[key]``: integers, slices, ``None`` and ``...`` (basic indexing)."""
        items = key if isinstance(key, tuple) else (key,)
        value = x._value[tuple(_concrete_item(i) for i in items) if isinstance(key, tuple)
                         else _concrete_item(key)]
        line = user_line()
        self.tb.location = line.location()
        items, new_axes = _expand(items, x.ndim, line)
        try:
            tv = build_slice(self.tb, x._ir, [_ir_item(i, line) for i in items])
            if new_axes:
                sizes = [self.tb.dim(tv, k) for k in range(tv.rank)]
                for k in new_axes:
                    sizes.insert(k, 1)
                tv = self.tb.reshape(tv, sizes)
        except BuildError as e:
            raise line.error(str(e), construct="subscript") from None
        return Proxy(self, tv, value)

    def inline_script(self, fn, args: tuple):
        """Call the scripted ``fn`` by building its body here, with the proxies' values."""
        value = fn.py_func(*concrete(args))
        callee = _FunctionBuilder(fn.py_func, None, None)
        callee.tb = self.tb
        fdef = callee._function_def()
        params = [a.arg for a in fdef.args.args]
        if len(params) != len(args) or fdef.args.vararg:
            raise TypeError(f"{fn.__name__}() takes {len(params)} arguments but {len(args)} were given")
        callee.env, objects = {}, {}
        for p, a, v in zip(params, args, ir_value(tuple(args))):
            if isinstance(a, Proxy) and isinstance(v, TValue) and v.rank:
                v = TValue(v.ssa, v.weak, ArrayObject(p, argument=True))  # the proxy's array
                objects[v.obj] = a
            callee.env[p] = v
        saved = self.tb.location
        try:
            result = callee._body(fdef.body)
        finally:
            self.tb.location = saved
        for obj, proxy in objects.items():  # the callee's element writes are the caller's
            if obj in callee.latest:
                proxy._ir = TValue(callee.latest[obj].ssa, proxy._ir.weak)
        return self.wrap(result, value)


def _concrete_item(item):
    if isinstance(item, slice):
        return slice(concrete(item.start), concrete(item.stop), concrete(item.step))
    return concrete(item)


def _expand(items: tuple, rank: int, line) -> tuple[list, list[int]]:
    """Replace ``...`` by full slices and drop ``None``s, noting where they add axes."""
    ellipses = [k for k, i in enumerate(items) if i is Ellipsis]
    if len(ellipses) > 1:
        raise line.error("an index can only have a single ellipsis ('...')", construct="subscript")
    indexed = sum(1 for i in items if i is not None and i is not Ellipsis)
    out, new_axes, position = [], [], 0
    for item in items:
        if item is Ellipsis:
            out += [slice(None)] * (rank - indexed)
            position += rank - indexed
        elif item is None:
            new_axes.append(position)
            position += 1
        else:
            out.append(item)
            position += isinstance(item, slice)
    return out, new_axes


def _ir_item(item, line):
    if isinstance(item, slice):
        step = 1 if item.step is None else item.step
        if type(step) is not int:
            raise line.error("slice steps must be Python ints when tracing", construct="slice")
        return Slice(ir_value(item.start), ir_value(item.stop), step)
    if isinstance(item, Proxy) and (item.ndim or not np.issubdtype(item.dtype, np.integer)):
        raise line.error("indexing with arrays (fancy or boolean indexing) is not supported by "
                         "ember.trace", "use np.where for masks", "subscript")
    if isinstance(item, bool) or not isinstance(item, int | SymInt | Proxy | np.integer):
        raise line.error(f"unsupported index of type {type(item).__name__}", construct="subscript")
    return int(item) if isinstance(item, np.integer) else ir_value(item)


# -- while a trace runs -------------------------------------------------------------------


def _not_dispatched() -> dict[str, object]:
    """NumPy functions of the op table that NumPy does not route to ``__array_function__``."""
    out = {}
    for fn in optable.FUNCTIONS:
        name = getattr(fn, "__name__", None)
        if (name and getattr(np, name, None) is fn and not isinstance(fn, np.ufunc)
                and not hasattr(fn, "_implementation")):
            out[name] = fn
    return out


def _recording(fn):
    handler = optable.FUNCTIONS[fn]

    @functools.wraps(fn)
    def traced(*args, **kwargs):
        tracer = find_tracer(args, kwargs)
        if tracer is None:
            return fn(*args, **kwargs)
        return tracer.call(fn, handler, args, kwargs)
    return traced


_ORIGINALS = _not_dispatched()
_WRAPPERS = {name: _recording(fn) for name, fn in _ORIGINALS.items()}
_BY_ID = {id(fn): _WRAPPERS[name] for name, fn in _ORIGINALS.items()}
_LOCK = threading.Lock()
_active = 0


def _inline_hook(fn, args: tuple):
    tracer = find_tracer(args)
    if tracer is None:
        return NotImplemented
    if fn.py_func is None:
        from ember.errors import TraceError

        raise TraceError(f"{fn.__name__} was loaded from an artifact without its Python source, "
                         "so a trace cannot record it; call it outside the traced function")
    if getattr(fn, "trace_through", False):
        return fn.py_func(*args)
    return tracer.inline_script(fn, args)


@contextlib.contextmanager
def tracing(py_func):
    """Install the recording NumPy wrappers and the scripted-call hook for one trace."""
    global _active
    with _LOCK:
        if _active == 0:
            for name, wrapper in _WRAPPERS.items():
                setattr(np, name, wrapper)
        _active += 1
        api._trace_hooks.append(_inline_hook)
    scope = getattr(py_func, "__globals__", {})
    saved = {k: v for k, v in scope.items() if id(v) in _BY_ID and _BY_ID[id(v)] is not v}
    scope.update({k: _BY_ID[id(v)] for k, v in saved.items()})
    try:
        yield
    finally:
        scope.update(saved)
        with _LOCK:
            _active -= 1
            api._trace_hooks.remove(_inline_hook)
            if _active == 0:
                for name, fn in _ORIGINALS.items():
                    setattr(np, name, fn)


# -- the entry point ----------------------------------------------------------------------


def trace_function(py_func, specs: list, args: list, name: str | None = None):
    """Trace ``py_func`` on ``args`` into a module specialised for ``specs``.

    Returns the module, per result whether it is a weak Python scalar, and whether the
    function returns a tuple (as :func:`ember.frontends.script.build_function` does).
    """
    name = name or py_func.__name__
    arg_types = [S.tensor_type(s.shape, S.NUMPY_TO_ELEMENT[s.dtype]) if isinstance(s, ArraySpec)
                 else PY_ELEMENT[s.pytype] for s in specs]
    block = Block(arg_types=arg_types)
    tb = TensorBuilder(Builder(InsertPoint.at_end(block)),
                       boundscheck=os.environ.get("EMBER_BOUNDSCHECK", "1") != "0")
    tracer = Tracer(tb)
    proxies = []
    for arg, spec, ssa, hint in zip(args, specs, block.args, _arg_names(py_func, len(args))):
        ssa.name_hint = hint
        tv = TValue(ssa) if isinstance(spec, ArraySpec) else tb.from_scalar(ssa, weak=spec.pytype)
        proxies.append(Proxy(tracer, tv, arg))
    with tracing(py_func):
        result = py_func(*proxies)
    returns_tuple = isinstance(result, tuple | list)
    flat = [_as_result(tracer, v, py_func) for v in (result if returns_tuple else (result,))]
    tb.emit(func.ReturnOp(*(v.ssa for v in flat)))
    fop = func.FuncOp(name, func.FunctionType.from_lists(arg_types, [v.ssa.type for v in flat]),
                      Region(block))
    fop.attributes["ember.entry"] = UnitAttr()
    fop.arg_attrs = _arg_attrs(specs)
    return ModuleOp([fop]), [v.weak is not None for v in flat], returns_tuple


def _arg_names(py_func, n: int) -> list[str]:
    code = getattr(py_func, "__code__", None)
    names = list(code.co_varnames[:code.co_argcount]) if code else []
    return [names[k] if k < len(names) else f"arg{k}" for k in range(n)]


def _as_result(tracer: Tracer, v, py_func) -> TValue:
    v = ir_value(v)
    if isinstance(v, TValue):
        return v
    try:
        return optable._tensor(tracer.tb, v)
    except BuildError:
        from ember.errors import TraceError

        code = py_func.__code__
        raise TraceError(f"a traced function must return tensors, numbers or a tuple of them, "
                         f"got {type(v).__name__}", filename=code.co_filename,
                         lineno=code.co_firstlineno, construct="return") from None
