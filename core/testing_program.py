"""Programs with inputs, and the two oracles that run them (part of :mod:`ember.testing`).

A :class:`Program` is MLIR text, the name of its entry function, and concrete inputs. It
remembers where it stands in the pipeline (``position``: how many passes of
:func:`pipeline` have run) and the tensor-stage program it was lowered from (``origin``).
Two oracles execute it:

- :func:`run_reference` interprets the tensor stage with the NumPy implementation of each
  op (:mod:`ember.dialects.reference`); nothing is compiled.
- :func:`run_jit` lowers the program with the *lowerings* still ahead of it (never the
  optional passes such as ``canonicalize``), compiles it with llvmlite and calls it.

    program = Program.from_function(lambda x: np.exp(x) - x, np.ones(3, np.float32))
    run_reference(program).values        # (array([1.718..., ...], dtype=float32),)
    run_jit(program.lowered(3)).values    # the same, after canonicalize, cse, tensor-to-loop
"""

from __future__ import annotations

import functools
import warnings
from collections import Counter, OrderedDict
from dataclasses import dataclass, field, replace

import numpy as np
from xdsl.dialects import cf, func
from xdsl.dialects.builtin import MemRefType, ModuleOp, NoneAttr, TensorType
from xdsl.parser import Parser
from xdsl.passes import ModulePass

from ember.context import make_context
from ember.dialects import shapes as S
from ember.pipeline import STAGES

#: Scalar parameter kinds of the entry ABI, by element type name (see ``ember.lowering.abi``).
_SCALAR_KINDS = {"f64": "f64", "f32": "f32", "i64": "i64", "i32": "i32", "i1": "i1", "index": "index"}
_PY_OF_KIND = {"f64": float, "f32": float, "i64": int, "i32": int, "index": int, "i1": bool}


@functools.cache
def lowering_names() -> frozenset[str]:
    """Names of the passes a program cannot skip on its way to native code.

    Every other pass of the pipeline (``canonicalize``, ``cse``, ``ember.passes``) is an
    optimisation: :func:`run_jit` leaves it out, which is what makes it testable in isolation.
    """
    from ember.lowering.loop_to_llvm import LOOP_TO_LLVM_PASSES
    from ember.lowering.tensor_to_loop import TensorToLoopPass

    return frozenset([TensorToLoopPass.name, *(p.name for p in LOOP_TO_LLVM_PASSES)])


def pipeline() -> list[tuple[str, ModulePass]]:
    """Every pass of :data:`ember.pipeline.STAGES` in order, as ``(stage name, pass)``."""
    return [(stage.name, p) for stage in STAGES for p in stage.passes()]


def pipeline_labels() -> list[str]:
    """``stage/pass`` for each pass of :func:`pipeline` (``tensor/canonicalize``, ...)."""
    return [f"{stage}/{p.name}" for stage, p in pipeline()]


