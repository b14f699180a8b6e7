"""``ember.script``: lazily compiled, per-signature specialised functions.

    @ember.script
    def f(x, y, a: float):
        return np.tanh(x * a + y) * 0.5 + x.sum(axis=1, keepdims=True)

    f(x, y, 2.0)            # compiles for (float32[?,?], float32[?], float), then runs
    f.ir(stage="loop")      # MLIR text of the last specialisation at a stage
    f.llvm_ir()             # its LLVM IR
    f.cache_info()          # hits, misses, why each compile happened, time per stage
"""

from __future__ import annotations

import functools
import inspect
import os
import time
from dataclasses import dataclass, field

import numpy as np

from ember.registry import resolve_pass
from ember.stage_texts import StageTexts
from ember.frontends.script import ArraySpec, ScalarSpec, build_function

_SCALAR_KINDS = {bool: "i1", int: "i64", float: "f64"}
#: how many exact (dtype, shape, strides) call keys a function remembers before starting over
_FAST_KEYS = 1024
_ndarray = np.ndarray
#: the entry status of a failed result allocation (``memref_to_llvm.OUT_OF_MEMORY_STATUS``)
_OUT_OF_MEMORY = 2**31 - 1

#: Hooks of the ``ember.trace`` runs in progress. While one runs, a scripted function called
#: with traced values is inlined into the trace instead of called (``ember.frontends.trace``).
_trace_hooks: list = []


@dataclass
class Specialization:
    """One compiled signature: its entry point and its IR at every stage."""

    specs: tuple
    call: object
    weak: list[bool]
    returns_tuple: bool
    messages: list[str]
    ir: StageTexts  # stage name -> MLIR text, the later stages printed on first use
    llvm_ir: str
    optimized_llvm_ir: str
    timings: dict[str, float]
    #: results need no conversion (no 0-d arrays to turn into scalars)
    plain: bool = False
    #: the entry function's name, its parameter kinds ("array" or a scalar kind: f64, i64,
    #: i1...) and its results as (numpy dtype name, rank): the native ABI of ``call``
    name: str = ""
    kinds: list[str] = field(default_factory=list)
    results: list[tuple[str, int]] = field(default_factory=list)
    #: positions of the array parameters the code may write into (``x[i] = v`` on an
    #: argument changes the caller's array, as in Python)
    written: list[int] = field(default_factory=list)
    #: per result, the argument it may be (the code then allocates no result: the argument
    #: itself is returned, as in Python), or -1
    returns_argument: list[int] = field(default_factory=list)


@dataclass
class CompileRecord:
    signature: str
    reason: str
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def _spec_of(value, position: int):
    """The specialisation key of one argument; raises TypeError for unsupported values."""
    kind = type(value)
    if kind is np.ndarray:
        from ember.dialects.shapes import DYN, NUMPY_TO_ELEMENT

        if value.dtype == object:
            raise TypeError(f"argument {position}: object arrays are not supported")
        if value.dtype not in NUMPY_TO_ELEMENT:
            raise TypeError(f"argument {position}: unsupported dtype {value.dtype}; ember supports "
                            "float32, float64, int32, int64 and bool arrays")
        if not value.flags.aligned or any(s % value.itemsize for s in value.strides):
            raise TypeError(f"argument {position}: unaligned arrays are not supported")
        shape = tuple(1 if d == 1 else DYN for d in value.shape)
        return ArraySpec(value.dtype, shape, bool(value.flags.c_contiguous))
    if kind in (float, int, bool):
        return ScalarSpec(kind)
    if isinstance(value, np.generic):
        return None  # converted to a 0-d array by the caller
    if isinstance(value, list | tuple):
        raise TypeError(f"argument {position}: got a {kind.__name__}; pass a numpy array "
                        "(np.asarray(...)) instead")
    if value is None:
        raise TypeError(f"argument {position}: got None; expected a numpy array or a number")
    raise TypeError(f"argument {position}: unsupported type {kind.__name__}; expected a numpy "
                    "array, float, int or bool")


class Tensor:
    """Annotation for array parameters: ``def f(x: ember.Tensor, a: float)``."""


