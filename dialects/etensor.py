"""The ``etensor`` dialect: NumPy-semantics tensor operations with value semantics.

Operands and results are builtin ``tensor<...>`` types. Dtype promotion is explicit
(``etensor.cast``); broadcasting is explicit in the types: elementwise operands are
aligned from the right and a static ``1`` dimension (or a missing leading one)
broadcasts. Every op has a verifier built on :mod:`ember.dialects.shapes` (the same rules
the frontends use) and a NumPy reference implementation in :data:`REFERENCE`, which makes
the tensor stage executable without compiling.

The textual name is ``etensor`` so it never clashes with xDSL's own ``tensor`` dialect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    IndexType,
    IntAttr,
    IntegerAttr,
    TensorType,
    UnitAttr,
    i1,
    i64,
)
from xdsl.ir import Attribute, Dialect, SSAValue
from xdsl.irdl import (
    AnyAttr,
    IRDLOperation,
    ParsePropInAttrDict,
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from ember.dialects import shapes as S

# Ops are generated from these tables: name -> (docstring summary, allowed element kinds).
BINARY = {
    "add": "a + b", "sub": "a - b", "mul": "a * b", "div": "a / b (floats only)",
    "floordiv": "a // b (NumPy floor division)", "mod": "a % b (sign of the divisor)",
    "pow": "a ** b", "maximum": "np.maximum(a, b)", "minimum": "np.minimum(a, b)",
    "and": "a & b (bools and ints)", "or": "a | b", "xor": "a ^ b",
    "atan2": "np.arctan2(a, b) (floats only)",
}
COMPARE = {"eq": "a == b", "ne": "a != b", "lt": "a < b", "le": "a <= b", "gt": "a > b", "ge": "a >= b"}
UNARY = {
    "neg": "-a", "exp": "np.exp(a)", "log": "np.log(a)", "sqrt": "np.sqrt(a)", "tanh": "np.tanh(a)",
    "sin": "np.sin(a)", "cos": "np.cos(a)", "abs": "np.abs(a)", "not": "~a (bools and ints)",
    "floor": "np.floor(a) (floats only)", "ceil": "np.ceil(a) (floats only)",
    "trunc": "np.trunc(a) (floats only)", "rint": "np.rint(a), halves to even (floats only)",
    "exp2": "np.exp2(a)", "expm1": "np.expm1(a)", "log2": "np.log2(a)", "log10": "np.log10(a)",
    "log1p": "np.log1p(a)", "tan": "np.tan(a)", "arcsin": "np.arcsin(a)",
    "arccos": "np.arccos(a)", "arctan": "np.arctan(a)", "sinh": "np.sinh(a)",
    "cosh": "np.cosh(a)", "arcsinh": "np.arcsinh(a)", "arccosh": "np.arccosh(a)",
    "arctanh": "np.arctanh(a)", "erf": "math.erf(a) (the error function)",
}
#: unary kinds that are NumPy ufuncs with a libm function of the same meaning: the float
#: ops of the ``math`` dialect, which ``expand-math`` replaces by ember's own kernels
TRANSCENDENTAL = ("exp2", "expm1", "log2", "log10", "log1p", "tan", "arcsin", "arccos", "arctan",
                  "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "erf")
FLOAT_ONLY = {"div", "exp", "log", "sqrt", "tanh", "sin", "cos", "floor", "ceil", "trunc", "rint",
              "atan2", *TRANSCENDENTAL}
INT_OR_BOOL_ONLY = {"and", "or", "xor", "not"}
REDUCTIONS = ("sum", "prod", "max", "min", "mean")
ARG_REDUCTIONS = ("argmax", "argmin")
SCANS = {"cumsum": "sum", "cumprod": "prod"}  # scan -> the reduction whose dtype rule it has


def _check_element_kind(op: IRDLOperation, element: Attribute, kind: str):
    if kind in FLOAT_ONLY and not S.is_float(element):
        raise VerifyException(f"{op.name} needs a float element type, got {element}")
    if kind in INT_OR_BOOL_ONLY and S.is_float(element):
        raise VerifyException(f"{op.name} needs an integer or bool element type, got {element}")


def _expect_type(op: IRDLOperation, got: Attribute, want: Attribute):
    if got != want:
        raise VerifyException(f"{op.name}: result type {got} does not match the inferred {want}")


def _broadcast_type(op: IRDLOperation, values: Sequence[SSAValue]) -> Sequence[int]:
    try:
        return S.broadcast_shapes(*(S.shape_of(v.type) for v in values))
    except S.ShapeError as e:
        raise VerifyException(f"{op.name}: {e}") from None


class ElementwiseBinary(IRDLOperation):
    KIND: ClassVar[str]
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs attr-dict `:` `(` type($lhs) `,` type($rhs) `)` `->` type($result)"

    def __init__(self, lhs: SSAValue, rhs: SSAValue, result_type: Attribute | None = None):
        if result_type is None:
            shape = S.broadcast_shapes(S.shape_of(lhs.type), S.shape_of(rhs.type))
            element = i1 if self.KIND in COMPARE else lhs.type.element_type
            result_type = S.tensor_type(shape, element)
        super().__init__(operands=[lhs, rhs], result_types=[result_type])

    def verify_(self):
        a, b = self.lhs.type.element_type, self.rhs.type.element_type
        if a != b:
            raise VerifyException(f"{self.name}: operand element types differ ({a} vs {b}); "
                                  "insert etensor.cast")
        _check_element_kind(self, a, self.KIND)
        element = i1 if self.KIND in COMPARE else a
        _expect_type(self, self.result.type, S.tensor_type(_broadcast_type(self, self.operands), element))


class ElementwiseUnary(IRDLOperation):
    KIND: ClassVar[str]
    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input)"

    def __init__(self, x: SSAValue):
        super().__init__(operands=[x], result_types=[x.type])

    def verify_(self):
        _check_element_kind(self, self.input.type.element_type, self.KIND)


def _make_ops(table: dict[str, str], base_cls: type, fmt: str,
              summary: str = "Elementwise ``{meaning}``.") -> list[type[IRDLOperation]]:
    """One op class per ``kind`` of ``table`` (kind -> meaning), ``<Kind>Op`` in this module,
    documented by ``summary`` and the example ``fmt`` (both formatted with the kind)."""
    ops = []
    for kind, meaning in table.items():
        cls_name = kind.capitalize() + "Op"
        doc = summary.format(kind=kind, meaning=meaning) + "\n\n    " + fmt.format(kind=kind)
        cls = type(cls_name, (base_cls,), {"name": f"etensor.{kind}", "KIND": kind, "__annotations__": {"KIND": ClassVar[str]}, "__doc__": doc,
                                           "__module__": __name__, "__qualname__": cls_name})
        ops.append(irdl_op_definition(cls))
        globals()[cls_name] = ops[-1]
    return ops


_BIN_FMT = "%r = etensor.{kind} %a, %b : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>"
_CMP_FMT = "%r = etensor.{kind} %a, %b : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xi1>"
_UN_FMT = "%r = etensor.{kind} %a : tensor<?x?xf32>"
BINARY_OPS = _make_ops(BINARY, ElementwiseBinary, _BIN_FMT)
COMPARE_OPS = _make_ops(COMPARE, ElementwiseBinary, _CMP_FMT)
UNARY_OPS = _make_ops(UNARY, ElementwiseUnary, _UN_FMT)
#: kind ("add", "exp", ...) -> op class
ELEMENTWISE: dict[str, type[IRDLOperation]] = {op.KIND: op for op in BINARY_OPS + COMPARE_OPS + UNARY_OPS}


@irdl_op_definition
class CastOp(IRDLOperation):
    """Elementwise dtype conversion with NumPy's ``astype`` semantics (unsafe casting).

    %r = etensor.cast %a : tensor<?xf32> to tensor<?xi32>
    """

    name = "etensor.cast"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `to` type($result)"

    def __init__(self, x: SSAValue, element: Attribute):
        super().__init__(operands=[x], result_types=[S.tensor_type(S.shape_of(x.type), element)])

    def verify_(self):
        _expect_type(self, self.result.type,
                     S.tensor_type(S.shape_of(self.input.type), self.result.type.element_type))


class _Reduction(IRDLOperation):
    KIND: ClassVar[str]
    input = operand_def(TensorType)
    result = result_def(TensorType)
    axes = prop_def(DenseArrayBase)
    keepdims = opt_prop_def(UnitAttr)
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, x: SSAValue, axes: Sequence[int], keepdims: bool):
        shape = S.reduce_shape(S.shape_of(x.type), axes, keepdims)
        rt = S.tensor_type(shape, S.reduce_dtype(self.KIND, x.type.element_type))
        props = {"axes": DenseArrayBase.from_list(i64, list(axes))}
        if keepdims:
            props["keepdims"] = UnitAttr()
        super().__init__(operands=[x], result_types=[rt], properties=props)

    @property
    def axes_tuple(self) -> tuple[int, ...]:
        return tuple(self.axes.get_values())

    def verify_(self):
        rank = len(S.shape_of(self.input.type))
        axes = self.axes_tuple
        if list(axes) != sorted(set(axes)) or any(not 0 <= a < rank for a in axes):
            raise VerifyException(f"{self.name}: axes must be sorted, unique and in [0, {rank})")
        element = self.input.type.element_type
        shape = S.reduce_shape(S.shape_of(self.input.type), axes, self.keepdims is not None)
        _expect_type(self, self.result.type, S.tensor_type(shape, S.reduce_dtype(self.KIND, element)))


REDUCTION_OPS = _make_ops(
    {k: k for k in REDUCTIONS}, _Reduction,
    "%r = etensor.{kind} %a {{axes = array<i64: 1>, keepdims}} : tensor<?x?xf32> -> tensor<?x1xf32>",
    "``np.{kind}(a, axis=axes, keepdims=...)``; ints and bools widen as in NumPy.")
REDUCE: dict[str, type[IRDLOperation]] = {op.KIND: op for op in REDUCTION_OPS}


class _ArgReduction(_Reduction):
    """The index of the first maximum (minimum) along one axis, or in C order over all axes
    (NumPy's ``axis=None``); a NaN counts as the extreme."""

    def verify_(self):
        super().verify_()
        rank = len(S.shape_of(self.input.type))
        if len(self.axes_tuple) != 1 and len(self.axes_tuple) != rank:
            raise VerifyException(f"{self.name}: reduces one axis or all of them, not {self.axes_tuple}")


ARG_OPS = _make_ops(
    {k: k[3:] for k in ARG_REDUCTIONS}, _ArgReduction,
    "%r = etensor.{kind} %a {{axes = array<i64: 1>}} : tensor<?x?xf32> -> tensor<?xi64>",
    "``np.{kind}(a, axis=k, keepdims=...)``: the index of the first {meaning} (a NaN is one),\n"
    "along axis ``k`` or, with all axes, in C order.")
REDUCE.update({op.KIND: op for op in ARG_OPS})


class _Scan(IRDLOperation):
    KIND: ClassVar[str]
    input = operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr)
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, x: SSAValue, axis: int, element: Attribute | None = None):
        """``element``: the result's (``dtype=``), else NumPy's default for the input's."""
        element = element or S.reduce_dtype(SCANS[self.KIND], x.type.element_type)
        super().__init__(operands=[x], result_types=[S.tensor_type(S.shape_of(x.type), element)],
                         properties={"axis": IntegerAttr(axis, i64)})

    @property
    def axis_index(self) -> int:
        return self.axis.value.data

    def verify_(self):
        shape = S.shape_of(self.input.type)
        if not 0 <= self.axis_index < len(shape):
            raise VerifyException(f"{self.name}: axis {self.axis_index} is not in [0, {len(shape)})")
        element = self.input.type.element_type
        allowed = (element, S.reduce_dtype(SCANS[self.KIND], element))
        if self.result.type.element_type not in allowed:
            raise VerifyException(f"{self.name}: result element type {self.result.type.element_type} "
                                  f"is neither {allowed[0]} nor {allowed[1]}")
        _expect_type(self, self.result.type, S.tensor_type(shape, self.result.type.element_type))