@dataclass(frozen=True)
class Program:
    """A module, its entry function and the inputs to call it with.

    ``kinds`` gives each parameter's ABI kind (``"array"``, ``"f64"``, ``"i64"``, ``"i1"``);
    ``results`` each result's ``(dtype, rank)``. ``position`` is the number of passes of
    :func:`pipeline` the IR has been through (``None``: unknown, e.g. hand-written IR), and
    ``origin`` the tensor-stage program it was lowered from, if any.
    """

    text: str
    inputs: tuple
    name: str = "f"
    kinds: tuple[str, ...] = ()
    results: tuple[tuple[np.dtype, int], ...] = ()
    position: int | None = 0
    #: per parameter, whether it takes any layout (``ember.strided``); others need C order
    strided: tuple[bool, ...] = ()
    origin: Program | None = field(default=None, repr=False, compare=False)

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_module(cls, module: ModuleOp | str, inputs, name: str | None = None,
                    position: int | None = None, results=None) -> Program:
        """Wrap a module (or its text) holding entry function ``name`` (default: the first).

        ``results`` is only needed at the llvm stage, where the types no longer say it.
        """
        text = str(module)
        fop = _entry(parse(text), name)
        types = fop.function_type
        kinds = tuple("array" if isinstance(t, TensorType | MemRefType) else _SCALAR_KINDS[str(t)]
                      for t in types.inputs)
        if results is None:
            results = tuple((S.to_numpy_dtype(t.element_type), len(t.get_shape()))
                            for t in types.outputs)
        attrs = fop.arg_attrs.data if fop.arg_attrs is not None else ()
        strided = tuple(bool(attrs and "ember.strided" in attrs[k].data)
                        or (isinstance(t, MemRefType) and not isinstance(t.layout, NoneAttr))
                        for k, t in enumerate(types.inputs))
        return cls(text, tuple(inputs), fop.sym_name.data, kinds,
                   tuple((np.dtype(d), r) for d, r in results), position, strided)

    @classmethod
    def from_function(cls, fn, *inputs, name: str = "f") -> Program:
        """The tensor stage of scripted ``fn`` specialised for ``inputs`` (as ember.script
        would build it; ``fn`` must be defined in a file)."""
        from ember.api import _spec_of
        from ember.frontends.script import build_function

        args = tuple(np.asarray(a) if isinstance(a, np.generic) else a for a in inputs)
        specs = [_spec_of(a, k) for k, a in enumerate(args)]
        module, _, _ = build_function(fn, specs, name)
        return cls.from_module(module, args, name, position=0)

    # -- views -------------------------------------------------------------------------

    def module(self) -> ModuleOp:
        """A fresh, verified ModuleOp parsed from the text (passes may mutate it)."""
        return parse(self.text)

    @property
    def stage(self) -> str:
        """The earliest stage whose ops the IR holds (``tensor``, ``loop`` or ``llvm``)."""
        return _stage_of(self.text)

    @property
    def tensor_program(self) -> Program | None:
        """This program if it is at the tensor stage, else the one it was lowered from."""
        if self.origin is not None:
            return self.origin
        return self if self.stage == "tensor" else None

    def with_text(self, text: str, position: int | None) -> Program:
        """The same inputs and signature with new IR (a pass's output)."""
        return replace(self, text=text, position=position, origin=self.tensor_program)

    def lowered(self, position: int) -> Program:
        """This tensor-stage program after the first ``position`` passes of :func:`pipeline`."""
        if self.position is None or self.position > position:
            raise ValueError(f"cannot lower a program at position {self.position} to {position}")
        text = _lower(self.text, self.position, position)
        return replace(self, text=text, position=position, origin=self.tensor_program)

    def before(self, pass_name: str, stage: str | None = None) -> Program:
        """This program lowered up to (not including) the first pass ``pass_name`` (of
        ``stage``, if given): ``program.before("convert-to-llvm")``."""
        for k, (s, p) in enumerate(pipeline()):
            if p.name == pass_name and stage in (None, s):
                return self.lowered(k)
        raise ValueError(f"no pass {pass_name!r} in the pipeline; passes: {', '.join(pipeline_labels())}")

    def describe_inputs(self) -> str:
        """The inputs as Python source, one per line: ``x0 = np.array([...], dtype=float32)``."""
        lines = []
        for k, v in enumerate(self.inputs):
            if isinstance(v, np.ndarray):
                layout = "" if v.flags.c_contiguous else "  # a non-contiguous view"
                body = np.array2string(v, separator=", ", threshold=64, floatmode="unique")
                lines.append(f"x{k} = np.array({body}, dtype=np.{v.dtype}).reshape({v.shape}){layout}")
            else:
                lines.append(f"x{k} = {v!r}")
        return "\n".join(lines)


@functools.lru_cache(maxsize=256)
def _lower(text: str, start: int, stop: int) -> str:
    """``text`` after passes ``start:stop`` of the pipeline."""
    module = parse(text)
    for _, p in pipeline()[start:stop]:
        p.apply(make_context(), module)
        module.verify()
    return remember(str(module), module)


@functools.lru_cache(maxsize=512)
def _stage_of(text: str) -> str:
    return stage_of(parse(text))


def stage_of(module: ModuleOp) -> str:
    """The earliest stage whose ops or types ``module`` holds (see ``ember.cli.infer_stage``)."""
    from ember.cli import infer_stage

    for op in module.ops:  # infer_stage looks at op results only: `return %arg` has none
        if isinstance(op, func.FuncOp) and any(isinstance(t, TensorType) for t in
                                               (*op.function_type.inputs, *op.function_type.outputs)):
            return "tensor"
    return infer_stage(module)


_MODULES: OrderedDict[str, ModuleOp] = OrderedDict()
_MODULE_CACHE_SIZE = 512


def parse(text: str) -> ModuleOp:
    """Parse and verify MLIR text with every ember dialect loaded; a fresh module each call
    (recently seen texts are cloned rather than parsed again)."""
    module = _MODULES.get(text)
    if module is None:
        module = Parser(make_context(), text).parse_module()
        module.verify()
        remember(text, module)
    else:
        _MODULES.move_to_end(text)
    return module.clone()


def remember(text: str, module: ModuleOp) -> str:
    """Record that ``text`` prints ``module`` (a pass's output), so parsing it is free."""
    _MODULES[text] = module.clone()
    if len(_MODULES) > _MODULE_CACHE_SIZE:
        _MODULES.popitem(last=False)
    return text


