"""The pipeline from the loop stage (``loop``/``scf``/``cf``/``arith``/``math``/``memref``/
``func``) down to the LLVM dialect, and its postcondition.

    from ember.lowering.loop_to_llvm import lower_to_llvm
    lower_to_llvm(ctx, module)        # in place; raises LoweringError if anything survives
"""

from __future__ import annotations

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.transforms.reconcile_unrealized_casts import ReconcileUnrealizedCastsPass

from ember.lowering.arith_to_llvm import ArithToLLVMPass
from ember.lowering.convert_to_llvm import ConvertToLLVMPass
from ember.lowering.func_to_llvm import FuncToLLVMPass, NumberAssertsPass
from ember.lowering.loop_to_scf import ExpandMemrefCopyPass, LoopToScfPass, LowerScfToCfPass
from ember.lowering.math_to_llvm import MathToLLVMPass
from ember.lowering.memref_to_llvm import MemrefToLLVMPass
from ember.lowering.parallel_outline import ParallelOutlinePass
from ember.lowering.parallel_runtime import ParallelRuntimePass
from ember.lowering.vector_math import ExpandMathPass
from ember.lowering.vector_to_llvm import VectorToLLVMPass

#: Our pass classes by name (for ember-opt).
PASSES: dict[str, type[ModulePass]] = {p.name: p for p in (
    NumberAssertsPass, ParallelOutlinePass, LoopToScfPass, ExpandMemrefCopyPass, LowerScfToCfPass,
    FuncToLLVMPass, MemrefToLLVMPass, VectorToLLVMPass, ArithToLLVMPass, MathToLLVMPass,
    ExpandMathPass, ParallelRuntimePass, ConvertToLLVMPass)}

#: The ordered pipeline.  ``parallel-outline`` follows ``number-asserts`` (an outlined body
#: returns the number of its failing assert) and precedes ``loop-to-scf`` (it needs the
#: ``loop.parallel`` ops); ``parallel-runtime`` defines the runtime it calls, last, so that
#: no other pass walks it.  ``convert-to-llvm`` is ``func-to-llvm``, ``memref-to-llvm``,
#: ``vector-to-llvm``, ``arith-to-llvm``, ``math-to-llvm`` and ``reconcile-unrealized-casts``
#: (:data:`SEPARATE_TO_LLVM_PASSES`) in one walk, with the same output.
LOOP_TO_LLVM_PASSES: list[ModulePass] = [
    NumberAssertsPass(), ParallelOutlinePass(), LoopToScfPass(), ExpandMemrefCopyPass(),
    LowerScfToCfPass(), ConvertToLLVMPass(), ParallelRuntimePass(),
]

#: The passes ``convert-to-llvm`` fuses, in the order they would run (``func-to-llvm``
#: first: ``memref-to-llvm`` needs the entry ABI's ``%alloc_result`` parameter).
SEPARATE_TO_LLVM_PASSES: list[ModulePass] = [
    FuncToLLVMPass(), MemrefToLLVMPass(), VectorToLLVMPass(), ArithToLLVMPass(), MathToLLVMPass(),
    ReconcileUnrealizedCastsPass(),
]

#: The same pipeline as an ``ember-opt -p`` string.
PIPELINE = ",".join(p.name for p in LOOP_TO_LLVM_PASSES)

_ALLOWED_DIALECTS = ("llvm", "llvmx")


class LoweringError(Exception):
    """An op survived the lowering to LLVM (a missing pattern): names the op and where it is."""


def check_llvm_stage(module: ModuleOp) -> None:
    """Raise ``LoweringError`` unless every op is ``llvm.*``, ``llvmx.*`` or the module.

    A leftover ``unrealized_conversion_cast`` is only reported if no real op survived,
    since it usually just marks the seam of the op that was not lowered."""
    survivors = [op for op in module.walk()
                 if op is not module and op.name.split(".", 1)[0] not in _ALLOWED_DIALECTS]
    if not survivors:
        return
    op = next((s for s in survivors if s.name != "builtin.unrealized_conversion_cast"), survivors[0])
    fn = op
    while fn is not None and fn.name not in ("llvm.func", "func.func"):
        fn = fn.parent_op()
    where = f" in function @{fn.sym_name.data}" if fn is not None else ""
    raise LoweringError(f"'{op.name}' survived the lowering to LLVM{where} (at {op.location}): {op}")


def lower_to_llvm(ctx: Context, module: ModuleOp) -> None:
    """Run ``LOOP_TO_LLVM_PASSES`` on ``module`` in place, then check the postcondition."""
    for p in LOOP_TO_LLVM_PASSES:
        p.apply(ctx, module)
    check_llvm_stage(module)
