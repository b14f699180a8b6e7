"""``ember.testing``: property-based testing of rewrites and lowerings, as a public toolkit.

    from hypothesis import given
    import ember.testing as et

    @given(et.programs(ops=["add", "mul", "exp", "sum", "matmul"], max_ops=12))
    def test_my_pass_preserves_semantics(program):
        et.check_rewrite(program, MyPass())          # or a pipeline: "my-pass,canonicalize"

Strategies (:mod:`ember.testing_strategies`): :func:`dtypes`, :func:`shapes`,
:func:`broadcast_shapes`, :func:`arrays` (edge values on by default), :func:`programs`
(random well-typed tensor-stage programs with inputs). Oracles: the NumPy reference
interpreter of the tensor stage and the JIT (:mod:`ember.testing_program`). Checks:

- :func:`check_rewrite` runs a program before and after a pass (or pipeline) and compares.
- :func:`check_pipeline` runs a program after every pass of a pipeline and names the first
  pass whose output diverges, with the IR before and after it.
- :func:`assert_matches_numpy` checks a scripted function against the plain Python one.

A failure is an ``AssertionError`` whose message holds the (shrunk) program as MLIR, its
inputs, both results, an ``ember-opt`` command that reproduces the IR, and a lit test
skeleton. Comparison (:mod:`ember.testing_compare`) is exact for integers and bools, and
NaN-aware with a dtype tolerance for floats. Random scalar control-flow programs for the
script frontend are not offered yet, nor checking ``ember.trace``d functions.
"""

from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

try:
    import hypothesis
except ImportError:  # depends on the environment: hypothesis is an optional dependency
    raise ImportError("ember.testing needs hypothesis: pip install 'ember[testing]'") from None
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xdsl.passes import ModulePass

from ember.context import make_context
from ember.testing_compare import TOLERANCES, differences, stability
from ember.testing_program import (
    STATS,
    Outcome,
    Program,
    lowering_names,
    pipeline,
    pipeline_labels,
    run_jit,
    remember,
    run_reference,
    stage_of,
)
from ember.testing_report import lit_skeleton, render
from ember.testing_scripts import ScriptProgram, check_script_program, load_source, script_programs
from ember.testing_strategies import (
    DTYPES,
    EDGE_KINDS,
    OPS,
    arrays,
    broadcast_shapes,
    dtypes,
    edge_values,
    elements,
    programs,
    register_op,
    shapes,
)

__all__ = [
    "DTYPES", "EDGE_KINDS", "OPS", "STATS", "TOLERANCES", "Program", "Outcome", "RewriteMismatch",
    "PipelineDivergence", "Checked", "arrays", "assert_matches_numpy", "broadcast_shapes",
    "check_pipeline", "check_rewrite", "differences", "dtypes", "edge_values", "elements",
    "fuzz_settings", "lit_skeleton", "long_fuzzing", "pipeline", "pipeline_labels",
    "programs", "register_op", "run_jit", "run_reference", "shapes", "ScriptProgram",
    "script_programs", "check_script_program", "load_source",
]


class RewriteMismatch(AssertionError):
    """A pass changed what a program computes (or crashed, or left invalid IR)."""


class PipelineDivergence(AssertionError):
    """A pass of a pipeline is the first whose output computes something else."""

    def __init__(self, message: str, pass_name: str, index: int):
        super().__init__(message)
        self.pass_name, self.index = pass_name, index


@dataclass(frozen=True)
class Checked:
    """What a check compared: the outcome before and after (or at the pipeline's end)."""

    before: Outcome
    after: Outcome


# -- profiles ------------------------------------------------------------------------------


def long_fuzzing() -> bool:
    """True when ``EMBER_FUZZ=long``: the long profile, thousands of programs."""
    return os.environ.get("EMBER_FUZZ") == "long"


def fuzz_settings(fast: int, long: int | None = None) -> settings:
    """Hypothesis settings with ``fast`` examples, or ``long`` (default 50x) under
    ``EMBER_FUZZ=long``; no deadline (compiles take a while), no health checks."""
    n = (long if long is not None else 50 * fast) if long_fuzzing() else fast
    return settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck),
                    print_blob=long_fuzzing())


