"""ember against NumPy, Numba and PyTorch: one worker process per thread count.

    python bench/run.py                  # full sizes, 1 and 2 threads; bench/results.md + docs/
    python bench/run.py --quick          # small sizes, 1 thread, no torch.compile: a smoke test
    python bench/run.py --only chain,matmul --threads 1 --samples 11
    python bench/run.py --only softmax,mandelbrot --threads 1,2 --peers numba

The driver starts ``run.py --worker N`` once per thread count, with OPENBLAS/OMP/MKL/NUMBA/
EMBER_NUM_THREADS set to N before the interpreter starts (torch gets ``set_num_threads(N)``).
A worker measures the machine's limits (``limits.py``) and then every selected workload on
every backend, and hands its rows back as JSON. The first thread count runs every selected
workload; the others run ``--thread-workloads`` only. Then the driver times import and
first calls in fresh processes (cold and warm disk cache) and writes the tables, the
targets with a "met?" column and a chart (``chart.py``).

Times are medians over ``--samples`` samples; each sample loops the call until it takes
at least 12 ms. ``x numpy`` is NumPy's time divided by the backend's, measured in the same
process (> 1 means faster than NumPy). ``~`` marks an interquartile spread above 15% of the
median; ``✗`` marks a result that differs from NumPy's. Not part of ``pytest``.
"""

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from chart import DOCS_INTRO, fmt_time, plot, render_all  # noqa: E402
from limits import machine  # noqa: E402

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS", "EMBER_NUM_THREADS")
PEERS_DEFAULT = "numba,numba loops,torch,torch builtin,torch.jit.script,torch.compile"
THREAD_WORKLOADS = "chain,softmax,matmul,mandelbrot"


@dataclass
class Row:
    key: str
    workload: str
    backend: str
    threads: int
    seconds: float | None = None
    noisy: bool = False
    ok: bool = True
    ratio: float | None = None
    rate: float | None = None
    unit: str = ""
    pct: float | None = None  # of the machine limit that bounds this workload
    notes: str = ""


#: seconds to wait before measuring: OpenBLAS's worker threads spin for about 0.1 s after a
#: call (its thread timeout), taking a core from whatever runs next; measured right after
#: NumPy's matmul, ember's 2-thread matmul 512 took 1.9 ms instead of 1.07 ms (median of 20)
SETTLE = 0.2


def measure(fn, samples: int, min_sample: float = 0.012) -> tuple[float, bool]:
    """(median seconds per call, noisy?) over ``samples`` samples of >= ``min_sample`` s,
    after ``SETTLE`` seconds in which other libraries' spinning threads go to sleep."""
    time.sleep(SETTLE)
    fn()
    loops = 1
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


def matches(got, want) -> bool:
    got, want = np.asarray(got), np.asarray(want)
    scale = float(np.abs(want).max()) if want.size else 1.0
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-4, atol=1e-4 * scale))


def one_line(e: BaseException) -> str:
    """The error's first line; for Numba's typing errors also the signature and the cause."""
    lines = [ln.strip() for ln in f"{type(e).__name__}: {e}".strip().splitlines()] or ["?"]
    extra = [next((ln for ln in lines[1:] if ln.startswith(p)), "")
             for p in (">>>", "TypingError:")]
    text = " ".join([lines[0], *(x.lstrip("> ") for x in extra if x)])
    return text[:240].replace("|", "/")


def fresh(args: tuple) -> tuple:
    """Copies of the array arguments: a program may write into its inputs (Jacobi's swap)."""
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def settle(threads: int, seconds: float = 0.3) -> None:
    """Let the thread pools of the previous backend stop spinning (OpenBLAS's idle threads
    busy-wait for ~0.1 s, OpenMP's for a while too) before the next one is timed: with as
    many threads as cores, a spinning pool halves the next backend's speed or worse."""
    if threads > 1:
        time.sleep(seconds)


