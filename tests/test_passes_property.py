"""Every pass of ember's pipeline preserves what random programs compute.

One property per pass (``ember.testing.check_rewrite``): at the tensor stage the NumPy
reference interpreter runs both sides; a lowering is checked against the reference run of
the tensor-stage program; an optimisation after the tensor stage is compiled with and
without it. One more property runs whole pipelines (``check_pipeline``). The fast profile
keeps this file under ~30 s; ``EMBER_FUZZ=long`` runs thousands of programs and prints counts.
"""

import time

import numpy as np
import pytest
from hypothesis import given

import ember.testing as et

PIPELINE = et.pipeline()
LABELS = et.pipeline_labels()

#: Divergences found by this suite. Fixed: np.maximum/np.minimum (and the max/min
#: reductions) dropped a NaN second operand; ``test_nan_*`` below are the shrunk cases.
#: Left out on purpose:
#: - expand-math gives NaN for sin/cos of |x| > 2**47 (documented in lowering/vector_math.py;
#:   ``expand-math{strict=true}`` is exact): large magnitudes are left out of the programs
#:   of every pass from there on (they run after it).
BOUNDED_EDGES = tuple(k for k in et.EDGE_KINDS if k not in ("large", "limits"))
EXPAND_MATH = next((k for k, (_, p) in enumerate(PIPELINE) if p.name == "expand-math"), len(PIPELINE))

ALL_OPS = list(et.OPS)
COMPILED_OPS = ALL_OPS


@pytest.fixture(scope="module", autouse=True)
def counts(pytestconfig):
    """Under EMBER_FUZZ=long, print how many programs ran and what it cost."""
    start, before = time.perf_counter(), dict(et.STATS)
    yield
    if et.long_fuzzing():
        counts = {k: v - before.get(k, 0) for k, v in et.STATS.items()}
        capture = pytestconfig.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(f"\nember fuzzing (EMBER_FUZZ=long): {counts} in {time.perf_counter() - start:.0f} s")


@pytest.mark.parametrize("index", range(len(PIPELINE)), ids=LABELS)
def test_pass_preserves_semantics(index):
    stage, rewrite = PIPELINE[index]
    tensor_stage = stage == "tensor"
    ops = ALL_OPS if tensor_stage else COMPILED_OPS
    edges = BOUNDED_EDGES if index >= EXPAND_MATH else True

    # the interpreter is cheap; a compiled example costs 0.1-0.3 s
    @et.fuzz_settings(40 if tensor_stage else 8, long=1000 if tensor_stage else 150)
    @given(et.programs(ops=ops, max_ops=8, edge_values=edges))
    def preserves(program):
        et.check_rewrite(program.lowered(index), rewrite)

    preserves()


@et.fuzz_settings(10, long=400)
@given(et.programs(ops=COMPILED_OPS, max_ops=10, edge_values=BOUNDED_EDGES))
def test_whole_pipeline_preserves_semantics(program):
    et.check_pipeline(program)


# -- the divergences above, pinned: each test fails (XPASS) once its bug is fixed ------------

MAXIMUM_NAN = """builtin.module {
  func.func @f(%x0: tensor<?xf64>, %x1: tensor<?xf64>) -> tensor<?xf64> attributes {ember.entry} {
    %0 = etensor.maximum %x0, %x1 : (tensor<?xf64>, tensor<?xf64>) -> tensor<?xf64>
    func.return %0 : tensor<?xf64>
  }
}"""


MAX_REDUCTION_NAN = """builtin.module {
  func.func @f(%x0: tensor<?xf32>) -> tensor<f32> attributes {ember.entry} {
    %0 = etensor.max %x0 {axes = array<i64: 0>} : tensor<?xf32> -> tensor<f32>
    func.return %0 : tensor<f32>
  }
}"""


def test_nan_second_operand_of_maximum():
    program = et.Program.from_module(MAXIMUM_NAN, [np.array([1.0]), np.array([np.nan])], position=0)
    et.check_rewrite(program, "tensor-to-loop")


def test_nan_in_max_reduction():
    x = np.array([0.0, 0.0, 0.0, np.nan], np.float32)
    et.check_rewrite(et.Program.from_module(MAX_REDUCTION_NAN, [x], position=0), "tensor-to-loop")