# -- running passes ------------------------------------------------------------------------


def _passes(rewrite: ModulePass | str | Sequence[ModulePass]) -> list[ModulePass]:
    if isinstance(rewrite, ModulePass):
        return [rewrite]
    if isinstance(rewrite, str):
        from xdsl.passes import PassPipeline
        from xdsl.transforms import get_all_passes

        from ember.cli import ember_passes

        return list(PassPipeline.parse_spec({**get_all_passes(), **ember_passes()}, rewrite).passes)
    return list(rewrite)


def _spec(passes: Sequence[ModulePass]) -> str:
    return ",".join(str(p.pipeline_pass_spec()) for p in passes)


def _apply(program: Program, passes: Sequence[ModulePass], spec: str) -> str:
    """Run ``passes`` on the program's IR; a crash or invalid IR is a RewriteMismatch."""
    module = program.module()
    ctx = make_context()
    for p in passes:
        try:
            p.apply(ctx, module)
            module.verify()
        except Exception as e:
            title = f"check_rewrite: pass '{p.name}' failed: {type(e).__name__}: {str(e).strip()[:2000]}"
            raise RewriteMismatch(render(title, details=[], before=program, before_label="given to the pass",
                                         after_text=None, after_label="", outcomes=None, spec=spec)) from e
    return remember(str(module), module)


def _position_after(program: Program, passes: Sequence[ModulePass]) -> int | None:
    """Where in the pipeline the IR stands after ``passes``: past the lowerings they run."""
    if program.position is None:
        return None
    position, names = program.position, [p.name for _, p in pipeline()]
    for p in passes:
        if p.name in lowering_names() and p.name in names[position:]:
            position = names.index(p.name, position) + 1
    return position


def _oracle(program: Program, lowering: bool) -> Outcome:
    if program.stage == "tensor":
        return run_reference(program)
    if lowering:
        origin = program.tensor_program
        if origin is None:
            raise ValueError("a lowering can only be checked on a program that has a tensor-stage "
                             "origin: build it at the tensor stage and use program.before(pass)")
        return run_reference(origin)
    return run_jit(program)


def _undefined(outcome: Outcome) -> bool:
    """The program has no defined result: skip it (``hypothesis.reject`` inside a test)."""
    if outcome.error is None:
        return False
    STATS["undefined programs"] += 1
    if hypothesis.currently_in_test_context():
        hypothesis.reject()
    return True


# -- checks --------------------------------------------------------------------------------


