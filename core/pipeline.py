"""The stages of compilation: one ordered table read by the driver, ``ember-opt --emit``,
``f.ir(stage=...)`` and the docs.

=========  ====================================================  =========================
stage      what the IR holds                                      produced by
=========  ====================================================  =========================
tensor     func + etensor ops on tensors (value semantics)        a frontend, then passes
loop       func + loop/memref/arith/math on buffers               ``tensor-to-loop``
llvm       llvm dialect only                                      ``loop-to-llvm`` passes
llvm-ir    LLVM IR text (not MLIR)                                xDSL's llvmlite converter
=========  ====================================================  =========================
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass


@dataclass(frozen=True)
class Stage:
    name: str
    description: str
    #: the passes that take the previous stage's IR to this stage, in order
    passes: Callable[[], list[ModulePass]] = field(default=lambda: [])


def _tensor_passes() -> list[ModulePass]:
    from ember.passes.canonicalize import CanonicalizePass
    from xdsl.transforms.common_subexpression_elimination import CommonSubexpressionElimination

    return [CanonicalizePass(), CommonSubexpressionElimination()]


def _loop_passes() -> list[ModulePass]:
    from ember.lowering.tensor_to_loop import TensorToLoopPass
    from ember.lowering.vector_math import ExpandMathPass
    from ember.passes.bounds_checks import BoundsChecksPass
    from ember.passes.forward_stores import ForwardStoresPass
    from ember.passes.fuse_rows import FuseRowsPass
    from ember.passes.invariant_divisor import InvariantDivisorPass
    from ember.passes.canonicalize import CanonicalizePass
    from ember.passes.share_recomputed import ShareRecomputedPass

    passes: list[ModulePass] = [TensorToLoopPass(), CanonicalizePass(), BoundsChecksPass(),
                                FuseRowsPass(),
                                ShareRecomputedPass(), ForwardStoresPass(), InvariantDivisorPass()]
    # read at compile time, so that tests can toggle it; strict math keeps the libm calls
    if os.environ.get("EMBER_STRICT_MATH", "") != "1":
        passes.append(ExpandMathPass(ldexp=_host_has_scalef()))
    return passes


@functools.cache
def _host_has_scalef() -> bool:
    """Whether the host CPU has AVX-512 (``vscalefps``: ``llvm.ldexp`` in one instruction)."""
    from ember.lowering.jit import _init_llvm, host_has

    _init_llvm()
    return host_has("avx512f")


def _llvm_passes() -> list[ModulePass]:
    from ember.lowering.loop_to_llvm import LOOP_TO_LLVM_PASSES

    return list(LOOP_TO_LLVM_PASSES)


STAGES: list[Stage] = [
    Stage("tensor", "func + etensor ops with NumPy semantics, value semantics", _tensor_passes),
    Stage("loop", "func + loop/memref/arith/math over explicit buffers", _loop_passes),
    Stage("llvm", "the llvm dialect, ready for translation to LLVM IR", _llvm_passes),
]
STAGE_NAMES = [s.name for s in STAGES]


def lower(ctx: Context, module: ModuleOp, *, start: str = "tensor", stop: str = "llvm",
          timings: dict[str, float] | None = None,
          on_stage: Callable[[str, ModuleOp], None] | None = None) -> ModuleOp:
    """Run the stages after ``start`` up to and including ``stop`` on ``module`` in place.

    ``start`` is the stage the module is already in (its own passes still run when
    ``start == "tensor"``: the frontend's output is cleaned up by the tensor passes).
    """
    first = STAGE_NAMES.index(start)
    last = STAGE_NAMES.index(stop)
    for stage in STAGES[first:last + 1]:
        if stage.name == start and start != "tensor":
            continue
        for p in stage.passes():
            t0 = time.perf_counter()
            p.apply(ctx, module)
            if timings is not None:
                timings[p.name] = timings.get(p.name, 0.0) + time.perf_counter() - t0
        module.verify()
        if on_stage is not None:
            on_stage(stage.name, module)
    return module