def run_workload(w, backends: dict, limits: dict, samples: int, quick: bool,
                 progress=lambda backend: None, skip=()) -> list[Row]:
    """The numpy row, then one row per backend: timed, checked against numpy, rated.
    ``progress(backend)`` is called before each backend starts; a backend in ``skip`` crashed
    a worker before and gets a "failed" row without being run again."""
    from workloads import NotApplicable

    threads = limits["threads"]
    args = w.make(np.random.default_rng(0), quick)
    label, want = w.label(args), w.numpy(*fresh(args))

    def row(backend: str, seconds: float, noisy: bool, ok: bool, notes: str) -> Row:
        rate = w.rate(seconds, args)
        pct = 100 * rate / limits[w.limit] if rate and w.limit else None
        return Row(w.key, label, backend, threads, seconds, noisy, ok, t_numpy / seconds,
                   rate, w.unit, pct, notes)

    numpy_args = fresh(args)
    progress("numpy")
    settle(threads)
    t_numpy, noisy = measure(lambda: w.numpy(*numpy_args), samples)
    rows = [row("numpy", t_numpy, noisy, True, "")]
    for name, (module, adapter) in backends.items():
        if name in skip:
            rows.append(Row(w.key, label, name, threads, notes="failed: the worker process "
                            f"died while running this ({skip[name]}); see its stderr above"))
            continue
        progress(name)
        settle(threads)
        try:
            p = adapter(module, w, fresh(args), threads)
            ok = matches(_to_numpy(p.first_out), want)
            t, noisy = measure(lambda: p.fn(*p.args), samples)
        except NotApplicable:
            continue
        except Exception as e:  # a backend that cannot run this workload is a row, not a crash
            rows.append(Row(w.key, label, name, threads, notes=f"failed: {one_line(e)}"))
            continue
        first = f"1st call {fmt_time(p.first_call)}" if p.first_call > 1e-3 else ""
        rows.append(row(name, t, noisy, ok, "; ".join(n for n in (p.note, first) if n)))
    return rows


def _to_numpy(v):
    return v.numpy() if hasattr(v, "numpy") and not isinstance(v, np.ndarray) else v


def load_backends(names: list[str], threads: int) -> dict:
    """backend name -> (imported module, adapter); a peer that is not installed is skipped."""
    from workloads import PEERS

    backends = {}
    for name in names:
        module_name, adapter = PEERS[name]
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            print(f"# {name}: {module_name} not installed, skipped", file=sys.stderr)
            continue
        if hasattr(module, "set_num_threads"):  # torch (ember follows EMBER_NUM_THREADS)
            module.set_num_threads(threads)
        backends[name] = (module, adapter)
    return backends


def worker(opts) -> int:
    """One thread count: limits, then every selected workload on every backend -> JSON, which
    is rewritten before each backend starts, so that the driver knows what a crash hit."""
    import limits as machine_limits
    from workloads import WORKLOADS

    threads = opts.worker
    assert all(os.environ.get(v) == str(threads) for v in THREAD_VARS), "set by the driver"
    # "ember prange" is ember's own second row (the mandelbrot of the 2-thread target)
    backends = load_backends(["ember", "ember prange", *(p for p in opts.peers.split(",")
                                                         if p and p != "ember prange")], threads)
    skip = json.loads(opts.skip or "{}")  # {"key/backend": "exit code"}
    print(f"# {threads} thread(s): machine limits", file=sys.stderr, flush=True)
    state = {"limits": machine_limits.measure(threads, opts.quick), "rows": [], "current": None}

    def progress(key: str, backend: str) -> None:
        state["current"] = [key, backend]
        Path(opts.json).write_text(json.dumps(state))

    for w in WORKLOADS:
        if w.key in opts.keys.split(","):
            print(f"# {threads} thread(s): {w.key}", file=sys.stderr, flush=True)
            crashed = {k.split("/", 1)[1]: v for k, v in skip.items() if k.startswith(w.key + "/")}
            rows = run_workload(w, backends, state["limits"], opts.samples, opts.quick,
                                lambda b, key=w.key: progress(key, b), crashed)
            state["rows"] += [asdict(r) for r in rows]
    progress("", "")
    return 0