def check_rewrite(program: Program, rewrite: ModulePass | str | Sequence[ModulePass]) -> Checked:
    """Check that ``rewrite`` (a pass, passes or a pipeline string) preserves what
    ``program`` computes: run the program before and after, and compare.

    Before a lowering, the oracle is the reference run of the tensor-stage program it came
    from; at the tensor stage, the reference interpreter; elsewhere the JIT. Raises
    :class:`RewriteMismatch` with a full report if the results differ.

        program = Program.from_function(lambda x: x - 1.0, np.ones(2))
        check_rewrite(program, "canonicalize,cse")
    """
    passes = _passes(rewrite)
    spec = _spec(passes)
    lowering = any(p.name in lowering_names() for p in passes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        before = _oracle(program, lowering)
        if _undefined(before):
            return Checked(before, before)
        after_text = _apply(program, passes, spec)
        after_program = program.with_text(after_text, _position_after(program, passes))
        after = _oracle(after_program, False)
        STATS["rewrites checked"] += 1
        details = _compare(before, after, program.tensor_program)
    if details:
        title = f"check_rewrite: '{spec}' changed what the program computes"
        raise RewriteMismatch(render(
            title, details=details, before=program, before_label=f"before '{spec}'",
            after_text=after_text, after_label=f"after '{spec}'", outcomes=(before, after), spec=spec))
    return Checked(before, after)


def _compare(want: Outcome, got: Outcome, tensor_program: Program | None) -> list[str]:
    if got.error is not None:
        return [f"{got.oracle} raised {got.error}; {want.oracle} returned results"]
    strict = want.oracle == got.oracle  # NumPy's own loops disagree on the sign of max(0, -0)
    return differences(want.values, got.values, stability(tensor_program), strict_zeros=strict)


def check_pipeline(program: Program, passes: str | Sequence[ModulePass] | None = None) -> Checked:
    """Run a tensor-stage program after every pass of ``passes`` (default: ember's whole
    pipeline) and raise :class:`PipelineDivergence` naming the first pass whose output
    computes something else than the program, with the IR before and after that pass.

    Positions still at the tensor stage run on the reference interpreter; later ones are
    compiled with the lowerings after them (optimisations skipped), and searched by
    bisection from the end. A lowering cannot be run apart from the lowerings after it, so
    a divergence first seen at the first compiled position names that pass and lists them.

        check_pipeline(program)                                   # ember's pipeline
        check_pipeline(program, "canonicalize,my-pass,cse")       # or any passes
    """
    seq = [p for _, p in pipeline()] if passes is None else _passes(passes)
    labels = [p.name for p in seq]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        truth = run_reference(program)
        if _undefined(truth):
            return Checked(truth, truth)
        texts, stages = _run_all(program, seq)
        tail = _lowering_tail(seq)
        at = [(stages[i], [q for q in seq[i:] if q.name in lowering_names()] + tail,
               program.with_text(texts[i], None)) for i in range(len(texts))]
        evaluate = _Evaluator(program, truth, at)
        compiled = [i for i in range(1, len(texts)) if stages[i] != "tensor"]
        for i in range(1, len(texts)):
            if stages[i] == "tensor" and evaluate(i):
                raise _divergence(evaluate, i, labels, texts, compiled, seq)
        if compiled and evaluate(compiled[-1]):
            lo, hi = 0, len(compiled) - 1  # compiled[hi] diverges; find the first that does
            while lo < hi:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if evaluate(compiled[mid]) else (mid + 1, hi)
            raise _divergence(evaluate, compiled[hi], labels, texts, compiled, seq)
        STATS["pipelines checked"] += 1
        return Checked(truth, evaluate.outcomes.get(len(texts) - 1) or truth)


_SUFFIXES: OrderedDict = OrderedDict()  # (pass specs, position, IR) -> the rest of _run_all


def _run_all(program: Program, seq: Sequence[ModulePass]) -> tuple[list[str], list[str]]:
    """The IR text and stage at every position (0: the program, k: after pass k).

    Shrinking reruns many programs that are equal after a few passes (dead code gone), so
    the rest of the run is cached by the IR reached."""
    specs = tuple(str(p.pipeline_pass_spec()) for p in seq)
    module, ctx = program.module(), make_context()
    texts, stages = [program.text], [program.stage]
    for k, p in enumerate(seq):
        known = _SUFFIXES.get((specs, k, texts[-1]))
        if known is not None:
            _SUFFIXES.move_to_end((specs, k, texts[-1]))
            return texts + known[0], stages + known[1]
        try:
            p.apply(ctx, module)
            module.verify()
        except Exception as e:
            title = f"check_pipeline: pass '{p.name}' failed: {type(e).__name__}: {str(e).strip()[:2000]}"
            raise RewriteMismatch(render(title, details=[], before=program.with_text(texts[-1], None),
                                         before_label="given to the pass", after_text=None,
                                         after_label="", outcomes=None, spec=specs[k])) from e
        texts.append(str(module))
        stages.append(stage_of(module))
        if stages[-1] == "tensor":
            remember(texts[-1], module)
    remember(texts[-1], module)
    for k in range(len(seq)):
        _SUFFIXES[(specs, k, texts[k])] = (texts[k + 1:], stages[k + 1:])
    while len(_SUFFIXES) > 1024:
        _SUFFIXES.popitem(last=False)
    return texts, stages


def _lowering_tail(seq: Sequence[ModulePass]) -> list[ModulePass]:
    """The standard lowerings after the last one ``seq`` runs (so its end can be compiled)."""
    standard = [p for _, p in pipeline() if p.name in lowering_names()]
    present = [k for k, p in enumerate(standard) if p.name in {q.name for q in seq}]
    return standard[present[-1] + 1:] if present else standard


class _Evaluator:
    """Runs positions of a pipeline on demand; ``self(i)`` is True if position i diverges."""

    def __init__(self, program: Program, truth: Outcome, at: list):
        self.program, self.truth, self.at = program, truth, at
        self.outcomes: dict[int, Outcome] = {}
        self.details: dict[int, list[str]] = {}

    def __call__(self, i: int) -> bool:
        if i not in self.outcomes:
            stage, lowerings, prog = self.at[i]
            out = run_reference(prog) if stage == "tensor" else run_jit(prog, lowerings)
            self.outcomes[i] = out
            self.details[i] = _compare(self.truth, out, self.program)
        return bool(self.details[i])


def _divergence(evaluate: _Evaluator, i: int, labels, texts, compiled, seq) -> PipelineDivergence:
    name = labels[i - 1]
    before = evaluate.program.with_text(texts[i - 1], None)
    note = ""
    if compiled and i == compiled[0]:
        later = [p.name for p in evaluate.at[i][1]]
        note = (f"note: position {i} is the first that must be compiled; it runs with the "
                f"lowerings after it ({', '.join(later) or 'none'}), so the fault is in '{name}' "
                "or in one of those.")
    title = (f"check_pipeline: pass #{i} '{name}' is the first whose output diverges "
             f"from the program ({evaluate.outcomes[i].oracle} vs reference)")
    message = render(title, details=evaluate.details[i], before=before,
                     before_label=f"before '{name}'", after_text=texts[i], after_label=f"after '{name}'",
                     outcomes=(evaluate.truth, evaluate.outcomes[i]), spec=str(seq[i - 1].pipeline_pass_spec()),
                     note=note, labels=("the program", f"after pass #{i}"))
    return PipelineDivergence(message, name, i)


# -- user functions against NumPy ------------------------------------------------------------


def assert_matches_numpy(fn, *strategies: st.SearchStrategy, max_examples: int = 20) -> None:
    """Check ``ember.script(fn)`` against ``fn`` itself on arguments drawn from
    ``strategies`` (one per parameter). Where NumPy raises, ember must raise too.

        assert_matches_numpy(lambda x, y: np.tanh(x) * y,
                             arrays(np.float32, (3,)), arrays(np.float32, (2, 3)))
    """
    import ember

    scripted = ember.script(fn)

    @fuzz_settings(max_examples)
    @given(st.tuples(*strategies))
    def run(args):
        STATS["numpy functions checked"] += 1
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                want = fn(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
            except Exception as e:  # NumPy rejects these arguments: ember must too
                _expect_raise(scripted, args, e)
                return
            wants = want if isinstance(want, tuple) else (want,)
            if any(np.asarray(w).dtype not in DTYPES for w in wants):
                _expect_raise(scripted, args, TypeError(f"NumPy gives {[np.asarray(w).dtype for w in wants]}"))
                return
            got = scripted(*args)
            gots = got if isinstance(got, tuple) else (got,)
            tensor = Program.from_module(scripted.ir("tensor"), args, position=None)
            details = differences(tuple(np.asarray(w) for w in wants), tuple(np.asarray(g) for g in gots),
                                  stability(tensor), strict_zeros=False)
        if details:
            raise RewriteMismatch(render(
                f"assert_matches_numpy: ember.script({getattr(fn, '__name__', fn)}) differs from NumPy",
                details=details, before=tensor, before_label="(tensor stage)", after_text=None,
                after_label="", outcomes=(Outcome("numpy", wants), Outcome("ember.script", gots)),
                spec="stage-loop", labels=("expected", "got")))

    run()


def _expect_raise(scripted, args, numpy_error: Exception) -> None:
    try:
        scripted(*args)
    except Exception:
        return
    raise AssertionError(f"NumPy raised {type(numpy_error).__name__}: {numpy_error}, "
                         f"but ember returned a result for {args!r}")
