"""The machine's limits for the benchmark's rate column: memory bandwidth and f32 FLOP/s.

    python bench/limits.py              # with the thread count of the environment
    python bench/limits.py --quick

``measure(threads)`` runs in the benchmark's worker process, after the thread variables
are set, and returns the achievable limits with that many threads:

- ``mem *``: ``np.add(a, b, out=c)`` (3 arrays moved: 2 read, 1 written),
  ``np.copyto(c, a)`` (2 moved), ``a.sum()`` and ``a @ b`` (BLAS sdot, 2 read) on arrays
  several times larger than the LLC (capped at 256 MiB each): the memory bandwidth. With
  more than one thread the arrays are split among Python threads (NumPy's ufuncs release
  the GIL).
- ``work *``: the same at 16 MiB per array, the workloads' size; on a machine with a large
  LLC these run from cache. ``stream`` (the best of add and copy) and ``read`` (the best of
  sum and sdot) at this size are the limits of the elementwise and reduction rows.
- ``flops``: OpenBLAS sgemm at 2048 (``a @ b``, 2n³ flops), the achievable f32 peak.
- ``flops_theory``: nominal clock (/proc/cpuinfo) x SIMD f32 lanes (AVX-512: 16, AVX2: 8)
  x 2 (FMA) x 2 FMA units (assumed, not readable) x threads.
"""

import importlib.metadata
import importlib.util
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

MIB = 1 << 20
WORK_BYTES = 16 * MIB  # a 4M-element float32 array, the size of the workloads' inputs
REPO = Path(__file__).resolve().parent.parent


def llc_bytes() -> int:
    """The last-level cache from sysfs (0 when unknown)."""
    sizes = []
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        scale = {"K": 1 << 10, "M": MIB, "G": 1 << 30}.get(text[-1:], 1)
        sizes.append(int(text.rstrip("KMG")) * scale)
    return max(sizes, default=0)


