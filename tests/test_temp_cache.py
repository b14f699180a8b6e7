"""The allocator of temporaries in ember's runtime (``ember.lowering.parallel_runtime``,
"Temporaries"): aligned blocks with a size header, large freed blocks kept for reuse.

The allocator is called directly through the JIT (alignment, capacity, which block is reused,
the 2x rule, eviction, release), and through compiled functions: results equal NumPy across
many calls of varying sizes, on 2 threads and from concurrent Python threads, with the cache
off or small (fresh processes), after fork, from a saved artifact and an exported library.
"""

import ctypes
import os
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from xdsl.parser import Parser

import ember
from ember.context import make_context
from ember.lowering import parallel_runtime as runtime
from ember.lowering.jit import Engine, _uses_runtime
from stencils import jacobi as relax, jacobi_numpy as relax_numpy
from ember.lowering.parallel_runtime_ir import (TEMP_ALIGN, TEMP_CACHE_ENV, TEMP_CACHE_MIN_BYTES,
                                                TEMP_CACHE_SLOTS)

MiB = 1 << 20
DEFAULT_LIMIT = pytest.mark.skipif(TEMP_CACHE_ENV in os.environ,
                                   reason=f"{TEMP_CACHE_ENV} is set: the limit is not the default")

#: The runtime's allocator, callable from Python with addresses as integers.
ALLOCATOR = """
declare ptr @ember_temp_alloc(i64)
declare void @ember_temp_free(ptr)

define i64 @alloc(i64 %n) {
  %p = call ptr @ember_temp_alloc(i64 %n)
  %a = ptrtoint ptr %p to i64
  ret i64 %a
}

define void @release(i64 %a) {
  %p = inttoptr i64 %a to ptr
  call void @ember_temp_free(ptr %p)
  ret void
}
"""


def allocator():
    """``(engine, alloc, free)``: ``alloc(n)`` -> address (0: null), ``free(address)``."""
    engine = Engine(ALLOCATOR)
    alloc = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64)(engine.address("alloc"))
    free = ctypes.CFUNCTYPE(None, ctypes.c_uint64)(engine.address("release"))
    return engine, alloc, free


@pytest.fixture(scope="module")
def heap():
    engine, alloc, free = allocator()
    runtime.release_memory()
    yield alloc, free
    runtime.release_memory()
    del engine


def capacity(address: int) -> int:
    return ctypes.c_int64.from_address(address - 8).value


def test_blocks_are_aligned_and_as_large_as_asked(heap):
    alloc, free = heap
    for n in [1, 8, 100, 4096, TEMP_CACHE_MIN_BYTES - 1, 300_000, 5 * MiB]:
        p = alloc(n)
        assert p % TEMP_ALIGN == 0 and capacity(p) >= n
        ctypes.memset(p, 0xAB, n)  # the whole block is ours
        free(p)
    free(0)  # like free(NULL)


def test_requests_past_2_62_bytes_fail(heap):
    alloc, _ = heap
    assert alloc(2**64 - 1) == 0 and alloc((1 << 62) + 1) == 0


def test_small_blocks_are_not_cached(heap):
    alloc, free = heap
    runtime.release_memory()
    free(alloc(TEMP_CACHE_MIN_BYTES - 1))
    assert runtime.cached_memory() == 0


def test_the_smallest_block_that_fits_within_2x_is_reused(heap):
    alloc, free = heap
    runtime.release_memory()
    one, three = alloc(1 * MiB), alloc(3 * MiB)
    free(one)
    free(three)
    assert runtime.cached_memory() == 4 * MiB
    assert alloc(1 * MiB - 100) == one  # the smaller of the two that fit
    assert alloc(2 * MiB) == three
    assert runtime.cached_memory() == 0
    free(one)
    free(three)
    small = alloc(400 << 10)  # 1 MiB would waste more than half: a new block
    big = alloc(4 * MiB)  # nothing cached is large enough
    assert small not in (one, three) and big not in (one, three)
    assert capacity(small) >= 400 << 10 and capacity(big) >= 4 * MiB
    free(small)
    free(big)
    assert runtime.release_memory() == (1 + 3 + 4) * MiB + (400 << 10)
    assert runtime.cached_memory() == 0


def test_growing_and_shrinking_requests_never_get_a_smaller_block(heap):
    alloc, free = heap
    runtime.release_memory()
    sizes = [int(300_000 * 1.07**k) for k in range(40)]
    reused = 0
    seen = set()
    for n in sizes + sizes[::-1] + sizes[::3]:
        p = alloc(n)
        assert capacity(p) >= n and p % TEMP_ALIGN == 0
        reused += p in seen
        seen.add(p)
        ctypes.memset(p, 0x5A, n)
        free(p)
    assert reused > len(sizes)  # shrinking requests find their blocks
    runtime.release_memory()


