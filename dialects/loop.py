"""The ``loop`` dialect: iteration spaces over memref buffers.

Two loop forms, both with explicit ``index`` bounds:

``loop.for`` is a sequential 1-D loop whose iterations run in order and may carry
values from one iteration to the next::

    %s = loop.for %i = %lb to %ub step %c1 iter_args(%acc = %zero) -> (f32) {
      %v = memref.load %x[%i] : memref<?xf32>
      %n = arith.addf %acc, %v : f32
      loop.yield %n : f32
    }

``loop.parallel`` is an n-D iteration space whose iterations are independent.  It may
carry reductions: each result names an associative, commutative combiner (``add``,
``mul``, ``max``, ``min``, ``and``, ``or``), so the iterations may be reordered, split
into chunks with their own partial accumulators and recombined.  This is the form that
fusion, tiling and parallelisation work on::

    loop.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) {
      ...
      loop.yield
    }
    %r = loop.parallel (%j) = (%c0) to (%m) step (%c1) reduce(add) init(%acc = %zero) -> (f32) {
      %v = memref.load %x[%j] : memref<?xf32>
      %n = arith.addf %acc, %v : f32
      loop.yield %n : f32
    }
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from xdsl.dialects.builtin import (I32, UNKNOWN_LOC, ArrayAttr, DenseArrayBase, IndexType, IntegerAttr,
                                   MemRefType, StringAttr, i32)
from xdsl.ir import Attribute, Block, Dialect, Operation, Region, SSAValue
from xdsl.irdl import (
    AnyAttr,
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    lazy_traits_def,
    operand_def,
    opt_prop_def,
    prop_def,
    region_def,
    var_operand_def,
    var_result_def,
    AttrSizedOperandSegments,
)
from xdsl.parser import Parser, UnresolvedOperand
from xdsl.printer import Printer
from xdsl.traits import (
    EffectInstance,
    HasParent,
    IsTerminator,
    MemoryEffect,
    Pure,
    RecursiveMemoryEffect,
    SingleBlockImplicitTerminator,
    ensure_terminator,
)
from xdsl.utils.exceptions import VerifyException

REDUCTION_KINDS = ("add", "mul", "max", "min", "and", "or")

# The constructors below call ``Operation.__init__`` directly: tensor-to-loop makes hundreds
# of these ops, and ``IRDLOperation.__init__``'s argument checks cost as much as the op.
# They build the same op (``__post_init__`` still fills in defaults; the segment sizes are
# those ``AttrSizedOperandSegments`` gives); ``tests/test_fast_builders.py`` checks it.


@functools.cache
def _segments(*sizes: int) -> DenseArrayBase:
    return DenseArrayBase.from_list(i32, sizes)


@functools.cache
def _kinds(kinds: tuple[str, ...]) -> ArrayAttr:
    return ArrayAttr([StringAttr(k) for k in kinds])


@functools.cache
def _effect_traits(cls: type[Operation]) -> tuple[MemoryEffect, ...]:
    return tuple(cls.get_traits_of_type(MemoryEffect))


class BodyEffects(RecursiveMemoryEffect):
    """``RecursiveMemoryEffect`` (a loop has the effects of its body), computed with each op
    class's effect traits looked up once: canonicalize and DCE ask a loop for its effects
    whenever they ask whether it is dead, and the loops of a loop nest each gather the
    effects of everything nested in them. The same set as xDSL's ``get_effects`` gives."""

    @classmethod
    def get_effects(cls, op: Operation) -> set[EffectInstance] | None:
        effects: set[EffectInstance] = set()
        for region in op.regions:
            for block in region.blocks:
                for child in block.ops:
                    traits = _effect_traits(type(child))
                    if not traits:
                        return None
                    for trait in traits:
                        child_effects = trait.get_effects(child)
                        if child_effects is None:
                            return None
                        effects.update(child_effects)
        return effects


