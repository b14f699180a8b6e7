"""Numba-style element-loop programs: ember.script against numba.njit and CPython; and the
float32 loop kernels that bench/run.py gives Numba where its NumPy support stops short.

    python bench/loops.py            # writes bench/results-loops.md and prints it
    python bench/loops.py --quick    # smaller sizes

The same Python source runs in all three. CPython runs a reduced size and is scaled by
the work ratio (marked ``extrap``). Times are medians of repeated samples; ratios are
measured in this process. Not part of pytest.
"""

import os

if __name__ == "__main__":  # imported by workloads.py, the runner owns the thread counts
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                 "EMBER_NUM_THREADS"):
        os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

#: ``ember.prange`` or ``numba.prange`` once a benchmark adapter has set it (importing ember
#: here would spoil the import-time measurement); ``range`` in plain Python
prange = range


def mandelbrot(h: int, w: int, max_iter: int):
    out = np.zeros((h, w), np.int64)
    for i in range(h):
        for j in range(w):
            cr = -2.0 + 3.0 * j / w
            ci = -1.5 + 3.0 * i / h
            zr = 0.0
            zi = 0.0
            n = 0
            while n < max_iter and zr * zr + zi * zi <= 4.0:
                zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
                n += 1
            out[i, j] = n
    return out


def mandelbrot_prange(h: int, w: int, max_iter: int):
    """``mandelbrot`` with its rows under ``prange`` (ember's or Numba's): they run on threads."""
    out = np.zeros((h, w), np.int64)
    for i in prange(h):
        for j in range(w):
            cr = -2.0 + 3.0 * j / w
            ci = -1.5 + 3.0 * i / h
            zr = 0.0
            zi = 0.0
            n = 0
            while n < max_iter and zr * zr + zi * zi <= 4.0:
                zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
                n += 1
            out[i, j] = n
    return out


def jacobi(a, iters: int):
    n = a.shape[0]
    m = a.shape[1]
    new = a.copy()
    for it in range(iters):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                new[i, j] = 0.25 * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])
        a, new = new, a
    return a


def prefix_sum(x):
    out = np.empty_like(x)
    acc = x[0] * 0
    for i in range(x.shape[0]):
        acc += x[i]
        out[i] = acc
    return out


def matmul_loops(a, b):
    n = a.shape[0]
    k = a.shape[1]
    m = b.shape[1]
    c = np.zeros((n, m), np.float32)
    for i in range(n):
        for p in range(k):
            aip = a[i, p]
            for j in range(m):
                c[i, j] += aip * b[p, j]
    return c


def numba_loops(numba) -> dict:
    """Element-loop kernels for Numba, where its NumPy support stops short (``axis=`` of
    max/mean, ``@`` without SciPy) or promotes to float64: f32 throughout, rows under
    ``prange`` (a plain range unless compiled with ``parallel=True``)."""
    prange = numba.prange

    def chain(x, a, b):
        out, a32, half = np.empty_like(x), np.float32(a), np.float32(0.5)
        for i in prange(x.shape[0]):
            out[i] = np.tanh(x[i] * a32 + b[i]) * half + x[i]
        return out

    def gelu(x):
        out = np.empty_like(x)
        c, k, half, one = np.float32(0.7978845608028654), np.float32(0.044715), np.float32(0.5), np.float32(1)
        for i in prange(x.shape[0]):
            v = x[i]
            out[i] = half * v * (one + np.tanh(c * (v + k * v * v * v)))
        return out

    def total(x):
        acc = np.float32(0)
        for i in prange(x.shape[0]):
            acc += x[i]
        return acc

    def row_sums(x):
        out = np.empty(x.shape[0], x.dtype)
        for i in prange(x.shape[0]):
            acc = np.float32(0)
            for j in range(x.shape[1]):
                acc += x[i, j]
            out[i] = acc
        return out

    def softmax(x):
        out = np.empty_like(x)
        for i in prange(x.shape[0]):
            m = x[i, 0]
            for j in range(x.shape[1]):
                m = max(m, x[i, j])
            s = np.float32(0)
            for j in range(x.shape[1]):
                out[i, j] = np.exp(x[i, j] - m)
                s += out[i, j]
            for j in range(x.shape[1]):
                out[i, j] /= s
        return out

    def layer_norm(x, gamma, beta):
        out, n = np.empty_like(x), x.shape[1]
        for i in prange(x.shape[0]):
            mu = np.float32(0)
            for j in range(n):
                mu += x[i, j]
            mu /= n
            var = np.float32(0)
            for j in range(n):
                var += (x[i, j] - mu) * (x[i, j] - mu)
            inv = np.float32(1) / np.sqrt(var / n + np.float32(1e-5))
            for j in range(n):
                out[i, j] = (x[i, j] - mu) * inv * gamma[j] + beta[j]
        return out

    def matmul(a, b):
        c = np.zeros((a.shape[0], b.shape[1]), a.dtype)
        for i in prange(a.shape[0]):
            for p in range(a.shape[1]):
                aip = a[i, p]
                for j in range(b.shape[1]):
                    c[i, j] += aip * b[p, j]
        return c

    return {"mandelbrot": mandelbrot_prange, "chain": chain, "gelu": gelu, "sum": total,
            "rowsum": row_sums, "softmax": softmax, "layernorm": layer_norm, "matmul": matmul,
            "matmul1024": matmul}


