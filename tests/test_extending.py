"""User passes and dialects: registered once, usable by name in a scripted function's
pipeline, reported in cache_info, visible in the IR after each pass."""

from dataclasses import dataclass

import numpy as np
import pytest
from xdsl.dialects import arith
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

import ember


class MulToAdd(RewritePattern):
    """``x * 2.0`` -> ``x + x`` on loop-stage floats (a toy strength reduction)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: arith.MulfOp, rewriter: PatternRewriter):
        c = op.rhs.owner
        if isinstance(c, arith.ConstantOp) and c.value.value.data == 2.0:
            rewriter.replace(op, arith.AddfOp(op.lhs, op.lhs))


@ember.register_pass
@dataclass(frozen=True)
class MulToAddPass(ModulePass):
    name = "test-mul-to-add"

    def apply(self, ctx, op):
        PatternRewriteWalker(MulToAdd()).rewrite_module(op)


def test_registered_pass_runs_in_a_scripted_pipeline():
    @ember.script(passes={"loop": ["test-mul-to-add"]})
    def f(x):
        return x * 2.0

    x = np.arange(5.0)
    np.testing.assert_array_equal(f(x), x * 2.0)
    loop = f.ir(stage="loop")
    assert "arith.addf" in loop and "arith.mulf" not in loop
    assert "test-mul-to-add" in f.cache_info()["compiles"][0]["timings"]


def test_pass_instances_and_pipeline_strings():
    f = ember.script(lambda x: x * 2.0, passes={"loop": [MulToAddPass(), "cse"]})
    assert f(np.ones(2)).tolist() == [2.0, 2.0]
    assert "arith.mulf" not in f.ir(stage="loop")


def test_unknown_pass_or_stage_fails_when_decorating():
    with pytest.raises(ValueError, match="Unrecognized passes: \\['no-such-pass'\\]"):
        ember.script(lambda x: x, passes={"tensor": ["no-such-pass"]})
    with pytest.raises(ValueError, match="unknown stage 'gpu'"):
        ember.script(lambda x: x, passes={"gpu": ["cse"]})


def test_print_ir_after_all(monkeypatch, capfd):
    monkeypatch.setenv("EMBER_PRINT_IR_AFTER_ALL", "1")
    ember.script(lambda x: x + 1)(np.ones(2))
    err = capfd.readouterr().err
    assert "// -----// IR Dump After TensorToLoopPass (tensor-to-loop) //----- //" in err
    assert "// -----// IR Dump After ConvertToLLVMPass (convert-to-llvm) //----- //" in err


def test_entry_point_plugins_are_loaded(tmp_path, monkeypatch):
    """An installed package with an ``ember.plugins`` entry point extends ember-opt."""
    import subprocess
    import sys

    (tmp_path / "myplugin.py").write_text(
        "from dataclasses import dataclass\n"
        "from xdsl.passes import ModulePass\n"
        "import ember\n"
        "def register():\n"
        "    @ember.register_pass\n"
        "    @dataclass(frozen=True)\n"
        "    class Nothing(ModulePass):\n"
        "        '''Does nothing, from a plugin.'''\n"
        "        name = 'plugin-nothing'\n"
        "        def apply(self, ctx, op):\n"
        "            pass\n")
    info = tmp_path / "myplugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[ember.plugins]\nmine = myplugin:register\n")
    mlir = tmp_path / "m.mlir"
    mlir.write_text("func.func @f() {\n  func.return\n}\n")
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path)}
    opt = [sys.executable, "-c", "from ember.cli import opt_main; opt_main()"]
    out = subprocess.run([*opt, str(mlir), "-p", "plugin-nothing"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "func.func @f()" in out.stdout
    listed = subprocess.run([*opt, "--list-passes"], env=env, capture_output=True, text=True)
    assert "plugin-nothing" in listed.stdout
