"""``ember-export``: ``ember.export`` from the command line.

    ember-export model.py:f -s "float32[?,?], float" -o libf.so --header f.h
    ember-export model.py:f -s "float32[?,?], float" -o f.o --target aarch64-linux-gnu

``FILE.py:NAME`` is imported by path (its folder first on ``sys.path``, so sibling imports
work) and ``NAME`` must be an ``ember.script``/``ember.trace`` object or a plain function,
which is then scripted. ``-s`` may be repeated; without it, every signature the module
compiled while importing is exported. User errors are one line on stderr, exit code 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

PROG = "ember-export"


class ExportUsageError(Exception):
    """A user error in an ``ember-export`` invocation, reported as one line."""


def load_function(target: str):
    """The function ``NAME`` of ``FILE.py:NAME``, as an ``ember.ScriptFunction``."""
    import ember

    file, sep, name = target.rpartition(":")
    if not sep or not file or not name:
        raise ExportUsageError(f"expected FILE.py:NAME, got {target!r}")
    path = Path(file)
    if not path.is_file():
        raise ExportUsageError(f"no such file: {file}")
    spec = importlib.util.spec_from_file_location(f"ember_export_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.resolve().parent))
    fn = getattr(module, name, None)
    if isinstance(fn, ember.ScriptFunction):
        return fn
    if callable(fn) and hasattr(fn, "__code__"):
        return ember.script(fn)
    if fn is None:
        raise ExportUsageError(f"{file} has no function {name!r}")
    raise ExportUsageError(f"{file}:{name} is a {type(fn).__name__}, not a function")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Export an ember function as a C shared library or object file "
                               "(docs/deployment.md).")
    parser.add_argument("function", metavar="FILE.py:NAME", help="the function to export")
    parser.add_argument("-s", "--signature", action="append", dest="signatures", metavar="SIG",
                        help='a signature, e.g. "float32[?,?], float" (repeatable)')
    parser.add_argument("-o", "--output", required=True, help="the .so or .o file to write")
    parser.add_argument("--header", help="the C header to write")
    parser.add_argument("--target", help="aarch64-linux-gnu, riscv64-linux-gnu or "
                                         "x86_64-linux-gnu (default: this machine)")
    parser.add_argument("--name", help="the C base name (default: the function's name)")
    parser.error = lambda message: _fail(message)
    return parser


def _fail(message: str):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``ember-export``; prints the exported symbols."""
    from ember.errors import ScriptError
    from ember.export import ExportError, export

    args = build_parser().parse_args(argv)
    try:
        f = load_function(args.function)
        if not args.signatures and not f._cache:
            raise ExportUsageError(f"give at least one -s/--signature: {f.__name__} compiled none "
                                   "while importing")
        result = export(f, args.output, signatures=args.signatures, header=args.header,
                        target=args.target, name=args.name)
    except ScriptError as e:  # file:line:col, the source line and a caret
        _fail(str(e))
    except (ExportUsageError, ExportError, ValueError, TypeError, OSError) as e:
        _fail(str(e).strip().splitlines()[0])
    written = result.path + (f" and {result.header}" if result.header else "")
    print(f"wrote {written} for {result.target} ({result.seconds:.2f} s): "
          + ", ".join(result.symbols))


if __name__ == "__main__":
    main()