def cases(quick: bool, rng):
    s = 4 if quick else 1
    x512 = rng.random((512 // s, 512 // s))
    v = rng.random(1_000_000 // s).astype(np.float32)
    a = rng.random((256 // s, 256 // s), dtype=np.float32)
    b = rng.random((256 // s, 256 // s), dtype=np.float32)
    return [
        ("mandelbrot 200x200, max_iter 100", mandelbrot, (200 // s, 200 // s, 100),
         (50, 50, 100), 16 / (s * s)),
        ("Jacobi 5-point, 10 iters, 512x512", jacobi, (x512, 10), (x512[:64, :64].copy(), 10), 64 / (s * s)),
        ("prefix sum, 1M f32", prefix_sum, (v,), (v[:10_000],), 100 / s),
        ("matmul triple loop, 256x256 f32", matmul_loops, (a, b), (a[:32, :32], b[:32, :32]), 512 / s**3),
    ]


def median_time(fn, args, samples=7, min_sample=0.05):
    fn(*args)
    loops = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(loops):
            fn(*args)
        t = time.perf_counter() - t0
        if t >= min_sample:
            break
        loops *= 2
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn(*args)
        times.append((time.perf_counter() - t0) / loops)
    return statistics.median(times)


def fmt(t):
    return f"{t * 1e3:.2f} ms" if t >= 1e-3 else f"{t * 1e6:.0f} µs"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    opts = ap.parse_args()
    import ember

    rng = np.random.default_rng(0)
    try:
        import numba
    except ImportError:
        numba = None
    rows = ["| program | CPython | numba njit | ember | ember / numba time | CPython / ember time |",
            "|---|---:|---:|---:|---:|---:|"]
    for name, fn, args, small, scale in cases(opts.quick, rng):
        # the programs may write into their arguments (jacobi's swap; ember, numba and CPython
        # all do, as Python does): each backend gets its own copies
        fresh = lambda: tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)  # noqa: E731
        t0 = time.perf_counter()
        ef = ember.script(fn)
        got = ef(*fresh())
        e_first = time.perf_counter() - t0
        t_ember = median_time(ef, fresh())
        t_py = median_time(fn, small, samples=3, min_sample=0.02) * scale
        if numba is not None:
            nf = numba.njit(fn)
            want = nf(*fresh())
            np.testing.assert_allclose(got, want, rtol=1e-4)
            t_numba = median_time(nf, fresh())
            numba_cell, ratio = fmt(t_numba), f"{t_ember / t_numba:.2f}x"
        else:
            numba_cell, ratio = "n/a", "n/a"
        rows.append(f"| {name} | {fmt(t_py)} (extrap) | {numba_cell} | {fmt(t_ember)} "
                    f"(1st call {e_first:.2f} s) | {ratio} | {t_py / t_ember:.0f}x |")
        print(rows[-1], flush=True)
    table = "\n".join(rows)
    header = "# Element-loop programs: ember vs Numba vs CPython (1 thread)\n\n"
    Path(__file__).with_name("results-loops.md").write_text(header + table + "\n")
    print(table)


if __name__ == "__main__":
    main()
