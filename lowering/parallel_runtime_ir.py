"""The native runtime as LLVM IR text: the settings, ``ember_parallel_chunks``, the pool and
the temporaries' allocator (``ember_temp_alloc``/``ember_temp_free`` and their cache).

``runtime_ir(triple)`` fills in the constants and, per architecture, the futex syscall number
and the spin-loop hint. ``ember.lowering.parallel_runtime`` describes the design; the JIT
compiles this text once per process, ``ember.export`` links it into each library.
"""

from __future__ import annotations

import re

#: At most this many chunks per loop (the size of a reduction's partials buffer).
MAX_CHUNKS = 256
#: Minimum estimated work (scalar operations) per chunk; below it a loop stays serial. 2^24
#: scalar operations are about 2^20 vector ones, some hundred microseconds: waking the pool
#: costs microseconds, but a worker on a busy core may start milliseconds late.
DEFAULT_GRAIN = 1 << 24
#: Chunks per thread when the work allows: threads claim chunks one by one, so a thread
#: that starts late or runs on a busy core takes fewer of them.
CHUNKS_PER_THREAD = 4
#: Spin iterations (each a CPU pause hint) before a waiting thread sleeps on its futex.
SPIN = 1 << 13
SC_NPROCESSORS_ONLN = 84  # Linux, every architecture

#: The allocator of temporaries. Blocks of ``TEMP_CACHE_MIN_BYTES`` or more are kept for reuse
#: when freed, in ``TEMP_CACHE_SLOTS`` slots holding at most ``$EMBER_TEMP_CACHE_BYTES`` (read
#: once; 0 turns the cache off) or ``TEMP_CACHE_BYTES``; smaller ones are plain malloc/free.
TEMP_ALLOC, TEMP_FREE = "ember_temp_alloc", "ember_temp_free"
TEMP_CACHE_MIN_BYTES = 256 << 10
TEMP_CACHE_BYTES = 256 << 20
TEMP_CACHE_SLOTS = 16
TEMP_CACHE_ENV = "EMBER_TEMP_CACHE_BYTES"
#: Every temporary starts on a multiple of this (a cache line; a 512-bit vector).
TEMP_ALIGN = 64
#: A new block this large asks for transparent huge pages (``madvise(MADV_HUGEPAGE)``, as NumPy
#: does for its arrays): a fresh 16 MB buffer costs 8 page faults instead of 4096.
HUGE_PAGE_BYTES = 4 << 20
#: Requests above this fail (NULL): ``memref-to-llvm`` asks for ``SIZE_MAX`` when a byte count
#: may have wrapped around, and the header must not wrap either.
TEMP_MAX_BYTES = 1 << 62
_MADV_HUGEPAGE = 14
_FUTEX_WAIT, _FUTEX_WAKE = 128, 129  # FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE
_SIG_SETMASK = 2  # x86_64, aarch64, riscv64; a sigset_t has at most 128 bytes

#: Per architecture: the futex syscall number and the spin-loop hint.
ARCHITECTURES = {
    "x86_64": (202, "call void @llvm.x86.sse2.pause()"),
    "aarch64": (98, "call void @llvm.aarch64.hint(i32 1)"),
    "riscv64": (98, ""),
}