def _annotation_checks(py_func) -> list[tuple[int, str, object]]:
    """(position, parameter name, annotation) for parameters annotated with a checked type."""
    try:
        params = list(inspect.signature(py_func).parameters.values())
    except (TypeError, ValueError):
        return []
    hints = getattr(py_func, "__annotations__", {})
    checks = []
    for k, p in enumerate(params):
        ann = hints.get(p.name, inspect.Parameter.empty)
        if isinstance(ann, str):
            ann = {"float": float, "int": int, "bool": bool, "Tensor": Tensor,
                   "ember.Tensor": Tensor, "np.ndarray": np.ndarray}.get(ann, inspect.Parameter.empty)
        if ann in (float, int, bool, Tensor, np.ndarray):
            checks.append((k, p.name, ann))
    return checks


def _check_annotation(value, name: str, ann):
    if ann in (Tensor, np.ndarray):
        if not isinstance(value, np.ndarray):
            raise TypeError(f"argument '{name}' is annotated as a tensor but got "
                            f"{type(value).__name__}")
        return value
    if isinstance(value, np.ndarray):
        raise TypeError(f"argument '{name}' is annotated as {ann.__name__} but got an array")
    if ann is float and type(value) in (int, float):
        return float(value)
    if ann is int and type(value) in (int, bool):
        return int(value)
    if ann is bool and type(value) is bool:
        return value
    raise TypeError(f"argument '{name}' is annotated as {ann.__name__} but got {type(value).__name__}")


