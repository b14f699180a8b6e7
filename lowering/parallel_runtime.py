"""The native runtime: the thread pool ``parallel-outline``'s loops call, and the allocator
of temporaries, in LLVM IR.

ember stays pure Python (no C extension, no C compiler), so the runtime is LLVM IR text
(:func:`runtime_ir`). Compiled modules only declare its entry points:

    i64 ember_parallel_chunks(i64 trip, double work)   how many chunks to split a loop into
    i32 ember_parallel_for(ptr body, ptr ctx, i64 n)   run body(ctx, k, n) for k in [0, n)
    ptr ember_temp_alloc(i64 n)                        a temporary (memref.alloc), or null
    void ember_temp_free(ptr p)                        memref.dealloc

The JIT compiles the runtime once per process as a module of its own and resolves every
compiled function's declarations to it (``ember.lowering.jit``), so a process has one pool;
``ember.export`` links a copy into each library with internal linkage (one pool per library).

``ember_parallel_chunks`` is 1 unless ``work`` (an estimate of the loop's cost, in scalar
operations) exceeds the grain; otherwise as many grains as fit, rounded to a multiple of the
thread count, at most ``CHUNKS_PER_THREAD`` per thread, the trip count and ``MAX_CHUNKS``.
The count depends only on the thread count and the problem, and so do the results: a body
``i32 body(ptr ctx, i64 chunk, i64 chunks)`` runs its share of the iteration space, a
reduction keeps one partial per chunk and the caller combines them in chunk order.

The pool. Worker threads are created on the first parallel loop that needs them (more when
the thread count grows), detached, and numbered 0, 1, ...; between loops they spin briefly,
then sleep on a futex. A call of ``ember_parallel_for`` that takes the pool:

1. takes the pool's lock (a compare-and-swap of 0 to the caller's pid); if another call
   holds it (another thread, or a parallel loop nested in a body) it runs the chunks itself,
   in order: the same chunks, so the same results, never a deadlock;
2. publishes the job (body, context, status buffer, the number of workers taking part) and
   a *ticket* ``job << 32 | n << 16 | next chunk``, then bumps the job number the workers
   watch (a futex wake only if one sleeps);
3. claims chunks like the workers: a compare-and-swap of the ticket from ``(job, n, k)`` to
   ``(job, n, k + 1)`` claims chunk ``k``. A worker that wakes late finds the chunks taken, or
   the ticket of another job, and claims nothing, so the caller waits for chunks (a counter of
   finished ones, spin then futex), never for threads: a worker that a busy core did not
   schedule costs nothing. A worker reads the job before its compare-and-swap: a swap that
   succeeds on job J's ticket proves J was still running, so what it read was J's (the next
   job is published only after all of J's chunks finished);
4. releases the lock and returns the first non-zero status in chunk order.

After ``fork()`` the child has no workers: the pool remembers the pid that made them and
rebuilds when a new pid takes it (a lock left held by the parent's pid is taken over).
The thread count and the grain are process-wide: the JIT binds the external weak symbols
``ember_num_threads`` (i32) and ``ember_parallel_grain`` (i64) to two integers owned by
this module (``set_num_threads``, ``set_grain``). In a shared library they are null and the
runtime falls back to ``$EMBER_NUM_THREADS`` or ``sysconf(_SC_NPROCESSORS_ONLN)``, read once,
and ``DEFAULT_GRAIN``.

Temporaries. glibc gives a large freed block back to the kernel (``munmap`` above its mmap
threshold, a trim at the top of the heap), so a function called in a loop page-faults its
temporaries in again at every call: the Jacobi benchmark spent 40% of its time there. The
runtime keeps freed blocks of ``TEMP_CACHE_MIN_BYTES`` (256 KiB) or more for reuse, in a
table of ``TEMP_CACHE_SLOTS`` (16) slots holding at most ``$EMBER_TEMP_CACHE_BYTES`` bytes
(read once; default ``TEMP_CACHE_BYTES``, 256 MiB; 0 turns the cache off), process-wide in
the JIT, one cache per exported library. Smaller blocks are plain ``malloc``/``free``.

* A block is ``malloc(n + 80)``: its start ``p`` is on a multiple of ``TEMP_ALIGN`` (64: a
  cache line, an AVX-512 vector), ``malloc``'s pointer sits at ``p - 16`` and the capacity
  ``n`` at ``p - 8``. A new block of ``HUGE_PAGE_BYTES`` (4 MiB) or more asks for
  transparent huge pages (``madvise``, as NumPy does), so 16 MB fault in 8 pages, not 4096.
* ``ember_temp_alloc(n)`` takes the smallest cached block of ``n`` to ``2n`` bytes, else
  mallocs; above ``TEMP_MAX_BYTES`` (2^62: ``memref-to-llvm`` asks for ``SIZE_MAX`` when a
  byte count may have wrapped) it returns null, and the caller's status is out-of-memory.
* ``ember_temp_free(p)`` caches a large block, first evicting the least recently cached ones
  until it fits in the limit and a slot; a block larger than the limit is freed.
* One spinlock (a compare-and-swap of 0 to the pid, ``sched_yield`` every 64 spins) guards
  the table for a few dozen instructions: ``malloc``, ``free`` and ``madvise`` run outside it.
  Bodies on the pool's workers allocate too (matmul's packing buffers). After ``fork()`` the
  child owns the cached blocks; a lock the parent's pid held at the fork is taken over and the
  table forgotten (it may be half-written; those blocks stay untouched).
* :func:`release_memory` frees the cached blocks, :func:`cached_memory` counts their bytes.
"""