_SETTINGS = """
@ember_num_threads = extern_weak global i32
@ember_parallel_grain = extern_weak global i64
@ember.threads.default = internal global i32 0
@ember.threads.env = private unnamed_addr constant [18 x i8] c"EMBER_NUM_THREADS\\00"

declare ptr @getenv(ptr)
declare i32 @atoi(ptr)
declare i64 @sysconf(i32)

define internal i64 @ember.threads() {
entry:
  %bound = icmp ne ptr @ember_num_threads, null
  br i1 %bound, label %shared, label %cached
shared:
  %n = load atomic i32, ptr @ember_num_threads monotonic, align 4
  %set = icmp sgt i32 %n, 0
  br i1 %set, label %done, label %cached
cached:
  %d = load atomic i32, ptr @ember.threads.default monotonic, align 4
  %known = icmp sgt i32 %d, 0
  br i1 %known, label %done, label %env
env:
  %text = call ptr @getenv(ptr @ember.threads.env)
  %unset = icmp eq ptr %text, null
  br i1 %unset, label %cpus, label %parse
parse:
  %v = call i32 @atoi(ptr %text)
  %valid = icmp sgt i32 %v, 0
  br i1 %valid, label %store, label %cpus
cpus:
  %c = call i64 @sysconf(i32 {sc_cpus})
  %c32 = trunc i64 %c to i32
  %some = icmp sgt i32 %c32, 0
  %cpu = select i1 %some, i32 %c32, i32 1
  br label %store
store:
  %x = phi i32 [ %v, %parse ], [ %cpu, %cpus ]
  store atomic i32 %x, ptr @ember.threads.default monotonic, align 4
  br label %done
done:
  %r = phi i32 [ %n, %shared ], [ %d, %cached ], [ %x, %store ]
  %r64 = sext i32 %r to i64
  ret i64 %r64
}

define i64 @ember_parallel_chunks(i64 %trip, double %work) {
entry:
  %threads = call i64 @ember.threads()
  %alone = icmp sle i64 %threads, 1
  %short = icmp sle i64 %trip, 1
  %serial = or i1 %alone, %short
  br i1 %serial, label %done, label %grain
grain:
  %bound = icmp ne ptr @ember_parallel_grain, null
  br i1 %bound, label %load, label %divide
load:
  %g = load atomic i64, ptr @ember_parallel_grain monotonic, align 8
  %positive = icmp sgt i64 %g, 0
  br i1 %positive, label %divide, label %clamp
divide:
  %grain.used = phi i64 [ {default_grain}, %grain ], [ %g, %load ]
  %gf = sitofp i64 %grain.used to double
  %q = fdiv double %work, %gf
  br label %clamp
clamp:
  %wanted = phi double [ {max_chunks}.0, %load ], [ %q, %divide ]
  %tf = sitofp i64 %trip to double
  %c1 = fcmp olt double %wanted, %tf
  %w1 = select i1 %c1, double %wanted, double %tf
  %c2 = fcmp olt double %w1, {max_chunks}.0
  %w2 = select i1 %c2, double %w1, double {max_chunks}.0
  %c = call i64 @llvm.fptosi.sat.i64.f64(double %w2)
  %some = icmp sgt i64 %c, 1
  %chunks = select i1 %some, i64 %c, i64 1
  %full = mul i64 %threads, {per_thread}
  %enough = icmp sge i64 %chunks, %full
  br i1 %enough, label %done, label %round
round:
  %fewer = icmp slt i64 %chunks, %threads
  %rounds = sdiv i64 %chunks, %threads
  %even = mul i64 %rounds, %threads
  %r = select i1 %fewer, i64 %chunks, i64 %even
  br label %done
done:
  %result = phi i64 [ 1, %entry ], [ %full, %clamp ], [ %r, %round ]
  ret i64 %result
}

declare i64 @llvm.fptosi.sat.i64.f64(double)
"""

