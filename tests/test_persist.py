"""ember.save / ember.load, the disk cache, pickling, and compiled kernels in worker processes."""

import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import ember
from ember.persist import cache_dir

RNG = np.random.default_rng(7)


@ember.script
def model(x, y, a: float):
    return np.tanh(x * a + y) * 0.5 + x.sum(axis=1, keepdims=True), (x * y).max()


@ember.script
def scale(x, k: float):
    return x * k + 1.0


def inputs(dtype=np.float32):
    return RNG.standard_normal((6, 5)).astype(dtype), RNG.standard_normal(5).astype(dtype)


def assert_same(got, want):
    assert type(got) is type(want)
    for g, w in zip(got, want) if isinstance(want, tuple) else [(got, want)]:
        assert np.asarray(g).dtype == np.asarray(w).dtype and np.shape(g) == np.shape(w)
        np.testing.assert_array_equal(g, w)


@pytest.fixture
def saved(tmp_path):
    x, y = inputs()
    model(x, y, 2.0)
    model(*inputs(np.float64), 0.5)
    path = tmp_path / "model.ember"
    ember.save(model, path)
    return path


# -- save and load ----------------------------------------------------------------------


@pytest.mark.parametrize("objects", [True, False])
def test_loaded_function_computes_what_the_original_does(tmp_path, objects):
    x, y = inputs()
    xd, yd = inputs(np.float64)
    model(x[::2], y, 2.0), model(xd, yd, 0.5)
    path = tmp_path / "m.ember"
    ember.save(model, path, objects=objects)
    g = ember.load(path)
    assert isinstance(g, ember.LoadedFunction) and g.__name__ == "model"
    assert sorted(g.signatures) == sorted(model.signatures)
    # x: contiguous, served by the strided signature; an int for `a: float`
    for args in [(x, y, 2.0), (xd, yd, 0.5), (x[::2], y, 3)]:
        assert_same(g(*args), model(*args))
    assert g.ir("tensor") in {s.ir["tensor"] for s in model._cache.values()}
    reasons = {c["reason"] for c in g.cache_info()["compiles"]}
    assert reasons == {f"loaded from {path}"}
    members = set(zipfile.ZipFile(path).namelist())
    assert ("sig0/host.o" in members) == objects


def test_load_checks_its_arguments_and_says_which_signatures_it_has(saved):
    g = ember.load(saved)
    x, y = inputs()
    with pytest.raises(TypeError, match=r"without its source, with the signatures .*; it has no "
                       r"compiled code for \(int64\[\?,\?\], float32\[\?\], float\)"):
        g(x.astype(np.int64), y, 1.0)
    with pytest.raises(TypeError, match="'a' is annotated as float but got str"):
        g(x, y, "2")
    with pytest.raises(ValueError, match="broadcast"):
        g(x, np.ones(4, np.float32), 1.0)


def test_the_artifact_is_json_and_text_never_pickle(saved):
    z = zipfile.ZipFile(saved)
    manifest = json.loads(z.read("manifest.json"))
    assert manifest["format"] == "ember-artifact" and manifest["versions"]["ember"] == ember.__version__
    assert len(manifest["signatures"]) == len(model.signatures) >= 2
    assert manifest["function"]["kind"] == "script"
    for name in z.namelist():
        data = z.read(name)
        assert not data.startswith(b"\x80"), f"{name} looks like a pickle"
        if not name.endswith(".o"):
            data.decode()  # text


def _rewrite(path, edit):
    """Rewrite the artifact at ``path`` with ``edit(name, data) -> data``."""
    z = zipfile.ZipFile(path)
    members = {n: edit(n, z.read(n)) for n in z.namelist()}
    with zipfile.ZipFile(path, "w") as out:
        for n, data in members.items():
            out.writestr(n, data)


def test_damaged_or_foreign_artifacts_give_clear_errors(saved, tmp_path):
    data = saved.read_bytes()
    truncated = tmp_path / "truncated.ember"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ember.ArtifactError, match="truncated or corrupted"):
        ember.load(truncated)

    flipped = bytearray(data)
    start = len(data) // 3  # inside some member's compressed data
    flipped[start:start + 64] = bytes(b ^ 0x5A for b in flipped[start:start + 64])
    corrupted = tmp_path / "corrupted.ember"
    corrupted.write_bytes(bytes(flipped))
    with pytest.raises(ember.ArtifactError, match="corrupted|truncated"):
        ember.load(corrupted)

    with pytest.raises(ember.ArtifactError, match="cannot read"):
        ember.load(tmp_path / "missing.ember")

    def old_version(name, data):
        if name != "manifest.json":
            return data
        m = json.loads(data)
        m["versions"]["ember"] = "0.0.1"
        return json.dumps(m)

    _rewrite(saved, old_version)
    with pytest.raises(ember.ArtifactError, match=r"saved by ember 0\.0\.1 .* save it again"):
        ember.load(saved)


