"""Element writes follow Python: into an argument they change the caller's array, and every
name bound to the same array object sees them (``lowering/arg_writes.py``, the script
frontend's array identity); writes ember cannot follow are refused, never silently lost."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.context import Context

import ember
import ember.testing as et
from ember.dialects.etensor import ETensor
from ember.lowering.tensor_to_loop import TensorToLoopPass
from stencils import jacobi
from test_export import needs_cc


def twice(x, out):
    for i in range(x.shape[0]):
        out[i] = x[i] * 2.0
    return out.sum()


def alias_then_write(x):
    y = x
    y[0] = 5.0
    return x


def alias_of_a_temporary(x):
    z = x * 1.0
    w = z
    w[1] = 7.0
    return z


def put(z, i: int, v: float):
    z[i] = v
    return 0


def callee_writes(x):
    put(x, 0, 3.0)
    return x


def callee_writes_in_a_loop(x):
    for i in range(x.shape[0]):
        put(x, i, i * 1.0)
    return x.sum()


def callee_writes_in_a_branch(x, c: bool):
    if c:
        put(x, 1, 9.0)
    return x


def written_then_replaced(x, n: int):
    for i in range(n):
        x[0] = 1.0
        x = x * 2.0
    return x


def rebinding_an_alias(x):
    y = x
    for i in range(3):
        y = y * 2.0
    return x + y


def private_copy(x):
    y = x.copy()
    y[0] = 1.0
    return y


def prange_fill(out, a: float):
    for i in ember.prange(out.shape[0]):
        out[i] = a * i
    return out


def conditional_write(x, c: bool):
    if c:
        x[0] = -1.0
    return x


def while_fill(x):
    i = 0
    while i < x.shape[0]:
        x[i] = i
        i += 1
    return x


def early_return(x, c: bool):
    if c:
        x[0] = 1.0
        return x
    x[1] = 2.0
    return x * 2.0


def until_large(x):
    for i in range(x.shape[0]):
        if x[i] > 0.5:
            break
        x[i] = -1.0
    return x


def bump_all(z):
    for i in range(z.shape[0]):
        q = z
        q[i] += 1.0
    return z.sum()


def calls_in_a_loop(x):
    s = 0.0
    for k in range(3):
        s += bump_all(x)
    return s


def rotate(a, b, c):
    for k in range(4):
        a[0] += 1.0
        a, b, c = b, c, a
    return a + 10 * b + 100 * c


def returned_twice(x):
    x[0] = 5.0
    return x, x


def written_after_an_alias_on_one_path(x, z, c: bool):
    y = x  # noqa: F841 (Python's meaning of the names is what is tested)
    if c:
        y = z  # noqa: F841
    z[0] = 7.0
    return x + z


def alias_written_under_if(x, c: bool):
    y = x
    if c:
        y[0] = 1.0
    x[1] = 2.0
    return x


PROGRAMS = [
    (alias_written_under_if, lambda: (np.zeros(3), True)),
    (alias_written_under_if, lambda: (np.zeros(3), False)),
    (while_fill, lambda: (np.zeros(4),)),
    (early_return, lambda: (np.zeros(3), True)),
    (early_return, lambda: (np.zeros(3), False)),
    (until_large, lambda: (np.array([0.1, 0.2, 0.9, 0.3]),)),
    (calls_in_a_loop, lambda: (np.zeros(3),)),
    (rotate, lambda: (np.zeros(2), np.zeros(2), np.zeros(2))),
    (returned_twice, lambda: (np.zeros(2),)),
    (written_after_an_alias_on_one_path, lambda: (np.zeros(2), np.zeros(2), True)),
    (written_after_an_alias_on_one_path, lambda: (np.zeros(2), np.zeros(2), False)),
    (twice, lambda: (np.arange(5.0), np.zeros(5))),
    (alias_then_write, lambda: (np.zeros(3),)),
    (alias_of_a_temporary, lambda: (np.ones(3),)),
    (callee_writes, lambda: (np.zeros(2),)),
    (callee_writes_in_a_loop, lambda: (np.zeros(4),)),
    (callee_writes_in_a_branch, lambda: (np.zeros(3), True)),
    (callee_writes_in_a_branch, lambda: (np.zeros(3), False)),
    (written_then_replaced, lambda: (np.zeros(3), 0)),
    (written_then_replaced, lambda: (np.zeros(3), 2)),
    (rebinding_an_alias, lambda: (np.ones(3),)),
    (private_copy, lambda: (np.zeros(3),)),
    (prange_fill, lambda: (np.zeros(100_000), 0.5)),
    (conditional_write, lambda: (np.zeros(2), True)),
    (conditional_write, lambda: (np.zeros(2), False)),
]


@pytest.mark.parametrize("fn, make", PROGRAMS, ids=[f"{p[0].__name__}-{k}" for k, p in enumerate(PROGRAMS)])
def test_results_and_arguments_match_python(fn, make):
    mine, theirs = make(), make()
    got, want = ember.script(fn)(*mine), fn(*theirs)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(g, w)
    for a, b in zip(mine, theirs):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)  # the caller's arrays, after the call


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.floats(-10, 10)), min_size=1, max_size=8),
       st.booleans())
def test_writes_through_aliases_match_python_on_any_input(writes, c):
    f = SCATTER
    idx = np.array([i for i, _ in writes], np.int64)
    vals = np.array([v for _, v in writes])
    mine, theirs = np.zeros(6), np.zeros(6)
    np.testing.assert_array_equal(f(mine, idx, vals, c), scatter(theirs, idx, vals, c))
    np.testing.assert_array_equal(mine, theirs)


def scatter(x, idx, vals, c: bool):
    y = x
    z = x * 0.0  # noqa: F841 (Python's meaning of the names is what is tested)
    if c:
        z = x  # noqa: F841
    for k in range(idx.shape[0]):
        y[idx[k]] += vals[k]
    return y + x


SCATTER = ember.script(scatter)


def write_through_row(x):
    r = x[0]
    r[1] = 5.0
    return x


def write_through_transpose(x):
    t = x.T
    t[0, 1] = 5.0
    return x


def stale_slice(x):
    v = x[1:3]
    x[1] = 9.0
    return v


def fresh_slice(x):
    x[1] = 9.0
    v = x[1:3]
    return v * 2.0


def path_dependent(x, z, c: bool):
    if c:
        y = x
    else:
        y = z
    y[0] = 1.0
    return y


@pytest.mark.parametrize("fn, args, message", [
    (write_through_row, (np.zeros((2, 3)),), "'r' may share memory with 'x'"),
    (write_through_transpose, (np.zeros((2, 3)),), "'t' may share memory with 'x'"),
    (stale_slice, (np.zeros(4),), "'v' may share memory with 'x', which was written after"),
    (path_dependent, (np.zeros(2), np.zeros(2), True), "'y' may share memory with"),
])
def test_writes_ember_cannot_follow_are_refused(fn, args, message):
    with pytest.raises(ember.ScriptError, match=message) as e:
        ember.script(fn)(*args)
    assert "^" in str(e.value)  # file:line:col and a caret


def test_a_slice_taken_after_the_write_sees_it():
    x = np.zeros(4)
    np.testing.assert_array_equal(ember.script(fresh_slice)(x), [18.0, 0.0])


def test_read_only_and_overlapping_arguments_are_refused():
    f = ember.script(twice)
    x, out = np.arange(4.0), np.zeros(4)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="argument 'out' is read-only"):
        f(x, out)
    out = np.zeros(8)
    with pytest.raises(ValueError, match="arguments 'out' and 'x' share memory"):
        f(out[2:6], out[:4])
    assert f(out[4:], out[:4]) == 0.0  # disjoint halves of one array are fine
    x.flags.writeable = False  # only read: may be read-only
    assert f(x, np.zeros(4)) == 12.0


def test_the_written_arguments_survive_the_disk_cache_and_save(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_CACHE_DIR", str(tmp_path / "cache"))
    f = ember.script(twice)
    out = np.zeros(3)
    f(np.ones(3), out)
    assert f._last.written == [1]
    ember.save(f, tmp_path / "twice.ember")
    g = ember.load(tmp_path / "twice.ember")
    out = np.zeros(3)
    assert g(np.ones(3), out) == 6.0 and out.tolist() == [2.0, 2.0, 2.0]
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        g(np.ones(3), out)


def test_bufferization_refuses_to_copy_a_written_argument():
    """Tensor IR whose argument is written while its old value is still returned cannot be
    done in place: an error at the source line (a ScriptError, as for any construct ember
    cannot compile), not a write the caller would not see."""
    from xdsl.dialects.arith import Arith
    from xdsl.dialects.builtin import Builtin
    from xdsl.dialects.func import Func
    from xdsl.parser import Parser

    text = """
    func.func @f(%x: tensor<?xf64>, %v: tensor<f64>) -> (tensor<?xf64>, tensor<?xf64>) attributes {ember.entry} {
      %c0 = arith.constant 0 : index
      %y = etensor.insert %v, %x[%c0] : tensor<f64>, tensor<?xf64>
      func.return %y, %x : tensor<?xf64>, tensor<?xf64>
    }"""
    ctx = Context()
    for d in (Builtin, Func, Arith, ETensor):
        ctx.load_dialect(d)
    module = Parser(ctx, text).parse_module()
    with pytest.raises(ember.ScriptError, match="cannot write argument 'x' in place") as e:
        TensorToLoopPass().apply(ctx, module)
    assert "x = x.copy()" in str(e.value)  # the hint


def bump(x):
    x[0] = 42.0
    return x


def test_returning_an_argument_returns_that_array_as_python_does():
    f = ember.script(bump)
    x = np.zeros(3)
    assert f(x) is x and x.tolist() == [42.0, 0.0, 0.0]
    assert f._last.returns_argument == [0]


@pytest.mark.parametrize("iters", [2, 3])
def test_a_swap_loop_returns_the_argument_when_it_ends_there(iters):
    """After an even number of swaps Jacobi's result is the caller's array (no copy, as in
    Python); after an odd number it is the private one, copied into a new result."""
    f = ember.script(jacobi)
    a = np.random.default_rng(iters).random((6, 7))
    want = jacobi(a.copy(), iters)
    got = f(a, iters)
    assert (got is a) == (iters % 2 == 0)
    np.testing.assert_array_equal(got, want)


@needs_cc
def test_an_exported_function_copies_a_returned_argument(tmp_path):
    """In C the result is the caller's own buffer to free: a copy, never the argument."""
    import ctypes

    from test_export import call

    ember.export(ember.script(bump), tmp_path / "libbump.so", signatures=["float64[?]"])
    lib = ctypes.CDLL(str(tmp_path / "libbump.so"))
    x = np.zeros(4)
    status, (out,) = call(lib, "bump_f64d", [x], [("float64", 1)])
    assert status == 0 and out.tolist() == [42.0, 0.0, 0.0, 0.0] == x.tolist()


