"""ember's canonicalize (``ember.passes.canonicalize``): xDSL's, plus MLIR's folding of
values an ``scf.for`` carries unchanged, except that it leaves the loops ember generates in
final form (``ember.generated``: a packed matmul's task loop) alone.

Three properties: without marks (and without unchanged carries) it rewrites exactly as
xDSL's canonicalize does (random programs and fixed ones, at the loop stage); a marked loop
comes out as it went in; and skipping the marked loops changes nothing xDSL's canonicalize
would have changed there (the generated loop is already canonical, up to the order of ops).
The folding of carries has its lit test (``filecheck/passes/canonicalize.mlir``); the
programs of ``test_argument_writes.py`` run it end to end."""

import numpy as np
import pytest
from hypothesis import given
from xdsl.transforms.canonicalize import CanonicalizePass as XdslCanonicalize

import ember.testing as et
from ember.context import make_context
from ember.passes.canonicalize import GENERATED, CanonicalizePass

PIPELINE = et.pipeline()
#: the loop stage's canonicalize: what it gets is tensor-to-loop's output
LOOP_CANON = next(k for k, (stage, p) in enumerate(PIPELINE) if stage == "loop" and p.name == "canonicalize")


def _marked(module):
    return [op for op in module.walk() if GENERATED in op.attributes]


def _strip(module):
    for op in _marked(module):
        del op.attributes[GENERATED]
    return module


def _both(module):
    """(xDSL's result, ember's result) on clones of ``module``, as text."""
    ctx = make_context()
    ours, theirs = module.clone(), module.clone()
    XdslCanonicalize().apply(ctx, theirs)
    CanonicalizePass().apply(ctx, ours)
    return str(theirs), str(ours)


def mlp(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0.0)
    z = h @ w2 + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def batched(a, b):
    return (a @ b.T) * 2.0


def loops(x, n: int):
    acc = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0.5:
            acc += x[i] * 2.0
        else:
            acc -= 1.0
    while n > 0:
        acc = acc * 0.5
        n -= 1
    return acc


def _loop_stage(fn, *args):
    return et.Program.from_function(fn, *args).lowered(LOOP_CANON).module()


F32 = np.float32
FIXED = [
    (mlp, (np.ones((4, 8), F32), np.ones((8, 16), F32), np.ones(16, F32), np.ones((16, 3), F32),
           np.ones(3, F32))),
    (batched, (np.ones((2, 5, 7)), np.ones((6, 7)))),
    (loops, (np.ones(9), 3)),
]


@pytest.mark.parametrize("fn,args", FIXED, ids=[f.__name__ for f, _ in FIXED])
def test_without_marks_it_is_xdsls_canonicalize(fn, args):
    theirs, ours = _both(_strip(_loop_stage(fn, *args)))
    assert ours == theirs


@et.fuzz_settings(15, long=300)
@given(et.programs(max_ops=8))
def test_without_marks_it_is_xdsls_canonicalize_on_random_programs(program):
    theirs, ours = _both(_strip(program.lowered(LOOP_CANON).module()))
    assert ours == theirs


@pytest.mark.parametrize("fn,args", FIXED[:2], ids=[f.__name__ for f, _ in FIXED[:2]])
def test_a_generated_loop_is_left_as_it_was(fn, args):
    module = _loop_stage(fn, *args)
    before = [str(op) for op in _marked(module)]
    assert before, "tensor-to-loop marks a packed matmul's task loop"
    CanonicalizePass().apply(make_context(), module)
    assert [str(op) for op in _marked(module)] == before


def _sorted_lines(text: str) -> list[str]:
    """The lines of ``text`` with SSA names erased, sorted: equal for two texts that differ
    only in the order of their ops and the numbering of their values."""
    import re

    return sorted(re.sub(r"%[\w.]+", "%", line).strip() for line in text.splitlines())


@pytest.mark.parametrize("fn,args", FIXED[:2], ids=[f.__name__ for f, _ in FIXED[:2]])
def test_generated_loops_need_no_canonicalization(fn, args):
    """xDSL's canonicalize, allowed into the marked loops, would change nothing there but the
    order of ops: the two results hold the same ops."""
    theirs, ours = _both(_loop_stage(fn, *args))
    assert _sorted_lines(ours) == _sorted_lines(theirs)
