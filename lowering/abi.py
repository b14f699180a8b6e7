"""Calling compiled entry functions from Python on numpy arrays.

The native signature of an ``ember.entry`` function (see ``func_to_llvm``)::

    int32_t f(PyArrayObject *a0, double s1, int64_t n2, int8_t flag3, ...,
              void *(*alloc_result)(void *ctx, int64_t k, int64_t rank, const int64_t *sizes,
                                    int32_t dtype),
              void *alloc_ctx)

Arrays are passed as their object pointers; the code reads the data pointer,
``dimensions`` and ``strides`` (bytes) fields itself, at the offsets in
``NUMPY_ARRAY_LAYOUT`` (checked once against numpy by ``check_layout``).  Each result is a
fresh C-contiguous array the code asks for with ``alloc_result(alloc_ctx, k, rank, sizes,
dtype) -> data`` (``dtype`` is NumPy's type number). From Python, that is the native NumPy
allocator of ``ember.lowering.pyalloc`` and ``alloc_ctx`` the call's result list; an
exported library passes its own (``ember.export``). A non-zero status ``k`` means the k-th
``cf.assert`` of the function failed.

    call = make_entry(engine, "add1", ["array"], [(np.float32, 2)])
    [y] = call(x)
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable, Sequence

import numpy as np

#: Byte offsets of the fields of a CPython ``PyArrayObject`` that compiled code reads
#: (``func_to_llvm``); checked against the running numpy by :func:`check_layout`. Kept here,
#: not in ``func_to_llvm``, so calling compiled code never imports the xDSL lowering.
NUMPY_ARRAY_LAYOUT = {"data": 16, "dimensions": 32, "strides": 40}

#: Parameter kind -> ctypes type of the native parameter.
PARAM_CTYPES = {
    "array": ctypes.c_void_p,  # the object pointer, id(arr)
    "f64": ctypes.c_double, "f32": ctypes.c_double,
    "i64": ctypes.c_int64, "i32": ctypes.c_int64, "index": ctypes.c_int64,
    "i1": ctypes.c_int8,
}


class EntryError(RuntimeError):
    """A compiled entry function returned a non-zero status (``status`` = failed assert)."""

    def __init__(self, name: str, status: int):
        super().__init__(f"{name}: compiled code reported failure (status {status})")
        self.status = status


@functools.cache
def check_layout() -> None:
    """Verify ``NUMPY_ARRAY_LAYOUT`` against this numpy, on a strided 2-D view."""
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    arr = base[1:, ::-2]
    read = ctypes.c_void_p.from_address
    data = read(id(arr) + NUMPY_ARRAY_LAYOUT["data"]).value
    dims = ctypes.cast(read(id(arr) + NUMPY_ARRAY_LAYOUT["dimensions"]).value,
                       ctypes.POINTER(ctypes.c_int64))
    strides = ctypes.cast(read(id(arr) + NUMPY_ARRAY_LAYOUT["strides"]).value,
                          ctypes.POINTER(ctypes.c_int64))
    found = (data, (dims[0], dims[1]), (strides[0], strides[1]))
    expected = (arr.ctypes.data, arr.shape, arr.strides)
    if found != expected:
        raise RuntimeError(f"numpy's PyArrayObject layout differs from NUMPY_ARRAY_LAYOUT "
                           f"{NUMPY_ARRAY_LAYOUT}: read {found}, expected {expected}")


#: Calls whose array arguments hold fewer elements than this keep the GIL: releasing and
#: re-taking it (ctypes, then the allocator) costs about a microsecond, more than they compute.
GIL_FREE_ELEMENTS = 1 << 14


def returned_arguments(module, func_name: str) -> list[int]:
    """``ember.returns_argument`` of entry ``func_name`` in ``module`` (any stage from loop on;
    set by tensor-to-loop), or ``[]``."""
    for op in module.ops:
        name = getattr(op, "sym_name", None)
        if name is not None and name.data == func_name:
            attr = op.attributes.get("ember.returns_argument")
            return list(attr.get_values()) if attr is not None else []
    return []


def make_entry(engine, func_name: str, param_kinds: Sequence[str],
               result_specs: Sequence[tuple[np.dtype | type | str, int]],
               returns_argument: Sequence[int] = ()) -> Callable[..., list]:
    """A Python callable for entry function ``func_name`` of ``engine``, returning the list
    of result arrays.

    ``param_kinds``: per parameter, ``"array"`` or a scalar kind (``f64 f32 i64 i32 index i1``).
    ``result_specs``: per result, ``(dtype, rank)``.  The caller must already have checked
    each array's dtype, rank and (for identity-layout parameters) C-contiguity, and passes
    numbers for the scalar kinds.

    Results are made by :mod:`ember.lowering.pyalloc`'s native allocator into the call's own
    result list, so concurrent calls from several Python threads share no state. Calls with
    at least ``GIL_FREE_ELEMENTS`` array elements release the GIL while native code runs.
    The callable is generated Python source with one parameter per native parameter: no
    per-call loops over the arguments. ``returns_argument[k] = j`` (``ember.returns_argument``)
    means the code may leave result ``k`` unallocated because it is argument ``j``'s memory:
    the argument itself is the result then.
    """
    from ember.lowering import pyalloc

    check_layout()
    argtypes = [*(PARAM_CTYPES[k] for k in param_kinds), ctypes.c_void_p, ctypes.py_object]
    address = engine.address(func_name)
    names = [f"a{k}" for k in range(len(param_kinds))]
    native_args = [f"id({n})" if kind == "array" else n for n, kind in zip(names, param_kinds)]
    sizes = [f"{n}.size" for n, kind in zip(names, param_kinds) if kind == "array"]
    small = f"{' + '.join(sizes)} < {GIL_FREE_ELEMENTS}" if sizes else "True"
    args = "".join(a + ", " for a in native_args)
    source = (f"def call({', '.join(names)}):\n"
              f"    results = [None] * {len(result_specs)}\n"
              f"    if {small}:\n"
              f"        status = held({args}alloc_held, results)\n"
              f"    else:\n"
              f"        status = free({args}alloc_free, results)\n"
              f"    if status:\n"
              f"        raise EntryError(name, status)\n"
              + "".join(f"    if results[{k}] is None:\n        results[{k}] = {names[j]}\n"
                        for k, j in enumerate(returns_argument) if j >= 0)
              + f"    return results\n")
    scope = {"held": ctypes.PYFUNCTYPE(ctypes.c_int32, *argtypes)(address),
             "free": ctypes.CFUNCTYPE(ctypes.c_int32, *argtypes)(address),
             "alloc_held": pyalloc.address(gil_held=True), "alloc_free": pyalloc.address(),
             "EntryError": EntryError, "name": func_name}
    exec(compile(source, f"<ember entry {func_name}>", "exec"), scope)
    call = scope["call"]
    call.engine = engine  # the code lives as long as the callable
    return call
