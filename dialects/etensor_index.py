"""Element access ops of the ``etensor`` dialect: reads, writes, and scalar conversion.

Scalars in the tensor stage are 0-d tensors (so NumPy's rules apply to them unchanged);
``etensor.item`` turns a 0-d tensor into an SSA scalar where control flow needs one.
``etensor.insert`` has value semantics: it returns a new tensor; bufferization makes it an
in-place store when the old value is dead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import DenseArrayBase, IndexType, TensorType, i64
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import (
    AnyAttr,
    AttrSizedOperandSegments,
    IRDLOperation,
    ParsePropInAttrDict,
    prop_def,
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from ember.dialects import shapes as S


def _check_indices(op: IRDLOperation, t: Attribute, n: int):
    rank = len(S.shape_of(t))
    if n != rank:
        raise VerifyException(f"{op.name}: needs {rank} indices for a rank-{rank} tensor, got {n}")


@irdl_op_definition
class ExtractOp(IRDLOperation):
    """Read one element as a 0-d tensor (``x[i, j]``); indices are in range.

    %v = etensor.extract %x[%i, %j] : tensor<?x?xf32> -> tensor<f32>
    """

    name = "etensor.extract"
    input = operand_def(TensorType)
    indices = var_operand_def(IndexType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input `[` $indices `]` attr-dict `:` type($input) `->` type($result)"

    def __init__(self, x: SSAValue, indices: Sequence[SSAValue]):
        super().__init__(operands=[x, list(indices)],
                         result_types=[S.tensor_type([], x.type.element_type)])

    def verify_(self):
        _check_indices(self, self.input.type, len(self.indices))
        if self.result.type != S.tensor_type([], self.input.type.element_type):
            raise VerifyException("etensor.extract: result must be a 0-d tensor of the element type")


@irdl_op_definition
class InsertOp(IRDLOperation):
    """``x`` with one element replaced (``x[i, j] = v``); value semantics.

    %y = etensor.insert %v, %x[%i, %j] : tensor<f32>, tensor<?x?xf32>
    """

    name = "etensor.insert"
    T: ClassVar = VarConstraint("T", base(TensorType))
    value = operand_def(TensorType)
    dest = operand_def(T)
    indices = var_operand_def(IndexType)
    result = result_def(T)
    traits = traits_def(Pure())
    assembly_format = "$value `,` $dest `[` $indices `]` attr-dict `:` type($value) `,` type($dest)"

    def __init__(self, v: SSAValue, x: SSAValue, indices: Sequence[SSAValue]):
        super().__init__(operands=[v, x, list(indices)], result_types=[x.type])

    def verify_(self):
        _check_indices(self, self.dest.type, len(self.indices))
        if self.value.type != S.tensor_type([], self.dest.type.element_type):
            raise VerifyException("etensor.insert: value must be a 0-d tensor of the element type")
        if self.result.type != self.dest.type:
            raise VerifyException("etensor.insert: result type must be the destination's")


@irdl_op_definition
class CopyOp(IRDLOperation):
    """A new array with ``x``'s elements (``x.copy()``, ``np.copy(x)``, ``np.array(x)``).

    Under value semantics a copy changes nothing, so ``tensor-to-loop`` makes one only where
    it separates an argument the function writes into (the caller's array) from a private
    array; elsewhere the result is ``x`` itself.

    %y = etensor.copy %x : tensor<?x?xf64>
    """

    name = "etensor.copy"
    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input)"

    def __init__(self, x: SSAValue):
        super().__init__(operands=[x], result_types=[x.type])


@irdl_op_definition
class KeepOp(IRDLOperation):
    """Keeps ``x`` alive: the last value of an argument's array that no name holds any more
    (``x[0] = 1; x = y``). Element writes into an argument are stores into the caller's
    array, but in value semantics a write whose result nothing reads would be dead code;
    this op has side effects, so canonicalize and DCE keep the writes it depends on.
    ``tensor-to-loop`` emits nothing for it.

    etensor.keep %x : tensor<?xf64>
    """

    name = "etensor.keep"
    input = operand_def(TensorType)
    assembly_format = "$input attr-dict `:` type($input)"

    def __init__(self, x: SSAValue):
        super().__init__(operands=[x])


@irdl_op_definition
class ItemOp(IRDLOperation):
    """The scalar held by a 0-d tensor (``bool(c)``, ``int(n)`` in control flow).

    %c = etensor.item %t : tensor<i1> -> i1
    """

    name = "etensor.item"
    input = operand_def(TensorType)
    result = result_def(AnyAttr())
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, x: SSAValue):
        super().__init__(operands=[x], result_types=[x.type.element_type])

    def verify_(self):
        if S.shape_of(self.input.type) != ():
            raise VerifyException("etensor.item: input must be a 0-d tensor")
        if self.result.type != self.input.type.element_type:
            raise VerifyException("etensor.item: result must be the element type")


@irdl_op_definition
class SliceOp(IRDLOperation):
    """Basic slicing ``x[a:b:s, i]``: per input dimension an offset, a size and a static
    stride (negative allowed); dimensions listed in ``dropped`` (integer indices, size 1)
    are removed from the result.

    %r = etensor.slice %x[%o0, %o1] sizes [%n, %c1] {strides = array<i64: 2, 1>, dropped = array<i64: 1>} : tensor<?x?xf32> -> tensor<?xf32>
    """

    name = "etensor.slice"
    input = operand_def(TensorType)
    offsets = var_operand_def(IndexType)
    sizes = var_operand_def(IndexType)
    result = result_def(TensorType)
    strides = prop_def(DenseArrayBase)
    dropped = prop_def(DenseArrayBase)
    traits = traits_def(Pure())
    irdl_options = (AttrSizedOperandSegments(as_property=True), ParsePropInAttrDict())
    assembly_format = ("$input `[` $offsets `]` `sizes` `[` $sizes `]` attr-dict `:` type($input) "
                       "`->` type($result)")

    def __init__(self, x: SSAValue, offsets, sizes, strides, dropped, shape):
        super().__init__(operands=[x, list(offsets), list(sizes)],
                         result_types=[S.tensor_type(shape, x.type.element_type)],
                         properties={"strides": DenseArrayBase.from_list(i64, list(strides)),
                                     "dropped": DenseArrayBase.from_list(i64, list(dropped))})

    def verify_(self):
        rank = len(S.shape_of(self.input.type))
        if not (len(self.offsets) == len(self.sizes) == len(self.strides.get_values()) == rank):
            raise VerifyException("etensor.slice: needs an offset, size and stride per input dimension")
        dropped = self.dropped.get_values()
        if len(S.shape_of(self.result.type)) != rank - len(dropped):
            raise VerifyException("etensor.slice: result rank must be the input rank minus dropped dims")


INDEX_OPS = [ExtractOp, InsertOp, CopyOp, KeepOp, ItemOp, SliceOp]
