"""The loop and LLVM stage texts (``f.ir(stage)``) are printed on first use, not while the
function compiles: made again from the tensor stage, they must equal what printing the
compiled module gave."""

import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import ember
import ember.compiler
from ember.artifact import Artifact
from ember.stage_texts import StageTexts


def elementwise(x, a: float):
    return np.tanh(x * a + 1.0) * 0.5 + x


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def layer(x, w, b):
    return np.maximum(x @ w + b, 0.0)


def loops(a, n: int):
    total = 0.0
    out = a.copy()
    for i in range(n):
        if a[i] > 0.5:
            total += a[i]
        else:
            out[i] = -a[i]
    k = 0
    while k < n:
        out[k] = out[k] + total
        k += 2
    return out


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch):  # a function from the disk cache would not compile here
    monkeypatch.setenv("EMBER_CACHE", "0")


def _args(rng):
    return [
        (elementwise, (rng.random((3, 70), dtype=np.float32), 0.5)),
        (softmax, (rng.random((5, 33)),)),
        (layer, (rng.random((13, 40), dtype=np.float32), rng.random((40, 35), dtype=np.float32),
                 rng.random(35, dtype=np.float32))),
        (loops, (rng.random(9), 9)),
    ]


@pytest.mark.parametrize("k", range(4))
def test_lazy_texts_equal_the_printed_module(k, monkeypatch):
    fn, args = _args(np.random.default_rng(k))[k]
    lazy = ember.script(fn)
    lazy(*args)
    assert lazy._last.ir.lazy() == ("loop", "llvm"), "printed while compiling"
    monkeypatch.setattr(ember.compiler, "only_embers_own_ops", lambda module: False)
    eager = ember.script(fn)
    eager(*args)
    assert eager._last.ir.lazy() == ()
    for stage in ("tensor", "loop", "llvm"):
        assert lazy.ir(stage) == eager.ir(stage), stage
    assert lazy.ir("tensor", locations=True) == eager.ir("tensor", locations=True)
    assert list(lazy._last.ir) == list(eager._last.ir) == ["tensor", "tensor+locations", "loop",
                                                           "llvm"]


def test_unknown_stage_still_names_every_stage():
    f = ember.script(elementwise)
    f(np.ones(4, np.float32), 2.0)
    with pytest.raises(ValueError, match="tensor, loop, llvm"):
        f.ir("nope")
    assert f._last.ir.lazy() == ("loop", "llvm"), "listing the stages printed one"


def test_dumped_stages_are_printed_at_once(monkeypatch, capsys):
    monkeypatch.setenv("EMBER_DUMP_IR", "loop")
    f = ember.script(softmax)
    f(np.ones((2, 3)))
    assert f._last.ir.lazy() == ("llvm",)
    assert f.ir("loop") in capsys.readouterr().out


def test_the_disk_cache_stores_printed_stages_and_prints_the_rest_when_loaded(
        tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_CACHE", "1")
    monkeypatch.setenv("EMBER_CACHE_DIR", str(tmp_path))
    x = np.random.default_rng(0).random((4, 9))
    f = ember.script(softmax)
    f(x)
    (entry,) = tmp_path.rglob("*.ember")
    names = zipfile.ZipFile(entry).namelist()
    assert "sig0/tensor.mlir" in names and "sig0/loop.mlir" not in names
    spec = Artifact(entry.read_bytes(), str(entry)).specialization(0)
    assert isinstance(spec.ir, StageTexts) and spec.ir.lazy() == ("loop", "llvm")
    assert spec.ir["loop"] == f.ir("loop") and spec.ir["llvm"] == f.ir("llvm")
    assert np.array_equal(spec.call(x)[0], f(x))


def test_save_writes_every_stage(tmp_path):
    f = ember.script(softmax)
    f(np.ones((2, 3)))
    ember.save(f, tmp_path / "f.ember")
    names = zipfile.ZipFile(tmp_path / "f.ember").namelist()
    assert {"sig0/loop.mlir", "sig0/llvm.mlir"} <= set(names)
    assert ember.load(tmp_path / "f.ember").ir("loop") == f.ir("loop")


def test_user_passes_keep_the_texts_printed_while_compiling():
    f = ember.script(softmax, passes={"loop": ["canonicalize"]})
    f(np.ones((2, 3)))
    assert f._last.ir.lazy() == ()
    assert "func.func" in f.ir("loop")


def test_llvm_ir_text_is_the_same_in_every_process(tmp_path):
    """Fast-math flags print in LLVM's order, not in the order of xDSL's frozenset (which
    follows the process's string hashing): two hash seeds, one LLVM IR text."""
    program = tmp_path / "prog.py"
    program.write_text(textwrap.dedent("""
        import numpy as np
        import ember

        def softmax(x):
            e = np.exp(x - x.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)

        f = ember.script(softmax)
        f(np.ones((3, 4), np.float32))
        print(f.llvm_ir())
    """))
    texts = []
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "EMBER_CACHE": "0"}
        done = subprocess.run([sys.executable, str(program)], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        texts.append(done.stdout)
    assert "reassoc" in texts[0] and "contract" in texts[0]
    assert texts[0] == texts[1] == texts[2]
