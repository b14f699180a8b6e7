"""The benchmark workloads (NumPy-style source, compiled by each backend) and peer adapters.

A workload is NumPy source that ember scripts as is; ``PEERS[name](module, workload, args)``
prepares one backend and returns ``(fn, call_args, note, first_call_seconds)``.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

f32 = np.float32


def f(x, y, a: float):
    """The README's example: the compile-latency workload."""
    return np.tanh(x * a + y) * 0.5 + x.sum(axis=1, keepdims=True)


def chain(x, a: float, b):
    return np.tanh(x * a + b) * 0.5 + x


def row_sums(x):
    return x.sum(axis=1)


def matmul(a, b):
    return a @ b


def plus_one(x):
    return x + 1


@dataclass(frozen=True)
class Workload:
    key: str
    name: str
    numpy: Callable
    make: Callable  # (rng, quick) -> args
    torch: Callable  # (torch, *tensor_args) -> tensor
    #: (seconds, args) -> "12.3 GB/s"; "" for pure-overhead rows
    rate: Callable = lambda t, args: ""

    def make_args(self, rng, quick: bool) -> tuple:
        return self.make(rng, quick)

    def label(self, args: tuple) -> str:
        """The name with ``{shape}`` filled in from the first argument: ``2048x2048``."""
        return self.name.format(shape="x".join(map(str, args[0].shape)))


def _gbs(nbytes: Callable) -> Callable:
    return lambda t, args: f"{nbytes(args) / t / 1e9:.1f} GB/s"


def _elements(quick: bool) -> int:
    return 1 << 16 if quick else 1 << 22


WORKLOADS = [
    Workload("chain", "tanh(x*a+b)*0.5+x, {shape} f32, b array", chain,
             lambda rng, q: (rng.standard_normal(_elements(q), f32), 0.5,
                             rng.standard_normal(_elements(q), f32)),
             lambda torch, x, a, b: torch.tanh(x * a + b) * 0.5 + x,
             _gbs(lambda args: 3 * args[0].nbytes)),
    Workload("chain-scalar", "tanh(x*a+b)*0.5+x, {shape} f32, b scalar", chain,
             lambda rng, q: (rng.standard_normal(_elements(q), f32), 0.5, 0.25),
             lambda torch, x, a, b: torch.tanh(x * a + b) * 0.5 + x,
             _gbs(lambda args: 2 * args[0].nbytes)),
    Workload("rowsum", "x.sum(axis=1), {shape} f32", row_sums,
             lambda rng, q: (rng.standard_normal((256, 256) if q else (2048, 2048), f32),),
             lambda torch, x: x.sum(dim=1),
             _gbs(lambda args: args[0].nbytes)),
    Workload("matmul", "a @ b, {shape} f32", matmul,
             lambda rng, q: tuple(rng.standard_normal((64, 64) if q else (512, 512), f32)
                                  for _ in range(2)),
             lambda torch, a, b: a @ b,
             lambda t, args: f"{2 * args[0].shape[0] ** 3 / t / 1e9:.1f} GFLOP/s"),
    Workload("overhead", "call overhead: x + 1, {shape} f32", plus_one,
             lambda rng, q: (np.arange(4, dtype=f32),),
             lambda torch, x: x + 1),
]


def _first_call(fn, args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def _ember(ember, w: Workload, args):
    fn = ember.script(w.numpy)
    first = _first_call(fn, args)
    return fn, args, "", first


def _numba(numba, w: Workload, args):
    fn = numba.njit(w.numpy)
    first = _first_call(fn, args)
    out = fn(*args)
    note = "" if out.dtype == w.numpy(*args).dtype else f"result {out.dtype} (numba promotes)"
    return fn, args, note, first


def _torch(torch, w: Workload, args):
    targs = tuple(torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args)
    fn = lambda *a: w.torch(torch, *a)  # noqa: E731
    return fn, targs, "eager, tensors in/out", 0.0


PEERS: dict[str, Callable] = {"ember": _ember, "numba": _numba, "torch": _torch}
