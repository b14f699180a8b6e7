"""The benchmark workloads (NumPy source, compiled as is by each backend) and peer adapters.

A workload is NumPy source that ember scripts as is. ``reference`` is what the "numpy" row
runs: the source itself, except for the scalar-loop programs of ``loops.py``, whose NumPy
row is a vectorized equivalent. ``PEERS[name](module, workload, args)`` prepares one backend
and returns a :class:`Prepared` (or raises: the runner turns that into a "skipped" row).
"""

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loops  # noqa: E402
from loops import jacobi, mandelbrot, mandelbrot_prange, numba_loops, prefix_sum  # noqa: E402

f32 = np.float32
GELU_C = 0.7978845608028654  # sqrt(2 / pi)


def f(x, y, a: float):
    """The README's example: a compile-latency workload."""
    return np.tanh(x * a + y) * 0.5 + x.sum(axis=1, keepdims=True)


def chain(x, a: float, b):
    return np.tanh(x * a + b) * 0.5 + x


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


def total(x):
    return x.sum()


def row_sums(x):
    return x.sum(axis=1)


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def layer_norm(x, gamma, beta):
    mu = x.mean(axis=1, keepdims=True)
    d = x - mu
    var = (d * d).mean(axis=1, keepdims=True)
    return d / np.sqrt(var + 1e-5) * gamma + beta


def matmul(a, b):
    return a @ b


def mlp(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0.0)
    z = h @ w2 + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def plus_one(x):
    return x + 1


def mandelbrot_numpy(h: int, w: int, max_iter: int):
    """``loops.mandelbrot`` vectorized: the same float64 arithmetic, masked per iteration."""
    cr = np.broadcast_to(-2.0 + 3.0 * np.arange(w) / w, (h, w))
    ci = np.broadcast_to((-1.5 + 3.0 * np.arange(h) / h)[:, None], (h, w))
    zr, zi = np.zeros((h, w)), np.zeros((h, w))
    out = np.zeros((h, w), np.int64)
    live = np.ones((h, w), bool)
    for _ in range(max_iter):
        live &= zr * zr + zi * zi <= 4.0
        if not live.any():
            break
        zr, zi = (np.where(live, zr * zr - zi * zi + cr, zr),
                  np.where(live, 2.0 * zr * zi + ci, zi))
        out += live
    return out


def jacobi_numpy(a, iters: int):
    a, new = a.copy(), a.copy()
    for _ in range(iters):
        new[1:-1, 1:-1] = 0.25 * (a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:])
        a, new = new, a
    return a


def torch_sources(torch) -> dict[str, Callable]:
    """Tensor versions of the workloads, one op per NumPy op, TorchScript-able (closures over
    ``torch``); ``<key>:builtin`` entries are torch's fused library op for the same math."""
    F = torch.nn.functional

    def t_chain(x, a: float, b):
        return torch.tanh(x * a + b) * 0.5 + x

    def t_chain_scalar(x, a: float, b: float):
        return torch.tanh(x * a + b) * 0.5 + x

    def t_gelu(x):
        return 0.5 * x * (1.0 + torch.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))

    def t_total(x):
        return x.sum()

    def t_row_sums(x):
        return x.sum(dim=1)

    def t_softmax(x):
        e = torch.exp(x - torch.amax(x, dim=1, keepdim=True))
        return e / e.sum(dim=1, keepdim=True)

    def t_layer_norm(x, gamma, beta):
        mu = x.mean(dim=1, keepdim=True)
        d = x - mu
        var = (d * d).mean(dim=1, keepdim=True)
        return d / torch.sqrt(var + 1e-5) * gamma + beta

    def t_matmul(a, b):
        return a @ b

    def t_mlp(x, w1, b1, w2, b2):
        h = torch.relu(x @ w1 + b1)
        z = h @ w2 + b2
        e = torch.exp(z - torch.amax(z, dim=1, keepdim=True))
        return e / e.sum(dim=1, keepdim=True)

    def t_plus_one(x):
        return x + 1

    return {
        "chain": t_chain, "chain-scalar": t_chain_scalar, "gelu": t_gelu, "sum": t_total,
        "rowsum": t_row_sums, "softmax": t_softmax, "layernorm": t_layer_norm,
        "matmul": t_matmul, "matmul1024": t_matmul, "mlp": t_mlp, "overhead": t_plus_one,
        "gelu:builtin": lambda x: F.gelu(x, approximate="tanh"),
        "softmax:builtin": lambda x: torch.softmax(x, 1),
        "layernorm:builtin": lambda x, g, b: F.layer_norm(x, (x.shape[1],), g, b, 1e-5),
    }


