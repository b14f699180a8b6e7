"""``ember demo``: script two small NumPy functions, show their IR per stage, check, time.

    $ ember demo                 # or: python -c "import ember.demo as d; d.run()"

1. ``chain(x, y, a)``: elementwise ops with a broadcast scalar and a keepdims row sum.
2. ``mlp(x, w1, b1, w2)``: matmul, bias, ``np.maximum`` (ReLU), then a softmax built from
   ``exp``, ``sum`` and a division.

For each it prints the IR of the tensor, loop and llvm stages (long ones cut at
:data:`MAX_LINES` lines), checks the results against NumPy and prints ``OK``; then it
times the first call (the compile) and steady-state calls against NumPy on 256x512 inputs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

MAX_LINES = 40
STAGES = ("tensor", "loop", "llvm")


def chain(x, y, a: float):
    return np.tanh(x * a + y) * 0.5 + x.sum(axis=1, keepdims=True)


def mlp(x, w1, b1, w2):
    h = np.maximum(x @ w1 + b1, 0.0)
    e = np.exp(h @ w2)
    return e / e.sum(axis=1, keepdims=True)


def truncate(text: str, max_lines: int = MAX_LINES) -> str:
    """The first ``max_lines`` lines of ``text``, and a note of how many were cut."""
    lines = text.rstrip().splitlines()
    if len(lines) <= max_lines:
        return "\n".join(lines)
    return "\n".join(lines[:max_lines] + [f"... ({len(lines) - max_lines} more lines)"])


def per_call_seconds(fn: Callable[[], object], budget: float = 0.4, repeats: int = 5) -> float:
    """Median time of one call of ``fn``: ``repeats`` samples, each looping ~budget/repeats s."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    loops = max(1, int(budget / repeats / once))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - t0) / loops)
    return float(np.median(samples))


def fmt_seconds(s: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def check(got, want) -> None:
    """``assert_allclose`` at rtol 1e-5, with an absolute floor at the result's scale.

    A row sum rounds at the size of its largest partial sums, so where ``tanh(...)`` and a
    sum of 512 terms nearly cancel, float32 NumPy and ember (which accumulates float32 sums
    in float64) differ by a few float32 ulps of the sum, not of the tiny result.
    """
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * scale)


def _show(title: str, compiled, args: tuple, reference: Callable) -> float:
    """Compile ``compiled`` on ``args``, print its IR per stage, check it; the compile time."""
    print(f"=== {title} " + "=" * max(0, 70 - len(title)))
    t0 = time.perf_counter()
    got = compiled(*args)
    compile_s = time.perf_counter() - t0
    for stage in STAGES:
        print(f"--- stage {stage!r} ---")
        print(truncate(compiled.ir(stage=stage)))
    check(got, reference(*args))
    print(f"result matches NumPy (rtol 1e-5): OK    first call (compile + run): "
          f"{fmt_seconds(compile_s)}\n")
    return compile_s


def run() -> None:
    """Run the demo; raises ``AssertionError`` if a result differs from NumPy."""
    import ember

    rng = np.random.default_rng(0)
    f32 = np.float32

    f = ember.script(chain)
    x, y = rng.standard_normal((4, 8), f32), rng.standard_normal((4, 8), f32)
    _show("chain(x, y, a) = tanh(x*a + y)*0.5 + x.sum(axis=1, keepdims=True)",
          f, (x, y, 0.75), chain)

    g = ember.script(mlp)
    xs = rng.standard_normal((8, 16), f32)
    w1, b1 = rng.standard_normal((16, 32), f32) * f32(0.25), rng.standard_normal(32, f32)
    w2 = rng.standard_normal((32, 4), f32) * f32(0.25)
    _show("mlp(x, w1, b1, w2) = softmax(relu(x @ w1 + b1) @ w2)", g, (xs, w1, b1, w2), mlp)

    print("=== timings " + "=" * 60)
    h = ember.script(chain)  # a fresh function: its first call compiles
    x, y = rng.standard_normal((256, 512), f32), rng.standard_normal((256, 512), f32)
    t0 = time.perf_counter()
    h(x, y, 0.75)
    print(f"first call of chain on 256x512 (compile + run): {fmt_seconds(time.perf_counter() - t0)}")
    check(h(x, y, 0.75), chain(x, y, 0.75))
    t_ember = per_call_seconds(lambda: h(x, y, 0.75))
    t_numpy = per_call_seconds(lambda: chain(x, y, 0.75))
    print(f"per call, 256x512 float32:  ember {fmt_seconds(t_ember)}   numpy {fmt_seconds(t_numpy)}"
          f"   ember is {t_numpy / t_ember:.2f}x numpy's speed")
    print("OK")


if __name__ == "__main__":
    run()