def test_ir_that_does_not_verify_is_rejected(saved):
    _rewrite(saved, lambda n, d: d.replace(b"etensor.tanh", b"etensor.bogus") if n.endswith("tensor.mlir") else d)
    with pytest.raises(ember.ArtifactError, match="signature 0: its tensor-stage IR does not verify"):
        ember.load(saved)


def test_traced_functions_save_and_load(tmp_path):
    def f(x):
        return np.exp(x - x.max(axis=-1, keepdims=True))

    x = inputs()[0]
    g = ember.trace(f, (x,))
    ember.save(g, tmp_path / "t.ember")
    h = ember.load(tmp_path / "t.ember")
    assert_same(h(x[:3]), g(x[:3]))
    assert json.loads(zipfile.ZipFile(tmp_path / "t.ember").read("manifest.json"))["function"]["kind"] == "trace"


def test_save_needs_a_compiled_ember_function(tmp_path):
    @ember.script
    def fresh(x):
        return x + 1

    with pytest.raises(ValueError, match="fresh has no compiled signatures to save: call it first"):
        ember.save(fresh, tmp_path / "f.ember")
    with pytest.raises(TypeError, match="needs a function made by ember.script or ember.trace"):
        ember.save(np.sin, tmp_path / "f.ember")


# -- the disk cache ---------------------------------------------------------------------

PROGRAM = """
import json, sys, time
import numpy as np
import ember

@ember.script
def chain(x, a: float, b: float):
    return np.tanh(x * a + b) * SCALE + x

x = np.linspace(-3, 3, 1001).astype(np.float32)
t0 = time.perf_counter()
y = chain(x, 1.5, 0.25)
first = time.perf_counter() - t0
info = chain.cache_info()["compiles"][0]
print(json.dumps({"reason": info["reason"], "first": first, "sum": float(y.astype(np.float64).sum()),
                  "timings": list(info["timings"])}))
"""


def run_program(tmp_path, env_extra, scale="0.5", name="prog.py"):
    script = tmp_path / name
    script.write_text(PROGRAM.replace("SCALE", scale))
    env = {**os.environ, **env_extra}
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_second_process_skips_the_compile(tmp_path):
    env = {"EMBER_CACHE_DIR": str(tmp_path / "cache")}
    cold = run_program(tmp_path, env)
    warm = run_program(tmp_path, env)
    assert cold["reason"] == "first call" and "tensor-to-loop" in cold["timings"]
    assert warm["reason"] == "first call (from the disk cache)"
    assert warm["timings"] == ["frontend", "disk-cache"]
    assert warm["sum"] == cold["sum"]
    entries = list((tmp_path / "cache").rglob("*.ember"))
    assert len(entries) == 1
    # a different constant is a different program: a new entry, computed afresh
    other = run_program(tmp_path, env, scale="0.75")
    assert other["reason"] == "first call" and other["sum"] != cold["sum"]
    assert len(list((tmp_path / "cache").rglob("*.ember"))) == 2


def test_a_corrupted_entry_is_ignored_and_rebuilt(tmp_path):
    env = {"EMBER_CACHE_DIR": str(tmp_path / "cache")}
    cold = run_program(tmp_path, env)
    (entry,) = (tmp_path / "cache").rglob("*.ember")
    entry.write_bytes(entry.read_bytes()[:100])
    again = run_program(tmp_path, env)
    assert again["reason"] == "first call" and again["sum"] == cold["sum"]
    assert run_program(tmp_path, env)["reason"] == "first call (from the disk cache)"


def test_cache_off_writes_nothing(tmp_path):
    env = {"EMBER_CACHE_DIR": str(tmp_path / "cache"), "EMBER_CACHE": "0"}
    assert run_program(tmp_path, env)["reason"] == "first call"
    assert run_program(tmp_path, env)["reason"] == "first call"
    assert not (tmp_path / "cache").exists()


