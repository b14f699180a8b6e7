"""The persistent thread pool of the parallel runtime (``ember.lowering.parallel_runtime``).

The runtime is called directly through the JIT with hand-written bodies (nesting, statuses,
concurrent callers), and through compiled functions in fresh processes (thread counts from
/proc, idle workers, fork, loaded artifacts): a deadlock fails by timeout, not by hanging.
"""

import ctypes
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from xdsl.parser import Parser

import ember
import ember.testing as et
from ember.context import make_context
from ember.lowering import parallel_runtime as runtime
from ember.lowering.jit import Engine

NEEDS_PROC = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc")

#: ctx is an i64 array: outer chunk k adds 1 to ctx[k], inner chunk j adds 1 to ctx[512 + j].
#: Each outer chunk runs a nested parallel loop of 4 chunks, and returns 7 (chunk 5), 3
#: (chunk 9) or the nested loop's status (0).
BODIES = """
declare i32 @ember_parallel_for(ptr, ptr, i64)

define i32 @inner(ptr %ctx, i64 %k, i64 %n) {
  %i = add i64 %k, 512
  %p = getelementptr i64, ptr %ctx, i64 %i
  %old = atomicrmw add ptr %p, i64 1 seq_cst
  ret i32 0
}

define i32 @outer(ptr %ctx, i64 %k, i64 %n) {
  %p = getelementptr i64, ptr %ctx, i64 %k
  %old = atomicrmw add ptr %p, i64 1 seq_cst
  %s = call i32 @ember_parallel_for(ptr @inner, ptr %ctx, i64 4)
  %is5 = icmp eq i64 %k, 5
  %is9 = icmp eq i64 %k, 9
  %a = select i1 %is9, i32 3, i32 %s
  %r = select i1 %is5, i32 7, i32 %a
  ret i32 %r
}

define i32 @run(ptr %ctx, i64 %n) {
  %s = call i32 @ember_parallel_for(ptr @outer, ptr %ctx, i64 %n)
  ret i32 %s
}
"""


@pytest.fixture(scope="module")
def run():
    engine = Engine(BODIES)
    fn = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64)(engine.address("run"))
    yield fn
    del engine


def _check(run, n: int) -> None:
    ctx = np.zeros(1024, np.int64)
    status = run(ctx.ctypes.data, n)
    chunks = max(n, 1)
    assert status == (7 if chunks > 5 else 0)  # the first non-zero status in chunk order
    np.testing.assert_array_equal(ctx[:chunks], 1)  # every chunk ran once
    assert not ctx[chunks:512].any()
    np.testing.assert_array_equal(ctx[512:516], chunks)  # nested loops ran (serially)
    assert not ctx[516:].any()


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_chunks_statuses_and_nesting(run, threads):
    saved = ember.get_num_threads()
    ember.set_num_threads(threads)
    try:
        for n in [0, 1, 2, 3, 6, 16, 256, 300]:  # 300 > MAX_CHUNKS: serial
            _check(run, n)
    finally:
        ember.set_num_threads(saved)


def test_concurrent_callers(run):
    """Callers on several threads at once (ctypes releases the GIL): one takes the pool, the
    others run their chunks themselves; every chunk runs exactly once per call."""
    saved = ember.get_num_threads()
    ember.set_num_threads(3)
    errors = []

    def caller():
        try:
            for _ in range(150):
                _check(run, 12)
        except AssertionError as e:
            errors.append(e)

    try:
        workers = [threading.Thread(target=caller) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=120)
        assert not any(w.is_alive() for w in workers), "a parallel loop deadlocked"
    finally:
        ember.set_num_threads(saved)
    assert not errors, errors[0]


def test_parallel_runtime_pass_checks_declarations():
    text = """
    builtin.module {
      llvm.func @ember_parallel_chunks(i64, f64) -> i64
      llvm.func @ember_parallel_for(%a: !llvm.ptr, %b: !llvm.ptr, %n: i64) -> i32 {
        %z = llvm.mlir.constant(0 : i32) : i32
        llvm.return %z : i32
      }
    }"""
    module = Parser(make_context(), text).parse_module()
    with pytest.raises(ValueError, match="^@ember_parallel_for must be a declaration "
                       r"\(!llvm.ptr, !llvm.ptr, i64\) -> i32 of the threads runtime, "
                       "found a definition$"):
        runtime.ParallelRuntimePass().apply(make_context(), module)
    bad = Parser(make_context(), "llvm.func @ember_parallel_chunks(i64, i64) -> i64").parse_module()
    with pytest.raises(ValueError, match=r"found \(i64, i64\) -> i64$"):
        runtime.ParallelRuntimePass().apply(make_context(), bad)


def test_runtime_ir_per_architecture():
    for arch, (futex, _) in runtime.ARCHITECTURES.items():
        assert f"@syscall(i64 {futex}, ptr @ember.pool.gen" in runtime.runtime_ir(f"{arch}-linux-gnu")
    with pytest.raises(ValueError, match="does not support mips"):
        runtime.runtime_ir("mips-unknown-linux-gnu")


