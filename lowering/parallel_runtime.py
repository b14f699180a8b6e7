"""The threads runtime of ``parallel-outline``, written in the LLVM dialect.

ember stays pure Python (no C extension, no C compiler), so the runtime that runs outlined
loop bodies on threads is LLVM IR too: ``parallel-outline`` copies the functions below into
every module that needs them (``internal`` linkage: modules linked into one shared library
do not clash).  A body is ``i32 body(ptr ctx, i64 chunk, i64 chunks)``: it runs its share
of the iteration space and returns 0 or the number of the assert that failed.

``ember_parallel_chunks(trip, work)`` picks the number of chunks: 1 unless ``work`` (an
estimate of the loop's cost, in scalar operations) exceeds the grain, and otherwise as many
grains as fit, rounded to a multiple of the thread count, at most ``CHUNKS_PER_THREAD`` per
thread, the trip count and ``MAX_CHUNKS``.  The count depends only on the thread count and
the problem, and so do the results (a reduction combines one partial per chunk, in order).

``ember_parallel_for(body, ctx, chunks)`` starts ``min(threads, chunks) - 1`` pthreads;
they and the calling thread claim chunks one at a time under a ``pthread_mutex`` until none
is left (a thread that starts late, or runs on a busy core, takes fewer), then the caller
joins them and returns the first non-zero status in chunk order.  A thread that cannot be
created is simply missing: the others run its chunks.

The thread count and the grain are process-wide: the JIT binds the external weak symbols
``ember_num_threads`` (i32) and ``ember_parallel_grain`` (i64) to two integers owned by
this module (``set_num_threads``, ``set_grain``), so a change applies to every compiled
function at once.  Outside the JIT (a shared library) the symbols are null and the code
falls back to ``$EMBER_NUM_THREADS`` or ``sysconf(_SC_NPROCESSORS_ONLN)``, read once, and
``DEFAULT_GRAIN``.  Threads are created per loop (about 10 us each); a persistent pool that
sleeps on a futex is the next step.
"""

from __future__ import annotations

import ctypes
import functools
import operator
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xdsl.context import Context
from xdsl.passes import ModulePass

if TYPE_CHECKING:  # xDSL is imported lazily: ``import ember`` reads the thread count only
    from xdsl.dialects.builtin import ModuleOp
    from xdsl.ir import Operation

#: At most this many chunks per loop (the size of a reduction's partials buffer).
MAX_CHUNKS = 256
#: Minimum estimated work (scalar operations) per chunk; below it a loop stays serial. 2^24
#: scalar operations are about 2^20 vector ones, some hundred microseconds: creating and
#: joining a thread costs tens of microseconds on an idle core and milliseconds when the other
#: cores are busy (the tanh chain on 256x512 f32, 70 us on one thread, took 0.15-4 ms on two).
DEFAULT_GRAIN = 1 << 24
#: Chunks per thread when the work allows: threads claim chunks one by one, so a thread
#: that starts late or runs on a busy core takes fewer of them.
CHUNKS_PER_THREAD = 4
_SC_NPROCESSORS_ONLN = 84  # Linux