def test_concurrent_processes_writing_one_entry(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM.replace("SCALE", "0.5"))
    env = {**os.environ, "EMBER_CACHE_DIR": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    sums = {json.loads(o.strip().splitlines()[-1])["sum"] for o, _ in outs}
    assert len(sums) == 1
    assert len(list((tmp_path / "cache").rglob("*.ember"))) == 1
    assert not list((tmp_path / "cache").rglob("*.tmp"))
    assert run_program(tmp_path, {"EMBER_CACHE_DIR": str(tmp_path / "cache")})["reason"].endswith(
        "(from the disk cache)")


def test_custom_passes_are_never_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_CACHE_DIR", str(tmp_path / "cache"))

    @ember.script(passes={"tensor": ["cse"]})
    def f(x):
        return x * 2

    f(np.ones(3))
    assert not (tmp_path / "cache").exists()


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("EMBER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "ember"
    monkeypatch.setenv("EMBER_CACHE", "0")
    assert cache_dir() is None


# -- pickling and worker processes ------------------------------------------------------


def test_pickle_round_trip_in_process_returns_the_same_function():
    x, y = inputs()
    model(x, y, 2.0)
    assert pickle.loads(pickle.dumps(model)) is model


def test_a_function_the_worker_cannot_import_arrives_as_its_compiled_code():
    def make():
        @ember.script
        def local(x, k: float):
            return np.sqrt(np.abs(x)) * k

        return local

    f = make()
    x = inputs()[0]
    f(x, 2.0)
    g = pickle.loads(pickle.dumps(f))
    assert isinstance(g, ember.LoadedFunction)
    assert_same(g(x, 3.0), f(x, 3.0))


def _kernel_in_worker(payload):
    fn, x = pickle.loads(payload)
    return fn(x, 2.0), [c["reason"] for c in fn.cache_info()["compiles"]]


def test_multiprocessing_pool_runs_the_compiled_kernel():
    x = inputs()[0]
    scale(x, 2.0)
    payload = pickle.dumps((scale, x))
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(_kernel_in_worker, [payload] * 3)
    for y, reasons in results:
        np.testing.assert_array_equal(y, x * np.float32(2.0) + np.float32(1.0))
        assert reasons and all(r in ("unpickled", f"loaded from <pickled ember function>")
                               for r in reasons), reasons


def test_dask_map_blocks_on_a_local_cluster():
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("dask.distributed")
    x = RNG.standard_normal((400, 64)).astype(np.float32)
    scale(x[:100], 2.0)  # compile the block signature here; workers get the code
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        arr = da.from_array(x, chunks=(100, 64))
        got = arr.map_blocks(scale, 2.0, dtype=np.float32).compute()
        reasons = client.run(lambda: "ok")
    assert len(reasons) == 2
    np.testing.assert_array_equal(got, x * np.float32(2.0) + np.float32(1.0))


def test_a_loaded_function_inside_a_trace_is_a_clear_error(saved):
    g = ember.load(saved)
    x, y = inputs()
    with pytest.raises(ember.TraceError, match="loaded from an artifact without its Python source"):
        ember.trace(lambda x, y: g(x, y, 1.0)[0] + 1, (x, y))


def test_the_deployment_page_python_examples_run(tmp_path, monkeypatch):
    """docs/deployment.md, from "Save and load" on: its Python blocks, as one module."""
    from pathlib import Path
    import importlib.util
    import re

    page = (Path(__file__).resolve().parent.parent / "docs" / "deployment.md").read_text(encoding="utf-8")
    section = page[page.index("## Save and load compiled functions"):]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    module = tmp_path / "doc_deployment_python.py"
    module.write_text("\n".join(blocks))
    spec = importlib.util.spec_from_file_location(module.stem, module)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert (tmp_path / "softmax.ember").exists()


def test_ember_cache_command_reports_and_clears(tmp_path):
    env = {"EMBER_CACHE_DIR": str(tmp_path / "cache")}
    run_program(tmp_path, env)
    full = {**os.environ, **env}
    cmd = [sys.executable, "-m", "ember.cli", "cache"]
    info = subprocess.run(cmd, env=full, capture_output=True, text=True, check=True).stdout
    assert info.startswith(f"disk cache: {tmp_path / 'cache'}: 1 entries, ")
    cleared = subprocess.run(cmd + ["clear"], env=full, capture_output=True, text=True, check=True).stdout
    assert cleared.splitlines()[0] == "removed 1 entries" and ": 0 entries" in cleared
    off = subprocess.run(cmd, env={**full, "EMBER_CACHE": "0"}, capture_output=True, text=True,
                         check=True).stdout
    assert off.strip() == "disk cache: off (EMBER_CACHE=0)"


def test_the_cache_key_covers_every_ember_module():
    from ember.artifact import source_files

    names = {name for name, _ in source_files()}
    for module in ("ember/api.py", "ember.lowering/matmul.py", "ember.lowering/vector_math.py",
                   "ember.dialects/etensor.py", "ember.frontends/script.py"):
        assert module in names