def best_time(fn, samples: int) -> float:
    """The best of ``samples`` timed calls after one warm-up call (bandwidth is a ceiling)."""
    fn()
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def split(threads: int, fn, *arrays):
    """``fn`` on ``threads`` contiguous slices of ``arrays`` at once, one Python thread each."""
    if threads == 1:
        return lambda: fn(*arrays)
    n = arrays[0].size
    bounds = [(n * i // threads, n * (i + 1) // threads) for i in range(threads)]
    pool = ThreadPoolExecutor(threads)
    return lambda: list(pool.map(lambda b: fn(*(a[b[0]:b[1]] for a in arrays)), bounds))


def cpu_info() -> tuple[float, int]:
    """(nominal GHz, f32 SIMD lanes) from /proc/cpuinfo; (0.0, 4) when unknown."""
    ghz, lanes = 0.0, 4
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ghz, lanes
    for line in text.splitlines():
        if line.startswith("cpu MHz") and not ghz:
            ghz = float(line.split(":")[1]) / 1e3
        if line.startswith("flags"):
            flags = set(line.split(":")[1].split())
            lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    return ghz, lanes


def bandwidth(threads: int, nbytes: int, samples: int) -> dict:
    """GB/s of add, copy, sum and sdot on float32 arrays of ``nbytes`` each."""
    n = nbytes // 4
    a, b, c = np.ones(n, np.float32), np.ones(n, np.float32), np.empty(n, np.float32)
    add = split(threads, lambda x, y, z: np.add(x, y, out=z), a, b, c)
    return {"add": 3 * nbytes / best_time(add, samples) / 1e9,
            "copy": 2 * nbytes / best_time(split(threads, np.copyto, c, a), samples) / 1e9,
            "sum": nbytes / best_time(split(threads, np.sum, a), samples) / 1e9,
            "sdot": 2 * nbytes / best_time(lambda: a @ b, samples) / 1e9}  # BLAS threads itself


def measure(threads: int, quick: bool = False) -> dict:
    """The limits with ``threads`` threads; see the module docstring."""
    llc = llc_bytes()
    big = 16 * MIB if quick else min(max(4 * llc, 64 * MIB), 256 * MIB)
    samples = 3 if quick else 7
    work = bandwidth(threads, WORK_BYTES, samples)
    mem = work if big == WORK_BYTES else bandwidth(threads, big, samples)
    m = 512 if quick else 2048
    x, y = np.ones((m, m), np.float32), np.ones((m, m), np.float32)
    flops = 2 * m**3 / best_time(lambda: x @ y, samples) / 1e9
    ghz, lanes = cpu_info()
    return {
        "threads": threads, "array MiB": big // MIB, "LLC MiB": llc // MIB,
        **{f"mem {k}": v for k, v in mem.items()}, **{f"work {k}": v for k, v in work.items()},
        "stream": max(work["add"], work["copy"]), "read": max(work["sum"], work["sdot"]),
        "flops": flops, "sgemm n": m,
        "ghz": ghz, "lanes": lanes, "flops_theory": ghz * lanes * 2 * 2 * threads,
    }


def render(limits: list[dict]) -> str:
    """A markdown table, one column per thread count."""
    d = limits[0]
    big, work = f"{d['array MiB']} MiB", f"{WORK_BYTES // MIB} MiB"
    rows = [(f"{name}, {size} arrays, GB/s ({what})", f"{prefix} {key}", "{:.1f}")
            for prefix, size in (("mem", big), ("work", work))
            for name, key, what in (("add `np.add(a, b, out=c)`", "add", "2 read + 1 write"),
                                    ("copy `np.copyto(c, a)`", "copy", "1 read + 1 write"),
                                    ("sum `a.sum()`", "sum", "read"),
                                    ("dot `a @ b` (BLAS sdot)", "sdot", "read"))]
    rows += [("sgemm `a @ b` (OpenBLAS), GFLOP/s", "flops", "{:.0f}"),
             ("theoretical f32 peak, GFLOP/s", "flops_theory", "{:.0f}")]
    head = "| limit | " + " | ".join(f"{d['threads']} thread{'s' * (d['threads'] > 1)}"
                                      for d in limits) + " |"
    lines = [head, "|---|" + "---:|" * len(limits)]
    lines += [f"| {name} | " + " | ".join(fmt.format(d[key]) for d in limits) + " |"
              for name, key, fmt in rows]
    lines += ["", f"Memory: arrays of {big} (LLC {d['LLC MiB']} MiB); the workloads' own size: "
                  f"{work} arrays (4M float32), which may sit in the LLC. sgemm at "
                  f"n={d['sgemm n']}. Theoretical peak: {d['ghz']:.2f} GHz nominal "
                  f"x {d['lanes']} f32 lanes x 2 (FMA) x 2 FMA units (assumed) per thread. "
                  "Each number is the best of its samples. The `% limit` column divides a "
                  f"row's rate by the best of add and copy at {work} (elementwise and "
                  f"row-wise rows), by the best of sum and dot at {work} (reductions) or by "
                  "sgemm (matmul, MLP), all of the same thread count."]
    return "\n".join(lines) + "\n"


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = [f"python {platform.python_version()}", f"numpy {np.__version__}"]
    for mod in ("ember", "xdsl", "llvmlite", "numba", "torch"):
        try:
            versions.append(f"{mod} {importlib.metadata.version(mod)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return f"{cpu}, {os.cpu_count()} logical CPUs; " + ", ".join(versions) + "; " + ember_source()


def ember_source() -> str:
    """Where ``import ember`` comes from, and the repository's commit when it is this one."""
    spec = importlib.util.find_spec("ember")
    where = Path(spec.origin).parent if spec and spec.origin else None
    if where is None or where.parent != REPO:
        return f"ember from {where}"
    git = ["git", "-C", str(REPO)]
    rev = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(git + ["status", "--porcelain", "--untracked-files=no", "--", "core",
                                  "dialects", "passes", "lowering", "frontends"],
                           capture_output=True, text=True).stdout.strip()
    return f"ember from this repository at {rev.stdout.strip() or '?'}" + (
        " with uncommitted changes" if dirty else "")


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    threads = int(os.environ.get("OMP_NUM_THREADS", "0")) or os.cpu_count() or 1
    print(render([measure(threads, quick)]))