SCAN_OPS = _make_ops(
    SCANS, _Scan, "%r = etensor.{kind} %a {{axis = 1 : i64}} : tensor<?x?xf32> -> tensor<?x?xf32>",
    "``np.{kind}(a, axis=k)``: running {meaning}s along one axis, in order (as NumPy), in the\n"
    "result's element type (ints and bools widen to int64 unless ``dtype=`` says).")
SCAN: dict[str, type[IRDLOperation]] = {op.KIND: op for op in SCAN_OPS}


@irdl_op_definition
class MatmulOp(IRDLOperation):
    """``a @ b`` for ranks >= 2, batch dimensions broadcast (the frontends reshape 1-D operands).

    %r = etensor.matmul %a, %b : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
    """

    name = "etensor.matmul"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs attr-dict `:` `(` type($lhs) `,` type($rhs) `)` `->` type($result)"

    def __init__(self, a: SSAValue, b: SSAValue):
        shape = S.matmul_shape(S.shape_of(a.type), S.shape_of(b.type))
        super().__init__(operands=[a, b], result_types=[S.tensor_type(shape, a.type.element_type)])

    def verify_(self):
        if self.lhs.type.element_type != self.rhs.type.element_type:
            raise VerifyException("etensor.matmul: operand element types differ")
        try:
            shape = S.matmul_shape(S.shape_of(self.lhs.type), S.shape_of(self.rhs.type))
        except S.ShapeError as e:
            raise VerifyException(str(e)) from None
        _expect_type(self, self.result.type, S.tensor_type(shape, self.lhs.type.element_type))