def spawn_worker(threads: int, keys: list[str], peers: list[str], opts, tmp: Path) -> dict:
    """Run one worker in a fresh process with every thread pool set to ``threads``. A worker
    that dies (a segfault in compiled code) is started again after the backend it died in,
    which gets a "failed" row."""
    out = tmp / f"worker-{threads}.json"
    env = dict(os.environ, **{v: str(threads) for v in THREAD_VARS},  # 1st calls compile:
               EMBER_CACHE_DIR=str(tmp / f"ember-{threads}"),  # empty disk caches
               TORCHINDUCTOR_CACHE_DIR=str(tmp / f"inductor-{threads}"))
    rows, skip, todo, limits = [], {}, list(keys), None
    while todo:
        out.unlink(missing_ok=True)
        cmd = [sys.executable, __file__, "--worker", str(threads), "--json", str(out),
               "--keys", ",".join(todo), "--peers", ",".join(peers), "--samples",
               str(opts.samples), "--skip", json.dumps(skip)]
        try:
            rc = subprocess.run(cmd + (["--quick"] if opts.quick else []), env=env,
                                timeout=opts.worker_timeout).returncode
            why = f"signal {-rc}" if rc < 0 else f"exit {rc}"
        except subprocess.TimeoutExpired:
            rc, why = None, f"killed after {opts.worker_timeout} s"
        if not out.exists():
            raise SystemExit(f"worker for {threads} thread(s) failed ({why})")
        data = json.loads(out.read_text())
        limits = limits or data["limits"]
        key, backend = data["current"]
        if rc == 0:
            rows += data["rows"]
            break
        if backend in ("", "numpy"):
            raise SystemExit(f"worker for {threads} thread(s) died in {key}/{backend or '-'} "
                             f"({why})")
        print(f"# worker died in {key}/{backend} ({why}): restarting", file=sys.stderr,
              flush=True)
        rows += [r for r in data["rows"] if r["key"] != key]
        skip[f"{key}/{backend}"] = why
        todo = todo[todo.index(key):]
    return {"limits": limits, "rows": [Row(**r) for r in rows]}

CHILD = """\
import json, sys, time
t0 = time.perf_counter()
import numpy as np
sys.path.insert(0, {here!r})
from workloads import WORKLOADS
if {key!r}:
    w = next(w for w in WORKLOADS if w.key == {key!r})
    args = w.make(np.random.default_rng(0), {quick!r})
t1 = time.perf_counter()
import {module}
t2 = time.perf_counter()
if {key!r}:
    compiled = {decorate}(w.source)
    t3 = time.perf_counter()
    compiled(*args)
    t4 = time.perf_counter()
    compiled(*args)
    t5 = time.perf_counter()
else:
    t3 = t4 = t5 = t2
print(json.dumps([t2 - t1, t4 - t3, t5 - t4]))
"""


@dataclass(frozen=True)
class LatencyCase:
    backend: str
    key: str  # a workload key; "" times the import alone
    decorate: str = ""
    caches: tuple[str, ...] = ("cold", "warm")


LATENCY_CASES = [
    LatencyCase("ember", "", caches=("-",)),
    LatencyCase("ember", "chain", "ember.script"),
    LatencyCase("ember", "mlp", "ember.script"),
    LatencyCase("numba", "chain", "numba.njit(cache=True)"),
]


@dataclass
class Latency:
    what: str
    backend: str
    cache: str
    import_s: float | None = None
    first_s: float | None = None
    second_s: float | None = None
    notes: str = ""


def compile_bytecode() -> None:
    """Write ember's ``.pyc`` files, as installing a wheel does. An editable install leaves
    them to the first import, and with ``PYTHONDONTWRITEBYTECODE`` set (as on the development
    machine) a module edited since is compiled from source in every process: with no
    ``.pyc`` at all the MLP's cold first call took 353-365 ms instead of 308-315."""
    import compileall

    for sub in ("core", "dialects", "passes", "lowering", "frontends"):
        compileall.compile_dir(str(HERE.parent / sub), quiet=2)


