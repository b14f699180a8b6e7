"""Calling compiled entry functions from Python on numpy arrays.

The native signature of an ``ember.entry`` function (see ``func_to_llvm``)::

    int32_t f(PyArrayObject *a0, double s1, int64_t n2, int8_t flag3, ..., void *alloc_result)

Arrays are passed as the object pointer ``id(arr)``; the code reads the data pointer,
``dimensions`` and ``strides`` (bytes) fields itself, at the offsets in
``NUMPY_ARRAY_LAYOUT`` (checked once against numpy by ``check_layout``).  Each result is a
fresh C-contiguous array the code asks for through ``alloc_result(k, sizes) -> data``.
A non-zero status ``k`` means the k-th ``cf.assert`` of the function failed.

    call = make_entry(engine, "add1", ["array"], [(np.float32, 2)])
    (y,) = call(x)
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable, Sequence

import numpy as np

#: Byte offsets of the fields of a CPython ``PyArrayObject`` that compiled code reads
#: (``func_to_llvm``); checked against the running numpy by :func:`check_layout`. Kept here,
#: not in ``func_to_llvm``, so calling compiled code never imports the xDSL lowering.
NUMPY_ARRAY_LAYOUT = {"data": 16, "dimensions": 32, "strides": 40}

#: Parameter kind -> ctypes type of the native parameter.
PARAM_CTYPES = {
    "array": ctypes.c_void_p,
    "f64": ctypes.c_double, "f32": ctypes.c_double,
    "i64": ctypes.c_int64, "i32": ctypes.c_int64, "index": ctypes.c_int64,
    "i1": ctypes.c_int8,
}
_ALLOC_RESULT = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_int64))
_DATA_OFFSET = NUMPY_ARRAY_LAYOUT["data"]


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


def _scalar_converter(kind: str) -> Callable | None:
    return {"f64": float, "f32": float, "i64": int, "i32": int, "index": int,
            "i1": lambda b: 1 if b else 0}.get(kind)


def make_entry(engine, func_name: str, param_kinds: Sequence[str],
               result_specs: Sequence[tuple[np.dtype | type | str, int]]) -> Callable[..., tuple]:
    """A Python callable for entry function ``func_name`` of ``engine``.

    ``param_kinds``: per parameter, ``"array"`` or a scalar kind (``f64 f32 i64 i32 index i1``).
    ``result_specs``: per result, ``(dtype, rank)``.  The caller must already have checked
    each array's dtype, rank and (for identity-layout parameters) C-contiguity.
    """
    check_layout()
    proto = ctypes.CFUNCTYPE(ctypes.c_int32, *(PARAM_CTYPES[k] for k in param_kinds),
                             ctypes.c_void_p)
    native = proto(engine.address(func_name))
    specs = [(np.dtype(dt), rank) for dt, rank in result_specs]
    n_results = len(specs)
    local = threading.local()
    read_ptr = ctypes.c_void_p.from_address

    def alloc_result(k: int, sizes) -> int:
        dtype, rank = specs[k]
        arr = np.empty(tuple(sizes[i] for i in range(rank)), dtype)
        local.results[k] = arr
        return read_ptr(id(arr) + _DATA_OFFSET).value

    callback = _ALLOC_RESULT(alloc_result)
    callback_ptr = ctypes.cast(callback, ctypes.c_void_p).value
    converters = [_scalar_converter(k) for k in param_kinds]
    needs_conversion = any(c is not None for c in converters)

    def call(*args):
        if needs_conversion:
            native_args = [id(a) if c is None else c(a) for a, c in zip(args, converters)]
        else:
            native_args = [id(a) for a in args]
        results = local.results = [None] * n_results
        status = native(*native_args, callback_ptr)
        if status:
            raise EntryError(func_name, status)
        return tuple(results)

    call.engine = engine  # the code lives as long as the callable
    call.callback = callback
    return call