@irdl_op_definition
class TransposeOp(IRDLOperation):
    """``np.transpose(a, perm)``.

    %r = etensor.transpose %a <{perm = array<i64: 1, 0>}> : tensor<?x4xf32> -> tensor<4x?xf32>
    """

    name = "etensor.transpose"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    perm = prop_def(DenseArrayBase)
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, x: SSAValue, perm: Sequence[int]):
        shape = S.transpose_shape(S.shape_of(x.type), perm)
        super().__init__(operands=[x], result_types=[S.tensor_type(shape, x.type.element_type)],
                         properties={"perm": DenseArrayBase.from_list(i64, list(perm))})

    def verify_(self):
        try:
            shape = S.transpose_shape(S.shape_of(self.input.type), self.perm.get_values())
        except S.ShapeError as e:
            raise VerifyException(f"etensor.transpose: {e}") from None
        _expect_type(self, self.result.type, S.tensor_type(shape, self.input.type.element_type))


class _ShapedBySizes(IRDLOperation):
    """Base for ops whose result sizes are given as ``index`` operands, one per dimension."""

    sizes = var_operand_def(IndexType)
    result = result_def(TensorType)

    def _verify_sizes(self):
        if len(self.sizes) != len(S.shape_of(self.result.type)):
            raise VerifyException(f"{self.name}: needs one size operand per result dimension")


