"""``ember-opt`` (mlir-opt conventions) and ``ember-run`` (a JIT runner like mlir-runner)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ember.cli import opt_main
from ember.cli_run import main as run_main
from ember.cli_run import parse_arg

TENSOR = """\
func.func @twice(%x: tensor<?xf32>) -> tensor<?xf32> {
  %0 = etensor.exp %x : tensor<?xf32>
  %1 = etensor.exp %x : tensor<?xf32>
  %2 = etensor.add %0, %1 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
  func.return %2 : tensor<?xf32>
}
"""

AXPY = """\
func.func @axpy(%x: tensor<?x?xf32>, %y: tensor<?xf32>, %a: f64) -> tensor<?x?xf32> {
  %0 = etensor.fill %a() : f64 -> tensor<f64>
  %1 = etensor.cast %0 : tensor<f64> to tensor<f32>
  %2 = etensor.mul %x, %1 : (tensor<?x?xf32>, tensor<f32>) -> tensor<?x?xf32>
  %3 = etensor.add %2, %y : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
  func.return %3 : tensor<?x?xf32>
}
"""


@pytest.fixture
def tensor_file(tmp_path):
    path = tmp_path / "twice.mlir"
    path.write_text(TENSOR)
    return str(path)


def opt(capsys, *argv):
    """Run ember-opt in-process: (exit code, stdout, stderr)."""
    try:
        opt_main(list(argv))
        code = 0
    except SystemExit as e:
        code = e.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


# -- ember-opt ---------------------------------------------------------------------------------


def test_print_ir_after_all_header(capsys, tensor_file):
    code, out, err = opt(capsys, tensor_file, "-p", "builtin.module(cse,canonicalize)",
                         "--print-ir-after-all")
    assert code == 0
    headers = [line for line in err.splitlines() if line.startswith("// -----//")]
    assert headers == ["// -----// IR Dump After CommonSubexpressionElimination (cse) //----- //",
                       "// -----// IR Dump After CanonicalizePass (canonicalize) //----- //"]
    assert "etensor.add %0, %0" in out


def test_print_ir_after_change_skips_no_ops(capsys, tensor_file):
    code, _, err = opt(capsys, tensor_file, "--pass-pipeline", "cse,cse", "--print-ir-after-change")
    assert code == 0 and err.count("IR Dump After") == 1


def test_time_passes_report(capsys, tensor_file):
    code, _, err = opt(capsys, tensor_file, "-p", "cse", "--time-passes")
    assert code == 0
    assert "... Execution time report ..." in err
    names = [line.split(")", 1)[1].strip() for line in err.splitlines() if "%)" in line]
    assert names == ["Parser", "cse", "Output", "Total"]


def test_output_file(capsys, tensor_file, tmp_path):
    out_path = tmp_path / "out.mlir"
    code, out, _ = opt(capsys, tensor_file, "-p", "canonicalize,cse", "-o", str(out_path))
    assert code == 0 and out == ""
    assert "etensor.add %0, %0" in out_path.read_text()


def test_split_input_file(capsys, tmp_path):
    path = tmp_path / "split.mlir"
    path.write_text(TENSOR + "\n// -----\n" + TENSOR.replace("@twice", "@again"))
    code, out, _ = opt(capsys, str(path), "--split-input-file", "-p", "cse")
    assert code == 0 and out.count("// -----") == 1 and "@twice" in out and "@again" in out


def test_verify_diagnostics(capsys, tmp_path):
    path = tmp_path / "bad.mlir"
    path.write_text("func.func @f(%x: tensor<?xi32>) {\n"
                    "  // expected-error @+1 {{etensor.exp needs a float element type, got i32}}\n"
                    "  %0 = etensor.exp %x : tensor<?xi32>\n  func.return\n}\n")
    assert opt(capsys, str(path), "--verify-diagnostics")[0] == 0
    path.write_text(path.read_text().replace("@+1", "@+2"))
    code, _, err = opt(capsys, str(path), "--verify-diagnostics")
    assert code == 1
    assert err == (f"ember-opt: error: {path}:3: unexpected error: "
                   "etensor.exp needs a float element type, got i32\n")


def test_list_passes(capsys):
    import ember.registry
    from dataclasses import dataclass
    from xdsl.passes import ModulePass

    @dataclass(frozen=True)
    class NothingPass(ModulePass):
        """Do nothing, for the listing. Second sentence is not shown."""

        name = "test-nothing"

        def apply(self, ctx, op):
            pass

    ember.registry.register_pass(NothingPass)
    try:
        code, out, _ = opt(capsys, "--list-passes")
    finally:
        del ember.registry.USER_PASSES["test-nothing"]
    assert code == 0
    rows = out.splitlines()[1:]
    names = [r.split()[0] for r in rows]
    assert names == sorted(names)
    row = next(r for r in rows if r.split()[0] == "test-nothing")
    assert row.split(None, 2)[1:] == ["[user]", "Do nothing, for the listing"]
    assert "Second sentence" not in out
    row = next(r for r in rows if r.split()[0] == "tensor-to-loop")
    assert row.split(None, 2)[1:] == ["[ember]", "Bufferize every function: etensor ops become loop nests over memrefs"]
    assert any(r.split()[0] == "cse" and "[ember]" not in r for r in rows)


def test_user_pass_runs_by_name(capsys, tensor_file):
    import ember.registry
    from dataclasses import dataclass
    from xdsl.passes import ModulePass

    @dataclass(frozen=True)
    class TagPass(ModulePass):
        """Tag the module."""

        name = "test-tag"
        label: str = "x"

        def apply(self, ctx, op):
            from xdsl.dialects.builtin import StringAttr

            op.attributes["test.tag"] = StringAttr(self.label)

    ember.registry.register_pass(TagPass)
    try:
        code, out, _ = opt(capsys, tensor_file, "-p", "test-tag{label=hello}")
    finally:
        del ember.registry.USER_PASSES["test-tag"]
    assert code == 0 and 'test.tag = "hello"' in out


@pytest.mark.parametrize("argv, message", [
    (["-p", "no-such-pass"], "ember-opt: error: unknown pass 'no-such-pass' (ember-opt --list-passes lists them)\n"),
    (["-p", "canonicalise"], "ember-opt: error: unknown pass 'canonicalise'; did you mean 'canonicalize'? "
                              "(ember-opt --list-passes lists them)\n"),
    (["--load-plugin", "/no/such/plugin.py"],
     "ember-opt: error: cannot load plugin '/no/such/plugin.py': no such file: /no/such/plugin.py\n"),
])
def test_one_line_errors(capsys, tensor_file, argv, message):
    code, out, err = opt(capsys, tensor_file, *argv)
    assert code == 1 and err == message and "Traceback" not in err


# -- ember-run --------------------------------------------------------------------------------


def test_parse_arg(tmp_path):
    assert parse_arg("1.5") == 1.5 and parse_arg("3") == 3 and parse_arg("true") is True
    a = parse_arg("[[1,2],[3,4]]:f32")
    assert a.dtype == np.float32 and a.shape == (2, 2)
    assert parse_arg("[1, 2]:int32").dtype == np.int32
    np.save(tmp_path / "x.npy", np.arange(3.0))
    np.testing.assert_array_equal(parse_arg(str(tmp_path / "x.npy")), np.arange(3.0))


def run(capsys, *argv):
    try:
        run_main(list(argv))
        code = 0
    except SystemExit as e:
        code = e.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_run_tensor_stage_with_command_line_args(capsys, tmp_path):
    path = tmp_path / "axpy.mlir"
    path.write_text(AXPY)
    code, out, err = run(capsys, str(path), "--arg", "[[1,2],[3,4]]:f32", "--arg", "[10, 20]", "--arg", "2")
    assert (code, err) == (0, "")
    assert out == repr(np.array([[12, 24], [16, 28]], np.float32)) + "\n"


def test_run_loop_stage_with_npy_args(capsys, tmp_path):
    """Loop-stage input without ember.entry: the entry ABI is added before lowering."""
    tensor = tmp_path / "axpy.mlir"
    tensor.write_text(AXPY)
    loop = tmp_path / "axpy_loop.mlir"
    assert opt(capsys, str(tensor), "--emit=loop", "-o", str(loop))[0] == 0
    assert "ember.entry" not in loop.read_text() and "memref<?x?xf32>" in loop.read_text()
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.array([1.0, -1.0]))  # float64: converted to the f32 parameter
    out_path = tmp_path / "out.npy"
    code, out, err = run(capsys, str(loop), "--arg", str(tmp_path / "x.npy"), "--arg",
                         str(tmp_path / "y.npy"), "--arg", "0.5", "-o", str(out_path))
    assert (code, out, err) == (0, "", "")
    np.testing.assert_array_equal(np.load(out_path), x * 0.5 + np.array([1, -1], np.float32))


@pytest.mark.parametrize("args, message", [
    (["--arg", "[1.5]", "--arg", "[1]", "--arg", "1"],
     "argument 0: expected tensor<?x?xf32>, got an array of shape (1,)"),
    (["--arg", "[[1]]:f32", "--arg", "[1, 2]"], "the function takes 3 arguments, 2 given (--arg)"),
    (["--arg", "[[1]]:f32", "--arg", "[1, 2]", "--arg", "1"], "operands could not be broadcast together"),
    (["--arg", "[[1]]:f32", "--arg", "[1]", "--arg", "oops"], "cannot parse argument 'oops'"),
    (["--entry", "nope"], "no function @nope with a body"),
])
def test_run_errors_are_one_line(capsys, tmp_path, args, message):
    path = tmp_path / "axpy.mlir"
    path.write_text(AXPY)
    code, out, err = run(capsys, str(path), *args)
    assert code == 1 and err.startswith(f"ember-run: error: {message}") and err.count("\n") == 1


def test_console_scripts_installed():
    bin_dir = Path(sys.executable).parent
    out = subprocess.run([str(bin_dir / "ember-run"), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--entry" in out.stdout