from __future__ import annotations

import ctypes
import operator
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xdsl.context import Context
from xdsl.passes import ModulePass

from ember.lowering.parallel_runtime_ir import (ARCHITECTURES, CHUNKS_PER_THREAD, DEFAULT_GRAIN,
                                                MAX_CHUNKS, SPIN, TEMP_ALLOC, TEMP_FREE,
                                                runtime_ir)

if TYPE_CHECKING:  # llvmlite and the dialects are imported lazily
    import llvmlite.binding as llb
    from xdsl.dialects.builtin import ModuleOp

__all__ = ["ARCHITECTURES", "CHUNKS_PER_THREAD", "DEFAULT_GRAIN", "ENTRY_POINTS", "MAX_CHUNKS",
           "PARALLEL_ENTRY_POINTS", "SPIN", "TEMP_ALLOC", "TEMP_FREE", "ParallelRuntimePass",
           "bind_symbols", "cached_memory", "declare_runtime", "get_grain", "get_num_threads",
           "link_runtime", "release_memory", "runtime_ir", "set_grain", "set_num_threads"]

#: The runtime functions that outlined loops call, with their types (inputs, result).
PARALLEL_ENTRY_POINTS = {"ember_parallel_chunks": (("i64", "f64"), "i64"),
                         "ember_parallel_for": (("ptr", "ptr", "i64"), "i32")}
#: Every function compiled code may call in the runtime: the above, and what ``memref.alloc``
#: and ``memref.dealloc`` of temporaries become.
ENTRY_POINTS = {**PARALLEL_ENTRY_POINTS, TEMP_ALLOC: (("i64",), "ptr"),
                TEMP_FREE: (("ptr",), "void")}


def declare_runtime(module: ModuleOp, names=PARALLEL_ENTRY_POINTS) -> None:
    """Declare the entry points ``names`` (default: the parallel loops') in ``module`` (the
    LLVM dialect, for the JIT or ``ember.export`` to resolve)."""
    from xdsl.dialects import llvm
    from xdsl.dialects.builtin import f64, i32, i64

    from ember.lowering.llvm_common import PTR, declare

    types = {"i64": i64, "f64": f64, "i32": i32, "ptr": PTR, "void": llvm.LLVMVoidType()}
    for name in names:
        inputs, output = ENTRY_POINTS[name]
        declare(module, name, [types[t] for t in inputs], types[output])


