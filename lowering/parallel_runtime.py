"""The threads runtime of ``parallel-outline``, written in the LLVM dialect.

ember stays pure Python (no C extension, no C compiler), so the runtime that runs outlined
loop bodies on threads is LLVM IR too: ``parallel-outline`` copies the functions below into
every module that needs them (``internal`` linkage: modules linked into one shared library
do not clash).  A body is ``i32 body(ptr ctx, i64 chunk, i64 chunks)``: it runs its share
of the iteration space and returns 0 or the number of the assert that failed.

``ember_parallel_for(body, ctx, chunks)`` runs chunks ``1 .. chunks-1`` on new pthreads and
chunk 0 on the calling thread, joins them, and returns the first non-zero status in chunk
order (a chunk whose thread could not be created runs on the calling thread).
``ember_parallel_chunks(trip, work)`` picks the number of chunks: 1 unless ``work`` (an
estimate of the loop's cost, in scalar operations) exceeds the grain, and never more than
the thread count, the trip count or ``MAX_CHUNKS``.

The thread count and the grain are process-wide: the JIT binds the external weak symbols
``ember_num_threads`` (i32) and ``ember_parallel_grain`` (i64) to two integers owned by
this module (``set_num_threads``, ``set_grain``), so a change applies to every compiled
function at once.  Outside the JIT (a shared library) the symbols are null and the code
falls back to ``$EMBER_NUM_THREADS`` or ``sysconf(_SC_NPROCESSORS_ONLN)``, read once, and
``DEFAULT_GRAIN``.
"""

from __future__ import annotations

import ctypes
import functools
import operator
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # xDSL is imported lazily: ``import ember`` reads the thread count only
    from xdsl.dialects.builtin import ModuleOp
    from xdsl.ir import Operation

#: At most this many chunks per loop (the size of a reduction's partials buffer).
MAX_CHUNKS = 256
#: Minimum estimated work (scalar operations) per chunk; below it a loop stays serial.
DEFAULT_GRAIN = 1 << 17
_SC_NPROCESSORS_ONLN = 84  # Linux