def _print_assignments(printer: Printer, args: Sequence[SSAValue], vals: Sequence[SSAValue]):
    printer.print_string("(")
    printer.print_list(zip(args, vals), lambda p: (printer.print_ssa_value(p[0]),
                                                    printer.print_string(" = "),
                                                    printer.print_ssa_value(p[1])))
    printer.print_string(")")


def _parse_assignments(parser: Parser):
    def one():
        arg = parser.parse_argument(expect_type=False)
        parser.parse_punctuation("=")
        return arg, parser.parse_unresolved_operand()

    return parser.parse_comma_separated_list(Parser.Delimiter.PAREN, one)


def _print_result_types(printer: Printer, vals: Sequence[SSAValue]):
    printer.print_string(" -> (")
    printer.print_list((v.type for v in vals), printer.print_attribute)
    printer.print_string(")")


@irdl_op_definition
class ForOp(IRDLOperation):
    """Sequential loop ``for (i = lb; i < ub; i += step)`` with loop-carried values.

    ``step`` must be positive; the frontends normalise negative Python steps.

        %r = loop.for %i = %lb to %ub step %s iter_args(%a = %init) -> (f64) {
          loop.yield %a : f64
        }
    """

    name = "loop.for"
    lb = var_operand_def(IndexType)
    ub = var_operand_def(IndexType)
    step = var_operand_def(IndexType)
    iter_args = var_operand_def()
    res = var_result_def()
    body = region_def("single_block")
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    traits = lazy_traits_def(lambda: (SingleBlockImplicitTerminator(YieldOp), BodyEffects()))

    def __init__(self, lb: SSAValue, ub: SSAValue, step: SSAValue,
                 iter_args: Sequence[SSAValue], body: Region | Block):
        if isinstance(body, Block):
            body = Region(body)
        inits = [SSAValue.get(a) for a in iter_args]
        Operation.__init__(self, operands=[SSAValue.get(lb), SSAValue.get(ub), SSAValue.get(step),
                                           *inits],
                           result_types=[a.type for a in inits], regions=[body],
                           properties={"operandSegmentSizes": _segments(1, 1, 1, len(inits))},
                           location=UNKNOWN_LOC)

    @property
    def induction_var(self) -> SSAValue:
        return self.body.block.args[0]

    def verify_(self):
        if len(self.lb) != 1 or len(self.ub) != 1 or len(self.step) != 1:
            raise VerifyException("loop.for takes exactly one lower bound, upper bound and step")
        _verify_carried(self, 1)

    def print(self, printer: Printer):
        iv, *carried = self.body.block.args
        printer.print_string(" ")
        printer.print_ssa_value(iv)
        printer.print_string(" = ")
        printer.print_ssa_value(self.lb[0])
        printer.print_string(" to ")
        printer.print_ssa_value(self.ub[0])
        printer.print_string(" step ")
        printer.print_ssa_value(self.step[0])
        if carried:
            printer.print_string(" iter_args")
            _print_assignments(printer, carried, self.iter_args)
            _print_result_types(printer, carried)
        printer.print_string(" ")
        printer.print_region(self.body, print_entry_block_args=False,
                             print_block_terminators=bool(carried))
        printer.print_op_attributes(self.attributes)

    @classmethod
    def parse(cls, parser: Parser) -> ForOp:
        index = IndexType()
        iv = parser.parse_argument(expect_type=False)
        parser.parse_punctuation("=")
        lb = parser.resolve_operand(parser.parse_unresolved_operand(), index)
        parser.parse_keyword("to")
        ub = parser.resolve_operand(parser.parse_unresolved_operand(), index)
        parser.parse_keyword("step")
        step = parser.resolve_operand(parser.parse_unresolved_operand(), index)
        carried, inits, types = _parse_carried(parser, "iter_args")
        body = parser.parse_region((iv.resolve(index), *(a.resolve(t) for a, t in zip(carried, types))))
        op = cls(lb, ub, step, [parser.resolve_operand(v, t) for v, t in zip(inits, types)], body)
        op.attributes |= parser.parse_optional_attr_dict()
        if not carried:
            ensure_terminator(op, SingleBlockImplicitTerminator(YieldOp))
        return op