class ScriptFunction:
    """A Python function compiled by ember on first call for each argument signature."""

    def __init__(self, py_func, passes=None):
        code = getattr(py_func, "__code__", None)
        if code is None:  # a builtin, a NumPy function, a class, a callable object
            raise TypeError(f"ember compiles Python functions (def or lambda), not {py_func!r}; "
                            f"wrap it: lambda x: {getattr(py_func, '__name__', 'f')}(x)")
        functools.update_wrapper(self, py_func)
        self.py_func = py_func
        self._extra_passes = _stage_passes(passes)
        variadic = code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS)
        self._nparams = None if variadic else code.co_argcount  # None: the frontend rejects it
        #: parameter names and trailing defaults, to bind keyword and omitted arguments
        self._params = code.co_varnames[:code.co_argcount]
        self._defaults = py_func.__defaults__ or ()
        self._disabled = os.environ.get("EMBER_DISABLE_JIT") == "1"
        self._fast: dict[tuple, Specialization] = {}
        self._checks = _annotation_checks(py_func)
        self._cache: dict[tuple, Specialization] = {}
        self._last: Specialization | None = None
        self._hits = 0
        self._records: list[CompileRecord] = []

    # -- calling -------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        if kwargs or len(args) != self._nparams:
            args = self._bind(args, kwargs)
        # The fast path: facts that determine the specialisation (dtype, shape and strides fix
        # the size-1 dims and the layout; the Python type of each scalar), read as cheaply as
        # possible, looked up among the exact keys of earlier calls that took the slow path.
        spec = self._fast.get(tuple([(a.dtype, a.shape, a.strides, a.flags.aligned)
                                     if type(a) is _ndarray else type(a) for a in args]))
        if spec is None:
            return self._call_slow(args)
        self._hits += 1
        self._last = spec
        if spec.written:
            self._check_writes(spec, args)
        return self._run(spec, args)

    def _bind(self, args: tuple, kwargs: dict) -> tuple:
        """All the parameters' values, in order, as Python binds them: keyword arguments by
        name, omitted ones from the defaults; ``TypeError`` as Python words it otherwise."""
        n = self._nparams
        if n is None:  # *args/**kwargs: the frontend rejects the function with its reason
            return args
        if len(args) > n or (len(self._params) != n and (kwargs or len(args) != n)):
            least = n - len(self._defaults)
            takes = f"from {least} to {n}" if least < n else f"{n}"
            raise TypeError(f"{self.__name__}() takes {takes} positional arguments but "
                            f"{len(args)} were given")
        kwargs = dict(kwargs)
        for name in self._params[:len(args)]:
            if name in kwargs:
                raise TypeError(f"{self.__name__}() got multiple values for argument '{name}'")
        bound = list(args)
        first_default = n - len(self._defaults)
        missing = []
        for k in range(len(args), n):
            name = self._params[k]
            if name in kwargs:
                bound.append(kwargs.pop(name))
            elif k >= first_default:
                bound.append(self._defaults[k - first_default])
            else:
                missing.append(name)
        if kwargs:
            raise TypeError(f"{self.__name__}() got an unexpected keyword argument "
                            f"'{next(iter(kwargs))}'")
        if missing:  # Python's wording: 'a', 'b' and 'c'
            names = [repr(m) for m in missing]
            listed = names[0] if len(names) == 1 else (
                f"{names[0]} and {names[1]}" if len(names) == 2
                else ", ".join(names[:-1]) + f", and {names[-1]}")
            raise TypeError(f"{self.__name__}() missing {len(missing)} required positional "
                            f"argument{'s' * (len(missing) > 1)}: {listed}")
        return tuple(bound)

    def _call_slow(self, args: tuple):
        """Trace hooks, EMBER_DISABLE_JIT, argument checks and conversions, then the
        specialisation (compiled if needed); remembers the call's exact key for the fast path
        (raw arguments: the native call converts ints to floats where annotations ask)."""
        if _trace_hooks and (traced := _trace_hooks[-1](self, args)) is not NotImplemented:
            return traced
        if self._disabled:
            return self.py_func(*args)
        if len(args) != self._nparams and self._nparams is not None:
            raise TypeError(f"{self.__name__}() takes {self._nparams} positional arguments "
                            f"but {len(args)} were given")
        raw_key = tuple([(a.dtype, a.shape, a.strides, a.flags.aligned)
                         if type(a) is _ndarray else type(a) for a in args])
        if self._checks:
            args = list(args)
            for k, name, ann in self._checks:
                args[k] = _check_annotation(args[k], name, ann)
        generic = any(isinstance(a, np.generic) for a in args)
        args = tuple(np.asarray(a) if isinstance(a, np.generic) else a for a in args)
        spec = self._lookup(args)
        if not generic:
            if len(self._fast) >= _FAST_KEYS:  # exact shapes: bounded, starts over when full
                self._fast.clear()
            self._fast[raw_key] = spec
        self._last = spec
        if spec.written:
            self._check_writes(spec, args)
        return self._run(spec, args)

    def _check_writes(self, spec: Specialization, args: tuple) -> None:
        """``ValueError`` before a call that would write into a read-only array, or into an
        array that shares memory with another argument (the compiled code reads each argument
        as it was when the call started: it would not see such writes as Python does)."""
        def name(k: int) -> str:
            return f"'{self._params[k]}'" if k < len(self._params) else f"#{k}"

        for k in spec.written:
            a = args[k]
            if not a.flags.writeable:
                raise ValueError(f"{self.__name__}(): argument {name(k)} is read-only, and the "
                                 "function writes into it")
            for j, b in enumerate(args):
                if j != k and type(b) is _ndarray and np.may_share_memory(a, b):
                    raise ValueError(f"{self.__name__}(): arguments {name(k)} and {name(j)} share "
                                     f"memory, and the function writes into {name(k)}; pass a copy "
                                     f"of one of them")

    @staticmethod
    def _run(spec: Specialization, args: tuple):
        try:
            results = spec.call(*args)
        except RuntimeError as e:
            status = getattr(e, "status", 0)
            if 0 < status <= len(spec.messages):
                raise ValueError(spec.messages[status - 1]) from None
            if status == _OUT_OF_MEMORY:
                raise MemoryError(f"{spec.name}: out of memory: an array of this call could not "
                                  "be allocated") from None
            raise
        if spec.plain:
            return results[0] if not spec.returns_tuple else tuple(results)
        out = tuple([_to_python(r, weak) for r, weak in zip(results, spec.weak)])
        return out if spec.returns_tuple else out[0]

    def _lookup(self, args: tuple) -> Specialization:
        """The specialisation for ``args`` (validated), compiling it if needed."""
        specs = tuple(_spec_of(a, k) for k, a in enumerate(args))
        spec = self._cache.get(specs)
        if spec is None:
            return self._compile(specs, args)
        self._hits += 1
        return spec

    @property
    def signatures(self) -> list[str]:
        return [", ".join(s.describe() for s in key) for key in self._cache]

    def cache_info(self) -> dict:
        return {"hits": self._hits, "misses": len(self._records),
                "compiles": [r.__dict__ for r in self._records]}

    def ir(self, stage: str = "tensor", locations: bool = False) -> str:
        """MLIR text of the last specialisation at ``stage`` ("tensor", "loop", "llvm");
        ``locations=True`` prints the tensor stage with source locations."""
        spec = self._require_compiled()
        key = "tensor+locations" if locations and stage == "tensor" else stage
        if key not in spec.ir:
            stages = ", ".join(k for k in spec.ir if "+" not in k)
            raise ValueError(f"unknown stage {stage!r}; expected one of {stages}")
        return spec.ir[key]

    def llvm_ir(self, optimized: bool = False) -> str:
        spec = self._require_compiled()
        return spec.optimized_llvm_ir if optimized else spec.llvm_ir

    def _require_compiled(self) -> Specialization:
        if self._last is None:
            raise RuntimeError(f"{self.__name__} has not been compiled yet: call it first")
        return self._last

    def __reduce__(self):
        """Pickled by its compiled IR and a manifest, never by code (``ember.persist``)."""
        from ember.persist import reduce_function

        return reduce_function(self)

    # -- compiling -----------------------------------------------------------------------

    def _reason(self, key: tuple) -> str:
        """Why ``key`` compiled: its differences from the closest cached signature."""
        if not self._cache:
            return "first call"
        candidates = [_differences(old, key) for old in reversed(self._cache) if len(old) == len(key)]
        return "; ".join(min(candidates, key=len)) if candidates else "new signature"

    def _build(self, key: tuple, args: tuple):
        """The tensor-stage module for signature ``key``; ``args`` are the call's arguments.

        Returns ``(module, weak, returns_tuple)`` as :func:`build_function` does.
        """
        return build_function(self.py_func, list(key))

    def _compile(self, key: tuple, args: tuple) -> Specialization:
        from ember.compiler import compile_module
        from ember.persist import cache_lookup, cache_store

        t0 = time.perf_counter()
        module, weak, returns_tuple = self._build(key, args)
        build_time = time.perf_counter() - t0
        kinds = ["array" if isinstance(s, ArraySpec) else _SCALAR_KINDS[s.pytype] for s in key]
        disk_key = _disk_cache_key(module, kinds, self._extra_passes)
        reason = self._reason(key)
        t1 = time.perf_counter()
        spec = cache_lookup(disk_key) if disk_key else None
        if spec is not None:
            spec.timings = {"frontend": build_time, "disk-cache": time.perf_counter() - t1}
            reason += " (from the disk cache)"
        else:
            spec = compile_module(module, self.py_func.__name__, kinds, weak, returns_tuple, key,
                                  {stage: [p for spec in specs for p in resolve_pass(spec)]
                                   for stage, specs in self._extra_passes.items()})
            spec.timings = {"frontend": build_time, **spec.timings}
            if disk_key:
                cache_store(disk_key, self, spec)
        total = time.perf_counter() - t0
        self._records.append(CompileRecord(", ".join(s.describe() for s in key), reason, total,
                                           spec.timings))
        self._cache[key] = spec
        return spec


