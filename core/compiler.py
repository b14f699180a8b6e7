"""The compile driver: tensor-stage module -> every stage -> native entry point."""

from __future__ import annotations

import os
import sys
import time

from xdsl.dialects import cf, func
from xdsl.dialects.builtin import ModuleOp

from ember.context import make_context
from ember.dialects.shapes import to_numpy_dtype
from ember.errors import CompilerError, ScriptError
from ember.persist import only_embers_own_ops
from ember.pipeline import STAGES
from ember.stage_texts import StageTexts


def _dumped(stage: str) -> bool:
    """Whether ``EMBER_DUMP_IR`` (``all`` or a comma-separated list of stages) names ``stage``."""
    wanted = os.environ.get("EMBER_DUMP_IR", "")
    return stage in wanted.split(",") or wanted == "all"


def _dump(stage: str, text: str):
    if _dumped(stage):
        print(f"// -----// ember IR at stage '{stage}' //----- //\n{text}")


def _with_locations(module: ModuleOp) -> str:
    import io

    from xdsl.printer import Printer

    out = io.StringIO()
    Printer(stream=out, print_debuginfo=True).print_op(module)
    return out.getvalue()


def _repro(module: ModuleOp, pass_name: str) -> str:
    import tempfile

    fd, path = tempfile.mkstemp(prefix="ember-repro-", suffix=".mlir")
    with os.fdopen(fd, "w") as f:
        f.write(str(module))
    return f"reproduce with: ember-opt {path} -p {pass_name}"


def _assert_messages(texts_module: ModuleOp, name: str) -> list[str]:
    for op in texts_module.ops:
        if isinstance(op, func.FuncOp) and op.sym_name.data == name:
            return [a.msg.data for a in op.walk() if isinstance(a, cf.AssertOp)]
    return []


def _verify_after(stage: str, extra: bool, debug: bool) -> bool:
    """Whether to verify the module after a pass. ``EMBER_VERIFY=1`` (and
    ``EMBER_PRINT_IR_AFTER_ALL=1``) verify after every pass; otherwise only after the
    tensor stage's passes (a few ops: it checks the frontend's output) and after a user's
    extra passes. ember's own lowerings are checked by their tests and ``ember-opt``, which
    verifies: verifying the ~2000-op LLVM-stage module of an MLP after each of its dozen
    passes cost 0.55 s, more than all the passes together."""
    return debug or extra or stage == "tensor"


def _compile_in_background(llvm_text: str, kernels: str | None = None,
                           kernel_names: tuple[str, ...] = ()):
    """Start ``Engine(llvm_text)`` on a thread; returns a function that waits for the engine
    (raising what the compile raised). llvmlite releases the GIL inside LLVM, so Python work
    done meanwhile (printing the LLVM-stage MLIR) is free on a machine with a second core.
    The caller must not call ``llvmlite.binding`` until it waits: llvmlite serialises its
    calls with one lock."""
    import threading

    from ember.lowering.jit import Engine

    out: list = []

    def run():
        try:
            out.append(Engine(llvm_text, kernels=kernels, kernel_names=kernel_names))
        except BaseException as e:  # noqa: BLE001 - re-raised on the caller's thread
            out.append(e)

    # Each return from LLVM into Python needs the GIL; at the default 5 ms switch interval the
    # compile thread waits for it about as long as the overlap saves, at 0.1 ms not at all.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 1e-4))
    thread = threading.Thread(target=run, name="ember-llvm", daemon=True)
    thread.start()

    def wait():
        thread.join()
        sys.setswitchinterval(interval)
        if isinstance(out[0], BaseException):
            raise out[0]
        return out[0]
    return wait


def compile_module(*args, **kwargs):
    """:func:`_compile_module` with the cyclic garbage collector paused: a compile makes ~10^4
    IR objects that outlive it, and ~100 collections over them cost an MLP's first call
    ~15 ms (0.449 -> 0.432 s, median of 8 fresh processes)."""
    from ember.lowering.jit import gc_paused

    with gc_paused():
        return _compile_module(*args, **kwargs)