def compile_latency(case: LatencyCase, runs: int, env: dict, quick: bool) -> list[Latency]:
    """Import and first-call times in fresh processes: cold (an empty cache dir each run),
    then warm (the cache dir the cold runs left)."""
    module = case.backend
    code = CHILD.format(here=str(HERE), key=case.key, quick=quick, module=module,
                        decorate=case.decorate)
    what = f"first call of {case.key}" if case.key else f"import {module} (numpy imported)"
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        child_env = dict(os.environ, EMBER_CACHE_DIR=cache, NUMBA_CACHE_DIR=cache, **env)
        for label in case.caches:
            results = []
            for _ in range(runs):
                if label == "cold":  # every cold run starts from an empty cache
                    for p in Path(cache).iterdir():
                        shutil.rmtree(p) if p.is_dir() else p.unlink()
                out = subprocess.run([sys.executable, "-c", code], env=child_env,
                                     capture_output=True, text=True, timeout=600)
                if out.returncode != 0:
                    err = (out.stderr.strip().splitlines() or ["?"])[-1]
                    return rows + [Latency(what, module, label, notes=f"failed: {err[:160]}")]
                results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            imp, first, second = np.median(np.array(results), axis=0)
            notes = [{"cold": "empty cache dir", "warm": "the cache dir of the cold runs"}.get(
                label, ""), f"median of {runs} process{'es' * (runs > 1)}"]
            rows.append(Latency(what, module, label, imp, first if case.key else None,
                                second if case.key else None, "; ".join(n for n in notes if n)))
    return rows


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="small sizes, 1 thread, no torch.compile (smoke test)")
    ap.add_argument("--samples", type=int, default=None,
                    help="samples per measurement [7; 3 with --quick]")
    ap.add_argument("--only", default="", help="comma-separated workload keys (and 'compile')")
    ap.add_argument("--peers", default=None, help=f"backends besides ember [{PEERS_DEFAULT}]")
    ap.add_argument("--threads", default=None, help="thread counts, one worker each [1,2]")
    ap.add_argument("--thread-workloads", default=THREAD_WORKLOADS,
                    help="what the 2nd.. thread counts run ('all': everything selected)")
    ap.add_argument("--processes", type=int, default=3, help="fresh processes per latency row")
    ap.add_argument("--worker-timeout", type=float, default=3600,
                    help="seconds before a hung worker is killed (and restarted after the "
                         "backend it hung in)")
    ap.add_argument("-o", "--output", default=str(HERE / "results.md"))
    ap.add_argument("--docs", action="store_true",
                    help="also write docs/benchmarks.md and .png (default for a full run)")
    ap.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--json", help=argparse.SUPPRESS)
    ap.add_argument("--keys", help=argparse.SUPPRESS)
    ap.add_argument("--skip", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from workloads import WORKLOADS

    opts = parse(argv)
    opts.samples = opts.samples or (3 if opts.quick else 7)
    if opts.worker:
        return worker(opts)
    threads = [int(t) for t in (opts.threads or ("1" if opts.quick else "1,2")).split(",")]
    peers = [p for p in (opts.peers if opts.peers is not None else PEERS_DEFAULT).split(",") if p]
    if opts.quick and opts.peers is None:
        peers.remove("torch.compile")  # its first call takes seconds to a minute per workload
    if len(threads) > 1:  # Numba's threads only where they can make a difference
        peers += [f"{p} parallel" for p in ("numba", "numba loops") if p in peers]
    only = [k for k in opts.only.split(",") if k]
    keys = [w.key for w in WORKLOADS if not only or w.key in only]
    more = keys if opts.thread_workloads == "all" else [
        k for k in keys if k in opts.thread_workloads.split(",")]
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, t in enumerate(threads):
            if keys and (i == 0 or more):
                runs[t] = spawn_worker(t, keys if i == 0 else more, peers, opts, Path(tmp))
    latency = []
    if not only or "compile" in only:
        print("# compile latency", file=sys.stderr, flush=True)
        compile_bytecode()
        env = {v: "1" for v in THREAD_VARS}
        for case in LATENCY_CASES:
            if opts.quick and (case.backend != "ember" or case.key == "mlp"):
                continue  # the smoke test keeps to one compile and the import
            if case.backend == "ember" or case.backend in peers:
                latency += compile_latency(case, 1 if opts.quick else opts.processes, env,
                                           opts.quick)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "python bench/run.py" + ("".join(f" {a}" for a in (argv or sys.argv[1:])))
    text = render_all(runs, latency, stamp, machine(), command, opts.quick)
    print(text)
    Path(opts.output).write_text(text)
    if runs and (opts.docs or not (opts.quick or only)):
        write_docs(text, runs)
    return 0


def write_docs(text: str, runs: dict) -> None:
    """docs/benchmarks.md (an intro + the results) and docs/benchmarks.png (the chart)."""

    docs = HERE.parent / "docs"
    first = runs[min(runs)]["rows"]
    png = plot(first, docs / "benchmarks.png")
    title, body = text.split("\n", 1)  # the results' own title gives way to the intro's
    stamp = f"Measured {title.rsplit(' — ', 1)[-1]}.\n"
    picture = "![x NumPy per workload and backend](benchmarks.png)\n\n" if png else ""
    (docs / "benchmarks.md").write_text(DOCS_INTRO + picture + stamp + body)


if __name__ == "__main__":
    sys.exit(main())