def _disk_cache_key(module, kinds: list[str], extra_passes: dict) -> str | None:
    from ember.persist import cache_dir, cache_key

    return cache_key(module, kinds, extra_passes) if cache_dir() is not None else None


def _differences(old: tuple, new: tuple) -> list[str]:
    diffs = []
    for k, (a, b) in enumerate(zip(old, new)):
        if a == b:
            continue
        if isinstance(a, ArraySpec) and isinstance(b, ArraySpec):
            if a.dtype != b.dtype:
                diffs.append(f"argument {k}: new dtype {b.dtype}")
            elif len(a.shape) != len(b.shape):
                diffs.append(f"argument {k}: new rank {len(b.shape)}")
            elif a.shape != b.shape:
                diffs.append(f"argument {k}: new size-1 dimensions")
            else:
                diffs.append(f"argument {k}: new layout (non-contiguous)")
        else:
            diffs.append(f"argument {k}: new type {b.describe()}")
    return diffs


def _to_python(r: np.ndarray, weak: bool):
    if r.ndim == 0:
        return r.item() if weak else r[()]
    return r


def _stage_passes(passes) -> dict[str, list]:
    """Validate ``passes={"tensor": [...], "loop": [...]}`` (names, pipeline strings or
    ModulePass instances) when the function is decorated, so a typo fails early."""
    if not passes:
        return {}
    from ember.pipeline import STAGE_NAMES

    out = {}
    for stage, specs in dict(passes).items():
        if stage not in STAGE_NAMES:
            raise ValueError(f"passes: unknown stage {stage!r}; expected one of {', '.join(STAGE_NAMES)}")
        specs = [specs] if isinstance(specs, str) or not isinstance(specs, list | tuple) else list(specs)
        for spec in specs:
            resolve_pass(spec)  # raises ValueError for unknown passes
        out[stage] = specs
    return out


def script(fn=None, *, passes=None):
    """Compile ``fn`` with ember (as a decorator: ``@ember.script`` or
    ``@ember.script(passes={"loop": ["my-pass"]})`` to run extra passes at the end of a stage)."""
    if fn is None:
        return functools.partial(script, passes=passes)
    return ScriptFunction(fn, passes=passes)