@DEFAULT_LIMIT
def test_the_least_recently_cached_block_is_evicted_from_full_slots(heap):
    alloc, free = heap
    runtime.release_memory()
    blocks = [alloc(MiB) for _ in range(TEMP_CACHE_SLOTS + 1)]
    for p in blocks:
        free(p)
    assert runtime.cached_memory() == TEMP_CACHE_SLOTS * MiB
    again = {alloc(MiB) for _ in range(TEMP_CACHE_SLOTS)}
    assert again == set(blocks[1:])
    for p in again:
        free(p)
    runtime.release_memory()


def test_modules_only_declare_the_allocator():
    """A definition would make a cache of the module's own; a wrong type, wrong arguments."""
    defined = Parser(make_context(), """
    builtin.module {
      llvm.func @ember_temp_free(%p: !llvm.ptr) {
        llvm.return
      }
    }""").parse_module()
    with pytest.raises(ValueError, match=r"^@ember_temp_free must be a declaration \(!llvm.ptr\) "
                       "-> !llvm.void of the threads runtime, found a definition$"):
        runtime.ParallelRuntimePass().apply(make_context(), defined)
    narrow = Parser(make_context(), "llvm.func @ember_temp_alloc(i32) -> !llvm.ptr").parse_module()
    with pytest.raises(ValueError, match=r"found \(i32\) -> !llvm.ptr$"):
        runtime.ParallelRuntimePass().apply(make_context(), narrow)


def test_a_module_naming_the_allocator_links_the_runtime():
    assert _uses_runtime("declare void @ember_temp_free(ptr)")
    assert _uses_runtime(b"\0ember_temp_alloc\0")
    assert not _uses_runtime("declare ptr @malloc(i64)")


# -- through compiled functions ------------------------------------------------------------


def mirrored(x):
    """A temporary of ``x``'s size."""
    y = x * 2.0
    return y[::-1] + x


def matmul_tanh(a, b):
    """Packing buffers per task of the matmul (on the pool's threads), and a temporary."""
    return np.tanh(a @ b) @ b


RELAX, MIRRORED, MATMUL_TANH = map(ember.script, (relax, mirrored, matmul_tanh))


def allocated_sizes(f) -> list[str]:
    """The byte counts ``f``'s compiled code asks ``ember_temp_alloc`` for (constants or
    LLVM values)."""
    return [m[1] for spec in f._cache.values()
            for m in re.finditer(r'call ccc ptr @"ember_temp_alloc"\(i64 ([^)]*)\)', spec.llvm_ir)]


def check_relax(n: int, m: int, seed: int) -> None:
    a = np.random.default_rng(seed).random((n, m))
    np.testing.assert_allclose(RELAX(a.copy(), 3), relax_numpy(a, 3), rtol=1e-14)


def test_many_calls_of_varying_sizes_equal_numpy():
    runtime.release_memory()
    for k, n in enumerate([300, 700, 512, 64, 1000, 600, 720, 360, 1024, 90, 700, 300]):
        check_relax(n, n + k, k)
        x = np.random.default_rng(k).standard_normal(n * (n + k))
        np.testing.assert_array_equal(MIRRORED(x), (x * 2.0)[::-1] + x)
    for f in (RELAX, MIRRORED):  # temporaries of the arguments' size
        assert any(size.startswith("%") for size in allocated_sizes(f))
    assert 0 < runtime.cached_memory() <= 256 * MiB


def matmul_case(n: int, seed: int):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n)).astype(np.float32) / np.float32(np.sqrt(n))
    b = rng.standard_normal((n, n)).astype(np.float32) / np.float32(np.sqrt(n))
    return a, b


def test_python_threads_and_pool_threads_allocate_concurrently():
    """Four Python threads call compiled functions at once (the GIL is released while they
    run), whose parallel loops run on 2 threads: every result equals the one computed alone."""
    saved = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        cases = [(RELAX, (np.random.default_rng(k).random((400 + 50 * k, 500)), 4))
                 for k in range(3)]
        cases += [(MIRRORED, (np.random.default_rng(k).standard_normal(300_000 * k),))
                  for k in range(1, 4)]
        cases += [(MATMUL_TANH, matmul_case(n, n)) for n in (300, 520, 1024)]
        # RELAX writes into its argument (its swap loop, as in Python): each call gets a copy
        fresh = lambda args: [a.copy() if isinstance(a, np.ndarray) else a for a in args]  # noqa: E731
        want = [f(*fresh(args)) for f, args in cases]
        np.testing.assert_allclose(want[-1], np.tanh(cases[-1][1][0] @ cases[-1][1][1]) @ cases[-1][1][1],
                                   rtol=1e-3, atol=1e-3)
        errors = []

        def worker(offset: int) -> None:
            try:
                for r in range(6):
                    k = (offset + r) % len(cases)
                    f, args = cases[k]
                    np.testing.assert_array_equal(f(*fresh(args)), want[k])
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(t * 2,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not any(t.is_alive() for t in threads), "a call deadlocked"
    finally:
        ember.set_num_threads(saved)
    assert not errors, errors[0]


# -- fresh processes -------------------------------------------------------------------------

PROGRAM = f'''
import ctypes, os, sys
import numpy as np
from xdsl.parser import Parser

import ember
from ember.context import make_context
from ember.lowering import parallel_runtime as runtime
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from test_temp_cache import RELAX, allocator, check_relax, MiB
'''


def _python(tmp_path, body: str, env=None) -> list[str]:
    """Run PROGRAM + body in a fresh interpreter; its stdout's words."""
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM + textwrap.dedent(body))
    env = {**os.environ, "EMBER_CACHE": "0", **(env or {})}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split()