_POOL = """
; Hot words on cache lines of their own; @ember.pool.pid and .workers belong to the lock holder.
@ember.pool.owner = internal global i32 0, align 64
@ember.pool.gen = internal global i32 0, align 64
@ember.pool.ticket = internal global i64 0, align 64
@ember.pool.done = internal global i32 0, align 64
@ember.pool.waiting = internal global i32 0, align 64
@ember.pool.sleepers = internal global i32 0, align 64
@ember.pool.fn = internal global ptr null, align 64
@ember.pool.ctx = internal global ptr null, align 8
@ember.pool.statuses = internal global ptr null, align 8
@ember.pool.allowed = internal global i32 0, align 8
@ember.pool.pid = internal global i32 0, align 64
@ember.pool.workers = internal global i32 0, align 4

declare i32 @getpid()
declare i64 @syscall(i64, ...)
declare i32 @pthread_create(ptr, ptr, ptr, ptr)
declare i32 @pthread_detach(i64)
declare i32 @sigfillset(ptr)
declare i32 @pthread_sigmask(i32, ptr, ptr)
{pause_decl}

; Claim and run chunks of job %id until none is left (see the module docstring, step 3).
define internal void @ember.pool.run(i32 %id) {
entry:
  %fn = load atomic ptr, ptr @ember.pool.fn monotonic, align 8
  %ctx = load atomic ptr, ptr @ember.pool.ctx monotonic, align 8
  %statuses = load atomic ptr, ptr @ember.pool.statuses monotonic, align 8
  %t0 = load atomic i64, ptr @ember.pool.ticket seq_cst, align 8
  %id64 = zext i32 %id to i64
  br label %claim
claim:
  %t = phi i64 [ %t0, %entry ], [ %seen, %take ], [ %t.next, %ran ]
  %tid = lshr i64 %t, 32
  %mine = icmp eq i64 %tid, %id64
  br i1 %mine, label %check, label %exit
check:
  %k = and i64 %t, 65535
  %n.high = lshr i64 %t, 16
  %n = and i64 %n.high, 65535
  %left = icmp ult i64 %k, %n
  br i1 %left, label %take, label %exit
take:
  %t1 = add i64 %t, 1
  %pair = cmpxchg ptr @ember.pool.ticket, i64 %t, i64 %t1 seq_cst seq_cst, align 8
  %seen = extractvalue { i64, i1 } %pair, 0
  %ok = extractvalue { i64, i1 } %pair, 1
  br i1 %ok, label %run, label %claim
run:
  %status = call i32 %fn(ptr %ctx, i64 %k, i64 %n)
  %slot = getelementptr inbounds i32, ptr %statuses, i64 %k
  store i32 %status, ptr %slot, align 4
  %before = atomicrmw add ptr @ember.pool.done, i32 1 seq_cst, align 4
  %after = add i32 %before, 1
  %n32 = trunc i64 %n to i32
  %last = icmp eq i32 %after, %n32
  br i1 %last, label %last.chunk, label %ran
last.chunk:
  %waiting = load atomic i32, ptr @ember.pool.waiting seq_cst, align 4
  %asleep = icmp ne i32 %waiting, 0
  br i1 %asleep, label %wake, label %ran
wake:
  %woken = call i64 (i64, ...) @syscall(i64 {futex}, ptr @ember.pool.done, i64 {wake}, i64 1)
  br label %ran
ran:
  %t.next = load atomic i64, ptr @ember.pool.ticket seq_cst, align 8
  br label %claim
exit:
  ret void
}

; A worker: %arg is its number | the job number it has seen << 32.
define internal ptr @ember.pool.worker(ptr %arg) {
entry:
  %word = ptrtoint ptr %arg to i64
  %index = trunc i64 %word to i32
  %seen.high = lshr i64 %word, 32
  %seen0 = trunc i64 %seen.high to i32
  br label %wait
wait:
  %seen = phi i32 [ %seen0, %entry ], [ %g, %job ], [ %g, %work ]
  br label %spin
spin:
  %i = phi i32 [ 0, %wait ], [ %i1, %spin.next ]
  %g.spin = load atomic i32, ptr @ember.pool.gen acquire, align 4
  %new.spin = icmp ne i32 %g.spin, %seen
  br i1 %new.spin, label %job, label %spin.next
spin.next:
  {pause}
  %i1 = add i32 %i, 1
  %more = icmp ult i32 %i1, {spin}
  br i1 %more, label %spin, label %sleep
sleep:
  %s0 = atomicrmw add ptr @ember.pool.sleepers, i32 1 seq_cst, align 4
  %g.now = load atomic i32, ptr @ember.pool.gen seq_cst, align 4
  %same = icmp eq i32 %g.now, %seen
  br i1 %same, label %futex, label %awake
futex:
  %seen64 = zext i32 %seen to i64
  %slept = call i64 (i64, ...) @syscall(i64 {futex}, ptr @ember.pool.gen, i64 {wait}, i64 %seen64, ptr null)
  br label %awake
awake:
  %s1 = atomicrmw sub ptr @ember.pool.sleepers, i32 1 seq_cst, align 4
  %g.awake = load atomic i32, ptr @ember.pool.gen acquire, align 4
  %new.awake = icmp ne i32 %g.awake, %seen
  br i1 %new.awake, label %job, label %sleep
job:
  %g = phi i32 [ %g.spin, %spin ], [ %g.awake, %awake ]
  %allowed = load atomic i32, ptr @ember.pool.allowed monotonic, align 4
  %takes.part = icmp ult i32 %index, %allowed
  br i1 %takes.part, label %work, label %wait
work:
  call void @ember.pool.run(i32 %g)
  br label %wait
}

; Take the lock with the caller's pid; 0 if another call of this process holds it.
define internal i1 @ember.pool.lock(i32 %pid) {
entry:
  %try = cmpxchg ptr @ember.pool.owner, i32 0, i32 %pid acquire monotonic, align 4
  %got = extractvalue { i32, i1 } %try, 1
  br i1 %got, label %done, label %held
held:
  %holder = extractvalue { i32, i1 } %try, 0
  %ours = icmp eq i32 %holder, %pid
  br i1 %ours, label %done, label %stale
stale:  ; held by the process this one was forked from: nobody here will release it
  %steal = cmpxchg ptr @ember.pool.owner, i32 %holder, i32 %pid acquire monotonic, align 4
  %stolen = extractvalue { i32, i1 } %steal, 1
  br label %done
done:
  %r = phi i1 [ true, %entry ], [ false, %held ], [ %stolen, %stale ]
  ret i1 %r
}

; With the lock: have at least %want workers (fewer if pthread_create fails); their count.
; They are made with every signal blocked (a thread inherits the mask), so that signals go to
; the application's threads, never to a worker.
define internal i32 @ember.pool.grow(i32 %pid, i32 %want) {
entry:
  %tid = alloca i64, align 8
  %all = alloca [128 x i8], align 8
  %old = alloca [128 x i8], align 8
  %creator = load i32, ptr @ember.pool.pid, align 4
  %same = icmp eq i32 %creator, %pid
  br i1 %same, label %grow, label %forked
forked:  ; a child of fork(): the workers stayed in the parent
  store i32 0, ptr @ember.pool.workers, align 4
  store atomic i32 0, ptr @ember.pool.sleepers monotonic, align 4
  store atomic i32 0, ptr @ember.pool.waiting monotonic, align 4
  store i32 %pid, ptr @ember.pool.pid, align 4
  br label %grow
grow:
  %g = load atomic i32, ptr @ember.pool.gen monotonic, align 4
  %g64 = zext i32 %g to i64
  %seen = shl i64 %g64, 32
  %w0 = load i32, ptr @ember.pool.workers, align 4
  %have = icmp uge i32 %w0, %want
  br i1 %have, label %done, label %mask
mask:
  %filled = call i32 @sigfillset(ptr %all)
  %masked = call i32 @pthread_sigmask(i32 {sig_setmask}, ptr %all, ptr %old)
  br label %create
create:
  %w = phi i32 [ %w0, %mask ], [ %w1, %created ]
  %enough = icmp uge i32 %w, %want
  br i1 %enough, label %unmask, label %spawn
spawn:
  %w64 = zext i32 %w to i64
  %word = or i64 %seen, %w64
  %arg = inttoptr i64 %word to ptr
  %rc = call i32 @pthread_create(ptr %tid, ptr null, ptr @ember.pool.worker, ptr %arg)
  %failed = icmp ne i32 %rc, 0
  br i1 %failed, label %unmask, label %created
created:
  %handle = load i64, ptr %tid, align 8
  %detached = call i32 @pthread_detach(i64 %handle)
  %w1 = add i32 %w, 1
  br label %create
unmask:
  %made = phi i32 [ %w, %create ], [ %w, %spawn ]
  %restored = call i32 @pthread_sigmask(i32 {sig_setmask}, ptr %old, ptr null)
  br label %done
done:
  %count = phi i32 [ %w0, %grow ], [ %made, %unmask ]
  store i32 %count, ptr @ember.pool.workers, align 4
  ret i32 %count
}

; With the lock: run a job of %n chunks on the caller and %allowed workers.
define internal void @ember.pool.job(ptr %fn, ptr %ctx, i64 %n, ptr %statuses, i32 %allowed) {
entry:
  store atomic ptr %fn, ptr @ember.pool.fn monotonic, align 8
  store atomic ptr %ctx, ptr @ember.pool.ctx monotonic, align 8
  store atomic ptr %statuses, ptr @ember.pool.statuses monotonic, align 8
  store atomic i32 %allowed, ptr @ember.pool.allowed monotonic, align 4
  store atomic i32 0, ptr @ember.pool.done monotonic, align 4
  %g = load atomic i32, ptr @ember.pool.gen monotonic, align 4
  %g1 = add i32 %g, 1
  %g64 = zext i32 %g1 to i64
  %id = shl i64 %g64, 32
  %count = shl i64 %n, 16
  %ticket = or i64 %id, %count
  store atomic i64 %ticket, ptr @ember.pool.ticket seq_cst, align 8
  store atomic i32 %g1, ptr @ember.pool.gen seq_cst, align 4
  %sleeping = load atomic i32, ptr @ember.pool.sleepers seq_cst, align 4
  %anyone = icmp ne i32 %sleeping, 0
  br i1 %anyone, label %wake, label %work
wake:
  %woken = call i64 (i64, ...) @syscall(i64 {futex}, ptr @ember.pool.gen, i64 {wake}, i64 2147483647)
  br label %work
work:
  call void @ember.pool.run(i32 %g1)
  %n32 = trunc i64 %n to i32
  br label %spin
spin:  ; wait for the chunks the workers took
  %i = phi i32 [ 0, %work ], [ %i1, %spin.next ]
  %d = load atomic i32, ptr @ember.pool.done acquire, align 4
  %all = icmp eq i32 %d, %n32
  br i1 %all, label %done, label %spin.next
spin.next:
  {pause}
  %i1 = add i32 %i, 1
  %more = icmp ult i32 %i1, {spin}
  br i1 %more, label %spin, label %sleep
sleep:
  store atomic i32 1, ptr @ember.pool.waiting seq_cst, align 4
  %d.now = load atomic i32, ptr @ember.pool.done seq_cst, align 4
  %all.now = icmp eq i32 %d.now, %n32
  br i1 %all.now, label %awake, label %futex
futex:
  %d64 = zext i32 %d.now to i64
  %slept = call i64 (i64, ...) @syscall(i64 {futex}, ptr @ember.pool.done, i64 {wait}, i64 %d64, ptr null)
  br label %sleep
awake:
  store atomic i32 0, ptr @ember.pool.waiting monotonic, align 4
  br label %done
done:
  ret void
}

define i32 @ember_parallel_for(ptr %fn, ptr %ctx, i64 %n) noinline {
entry:
  %statuses = alloca [{max_chunks} x i32], align 64
  %many = icmp sgt i64 %n, 1
  %fits = icmp sle i64 %n, {max_chunks}
  %split = and i1 %many, %fits
  br i1 %split, label %count, label %serial
count:
  %threads = call i64 @ember.threads()
  %fewer = icmp slt i64 %threads, %n
  %use = select i1 %fewer, i64 %threads, i64 %n
  %want64 = sub i64 %use, 1
  %want = trunc i64 %want64 to i32
  %alone = icmp slt i64 %want64, 1
  br i1 %alone, label %serial, label %lock
lock:
  %pid = call i32 @getpid()
  %locked = call i1 @ember.pool.lock(i32 %pid)
  br i1 %locked, label %grow, label %serial
grow:
  %workers = call i32 @ember.pool.grow(i32 %pid, i32 %want)
  %short = icmp ult i32 %workers, %want
  %allowed = select i1 %short, i32 %workers, i32 %want
  %none = icmp eq i32 %allowed, 0
  br i1 %none, label %unlock, label %job
job:
  call void @ember.pool.job(ptr %fn, ptr %ctx, i64 %n, ptr %statuses, i32 %allowed)
  store atomic i32 0, ptr @ember.pool.owner release, align 4
  br label %collect
collect:  ; the first non-zero status in chunk order
  %k = phi i64 [ 0, %job ], [ %k1, %next ]
  %acc = phi i32 [ 0, %job ], [ %acc1, %next ]
  %all = icmp sge i64 %k, %n
  br i1 %all, label %done, label %next
next:
  %slot = getelementptr inbounds i32, ptr %statuses, i64 %k
  %s = load i32, ptr %slot, align 4
  %ok = icmp eq i32 %acc, 0
  %acc1 = select i1 %ok, i32 %s, i32 %acc
  %k1 = add i64 %k, 1
  br label %collect
unlock:
  store atomic i32 0, ptr @ember.pool.owner release, align 4
  br label %serial
serial:  ; the same chunks, in order, on the calling thread
  %n.serial = call i64 @llvm.smax.i64(i64 %n, i64 1)
  br label %serial.loop
serial.loop:
  %j = phi i64 [ 0, %serial ], [ %j1, %serial.next ]
  %acc.s = phi i32 [ 0, %serial ], [ %acc.s1, %serial.next ]
  %left = icmp slt i64 %j, %n.serial
  br i1 %left, label %serial.next, label %done.serial
serial.next:
  %st = call i32 %fn(ptr %ctx, i64 %j, i64 %n.serial)
  %ok.s = icmp eq i32 %acc.s, 0
  %acc.s1 = select i1 %ok.s, i32 %st, i32 %acc.s
  %j1 = add i64 %j, 1
  br label %serial.loop
done.serial:
  ret i32 %acc.s
done:
  ret i32 %acc
}

declare i64 @llvm.smax.i64(i64, i64)
"""