def _compile_module(module: ModuleOp, name: str, kinds: list[str], weak: list[bool],
                    returns_tuple: bool, key: tuple, extra_passes=None):
    """Compile a tensor-stage module whose entry function is ``name``.

    ``extra_passes`` maps a stage name to passes run at the end of that stage.
    ``EMBER_PRINT_IR_AFTER_ALL=1`` prints the IR after every pass (to stderr), with
    MLIR's ``// -----// IR Dump After <PassClass> (<pass-name>) //----- //`` header.
    ``EMBER_VERIFY=1`` verifies the IR after every pass (see :func:`_verify_after`).
    """
    from ember.api import Specialization
    from ember.lowering.abi import make_entry, returned_arguments
    from ember.lowering.arg_writes import written_arguments
    from ember.lowering.jit import Engine, start_runtime_link
    from ember.lowering.llvm_ir import to_llvm_ir_parts

    start_runtime_link()  # LLVM compiles the runtime while the passes below run
    timings: dict[str, float] = {}
    fop = next(op for op in module.ops if isinstance(op, func.FuncOp) and op.sym_name.data == name)
    results = [(to_numpy_dtype(t.element_type), len(t.get_shape())) for t in fop.function_type.outputs]
    written = written_arguments(fop)
    messages: list[str] = []
    returned: list[int] = [-1] * len(results)

    ctx = make_context()
    texts: dict[str, str] = {}
    extra_passes = extra_passes or {}
    print_all = os.environ.get("EMBER_PRINT_IR_AFTER_ALL") == "1"
    debug = print_all or os.environ.get("EMBER_VERIFY") == "1"
    lazy: tuple[str, ...] = ()
    for stage in STAGES:
        own = stage.passes()
        for k, p in enumerate([*own, *extra_passes.get(stage.name, ())]):
            t0 = time.perf_counter()
            try:
                p.apply(ctx, module)
                if _verify_after(stage.name, k >= len(own), debug):
                    module.verify()
            except ScriptError:
                raise  # a limit of what ember compiles, at the user's source line
            except Exception as e:
                raise CompilerError(f"pass '{p.name}' failed: {e}\n{_repro(module, p.name)}") from e
            timings[p.name] = timings.get(p.name, 0.0) + time.perf_counter() - t0
            if print_all:
                print(f"// -----// IR Dump After {type(p).__name__} ({p.name}) //----- //\n{module}",
                      file=sys.stderr)
        if stage.name == "tensor":
            t0 = time.perf_counter()
            texts["tensor"] = str(module)
            texts["tensor+locations"] = _with_locations(module)
            timings["print-ir"] = timings.get("print-ir", 0.0) + time.perf_counter() - t0
            if not any(extra_passes.values()) and only_embers_own_ops(module):
                lazy = tuple(s.name for s in STAGES[1:])
        elif stage is STAGES[-1]:
            break  # printed while LLVM compiles, if it must be printed now (below)
        elif stage.name not in lazy or _dumped(stage.name):
            t0 = time.perf_counter()
            texts[stage.name] = str(module)
            timings["print-ir"] = timings.get("print-ir", 0.0) + time.perf_counter() - t0
        if stage.name in texts:
            _dump(stage.name, texts[stage.name])
        if stage.name == "loop":
            messages = _assert_messages(module, name)
            returned = returned_arguments(module, name) or returned
    t0 = time.perf_counter()
    try:
        parts = to_llvm_ir_parts(module)
        llvm_text = parts.whole
    except Exception as e:
        repro = _repro(module, "").replace(" -p ", " --emit=llvm-ir")
        raise CompilerError(f"translation to LLVM IR failed: {e}\n{repro}\n(EMBER_VERIFY=1 "
                            "verifies the IR after every pass and names the pass that broke it)") from e
    timings["to-llvm-ir"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    last = STAGES[-1].name
    if last in lazy and not _dumped(last):
        engine = Engine(parts.main, kernels=parts.kernels, kernel_names=parts.kernel_names)
    else:
        wait = _compile_in_background(parts.main, parts.kernels, parts.kernel_names)
        try:  # the GIL is free while LLVM works: print meanwhile
            texts[last] = str(module)
            # overlapped: also inside "llvm-O3+codegen", the wall time until LLVM is done
            timings["print-ir"] = timings.get("print-ir", 0.0) + time.perf_counter() - t0
            _dump(last, texts[last])
        finally:
            engine = wait()
    _dump("llvm-ir", llvm_text)
    timings["llvm-O3+codegen"] = time.perf_counter() - t0
    call = make_entry(engine, name, kinds, results, returned)
    return Specialization(key, call, weak, returns_tuple, messages, StageTexts(texts, lazy), llvm_text,
                          engine.optimized_ir, timings, plain=all(rank > 0 for _, rank in results),
                          name=name, kinds=list(kinds),
                          results=[(dt.name, rank) for dt, rank in results], written=written,
                          returns_argument=returned)
