"""Parallel loops run on threads (``parallel-outline`` + the runtime in LLVM IR).

Most tests set the grain to 0, so that every outlined loop splits into as many chunks as
there are threads (small arrays included), and compare with NumPy for 1, 2, 3 and 7
threads: more threads than cores, and than iterations.
"""

import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given

import ember
import ember.testing as et
from ember.export import ExportError
from ember.lowering import parallel_runtime as runtime
from ember.lowering.parallel_outline import ParallelOutlinePass

THREADS = [1, 2, 3, 7]
RNG = np.random.default_rng(7)


@contextmanager
def threads(n: int, grain: int = 0):
    saved = ember.get_num_threads(), runtime.get_grain()
    ember.set_num_threads(n)
    runtime.set_grain(grain)
    try:
        yield
    finally:
        ember.set_num_threads(saved[0])
        runtime.set_grain(saved[1])


@ember.script
def chain(x, a: float, b: float):
    return np.tanh(x * a + b) * 0.5 + x


@ember.script
def broadcast(x, y, z):
    return x * y + z


@ember.script
def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@ember.script
def matmul(a, b):
    return a @ b


@ember.script
def reductions(x):
    return (x.sum(), x.sum(axis=0), x.max(axis=1), x.min(axis=0, keepdims=True),
            x.mean(axis=1, keepdims=True), x.max(), x.min())


@ember.script
def total(x):
    return x.sum()


@ember.script
def int_power(x, y):
    return x ** y + 1


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("n", THREADS)
def test_elementwise_and_broadcasting(n):
    x, y, z = f32(37, 23), f32(23), f32(37, 1)
    with threads(n):
        np.testing.assert_allclose(chain(x, 0.5, 0.25),
                                   np.tanh(x * np.float32(0.5) + np.float32(0.25)) * 0.5 + x,
                                   rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(broadcast(x, y, z), x * y + z)
        np.testing.assert_array_equal(broadcast(y, y, y), y * y + y)


@pytest.mark.parametrize("n", THREADS)
def test_reductions(n):
    x = f32(29, 17)
    x[3, 4] = np.nan
    expected = (x.sum(dtype=np.float64), x.sum(axis=0, dtype=np.float64), x.max(axis=1),
                x.min(axis=0, keepdims=True), x.mean(axis=1, keepdims=True, dtype=np.float64),
                x.max(), x.min())
    with threads(n):
        got = reductions(x)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, np.asarray(e, dtype=np.float32), rtol=1e-5, atol=1e-6,
                                   equal_nan=True)  # f32 partial sums: a row mean near 0
    ints = RNG.integers(-50, 50, (13, 6))
    with threads(n):
        assert reductions(ints)[0] == ints.sum()
        np.testing.assert_array_equal(reductions(ints)[2], ints.max(axis=1))
        np.testing.assert_array_equal(reductions(ints)[3], ints.min(axis=0, keepdims=True))


