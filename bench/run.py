"""ember against NumPy (and Numba / PyTorch when installed), in one process, one thread.

    python bench/run.py              # full sizes; writes bench/results.md and prints it
    python bench/run.py --quick      # small sizes, a smoke test of the runner itself
    python bench/run.py --only chain,matmul --samples 11

Workloads: (a) ``np.tanh(x*a + b)*0.5 + x`` on 4M float32 (b an array, then a scalar),
(b) row sums of 2048x2048 float32, (c) 512x512 float32 matmul, (d) import time and
first-call compile time in fresh subprocesses (cold and warm disk cache), (e) per-call
overhead of ``x + 1`` on 4 float32 elements.

Times are medians over ``--samples`` samples; each sample loops the call until it takes
at least 12 ms. ``x numpy`` is NumPy's time divided by the backend's, measured in the same
run (> 1 means faster than NumPy). ``~`` marks an interquartile spread above 15% of the
median; ``✗`` marks a result that differs from NumPy's. Not part of ``pytest``.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
             "EMBER_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy (and its BLAS) is imported

import argparse  # noqa: E402
import importlib  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from workloads import PEERS, WORKLOADS, Workload  # noqa: E402


@dataclass
class Row:
    workload: str
    backend: str
    time: str
    ratio: str
    rate: str
    notes: str


def measure(fn: Callable[[], object], samples: int, min_sample: float = 0.012) -> tuple[float, bool]:
    """(median seconds per call, noisy?) over ``samples`` samples of >= ``min_sample`` s."""
    fn()
    loops, t = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        t = time.perf_counter() - t0
        if t >= min_sample:
            break
        loops = max(loops * 2, int(loops * min_sample / max(t, 1e-9) * 1.2))
    per = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        per.append((time.perf_counter() - t0) / loops)
    q1, med, q3 = np.percentile(per, [25, 50, 75])
    return float(med), bool((q3 - q1) > 0.15 * med)


def fmt_time(s: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def matches(got, want) -> bool:
    got, want = np.asarray(got), np.asarray(want)
    scale = float(np.abs(want).max()) if want.size else 1.0
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-4, atol=1e-4 * scale))


def run_workload(w: Workload, backends: dict[str, object], samples: int, quick: bool) -> list[Row]:
    args = w.make_args(np.random.default_rng(0), quick)
    label = w.label(args)
    want = w.numpy(*args)
    t_numpy, noisy = measure(lambda: w.numpy(*args), samples)
    rows = [Row(label, "numpy", fmt_time(t_numpy) + (" ~" if noisy else ""), "1.00x",
                w.rate(t_numpy, args), "")]
    for name, module in backends.items():
        try:
            fn, call_args, note, first = PEERS[name](module, w, args)
        except Exception as e:  # a peer that cannot run this workload is a row, not a crash
            rows.append(Row(label, name, "-", "-", "-", f"skipped: {_one_line(e)}"))
            continue
        t, noisy = measure(lambda: fn(*call_args), samples)
        ok = matches(_to_numpy(fn(*call_args)), want)
        notes = "; ".join(n for n in (note, f"1st call {fmt_time(first)}" if first else "") if n)
        rows.append(Row(label, name, fmt_time(t) + (" ~" if noisy else "") + ("" if ok else " ✗"),
                        f"{t_numpy / t:.2f}x", w.rate(t, args), notes))
    return rows


def _to_numpy(v):
    return v.numpy() if hasattr(v, "numpy") and not isinstance(v, np.ndarray) else v


def _one_line(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip().splitlines()[0]
    return text[:120]


CHILD = """\
import time, sys
t0 = time.perf_counter()
import numpy as np
t1 = time.perf_counter()
import {module}
t2 = time.perf_counter()
sys.path.insert(0, {here!r})
from workloads import {fn}
compiled = {decorate}
x = np.ones((256, 512), np.float32)
args = (x, x, 0.5) if {fn!r} == "f" else (x, 0.5, x)
t3 = time.perf_counter()
compiled(*args)
t4 = time.perf_counter()
compiled(*args)
t5 = time.perf_counter()
print(t2 - t1, t4 - t3, t5 - t4)
"""
LATENCY_CASES = [("ember", "f"), ("ember", "chain"), ("numba", "chain")]


def compile_latency(backend: str, fn: str, runs: int) -> list[Row]:
    """Import and first-call times in fresh processes: cold, then warm (same cache dir)."""
    decorate = {"ember": f"ember.script({fn})", "numba": f"numba.njit(cache=True)({fn})"}[backend]
    code = CHILD.format(module=backend, here=str(HERE), fn=fn, decorate=decorate)
    workload = f"first call of {fn}, 256x512 f32, fresh process"
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, EMBER_CACHE_DIR=cache, NUMBA_CACHE_DIR=cache)
        for label in ("cold", "warm"):
            results = []
            for _ in range(runs):
                if label == "cold":  # every cold run starts from an empty cache
                    for p in Path(cache).iterdir():
                        shutil.rmtree(p) if p.is_dir() else p.unlink()
                out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                     text=True, timeout=300)
                if out.returncode != 0:
                    err = (out.stderr.strip().splitlines() or ["?"])[-1]
                    return rows + [Row(workload, backend, "-", "-", "-", f"failed: {err[:120]}")]
                results.append([float(v) for v in out.stdout.split()])
            imp, first, second = np.median(np.array(results), axis=0)
            cache_note = "empty cache dir" if label == "cold" else "cache dir of the cold runs"
            rows.append(Row(f"{workload} ({label})", backend, fmt_time(first), "-", "-",
                            f"import {backend} {fmt_time(imp)}; 2nd call {fmt_time(second)}; "
                            f"{cache_note}; median of {runs} process{'es' if runs > 1 else ''}"))
    return rows


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
    return f"{cpu}, {os.cpu_count()} logical CPUs; " + ", ".join(versions)


def render(rows: list[Row], header: str) -> str:
    lines = [header, "", "| workload | backend | time | x numpy | rate | notes |",
             "|---|---|---:|---:|---:|---|"]
    lines += [f"| {r.workload} | {r.backend} | {r.time} | {r.ratio} | {r.rate} | {r.notes} |"
              for r in rows]
    return "\n".join(lines) + "\n"


def load_backends(wanted: list[str]) -> dict[str, object]:
    backends = {}
    for name in wanted:
        try:
            module = importlib.import_module(name)
        except ImportError:
            print(f"# {name} not installed: skipped", file=sys.stderr)
            continue
        if name == "torch":
            module.set_num_threads(1)
        backends[name] = module
    return backends


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--samples", type=int, default=7, help="samples per measurement")
    ap.add_argument("--only", default="", help="comma-separated workload keys")
    ap.add_argument("--peers", default="numba,torch", help="optional peers to try")
    ap.add_argument("--processes", type=int, default=3, help="fresh processes per latency row")
    ap.add_argument("-o", "--output", default=str(HERE / "results.md"))
    args = ap.parse_args(argv)

    backends = load_backends(["ember", *[p for p in args.peers.split(",") if p]])
    only = {k for k in args.only.split(",") if k}
    rows: list[Row] = []
    for w in WORKLOADS:
        if only and w.key not in only:
            continue
        print(f"# {w.key}", file=sys.stderr)
        rows += run_workload(w, backends, args.samples, args.quick)
    if not only or "compile" in only:
        print("# compile latency", file=sys.stderr)
        for name, fn in LATENCY_CASES:
            if name in backends:
                rows += compile_latency(name, fn, 1 if args.quick else args.processes)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"# ember benchmarks — {stamp}\n\n{machine()}\n\n"
              f"All thread pools pinned to 1 thread. `python bench/run.py{' --quick' if args.quick else ''}`; "
              "see bench/README.md for how to read this table.")
    text = render(rows, header)
    print(text)
    Path(args.output).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