def _parse_carried(parser: Parser, keyword: str):
    carried: list[Parser.UnresolvedArgument] = []
    inits: list[UnresolvedOperand] = []
    types: list[Attribute] = []
    if parser.parse_optional_keyword(keyword):
        for arg, val in _parse_assignments(parser):
            carried.append(arg)
            inits.append(val)
        parser.parse_punctuation("->")
        types = parser.parse_comma_separated_list(Parser.Delimiter.PAREN, parser.parse_type)
    return carried, inits, types


def _verify_carried(op: ForOp | ParallelOp, n_ivs: int):
    args = op.body.block.args
    if len(args) != n_ivs + len(op.iter_args):
        raise VerifyException(f"{op.name} body needs {n_ivs} induction variable(s) "
                              f"and {len(op.iter_args)} carried value(s)")
    for a in args[:n_ivs]:
        if not isinstance(a.type, IndexType):
            raise VerifyException(f"{op.name} induction variables must be index")
    for a, v, r in zip(args[n_ivs:], op.iter_args, op.res):
        if a.type != v.type or r.type != v.type:
            raise VerifyException(f"{op.name} carried value types must match: {a.type} vs {v.type}")
    term = op.body.block.last_op
    if isinstance(term, YieldOp) and [x.type for x in term.operands] != [v.type for v in op.iter_args]:
        raise VerifyException(f"{op.name} must yield one value per carried value")


@irdl_op_definition
class ParallelOp(IRDLOperation):
    """An n-D space of independent iterations, optionally reducing into accumulators.

    Each accumulator has a combiner kind (``add mul max min and or``); the body receives
    the current accumulator and yields it combined with the iteration's contribution.

        %r = loop.parallel (%i) = (%c0) to (%n) step (%c1) reduce(add) init(%a = %z) -> (f32) {
          loop.yield %a : f32
        }
    """

    name = "loop.parallel"
    lb = var_operand_def(IndexType)
    ub = var_operand_def(IndexType)
    step = var_operand_def(IndexType)
    iter_args = var_operand_def()
    res = var_result_def()
    kinds = opt_prop_def(ArrayAttr[StringAttr])
    body = region_def("single_block")
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    traits = lazy_traits_def(lambda: (SingleBlockImplicitTerminator(YieldOp), BodyEffects()))

    def __init__(self, lb: Sequence[SSAValue], ub: Sequence[SSAValue], step: Sequence[SSAValue],
                 body: Region | Block, inits: Sequence[SSAValue] = (), kinds: Sequence[str] = ()):
        if isinstance(body, Block):
            body = Region(body)
        lb, ub, step = ([SSAValue.get(v) for v in vals] for vals in (lb, ub, step))
        inits = [SSAValue.get(a) for a in inits]
        props = {"kinds": _kinds(tuple(kinds))} if kinds else {}
        props["operandSegmentSizes"] = _segments(len(lb), len(ub), len(step), len(inits))
        Operation.__init__(self, operands=[*lb, *ub, *step, *inits],
                           result_types=[a.type for a in inits], regions=[body],
                           properties=props, location=UNKNOWN_LOC)

    @property
    def reduction_kinds(self) -> tuple[str, ...]:
        return tuple(k.data for k in self.kinds.data) if self.kinds else ()

    def verify_(self):
        if not (len(self.lb) == len(self.ub) == len(self.step)) or not self.lb:
            raise VerifyException("loop.parallel needs one lower bound, upper bound and step per dimension")
        if len(self.reduction_kinds) != len(self.iter_args):
            raise VerifyException("loop.parallel needs one reduction kind per accumulator")
        for k in self.reduction_kinds:
            if k not in REDUCTION_KINDS:
                raise VerifyException(f"unknown reduction kind '{k}', expected one of {', '.join(REDUCTION_KINDS)}")
        _verify_carried(self, len(self.lb))

    def print(self, printer: Printer):
        n = len(self.lb)
        ivs, carried = self.body.block.args[:n], self.body.block.args[n:]
        for label, vals in ((" ", ivs), (" = ", self.lb), (" to ", self.ub), (" step ", self.step)):
            printer.print_string(label + "(")
            printer.print_list(vals, printer.print_ssa_value)
            printer.print_string(")")
        if carried:
            printer.print_string(" reduce(" + ", ".join(self.reduction_kinds) + ") init")
            _print_assignments(printer, carried, self.iter_args)
            _print_result_types(printer, carried)
        printer.print_string(" ")
        printer.print_region(self.body, print_entry_block_args=False,
                             print_block_terminators=bool(carried))
        attrs = {k: v for k, v in self.attributes.items()}
        printer.print_op_attributes(attrs)

    @classmethod
    def parse(cls, parser: Parser) -> ParallelOp:
        index = IndexType()
        delim = Parser.Delimiter.PAREN
        ivs = parser.parse_comma_separated_list(delim, lambda: parser.parse_argument(expect_type=False))

        def bounds():
            return [parser.resolve_operand(v, index)
                    for v in parser.parse_comma_separated_list(delim, parser.parse_unresolved_operand)]

        parser.parse_punctuation("=")
        lb = bounds()
        parser.parse_keyword("to")
        ub = bounds()
        parser.parse_keyword("step")
        step = bounds()
        kinds: list[str] = []
        if parser.parse_optional_keyword("reduce"):
            kinds = parser.parse_comma_separated_list(delim, parser.parse_identifier)
        carried, inits, types = _parse_carried(parser, "init")
        body = parser.parse_region((*(a.resolve(index) for a in ivs),
                                    *(a.resolve(t) for a, t in zip(carried, types))))
        op = cls(lb, ub, step, body, [parser.resolve_operand(v, t) for v, t in zip(inits, types)], kinds)
        op.attributes |= parser.parse_optional_attr_dict()
        if not carried:
            ensure_terminator(op, SingleBlockImplicitTerminator(YieldOp))
        return op


