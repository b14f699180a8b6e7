"""``ember.trace``: compile unchanged NumPy code by recording what it does on examples.

    def mlp(x, w1, b1, w2, b2):
        h = np.maximum(x @ w1 + b1, 0)
        z = h @ w2 + b2
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    g = ember.trace(mlp, (x, w1, b1, w2, b2))   # traced and compiled now
    g(x2, w1, b1, w2, b2)                       # another batch size: same trace
    g(x.astype(np.float64), ...)                # another dtype: traced again
    print(g.ir())                               # the tensor-stage IR
    g.cache_info()["compiles"][-1]["reason"]    # 'retraced: argument 0: new dtype float64'

A trace is specialised like a scripted function: per argument dtype, rank, size-1
dimensions and layout. Every other size stays symbolic, so one trace serves every batch
size. Where traced code turns a tensor into a Python value, the value is baked in and an
:class:`ember.TracerWarning` says where and what to do instead (``docs/trace.md``).
"""

from __future__ import annotations

import numpy as np

from ember.api import ScriptFunction, _check_annotation
from ember.errors import TraceCheckError
from ember.frontends.trace import trace_function


class TracedFunction(ScriptFunction):
    """A Python function recorded by :func:`trace`; called, inspected and cached like
    :class:`ember.ScriptFunction` (``g(...)``, ``g.ir()``, ``g.llvm_ir()``,
    ``g.signatures``, ``g.cache_info()``). A call whose signature differs from every
    trace so far traces the function again on that call's arguments."""

    #: called from traced code, it is traced through rather than inlined as a script
    trace_through = True

    def __init__(self, py_func, example_inputs, check_inputs=None):
        super().__init__(py_func)
        self.example_inputs = tuple(example_inputs)
        if not self._disabled:
            args = list(self.example_inputs)
            for k, name, ann in self._checks:
                args[k] = _check_annotation(args[k], name, ann)
            self._last = self._lookup(tuple(np.asarray(a) if isinstance(a, np.generic) else a
                                            for a in args))
        for k, inputs in enumerate(check_inputs or ()):
            self.check(inputs, f"check_inputs[{k}]")

    def _build(self, key: tuple, args: tuple):
        return trace_function(self.py_func, list(key), list(args))

    def _reason(self, key: tuple) -> str:
        return "example inputs" if not self._cache else "retraced: " + super()._reason(key)

    def check(self, inputs, label: str = "inputs") -> None:
        """Run the trace and the Python function on ``inputs``; raise
        :class:`ember.TraceCheckError` if they disagree."""
        inputs = tuple(inputs)
        want, got = self.py_func(*inputs), self(*inputs)
        if isinstance(want, tuple | list) != isinstance(got, tuple | list):
            raise TraceCheckError(f"{self.__name__}: on {label} the Python function returns "
                                  f"{type(want).__name__}, the trace {type(got).__name__}")
        pairs = zip(want, got) if isinstance(want, tuple | list) else [(want, got)]
        for j, (w, g) in enumerate(pairs):
            problem = _disagreement(np.asarray(w), np.asarray(g))
            if problem:
                raise TraceCheckError(
                    f"{self.__name__}: the trace disagrees with the Python function on {label}, "
                    f"result {j}: {problem}. A value was probably baked in while tracing (see "
                    "the TracerWarnings); use np.where or ember.script for that code")


def _disagreement(want: np.ndarray, got: np.ndarray) -> str:
    if want.shape != got.shape:
        return f"shape {got.shape} instead of {want.shape}"
    if want.dtype != got.dtype:
        return f"dtype {got.dtype} instead of {want.dtype}"
    if want.dtype.kind in "biu":
        bad = want != got
    else:
        tol = 1e-4 if want.dtype == np.float32 else 1e-9
        bad = ~np.isclose(got, want, rtol=tol, atol=tol, equal_nan=True)
    if np.any(bad):
        k = np.argwhere(bad)[0] if bad.ndim else ()
        return f"at index {tuple(int(i) for i in k)} got {got[tuple(k)]!r}, expected {want[tuple(k)]!r}"
    return ""


def trace(fn, example_inputs, check_inputs=None) -> TracedFunction:
    """Trace ``fn`` on ``example_inputs`` (a tuple of arrays and numbers) and compile it.

    ``check_inputs``: more argument tuples; the trace is run on each and compared with the
    Python function, raising :class:`ember.TraceCheckError` on a difference.

    >>> g = ember.trace(lambda x: np.exp(x).sum(axis=0), (np.ones((2, 3), np.float32),))
    >>> g(np.ones((5, 3), np.float32))      # same trace for any number of rows
    array([13.591409, 13.591409, 13.591409], dtype=float32)
    """
    if not callable(fn):
        raise TypeError(f"ember.trace needs a function, got {type(fn).__name__}")
    if not isinstance(example_inputs, tuple | list):
        example_inputs = (example_inputs,)
    return TracedFunction(fn, example_inputs, check_inputs)