def _entry(module: ModuleOp, name: str | None) -> func.FuncOp:
    for op in module.ops:
        if isinstance(op, func.FuncOp) and (name is None or op.sym_name.data == name):
            return op
    raise ValueError(f"no function {name!r} in the module" if name else "the module has no function")


# -- outcomes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What running a program gave: its results, or the error it raised; and which oracle."""

    oracle: str
    values: tuple | None = None
    error: str | None = None

    def describe(self, label: str = "") -> str:
        """The results as text, headed ``label (oracle):``."""
        head = f"{label} ({self.oracle})" if label else self.oracle
        if self.error is not None:
            return f"{head}: raised {self.error}"
        parts = [f"{head}:"]
        for k, v in enumerate(self.values):
            a = np.asarray(v)
            body = np.array2string(a, separator=", ", threshold=64, floatmode="unique")
            parts.append(f"  result {k} ({a.dtype}, shape {a.shape}): {body}")
        return "\n".join(parts)


def run_reference(program: Program) -> Outcome:
    """Interpret a tensor-stage program with the NumPy reference implementations."""
    from ember.dialects.reference import run

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            values = run(program.module(), program.name, *program.inputs)
    except (ValueError, ArithmeticError, IndexError) as e:
        return Outcome("reference", error=f"{type(e).__name__}: {e}")
    return Outcome("reference", values=tuple(np.asarray(v) for v in values))


def run_jit(program: Program, lowerings: list[ModulePass] | None = None) -> Outcome:
    """Lower the program with the lowerings still ahead of it (or ``lowerings``), compile it
    and call it. A failed run-time check gives an outcome with ``error`` set."""
    module = program.module()
    messages = _assert_messages(module, program.name)
    ctx = make_context()
    for p in _remaining_lowerings(program) if lowerings is None else lowerings:
        if p.name == "number-asserts":
            messages = _assert_messages(module, program.name)
        p.apply(ctx, module)
        module.verify()
    from ember.lowering.loop_to_llvm import check_llvm_stage

    check_llvm_stage(module)
    call = _compiled(module, program.name, program.kinds, program.results)
    # copies: compiled code writes into the arguments a program writes (as Python does)
    args = [_private(a, strided) if isinstance(a, np.ndarray) else a
            for a, strided in zip(program.inputs, program.strided)]
    try:
        values = call(*args)
    except RuntimeError as e:
        status = getattr(e, "status", 0)
        text = messages[status - 1] if 0 < status <= len(messages) else str(e)
        return Outcome("jit", error=f"ValueError: {text}")
    return Outcome("jit", values=tuple(values))


def _private(a: np.ndarray, strided: bool) -> np.ndarray:
    """A copy of ``a``: C-contiguous, or for a strided parameter a view with gaps."""
    if not strided or a.ndim == 0:
        return np.array(a, order="C")
    wide = np.empty((*a.shape[:-1], 2 * a.shape[-1]), a.dtype)[..., ::2]
    wide[...] = a
    return wide


def _remaining_lowerings(program: Program) -> list[ModulePass]:
    lowerings = lowering_names()
    if program.position is not None:
        rest = pipeline()[program.position:]
    else:  # hand-written IR: the stages after the one it is in
        names = [s.name for s in STAGES]
        start = names.index(program.stage)
        rest = [(s, p) for s, p in pipeline() if names.index(s) > start]
    return [p for _, p in rest if p.name in lowerings]


def _assert_messages(module: ModuleOp, name: str) -> list[str]:
    for op in module.ops:
        if isinstance(op, func.FuncOp) and op.sym_name.data == name:
            return [a.msg.data for a in op.walk() if isinstance(a, cf.AssertOp)]
    return []


#: What the toolkit did in this process (programs checked, compiles, ...): printed by the
#: long fuzzing profile.
STATS: Counter = Counter()
_ENGINES: OrderedDict = OrderedDict()
_ENGINE_CACHE_SIZE = 32


def _compiled(module: ModuleOp, name: str, kinds, results):
    """The entry callable for an llvm-stage module; recent ones are cached by their text."""
    from ember.lowering.abi import make_entry, returned_arguments
    from ember.lowering.jit import Engine
    from ember.lowering.llvm_ir import to_llvm_ir

    key = (str(module), name, kinds, results)
    call = _ENGINES.get(key)
    if call is None:
        STATS["compiles"] += 1
        call = make_entry(Engine(to_llvm_ir(module)), name, list(kinds), list(results),
                          returned_arguments(module, name))
        _ENGINES[key] = call
        if len(_ENGINES) > _ENGINE_CACHE_SIZE:
            _ENGINES.popitem(last=False)
    else:
        _ENGINES.move_to_end(key)
    return call
