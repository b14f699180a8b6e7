"""ember's command-line tools: ``ember-opt`` (an mlir-opt for ember's IR) and ``ember``.

``ember-opt`` is xDSL's ``xDSLOptMain`` with every ember dialect and pass registered, plus
``--emit`` to run the stage pipeline (:data:`ember.pipeline.STAGES`) up to a stage::

    ember-opt f.mlir                          # parse, verify, print (round trip)
    ember-opt f.mlir -p tensor-to-loop,cse    # run passes by name (xDSL's and ember's)
    ember-opt f.mlir --emit=loop              # the loop stage of a tensor-stage module
    ember-opt f.mlir --emit=llvm-ir           # LLVM IR text, ready for llvmlite
    ember-opt f.mlir --from=loop --emit=llvm  # declare the input's stage instead of inferring it

``-p`` runs first, then the stages. Every stage is also one pass, ``stage-<name>``
(``-p stage-loop`` runs the passes that make the loop stage). Errors (unknown pass, bad
option, invalid IR) are reported without a traceback, with exit code 1.

``ember`` is the user-facing entry point::

    ember demo        # compile a small model, print its IR per stage, time it against NumPy
    ember --version
"""

from __future__ import annotations

import argparse
import difflib
import io
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import IO, NoReturn

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.passes import ModulePass, PassPipeline
from xdsl.utils.arg_spec import parse_pipeline
from xdsl.utils.exceptions import ArgSpecParseError
from xdsl.xdsl_opt_main import xDSLOptMain

from ember.context import all_dialects
from ember.pipeline import STAGE_NAMES, STAGES

EMIT_CHOICES = [*STAGE_NAMES, "llvm-ir"]
_LLVM_DIALECTS = {"builtin", "llvm", "llvmx"}


def ember_version() -> str:
    try:
        return version("ember")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


# --- passes -----------------------------------------------------------------------------


def _stage_pass(stage_name: str) -> type[ModulePass]:
    """A pass that runs one stage's passes (``stage-loop`` = the tensor -> loop boundary)."""
    stage = next(s for s in STAGES if s.name == stage_name)

    @dataclass(frozen=True)
    class StagePass(ModulePass):
        name = f"stage-{stage_name}"

        def apply(self, ctx: Context, op: ModuleOp) -> None:
            for p in stage.passes():
                p.apply(ctx, op)

    StagePass.__doc__ = f"Run the passes that produce the {stage_name!r} stage: {stage.description}."
    StagePass.__name__ = StagePass.__qualname__ = f"Stage{stage_name.capitalize()}Pass"
    return StagePass


def ember_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """ember's passes by name: the lowerings, ``ember.passes.PASSES`` and one per stage."""
    from ember import passes as optimisations
    from ember.lowering.loop_to_llvm import PASSES as loop_to_llvm
    from ember.lowering.tensor_to_loop import TensorToLoopPass

    classes = {TensorToLoopPass.name: TensorToLoopPass, **loop_to_llvm,
               **getattr(optimisations, "PASSES", {})}
    factories = {name: (lambda cls=cls: cls) for name, cls in classes.items()}
    for name in STAGE_NAMES:
        factories[f"stage-{name}"] = lambda name=name: _stage_pass(name)
    return factories


def stage_passes(start: str, stop: str) -> list[ModulePass]:
    """The passes that take a module in stage ``start`` to stage ``stop``.

    Same rule as :func:`ember.pipeline.lower`: a module already in ``start`` skips that
    stage's passes, except ``tensor``, whose passes clean up a frontend's output.
    """
    first, last = STAGE_NAMES.index(start), STAGE_NAMES.index(stop)
    passes: list[ModulePass] = []
    for stage in STAGES[first:last + 1]:
        if stage.name != start or start == "tensor":
            passes.extend(stage.passes())
    return passes


def infer_stage(module: ModuleOp) -> str:
    """The earliest stage whose ops or types the module holds.

    etensor ops or tensor types -> ``tensor``; anything beyond llvm/builtin -> ``loop``;
    otherwise ``llvm``.
    """
    stage = "llvm"
    for op in module.walk():
        dialect = op.name.split(".", 1)[0]
        if dialect == "etensor" or any(isinstance(v.type, TensorType) for v in op.results):
            return "tensor"
        if dialect not in _LLVM_DIALECTS:
            stage = "loop"
    return stage


# --- ember-opt ----------------------------------------------------------------------------


class OptError(Exception):
    """A user error in an ``ember-opt`` invocation, reported as one line."""


class PassFailed(Exception):
    """A pass raised (or left invalid IR) while ``ember-opt`` ran it."""

    def __init__(self, pass_name: str, error: Exception):
        self.pass_name, self.error = pass_name, error
        super().__init__(f"pass '{pass_name}' failed: {str(error).strip()}")


def _fail(prog: str, message: str) -> NoReturn:
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(1)


