"""``ember.prange``: a ``for`` loop whose iterations run in parallel, as Numba's ``prange``.

    @ember.script
    def row_sums(x):
        out = np.empty(x.shape[0])
        total = 0.0
        for i in ember.prange(x.shape[0]):
            s = 0.0                       # private: assigned before it is read
            for j in range(x.shape[1]):
                s += x[i, j]
            out[i] = s                    # shared array, indexed by the prange variable
            total += s                    # a reduction
        return out, total

Outside a script (plain Python, ``EMBER_DISABLE_JIT=1``) ``prange`` is ``range``. In a
script, :func:`plan` checks the body and sorts the names it touches:

* **reductions**: a variable that exists before the loop and that the body only updates
  as ``s += e``, ``s -= e`` (kind ``add``), ``s *= e`` (``mul``), ``s &= e``, ``s |= e``
  (``and``, ``or``) or ``s = max(s, e)`` / ``min`` (either argument order), ``e`` not
  reading ``s``, one kind per variable, and that the body reads nowhere else;
* **private** names: assigned in every iteration before they are read (a value from an
  earlier iteration is never seen). One that existed before the loop has no value after
  it: reading it there is an error;
* **shared arrays**: arrays the body writes element by element. Every access to one
  (writes and reads) must use the prange variable itself as the index at one common
  position (``out[i, j]``, ``out[j, i]`` cannot mix); apart from elements, the body may
  only use its ``shape``, ``ndim``, ``dtype``, ``size`` and ``len()``.

Anything else that carries a value from one iteration to the next (a variable read before
it is assigned, ``break``, ``return``, assigning the prange variable) is a
:class:`ember.ScriptError`. The frontend builds an ``scf.for`` marked
``{ember.prange = [...]}``, one entry per carried value (``"shared"`` or the reduction
kind); ``tensor-to-loop`` turns it into a ``loop.parallel`` whose reductions are named
(``bufferize_scf.lower_for_op``), and ``parallel-outline`` runs the outermost one on
threads. Float reductions are reassociated (partials per chunk), as in Numba.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field


class prange:  # noqa: N801 - named like range, which it stands for
    """``range`` whose iterations ember.script may run in parallel (see :mod:`ember.frontends.prange`).

    ``prange(stop)``, ``prange(start, stop[, step])``; in plain Python it returns ``range``.
    """

    def __new__(cls, *args):
        return range(*args)


def is_numba_prange(fn) -> bool:
    """``numba.prange``, accepted as ``prange`` so that Numba code compiles unchanged."""
    return getattr(fn, "__name__", None) == "prange" and \
        str(getattr(fn, "__module__", "")).startswith("numba")


@dataclass(frozen=True)
class Private:
    """The value, after a prange loop, of a name that was private to its iterations."""

    name: str
    lineno: int


@dataclass
class Plan:
    reductions: dict[str, str] = field(default_factory=dict)  # name -> kind
    shared: list[str] = field(default_factory=list)
    private: set[str] = field(default_factory=set)


REDUCTION_OPS = {ast.Add: "add", ast.Sub: "add", ast.Mult: "mul", ast.BitAnd: "and",
                 ast.BitOr: "or"}
SIZE_ATTRIBUTES = {"shape", "ndim", "dtype", "size"}
_HINT_RANGE = "use range for a loop whose iterations depend on each other"
#: NumPy's bool + and * are logical or / and: their partials combine the same way
BOOL_KINDS = {"add": "or", "mul": "and"}


def _reduction(stmt: ast.stmt, resolve) -> tuple[str, str, ast.expr] | None:
    """``(name, kind, contribution)`` when ``stmt`` has the form of a reduction update."""
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name) \
            and type(stmt.op) in REDUCTION_OPS:
        return stmt.target.id, REDUCTION_OPS[type(stmt.op)], stmt.value
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)):
        return None
    name, call = stmt.targets[0].id, stmt.value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and len(call.args) == 2
            and not call.keywords):
        return None
    fn = resolve(call.func.id)
    kind = "max" if fn is builtins.max else "min" if fn is builtins.min else None
    a, b = call.args
    if kind is None:
        return None
    if isinstance(a, ast.Name) and a.id == name:
        return name, kind, b
    if isinstance(b, ast.Name) and b.id == name:
        return name, kind, a
    return None


class _Flow:
    """One pass over a prange body in execution order, tracking the names definitely
    assigned so far in the iteration (``defined``)."""

    def __init__(self, fb, var: str):
        self.fb, self.var = fb, var
        self.depth = 0  # inner loops around the statement being read
        self.bound: dict[str, ast.AST] = {}  # name -> first binding (not a reduction)
        self.exposed: dict[str, ast.AST] = {}  # name -> first read before any binding
        self.reductions: dict[str, list[tuple[ast.stmt, str]]] = {}
        self.accesses: dict[str, list[tuple[ast.AST, list, bool]]] = {}  # shared elements
        self.bare: dict[str, ast.AST] = {}  # whole-array uses of a name not yet bound

    # -- expressions ---------------------------------------------------------------------

    def read(self, node: ast.Name, defined: set, bare: bool):
        if node.id in defined:
            return
        self.exposed.setdefault(node.id, node)
        if bare:
            self.bare.setdefault(node.id, node)

    def access(self, node: ast.Subscript, defined: set, write: bool):
        base = node.value
        self.read(base, defined, bare=False)
        if base.id not in defined:
            elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            self.accesses.setdefault(base.id, []).append((node, elts, write))
        self.expr(node.slice, defined)

    def expr(self, node: ast.AST, defined: set):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                self.read(node, defined, bare=True)
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            self.access(node, defined, write=False)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.attr in SIZE_ATTRIBUTES:
            self.read(node.value, defined, bare=False)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len" \
                and len(node.args) == 1 and isinstance(node.args[0], ast.Name):
            self.read(node.args[0], defined, bare=False)
        else:
            for child in ast.iter_child_nodes(node):
                self.expr(child, defined)

    # -- statements ----------------------------------------------------------------------

    def bind(self, target: ast.AST, defined: set) -> set:
        if isinstance(target, ast.Name):
            if target.id == self.var:
                self.fb.fail(target, f"the prange variable '{self.var}' cannot be assigned in the "
                                     "loop body", "prange", "use another name")
            self.bound.setdefault(target.id, target)
            return defined | {target.id}
        if isinstance(target, ast.Tuple | ast.List):
            for e in target.elts:
                defined = self.bind(e, defined)
            return defined
        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            self.access(target, defined, write=True)
        return defined

    def block(self, stmts: list[ast.stmt], defined: set) -> set | None:
        """The names defined after ``stmts``; None when they always ``continue``."""
        for s in stmts:
            defined = self.stmt(s, defined)
            if defined is None:
                return None
        return defined

    def stmt(self, s: ast.stmt, defined: set) -> set | None:
        red = _reduction(s, self.fb.resolve_global)
        if red is not None and red[0] not in defined and red[0] != self.var:
            name, kind, value = red
            self.reductions.setdefault(name, []).append((s, kind))
            self.expr(value, defined)
            return defined  # still not a private value: a later read is an error
        if isinstance(s, ast.Return):
            self.fb.fail(s, "return inside a prange loop is not supported", "prange",
                         "set an array element per iteration and return after the loop")
        if isinstance(s, ast.Break | ast.Continue) and self.depth == 0:
            if isinstance(s, ast.Break):
                self.fb.fail(s, "break inside a prange loop is not supported: its iterations run "
                                "in any order", "prange", _HINT_RANGE)
            return None
        if isinstance(s, ast.Assign):
            self.expr(s.value, defined)
            for t in s.targets:
                defined = self.bind(t, defined)
            return defined
        if isinstance(s, ast.AugAssign | ast.AnnAssign):
            if s.value is not None:
                self.expr(s.value, defined)
            if isinstance(s, ast.AugAssign):
                load = ast.copy_location(ast.Name(s.target.id, ast.Load()), s.target) \
                    if isinstance(s.target, ast.Name) else s.target
                self.expr(load, defined)
            return self.bind(s.target, defined) if s.value is not None else defined
        if isinstance(s, ast.If):
            self.expr(s.test, defined)
            a, b = self.block(s.body, set(defined)), self.block(s.orelse, set(defined))
            return b if a is None else a if b is None else a & b
        if isinstance(s, ast.For | ast.While):
            self.expr(s.iter if isinstance(s, ast.For) else s.test, defined)
            inner = self.bind(s.target, set(defined)) if isinstance(s, ast.For) else set(defined)
            self.depth += 1
            self.block(s.body, inner)
            self.depth -= 1
            return defined  # the loop may not run at all
        for child in ast.iter_child_nodes(s):
            self.expr(child, defined)
        return defined


def plan(fb, node: ast.For, before: set[str]) -> Plan:
    """Check a ``for ... in prange(...)`` body; ``before`` holds the names defined before
    the loop. ``fb`` is the function builder (``fail``, ``resolve_global``)."""
    var = node.target.id
    flow = _Flow(fb, var)
    flow.block(node.body, {var})
    result = Plan()
    for name, updates in flow.reductions.items():
        kinds = [k for _, k in updates]
        if name in flow.bound:
            fb.fail(flow.bound[name], f"variable '{name}' is a reduction of this prange loop "
                                      f"(line {_line(fb, updates[0][0])}) and cannot also be "
                                      "assigned in it", "prange reduction", _HINT_REDUCTION)
        for stmt, k in updates:
            if k != kinds[0]:
                fb.fail(stmt, f"reduction variable '{name}' is combined with both '{kinds[0]}' "
                              f"and '{k}' in this prange loop", "prange reduction",
                        "use one of += (or -=), *=, &=, |=, max, min per variable")
        if name in flow.exposed:
            fb.fail(flow.exposed[name], f"reduction variable '{name}' is read inside the prange "
                                        "loop: its value depends on the order of the iterations",
                    "prange reduction", _HINT_REDUCTION)
        if name in before:
            result.reductions[name] = kinds[0]
    for name, read in flow.exposed.items():
        if name in flow.bound and name not in flow.reductions:
            fb.fail(read, f"variable '{name}' is read before it is assigned in this iteration, so "
                          "it carries a value from one iteration of the prange loop to the next",
                    "prange dependence",
                    f"assign '{name}' first in every iteration, or {_HINT_RANGE}")
    for name in flow.accesses:
        if any(write for _, _, write in flow.accesses[name]):
            _check_shared(fb, var, name, flow)
            result.shared.append(name)
    result.private = {n for n in flow.bound if n not in flow.reductions}
    return result


_HINT_REDUCTION = "a reduction is only updated, as s += e, s *= e, s = max(s, e) ..., and read " \
                  "after the loop"


def _line(fb, node: ast.AST) -> int:
    return node.lineno + fb.src.first_line - 1


def _check_shared(fb, var: str, name: str, flow: _Flow):
    """Every element access of a shared array uses ``var`` itself at one common position."""
    if name in flow.bare:
        fb.fail(flow.bare[name], f"array '{name}' is written by the iterations of this prange "
                                 "loop, so the loop may only use its elements, shape and len()",
                "prange race", f"index it with the prange variable: {name}[{var}, ...]")
    accesses = flow.accesses[name]
    common: set[int] | None = None
    for node, elts, write in sorted(accesses, key=lambda a: not a[2]):  # writes first
        at = {k for k, e in enumerate(elts) if isinstance(e, ast.Name) and e.id == var}
        if write and not at:
            fb.fail(node, f"iterations of this prange loop may write the same element of "
                          f"'{name}': no index is the loop variable '{var}'", "prange race",
                    f"write {name}[{var}, ...] = v with the prange variable itself as an index, "
                    f"or {_HINT_RANGE}")
        joint = at if common is None else common & at
        if not joint:
            where = min(common) if common else 0
            what = "write" if write else "read"
            fb.fail(node, f"this {what} of '{name}' may touch elements that other iterations of "
                          f"the prange loop write: the writes use '{var}' as index {where}, this "
                          f"{what} does not", "prange race",
                    f"use {var} as index {where} in every access to '{name}', or {_HINT_RANGE}")
        common = joint