RUNTIME_MLIR = f"""
llvm.mlir.global extern_weak @ember_num_threads() : i32
llvm.mlir.global extern_weak @ember_parallel_grain() : i64
llvm.mlir.global internal @ember_default_threads(0 : i32) : i32
llvm.mlir.global internal constant @ember_num_threads_env("EMBER_NUM_THREADS\\00")
    : !llvm.array<18 x i8>
llvm.func @getenv(!llvm.ptr) -> !llvm.ptr
llvm.func @atoi(!llvm.ptr) -> i32
llvm.func @sysconf(i32) -> i64
llvm.func @pthread_create(!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> i32
llvm.func @pthread_join(i64, !llvm.ptr) -> i32
llvm.func @pthread_mutex_lock(!llvm.ptr) -> i32
llvm.func @pthread_mutex_unlock(!llvm.ptr) -> i32

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
  %threads = llvm.call @ember_thread_count() : () -> i64
  %alone = llvm.icmp "sle" %threads, %one : i64
  %short = llvm.icmp "sle" %trip, %one : i64
  %serial = llvm.or %alone, %short : i1
  llvm.cond_br %serial, ^done(%one : i64), ^grain
^grain:
  %shared = llvm.mlir.addressof @ember_parallel_grain : !llvm.ptr
  %default = llvm.mlir.constant({DEFAULT_GRAIN} : i64) : i64
  %address = llvm.ptrtoint %shared : !llvm.ptr to i64
  %zero = llvm.mlir.constant(0 : i64) : i64
  %bound = llvm.icmp "ne" %address, %zero : i64
  %most = llvm.mlir.constant({float(MAX_CHUNKS)} : f64) : f64
  llvm.cond_br %bound, ^load, ^divide(%default : i64)
^load:
  %g = llvm.load %shared : !llvm.ptr -> i64
  %positive = llvm.icmp "sgt" %g, %zero : i64
  llvm.cond_br %positive, ^divide(%g : i64), ^clamp(%most : f64)
^divide(%grain: i64):
  %gf = llvm.sitofp %grain : i64 to f64
  %q = llvm.fdiv %work, %gf : f64
  llvm.br ^clamp(%q : f64)
^clamp(%wanted: f64):
  %tf = llvm.sitofp %trip : i64 to f64
  %c1 = llvm.fcmp "olt" %wanted, %tf : f64
  %w1 = llvm.select %c1, %wanted, %tf : i1, f64
  %c2 = llvm.fcmp "olt" %w1, %most : f64
  %w2 = llvm.select %c2, %w1, %most : i1, f64
  %c = llvmx.fptosi %w2 : f64 to i64
  %some = llvm.icmp "sgt" %c, %one : i64
  %chunks = llvm.select %some, %c, %one : i1, i64
  %per = llvm.mlir.constant({CHUNKS_PER_THREAD} : i64) : i64
  %full = llvm.mul %threads, %per : i64
  %enough = llvm.icmp "sge" %chunks, %full : i64
  llvm.cond_br %enough, ^done(%full : i64), ^round
^round:
  %fewer = llvm.icmp "slt" %chunks, %threads : i64
  %rounds = llvm.sdiv %chunks, %threads : i64
  %even = llvm.mul %rounds, %threads : i64
  %r = llvm.select %fewer, %chunks, %even : i1, i64
  llvm.br ^done(%r : i64)
^done(%result: i64):
  llvm.return %result : i64
}}

llvm.func internal @ember_parallel_run(%shared: !llvm.ptr) {{
  %fn_word = llvm.load %shared : !llvm.ptr -> i64
  %fn = llvm.inttoptr %fn_word : i64 to !llvm.ptr
  %p1 = llvm.getelementptr inbounds %shared[1] : (!llvm.ptr) -> !llvm.ptr, i64
  %ctx_word = llvm.load %p1 : !llvm.ptr -> i64
  %ctx = llvm.inttoptr %ctx_word : i64 to !llvm.ptr
  %p2 = llvm.getelementptr inbounds %shared[2] : (!llvm.ptr) -> !llvm.ptr, i64
  %n = llvm.load %p2 : !llvm.ptr -> i64
  %next = llvm.getelementptr inbounds %shared[3] : (!llvm.ptr) -> !llvm.ptr, i64
  %p4 = llvm.getelementptr inbounds %shared[4] : (!llvm.ptr) -> !llvm.ptr, i64
  %statuses_word = llvm.load %p4 : !llvm.ptr -> i64
  %statuses = llvm.inttoptr %statuses_word : i64 to !llvm.ptr
  %mutex = llvm.getelementptr inbounds %shared[8] : (!llvm.ptr) -> !llvm.ptr, i64
  %one = llvm.mlir.constant(1 : i64) : i64
  llvm.br ^claim
^claim:
  %locked = llvm.call @pthread_mutex_lock(%mutex) : (!llvm.ptr) -> i32
  %k = llvm.load %next : !llvm.ptr -> i64
  %k1 = llvm.add %k, %one : i64
  llvm.store %k1, %next : i64, !llvm.ptr
  %unlocked = llvm.call @pthread_mutex_unlock(%mutex) : (!llvm.ptr) -> i32
  %done = llvm.icmp "sge" %k, %n : i64
  llvm.cond_br %done, ^exit, ^run
^run:
  %status = llvmx.call_indirect %fn(%ctx, %k, %n) : (!llvm.ptr, i64, i64) -> i32
  %status_word = llvm.sext %status : i32 to i64
  %slot = llvm.getelementptr inbounds %statuses[%k] : (!llvm.ptr, i64) -> !llvm.ptr, i64
  llvm.store %status_word, %slot : i64, !llvm.ptr
  llvm.br ^claim
^exit:
  llvm.return
}}

llvm.func internal @ember_parallel_worker(%shared: !llvm.ptr) -> !llvm.ptr {{
  llvm.call @ember_parallel_run(%shared) : (!llvm.ptr) -> ()
  %null = llvm.mlir.zero : !llvm.ptr
  llvm.return %null : !llvm.ptr
}}

llvm.func internal @ember_parallel_for(%fn: !llvm.ptr, %ctx: !llvm.ptr, %n: i64) -> i32 {{
  %zero = llvm.mlir.constant(0 : i64) : i64
  %one = llvm.mlir.constant(1 : i64) : i64
  %two = llvm.mlir.constant(2 : i64) : i64
  %c0 = llvm.mlir.constant(0 : i32) : i32
  %serial = llvm.icmp "sle" %n, %one : i64
  llvm.cond_br %serial, ^alone, ^spawn
^alone:
  %s = llvmx.call_indirect %fn(%ctx, %zero, %one) : (!llvm.ptr, i64, i64) -> i32
  llvm.return %s : i32
^spawn:
  %available = llvm.call @ember_thread_count() : () -> i64
  %fewer = llvm.icmp "slt" %available, %n : i64
  %threads = llvm.select %fewer, %available, %n : i1, i64
  %words = llvm.mlir.constant(16 : i64) : i64
  %shared = llvm.alloca %words x i64 {{alignment = 64 : i64}} : (i64) -> !llvm.ptr
  %statuses = llvm.alloca %n x i64 {{alignment = 64 : i64}} : (i64) -> !llvm.ptr
  %tids_size = llvm.mul %threads, %two : i64
  %tids = llvm.alloca %tids_size x i64 {{alignment = 8 : i64}} : (i64) -> !llvm.ptr
  %fn_word = llvm.ptrtoint %fn : !llvm.ptr to i64
  llvm.store %fn_word, %shared : i64, !llvm.ptr
  %p1 = llvm.getelementptr inbounds %shared[1] : (!llvm.ptr) -> !llvm.ptr, i64
  %ctx_word = llvm.ptrtoint %ctx : !llvm.ptr to i64
  llvm.store %ctx_word, %p1 : i64, !llvm.ptr
  %p2 = llvm.getelementptr inbounds %shared[2] : (!llvm.ptr) -> !llvm.ptr, i64
  llvm.store %n, %p2 : i64, !llvm.ptr
  %first = llvm.mlir.constant(3 : i64) : i64
  llvm.br ^clear(%first : i64)
^clear(%w: i64):
  %cleared = llvm.icmp "sge" %w, %words : i64
  llvm.cond_br %cleared, ^start, ^clear_one
^clear_one:
  %pw = llvm.getelementptr inbounds %shared[%w] : (!llvm.ptr, i64) -> !llvm.ptr, i64
  llvm.store %zero, %pw : i64, !llvm.ptr
  %w1 = llvm.add %w, %one : i64
  llvm.br ^clear(%w1 : i64)
^start:
  %p4 = llvm.getelementptr inbounds %shared[4] : (!llvm.ptr) -> !llvm.ptr, i64
  %statuses_word = llvm.ptrtoint %statuses : !llvm.ptr to i64
  llvm.store %statuses_word, %p4 : i64, !llvm.ptr
  %null = llvm.mlir.zero : !llvm.ptr
  %worker = llvm.mlir.addressof @ember_parallel_worker : !llvm.ptr
  llvm.br ^create(%one : i64)
^create(%t: i64):
  %created = llvm.icmp "sge" %t, %threads : i64
  llvm.cond_br %created, ^work, ^create_one
^create_one:
  %at = llvm.mul %t, %two : i64
  %tid = llvm.getelementptr inbounds %tids[%at] : (!llvm.ptr, i64) -> !llvm.ptr, i64
  %rc = llvm.call @pthread_create(%tid, %null, %worker, %shared)
      : (!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> i32
  %rc_word = llvm.zext %rc : i32 to i64
  %rc_slot = llvm.getelementptr inbounds %tid[1] : (!llvm.ptr) -> !llvm.ptr, i64
  llvm.store %rc_word, %rc_slot : i64, !llvm.ptr
  %t1 = llvm.add %t, %one : i64
  llvm.br ^create(%t1 : i64)
^work:
  llvm.call @ember_parallel_run(%shared) : (!llvm.ptr) -> ()
  llvm.br ^join(%one : i64)
^join(%j: i64):
  %joined = llvm.icmp "sge" %j, %threads : i64
  llvm.cond_br %joined, ^collect(%zero, %c0 : i64, i32), ^join_one
^join_one:
  %jat = llvm.mul %j, %two : i64
  %jtid = llvm.getelementptr inbounds %tids[%jat] : (!llvm.ptr, i64) -> !llvm.ptr, i64
  %jrc_slot = llvm.getelementptr inbounds %jtid[1] : (!llvm.ptr) -> !llvm.ptr, i64
  %jrc = llvm.load %jrc_slot : !llvm.ptr -> i64
  %running = llvm.icmp "eq" %jrc, %zero : i64
  llvm.cond_br %running, ^wait, ^next
^wait:
  %handle = llvm.load %jtid : !llvm.ptr -> i64
  %jr = llvm.call @pthread_join(%handle, %null) : (i64, !llvm.ptr) -> i32
  llvm.br ^next
^next:
  %j1 = llvm.add %j, %one : i64
  llvm.br ^join(%j1 : i64)
^collect(%k: i64, %acc: i32):
  %all = llvm.icmp "sge" %k, %n : i64
  llvm.cond_br %all, ^done, ^collect_one
^collect_one:
  %slot = llvm.getelementptr inbounds %statuses[%k] : (!llvm.ptr, i64) -> !llvm.ptr, i64
  %sk_word = llvm.load %slot : !llvm.ptr -> i64
  %sk = llvm.trunc %sk_word : i64 to i32
  %ok = llvm.icmp "eq" %acc, %c0 : i32
  %acc1 = llvm.select %ok, %sk, %acc : i1, i32
  %k1 = llvm.add %k, %one : i64
  llvm.br ^collect(%k1, %acc1 : i64, i32)
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


#: The runtime functions that outlined loops call, with their types (inputs, result).
ENTRY_POINTS = {"ember_parallel_chunks": (("i64", "f64"), "i64"),
                "ember_parallel_for": (("ptr", "ptr", "i64"), "i32")}


def declare_runtime(module: ModuleOp) -> None:
    """Declare the runtime's entry points in ``module`` (``parallel-runtime`` defines them)."""
    from xdsl.dialects.builtin import f64, i32, i64

    from ember.lowering.llvm_common import PTR, declare

    types = {"i64": i64, "f64": f64, "i32": i32, "ptr": PTR}
    for name, (inputs, output) in ENTRY_POINTS.items():
        declare(module, name, [types[t] for t in inputs], types[output])


def add_runtime(module: ModuleOp) -> None:
    """Define the runtime in ``module`` if it declares an entry point: its globals,
    declarations and functions, each once (a declaration becomes the definition)."""
    from xdsl.dialects import llvm
    from xdsl.rewriter import Rewriter

    block = module.regions[0].block
    symbols = {op.sym_name.data: op for op in block.ops
               if isinstance(op, (llvm.FuncOp, llvm.GlobalOp))}
    wanted = [symbols[name] for name in ENTRY_POINTS if name in symbols]
    if not any(isinstance(op, llvm.FuncOp) and not op.body.blocks for op in wanted):
        return
    for op in wanted:
        if not op.body.blocks:
            Rewriter.erase_op(op)
            del symbols[op.sym_name.data]
    for op in _runtime_ops():
        if op.sym_name.data not in symbols:
            block.add_op(op.clone())


@dataclass(frozen=True)
class ParallelRuntimePass(ModulePass):
    """Define the threads runtime where ``parallel-outline`` declared it.

    It runs last, so that the lowering passes before it do not walk the runtime's ops."""

    name = "parallel-runtime"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        add_runtime(op)


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
