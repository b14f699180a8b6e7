"""``etensor.custom``: a user-defined operator (``ember.custom_op``) at the tensor stage.

One generic op stands for every custom operator; its ``op_name`` property names the entry of
:data:`ember.custom_op.CUSTOM_OPS` that holds the operator's NumPy reference, its dtype
rule and its lowering (a Python scalar lowering, or a native C symbol)::

    %r = etensor.custom "mylib::softplus"(%x) : (tensor<?xf64>) -> tensor<?xf64>

Custom operators are elementwise: the operands broadcast together (aligned from the right,
like ``etensor.add``), all have the same element type, and the result has the broadcast
shape. When the operator is registered in this process, the verifier also checks the result
element type against its dtype rule; an unregistered name still parses and verifies (so a
file can be inspected without the library that defines it), but does not lower.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import StringAttr, TensorType
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import IRDLOperation, irdl_op_definition, prop_def, result_def, traits_def, var_operand_def
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from ember.dialects import shapes as S


@irdl_op_definition
class CustomOp(IRDLOperation):
    """A call of the custom operator ``op_name`` on tensors (elementwise, broadcasting).

    %r = etensor.custom "mylib::softplus"(%x) : (tensor<?xf64>) -> tensor<?xf64>
    """

    name = "etensor.custom"
    op_name = prop_def(StringAttr)
    inputs = var_operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$op_name `(` $inputs `)` attr-dict `:` functional-type($inputs, $result)"

    def __init__(self, op_name: str, inputs: Sequence[SSAValue], element: Attribute):
        shape = S.broadcast_shapes(*(S.shape_of(v.type) for v in inputs))
        super().__init__(operands=[list(inputs)], result_types=[S.tensor_type(shape, element)],
                         properties={"op_name": StringAttr(op_name)})

    def verify_(self):
        if not self.inputs:
            raise VerifyException(f"{self.name}: needs at least one operand")
        elements = {v.type.element_type for v in self.inputs}
        if len(elements) != 1:
            raise VerifyException(f"{self.name}: operand element types differ "
                                  f"({', '.join(sorted(map(str, elements)))}); insert etensor.cast")
        try:
            shape = S.broadcast_shapes(*(S.shape_of(v.type) for v in self.inputs))
        except S.ShapeError as e:
            raise VerifyException(f"{self.name}: {e}") from None
        if S.shape_of(self.result.type) != shape:
            raise VerifyException(f"{self.name}: result shape {S.format_shape(S.shape_of(self.result.type))} "
                                  f"is not the broadcast shape {S.format_shape(shape)} of the operands")
        from ember.custom_op import CUSTOM_OPS  # the registry lives in the core package

        op = CUSTOM_OPS.get(self.op_name.data)
        if op is not None:
            want = op.result_element(elements.pop())
            if self.result.type.element_type != want:
                raise VerifyException(f"{self.name}: {self.op_name.data} gives {want}, "
                                      f"not {self.result.type.element_type}")