@dataclass(frozen=True)
class Workload:
    """One table section. ``work(args)`` is the amount a call moves or computes, in the unit
    of ``limit``: bytes for "stream"/"read" (memory bandwidth), flops for "flops", else None."""
    key: str
    name: str
    source: Callable
    make: Callable  # (rng, quick) -> args
    reference: Callable | None = None
    work: Callable | None = None
    limit: str | None = None
    unit: str = ""

    @property
    def numpy(self) -> Callable:
        return self.reference or self.source

    def label(self, args: tuple) -> str:
        """The name with ``{shape}`` filled in from the first argument: ``2048x2048``."""
        shape = getattr(args[0], "shape", args[:2])
        shapes = " · ".join("x".join(map(str, a.shape)) for a in args if np.ndim(a) == 2)
        return self.name.format(shape="x".join(map(str, shape)), shapes=shapes)

    def rate(self, seconds: float, args: tuple) -> float | None:
        """GB/s, GFLOP/s or Mitems/s of one call taking ``seconds``."""
        return None if self.work is None else self.work(args) / seconds / 1e9 * (
            1e3 if self.unit.startswith("M") else 1)


def _elements(quick: bool) -> int:
    return 1 << 16 if quick else 1 << 22


def _square(rng, quick, n=2048, count=1):
    return tuple(rng.standard_normal((n // 8, n // 8) if quick else (n, n), f32)
                 for _ in range(count))


def _mlp_args(rng, quick):
    b, d, h, o = (16, 128, 256, 64) if quick else (64, 512, 1024, 256)
    return (rng.standard_normal((b, d), f32), rng.standard_normal((d, h), f32) * d**-0.5,
            rng.standard_normal(h, f32), rng.standard_normal((h, o), f32) * h**-0.5,
            rng.standard_normal(o, f32))


def _gemm_flops(args):
    return 2 * args[0].shape[0] * args[0].shape[1] * args[1].shape[1]


def _mlp_flops(args):
    x, w1, _, w2, _ = args
    return 2 * x.shape[0] * (w1.shape[0] * w1.shape[1] + w2.shape[0] * w2.shape[1])


def _nbytes(count: int) -> Callable:
    return lambda args: count * args[0].nbytes


WORKLOADS = [
    Workload("chain", "tanh(x*a+b)*0.5+x, {shape} f32, b array", chain,
             lambda rng, q: (rng.standard_normal(_elements(q), f32), 0.5,
                             rng.standard_normal(_elements(q), f32)),
             work=_nbytes(3), limit="stream", unit="GB/s"),
    Workload("chain-scalar", "tanh(x*a+b)*0.5+x, {shape} f32, b scalar", chain,
             lambda rng, q: (rng.standard_normal(_elements(q), f32), 0.5, 0.25),
             work=_nbytes(2), limit="stream", unit="GB/s"),
    Workload("gelu", "gelu (tanh form), {shape} f32", gelu,
             lambda rng, q: (rng.standard_normal(_elements(q), f32),),
             work=_nbytes(2), limit="stream", unit="GB/s"),
    Workload("sum", "x.sum(), {shape} f32", total,
             lambda rng, q: (rng.standard_normal(_elements(q), f32),),
             work=_nbytes(1), limit="read", unit="GB/s"),
    Workload("rowsum", "x.sum(axis=1), {shape} f32", row_sums, _square,
             work=_nbytes(1), limit="read", unit="GB/s"),
    Workload("softmax", "softmax over rows, {shape} f32", softmax, _square,
             work=_nbytes(2), limit="stream", unit="GB/s"),
    Workload("layernorm", "layer_norm over rows (eps 1e-5, gamma, beta), {shape} f32",
             layer_norm,
             lambda rng, q: (*_square(rng, q), rng.standard_normal(256 if q else 2048, f32),
                             rng.standard_normal(256 if q else 2048, f32)),
             work=_nbytes(2), limit="stream", unit="GB/s"),
    Workload("matmul", "a @ b, {shape} f32", matmul,
             lambda rng, q: _square(rng, q, 512, 2),
             work=_gemm_flops, limit="flops", unit="GFLOP/s"),
    Workload("matmul1024", "a @ b, {shape} f32", matmul,
             lambda rng, q: _square(rng, q, 1024, 2),
             work=_gemm_flops, limit="flops", unit="GFLOP/s"),
    Workload("mlp", "MLP fwd {shapes}: relu, softmax; f32", mlp, _mlp_args,
             work=_mlp_flops, limit="flops", unit="GFLOP/s"),
    Workload("mandelbrot", "mandelbrot {shape}, max_iter 100 (loops.py)", mandelbrot,
             lambda rng, q: (50, 50, 100) if q else (200, 200, 100), mandelbrot_numpy,
             work=lambda args: args[0] * args[1], unit="Mpixel/s"),
    Workload("jacobi", "Jacobi 5-point, 10 iters, {shape} f64 (loops.py)", jacobi,
             lambda rng, q: (rng.random((128, 128) if q else (512, 512)), 10), jacobi_numpy,
             work=lambda args: args[0].size * args[1], unit="Mupdate/s"),
    Workload("prefix", "prefix sum, {shape} f32 (loops.py)", prefix_sum,
             lambda rng, q: (rng.random(1 << 16 if q else 1_000_000, f32),),
             lambda x: np.cumsum(x, dtype=x.dtype), work=lambda args: args[0].size,
             unit="Melem/s"),
    Workload("overhead", "call overhead: x + 1, {shape} f32", plus_one,
             lambda rng, q: (np.arange(4, dtype=f32),)),
]
LOOP_PROGRAMS = {"mandelbrot", "jacobi", "prefix"}


class NotApplicable(Exception):
    """A peer that has no version of a workload at all: the runner prints no row for it."""


@dataclass
class Prepared:
    fn: Callable
    args: tuple
    note: str
    first_call: float  # seconds of the first call (0.0: nothing compiled)
    first_out: object


def _first(fn, args, note: str = "") -> Prepared:
    t0 = time.perf_counter()
    out = fn(*args)
    return Prepared(fn, args, note, time.perf_counter() - t0, out)


def _ember(ember, w: Workload, args, threads: int) -> Prepared:
    return _first(ember.script(w.source), args)


#: ember.prange versions of the loop programs (their rows run on threads)
PRANGE_SOURCES = {"mandelbrot": mandelbrot_prange}


def _ember_prange(ember, w: Workload, args, threads: int) -> Prepared:
    if w.key not in PRANGE_SOURCES:
        raise NotApplicable(w.key)
    loops.prange = ember.prange
    return _first(ember.script(PRANGE_SOURCES[w.key]), args, "rows under ember.prange")


def _numba(numba, w: Workload, args, threads: int, parallel: bool = False) -> Prepared:
    p = _first(numba.njit(parallel=parallel)(w.source), args)
    want = np.asarray(w.numpy(*args))
    if np.asarray(p.first_out).dtype != want.dtype:
        p.note = f"result {np.asarray(p.first_out).dtype} (numba promotes)"
    return p


def _numba_parallel(numba, w: Workload, args, threads: int) -> Prepared:
    if w.key in LOOP_PROGRAMS:
        raise NotApplicable("parallel=True does not parallelize range loops (needs prange)")
    return _numba(numba, w, args, threads, parallel=True)


def _torch_fn(torch, w: Workload, args, variant: str = ""):
    sources = torch_sources(torch)
    key = w.key + (":" + variant if variant else "")
    if key not in sources:
        raise NotApplicable(key)
    targs = tuple(torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args)
    return sources[key], targs


def _torch(torch, w: Workload, args, threads: int) -> Prepared:
    return _first(*_torch_fn(torch, w, args), "eager")


def _torch_builtin(torch, w: Workload, args, threads: int) -> Prepared:
    fn, targs = _torch_fn(torch, w, args, "builtin")
    name = {"gelu": "F.gelu(approximate='tanh')", "softmax": "torch.softmax",
            "layernorm": "F.layer_norm"}[w.key]
    return _first(fn, targs, name)


def _wrapped(wrap: Callable, torch, w: Workload, args) -> Prepared:
    """``wrap(fn)`` then the first call; ``first_call`` counts both."""
    fn, targs = _torch_fn(torch, w, args)
    t0 = time.perf_counter()
    p = _first(wrap(fn), targs)
    p.first_call = time.perf_counter() - t0
    return p


def _torch_script(torch, w: Workload, args, threads: int) -> Prepared:
    return _wrapped(torch.jit.script, torch, w, args)


def _torch_compile(torch, w: Workload, args, threads: int) -> Prepared:
    return _wrapped(torch.compile, torch, w, args)


PEERS: dict[str, tuple[str, Callable]] = {
    # backend name -> (module to import, adapter)
    "ember": ("ember", _ember),
    "ember prange": ("ember", _ember_prange),
    "numba": ("numba", _numba),
    "numba parallel": ("numba", _numba_parallel),
    "torch": ("torch", _torch),
    "torch builtin": ("torch", _torch_builtin),
    "torch.jit.script": ("torch", _torch_script),
    "torch.compile": ("torch", _torch_compile),
}


def _numba_loops(numba, w: Workload, args, threads: int, parallel: bool = False) -> Prepared:
    kernels = numba_loops(numba)
    if w.key not in kernels:
        raise NotApplicable(w.key)
    loops.prange = numba.prange  # mandelbrot_prange, compiled by Numba at its first call
    fast = w.key not in LOOP_PROGRAMS  # the loop programs keep IEEE semantics, as in ember
    notes = ["fastmath"] * fast + ["prange"] * parallel
    return _first(numba.njit(fastmath=fast, parallel=parallel)(kernels[w.key]), args,
                  ", ".join(notes))


def _numba_loops_parallel(numba, w: Workload, args, threads: int) -> Prepared:
    return _numba_loops(numba, w, args, threads, parallel=True)


PEERS.update({"numba loops": ("numba", _numba_loops),
              "numba loops parallel": ("numba", _numba_loops_parallel)})