PROGRAM = '''
import numpy as np
import ember
from ember.lowering import parallel_runtime as runtime

@ember.script
def f(x):
    return np.tanh(x) * 1.5 + x

def want(x):
    return np.tanh(x) * np.float32(1.5) + x

X = np.random.default_rng(3).standard_normal(100_000).astype(np.float32)
runtime.set_grain(0)  # split every loop
'''


def _python(tmp_path, body: str, env=None, timeout=180) -> list[str]:
    """Run PROGRAM + body in a fresh interpreter; its stdout's words."""
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM + textwrap.dedent(body))
    env = {**os.environ, "EMBER_CACHE": "0", **(env or {})}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split()


@NEEDS_PROC
def test_pool_persists_grows_and_sleeps(tmp_path):
    """Workers are made once, on demand (more when the thread count grows), use no CPU when
    idle (asleep on the futex after a short spin), and leave signals to other threads."""
    out = _python(tmp_path, '''
        import os, time

        def tasks():
            return set(os.listdir("/proc/self/task"))

        def cpu_ticks(tid):
            fields = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12]), fields[0]

        ember.set_num_threads(1)
        assert np.allclose(f(X), want(X))
        base = tasks()
        counts = []
        for n in [3, 3, 3, 2, 1, 4, 2]:
            ember.set_num_threads(n)
            for _ in range(5):
                assert np.allclose(f(X), want(X), rtol=1e-6)
            counts.append(len(tasks() - base))
        workers = tasks() - base
        time.sleep(0.3)
        before = {t: cpu_ticks(t) for t in workers}
        time.sleep(1.0)
        after = {t: cpu_ticks(t) for t in workers}
        used = sum(after[t][0] - before[t][0] for t in workers)

        def blocked(tid):
            status = open(f"/proc/self/task/{tid}/status").read()
            return int(status.split("SigBlk:")[1].split()[0], 16)

        masks = {blocked(t) != 0 for t in workers}
        print(*counts, used, *sorted(state for _, state in after.values()), *masks,
              blocked(os.getpid()))
    ''')
    assert out[:7] == ["2", "2", "2", "2", "2", "3", "3"]  # made on demand, kept
    assert out[7] == "0"  # no CPU time in a second of idleness (ticks of 10 ms)
    assert out[8:11] == ["S", "S", "S"]  # asleep
    assert out[11:] == ["True", "0"]  # workers block signals; the caller's mask is restored


def test_fork_children_rebuild_the_pool(tmp_path):
    """A forked child has no workers: its pool rebuilds, also when the fork happened while
    another thread held the pool (the child takes the parent's stale lock over)."""
    out = _python(tmp_path, '''
        import multiprocessing, os, threading, time

        def child(i):
            before = len(os.listdir("/proc/self/task"))
            ok = np.array_equal(f(X + i), expected[i])
            return ok, len(os.listdir("/proc/self/task")) - before

        ember.set_num_threads(2)
        expected = [f(X + i) for i in range(4)]  # the parent's pool exists
        with multiprocessing.get_context("fork").Pool(2) as pool:
            results = pool.map(child, range(4))
        print(all(ok for ok, _ in results), max(extra for _, extra in results))

        stop = threading.Event()
        big = np.ones(1 << 21, np.float32)

        def busy():
            while not stop.is_set():
                f(big)

        thread = threading.Thread(target=busy)
        thread.start()
        time.sleep(0.05)
        pids = []
        for i in range(8):
            pid = os.fork()
            if pid == 0:
                os._exit(0 if np.array_equal(f(X + 1), expected[1]) else 1)
            pids.append(pid)
            time.sleep(0.005)
        stop.set()
        thread.join()
        print(sorted({os.waitpid(pid, 0)[1] for pid in pids}))
    ''', timeout=120)
    assert out == ["True", "1", "[0]"]


def test_loaded_artifact_links_the_runtime(tmp_path):
    """A saved function's machine code calls the runtime: a fresh process links it on load."""
    path = tmp_path / "f.ember"
    _python(tmp_path, f'''
        f(X)
        ember.save(f, {str(path)!r})
    ''')
    out = _python(tmp_path, f'''
        g = ember.load({str(path)!r})
        results = []
        for n in [1, 2, 3]:
            ember.set_num_threads(n)
            results.append(np.array_equal(g(X), f(X)) and np.allclose(g(X), want(X), rtol=1e-6))
        print(*results)
    ''')
    assert out == ["True", "True", "True"]


