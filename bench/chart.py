"""The report of a benchmark run: markdown tables, the targets with "met?", and a bar chart.

``render_all`` turns the rows of ``run.py``'s workers (one per thread count) and its
latency rows into ``bench/results.md``; ``plot`` draws the x-NumPy ratios per workload and
backend into a PNG with matplotlib, when matplotlib is installed.
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import limits as machine_limits  # noqa: E402

DOCS_INTRO = """\
# Benchmarks

How fast ember's compiled code runs next to NumPy, Numba and PyTorch on one machine, how
close it comes to the machine's limits (memory bandwidth, f32 FLOP/s), how it scales from
1 to 2 threads and how long the first call takes. `python bench/run.py` wrote everything
below; [bench/README.md](../bench/README.md) says how to run it and how to read it. The
numbers come from a shared 2-core machine: compare the ratios of one run (measured in the
same process), not absolute times between runs.

"""


def fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def fmt_rate(r) -> str:
    return "-" if r.rate is None else f"{r.rate:.3g} {r.unit}"


def workload_table(rows: list) -> str:
    lines = ["| workload | backend | time | x numpy | rate | % limit | notes |",
             "|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        time = fmt_time(r.seconds) + (" ~" if r.noisy else "") + ("" if r.ok else " ✗")
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x"
        pct = "-" if r.pct is None else f"{r.pct:.0f}%"
        lines.append(f"| {r.workload} | {r.backend} | {time} | {ratio} | {fmt_rate(r)} | "
                     f"{pct} | {r.notes} |")
    return "\n".join(lines) + "\n"


def thread_table(runs: dict) -> str:
    counts = sorted(runs)
    base = {(r.key, r.backend): r for r in runs[counts[0]]["rows"]}
    head = " | ".join(f"{t} thread{'s' * (t > 1)}" for t in counts)
    speed = " | ".join(f"{t}/{counts[0]}" for t in counts[1:])
    lines = [f"| workload | backend | {head} | speedup {speed} |",
             "|---|---|" + "---:|" * (2 * len(counts) - 1)]
    later = {t: {(r.key, r.backend): r for r in runs[t]["rows"]} for t in counts[1:]}
    for r in runs[counts[1]]["rows"]:
        one = base.get((r.key, r.backend))
        if one is None or one.seconds is None:
            continue
        cells = [fmt_time(later[t].get((r.key, r.backend)).seconds) for t in counts[1:]]
        ups = [_speedup(one, later[t].get((r.key, r.backend))) for t in counts[1:]]
        lines.append(f"| {r.workload} | {r.backend} | {fmt_time(one.seconds)} | "
                     + " | ".join(cells) + " | " + " | ".join(ups) + " |")
    return "\n".join(lines) + "\n"


def _speedup(one, many) -> str:
    if many is None or many.seconds is None or one.seconds is None:
        return "-"
    return f"{one.seconds / many.seconds:.2f}x"


def latency_table(latency: list) -> str:
    lines = ["| what | backend | cache | import | first call | 2nd call | notes |",
             "|---|---|---|---:|---:|---:|---|"]
    lines += [f"| {r.what} | {r.backend} | {r.cache} | {fmt_time(r.import_s)} | "
              f"{fmt_time(r.first_s)} | {fmt_time(r.second_s)} | {r.notes} |" for r in latency]
    return "\n".join(lines) + "\n"


@dataclass
class Results:
    runs: dict  # thread count -> {"limits": {...}, "rows": [Row]}
    latency: list

    def row(self, key: str, backend: str, threads: int | None = None):
        t = min(self.runs, default=1) if threads is None else threads
        rows = self.runs.get(t, {"rows": []})["rows"]
        return next((r for r in rows if r.key == key and r.backend == backend), None)

    def peers(self, key: str, threads: int | None = None) -> list:
        t = min(self.runs, default=1) if threads is None else threads
        return [r for r in self.runs.get(t, {"rows": []})["rows"] if r.key == key
                and r.backend != "numpy" and not r.backend.startswith("ember")
                and r.seconds is not None and r.ok]


def _state(r) -> tuple[str, bool | None]:
    """(ember cell, None when the row is usable, else False) for an ember row."""
    if r is None:
        return "not measured", None
    if r.seconds is None:
        return r.notes, False
    return "", True if r.ok else False


def _met(ok: bool | None, r=None) -> str:
    if r is not None and r.seconds is not None and not r.ok:
        return "no (wrong result)"
    return {True: "yes", False: "no", None: "n/a"}[ok]


def ratio_target(key: str, want: float) -> Callable:
    def check(res: Results):
        r = res.row(key, "ember")
        text, usable = _state(r)
        best = max(res.peers(key), key=lambda p: p.ratio, default=None)
        peer = f"{best.backend} {best.ratio:.2f}x" if best else "-"
        if not usable:
            return f"≥ {want}x NumPy", text, peer, _met(usable, r)
        return f"≥ {want}x NumPy", f"{r.ratio:.2f}x", peer, _met(r.ratio >= want, r)
    return check


def gemm_target(key: str, gflops: float = 60.0, of_blas: float = 0.7) -> Callable:
    def check(res: Results):
        r = res.row(key, "ember")
        text, usable = _state(r)
        best = max(res.peers(key), key=lambda p: p.rate or 0, default=None)
        peer = f"{best.backend} {best.rate:.0f} GFLOP/s" if best else "-"
        want = f"≥ {gflops:.0f} GFLOP/s, ≥ {of_blas}x OpenBLAS"
        if not usable:
            return want, text, peer, _met(usable, r)
        ok = r.rate >= gflops and r.ratio >= of_blas
        return want, f"{r.rate:.0f} GFLOP/s, {r.ratio:.2f}x", peer, _met(ok, r)
    return check


def numba_target(key: str) -> Callable:
    def check(res: Results):
        r, nb = res.row(key, "ember"), res.row(key, "numba")
        text, usable = _state(r)
        peer = fmt_time(nb.seconds) if nb and nb.seconds else "not measured"
        if not usable:
            return "≤ Numba's time", text, f"numba {peer}", _met(usable, r)
        ok = None if not (nb and nb.seconds) else r.seconds <= nb.seconds
        return "≤ Numba's time", fmt_time(r.seconds), f"numba {peer}", _met(ok, r)
    return check


def thread_target(key: str, want: float = 1.8, backend: str = "ember") -> Callable:
    def check(res: Results):
        counts = sorted(res.runs)
        label = f"≥ {want}x from 1 to 2 threads" + (f" ({backend})" if backend != "ember" else "")
        if 1 not in counts or 2 not in counts:
            return label, "not measured (needs --threads 1,2)", "-", "n/a"
        one, two = res.row(key, backend, 1), res.row(key, backend, 2)
        ups = [(p.backend, p.seconds / q.seconds) for p in res.peers(key, 1)
               for q in res.peers(key, 2) if q.backend == p.backend]
        best = max(ups, key=lambda u: u[1], default=None)
        peer = f"{best[0]} {best[1]:.2f}x" if best else "-"
        if not (one and two and one.seconds and two.seconds):
            return label, "failed or not measured", peer, "n/a"
        up = one.seconds / two.seconds
        return label, f"{up:.2f}x", peer, _met(up >= want)
    return check


def time_target(key: str, limit: float) -> Callable:
    def check(res: Results):
        r = res.row(key, "ember")
        text, usable = _state(r)
        best = min(res.peers(key), key=lambda p: p.seconds, default=None)
        peer = f"{best.backend} {fmt_time(best.seconds)}" if best else "-"
        if not usable:
            return f"≤ {fmt_time(limit)}", text, peer, _met(usable, r)
        return f"≤ {fmt_time(limit)}", fmt_time(r.seconds), peer, _met(r.seconds <= limit, r)
    return check


def latency_target(what: str, cache: str, limit: float, field: str = "first_s") -> Callable:
    def check(res: Results):
        rows = [r for r in res.latency if r.what == what and r.cache == cache]
        mine = next((r for r in rows if r.backend == "ember"), None)
        peer = next((r for r in rows if r.backend != "ember" and getattr(r, field)), None)
        peer_text = f"{peer.backend} {fmt_time(getattr(peer, field))}" if peer else "-"
        if mine is None or getattr(mine, field) is None:
            return f"≤ {fmt_time(limit)}", mine.notes if mine else "not measured", peer_text, \
                "n/a" if mine is None else "no"
        value = getattr(mine, field)
        return f"≤ {fmt_time(limit)}", fmt_time(value), peer_text, _met(value <= limit)
    return check


TARGETS = [
    ("`tanh(x*a+b)*0.5+x`, 4M f32", ratio_target("chain", 4.0)),
    ("gelu (tanh form), 4M f32", ratio_target("gelu", 4.0)),
    ("sum of 4M f32", ratio_target("sum", 2.5)),
    ("row sums, 2048² f32", ratio_target("rowsum", 2.5)),
    ("softmax, 2048² f32", ratio_target("softmax", 3.5)),
    ("layer_norm, 2048² f32", ratio_target("layernorm", 5.0)),
    ("matmul f32 512", gemm_target("matmul")),
    ("matmul f32 1024", gemm_target("matmul1024")),
    ("MLP forward 64x512 → 1024 relu → 256 softmax", ratio_target("mlp", 1.3)),
    ("mandelbrot (script loops)", numba_target("mandelbrot")),
    ("Jacobi (script loops)", numba_target("jacobi")),
    ("prefix sum (script loops)", numba_target("prefix")),
    ("2 threads vs 1: chain", thread_target("chain")),
    ("2 threads vs 1: softmax", thread_target("softmax")),
    ("2 threads vs 1: matmul 512", thread_target("matmul")),
    ("2 threads vs 1: mandelbrot", thread_target("mandelbrot", backend="ember prange")),
    ("call overhead, 4 elements, array result", time_target("overhead", 2.5e-6)),
    ("first call, fresh process, empty cache: chain",
     latency_target("first call of chain", "cold", 0.4)),
    ("first call, fresh process, empty cache: MLP",
     latency_target("first call of mlp", "cold", 0.4)),
    ("first call, warm disk cache: chain", latency_target("first call of chain", "warm", 0.05)),
    ("first call, warm disk cache: MLP", latency_target("first call of mlp", "warm", 0.05)),
    ("`import ember`", latency_target("import ember (numpy imported)", "-", 0.6, "import_s")),
]


def targets_table(res: Results) -> str:
    lines = ["| workload | target | ember | best peer | met? |", "|---|---|---:|---:|---|"]
    for name, check in TARGETS:
        want, got, peer, met = check(res)
        lines.append(f"| {name} | {want} | {got} | {peer} | {met} |")
    return "\n".join(lines) + "\n"


def render_all(runs: dict, latency: list, stamp: str, machine: str, command: str,
               quick: bool = False) -> str:
    res, counts = Results(runs, latency), sorted(runs)
    caveat = ("**--quick: small sizes.** The rows below name the targets' sizes, but the "
              "numbers come from much smaller inputs and say nothing about the targets.\n\n"
              if quick else "")
    parts = [f"# ember benchmarks — {stamp}\n\n{machine}\n\n`{command}`; see bench/README.md "
             "for how to read these tables. Ratios are measured in one process per thread "
             "count; the targets are those of the performance issue (1 thread unless said).\n",
             "## Targets\n", caveat + targets_table(res)]
    if runs:
        parts += ["## Machine limits\n",
                  machine_limits.render([runs[t]["limits"] for t in counts])]
    for t in counts:
        parts += [f"## Workloads, {t} thread{'s' * (t > 1)}\n", workload_table(runs[t]["rows"])]
    if len(counts) > 1:
        parts += [f"## Threads: speedup over {counts[0]} thread{'s' * (counts[0] > 1)}\n",
                  thread_table(runs)]
    if latency:
        parts += ["## Import and first call in fresh processes, 1 thread\n",
                  latency_table(latency)]
    return "\n".join(parts)


def plot(rows: list, path: Path) -> Path | None:
    """A grouped bar chart of x NumPy (log scale) per workload and backend; None without
    matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"# matplotlib not installed: {path} not written", file=sys.stderr)
        return None
    keys = list(dict.fromkeys(r.key for r in rows if r.ratio))
    backends = [b for b in dict.fromkeys(r.backend for r in rows if r.ratio) if b != "numpy"]
    ratio = {(r.key, r.backend): r.ratio for r in rows if r.ratio and r.ok}
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(keys)) + 2, 4.5))
    width = 0.8 / max(len(backends), 1)
    for i, b in enumerate(backends):
        xs = [k + (i - (len(backends) - 1) / 2) * width for k in range(len(keys))]
        ax.bar(xs, [ratio.get((k, b), 0) for k in keys], width, label=b)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(keys)), keys, rotation=30, ha="right")
    ax.set_ylabel("x NumPy (higher is faster)")
    threads = rows[0].threads if rows else 1
    ax.set_title(f"ember and peers against NumPy, {threads} thread{'s' * (threads > 1)} "
                 "(same-process ratios)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