class EmberOptMain(xDSLOptMain):
    """``xDSLOptMain`` with ember's dialects, passes and ``--emit``/``--from`` stage options."""

    version_format = "ember-opt " + ember_version() + " (xdsl {xdsl_version})"

    def register_all_dialects(self):
        for name, factory in all_dialects().items():
            self.ctx.register_dialect(name, factory)

    def register_all_passes(self):
        from xdsl.transforms import get_all_passes

        for name, factory in {**get_all_passes(), **ember_passes()}.items():
            self.register_pass(name, factory)

    def register_all_targets(self):
        super().register_all_targets()
        # xDSL's own `-t llvm` does not know the llvmx ops; --emit=llvm-ir is the same thing
        self.available_targets["llvm"] = _print_llvm_ir

    def register_all_arguments(self, arg_parser: argparse.ArgumentParser):
        super().register_all_arguments(arg_parser)
        arg_parser.error = lambda message: _fail(arg_parser.prog, message)
        arg_parser.add_argument(
            "--emit", choices=EMIT_CHOICES, default=None,
            help="lower the input through the stage pipeline up to this stage "
                 "(llvm-ir prints LLVM IR text)")
        arg_parser.add_argument(
            "--from", dest="from_stage", choices=STAGE_NAMES, default=None,
            help="the stage the input is in (default: inferred from its ops); "
                 "without --emit, lowers to llvm")
        arg_parser.add_argument(
            "--print-ir-after-all", dest="print_between_passes", action="store_true",
            help="alias of --print-between-passes")

    def setup_pipeline(self):
        spec = self.args.passes.strip()
        if spec.startswith("builtin.module(") and spec.endswith(")"):
            spec = spec[len("builtin.module("):-1]
        self.args.passes = spec
        try:
            specs = list(parse_pipeline(spec))
        except ArgSpecParseError as e:  # (a BaseException in xDSL 0.74)
            raise OptError(f"bad pass pipeline {spec!r}: {_message(e)}") from None
        unknown = [p.name for p in specs if p.name not in self.available_passes]
        if unknown:
            close = difflib.get_close_matches(unknown[0], self.available_passes, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise OptError(f"unknown pass '{unknown[0]}'{hint} (ember-opt --help lists them)")
        try:
            super().setup_pipeline()
        except ValueError as e:  # a pass rejected its options
            raise OptError(f"bad pass pipeline {spec!r}: {_first_line(e)}") from None

    def apply_passes(self, prog: ModuleOp):
        passes = self.pipeline.passes
        if self.args.emit is not None or self.args.from_stage is not None:
            start = self.args.from_stage or infer_stage(prog)
            stop = "llvm" if self.args.emit in (None, "llvm-ir") else self.args.emit
            if STAGE_NAMES.index(stop) < STAGE_NAMES.index(start):
                raise OptError(f"cannot emit the {stop!r} stage from {start!r}-stage input")
            passes += tuple(stage_passes(start, stop))
        running: list[ModulePass | None] = [None]

        def callback(previous: ModulePass | None, module: ModuleOp, following: ModulePass | None):
            running[0] = previous  # a verifier failure here is blamed on the pass just run
            self.pipeline.callback(previous, module, following)
            running[0] = following

        try:
            PassPipeline(passes, callback).apply(self.ctx, prog)
        except Exception as e:
            if running[0] is None:
                raise
            raise PassFailed(running[0].name, e) from e

    def output_resulting_program(self, prog: ModuleOp) -> str:
        if self.args.emit != "llvm-ir":
            return super().output_resulting_program(prog)
        out = io.StringIO()
        _print_llvm_ir(prog, out)
        return out.getvalue()


def _print_llvm_ir(prog: ModuleOp, out: IO[str]) -> None:
    from ember.lowering.llvm_ir import to_llvm_ir

    text = to_llvm_ir(prog)
    out.write(text if text.endswith("\n") else text + "\n")


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]


def _message(e: BaseException) -> str:
    """The last line of a multi-line diagnostic (xDSL puts the message under the caret)."""
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(e).__name__


def _excerpt(ir: str, context: int = 4) -> str:
    """The lines of a verifier's annotated IR dump around its ``^^^`` marker."""
    lines = ir.rstrip().splitlines()
    marks = [i for i, line in enumerate(lines) if line.lstrip().startswith("^^^")]
    if not marks:
        return "\n".join(lines[:2 * context])
    lo, hi = max(0, marks[0] - context), min(len(lines), marks[0] + context + 1)
    return "\n".join(["..."] * (lo > 0) + lines[lo:hi] + ["..."] * (hi < len(lines)))


def opt_main(argv: list[str] | None = None) -> None:
    """Entry point of ``ember-opt``: user errors become ``ember-opt: error: ...``, exit 1."""
    from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException

    prog = "ember-opt"
    try:
        EmberOptMain(description="ember's modular optimiser (xDSL opt with ember's "
                                 "dialects, passes and --emit stages)", args=argv).run()
    except OptError as e:
        _fail(prog, str(e))
    except PassFailed as e:
        if not isinstance(e.error, (DiagnosticException, VerifyException, ValueError)):
            traceback.print_exception(e.error)  # an ember or xDSL bug: show where
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(1)
    except (ParseError, VerifyException, DiagnosticException) as e:
        # these carry a source excerpt pointing at the offending IR: keep it
        print(f"{prog}: error: {str(e).strip()}", file=sys.stderr)
        for note in getattr(e, "__notes__", []):
            print(_excerpt(note), file=sys.stderr)
        sys.exit(1)
    except BrokenPipeError:  # `ember-opt ... | head`
        sys.exit(0)
    except (ValueError, OSError) as e:
        _fail(prog, _first_line(e))


# --- ember ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``ember``: ``ember demo``, ``ember --version``."""
    parser = argparse.ArgumentParser(
        prog="ember", description="ember: an MLIR-style compiler for NumPy tensor programs")
    parser.error = lambda message: _fail("ember", message)
    parser.add_argument("--version", action="version",
                        version=f"ember {ember_version()} (xdsl {version('xdsl')}, "
                                f"llvmlite {version('llvmlite')}, numpy {version('numpy')})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("demo", help="compile a small model, print its IR per stage, time it")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from ember import demo

        demo.run()
    else:
        parser.print_help()
        sys.exit(1)


if __name__ == "__main__":
    main()
