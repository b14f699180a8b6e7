"""The result allocator compiled code calls when Python calls it: NumPy arrays, made natively.

An entry function asks for each result with ``alloc(ctx, k, rank, sizes, dtype)`` (see
``lowering/abi.py``). Called from Python, ``ctx`` is the call's result list (``[None] * n``)
and ``alloc`` is :data:`address` below: a few lines of LLVM IR, compiled once per process,
that take the GIL (``PyGILState_Ensure``), make a C-contiguous array with the NumPy C API's
``PyArray_New`` (so NumPy owns the memory), store it in ``ctx[k]`` (``PyList_SetItem`` steals
the reference) and return its data pointer. No ctypes callback runs. Small calls keep the GIL
(``ember_py_alloc_held``: taking the GIL back costs more than such a call computes).

The C API's function pointers are not symbols a JIT can resolve: they are read from NumPy's
``_ARRAY_API`` capsule and from ``ctypes.pythonapi`` and stored into the module's globals.
"""

from __future__ import annotations

import ctypes

import numpy as np

#: NumPy C-API table slots (numpy/_core/include/numpy/__multiarray_api.h); checked by a call.
_ARRAY_TYPE_SLOT = 2
_PYARRAY_NEW_SLOT = 93

_IR = r"""
@ember_PyArray_New = global ptr null
@ember_PyArray_Type = global ptr null
@ember_PyList_SetItem = global ptr null
@ember_PyGILState_Ensure = global ptr null
@ember_PyGILState_Release = global ptr null
@ember_PyErr_Clear = global ptr null

; The GIL is held by the caller (a call made through ctypes.PYFUNCTYPE).
define ptr @ember_py_alloc_held(ptr %list, i64 %k, i64 %rank, ptr %sizes, i32 %dtype) {
entry:
  %new = load ptr, ptr @ember_PyArray_New
  %type = load ptr, ptr @ember_PyArray_Type
  %nd = trunc i64 %rank to i32
  %arr = call ptr %new(ptr %type, i32 %nd, ptr %sizes, i32 %dtype, ptr null, ptr null, i32 0, i32 0, ptr null)
  %failed = icmp eq ptr %arr, null
  br i1 %failed, label %done, label %store
store:
  %set = load ptr, ptr @ember_PyList_SetItem
  %ignored = call i32 %set(ptr %list, i64 %k, ptr %arr)
  %field = getelementptr i8, ptr %arr, i64 16
  %data.ok = load ptr, ptr %field
  br label %done
done:
  %data = phi ptr [ null, %entry ], [ %data.ok, %store ]
  ret ptr %data
}

; The caller released the GIL (ctypes.CFUNCTYPE): take it for the allocation only.
; A failed allocation leaves no Python error behind: nothing would see it before the call
; returns, and the caller raises MemoryError from the status.
define ptr @ember_py_alloc(ptr %list, i64 %k, i64 %rank, ptr %sizes, i32 %dtype) {
entry:
  %ensure = load ptr, ptr @ember_PyGILState_Ensure
  %gil = call i32 %ensure()
  %data = call ptr @ember_py_alloc_held(ptr %list, i64 %k, i64 %rank, ptr %sizes, i32 %dtype)
  %failed = icmp eq ptr %data, null
  br i1 %failed, label %clear, label %done
clear:
  %clear.fn = load ptr, ptr @ember_PyErr_Clear
  call void %clear.fn()
  br label %done
done:
  %release = load ptr, ptr @ember_PyGILState_Release
  call void %release(i32 %gil)
  ret ptr %data
}
"""


def _capsule_table() -> ctypes.POINTER(ctypes.c_void_p):
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return ctypes.cast(get(np._core._multiarray_umath._ARRAY_API, None),
                       ctypes.POINTER(ctypes.c_void_p))


def _fn_address(name: str) -> int:
    return ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value


_engines: list = []


def _engine():
    """The allocator's engine: compiled (or loaded from the disk cache) once per process,
    its function pointers filled in. A first compile makes it on the runtime's thread
    (``jit.start_runtime_link``); the runtime's lock (fresh in a forked child) keeps a second
    engine from replacing the one whose addresses are in use."""
    from ember.lowering import jit

    with jit.runtime_lock():
        if not _engines:
            _engines.append(_make_engine())
        return _engines[0]


def _make_engine():
    from ember.lowering.jit import _init_llvm, cached_engine

    table = _capsule_table()
    if table[_ARRAY_TYPE_SLOT] != id(np.ndarray):
        raise RuntimeError("NumPy's C-API table does not have PyArray_Type at slot "
                           f"{_ARRAY_TYPE_SLOT}: this NumPy is not supported")
    _init_llvm()
    engine = cached_engine("pyalloc", _IR, "ember_py_alloc")
    values = {"ember_PyArray_New": table[_PYARRAY_NEW_SLOT],
              "ember_PyArray_Type": table[_ARRAY_TYPE_SLOT],
              "ember_PyList_SetItem": _fn_address("PyList_SetItem"),
              "ember_PyGILState_Ensure": _fn_address("PyGILState_Ensure"),
              "ember_PyGILState_Release": _fn_address("PyGILState_Release"),
              "ember_PyErr_Clear": _fn_address("PyErr_Clear")}
    for name, value in values.items():
        ctypes.c_void_p.from_address(engine.global_address(name)).value = value
    _check(engine.address("ember_py_alloc"))
    return engine


def _check(alloc: int) -> None:
    """Make one array through the allocator and compare it with what NumPy would make."""
    proto = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_int64, ctypes.c_int64,
                             ctypes.POINTER(ctypes.c_int64), ctypes.c_int32)
    out = [None, None]
    sizes = (ctypes.c_int64 * 2)(3, 5)
    data = proto(alloc)(out, 1, 2, sizes, np.dtype(np.float32).num)
    arr = out[1]
    if (not isinstance(arr, np.ndarray) or arr.shape != (3, 5) or arr.dtype != np.float32
            or not arr.flags.c_contiguous or arr.ctypes.data != data or out[0] is not None):
        raise RuntimeError(f"ember's native result allocator made {arr!r}; expected a "
                           "C-contiguous float32 (3, 5) array")


def address(gil_held: bool = False) -> int:
    """The native address of the allocator for calls that release the GIL
    (``ember_py_alloc``) or keep it (``gil_held=True``: ``ember_py_alloc_held``)."""
    return _engine().address("ember_py_alloc_held" if gil_held else "ember_py_alloc")