#: Halvings of each element until it is at most 1, summed: a body with an scf.while, which
#: the work estimate counts as large, so the loop splits even at the default grain.
HALVINGS = """
func.func @f(%x: memref<?xi64>) -> memref<i64> attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %n = memref.dim %x, %c0 : memref<?xi64>
  %out = memref.alloc() {ember.result = 0 : i64} : memref<i64>
  %s = loop.parallel (%i) = (%c0) to (%n) step (%c1) reduce(add) init(%acc = %zero) -> (i64) {
    %v = memref.load %x[%i] : memref<?xi64>
    %r:2 = scf.while (%a = %v, %k = %zero) : (i64, i64) -> (i64, i64) {
      %big = arith.cmpi sgt, %a, %one : i64
      scf.condition(%big) %a, %k : i64, i64
    } do {
    ^bb0(%b: i64, %kk: i64):
      %h = arith.shrsi %b, %one : i64
      %k1 = arith.addi %kk, %one : i64
      scf.yield %h, %k1 : i64, i64
    }
    %t = arith.addi %acc, %r#1 : i64
    loop.yield %t : i64
  }
  memref.store %s, %out[] : memref<i64>
  func.return %out : memref<i64>
}
"""
OUTLINE = next(k for k, (_, p) in enumerate(et.pipeline()) if p.name == "parallel-outline")


@et.fuzz_settings(6, long=100)
@given(st.lists(st.integers(-5, 1 << 40), max_size=70), st.sampled_from([1, 2, 3]))
def test_while_bodies_split_and_compute_the_same(values, threads):
    """The loop computes the same with and without parallel-outline, and what Python does."""
    program = et.Program.from_module(HALVINGS, [np.array(values, np.int64)], position=OUTLINE,
                                     results=[(np.dtype(np.int64), 0)])
    rest = [p for _, p in et.pipeline()[OUTLINE:]]
    saved = ember.get_num_threads()
    ember.set_num_threads(threads)
    try:
        serial = et.run_jit(program, [p for p in rest if p.name != "parallel-outline"])
        outlined = et.run_jit(program, rest)
    finally:
        ember.set_num_threads(saved)
    want = sum(max(v, 1).bit_length() - 1 for v in values)
    assert int(serial.values[0]) == int(outlined.values[0]) == want
    chunks = runtime_chunks(len(values), (3 + 4 * 2**32) * len(values), threads)
    n, full = len(values), runtime.CHUNKS_PER_THREAD * threads
    split = full if n >= full else n if n < threads else n // threads * threads
    assert chunks == (1 if threads == 1 or n <= 1 else split)  # as many as the trip allows


def runtime_chunks(trip: int, work: float, threads: int) -> int:
    """What the JIT's ember_parallel_chunks answers, at the default grain."""
    from ember.lowering.jit import Engine

    engine = Engine("declare i64 @ember_parallel_chunks(i64, double)\n"
                    "define i64 @ask(i64 %t, double %w) {\n"
                    "  %c = call i64 @ember_parallel_chunks(i64 %t, double %w)\n  ret i64 %c\n}")
    ask = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_double)(engine.address("ask"))
    saved = ember.get_num_threads()
    ember.set_num_threads(threads)
    try:
        return ask(trip, work)
    finally:
        ember.set_num_threads(saved)


def test_runtime_machine_code_is_cached(tmp_path):
    """The runtime's (and the result allocator's) object code goes to the disk cache, with its hash: a damaged entry is
    compiled again, not loaded (LLVM would crash on it)."""
    import hashlib

    env = {"EMBER_CACHE": "1", "EMBER_CACHE_DIR": str(tmp_path / "cache")}
    body = '''
        ember.set_num_threads(2)
        print(np.allclose(f(X), want(X), rtol=1e-6))
    '''
    assert _python(tmp_path, body, env) == ["True"]
    [entry] = (tmp_path / "cache" / "runtime").iterdir()
    data = entry.read_bytes()
    assert hashlib.sha256(data[32:]).digest() == data[:32] and data[33:36] == b"ELF"
    [alloc] = (tmp_path / "cache" / "pyalloc").iterdir()  # the result allocator's code too
    alloc_data = alloc.read_bytes()
    assert hashlib.sha256(alloc_data[32:]).digest() == alloc_data[:32]
    entry.write_bytes(data[:32] + b"\x7fELF" + bytes(len(data) - 36))
    assert _python(tmp_path, body, env) == ["True"]
    assert entry.read_bytes() == data  # compiled again, and the entry repaired
    assert alloc.read_bytes() == alloc_data  # loaded, not written again


def test_runtime_linked_on_a_thread_and_forks_meanwhile(tmp_path):
    """A first compile starts linking the runtime on a thread (``start_runtime_link``) while
    its passes run. The compile that needs it waits for it; a child forked while that thread
    holds the runtime's lock (the thread does not exist in the child) links its own."""
    out = _python(tmp_path, '''
        import os
        from ember.lowering import jit

        jit.start_runtime_link()
        pids = []
        for i in range(4):  # forks racing the thread: at least the first ones hit it running
            pid = os.fork()
            if pid == 0:
                ok = np.allclose(f(X + i), want(X + i))
                os._exit(0 if ok else 3)
            pids.append(pid)
        codes = [os.waitpid(p, 0)[1] for p in pids]
        print(codes == [0] * 4, np.allclose(f(X), want(X)), len(jit._runtime))
    ''', env={"EMBER_CACHE_DIR": str(tmp_path / "cache"), "EMBER_CACHE": "1"}, timeout=120)
    assert out == ["True", "True", "1"]
