"""``ember-run``: JIT-compile a function of an MLIR file and run it on command-line arguments.

Like ``mlir-runner``: the input may be at any stage; it is lowered with the stage pipeline
(as ``ember-opt --emit=llvm``), compiled with llvmlite and called through ember's Python
entry ABI (``ember.lowering.abi``)::

    ember-run f.mlir --arg 1.5 --arg "[[1,2],[3,4]]:f32"      # prints the results (numpy repr)
    ember-run f.mlir --entry g --arg x.npy -o out.npy          # saves the result
    ember-run k.mlir --shared-libs ./libk.so --load-plugin ops.py

Arguments are Python literals (``1.5``, ``3``, ``true``), nested lists with an optional
``:dtype`` suffix (``f32 f64 i32 i64 i1`` or a NumPy dtype name), or ``.npy`` files; each is
converted to its parameter's type (same-kind casts only) and checked against its static sizes.
The entry function is ``--entry`` or the first ``func.func`` with a body. It gets the
``ember.entry`` attribute if it lacks it (for loop-stage input, the ``memref.alloc`` of each
returned buffer is marked ``ember.result`` so that NumPy owns it). LLVM-stage input has lost
its memref types: give them with ``--signature '(memref<?xf32>, f32) -> memref<?xf32>'``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import numpy as np
from xdsl.dialects import cf, func, llvm, memref
from xdsl.dialects.builtin import (FunctionType, IndexType, IntegerAttr, IntegerType, MemRefType,
                                   ModuleOp, TensorType, UnitAttr, i64)
from xdsl.ir import Attribute

from ember.cli import _fail, _first_line, infer_stage, load_plugin, OptError, stage_passes

PROG = "ember-run"
_DTYPES = {"f32": np.float32, "f64": np.float64, "i32": np.int32, "i64": np.int64, "i1": np.bool_}


class RunError(Exception):
    """A user error in an ``ember-run`` invocation, reported as one line."""


# -- arguments --------------------------------------------------------------------------------


def parse_arg(text: str) -> object:
    """A command-line value: a ``.npy`` file, a literal, or a literal list with ``:dtype``."""
    if text.endswith(".npy"):
        try:
            return np.load(text, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise RunError(f"cannot read {text}: {_first_line(e)}") from None
    body, sep, suffix = text.rpartition(":")
    if not sep or not suffix.strip().isidentifier():
        body, suffix = text, ""
    literal = {"true": True, "false": False}.get(body.strip().lower(), None)
    if literal is None:
        try:
            literal = ast.literal_eval(body.strip())
        except (ValueError, SyntaxError):
            raise RunError(f"cannot parse argument {text!r}: expected a number, a list "
                           "(optionally with :dtype) or a .npy file") from None
    if suffix:
        try:
            return np.asarray(literal, dtype=_DTYPES.get(suffix, suffix))
        except TypeError:
            raise RunError(f"unknown dtype {suffix!r} in argument {text!r}") from None
    return np.asarray(literal) if isinstance(literal, list | tuple) else literal


def _kind(t: Attribute) -> str:
    """The ``make_entry`` parameter kind of a parameter type."""
    if isinstance(t, TensorType | MemRefType):
        return "array"
    if isinstance(t, IndexType):
        return "index"
    if isinstance(t, IntegerType):
        return "i1" if t.width.data == 1 else f"i{t.width.data}"
    return str(t)


def convert(value: object, t: Attribute, k: int) -> object:
    """``value`` as parameter ``k`` of type ``t`` expects it (checked; never a bad pointer)."""
    from ember.dialects.shapes import DYN, to_numpy_dtype

    if not isinstance(t, TensorType | MemRefType):
        if isinstance(value, np.ndarray):
            if value.ndim != 0:
                raise RunError(f"argument {k}: expected a scalar ({t}), got an array of shape {value.shape}")
            value = value.item()
        return {"i1": bool, "index": int}.get(_kind(t), float if _kind(t) in ("f32", "f64") else int)(value)
    dtype = to_numpy_dtype(t.element_type)
    arr = np.asarray(value)
    if not np.can_cast(arr.dtype, dtype, "same_kind"):
        raise RunError(f"argument {k}: cannot convert {arr.dtype} data to {dtype} ({t})")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    shape = t.get_shape()
    if arr.ndim != len(shape) or any(d != DYN and d != n for d, n in zip(shape, arr.shape)):
        raise RunError(f"argument {k}: expected {t}, got an array of shape {arr.shape}")
    return arr


# -- compiling --------------------------------------------------------------------------------


def _entry(module: ModuleOp, name: str | None):
    fns = [op for op in module.ops if isinstance(op, func.FuncOp | llvm.FuncOp) and op.body.blocks]
    if name is not None:
        fns = [op for op in fns if op.sym_name.data == name]
    if not fns:
        raise RunError(f"no function @{name} with a body" if name else "the input has no function to run")
    return fns[0]


def _mark_results(fop: func.FuncOp) -> None:
    """Loop-stage input without ``ember.entry``: returned allocs become NumPy's buffers."""
    for op in fop.walk():
        if isinstance(op, func.ReturnOp):
            for k, v in enumerate(op.operands):
                if not isinstance(v.owner, memref.AllocOp):
                    raise RunError(f"result {k} of @{fop.sym_name.data} is not a memref.alloc of the "
                                   "function, so it cannot be handed to NumPy")
                v.owner.attributes["ember.result"] = IntegerAttr(k, i64)


