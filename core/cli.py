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
import re
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import IO, NoReturn

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Operation
from xdsl.parser import Parser
from xdsl.passes import ModulePass, PassPipeline
from xdsl.utils.arg_spec import parse_pipeline
from xdsl.utils.exceptions import ArgSpecParseError, ParseError
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


def pass_factories() -> dict[str, Callable[[], type[ModulePass]]]:
    """Every pass by name, as lazy factories: what :func:`ember.registry.all_passes` holds
    (xDSL's, ember's, the users' and plugins') plus ember's ``stage-*`` passes.

    xDSL's passes stay factories: importing all of them costs ~0.7 s per ``ember-opt`` run.
    """
    from xdsl.transforms import get_all_passes

    from ember.registry import USER_PASSES, load_plugins

    load_plugins()
    users = {name: (lambda cls=cls: cls) for name, cls in USER_PASSES.items()}
    return {**get_all_passes(), **ember_passes(), **users}


def list_passes() -> str:
    """``--list-passes``: one line per pass, sorted: name, origin, docstring summary."""
    from ember.registry import USER_PASSES

    lines = []
    for name, factory in sorted(pass_factories().items()):
        cls = factory()
        origin = "[user]" if name in USER_PASSES else "[ember]" if cls.__module__.startswith("ember.") else ""
        lines.append(f"  {name:<36} {origin:<7} {_summary(cls)}".rstrip())
    return "\n".join(["Available passes ([ember]: ember's own, [user]: registered with "
                      "ember.register_pass or a plugin):", *lines]) + "\n"


def _summary(cls: type) -> str:
    doc = (cls.__doc__ or "").strip()
    if doc.startswith(cls.__name__ + "("):  # the signature a dataclass puts in place of a docstring
        return ""
    text = " ".join(doc.split("\n\n")[0].split())
    sentence = text.split(". ")[0].rstrip(".")
    return sentence if len(sentence) <= 100 else sentence[:97] + "..."


