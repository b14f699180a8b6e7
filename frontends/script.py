"""``ember.script``'s frontend: a Python function's AST to tensor-stage IR.

An ``ast.NodeVisitor`` walks the function body with an environment of names to values
(``TValue`` tensors, ``Dim`` sizes, Python constants, tuples, modules and callables
resolved from the function's globals and closure). Calls are resolved through the one
op table (:mod:`ember.frontends.optable`). Every op carries the source location of the
expression that produced it. Anything outside the supported subset raises
:class:`ember.ScriptError` pointing at the construct.
"""

from __future__ import annotations

import ast
import inspect
import os
import types
import textwrap
from dataclasses import dataclass

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    DictionaryAttr,
    FileLineColLoc,
    IntAttr,
    ModuleOp,
    StringAttr,
    UnitAttr,
)
from xdsl.ir import Block, Region
from xdsl.rewriter import InsertPoint

from ember.dialects import shapes as S
from ember.errors import ScriptError
from ember.frontends import optable, subset
from ember.frontends.builder import PY_ELEMENT, ArrayObject, BuildError, TensorBuilder, TValue
from ember.frontends.prange import Private
from ember.frontends.script_control import ControlFlowMixin, ReusedLoopVariable, always_returns
from ember.frontends.script_identity import VIEW_FUNCTIONS, VIEW_METHODS, view_of


@dataclass(frozen=True)
class ArraySpec:
    """How one array argument is specialised: dtype, rank, size-1 dims, layout."""

    dtype: np.dtype
    shape: tuple[int, ...]  # 1 where the argument's size is 1, DYN elsewhere
    contiguous: bool

    def describe(self) -> str:
        dims = ",".join("1" if d == 1 else "?" for d in self.shape)
        return f"{self.dtype}[{dims}]{'' if self.contiguous else ' strided'}"


@dataclass(frozen=True)
class ScalarSpec:
    pytype: type  # bool, int or float

    def describe(self) -> str:
        return self.pytype.__name__


ArgSpec = ArraySpec | ScalarSpec


class _Source:
    def __init__(self, fn):
        self.filename = inspect.getsourcefile(fn) or "<unknown>"
        lines, self.first_line = inspect.getsourcelines(fn)
        self.text = textwrap.dedent("".join(lines))
        self.lines = self.text.splitlines()
        self.indent = len(lines[0]) - len(lines[0].lstrip())

    def error(self, node: ast.AST, message: str, construct: str = "", hint: str = "") -> ScriptError:
        lineno = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        line = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        return ScriptError(message, filename=self.filename, lineno=lineno + self.first_line - 1,
                           col_offset=col + self.indent, construct=construct,
                           source_line=" " * self.indent + line, hint=hint)

    def location(self, node: ast.AST) -> FileLineColLoc:
        return FileLineColLoc(StringAttr(self.filename), IntAttr(node.lineno + self.first_line - 1),
                              IntAttr(node.col_offset + self.indent + 1))


BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.FloorDiv: "floordiv",
          ast.Mod: "mod", ast.Pow: "pow", ast.BitAnd: "and", ast.BitOr: "or", ast.BitXor: "xor"}
CMPOPS = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}
UNOPS = {ast.USub: "neg", ast.Invert: "not"}


def build_function(py_func, specs: list[ArgSpec], name: str | None = None):
    """Build a module holding ``py_func`` specialised for ``specs``.

    Returns the module, per result whether it is a weak Python scalar, and whether
    the function returns a tuple.
    """
    try:
        fb = _FunctionBuilder(py_func, specs, name)
    except (OSError, TypeError):
        raise ScriptError(f"cannot read the source of '{py_func.__qualname__}': ember.script "
                          "compiles functions defined in a file or notebook cell, not ones "
                          "made by exec() or typed into the plain Python prompt",
                          filename=getattr(py_func.__code__, "co_filename", "<unknown>"),
                          lineno=py_func.__code__.co_firstlineno, construct="source") from None
    try:
        return fb.build()
    except (ScriptError, TypeError):
        raise
    except Exception as e:  # a bug in ember, not in the user's code: say where it happened
        from ember.errors import CompilerError

        where = fb.tb.location if getattr(fb, "tb", None) is not None else None
        raise CompilerError(f"internal error while compiling '{fb.name}' near {where}: "
                            f"{type(e).__name__}: {e}") from e