@irdl_op_definition
class ReshapeOp(_ShapedBySizes):
    """``np.reshape(a, sizes)`` (C order; the element count must match at run time).

    %r = etensor.reshape %a (%n, %c4) : tensor<?xf32> -> tensor<?x4xf32>
    """

    name = "etensor.reshape"
    input = operand_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input `(` $sizes `)` attr-dict `:` type($input) `->` type($result)"

    def __init__(self, x: SSAValue, sizes: Sequence[SSAValue], shape: Sequence[int]):
        super().__init__(operands=[x, list(sizes)], result_types=[S.tensor_type(shape, x.type.element_type)])

    def verify_(self):
        self._verify_sizes()
        if self.result.type.element_type != self.input.type.element_type:
            raise VerifyException("etensor.reshape: element type must not change")


#: attribute of an ``etensor.broadcast`` whose elements may be anything (``np.empty``): the
#: reference implementation broadcasts as usual, ``tensor-to-loop`` only allocates
UNINITIALIZED = "ember.uninitialized"


@irdl_op_definition
class BroadcastOp(_ShapedBySizes):
    """``np.broadcast_to(a, sizes)``; ``np.empty`` is one marked ``{ember.uninitialized}``.

    %r = etensor.broadcast %a (%n, %m) : tensor<?xf32> -> tensor<?x?xf32>
    """

    name = "etensor.broadcast"
    input = operand_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input `(` $sizes `)` attr-dict `:` type($input) `->` type($result)"

    def __init__(self, x: SSAValue, sizes: Sequence[SSAValue], shape: Sequence[int]):
        super().__init__(operands=[x, list(sizes)], result_types=[S.tensor_type(shape, x.type.element_type)])

    def verify_(self):
        self._verify_sizes()
        src, dst = S.shape_of(self.input.type), S.shape_of(self.result.type)
        try:
            ok = len(src) <= len(dst) and S.broadcast_shapes(src, dst) == dst
        except S.ShapeError:
            ok = False
        if not ok:
            raise VerifyException(f"etensor.broadcast: cannot broadcast {S.format_shape(src)} "
                                  f"to {S.format_shape(dst)}")