_TEMP_CACHE = """
; Temporaries. A block is malloc(n + 80) with its start p on a multiple of {align}, malloc's
; pointer at p - 16 and the capacity n at p - 8. Freed blocks of {min_bytes} bytes or more wait
; in the slots for reuse (null: an empty slot), @ember.temp.bytes in total, under a spinlock.
; The functions are optnone: they run once per allocation, and optimising them cost more
; than the rest of the runtime's cold compile (the disk cache keeps the machine code).
@ember.temp.owner = internal global i32 0, align 64
@ember.temp.most = internal global i64 -1, align 64
@ember.temp.bytes = internal global i64 0, align 8
@ember.temp.clock = internal global i64 0, align 8
@ember.temp.blocks = internal global [{slots} x ptr] zeroinitializer, align 64
@ember.temp.sizes = internal global [{slots} x i64] zeroinitializer, align 64
@ember.temp.ages = internal global [{slots} x i64] zeroinitializer, align 64
@ember.temp.env = private unnamed_addr constant [{env_len} x i8] c"{env}\\00"

declare ptr @malloc(i64)
declare void @free(ptr)
declare i32 @madvise(ptr, i64, i32)
declare i64 @atoll(ptr)
declare i32 @sched_yield()

; The most bytes the cache keeps: $EMBER_TEMP_CACHE_BYTES (negative: 0), read once.
define internal i64 @ember.temp.limit() noinline optnone {
entry:
  %known = load atomic i64, ptr @ember.temp.most monotonic, align 8
  %read = icmp sge i64 %known, 0
  br i1 %read, label %done, label %env
env:
  %text = call ptr @getenv(ptr @ember.temp.env)
  %unset = icmp eq ptr %text, null
  br i1 %unset, label %store, label %parse
parse:
  %v = call i64 @atoll(ptr %text)
  %v.valid = call i64 @llvm.smax.i64(i64 %v, i64 0)
  br label %store
store:
  %x = phi i64 [ {cache_bytes}, %env ], [ %v.valid, %parse ]
  store atomic i64 %x, ptr @ember.temp.most monotonic, align 8
  br label %done
done:
  %r = phi i64 [ %known, %entry ], [ %x, %store ]
  ret i64 %r
}

; A compare-and-swap of 0 to the caller's pid; unlocking stores 0. A lock held by another pid
; was held when this process was forked: take it over and forget the slots (possibly
; half-written; the child leaves those blocks alone).
define internal void @ember.temp.lock() noinline optnone {
entry:
  %pid = call i32 @getpid()
  br label %try
try:
  %i = phi i32 [ 0, %entry ], [ %i1, %spin ], [ %i1, %yield ]
  %pair = cmpxchg ptr @ember.temp.owner, i32 0, i32 %pid acquire monotonic, align 4
  %got = extractvalue { i32, i1 } %pair, 1
  br i1 %got, label %done, label %held
held:
  %holder = extractvalue { i32, i1 } %pair, 0
  %ours = icmp eq i32 %holder, %pid
  br i1 %ours, label %spin, label %stale
stale:
  %steal = cmpxchg ptr @ember.temp.owner, i32 %holder, i32 %pid acquire monotonic, align 4
  %stolen = extractvalue { i32, i1 } %steal, 1
  br i1 %stolen, label %forget, label %spin
forget:
  store [{slots} x ptr] zeroinitializer, ptr @ember.temp.blocks, align 64
  store atomic i64 0, ptr @ember.temp.bytes monotonic, align 8
  br label %done
spin:  ; the holder runs a few dozen instructions; on a busy core it may need ours
  {pause}
  %i1 = add i32 %i, 1
  %round = and i32 %i1, 63
  %polite = icmp eq i32 %round, 0
  br i1 %polite, label %yield, label %try
yield:
  %yielded = call i32 @sched_yield()
  br label %try
done:
  ret void
}

; At least %n bytes, {align}-byte aligned; null if malloc fails or %n exceeds {max_bytes}.
; First the smallest cached block of %n to 2 %n bytes, else a new one (huge pages from
; {huge_page} bytes on).
define ptr @ember_temp_alloc(i64 %n) noinline optnone {
entry:
  %absurd = icmp ugt i64 %n, {max_bytes}
  br i1 %absurd, label %fail, label %sized
sized:
  %large = icmp uge i64 %n, {min_bytes}
  br i1 %large, label %enabled, label %fresh
enabled:
  %limit = call i64 @ember.temp.limit()
  %on = icmp ne i64 %limit, 0
  br i1 %on, label %lock, label %fresh
lock:
  %most = shl i64 %n, 1
  call void @ember.temp.lock()
  br label %scan
scan:
  %i = phi i64 [ 0, %lock ], [ %i1, %probe ]
  %best = phi i64 [ -1, %lock ], [ %best1, %probe ]
  %least = phi i64 [ -1, %lock ], [ %least1, %probe ]
  %end = icmp eq i64 %i, {slots}
  br i1 %end, label %scanned, label %probe
probe:
  %bp = getelementptr inbounds [{slots} x ptr], ptr @ember.temp.blocks, i64 0, i64 %i
  %b = load ptr, ptr %bp, align 8
  %sp = getelementptr inbounds [{slots} x i64], ptr @ember.temp.sizes, i64 0, i64 %i
  %s = load i64, ptr %sp, align 8
  %used = icmp ne ptr %b, null
  %fits = icmp uge i64 %s, %n
  %thrifty = icmp ule i64 %s, %most
  %smaller = icmp ult i64 %s, %least
  %usable = and i1 %used, %fits
  %wanted = and i1 %thrifty, %smaller
  %better = and i1 %usable, %wanted
  %best1 = select i1 %better, i64 %i, i64 %best
  %least1 = select i1 %better, i64 %s, i64 %least
  %i1 = add i64 %i, 1
  br label %scan
scanned:
  %none = icmp eq i64 %best, -1
  br i1 %none, label %miss, label %hit
hit:
  %hp = getelementptr inbounds [{slots} x ptr], ptr @ember.temp.blocks, i64 0, i64 %best
  %h = load ptr, ptr %hp, align 8
  store ptr null, ptr %hp, align 8
  %bytes = load atomic i64, ptr @ember.temp.bytes monotonic, align 8
  %bytes1 = sub i64 %bytes, %least
  store atomic i64 %bytes1, ptr @ember.temp.bytes monotonic, align 8
  store atomic i32 0, ptr @ember.temp.owner release, align 4
  ret ptr %h
miss:
  store atomic i32 0, ptr @ember.temp.owner release, align 4
  br label %fresh
fresh:
  %total = add i64 %n, 80
  %raw = call ptr @malloc(i64 %total)
  %failed = icmp eq ptr %raw, null
  br i1 %failed, label %fail, label %place
place:
  %at = ptrtoint ptr %raw to i64
  %past = add i64 %at, {align_past}
  %aligned = and i64 %past, -{align}
  %offset = sub i64 %aligned, %at
  %p = getelementptr inbounds i8, ptr %raw, i64 %offset
  %origin = getelementptr inbounds i8, ptr %p, i64 -16
  store ptr %raw, ptr %origin, align 8
  %capacity = getelementptr inbounds i8, ptr %p, i64 -8
  store i64 %n, ptr %capacity, align 8
  %big = icmp uge i64 %n, {huge_page}
  br i1 %big, label %advise, label %done
advise:  ; the whole pages inside the block
  %up = add i64 %aligned, 4095
  %start = and i64 %up, -4096
  %last = add i64 %aligned, %n
  %stop = and i64 %last, -4096
  %len = sub i64 %stop, %start
  %from = inttoptr i64 %start to ptr
  %ignored = call i32 @madvise(ptr %from, i64 %len, i32 {madv_hugepage})
  br label %done
done:
  ret ptr %p
fail:
  ret ptr null
}

; Free a block of ember_temp_alloc (null is fine). A large one within the limit is cached,
; after evicting the least recently cached blocks until it fits in the limit and a slot;
; the evicted are freed once the lock is released.
define void @ember_temp_free(ptr %p) noinline optnone {
entry:
  %evicted = alloca [{slots} x ptr], align 8
  %null = icmp eq ptr %p, null
  br i1 %null, label %done, label %header
header:
  %origin = getelementptr inbounds i8, ptr %p, i64 -16
  %raw = load ptr, ptr %origin, align 8
  %capacity = getelementptr inbounds i8, ptr %p, i64 -8
  %s = load i64, ptr %capacity, align 8
  %large = icmp uge i64 %s, {min_bytes}
  br i1 %large, label %enabled, label %release
enabled:
  %limit = call i64 @ember.temp.limit()
  %allowed = icmp ule i64 %s, %limit
  br i1 %allowed, label %lock, label %release
lock:
  call void @ember.temp.lock()
  br label %round
round:
  %k = phi i64 [ 0, %lock ], [ %k1, %evict ]
  br label %scan
scan:
  %i = phi i64 [ 0, %round ], [ %i1, %probe ]
  %empty = phi i64 [ -1, %round ], [ %empty1, %probe ]
  %oldest = phi i64 [ -1, %round ], [ %oldest1, %probe ]
  %age = phi i64 [ -1, %round ], [ %age1, %probe ]
  %end = icmp eq i64 %i, {slots}
  br i1 %end, label %decide, label %probe
probe:
  %bp = getelementptr inbounds [{slots} x ptr], ptr @ember.temp.blocks, i64 0, i64 %i
  %b = load ptr, ptr %bp, align 8
  %ap = getelementptr inbounds [{slots} x i64], ptr @ember.temp.ages, i64 0, i64 %i
  %a = load i64, ptr %ap, align 8
  %used = icmp ne ptr %b, null
  %older = icmp ult i64 %a, %age
  %victim = and i1 %used, %older
  %oldest1 = select i1 %victim, i64 %i, i64 %oldest
  %age1 = select i1 %victim, i64 %a, i64 %age
  %first = icmp eq i64 %empty, -1
  %vacant = select i1 %used, i1 false, i1 %first
  %empty1 = select i1 %vacant, i64 %i, i64 %empty
  %i1 = add i64 %i, 1
  br label %scan
decide:
  %bytes = load atomic i64, ptr @ember.temp.bytes monotonic, align 8
  %total = add i64 %bytes, %s
  %room = icmp ule i64 %total, %limit
  %slot = icmp ne i64 %empty, -1
  %fits = and i1 %room, %slot
  br i1 %fits, label %insert, label %full
full:
  %stuck = icmp eq i64 %oldest, -1  ; nothing to evict (cannot happen while %s <= %limit)
  br i1 %stuck, label %unlock, label %evict
evict:
  %op = getelementptr inbounds [{slots} x ptr], ptr @ember.temp.blocks, i64 0, i64 %oldest
  %old = load ptr, ptr %op, align 8
  store ptr null, ptr %op, align 8
  %osp = getelementptr inbounds [{slots} x i64], ptr @ember.temp.sizes, i64 0, i64 %oldest
  %os = load i64, ptr %osp, align 8
  %left = sub i64 %bytes, %os
  store atomic i64 %left, ptr @ember.temp.bytes monotonic, align 8
  %old.origin = getelementptr inbounds i8, ptr %old, i64 -16
  %old.raw = load ptr, ptr %old.origin, align 8
  %ep = getelementptr inbounds [{slots} x ptr], ptr %evicted, i64 0, i64 %k
  store ptr %old.raw, ptr %ep, align 8
  %k1 = add i64 %k, 1
  br label %round
insert:
  %sp = getelementptr inbounds [{slots} x i64], ptr @ember.temp.sizes, i64 0, i64 %empty
  store i64 %s, ptr %sp, align 8
  %now = load i64, ptr @ember.temp.clock, align 8
  %now1 = add i64 %now, 1
  store i64 %now1, ptr @ember.temp.clock, align 8
  %tp = getelementptr inbounds [{slots} x i64], ptr @ember.temp.ages, i64 0, i64 %empty
  store i64 %now, ptr %tp, align 8
  %np = getelementptr inbounds [{slots} x ptr], ptr @ember.temp.blocks, i64 0, i64 %empty
  store ptr %p, ptr %np, align 8
  store atomic i64 %total, ptr @ember.temp.bytes monotonic, align 8
  br label %unlock
unlock:
  %rest = phi ptr [ null, %insert ], [ %raw, %full ]
  store atomic i32 0, ptr @ember.temp.owner release, align 4
  call void @ember.temp.free_all(ptr %evicted, i64 %k)
  call void @free(ptr %rest)
  br label %done
release:
  call void @free(ptr %raw)
  br label %done
done:
  ret void
}

; Free every cached block; the bytes released.
define i64 @ember_temp_release() noinline optnone {
entry:
  %blocks = alloca [{slots} x ptr], align 8
  call void @ember.temp.lock()
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %next ]
  %k = phi i64 [ 0, %entry ], [ %k1, %next ]
  %end = icmp eq i64 %i, {slots}
  br i1 %end, label %emptied, label %probe
probe:
  %bp = getelementptr inbounds [{slots} x ptr], ptr @ember.temp.blocks, i64 0, i64 %i
  %b = load ptr, ptr %bp, align 8
  %used = icmp ne ptr %b, null
  br i1 %used, label %collect, label %next
collect:
  store ptr null, ptr %bp, align 8
  %origin = getelementptr inbounds i8, ptr %b, i64 -16
  %raw = load ptr, ptr %origin, align 8
  %slot = getelementptr inbounds [{slots} x ptr], ptr %blocks, i64 0, i64 %k
  store ptr %raw, ptr %slot, align 8
  %k.next = add i64 %k, 1
  br label %next
next:
  %k1 = phi i64 [ %k, %probe ], [ %k.next, %collect ]
  %i1 = add i64 %i, 1
  br label %loop
emptied:
  %bytes = load atomic i64, ptr @ember.temp.bytes monotonic, align 8
  store atomic i64 0, ptr @ember.temp.bytes monotonic, align 8
  store atomic i32 0, ptr @ember.temp.owner release, align 4
  call void @ember.temp.free_all(ptr %blocks, i64 %k)
  ret i64 %bytes
}

; free() the first %k blocks of the array %blocks (outside the lock).
define internal void @ember.temp.free_all(ptr %blocks, i64 %k) noinline optnone {
entry:
  br label %loop
loop:
  %j = phi i64 [ 0, %entry ], [ %j1, %one ]
  %more = icmp ult i64 %j, %k
  br i1 %more, label %one, label %done
one:
  %dp = getelementptr inbounds ptr, ptr %blocks, i64 %j
  %d = load ptr, ptr %dp, align 8
  call void @free(ptr %d)
  %j1 = add i64 %j, 1
  br label %loop
done:
  ret void
}

; The bytes the cache holds now.
define i64 @ember_temp_cached() noinline optnone {
entry:
  %bytes = load atomic i64, ptr @ember.temp.bytes monotonic, align 8
  ret i64 %bytes
}
"""