def load_plugin(spec: str) -> None:
    """``--load-plugin``: import a Python file or module that registers dialects, passes or
    custom ops (``ember.register_dialect``/``register_pass``/``custom_op``)."""
    import importlib
    import importlib.util
    from pathlib import Path

    path = Path(spec)
    try:
        if spec.endswith(".py") or path.exists():
            module_spec = importlib.util.spec_from_file_location(f"ember_plugin_{path.stem}", path)
            if module_spec is None or not path.is_file():
                raise OSError(f"no such file: {spec}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[module_spec.name] = module
            module_spec.loader.exec_module(module)
        else:
            importlib.import_module(spec)
    except (ImportError, OSError) as e:
        raise OptError(f"cannot load plugin '{spec}': {_first_line(e)}") from None


def _plugin_args(argv: list[str]) -> list[str]:
    """The values of ``--load-plugin`` in ``argv`` (read before the parser is built, since
    plugins add passes and dialects that the parser and the pipeline must know)."""
    out = []
    for k, arg in enumerate(argv):
        if arg == "--load-plugin" and k + 1 < len(argv):
            out.append(argv[k + 1])
        elif arg.startswith("--load-plugin="):
            out.append(arg.split("=", 1)[1])
    return out


@dataclass
class _Expected:
    """An ``// expected-error @+1 {{message}}`` annotation (``--verify-diagnostics``)."""

    line: int
    message: str


_EXPECTED = re.compile(r"//\s*expected-error\s*(@above|@below|@[+-]?\d+)?\s*\{\{(.*?)\}\}")


def _expectations(text: str, offset: int) -> list[_Expected]:
    out = []
    for k, line in enumerate(text.splitlines(), start=1 + offset):
        for where, message in _EXPECTED.findall(line):
            delta = {"": 0, "@above": -1, "@below": 1}.get(where)
            out.append(_Expected(k + (int(where[1:]) if delta is None else delta), message))
    return out


def _post_order(op: Operation):
    for region in op.regions:
        for block in region.blocks:
            for inner in block.ops:
                yield from _post_order(inner)
    yield op


class _LineParser(Parser):
    """xDSL's parser, remembering the source line of every operation it parses."""

    def __init__(self, *args, lines: dict[Operation, int]):
        super().__init__(*args)
        self.lines = lines

    def parse_operation(self) -> Operation:
        start = self._current_token.span
        op = super().parse_operation()
        self.lines[op] = start.get_location().line
        return op


class EmberOptMain(xDSLOptMain):
    """``xDSLOptMain`` with ember's dialects and passes, ``--emit``/``--from`` stages and
    mlir-opt's IR dumps, pass timing and diagnostic checking."""

    version_format = "ember-opt " + ember_version() + " (xdsl {xdsl_version})"

    def __init__(self, description: str = "ember-opt", args: list[str] | None = None):
        for plugin in _plugin_args(sys.argv[1:] if args is None else list(args)):
            load_plugin(plugin)
        #: seconds per pass name (and "Parser", "Output"), in order of first appearance
        self.timings: dict[str, float] = {}
        self._lines: dict[Operation, int] = {}
        self._expected: list[_Expected] = []
        self._offset = 0
        self._silent = False
        super().__init__(description, args)

    # -- registration and options ----------------------------------------------------------

    def register_all_dialects(self):
        from ember.registry import load_plugins

        load_plugins()  # plugins may register dialects
        for name, factory in all_dialects().items():
            self.ctx.register_dialect(name, factory)

    def register_all_frontends(self):
        def parse_mlir(stream: IO[bytes]):
            parser = _LineParser(self.ctx, stream.read(), self.get_input_name(), lines=self._lines)
            return parser.parse_module(not self.args.no_implicit_module)

        self.available_frontends["mlir"] = parse_mlir

    def register_all_passes(self):
        for name, factory in pass_factories().items():
            self.register_pass(name, factory)

    def register_all_targets(self):
        super().register_all_targets()
        # xDSL's own `-t llvm` does not know the llvmx ops; --emit=llvm-ir is the same thing
        self.available_targets["llvm"] = _print_llvm_ir

    def register_all_arguments(self, arg_parser: argparse.ArgumentParser):
        super().register_all_arguments(arg_parser)
        arg_parser.error = lambda message: _fail(arg_parser.prog, message)
        add = arg_parser.add_argument
        add("--pass-pipeline", dest="passes", default=argparse.SUPPRESS,
            help="the pass pipeline, as -p (mlir-opt's spelling; an outer builtin.module(...) is accepted)")
        add("--emit", choices=EMIT_CHOICES, default=None,
            help="lower the input through the stage pipeline up to this stage "
                 "(llvm-ir prints LLVM IR text)")
        add("--from", dest="from_stage", choices=STAGE_NAMES, default=None,
            help="the stage the input is in (default: inferred from its ops); without --emit, lowers to llvm")
        add("--print-ir-after-all", action="store_true",
            help="print the IR after every pass to stderr, under MLIR's '// -----// IR Dump After' header")
        add("--print-ir-after-change", action="store_true",
            help="as --print-ir-after-all, but only after passes that changed the IR")
        add("--list-passes", action="store_true",
            help="list every pass (xDSL's, ember's, users') with a one-line summary, and exit")
        add("--load-plugin", action="append", default=[], metavar="FILE_OR_MODULE",
            help="import a Python file or module that registers dialects, passes or custom ops")

    # -- running ---------------------------------------------------------------------------

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
            raise OptError(f"unknown pass '{unknown[0]}'{hint} (ember-opt --list-passes lists them)")
        try:
            super().setup_pipeline()
        except ValueError as e:  # a pass rejected its options
            raise OptError(f"bad pass pipeline {spec!r}: {_first_line(e)}") from None

    def run(self):
        super().run()
        if self.args.time_passes:
            sys.stderr.write(_time_report(self.timings))

    def _time(self, name: str, seconds: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + seconds

    def parse_chunk(self, chunk: IO[bytes], file_extension: str, start_offset: int = 0):
        text = chunk.read()
        self._lines.clear()
        self._offset = start_offset
        self._expected = (_expectations(text.decode("utf-8", "replace"), start_offset)
                          if self.args.verify_diagnostics else [])
        t0 = time.perf_counter()
        try:
            module = super().parse_chunk(io.BytesIO(text), file_extension, start_offset)
        except ParseError as e:
            if not self.args.verify_diagnostics:
                raise
            self._diagnosed(_message(e), e.span.get_location().line + start_offset)
            return None
        self._time("Parser", time.perf_counter() - t0)
        return module

    def apply_passes(self, prog: ModuleOp):
        passes = self.pipeline.passes
        if self.args.emit is not None or self.args.from_stage is not None:
            start = self.args.from_stage or infer_stage(prog)
            stop = "llvm" if self.args.emit in (None, "llvm-ir") else self.args.emit
            if STAGE_NAMES.index(stop) < STAGE_NAMES.index(start):
                raise OptError(f"cannot emit the {stop!r} stage from {start!r}-stage input")
            passes += tuple(stage_passes(start, stop))
        running: list[ModulePass | None] = [None]
        clock = [time.perf_counter()]
        before = [str(prog) if self.args.print_ir_after_change else ""]

        def callback(previous: ModulePass | None, module: ModuleOp, following: ModulePass | None):
            running[0] = previous  # a verifier failure here is blamed on the pass just run
            if previous is not None:
                self._time(previous.name, time.perf_counter() - clock[0])
            if not self.args.disable_verify:
                module.verify()
            if previous is not None:
                self._dump(previous, module, before)
            running[0] = following
            clock[0] = time.perf_counter()

        try:
            PassPipeline(passes, callback).apply(self.ctx, prog)
        except Exception as e:
            if self.args.verify_diagnostics:
                self._diagnosed(_first_line(e) + "\n" + str(e), self._failing_line(prog))
                return
            if running[0] is None:
                raise
            raise PassFailed(running[0].name, e) from e
        if self._expected:
            missing = self._expected[0]
            raise OptError(f"{self.get_input_name()}:{missing.line}: expected error "
                           f"\"{missing.message}\" was not produced")

    def _dump(self, p: ModulePass, module: ModuleOp, before: list[str]) -> None:
        after_all = self.args.print_ir_after_all or self.args.print_between_passes
        if not (after_all or self.args.print_ir_after_change):
            return
        text = str(module)
        if not after_all and text == before[0]:
            return
        before[0] = text
        print(f"// -----// IR Dump After {type(p).__name__} ({p.name}) //----- //\n{text}\n",
              file=sys.stderr)

    def _failing_line(self, module: ModuleOp) -> int | None:
        """The source line of the first op (innermost first) that does not verify."""
        for op in _post_order(module):
            try:
                op.verify(verify_nested_ops=False)
            except Exception:
                line = self._lines.get(op)
                return None if line is None else line + self._offset
        return None

    def _diagnosed(self, message: str, line: int | None) -> None:
        """``--verify-diagnostics``: an error was reported; it must be an expected one."""
        match = next((x for x in self._expected
                      if x.message in message and (line is None or x.line == line)), None)
        if match is None:
            where = f"{self.get_input_name()}:{line}" if line else self.get_input_name()
            raise OptError(f"{where}: unexpected error: {message.splitlines()[0]}")
        self._expected.remove(match)
        if self._expected:  # verification stops at the first error: one per chunk
            raise OptError(f"{self.get_input_name()}:{self._expected[0].line}: expected error "
                           f"\"{self._expected[0].message}\" was not produced")
        self._silent = True

    def output_resulting_program(self, prog: ModuleOp) -> str:
        t0 = time.perf_counter()
        if self._silent:
            self._silent, text = False, ""
        elif self.args.emit == "llvm-ir":
            out = io.StringIO()
            _print_llvm_ir(prog, out)
            text = out.getvalue()
        else:
            text = super().output_resulting_program(prog)
        self._time("Output", time.perf_counter() - t0)
        return text


def _time_report(timings: dict[str, float]) -> str:
    """MLIR's ``--mlir-timing`` report (wall time only)."""
    total = sum(timings.values()) or 1e-12
    rule = "===" + "-" * 73 + "==="
    lines = [rule, " " * 25 + "... Execution time report ...", rule,
             f"  Total Execution Time: {total:.4f} seconds", "",
             "  ----Wall Time----  ----Name----"]
    for name, seconds in [*timings.items(), ("Total", total)]:
        lines.append(f"  {seconds:8.4f} ({100 * seconds / total:5.1f}%)  {name}")
    return "\n".join(lines) + "\n\n"


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
    from xdsl.utils.exceptions import DiagnosticException, VerifyException

    prog = "ember-opt"
    try:
        main = EmberOptMain(description="ember's modular optimiser (mlir-opt conventions, with "
                                        "ember's dialects, passes and --emit stages)", args=argv)
        if main.args.list_passes:
            sys.stdout.write(list_passes())
            return
        main.run()
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
    """Entry point of ``ember``: ``ember demo``, ``ember cache [info|clear]``, ``ember --version``."""
    parser = argparse.ArgumentParser(
        prog="ember", description="ember: an MLIR-style compiler for NumPy tensor programs")
    parser.error = lambda message: _fail("ember", message)
    parser.add_argument("--version", action="version",
                        version=f"ember {ember_version()} (xdsl {version('xdsl')}, "
                                f"llvmlite {version('llvmlite')}, numpy {version('numpy')})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("demo", help="compile a small model, print its IR per stage, time it")
    cache = sub.add_parser("cache", help="show the disk cache of compiled code, or clear it")
    cache.add_argument("action", nargs="?", choices=["info", "clear"], default="info")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from ember import demo

        demo.run()
    elif args.command == "cache":
        from ember.persist import cache_clear, cache_summary

        if args.action == "clear":
            print(f"removed {cache_clear()} entries")
        info = cache_summary()
        if info["directory"] is None:
            print("disk cache: off (EMBER_CACHE=0)")
        else:
            print(f"disk cache: {info['directory']}: {info['entries']} entries, "
                  f"{info['bytes'] / 1e6:.1f} MB")
    else:
        parser.print_help()
        sys.exit(1)


if __name__ == "__main__":
    main()