@pytest.mark.parametrize("n", THREADS)
def test_softmax_and_matmul(n):
    x = f32(19, 33)
    a, b = f32(9, 13), f32(13, 37)  # edges of the 4 x 32 register tiles
    with threads(n):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        np.testing.assert_allclose(softmax(x), e / e.sum(axis=1, keepdims=True), rtol=1e-5)
        np.testing.assert_allclose(matmul(a, b), a @ b, rtol=1e-5, atol=1e-5)
        big = f32(70, 40)
        np.testing.assert_allclose(matmul(big, big.T.copy()), big @ big.T, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n", THREADS)
@pytest.mark.parametrize("shape", [(0,), (0, 5), (5, 0), (1,), (2,), (1, 3), (3, 1)])
def test_fewer_iterations_than_threads(n, shape):
    x = f32(*shape)
    with threads(n):
        np.testing.assert_allclose(chain(x, 2.0, 1.0), np.tanh(x * 2 + 1) * 0.5 + x, rtol=1e-6)
        np.testing.assert_allclose(total(x), x.sum(dtype=np.float64), rtol=1e-6)
        if x.ndim == 2:
            e = np.exp(x - x.max(axis=1, keepdims=True)) if x.shape[1] else x
            if x.shape[1]:
                np.testing.assert_allclose(softmax(x), e / e.sum(axis=1, keepdims=True), rtol=1e-6)


@pytest.mark.parametrize("n", [2, 3, 7])
def test_deterministic_for_a_thread_count(n):
    x = f32(100_003)
    with threads(n):
        first = [total(x).tobytes() for _ in range(5)]
    assert len(set(first)) == 1
    with threads(n, grain=runtime.DEFAULT_GRAIN):
        again = total(x)
    np.testing.assert_allclose(again, x.sum(dtype=np.float64), rtol=1e-5)  # NumPy's f32: 2e-5


@pytest.mark.parametrize("n", THREADS)
def test_assert_inside_a_parallel_loop(n):
    x = np.arange(1, 41, dtype=np.int64).reshape(8, 5)
    y = np.full((8, 5), 2, dtype=np.int64)
    with threads(n):
        np.testing.assert_array_equal(int_power(x, y), x ** y + 1)
        y[6, 3] = -1  # in the last chunk
        with pytest.raises(ValueError, match="Integers to negative integer powers are not allowed"):
            int_power(x, y)


def test_outlined_ir():
    """The module only declares the runtime: the JIT links the process-wide one."""
    chain(f32(4), 1.0, 1.0)
    text = chain.ir("llvm")
    assert "llvm.func internal @chain_parallel0(" in text
    assert "llvm.call @ember_parallel_for(" in text
    assert "llvm.func @ember_parallel_for(!llvm.ptr, !llvm.ptr, i64) -> i32\n" in text
    assert "ember_num_threads" not in text and "pthread" not in text
    assert 'declare i32 @"ember_parallel_for"(ptr' in chain.llvm_ir()


@ember.script
def repeated_tanh(x, k: int):
    for _ in range(k):
        x = np.tanh(x) * 1.5
    return x


@pytest.mark.parametrize("n", [1, 2])
def test_native_call_releases_the_gil(n):
    """The main thread keeps running Python while a long parallel call runs in another."""
    x = f32(1 << 20)
    repeated_tanh(x[:4], 1)  # compile first
    done, result = threading.Event(), []

    def work():
        result.append(repeated_tanh(x, 40))
        done.set()

    with threads(n, grain=runtime.DEFAULT_GRAIN):
        caller = threading.Thread(target=work)
        caller.start()
        spins = 0
        while not done.is_set():
            spins += 1
            time.sleep(0.0002)
        caller.join()
    assert spins > 10
    expected = x
    for _ in range(40):
        expected = np.tanh(expected) * np.float32(1.5)
    np.testing.assert_allclose(result[0], expected, rtol=1e-5, atol=1e-6)


def test_set_num_threads_validates():
    with pytest.raises(ValueError):
        ember.set_num_threads(0)
    with pytest.raises(TypeError):
        ember.set_num_threads(2.5)


def test_env_var_sets_the_default():
    code = "import ember; print(ember.get_num_threads())"
    env = dict(os.environ, EMBER_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "3"


EXPORTED_CALL = """
import ctypes, os, sys, threading, time
import numpy as np

class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("ndim", ctypes.c_int64),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64))]

lib = ctypes.CDLL(sys.argv[1])
lib.ember_free.argtypes = [ctypes.c_void_p]
x = np.full(1 << 20, 0.5, np.float32)
shape = (ctypes.c_int64 * 1)(x.size)
arg = Tensor(x.ctypes.data, 1, shape, None)
out = Tensor(None, 0, (ctypes.c_int64 * 1)(), None)
done = []
worker = threading.Thread(target=lambda: done.append(lib.repeated_tanh(
    ctypes.byref(arg), ctypes.c_int64(40), ctypes.byref(out), None)))
base = len(os.listdir("/proc/self/task"))
worker.start()
most = base
while worker.is_alive():
    most = max(most, len(os.listdir("/proc/self/task")))
    time.sleep(0.0002)
y = np.frombuffer((ctypes.c_float * x.size).from_address(out.data), np.float32).copy()
lib.ember_free(out.data)
expected = x
for _ in range(40):
    expected = np.tanh(expected) * np.float32(1.5)
print(done[0], most - base, float(np.abs(y - expected).max()), hasattr(lib, "ember_parallel_for"))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc")
def test_exported_library_reads_the_environment(tmp_path):
    """A library has its own pool; without the JIT the thread count comes from
    $EMBER_NUM_THREADS, read by the runtime."""
    repeated_tanh(f32(4), 1)
    try:
        ember.export(repeated_tanh, str(tmp_path / "librt.so"))
    except ExportError as e:  # no C compiler to link the library
        pytest.skip(str(e))
    script = tmp_path / "call.py"
    script.write_text(EXPORTED_CALL)
    env = dict(os.environ, EMBER_NUM_THREADS="3")
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "librt.so")], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[:2] == ["0", "3"]  # status 0; the calling thread plus two workers
    assert float(out[2]) < 1e-5
    assert out[3] == "False"  # the library's own pool: the runtime is internal


OUTLINE = next(k for k, (_, p) in enumerate(et.pipeline()) if p.name == "parallel-outline")


@et.fuzz_settings(8, long=150)
@given(et.programs(ops=list(et.OPS), max_ops=6,
                   edge_values=tuple(k for k in et.EDGE_KINDS if k not in ("large", "limits"))))
def test_outline_preserves_semantics(program):
    """Every loop split into chunks (grain 0, three threads) computes what the program does."""
    with threads(3):
        et.check_rewrite(program.lowered(OUTLINE), ParallelOutlinePass())