def test_zero_turns_the_cache_off(tmp_path):
    out = _python(tmp_path, '''
        for k, n in enumerate([600, 300, 600, 600]):
            check_relax(n, n, k)
        engine, alloc, free = allocator()
        free(alloc(2 * MiB))
        print(runtime.cached_memory())
    ''', env={"EMBER_TEMP_CACHE_BYTES": "0"})
    assert out == ["0"]


def test_the_limit_holds_and_a_larger_block_is_freed(tmp_path):
    out = _python(tmp_path, '''
        engine, alloc, free = allocator()
        a, b, c = (alloc(2 * MiB) for _ in range(3))
        for p in (a, b, c):
            free(p)
        print(runtime.cached_memory() // MiB)
        print({alloc(2 * MiB), alloc(2 * MiB)} == {b, c})
        free(alloc(5 * MiB))
        print(runtime.cached_memory())
    ''', env={"EMBER_TEMP_CACHE_BYTES": str(4 * MiB)})
    assert out == ["4", "True", "0"]


def test_a_forked_child_reuses_what_it_inherited(tmp_path):
    out = _python(tmp_path, '''
        check_relax(600, 600, 0)
        inherited = runtime.cached_memory()
        pid = os.fork()
        if pid == 0:
            try:
                check_relax(600, 600, 1)
                ok = runtime.cached_memory() == inherited
            except BaseException:
                ok = False
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        check_relax(600, 600, 2)
        print(inherited > 0, status == 0)
    ''')
    assert out == ["True", "True"]


def test_a_loaded_artifact_links_the_allocator(tmp_path):
    path = tmp_path / "relax.ember"
    _python(tmp_path, f'''
        check_relax(300, 300, 0)
        ember.save(RELAX, {str(path)!r})
    ''')
    out = _python(tmp_path, f'''
        from test_temp_cache import relax_numpy
        g = ember.load({str(path)!r})
        a = np.random.default_rng(5).random((300, 300))
        print(all(np.allclose(g(a.copy(), 3), relax_numpy(a, 3), rtol=1e-14) for _ in range(5)))
        print(runtime.cached_memory() > 0)
    ''')
    assert out == ["True", "True"]


def test_an_exported_library_has_its_own_allocator(tmp_path):
    """The library links a copy of the runtime (internal: one cache per library)."""
    from test_export import HAVE_CC, call, read_elf

    ember.export(MIRRORED, tmp_path / "mirrored.o", signatures=["float64[?]"])
    _, symbols = read_elf(tmp_path / "mirrored.o")
    assert "madvise" in symbols  # the allocator's, for blocks of 4 MiB and more
    assert not [name for name, (binding, defined) in symbols.items()
                if name.startswith("ember_temp") and (binding != 0 or not defined)]
    if not HAVE_CC:
        pytest.skip("no C compiler to link the .so")
    ember.export(MIRRORED, tmp_path / "libmirrored.so", signatures=["float64[?]"])
    lib = ctypes.CDLL(str(tmp_path / "libmirrored.so"))
    for n in [400_000, 100_000, 400_000, 10, 1_000_000, 400_000]:
        x = np.random.default_rng(n).standard_normal(n)
        status, (y,) = call(lib, "mirrored", [x], [("float64", 1)])
        assert status == 0
        np.testing.assert_array_equal(y, (x * 2.0)[::-1] + x)


def test_public_api_reports_and_releases_the_cache():
    """``ember.cached_memory`` / ``ember.release_memory``: after a call whose temporaries are
    large, some bytes are kept; releasing returns them and leaves the count at zero."""
    x = np.random.default_rng(3).standard_normal((512, 513)).astype(np.float32)
    f = ember.script(_mirrored_for_api)
    np.testing.assert_allclose(f(x), _mirrored_for_api(x), rtol=1e-5)
    kept = ember.cached_memory()
    assert kept >= 512 * 513 * 4
    assert ember.release_memory() == kept
    assert ember.cached_memory() == 0
    np.testing.assert_allclose(f(x), _mirrored_for_api(x), rtol=1e-5)


def _mirrored_for_api(x):
    t = np.tanh(x)          # a temporary with three users: a buffer of its own
    return t.T @ t + t.sum()