@irdl_op_definition
class FillOp(_ShapedBySizes):
    """A tensor of the given sizes filled with a scalar (``np.full``); 0-d with no sizes.

    %r = etensor.fill %v (%n) : f32 -> tensor<?xf32>
    """

    name = "etensor.fill"
    value = operand_def(AnyAttr())
    traits = traits_def(Pure())
    assembly_format = "$value `(` $sizes `)` attr-dict `:` type($value) `->` type($result)"

    def __init__(self, value: SSAValue, sizes: Sequence[SSAValue], shape: Sequence[int]):
        super().__init__(operands=[value, list(sizes)], result_types=[S.tensor_type(shape, value.type)])

    def verify_(self):
        self._verify_sizes()
        if self.value.type != self.result.type.element_type:
            raise VerifyException("etensor.fill: value type must be the element type")


@irdl_op_definition
class IotaOp(_ShapedBySizes):
    """``np.arange(n)``: a 1-D tensor ``[0, 1, ..., n-1]`` of the result's element type.

    %r = etensor.iota (%n) : tensor<?xi64>
    """

    name = "etensor.iota"
    traits = traits_def(Pure())
    assembly_format = "`(` $sizes `)` attr-dict `:` type($result)"

    def __init__(self, n: SSAValue, element: Attribute):
        super().__init__(operands=[[n]], result_types=[S.tensor_type([S.DYN], element)])

    def verify_(self):
        self._verify_sizes()
        if len(S.shape_of(self.result.type)) != 1:
            raise VerifyException("etensor.iota: result must be 1-D")