class _FunctionBuilder(ControlFlowMixin):
    def __init__(self, py_func, specs: list[ArgSpec] | None, name: str | None, stack=()):
        self.py_func = py_func
        self.specs = specs
        self.name = name or py_func.__name__
        self.src = _Source(py_func)
        self.globals = dict(py_func.__globals__)
        if py_func.__closure__:
            for var, cell in zip(py_func.__code__.co_freevars, py_func.__closure__):
                try:
                    self.globals[var] = cell.cell_contents
                except ValueError:  # a cell not filled yet (e.g. a later local function)
                    pass
        self.env: dict[str, object] = {}
        self.stack = (*stack, py_func)
        #: array object -> its value after the last write (shared with inlined callees)
        self.latest: dict = {}

    def inline_call(self, node: ast.Call, fn, args: list, kwargs: dict):
        """Build a call to another Python function by scripting its body in place."""
        name = getattr(fn, "__qualname__", fn.__name__)
        if fn in self.stack:
            self.fail(node, f"recursive call to '{name}' is not supported", "recursion",
                      "rewrite the recursion as a loop")
        try:
            callee = _FunctionBuilder(fn, None, None, self.stack)
        except (OSError, TypeError):
            self.fail(node, f"cannot read the source of '{name}' to compile it", "call")
        callee.tb = self.tb
        callee.latest = self.latest
        fdef = callee._function_def()
        params = [a.arg for a in fdef.args.args]
        defaults = dict(zip(reversed(params), reversed(fn.__defaults__ or ())))
        if len(args) > len(params):
            self.fail(node, f"{name}() takes {len(params)} arguments but {len(args)} were given", "call")
        bound = dict(zip(params, args))
        for key, value in kwargs.items():
            if key not in params or key in bound:
                self.fail(node, f"{name}() got an unexpected or repeated argument '{key}'", "call")
            bound[key] = value
        for p in params:
            if p not in bound:
                if p not in defaults:
                    self.fail(node, f"{name}() missing argument '{p}'", "call")
                bound[p] = defaults[p]
        callee.env = bound
        versions = {v.obj: v.obj.version for v in bound.values()
                    if isinstance(v, TValue) and v.obj is not None}
        saved = self.tb.location
        try:
            result = callee._body(fdef.body)
        finally:
            self.tb.location = saved
        # the callee's element writes into arrays it was given are the caller's too
        for obj, version in versions.items():
            if obj.version != version:
                final = self.latest[obj]
                for n in self._holders(obj):
                    if self.env[n].ssa is not final.ssa:
                        self.env[n] = TValue(final.ssa, self.env[n].weak, obj, self.env[n].views)
        return result

    def fail(self, node, message, construct="", hint=""):
        raise self.src.error(node, message, construct, hint)

    def _check_supported(self, node: ast.AST):
        c = subset.lookup(node)
        if c is None:
            name = type(node).__name__
            self.fail(node, f"'{name}' is not supported in ember.script", name)
        if not c.supported:
            self.fail(node, f"{c.name} is not supported in ember.script", c.name, c.notes)

    def build(self):
        fdef = self._function_def()
        self._check_signature(fdef)
        arg_types = []
        for spec in self.specs:
            if isinstance(spec, ArraySpec):
                arg_types.append(S.tensor_type(spec.shape, S.NUMPY_TO_ELEMENT[spec.dtype]))
            else:
                arg_types.append(PY_ELEMENT[spec.pytype])
        block = Block(arg_types=arg_types)
        self.tb = TensorBuilder(Builder(InsertPoint.at_end(block)),
                                boundscheck=os.environ.get("EMBER_BOUNDSCHECK", "1") != "0")
        for arg, spec, ssa in zip(fdef.args.args, self.specs, block.args):
            ssa.name_hint = arg.arg
            if isinstance(spec, ArraySpec):
                self.env[arg.arg] = TValue(ssa, obj=ArrayObject(arg.arg, argument=True))
            else:
                self.env[arg.arg] = ("scalar", ssa, spec.pytype)
        results = self._body(fdef.body)
        flat = results if isinstance(results, tuple) else (results,)
        weak = [v.weak is not None for v in flat]
        self.tb.emit(func.ReturnOp(*(v.ssa for v in flat)))
        ftype = func.FunctionType.from_lists(arg_types, [v.ssa.type for v in flat])
        fop = func.FuncOp(self.name, ftype, Region(block))
        fop.attributes["ember.entry"] = UnitAttr()
        fop.arg_attrs = _arg_attrs(self.specs)
        fop.location = self.src.location(fdef)
        return ModuleOp([fop]), weak, isinstance(results, tuple)

    def _function_def(self) -> ast.FunctionDef:
        try:
            tree = ast.parse(self.src.text)
        except SyntaxError:
            tree = ast.parse("(" + self.src.text.strip().rstrip(",") + ")")
        if isinstance(tree.body[0], ast.FunctionDef):
            return tree.body[0]
        names = list(self.py_func.__code__.co_varnames[:self.py_func.__code__.co_argcount])
        # a lambda: the one with the same parameters whose body holds the code's first
        # instruction (several lambdas may share a line)
        lambdas = [node for node in ast.walk(tree)
                   if isinstance(node, ast.Lambda) and [a.arg for a in node.args.args] == names]
        node = self._lambda_of_code(lambdas) if len(lambdas) > 1 else next(iter(lambdas), None)
        if node is not None:
            ret = ast.Return(node.body, lineno=node.body.lineno, col_offset=node.body.col_offset)
            return ast.FunctionDef(self.name, node.args, [ret], [], lineno=node.lineno,
                                   col_offset=node.col_offset)
        self.fail(tree.body[0], "ember.script needs a function defined with 'def' or a lambda",
                  "function")

    def _lambda_of_code(self, lambdas: list[ast.Lambda]) -> ast.Lambda:
        """Which of ``lambdas`` compiled to ``py_func``, from the code's source positions."""
        code = self.py_func.__code__
        first = next(((line, col) for line, _, col, end in code.co_positions()
                      if line is not None and col is not None and end is not None and end > col),
                     None)
        src = self.src
        for node in lambdas:
            body = node.body
            start = (body.lineno + src.first_line - 1, body.col_offset + src.indent)
            stop = (body.end_lineno + src.first_line - 1, body.end_col_offset + src.indent)
            if first is not None and start <= first < stop:
                return node
        self.fail(lambdas[0], "cannot tell which lambda on this line is being compiled",
                  "lambda", "define the function with 'def', or one lambda per line")

    def _check_signature(self, fdef: ast.FunctionDef):
        a = fdef.args
        if a.vararg or a.kwarg:
            node = a.vararg or a.kwarg
            self.fail(node, "*args and **kwargs are not supported", "variadic arguments",
                      "list the parameters explicitly")
        if a.kwonlyargs or a.posonlyargs:
            self.fail(fdef, "keyword-only and positional-only parameters are not supported", "parameters")
        if len(a.args) != len(self.specs):
            raise TypeError(f"{self.name}() takes {len(a.args)} arguments but {len(self.specs)} were given")

    # -- statements ------------------------------------------------------------------

    def _body(self, stmts: list[ast.stmt]):
        for k, stmt in enumerate(stmts):
            if isinstance(stmt, ast.Return):
                if stmt.value is None:
                    self.fail(stmt, "a scripted function must return a value", "return")
                return self._result(stmt.value)
            if isinstance(stmt, ast.If) and (_has_return(stmt.body) or _has_return(stmt.orelse)):
                rest = stmts[k + 1:]
                then = stmt.body if always_returns(stmt.body) else stmt.body + rest
                other = stmt.orelse if always_returns(stmt.orelse) else stmt.orelse + rest
                if not (always_returns(then) and always_returns(other)):
                    self.fail(stmt, "a branch that returns must be followed by a return on "
                                    "every other path", "early return")
                return self.returning_if(stmt, then, other)
            self._stmt(stmt)
        self.fail(stmts[-1] if stmts else None, "a scripted function must end with a return", "return")

    def _result(self, node: ast.expr):
        value = self.expr(node)
        for v in {id(v.obj): v for v in self.env.values() if isinstance(v, TValue) and v.obj}.values():
            self.keep_written(v)
        if isinstance(value, tuple):
            return tuple(self._as_tensor(v, node) for v in value)
        return self._as_tensor(value, node)

    def _stmt(self, stmt: ast.stmt):
        self._check_supported(stmt)
        saved, self.tb.location = self.tb.location, self.src.location(stmt)
        try:
            self._stmt_at(stmt)
        finally:
            self.tb.location = saved

    def _stmt_at(self, stmt: ast.stmt):
        handler = getattr(self, "stmt_" + type(stmt).__name__, None)
        if handler is not None:
            return handler(stmt)
        if isinstance(stmt, ast.Return):
            self.fail(stmt, "return inside a loop is not supported", "return",
                      "set a variable and break out of the loop, then return after it")
        if isinstance(stmt, ast.Assign):
            value = self.expr(stmt.value)
            for target in stmt.targets:
                self._assign(target, value)
        elif isinstance(stmt, ast.AugAssign):
            if isinstance(stmt.target, ast.Subscript):
                current = self.expr(stmt.target)
                self.assign_subscript(stmt.target, self._binop(stmt, stmt.op, current, self.expr(stmt.value)))
                return
            if not isinstance(stmt.target, ast.Name):
                self.fail(stmt.target, "augmented assignment only to a name", "augmented assignment")
            current = self._name(stmt.target)
            self.env[stmt.target.id] = self._binop(stmt, stmt.op, current, self.expr(stmt.value))
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self._assign(stmt.target, self.expr(stmt.value))
        elif isinstance(stmt, ast.Expr):
            if not isinstance(stmt.value, ast.Constant):  # docstrings are skipped
                self.expr(stmt.value)
        elif isinstance(stmt, ast.Pass):
            pass
        else:
            name = type(stmt).__name__.lower()
            self.fail(stmt, f"statement '{name}' is not supported in ember.script", name)

    def _assign(self, target: ast.expr, value):
        if isinstance(target, ast.Name):
            if isinstance(value, TValue) and value.rank and value.obj is None and not value.views:
                value = TValue(value.ssa, value.weak, ArrayObject(target.id))  # a new array
            old = self.env.get(target.id)
            self.env[target.id] = value
            if isinstance(old, TValue) and old.obj is not None and not self._holders(old.obj):
                self.keep_written(old)
        elif isinstance(target, ast.Subscript):
            self.assign_subscript(target, value)
        elif isinstance(target, ast.Tuple | ast.List):
            if not isinstance(value, tuple) or len(value) != len(target.elts):
                self.fail(target, "cannot unpack: the value is not a tuple of the same length",
                          "tuple unpacking")
            for t, v in zip(target.elts, value):
                self._assign(t, v)
        else:
            self.fail(target, "only assignment to names, tuples of names and elements is supported",
                      "assignment target")

    # -- expressions -----------------------------------------------------------------

    def expr(self, node: ast.expr):
        self._check_supported(node)
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            name = type(node).__name__
            self.fail(node, f"expression '{name}' is not supported in ember.script", name)
        saved, self.tb.location = self.tb.location, self.src.location(node)
        try:
            return method(node)
        except BuildError as e:
            self.fail(node, str(e), "operation")
        finally:
            self.tb.location = saved

    def expr_Constant(self, node: ast.Constant):
        if isinstance(node.value, bool | int | float):
            return node.value
        if node.value is None:
            return None
        kind = "string" if isinstance(node.value, str) else type(node.value).__name__
        self.fail(node, f"{kind} constants are not supported in ember.script", kind)

    def _name(self, node: ast.Name):
        if node.id in self.env:
            value = self.env[node.id]
            if isinstance(value, Private):
                self.fail(node, f"variable '{node.id}' was assigned inside the prange loop at line "
                                f"{value.lineno}, so it has no value after the loop",
                          "prange", "assign it after the loop, or make it a reduction (s += ...)")
            if isinstance(value, ReusedLoopVariable):
                self.fail(node, f"loop variable '{node.id}' is assigned again inside its loop at "
                                f"line {value.lineno}: ember does not follow its value after the "
                                "loop", "for loop", "give the inner loop or the assignment "
                                "another name")
            if isinstance(value, tuple) and len(value) == 3 and value[0] == "scalar":
                value = self.tb.from_scalar(value[1], weak=value[2])
                self.env[node.id] = value
            if isinstance(value, TValue):
                for obj, version in value.views:
                    if obj.version != version:
                        self.fail(node, f"'{node.id}' may share memory with '{obj.name}', which "
                                        "was written after it was taken (ember makes slices, .T "
                                        "and reshapes as copies, so it cannot see that write)",
                                  "view", f"take it again after the write, or copy it first: "
                                          f"{node.id} = ....copy()")
            return value
        if node.id in self.globals:
            return self.globals[node.id]
        import builtins
        if hasattr(builtins, node.id):
            return getattr(builtins, node.id)
        self.fail(node, f"name '{node.id}' is not defined", "name")

    expr_Name = _name

    def resolve_global(self, name: str):
        """What ``name`` means before the loop being checked (a local, a global or a builtin)."""
        import builtins
        if name in self.env:
            return self.env[name]
        return self.globals.get(name, getattr(builtins, name, None))

    def expr_Tuple(self, node: ast.Tuple):
        return tuple(self.expr(e) for e in node.elts)

    expr_List = expr_Tuple

    def expr_Attribute(self, node: ast.Attribute):
        base = self.expr(node.value)
        if isinstance(base, TValue):
            return self._tensor_attribute(node, base)
        try:
            return getattr(base, node.attr)
        except AttributeError:
            self.fail(node, f"'{getattr(base, '__name__', type(base).__name__)}' has no attribute "
                            f"'{node.attr}'", "attribute")

    def _tensor_attribute(self, node: ast.Attribute, x: TValue):
        if node.attr == "T":
            return view_of(x, self.tb.transpose(x))
        if node.attr == "shape":
            return tuple(self.tb.dim(x, k) for k in range(x.rank))
        if node.attr == "ndim":
            return x.rank
        if node.attr == "dtype":
            return S.to_numpy_dtype(x.element)
        if node.attr in optable.METHODS:
            return ("method", node.attr, x)
        self.fail(node, f"tensors have no supported attribute '{node.attr}'", "attribute")

    def expr_Subscript(self, node: ast.Subscript):
        base = self.expr(node.value)
        if isinstance(base, tuple):
            index = self.expr(node.slice)
            if not isinstance(index, int):
                self.fail(node.slice, "tuples can only be indexed with integer constants", "subscript")
            try:
                return base[index]
            except IndexError:
                self.fail(node.slice, f"tuple index {index} out of range", "subscript")
        if isinstance(base, TValue):
            try:
                return view_of(base, self.tensor_subscript(node, base))
            except BuildError as e:
                self.fail(node, str(e), "subscript")
        self.fail(node, f"cannot index a {type(base).__name__}", "subscript")

    def expr_BinOp(self, node: ast.BinOp):
        return self._binop(node, node.op, self.expr(node.left), self.expr(node.right))

    def _binop(self, node, op: ast.operator, a, b):
        if isinstance(op, ast.MatMult):
            return self._call_handler(node, optable.FUNCTIONS[np.matmul], [a, b], {})
        kind = BINOPS.get(type(op))
        if kind is None:
            self.fail(node, f"operator {type(op).__name__} is not supported", "operator")
        if isinstance(a, tuple) or isinstance(b, tuple):
            self.fail(node, f"unsupported operand types for {kind}: tuple", "tuple arithmetic",
                      "tuples can only be built, unpacked and returned")
        if _is_number(a) and _is_number(b):
            return _python_binop(kind, a, b)
        return self._call_handler(node, optable.FUNCTIONS[_PY_BY_KIND[kind]], [a, b], {})

    def expr_UnaryOp(self, node: ast.UnaryOp):
        v = self.expr(node.operand)
        if isinstance(node.op, ast.UAdd):
            return v
        if isinstance(node.op, ast.Not):
            if isinstance(v, TValue) and v.rank:
                self.fail(node, "'not' on tensors is ambiguous", "not", "use ~x or np.logical_not(x)")
            return self.tb.unary("not", self.tb.truth(optable._tensor(self.tb, v)))
        if _is_number(v):
            return -v if isinstance(node.op, ast.USub) else ~v
        return self.tb.unary(UNOPS[type(node.op)], optable._tensor(self.tb, v))

    def expr_Compare(self, node: ast.Compare):
        left = self.expr(node.left)
        result = None
        for op, right_node in zip(node.ops, node.comparators):
            kind = CMPOPS.get(type(op))
            if kind is None:
                self.fail(node, f"comparison {type(op).__name__} is not supported", "comparison")
            right = self.expr(right_node)
            if _is_number(left) and _is_number(right):
                value = self.tb.literal(_python_binop(kind, left, right))
            else:
                value = self.tb.binary(kind, optable._tensor(self.tb, left), optable._tensor(self.tb, right))
            result = value if result is None else self.tb.binary("and", result, value)
            left = right
        return result

    def expr_BoolOp(self, node: ast.BoolOp):
        values = [self.expr(v) for v in node.values]
        if any(isinstance(v, TValue) and v.rank for v in values):
            self.fail(node, "'and'/'or' on tensors are ambiguous", "boolean operator",
                      "use & and | (or np.logical_and / np.logical_or)")
        kind = "and" if isinstance(node.op, ast.And) else "or"
        result = self.tb.truth(optable._tensor(self.tb, values[0]))
        for v in values[1:]:
            result = self.tb.binary(kind, result, self.tb.truth(optable._tensor(self.tb, v)))
        return result

    def expr_Call(self, node: ast.Call):
        fn = self.expr(node.func)
        args = [self.expr(a) for a in node.args]
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                self.fail(kw, "**kwargs in calls are not supported", "keyword unpacking")
            kwargs[kw.arg] = self.expr(kw.value)
        if isinstance(fn, tuple) and len(fn) == 3 and fn[0] == "method":
            result = self._call_handler(node, optable.METHODS[fn[1]], [fn[2], *args], kwargs)
            return view_of(fn[2], result) if fn[1] in VIEW_METHODS else result
        handler = optable.lookup(fn)
        if handler is not None and fn in VIEW_FUNCTIONS and args:
            return view_of(args[0], self._call_handler(node, handler, args, kwargs))
        target = getattr(fn, "py_func", fn)
        if handler is None and isinstance(target, types.FunctionType):
            return self.inline_call(node, target, args, kwargs)
        if handler is None:
            name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
            module = getattr(fn, "__module__", None)
            full = f"{module}.{name}" if module and module not in ("builtins",) else name
            self.fail(node, f"call to unsupported function '{full}'", "call",
                      "ember.script compiles NumPy operations from its op table; see docs/python-subset.md")
        return self._call_handler(node, handler, args, kwargs)

    def _call_handler(self, node, handler, args, kwargs):
        try:
            return handler(self.tb, *args, **kwargs)
        except BuildError as e:
            self.fail(node, str(e), "call")
        except TypeError as e:
            self.fail(node, f"bad arguments: {e}", "call")

    def _as_tensor(self, v, node) -> TValue:
        if isinstance(v, TValue):
            return v
        try:
            return optable._tensor(self.tb, v)
        except BuildError:
            self.fail(node, f"cannot return a value of type {type(v).__name__}", "return")


_PY_BY_KIND = {v: k for k, v in optable.PY_BINARY.items()}


def _has_return(stmts: list[ast.stmt]) -> bool:
    return any(isinstance(n, ast.Return) for s in stmts for n in ast.walk(s))


def _is_number(v) -> bool:
    return isinstance(v, bool | int | float) and not isinstance(v, np.generic)


def _python_binop(kind: str, a, b):
    import operator
    return _PY_BY_KIND[kind](a, b) if kind in _PY_BY_KIND else getattr(operator, kind)(a, b)


def _arg_attrs(specs: list[ArgSpec]):
    from xdsl.dialects.builtin import ArrayAttr
    attrs = []
    for spec in specs:
        d = {}
        if isinstance(spec, ArraySpec) and not spec.contiguous:
            d["ember.strided"] = UnitAttr()
        attrs.append(DictionaryAttr(d))
    return ArrayAttr(attrs)
