"""The supported Python subset of ``ember.script``: one table for the checks and the docs.

The script frontend looks up every statement and expression node here: a construct
marked unsupported raises ``ember.ScriptError`` with the table's message and hint, and
``docs/python-subset.md`` is generated from the same table (``python -m
ember.frontends.subset > docs/python-subset.md``; a test checks it is up to date).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Construct:
    node: type
    name: str
    supported: bool
    notes: str = ""  # what is supported, or the hint for an unsupported construct


STATEMENTS = [
    Construct(ast.Assign, "assignment", True, "to names, tuples of names and elements `x[i, j] = v` "
                                              "(into an argument: the caller sees it, as in Python)"),
    Construct(ast.AugAssign, "augmented assignment", True, "`x += v`, `x[i] += v`"),
    Construct(ast.AnnAssign, "annotated assignment", True, "`y: float = ...`"),
    Construct(ast.Return, "return", True,
              "anywhere outside loops; early returns in `if` branches; tuples of values"),
    Construct(ast.If, "if / elif / else", True, "on scalar conditions; variables unify across branches"),
    Construct(ast.For, "for loop", True, "`for i in range(start, stop, step)`, any step sign; "
                                         "`for i in prange(...)` runs in parallel (see below)"),
    Construct(ast.While, "while loop", True, "scalar conditions"),
    Construct(ast.Pass, "pass", True),
    Construct(ast.Expr, "expression statement", True, "docstrings"),
    Construct(ast.Break, "break", True, "in `while` loops and `for` loops with a constant step "
                                        "(not `prange`)"),
    Construct(ast.Continue, "continue", True, ""),
    Construct(ast.Try, "try/except", False, "move error handling out of the scripted function"),
    Construct(ast.With, "with statement", False, "move context managers out of the scripted function"),
    Construct(ast.Global, "global statement", False, "pass the value as an argument and return the new one"),
    Construct(ast.Nonlocal, "nonlocal statement", False,
              "closures may read enclosing variables but not change them; return the new value"),
    Construct(ast.ClassDef, "class definition", False, "define classes outside the scripted function"),
    Construct(ast.FunctionDef, "nested function definition", False, "define it at module level and call it"),
    Construct(ast.Delete, "del statement", False, ""),
    Construct(ast.Raise, "raise statement", False, "check arguments before calling the function"),
    Construct(ast.Assert, "assert statement", False, "check arguments before calling the function"),
    Construct(ast.Import, "import statement", False, "import at module level"),
    Construct(ast.ImportFrom, "import statement", False, "import at module level"),
]

EXPRESSIONS = [
    Construct(ast.Constant, "number constant", True, "`int`, `float`, `bool` (strings are not supported)"),
    Construct(ast.Name, "name", True, "parameters, locals, globals and closure variables (read-only)"),
    Construct(ast.BinOp, "arithmetic", True, "`+ - * / // % ** @ & | ^` with NumPy 2 promotion"),
    Construct(ast.UnaryOp, "unary operator", True, "`-x`, `~x`, `not x` (scalars)"),
    Construct(ast.Compare, "comparison", True, "including chains `a < b < c`"),
    Construct(ast.BoolOp, "and / or", True, "on scalars (use `&`, `|` for tensors)"),
    Construct(ast.IfExp, "conditional expression", True, "`a if c else b` on a scalar `c`"),
    Construct(ast.Call, "call", True,
              "NumPy functions from the op table, tensor methods, `len abs min max float int bool`, "
              "the `math` functions listed below, and other Python functions (scripted on demand and inlined)"),
    Construct(ast.Attribute, "attribute", True, "`x.shape`, `x.T`, `x.ndim`, `x.dtype`, methods, modules"),
    Construct(ast.Subscript, "subscript", True, "element reads `x[i, j]` (negative indices too), "
                                               "basic slices `x[i]`, `x[a:b]`, `x[:, j]`, `x[::-1]` "
                                               "(constant steps; computed as copies: writing through "
                                               "one is refused), `x.shape[k]`, tuple indexing"),
    Construct(ast.Tuple, "tuple", True, "building, unpacking and returning"),
    Construct(ast.List, "list", True, "only as a shape: `np.zeros([n, m])`"),
    Construct(ast.Lambda, "lambda", False, "define a function at module level"),
    Construct(ast.ListComp, "list comprehension", False, "use a for loop writing into an array"),
    Construct(ast.GeneratorExp, "generator expression", False, "use a for loop"),
    Construct(ast.DictComp, "dict comprehension", False, ""),
    Construct(ast.SetComp, "set comprehension", False, ""),
    Construct(ast.Dict, "dict", False, "pass separate arguments"),
    Construct(ast.Set, "set", False, ""),
    Construct(ast.Yield, "yield", False, "return an array of results"),
    Construct(ast.YieldFrom, "yield", False, "return an array of results"),
    Construct(ast.Await, "await", False, ""),
    Construct(ast.JoinedStr, "f-string", False, "strings are not supported"),
    Construct(ast.NamedExpr, "assignment expression", False, "assign on a separate line"),
    Construct(ast.Starred, "starred expression", False, "pass arguments explicitly"),
]

TABLE: dict[type, Construct] = {c.node: c for c in STATEMENTS + EXPRESSIONS}


def lookup(node: ast.AST) -> Construct | None:
    return TABLE.get(type(node))


def render_markdown() -> str:
    lines = [
        "# The Python subset of `ember.script`",
        "",
        "Generated from `frontends/subset.py` (`python -m ember.frontends.subset`); the same",
        "table drives the frontend's checks, so this page and the errors never disagree.",
        "Anything not listed is rejected with an `ember.ScriptError` that names the construct",
        "and points at it.",
        "",
    ]
    for title, rows in (("Statements", STATEMENTS), ("Expressions", EXPRESSIONS)):
        lines += [f"## {title}", "", "| construct | supported | notes / what to do instead |",
                  "|---|---|---|"]
        seen = set()
        for c in rows:
            if c.name in seen:
                continue
            seen.add(c.name)
            lines.append(f"| {c.name} | {'yes' if c.supported else 'no'} | {c.notes} |")
        lines.append("")
    lines += numpy_functions()
    lines += [
        "## Types",
        "",
        "- Arrays: `float32`, `float64`, `int32`, `int64`, `bool`, any rank, any strides.",
        "- Scalars: `int`, `float`, `bool` parameters and locals; NumPy 2 / NEP 50 promotion",
        "  (`float32` array times a Python float stays `float32`).",
        "- A variable keeps one kind on every path: `int` joined with `float` is `float`; a",
        "  tensor on one path and a scalar on another is an error.",
        "- Integer `//` and `%` follow Python (floor, sign of the divisor); division by zero",
        "  gives 0 as in NumPy.",
        "",
    ]
    lines += PRANGE_RULES
    return "\n".join(lines)


def numpy_functions() -> list[str]:
    """The NumPy functions and tensor methods of the op table, listed from it."""
    import numpy as np

    from ember.frontends import optable

    import math

    names = sorted({f.__name__ for f in optable.FUNCTIONS
                    if isinstance(f, np.ufunc) or getattr(f, "__module__", None) == "numpy"})
    math_names = sorted(f.__name__ for f in optable.FUNCTIONS if getattr(math, getattr(
        f, "__name__", ""), None) is f)
    return [
        "## NumPy functions",
        "",
        "Both frontends compile the NumPy functions and tensor methods of one op table",
        "(`ember.frontends.optable`, which this list is read from), with NumPy 2's dtype rules;",
        "any other is an error naming it and the line.",
        "",
        "- functions: " + ", ".join(f"`np.{n}`" for n in names),
        "- methods: " + ", ".join(f"`.{n}`" for n in sorted(optable.METHODS)),
        "- `math` functions (on scalars, and element by element in loops): "
        + ", ".join(f"`math.{n}`" for n in math_names),
        "- `np.floor`/`ceil`/`trunc` keep integer and bool arrays as they are (NumPy 2);",
        "  `np.reciprocal` of integers is refused (NumPy's truncates: `1 / x` is the float).",
        "  `np.round(x, decimals)` / `.round` compute `rint(x * 10**d) / 10**d` as NumPy does",
        "  (integers with `decimals < 0` are refused).",
        "  The transcendental functions are ember's own vectorised kernels",
        "  ([vector-math.md](vector-math.md)), not libm calls.",
        "- reductions take `axis=` and `keepdims=` (`var`/`std`: `ddof=0` only; `argmax`/`argmin`:",
        "  one axis, or none for the index in the flattened array; the first extreme, a NaN",
        "  first of all); `cumsum`/`cumprod` take `axis=` (none: along the array flattened) and",
        "  `dtype=`, and compute each running value from the one before, in order: NumPy's",
        "  results to the bit.",
        "",
    ]


PRANGE_RULES = [
    "## Parallel loops: `prange`",
    "",
    "`for i in prange(stop)` / `prange(start, stop[, step])` (`from ember import prange` or",
    "`ember.prange`) runs the iterations in parallel, like Numba's `prange`; in plain Python",
    "and under `EMBER_DISABLE_JIT=1` it is `range`. The loop becomes a `loop.parallel`; the",
    "outermost one runs on threads (`ember.set_num_threads`) when its estimated work is large",
    "enough; a `prange` inside another runs serially. The frontend accepts the body only when",
    "no iteration can see another's work. Every name the body touches is one of:",
    "",
    "- **read-only**: not assigned in the body (arguments, constants, arrays only read);",
    "- **private**: assigned in each iteration before it is read (on every path). A private",
    "  name that existed before the loop has no value after it (reading it there is an error);",
    "  arrays allocated in the body are private;",
    "- **reduction**: a scalar that exists before the loop and that the body only updates as",
    "  `s += e`, `s -= e`, `s *= e`, `s &= e`, `s |= e`, `s = max(s, e)` or `s = min(s, e)`",
    "  (either argument order; one kind per variable; `e` must not read `s`), and reads nowhere",
    "  else. Each chunk of iterations keeps a partial, combined in chunk order after the loop:",
    "  integer results are exact; float sums and products are **reassociated** (as in Numba),",
    "  so they match the serial loop within rounding, and are deterministic for a thread count;",
    "- **shared array**: an array (not assigned as a whole in the body) written element by",
    "  element. Every access to it, write or read, must use the prange variable itself as the",
    "  index at one common position (`out[i, j] = v` and `out[i, k]` with `i` the prange",
    "  variable); no index expression like `out[i + 1]`, `out[j]` or `out[0]`. Apart from its",
    "  elements the body may only use its `shape`, `ndim`, `dtype`, `size` and `len()`.",
    "  A negative index counts from the end, so a `prange` whose values take both signs",
    "  (`prange(-2, 2)`) could reach one element twice: it raises `ValueError` when called.",
    "",
    "Anything else is an `ember.ScriptError` pointing at the line: a variable read before it",
    "is assigned (a value carried from the previous iteration), a reduction variable read in",
    "the body, a write that two iterations could make to the same element, `break`, `return`,",
    "assigning the prange variable. `continue` is allowed. Use `range` for such loops.",
    "",
]


if __name__ == "__main__":
    print(render_markdown(), end="")