def compile_entry(module: ModuleOp, name: str | None = None, signature: FunctionType | None = None):
    """Lower ``module`` to native code; returns ``(call, function_type, assert_messages)``."""
    from ember.context import make_context
    from ember.dialects.shapes import to_numpy_dtype
    from ember.lowering.abi import make_entry, returned_arguments
    from ember.lowering.jit import Engine
    from ember.lowering.llvm_ir import to_llvm_ir

    fop = _entry(module, name)
    stage = infer_stage(module)
    if isinstance(fop, llvm.FuncOp):
        if signature is None or "ember.entry" not in fop.attributes:
            raise RunError("llvm-stage input needs an ember.entry function and --signature "
                           "(its types before lowering), e.g. '(memref<?xf32>) -> memref<?xf32>'")
        ftype = signature
    else:
        ftype = fop.function_type
        if "ember.entry" not in fop.attributes:
            if stage == "loop":
                _mark_results(fop)
            fop.attributes["ember.entry"] = UnitAttr()
    name = fop.sym_name.data
    ctx = make_context()
    messages: list[str] = []
    if stage != "llvm":
        _run_passes(ctx, module, stage_passes(stage, "loop") if stage == "tensor" else [])
        # the status an entry call returns is the number of the failed assert (number-asserts)
        messages = [a.msg.data for a in _entry(module, name).walk() if isinstance(a, cf.AssertOp)]
        _run_passes(ctx, module, stage_passes("loop", "llvm"))
    results = []
    for t in ftype.outputs:
        if not isinstance(t, TensorType | MemRefType):
            raise RunError(f"@{name} returns {t}: ember-run runs functions that return tensors")
        results.append((to_numpy_dtype(t.element_type), len(t.get_shape())))
    engine = Engine(to_llvm_ir(module))
    call = make_entry(engine, name, [_kind(t) for t in ftype.inputs], results,
                      returned_arguments(module, name))
    return call, ftype, messages


def _run_passes(ctx, module: ModuleOp, passes) -> None:
    from ember.errors import CompilerError

    for p in passes:
        try:
            p.apply(ctx, module)
            module.verify()
        except CompilerError as e:
            raise RunError(f"pass '{p.name}' failed: {_first_line(e)}") from None


# -- the command ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="run a function of an MLIR file "
                                     "(any ember stage) with the JIT, like mlir-runner")
    parser.error = lambda message: _fail(PROG, message)
    add = parser.add_argument
    add("input_file", help="the .mlir file (- for stdin)")
    add("--entry", "-e", default=None, help="the function to run (default: the first func.func)")
    add("--arg", "-a", action="append", default=[], metavar="VALUE",
        help="an argument: 1.5, 3, true, '[[1,2],[3,4]]:f32' or x.npy (repeat, in order)")
    add("-o", "--output-file", default=None, help="save the result (.npy; .npz for several)")
    add("--signature", default=None, help="for llvm-stage input: the function type before lowering")
    add("--shared-libs", action="append", default=[], metavar="LIB",
        help="load a shared library whose symbols the code calls (native custom ops)")
    add("--load-plugin", action="append", default=[], metavar="FILE_OR_MODULE",
        help="import a Python file or module that registers dialects, passes or custom ops")
    return parser


def run(argv: list[str] | None = None) -> tuple:
    """Parse ``argv``, compile and call; returns the results (also printed or saved)."""
    from xdsl.parser import Parser

    from ember.context import make_context
    from ember.registry import load_plugins

    args = _parser().parse_args(argv)
    for plugin in args.load_plugin:
        load_plugin(plugin)
    load_plugins()
    for lib in args.shared_libs:
        _load_library(lib)
    ctx = make_context()
    text = sys.stdin.read() if args.input_file == "-" else Path(args.input_file).read_text()
    module = Parser(ctx, text, args.input_file).parse_module()
    module.verify()
    signature = Parser(ctx, args.signature).parse_type() if args.signature else None
    call, ftype, messages = compile_entry(module, args.entry, signature)
    if len(args.arg) != len(ftype.inputs):
        raise RunError(f"the function takes {len(ftype.inputs)} arguments, {len(args.arg)} given (--arg)")
    values = [convert(parse_arg(a), t, k) for k, (a, t) in enumerate(zip(args.arg, ftype.inputs))]
    try:
        results = call(*values)
    except RuntimeError as e:
        status = getattr(e, "status", 0)
        raise RunError(messages[status - 1] if 0 < status <= len(messages) else str(e)) from None
    _output(results, args.output_file)
    return results


def _load_library(path: str) -> None:
    import ctypes

    import llvmlite.binding as llb

    try:
        ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    except OSError as e:
        raise RunError(f"cannot load {path}: {_first_line(e)}") from None
    llb.load_library_permanently(path)


def _output(results: tuple, path: str | None) -> None:
    if path is None:
        for r in results:
            print(repr(r))
    elif path.endswith(".npz"):
        np.savez(path, *results)
    elif len(results) != 1:
        raise RunError(f"the function has {len(results)} results: save them with -o FILE.npz")
    else:
        np.save(path, results[0])


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``ember-run``: user errors are one line on stderr, exit code 1."""
    from xdsl.utils.exceptions import DiagnosticException, ParseError

    try:
        run(argv)
    except (RunError, OptError) as e:
        _fail(PROG, str(e))
    except (ParseError, DiagnosticException) as e:
        _fail(PROG, str(e).strip())
    except (ValueError, OSError) as e:
        _fail(PROG, _first_line(e))


if __name__ == "__main__":
    main()