@dataclass(frozen=True)
class ParallelRuntimePass(ModulePass):
    """Check the module's calls into the threads runtime, which is linked outside it.

    The runtime is not in the module: the JIT resolves its entry points to the process-wide
    runtime, ``ember.export`` links a copy into the library. A module must therefore only
    declare them, with the types of ``ENTRY_POINTS`` (a definition would shadow the shared
    pool or cache, another type would pass wrong arguments); the pass raises otherwise."""

    name = "parallel-runtime"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from xdsl.dialects import llvm

        from ember.lowering.llvm_common import PTR

        types = {"i64": "i64", "f64": "f64", "i32": "i32", "ptr": str(PTR),
                 "void": str(llvm.LLVMVoidType())}
        for fn in op.ops:
            if not isinstance(fn, llvm.FuncOp) or fn.sym_name.data not in ENTRY_POINTS:
                continue
            inputs, output = ENTRY_POINTS[fn.sym_name.data]
            want = f"({', '.join(types[t] for t in inputs)}) -> {types[output]}"
            ft = fn.function_type
            got = f"({', '.join(map(str, ft.inputs))}) -> {ft.output}"
            if fn.body.blocks or got != want:
                raise ValueError(f"@{fn.sym_name.data} must be a declaration {want} of the "
                                 f"threads runtime, found {'a definition' if fn.body.blocks else got}")


def link_runtime(module: llb.ModuleRef) -> list[str]:
    """Define the runtime in ``module`` (for ``module.triple``), for a library of its own:
    returns its external functions, to make internal once every module is linked in."""
    import llvmlite.binding as llb

    runtime = llb.parse_assembly(runtime_ir(module.triple))
    runtime.triple, runtime.data_layout = module.triple, module.data_layout
    defined = [f.name for f in runtime.functions
               if not f.is_declaration and f.linkage == llb.Linkage.external]
    module.link_in(runtime)
    return defined


# -- the process-wide settings the JIT binds ---------------------------------------------

def _default_threads() -> int:
    text = os.environ.get("EMBER_NUM_THREADS", "").strip()
    if text:
        try:
            n = int(text)
        except ValueError:
            n = 0
        if n >= 1:
            return n
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


_NUM_THREADS = ctypes.c_int32(_default_threads())
_GRAIN = ctypes.c_int64(DEFAULT_GRAIN)


def bind_symbols() -> None:
    """Point the runtime's external weak symbols at this process's settings (for MCJIT)."""
    import llvmlite.binding as llb

    llb.add_symbol("ember_num_threads", ctypes.addressof(_NUM_THREADS))
    llb.add_symbol("ember_parallel_grain", ctypes.addressof(_GRAIN))


def set_num_threads(n: int) -> None:
    """Run parallel loops on at most ``n`` threads, in every compiled function from now on."""
    n = operator.index(n)
    if not 1 <= n < 2**31:
        raise ValueError(f"the number of threads must be at least 1, got {n}")
    _NUM_THREADS.value = n


def get_num_threads() -> int:
    """The most threads a parallel loop runs on."""
    return _NUM_THREADS.value


def set_grain(grain: int) -> None:
    """Minimum work per chunk; 0 splits every loop into as many chunks as threads allow."""
    _GRAIN.value = max(int(grain), 0)


def get_grain() -> int:
    return _GRAIN.value


# -- the cache of temporaries --------------------------------------------------------------

def release_memory() -> int:
    """Free the temporaries' blocks the runtime keeps for reuse (see "Temporaries" above);
    returns how many bytes that released. Compiled functions keep working: their next large
    temporaries come from ``malloc`` again."""
    from ember.lowering.jit import runtime_function

    release = runtime_function("ember_temp_release", ctypes.c_int64)
    return 0 if release is None else release()


def cached_memory() -> int:
    """How many bytes of freed temporaries the runtime keeps for reuse now."""
    from ember.lowering.jit import runtime_function

    cached = runtime_function("ember_temp_cached", ctypes.c_int64)
    return 0 if cached is None else cached()
