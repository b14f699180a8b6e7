"""``arith`` ops that MLIR has and xDSL 0.74 lacks, added to the ``arith`` dialect we load.

``arith.remf`` is C's ``fmod`` (the result has the sign of the dividend)::

    %r = arith.remf %a, %b : f64
"""

from xdsl.dialects import arith
from xdsl.ir import Dialect
from xdsl.irdl import irdl_op_definition, traits_def
from xdsl.traits import Pure


@irdl_op_definition
class RemFOp(arith.FloatingPointLikeBinaryOperation):
    """Floating-point remainder with the sign of the dividend (C ``fmod``)."""

    name = "arith.remf"
    traits = traits_def(Pure())


def extended_arith() -> Dialect:
    """xDSL's ``arith`` plus the ops above, under the same name."""
    return Dialect("arith", [*arith.Arith.operations, RemFOp], [*arith.Arith.attributes])