def _architecture(triple: str) -> tuple[int, str]:
    arch = triple.split("-", 1)[0]
    if arch not in ARCHITECTURES:
        raise ValueError(f"ember's threads runtime does not support {arch} (triple {triple!r}); "
                         f"it knows {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch]


def runtime_ir(triple: str | None = None) -> str:
    """The runtime as LLVM IR text for ``triple`` (default: this process's)."""
    if triple is None:
        import llvmlite.binding as llb

        triple = llb.get_process_triple()
    futex, pause = _architecture(triple)
    pause_decl = {"x86_64": "declare void @llvm.x86.sse2.pause()",
                  "aarch64": "declare void @llvm.aarch64.hint(i32)"}.get(triple.split("-")[0], "")
    values = {"sc_cpus": SC_NPROCESSORS_ONLN, "default_grain": DEFAULT_GRAIN,
              "max_chunks": MAX_CHUNKS, "per_thread": CHUNKS_PER_THREAD, "futex": futex,
              "wait": _FUTEX_WAIT, "wake": _FUTEX_WAKE, "spin": SPIN, "pause": pause,
              "sig_setmask": _SIG_SETMASK,
              "pause_decl": pause_decl, **_temp_values()}
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), _SETTINGS + _POOL + _TEMP_CACHE)


def _temp_values() -> dict[str, object]:
    return {"align": TEMP_ALIGN, "align_past": 16 + TEMP_ALIGN - 1, "slots": TEMP_CACHE_SLOTS,
            "min_bytes": TEMP_CACHE_MIN_BYTES, "cache_bytes": TEMP_CACHE_BYTES,
            "max_bytes": TEMP_MAX_BYTES, "huge_page": HUGE_PAGE_BYTES,
            "madv_hugepage": _MADV_HUGEPAGE, "env": TEMP_CACHE_ENV,
            "env_len": len(TEMP_CACHE_ENV) + 1}
