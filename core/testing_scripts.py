"""Random scalar control-flow programs for the script frontend (part of ``ember.testing``).

    from hypothesis import given
    import ember.testing as et

    @given(et.script_programs())
    def test_script_matches_python(program):
        et.check_script_program(program)

A program is the source of a Python function ``f(a: float, b: float, n: int)`` built from
assignments, ``if``/``elif``/``else``, ``for`` loops over small ranges (negative steps too),
bounded ``while`` loops, ``break``/``continue`` and early returns, over ``int`` and ``float``
locals. Divisors are constants, so the Python function never raises; loop bounds are small,
so integers stay far from the int64 limits. It shrinks to few, short statements.
"""

from __future__ import annotations

import linecache
import math
from dataclasses import dataclass

from hypothesis import strategies as st

VARS = ("v0", "v1", "v2", "v3")
PARAMS = ("a", "b", "n")


@dataclass(frozen=True)
class ScriptProgram:
    source: str
    args: tuple

    def __str__(self) -> str:
        return f"{self.source}\n# called with f{self.args}"


@st.composite
def _expr(draw, depth: int = 0) -> str:
    leaves = st.sampled_from(VARS + PARAMS) | st.integers(-9, 9).map(str) | \
        st.sampled_from(["0.5", "1.5", "-2.25", "3.0"])
    if depth >= 2 or draw(st.booleans()):
        return draw(leaves)
    left, right = draw(_expr(depth + 1)), draw(_expr(depth + 1))
    form = draw(st.sampled_from([
        "({} + {})", "({} - {})", "({} * {})", "({} / (abs({}) + 1.0))", "({} // 3)", "({} % 7)",
        "min({}, {})", "max({}, {})", "abs({})", "(-{})",
    ]))
    return form.format(left, right) if form.count("{}") == 2 else form.format(left)


@st.composite
def _cond(draw) -> str:
    op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
    c = f"{draw(_expr(1))} {op} {draw(_expr(1))}"
    if draw(st.booleans()):
        c = f"{c} {draw(st.sampled_from(['and', 'or']))} {draw(_expr(2))} > 0"
    return c


@st.composite
def _block(draw, indent: int, depth: int, in_loop: bool) -> list[str]:
    pad = "    " * indent
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["assign", "aug", "if", "for", "while", "exit"])
                    if depth < 2 else st.sampled_from(["assign", "aug"]))
        var = draw(st.sampled_from(VARS))
        if kind == "assign":
            lines.append(f"{pad}{var} = {draw(_expr())}")
        elif kind == "aug":
            lines.append(f"{pad}{var} {draw(st.sampled_from(['+=', '-=', '*=']))} {draw(_expr(1))}")
        elif kind == "if":
            lines.append(f"{pad}if {draw(_cond())}:")
            lines += draw(_block(indent + 1, depth + 1, in_loop))
            if draw(st.booleans()):
                lines.append(f"{pad}else:")
                lines += draw(_block(indent + 1, depth + 1, in_loop))
        elif kind == "for":
            lo, hi = draw(st.integers(-3, 3)), draw(st.integers(-3, 6))
            step = draw(st.sampled_from([1, 1, 2, -1, -2]))
            lines.append(f"{pad}for i{depth} in range({lo}, {hi}, {step}):")
            lines += draw(_block(indent + 1, depth + 1, True))
        elif kind == "while":
            counter = f"c{depth}"
            lines.append(f"{pad}{counter} = 0")
            lines.append(f"{pad}while {counter} < {draw(st.integers(0, 5))} and ({draw(_cond())}):")
            lines.append(f"{pad}    {counter} += 1")
            lines += draw(_block(indent + 1, depth + 1, True))
        elif in_loop:
            lines.append(f"{pad}if {draw(_cond())}:")
            lines.append(f"{pad}    {draw(st.sampled_from(['break', 'continue']))}")
        else:
            lines.append(f"{pad}if {draw(_cond())}:")
            lines.append(f"{pad}    return {', '.join(VARS)}")
    return lines


@st.composite
def script_programs(draw) -> ScriptProgram:
    """A random scalar control-flow function and arguments for it."""
    inits = [f"    {v} = {draw(st.sampled_from(['0', '1', '0.0', '2.5', 'n', 'a']))}" for v in VARS]
    body = draw(_block(1, 0, False))
    source = "\n".join(["def f(a: float, b: float, n: int):", *inits, *body,
                        f"    return {', '.join(VARS)}", ""])
    args = (draw(st.floats(-4, 4, allow_nan=False)), draw(st.floats(-4, 4, allow_nan=False)),
            draw(st.integers(-3, 5)))
    return ScriptProgram(source, args)


_counter = [0]


def load_source(source: str, name: str = "f"):
    """The function ``name`` defined by Python text ``source``, compiled so that ``inspect``
    (and so ``ember.script``) can read its source: for generated programs."""
    _counter[0] += 1
    filename = f"<ember-testing-script-{_counter[0]}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


def check_script_program(program: ScriptProgram) -> None:
    """``ember.script`` of the program returns what the plain Python function returns."""
    import ember

    fn = load_source(program.source)
    want = fn(*program.args)
    got = ember.script(fn)(*program.args)
    for k, (g, w) in enumerate(zip(got, want)):
        same = (g == w) if isinstance(w, int) and isinstance(g, int) else \
            math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-9) or (math.isnan(g) and math.isnan(w))
        if not same:
            raise AssertionError(f"v{k}: ember.script gave {g!r}, Python gave {w!r}\n{program}")