@irdl_op_definition
class YieldOp(IRDLOperation):
    """Terminates a loop body, yielding the carried values (``loop.yield %a : f32``)."""

    name = "loop.yield"
    arguments = var_operand_def(AnyAttr())
    traits = lazy_traits_def(lambda: (IsTerminator(), HasParent(ForOp, ParallelOp), Pure()))
    assembly_format = "attr-dict ($arguments^ `:` type($arguments))?"

    def __init__(self, *args: SSAValue | Operation):
        Operation.__init__(self, operands=[SSAValue.get(a) for a in args], location=UNKNOWN_LOC)


@irdl_op_definition
class PrefetchOp(IRDLOperation):
    """A hint that ``%m[%i...]`` will be read soon: its cache line is fetched now (MLIR's
    ``memref.prefetch``, read and data only; ``locality`` 0-3, 3: keep it in every level).
    It changes nothing but timing; it declares no memory effects, so nothing erases it (as
    MLIR's)::

        loop.prefetch %b[%k, %j] {locality = 3 : i32} : memref<?x?xf32>
    """

    name = "loop.prefetch"
    memref = operand_def(MemRefType)
    indices = var_operand_def(IndexType)
    locality = prop_def(IntegerAttr[I32])
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$memref `[` $indices `]` attr-dict `:` type($memref)"

    def __init__(self, ref: SSAValue, indices: Sequence[SSAValue], locality: int = 3):
        Operation.__init__(self, operands=[SSAValue.get(ref), *(SSAValue.get(i) for i in indices)],
                           location=UNKNOWN_LOC, properties={"locality": IntegerAttr(locality, 32)})


Loop = Dialect("loop", [ForOp, ParallelOp, YieldOp, PrefetchOp], [])