@irdl_op_definition
class WhereOp(IRDLOperation):
    """``np.where(cond, a, b)`` with broadcasting.

    %r = etensor.where %c, %a, %b : (tensor<?xi1>, tensor<?xf32>, tensor<f32>) -> tensor<?xf32>
    """

    name = "etensor.where"
    cond = operand_def(TensorType)
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = ("$cond `,` $lhs `,` $rhs attr-dict `:` `(` type($cond) `,` type($lhs) `,` "
                       "type($rhs) `)` `->` type($result)")

    def __init__(self, c: SSAValue, a: SSAValue, b: SSAValue):
        shape = S.broadcast_shapes(*(S.shape_of(v.type) for v in (c, a, b)))
        super().__init__(operands=[c, a, b], result_types=[S.tensor_type(shape, a.type.element_type)])

    def verify_(self):
        if self.cond.type.element_type != i1:
            raise VerifyException("etensor.where: condition must be a tensor of i1")
        if self.lhs.type.element_type != self.rhs.type.element_type:
            raise VerifyException("etensor.where: branch element types differ")
        _expect_type(self, self.result.type,
                     S.tensor_type(_broadcast_type(self, self.operands), self.lhs.type.element_type))


@irdl_op_definition
class ConstantOp(IRDLOperation):
    """A literal tensor.

    %r = etensor.constant dense<[1.0, 2.0]> : tensor<2xf32>
    """

    name = "etensor.constant"
    value = prop_def(DenseIntOrFPElementsAttr)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    def __init__(self, value: DenseIntOrFPElementsAttr):
        super().__init__(properties={"value": value}, result_types=[value.type])

    def print(self, printer: Printer):
        printer.print_string(" ")
        printer.print_attribute(self.value)
        printer.print_op_attributes(self.attributes)

    @classmethod
    def parse(cls, parser: Parser) -> ConstantOp:
        value = parser.parse_attribute()
        if not isinstance(value, DenseIntOrFPElementsAttr):
            parser.raise_error("expected a dense elements attribute")
        op = cls(value)
        op.attributes |= parser.parse_optional_attr_dict()
        return op

    def verify_(self):
        if self.value.type != self.result.type:
            raise VerifyException("etensor.constant: result type must be the literal's type")


@irdl_op_definition
class DimOp(IRDLOperation):
    """The run-time size of one dimension (``a.shape[k]``).

    %n = etensor.dim %a[0] : tensor<?x?xf32>
    """

    name = "etensor.dim"
    input = operand_def(TensorType)
    index = prop_def(IntAttr)
    result = result_def(IndexType)
    traits = traits_def(Pure())

    def __init__(self, x: SSAValue, k: int):
        super().__init__(operands=[x], properties={"index": IntAttr(k)}, result_types=[IndexType()])

    def print(self, printer: Printer):
        printer.print_string(" ")
        printer.print_ssa_value(self.input)
        printer.print_string(f"[{self.index.data}]")
        printer.print_op_attributes(self.attributes)
        printer.print_string(" : ")
        printer.print_attribute(self.input.type)

    @classmethod
    def parse(cls, parser: Parser) -> DimOp:
        x = parser.parse_unresolved_operand()
        parser.parse_punctuation("[")
        k = parser.parse_integer(allow_negative=False, allow_boolean=False)
        parser.parse_punctuation("]")
        attrs = parser.parse_optional_attr_dict()
        parser.parse_punctuation(":")
        op = cls(parser.resolve_operand(x, parser.parse_type()), k)
        op.attributes |= attrs
        return op

    def verify_(self):
        if not 0 <= self.index.data < len(S.shape_of(self.input.type)):
            raise VerifyException("etensor.dim: dimension index out of range")


from ember.dialects.etensor_index import INDEX_OPS, CopyOp, ExtractOp, InsertOp, ItemOp, KeepOp, SliceOp  # noqa: E402, F401 (re-exported)
from ember.dialects.etensor_custom import CustomOp  # noqa: E402

ETensor = Dialect("etensor", [
    *BINARY_OPS, *COMPARE_OPS, *UNARY_OPS, CastOp, *REDUCTION_OPS, *ARG_OPS, *SCAN_OPS, MatmulOp, TransposeOp,
    ReshapeOp, BroadcastOp, FillOp, IotaOp, WhereOp, ConstantOp, DimOp, *INDEX_OPS,
    CustomOp,
], [])