RUNTIME_MLIR = f"""
llvm.mlir.global extern_weak @ember_num_threads() : i32
llvm.mlir.global extern_weak @ember_parallel_grain() : i64
llvm.mlir.global internal @ember_default_threads(0 : i32) : i32
llvm.mlir.global internal constant @ember_num_threads_env("EMBER_NUM_THREADS\\00") : !llvm.array<18 x i8>
llvm.func @getenv(!llvm.ptr) -> !llvm.ptr
llvm.func @atoi(!llvm.ptr) -> i32
llvm.func @sysconf(i32) -> i64
llvm.func @pthread_create(!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> i32
llvm.func @pthread_join(i64, !llvm.ptr) -> i32

llvm.func internal @ember_thread_count() -> i64 {{
  %shared = llvm.mlir.addressof @ember_num_threads : !llvm.ptr
  %zero = llvm.mlir.constant(0 : i32) : i32
  %address = llvm.ptrtoint %shared : !llvm.ptr to i64
  %nowhere = llvm.mlir.constant(0 : i64) : i64
  %bound = llvm.icmp "ne" %address, %nowhere : i64
  llvm.cond_br %bound, ^shared, ^cached
^shared:
  %n = llvm.load %shared : !llvm.ptr -> i32
  %set = llvm.icmp "sgt" %n, %zero : i32
  llvm.cond_br %set, ^done(%n : i32), ^cached
^cached:
  %slot = llvm.mlir.addressof @ember_default_threads : !llvm.ptr
  %d = llvm.load %slot : !llvm.ptr -> i32
  %known = llvm.icmp "sgt" %d, %zero : i32
  llvm.cond_br %known, ^done(%d : i32), ^env
^env:
  %name = llvm.mlir.addressof @ember_num_threads_env : !llvm.ptr
  %text = llvm.call @getenv(%name) : (!llvm.ptr) -> !llvm.ptr
  %text_address = llvm.ptrtoint %text : !llvm.ptr to i64
  %unset = llvm.icmp "eq" %text_address, %nowhere : i64
  llvm.cond_br %unset, ^cpus, ^parse
^parse:
  %v = llvm.call @atoi(%text) : (!llvm.ptr) -> i32
  %valid = llvm.icmp "sgt" %v, %zero : i32
  llvm.cond_br %valid, ^store(%v : i32), ^cpus
^cpus:
  %which = llvm.mlir.constant({_SC_NPROCESSORS_ONLN} : i32) : i32
  %c = llvm.call @sysconf(%which) : (i32) -> i64
  %c32 = llvm.trunc %c : i64 to i32
  %one = llvm.mlir.constant(1 : i32) : i32
  %some = llvm.icmp "sgt" %c32, %zero : i32
  %cpus = llvm.select %some, %c32, %one : i1, i32
  llvm.br ^store(%cpus : i32)
^store(%x: i32):
  llvm.store %x, %slot : i32, !llvm.ptr
  llvm.br ^done(%x : i32)
^done(%r: i32):
  %r64 = llvm.sext %r : i32 to i64
  llvm.return %r64 : i64
}}

llvm.func internal @ember_parallel_chunks(%trip: i64, %work: f64) -> i64 {{
  %one = llvm.mlir.constant(1 : i64) : i64
  %max = llvm.mlir.constant({MAX_CHUNKS} : i64) : i64
  %threads = llvm.call @ember_thread_count() : () -> i64
  %t1 = llvm.icmp "slt" %threads, %trip : i64
  %t2 = llvm.select %t1, %threads, %trip : i1, i64
  %t3 = llvm.icmp "slt" %t2, %max : i64
  %limit = llvm.select %t3, %t2, %max : i1, i64
  %serial = llvm.icmp "sle" %limit, %one : i64
  llvm.cond_br %serial, ^done(%one : i64), ^grain
^grain:
  %shared = llvm.mlir.addressof @ember_parallel_grain : !llvm.ptr
  %default = llvm.mlir.constant({DEFAULT_GRAIN} : i64) : i64
  %address = llvm.ptrtoint %shared : !llvm.ptr to i64
  %zero = llvm.mlir.constant(0 : i64) : i64
  %bound = llvm.icmp "ne" %address, %zero : i64
  llvm.cond_br %bound, ^load, ^divide(%default : i64)
^load:
  %g = llvm.load %shared : !llvm.ptr -> i64
  %positive = llvm.icmp "sgt" %g, %zero : i64
  llvm.cond_br %positive, ^divide(%g : i64), ^done(%limit : i64)
^divide(%grain: i64):
  %gf = llvm.sitofp %grain : i64 to f64
  %q = llvm.fdiv %work, %gf : f64
  %lf = llvm.sitofp %limit : i64 to f64
  %small = llvm.fcmp "olt" %q, %lf : f64
  llvm.cond_br %small, ^truncate, ^done(%limit : i64)
^truncate:
  %c = llvmx.fptosi %q : f64 to i64
  %some = llvm.icmp "sgt" %c, %one : i64
  %c1 = llvm.select %some, %c, %one : i1, i64
  llvm.br ^done(%c1 : i64)
^done(%r: i64):
  llvm.return %r : i64
}}

llvm.func internal @ember_parallel_worker(%task: !llvm.ptr) -> !llvm.ptr {{
  %fn_word = llvm.load %task : !llvm.ptr -> i64
  %fn = llvm.inttoptr %fn_word : i64 to !llvm.ptr
  %p1 = llvm.getelementptr inbounds %task[1] : (!llvm.ptr) -> !llvm.ptr, i64
  %ctx_word = llvm.load %p1 : !llvm.ptr -> i64
  %ctx = llvm.inttoptr %ctx_word : i64 to !llvm.ptr
  %p2 = llvm.getelementptr inbounds %task[2] : (!llvm.ptr) -> !llvm.ptr, i64
  %k = llvm.load %p2 : !llvm.ptr -> i64
  %p3 = llvm.getelementptr inbounds %task[3] : (!llvm.ptr) -> !llvm.ptr, i64
  %n = llvm.load %p3 : !llvm.ptr -> i64
  %status = llvmx.call_indirect %fn(%ctx, %k, %n) : (!llvm.ptr, i64, i64) -> i32
  %p5 = llvm.getelementptr inbounds %task[5] : (!llvm.ptr) -> !llvm.ptr, i64
  %status_word = llvm.sext %status : i32 to i64
  llvm.store %status_word, %p5 : i64, !llvm.ptr
  %null = llvm.mlir.zero : !llvm.ptr
  llvm.return %null : !llvm.ptr
}}

llvm.func internal @ember_parallel_for(%fn: !llvm.ptr, %ctx: !llvm.ptr, %n: i64) -> i32 {{
  %zero = llvm.mlir.constant(0 : i64) : i64
  %one = llvm.mlir.constant(1 : i64) : i64
  %serial = llvm.icmp "sle" %n, %one : i64
  llvm.cond_br %serial, ^alone, ^spawn
^alone:
  %s = llvmx.call_indirect %fn(%ctx, %zero, %one) : (!llvm.ptr, i64, i64) -> i32
  llvm.return %s : i32
^spawn:
  %words = llvm.mlir.constant(8 : i64) : i64
  %size = llvm.mul %n, %words : i64
  %tasks = llvm.alloca %size x i64 {{alignment = 64 : i64}} : (i64) -> !llvm.ptr
  %null = llvm.mlir.zero : !llvm.ptr
  %worker = llvm.mlir.addressof @ember_parallel_worker : !llvm.ptr
  %fn_word = llvm.ptrtoint %fn : !llvm.ptr to i64
  %ctx_word = llvm.ptrtoint %ctx : !llvm.ptr to i64
  llvm.br ^create(%one : i64)
^create(%k: i64):
  %created = llvm.icmp "sge" %k, %n : i64
  llvm.cond_br %created, ^first, ^one_more
^one_more:
  %at = llvm.mul %k, %words : i64
  %t = llvm.getelementptr inbounds %tasks[%at] : (!llvm.ptr, i64) -> !llvm.ptr, i64
  llvm.store %fn_word, %t : i64, !llvm.ptr
  %t1 = llvm.getelementptr inbounds %t[1] : (!llvm.ptr) -> !llvm.ptr, i64
  llvm.store %ctx_word, %t1 : i64, !llvm.ptr
  %t2 = llvm.getelementptr inbounds %t[2] : (!llvm.ptr) -> !llvm.ptr, i64
  llvm.store %k, %t2 : i64, !llvm.ptr
  %t3 = llvm.getelementptr inbounds %t[3] : (!llvm.ptr) -> !llvm.ptr, i64
  llvm.store %n, %t3 : i64, !llvm.ptr
  %t4 = llvm.getelementptr inbounds %t[4] : (!llvm.ptr) -> !llvm.ptr, i64
  %t6 = llvm.getelementptr inbounds %t[6] : (!llvm.ptr) -> !llvm.ptr, i64
  %rc = llvm.call @pthread_create(%t4, %null, %worker, %t) : (!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> i32
  %rc64 = llvm.zext %rc : i32 to i64
  llvm.store %rc64, %t6 : i64, !llvm.ptr
  %c0 = llvm.mlir.constant(0 : i32) : i32
  %failed = llvm.icmp "ne" %rc, %c0 : i32
  llvm.cond_br %failed, ^here, ^next
^here:
  %sh = llvmx.call_indirect %fn(%ctx, %k, %n) : (!llvm.ptr, i64, i64) -> i32
  %t5 = llvm.getelementptr inbounds %t[5] : (!llvm.ptr) -> !llvm.ptr, i64
  %sh_word = llvm.sext %sh : i32 to i64
  llvm.store %sh_word, %t5 : i64, !llvm.ptr
  llvm.br ^next
^next:
  %k1 = llvm.add %k, %one : i64
  llvm.br ^create(%k1 : i64)
^first:
  %s0 = llvmx.call_indirect %fn(%ctx, %zero, %n) : (!llvm.ptr, i64, i64) -> i32
  llvm.br ^join(%one, %s0 : i64, i32)
^join(%j: i64, %acc: i32):
  %joined = llvm.icmp "sge" %j, %n : i64
  llvm.cond_br %joined, ^done, ^join_one
^join_one:
  %jat = llvm.mul %j, %words : i64
  %u = llvm.getelementptr inbounds %tasks[%jat] : (!llvm.ptr, i64) -> !llvm.ptr, i64
  %u6 = llvm.getelementptr inbounds %u[6] : (!llvm.ptr) -> !llvm.ptr, i64
  %rcj = llvm.load %u6 : !llvm.ptr -> i64
  %running = llvm.icmp "eq" %rcj, %zero : i64
  llvm.cond_br %running, ^wait, ^status
^wait:
  %u4 = llvm.getelementptr inbounds %u[4] : (!llvm.ptr) -> !llvm.ptr, i64
  %tid = llvm.load %u4 : !llvm.ptr -> i64
  %jr = llvm.call @pthread_join(%tid, %null) : (i64, !llvm.ptr) -> i32
  llvm.br ^status
^status:
  %u5 = llvm.getelementptr inbounds %u[5] : (!llvm.ptr) -> !llvm.ptr, i64
  %sj_word = llvm.load %u5 : !llvm.ptr -> i64
  %sj = llvm.trunc %sj_word : i64 to i32
  %c00 = llvm.mlir.constant(0 : i32) : i32
  %ok = llvm.icmp "eq" %acc, %c00 : i32
  %acc1 = llvm.select %ok, %sj, %acc : i1, i32
  %j1 = llvm.add %j, %one : i64
  llvm.br ^join(%j1, %acc1 : i64, i32)
^done:
  llvm.return %acc : i32
}}
"""


@functools.cache
def _runtime_ops() -> tuple[Operation, ...]:
    from xdsl.parser import Parser

    from ember.context import make_context

    module = Parser(make_context(), RUNTIME_MLIR, "parallel_runtime").parse_module()
    return tuple(module.ops)


def add_runtime(module: ModuleOp) -> None:
    """Copy the runtime's globals, declarations and functions into ``module`` (each once)."""
    from xdsl.dialects import llvm

    block = module.regions[0].block
    present = {op.sym_name.data for op in block.ops if isinstance(op, (llvm.FuncOp, llvm.GlobalOp))}
    for op in _runtime_ops():
        if op.sym_name.data not in present:
            block.add_op(op.clone())


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