SET_FIRST = ember.script(lambda x: put(x, 0, 100.0) + x * 1.0)


def traced_caller(x):
    y = SET_FIRST(x)
    return x + y


def test_a_scripted_callee_of_a_trace_writes_into_the_tracers_array():
    t = ember.trace(traced_caller, (np.zeros(3),))
    mine, theirs = np.zeros(3), np.zeros(3)
    want = theirs + (put(theirs, 0, 100.0) + theirs * 1.0)
    np.testing.assert_array_equal(t(mine), want)
    np.testing.assert_array_equal(mine, theirs)


def identity(x, y):
    return y, x


def test_an_argument_returned_unwritten_is_that_array_too():
    f = ember.script(identity)
    x, y = np.arange(3.0), np.ones((2, 2), np.float32)
    got = f(x, y)
    assert got[0] is y and got[1] is x
    strided = np.arange(8.0)[::2]  # not C order: the result is a C-order copy
    got = f(strided, y)[1]
    assert got is not strided and got.tolist() == strided.tolist() and got.flags.c_contiguous


# -- random programs of aliases, element writes, swaps and rebinding under if/for ------------

_NAMES = ("p", "q", "r")


@st.composite
def _statements(draw, depth: int, in_loop: bool) -> list[str]:
    out = []
    for _ in range(draw(st.integers(1, 3))):
        x, y = draw(st.sampled_from(_NAMES)), draw(st.sampled_from(_NAMES))
        index = draw(st.sampled_from(["0", "3", "1"] + (["k % 4"] if in_loop else [])))
        kinds = ["write", "add", "alias", "swap", "rebind"] + (["if", "for"] if depth < 2 else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "write":
            out.append(f"{x}[{index}] = {y}[{draw(st.sampled_from(['0', '2']))}] + 1.5")
        elif kind == "add":
            out.append(f"{x}[{index}] += 1.0")
        elif kind == "alias":
            out.append(f"{x} = {y}")
        elif kind == "swap" and x != y:
            out.append(f"{x}, {y} = {y}, {x}")
        elif kind == "rebind":
            out.append(f"{x} = {x} * 2.0")
        elif kind == "if":
            out.append("if c:")
            out += ["    " + s for s in draw(_statements(depth + 1, in_loop))]
            if draw(st.booleans()):
                out.append("else:")
                out += ["    " + s for s in draw(_statements(depth + 1, in_loop))]
        elif kind == "for":
            out.append("for k in range(n):")
            out += ["    " + s for s in draw(_statements(depth + 1, True))]
    return out or ["pass"]


@st.composite
def alias_programs(draw) -> str:
    start = draw(st.sampled_from(["r = p.copy()", "r = p * 1.0", "r = q", "r = p"]))
    body = ["    " + s for s in [start, *draw(_statements(0, False))]]
    return "\n".join(["def f(p, q, c: bool, n: int):", *body,
                      "    return p + 10.0 * q + 100.0 * r", ""])


_programs_seen = {"ran": 0, "refused": 0}


@settings(max_examples=60, deadline=None)
@given(alias_programs(), st.booleans(), st.integers(0, 3))
def test_random_alias_programs_match_python_or_are_refused(source, c, n):
    """ember either computes what Python computes, results and the caller's arrays after the
    call alike, or refuses the program with a ScriptError; it never crashes or differs."""
    fn = et.load_source(source)
    make = lambda: (np.arange(4.0), np.arange(4.0) + 10.0)  # noqa: E731
    theirs, mine = make(), make()
    want = fn(*theirs, c, n)
    try:
        got = ember.script(fn)(*mine, c, n)
    except ember.ScriptError as e:  # a write through a name bound to different arrays
        assert "may share memory" in str(e) or "cannot write argument" in str(e), source
        _programs_seen["refused"] += 1
        return
    _programs_seen["ran"] += 1
    np.testing.assert_array_equal(got, want, err_msg=source)
    for a, b in zip(mine, theirs):
        np.testing.assert_array_equal(a, b, err_msg=source)


def test_most_random_alias_programs_run():
    """The property above is not met by refusing everything."""
    test_random_alias_programs_match_python_or_are_refused()
    assert _programs_seen["ran"] >= 3 * _programs_seen["refused"], _programs_seen


def loop_variable_after_the_loop(x, n: int):
    k = 7
    for k in range(n):
        x[k] += 1.0
    return x, k


def loop_variable_reassigned_in_the_loop(x, n: int):
    for k in range(n):
        for k in range(3):
            x[k] += 1.0
        x[k] += 10.0
    return x, k


def test_names_that_may_hold_one_array_after_an_if_are_not_written_through():
    """After the if, r is q's array on one path (Python writes q through r there) and a new
    one on the other; ember gave r a new array on both and lost the write to q."""
    with pytest.raises(ember.ScriptError, match="'r' may share memory with"):
        ember.script(aliases_on_both_paths)(np.arange(4.0), np.arange(4.0) + 10, False)


def possibly_aliased_in_a_branch_of_the_loop(p, q, c: bool, n: int):
    r = p.copy()
    for k in range(n):
        q[0] += 1.0
        if c:
            q = r
    return p + 10.0 * q + 100.0 * r


def nested_possible_aliases(p, c: bool):
    r = p.copy()
    if c:
        p[0] = 1.0
    else:
        if c:
            p[0] = 2.0
        else:
            r = r * 2.0
            p = r
    r[0] = 3.0
    return p + r


@pytest.mark.parametrize("fn, args, name", [
    (possibly_aliased_in_a_branch_of_the_loop, (np.zeros(4), np.zeros(4), True, 2), "q"),
    (nested_possible_aliases, (np.zeros(4), False), "r"),
])
def test_possible_aliases_found_by_the_random_programs_are_refused(fn, args, name):
    """Each was computed wrong before: a name that is possibly another's array at the end
    of an iteration, or after nested ifs, was then written as if it were its own."""
    with pytest.raises(ember.ScriptError, match=f"'{name}' may share memory with"):
        ember.script(fn)(*args)


def test_a_name_aliased_from_the_second_iteration_on_is_not_written_through():
    """q is the caller's array in the first iteration and r's from the second on: one view
    of the body cannot follow that, so the write is refused (Python writes both)."""
    with pytest.raises(ember.ScriptError, match="'q' may share memory with"):
        ember.script(aliased_from_the_second_iteration)(np.zeros(4), np.zeros(4), 2)


def test_a_loop_variable_assigned_again_in_its_loop_is_not_read_after_it():
    with pytest.raises(ember.ScriptError, match="loop variable 'k' is assigned again inside its loop"):
        ember.script(loop_variable_reassigned_in_the_loop)(np.zeros(4), 2)


def written_then_dropped(p, q):
    p[0] += 1.0
    p = q  # noqa: F841 (the write before it is the caller's)
    return q * 2.0


def fused_in_a_loop_then_written(p, n: int):
    for k in range(n):
        p = p * 2.0
        p = p * 2.0
    p[0] = p[0] + 1.5
    return p


def aliases_on_both_paths(p, q, c: bool):
    r = q
    if c:
        q = p
        r = r * 2.0
    r[0] = p[0] + 1.5
    return p + 10.0 * q + 100.0 * r


def aliased_from_the_second_iteration(p, q, n: int):
    r = p.copy()
    for k in range(n):
        q[0] += 1.0
        q = r
    return p + 10.0 * q + 100.0 * r


@pytest.mark.parametrize("fn, make", [
    (loop_variable_after_the_loop, lambda: (np.zeros(4), 0)),
    (loop_variable_after_the_loop, lambda: (np.zeros(4), 2)),
    (written_then_dropped, lambda: (np.zeros(2), np.ones(2))),
    (fused_in_a_loop_then_written, lambda: (np.arange(3.0), 0)),
    (fused_in_a_loop_then_written, lambda: (np.arange(3.0), 2)),
], ids=["loop-var-0", "loop-var-2", "dropped", "fused-0", "fused-2"])
def test_found_by_the_random_programs(fn, make):
    """Each once differed from Python: a for loop's variable kept its old value after the loop; a
    write into an argument whose value no name held any more was dead code; a value fused
    inside a loop was computed again after it, out of scope."""
    test_results_and_arguments_match_python(fn, make)


# -- a loop that carries an argument it never writes: no copy --------------------------


def halve_n_times(x, n: int):
    acc = x
    for _ in range(n):
        acc = acc * 0.5 + 1.0
    return acc


def halve_then_add_x(x, n: int):
    acc = x
    for _ in range(n):
        acc = acc * 0.5
    return acc + x


def halve_some_nested(x, n: int, c: bool):
    acc = x
    for i in range(n):
        for _ in range(i):
            if c:
                acc = acc * 0.5
    return acc


def copied_then_written(x, n: int):
    out = x.copy()
    for i in range(n):
        out[i] = out[i] + 1.0
    return out


@pytest.mark.parametrize("fn, args", [
    (halve_n_times, (0,)), (halve_n_times, (1,)), (halve_n_times, (3,)),
    (halve_then_add_x, (0,)), (halve_then_add_x, (2,)),
    (halve_some_nested, (0, True)), (halve_some_nested, (3, True)), (halve_some_nested, (3, False)),
    (copied_then_written, (0,)), (copied_then_written, (3,)),
])
def test_a_loop_carrying_an_argument_matches_python(fn, args):
    """The loop carries ``x`` itself where no element write can reach it (``tensor-to-loop``
    borrows it, and frees what it carries only when that is not ``x``); where one can, it
    works on a copy. Results and the caller's array as in Python; ``x`` comes back as that
    very array when the loop never replaced it."""
    x, want_x = np.arange(4.0), np.arange(4.0)
    got, want = ember.script(fn)(x, *args), fn(want_x, *args)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(x, want_x)
    assert (got is x) == (want is want_x)


def test_a_loop_carrying_an_argument_does_not_copy_it():
    f = ember.script(halve_n_times)
    f(np.ones(8), 2)
    loop = f.ir("loop")
    top = loop.split("scf.for")[0]
    assert "memref.alloc" not in top, "no copy of x before the loop"
    assert re.search(r"iter_args\(%\w+ = %x\)", loop)
    assert "memref.extract_aligned_pointer_as_index" in loop  # the guarded frees


# -- the last iteration of a loop allocates the result: no copy after the loop ------------


def doubled_then_bumped(x, n: int):
    acc = x * 2.0
    for _ in range(n):
        acc = acc + 1.0
    return acc


def bumped_then_written(x, n: int):
    acc = x * 1.0
    for _ in range(n):
        acc = acc + 1.0
    acc[0] = 7.0
    return acc


def returned_with_its_sum(x, n: int):
    acc = x
    for _ in range(n):
        acc = acc * 3.0
    return acc, acc.sum()


def strided_steps(x, lo: int, hi: int):
    acc = x
    for _ in range(lo, hi, 3):
        acc = acc - 1.0
    return acc


@pytest.mark.parametrize("fn, args", [
    (doubled_then_bumped, (0,)), (doubled_then_bumped, (1,)), (doubled_then_bumped, (4,)),
    (bumped_then_written, (0,)), (bumped_then_written, (2,)),
    (returned_with_its_sum, (0,)), (returned_with_its_sum, (3,)),
    (strided_steps, (0, 0)), (strided_steps, (2, 3)), (strided_steps, (1, 8)), (strided_steps, (5, 1)),
    (halve_n_times, (1,)), (halve_n_times, (2,)),
])
def test_a_loop_whose_result_is_returned_matches_python(fn, args):
    """A loop's last iteration allocates the returned array itself (the caller's); with no
    iteration the initial value is returned as before. Results and arguments as in Python."""
    x, want_x = np.arange(5.0), np.arange(5.0)
    got, want = ember.script(fn)(x, *args), fn(want_x, *args)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(x, want_x)


def test_the_last_iteration_allocates_the_result():
    f = ember.script(halve_n_times)
    f(np.ones(8), 2)
    loop = f.ir("loop")
    body, after = loop.split("scf.for", 1)[1].split("func.return")[0].split("scf.yield", 1)[0], loop
    assert re.search(r"scf.if %\w+ -> \(memref<\?xf64>\) \{\s*%\w+ = memref.alloc\(%\w+\) \{ember.result = 0 : i64\}", body)
    # after the loop, the result is copied only when the loop ran no iteration
    tail = loop.rsplit("arith.cmpi slt", 1)[1]
    assert tail.index("scf.yield") < tail.index("{ember.result = 0 : i64}")


def failing_in_the_last_iteration(x, n: int):
    acc = x
    for i in range(n):
        acc = acc + x[2 * i]
    return acc


def test_a_loop_with_checks_copies_its_result_after_it():
    """A check that fails after the last iteration allocated the result would leave an
    exported function's C caller a result it cannot free: such a loop keeps the copy."""
    f = ember.script(failing_in_the_last_iteration)
    np.testing.assert_array_equal(f(np.arange(4.0), 2), failing_in_the_last_iteration(np.arange(4.0), 2))
    body = f.ir("loop").split("scf.for", 1)[1].split("func.return")[0]
    assert "cf.assert" in body and "ember.result" not in body.split("scf.yield")[0]
    with pytest.raises(ValueError, match="index out of bounds"):
        f(np.arange(4.0), 3)
