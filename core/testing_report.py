"""Failure reports of :mod:`ember.testing`: what diverged, on which IR and inputs, and how to
reproduce it (an ``ember-opt`` command and a lit test skeleton)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import textwrap

from ember.testing_program import Outcome, Program


def repro_dir() -> str:
    """Where repro files go: ``$EMBER_REPRO_DIR``, else ``<tmp>/ember-repro``."""
    path = os.environ.get("EMBER_REPRO_DIR") or os.path.join(tempfile.gettempdir(), "ember-repro")
    os.makedirs(path, exist_ok=True)
    return path


def write_repro(text: str) -> str:
    """Save IR as ``repro-<hash>.mlir`` (one file per distinct IR) and return its path."""
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    path = os.path.join(repro_dir(), f"repro-{digest}.mlir")
    with open(path, "w") as f:
        f.write(text)
    return path


def repro_command(path: str, spec: str) -> str:
    """``ember-opt PATH -p SPEC``, quoted for a POSIX shell when needed."""
    quoted = spec if re.fullmatch(r"[\w,.=-]+", spec) else "'" + spec.replace("'", "'\\''") + "'"
    return f"ember-opt {path} -p {quoted}"


_SSA = re.compile(r"%[\w.$-]+")
_LABEL = re.compile(r"^\s*(func\.func|llvm\.func)\b")


def lit_skeleton(before: str, after: str, spec: str) -> str:
    """A lit test: the input IR, a RUN line, and CHECK lines made from ``after``.

    The CHECK lines match the output the pass gives *now*; the test is a starting point
    whose CHECK lines you edit to the output the pass should give.

        >>> print(lit_skeleton("builtin.module {}", "builtin.module {}", "cse"))
        // RUN: ember-opt %s -p cse | filecheck %s
        <BLANKLINE>
        builtin.module {}
        <BLANKLINE>
        // The CHECK lines below match the current output of 'cse': edit them to the expected IR.
        // CHECK: builtin.module {}
    """
    checks = []
    for line in after.strip().splitlines():
        body = line.strip()
        if not body or body == "}":
            continue
        pattern = _SSA.sub("%{{.*}}", body.replace("[[", "{{\\[\\[}}"))
        checks.append(("// CHECK-LABEL: " if _LABEL.match(line) else "// CHECK: ") + pattern)
    return "\n".join([f"// RUN: ember-opt %s -p {spec} | filecheck %s", "", before.strip(), "",
                      f"// The CHECK lines below match the current output of '{spec}': "
                      "edit them to the expected IR.", *checks])


def indent(text: str, by: str = "    ") -> str:
    return textwrap.indent(text.rstrip(), by)


def render(title: str, *, details: list[str], before: Program, before_label: str, after_text: str | None,
           after_label: str, outcomes: tuple[Outcome, Outcome] | None, spec: str,
           note: str = "", labels: tuple[str, str] = ("before", "after")) -> str:
    """The text of a failure: what differs, the IR before/after, inputs, results, repro."""
    path = write_repro(before.text)
    parts = [title, *(f"  {d}" for d in details)]
    if note:
        parts += ["", note]
    source = before.tensor_program
    if source is not None and source.text != before.text:
        parts += ["", "tensor-stage program (what the reference ran):", indent(source.text)]
    parts += ["", f"IR {before_label}:", indent(before.text)]
    if after_text is not None:
        parts += [f"IR {after_label}:", indent(after_text)]
    parts += ["inputs:", indent(before.describe_inputs() or "(none)")]
    if outcomes is not None:
        parts += ["results:", indent(outcomes[0].describe(labels[0])),
                  indent(outcomes[1].describe(labels[1]))]
    parts += ["reproduce the IR with:", indent(repro_command(path, spec))]
    if after_text is not None:
        parts += ["lit test skeleton:", indent(lit_skeleton(before.text, after_text, spec))]
    return "\n".join(parts)
