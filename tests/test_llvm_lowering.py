"""End-to-end: loop-stage MLIR text -> LLVM dialect -> LLVM IR -> MCJIT, checked against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.parser import Parser

from ember.context import make_context
from ember.lowering.abi import EntryError, check_layout, make_entry
from ember.lowering.jit import Engine
from ember.lowering.llvm_ir import to_llvm_ir
from ember.lowering.loop_to_llvm import LoweringError, lower_to_llvm


def compile_module(text: str) -> Engine:
    ctx = make_context()
    module = Parser(ctx, text).parse_module()
    module.verify()
    lower_to_llvm(ctx, module)
    module.verify()
    return Engine(to_llvm_ir(module))


def entry(text: str, name: str, kinds, results):
    return make_entry(compile_module(text), name, kinds, results)


ELEMENTWISE = """
func.func @add(%x: memref<?x?xf32, strided<[?, ?], offset: ?>>, %y: memref<?x?xf32>) -> memref<?x?xf32>
    attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %y, %c0 : memref<?x?xf32>
  %m = memref.dim %y, %c1 : memref<?x?xf32>
  %z = memref.alloc(%n, %m) {ember.result = 0 : i64} : memref<?x?xf32>
  loop.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) {
    %a = memref.load %x[%i, %j] : memref<?x?xf32, strided<[?, ?], offset: ?>>
    %b = memref.load %y[%i, %j] : memref<?x?xf32>
    %s = arith.addf %a, %b fastmath<fast> : f32
    memref.store %s, %z[%i, %j] : memref<?x?xf32>
    loop.yield
  }
  func.return %z : memref<?x?xf32>
}
"""


@pytest.fixture(scope="module")
def add():
    return entry(ELEMENTWISE, "add", ["array", "array"], [(np.float32, 2)])


@pytest.mark.parametrize("view", [
    lambda a: a,
    lambda a: a.T.copy().T,           # transposed (column-major)
    lambda a: a[::-1, ::-1],          # negative strides
    lambda a: np.pad(a, 2)[2:-2:1, 2:-2],  # sliced out of a bigger array
    lambda a: np.broadcast_to(a[:1], a.shape),  # zero stride
], ids=["contiguous", "transposed", "negative", "sliced", "broadcast"])
def test_elementwise_strided(add, view):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 7)).astype(np.float32)
    y = rng.standard_normal((5, 7)).astype(np.float32)
    x = view(a)
    (z,) = add(x, y)
    assert z.flags.c_contiguous and z.dtype == np.float32
    np.testing.assert_array_equal(z, x + y)


def test_elementwise_empty(add):
    (z,) = add(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))
    assert z.shape == (0, 3)


def test_optimized_ir_is_vectorised():
    engine = compile_module(ELEMENTWISE)
    assert "x float>" in engine.optimized_ir


ROWSUM = """
func.func @rowsum(%x: memref<?x?xf64>) -> memref<?xf64> attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f64
  %n = memref.dim %x, %c0 : memref<?x?xf64>
  %m = memref.dim %x, %c1 : memref<?x?xf64>
  %r = memref.alloc(%n) {ember.result = 0 : i64} : memref<?xf64>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %s = loop.parallel (%j) = (%c0) to (%m) step (%c1) reduce(add) init(%acc = %zero) -> (f64) {
      %v = memref.load %x[%i, %j] : memref<?x?xf64>
      %t = arith.addf %acc, %v : f64
      loop.yield %t : f64
    }
    memref.store %s, %r[%i] : memref<?xf64>
    loop.yield
  }
  func.return %r : memref<?xf64>
}
"""


def test_row_sum():
    f = entry(ROWSUM, "rowsum", ["array"], [(np.float64, 1)])
    x = np.random.default_rng(1).standard_normal((6, 33))
    (r,) = f(x)
    np.testing.assert_allclose(r, x.sum(axis=1), rtol=1e-12)


MATMUL = """
func.func @matmul(%a: memref<?x?xf32>, %b: memref<?x?xf32>) -> memref<?x?xf32> attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %a, %c0 : memref<?x?xf32>
  %k = memref.dim %a, %c1 : memref<?x?xf32>
  %m = memref.dim %b, %c1 : memref<?x?xf32>
  %c = memref.alloc(%n, %m) {ember.result = 0 : i64} : memref<?x?xf32>
  loop.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) {
    %s = loop.for %p = %c0 to %k step %c1 iter_args(%acc = %zero) -> (f32) {
      %x = memref.load %a[%i, %p] : memref<?x?xf32>
      %y = memref.load %b[%p, %j] : memref<?x?xf32>
      %xy = arith.mulf %x, %y : f32
      %t = arith.addf %acc, %xy : f32
      loop.yield %t : f32
    }
    memref.store %s, %c[%i, %j] : memref<?x?xf32>
    loop.yield
  }
  func.return %c : memref<?x?xf32>
}
"""


def test_matmul():
    f = entry(MATMUL, "matmul", ["array", "array"], [(np.float32, 2)])
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((9, 13), np.float32), rng.standard_normal((13, 5), np.float32)
    (c,) = f(a, b)
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)


CASTS = """
func.func @casts(%x: memref<?xf32>, %m: memref<?xi1>, %q: memref<?xi64>, %d: i64)
    -> (memref<?xi32>, memref<?xi1>, memref<?xf64>, memref<?xi64>, memref<?xi64>, memref<?xf32>)
    attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?xf32>
  %r0 = memref.alloc(%n) {ember.result = 0 : i64} : memref<?xi32>
  %r1 = memref.alloc(%n) {ember.result = 1 : i64} : memref<?xi1>
  %r2 = memref.alloc(%n) {ember.result = 2 : i64} : memref<?xf64>
  %r3 = memref.alloc(%n) {ember.result = 3 : i64} : memref<?xi64>
  %r4 = memref.alloc(%n) {ember.result = 4 : i64} : memref<?xi64>
  %r5 = memref.alloc(%n) {ember.result = 5 : i64} : memref<?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    %b = memref.load %m[%i] : memref<?xi1>
    %w = memref.load %q[%i] : memref<?xi64>
    %t = arith.fptosi %v : f32 to i32
    memref.store %t, %r0[%i] : memref<?xi32>
    %pos = arith.cmpf ogt, %v, %zero : f32
    %both = arith.andi %pos, %b : i1
    memref.store %both, %r1[%i] : memref<?xi1>
    %e = arith.extf %v : f32 to f64
    %ii = arith.index_cast %i : index to i64
    %fi = arith.sitofp %ii : i64 to f64
    %bf = arith.uitofp %b : i1 to f64
    %sum = arith.addf %e, %fi : f64
    %sum2 = arith.addf %sum, %bf : f64
    memref.store %sum2, %r2[%i] : memref<?xf64>
    %fd = arith.floordivsi %w, %d : i64
    memref.store %fd, %r3[%i] : memref<?xi64>
    %rm = arith.remsi %w, %d : i64
    %mx = arith.maxsi %rm, %fd : i64
    memref.store %mx, %r4[%i] : memref<?xi64>
    %sel = arith.select %b, %v, %zero : f32
    %tr = arith.truncf %e : f64 to f32
    %mm = arith.maximumf %sel, %tr : f32
    memref.store %mm, %r5[%i] : memref<?xf32>
    loop.yield
  }
  func.return %r0, %r1, %r2, %r3, %r4, %r5
      : memref<?xi32>, memref<?xi1>, memref<?xf64>, memref<?xi64>, memref<?xi64>, memref<?xf32>
}
"""


def test_casts_and_bools():
    f = entry(CASTS, "casts", ["array", "array", "array", "i64"],
              [(np.int32, 1), (np.bool_, 1), (np.float64, 1), (np.int64, 1), (np.int64, 1),
               (np.float32, 1)])
    x = np.array([-2.7, -0.5, 0.0, 1.5, 3.9, 100.25], np.float32)
    m = np.array([True, False, True, True, False, True])
    q = np.array([-7, -6, -1, 0, 5, 7], np.int64)
    r0, r1, r2, r3, r4, r5 = f(x, m, q, -3)
    np.testing.assert_array_equal(r0, x.astype(np.int32))
    np.testing.assert_array_equal(r1, (x > 0) & m)
    np.testing.assert_array_equal(r2, x.astype(np.float64) + np.arange(6) + m)
    np.testing.assert_array_equal(r3, q // -3)
    np.testing.assert_array_equal(r4, np.maximum(np.fmod(q, -3), q // -3))
    np.testing.assert_array_equal(r5, np.maximum(np.where(m, x, 0), x))


MATH = """
func.func @math(%x: memref<?xf32>, %y: memref<?xf64>, %k: memref<?xi32>)
    -> (memref<11x?xf32>, memref<11x?xf64>, memref<?xi32>) attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  %r = memref.alloc(%n) {ember.result = 0 : i64} : memref<11x?xf32>
  %s = memref.alloc(%n) {ember.result = 1 : i64} : memref<11x?xf64>
  %t = memref.alloc(%n) {ember.result = 2 : i64} : memref<?xi32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    %w = memref.load %y[%i] : memref<?xf64>
    %a = math.absf %v : f32
    %b = math.absf %w : f64
    MATHOPS
    %ki = memref.load %k[%i] : memref<?xi32>
    %ka = math.absi %ki : i32
    memref.store %ka, %t[%i] : memref<?xi32>
    loop.yield
  }
  func.return %r, %s, %t : memref<11x?xf32>, memref<11x?xf64>, memref<?xi32>
}
"""
_MATH_OPS = [("exp", "%a", np.exp), ("log", "%a", np.log), ("sqrt", "%a", np.sqrt),
             ("tanh", "%v", np.tanh), ("sin", "%v", np.sin), ("cos", "%v", np.cos),
             ("absf", "%v", np.abs), ("floor", "%v", np.floor), ("ceil", "%v", np.ceil),
             ("powf", "%a, %a", lambda a: a ** a), ("erf", "%v", None)]


def _math_text() -> str:
    lines = []
    for row, (op, args, _) in enumerate(_MATH_OPS):
        for name, arg_t, dest in (("f", "f32", "%r"), ("d", "f64", "%s")):
            a = args.replace("%a", "%a" if name == "f" else "%b").replace("%v", "%v" if name == "f" else "%w")
            lines.append(f"%{name}{row} = math.{op} {a} : {arg_t}")
            lines.append(f"%row{name}{row} = arith.constant {row} : index")
            lines.append(f"memref.store %{name}{row}, {dest}[%row{name}{row}, %i] : memref<11x?x{arg_t}>")
    return MATH.replace("MATHOPS", "\n    ".join(lines))


def test_math():
    import math
    f = entry(_math_text(), "math", ["array", "array", "array"],
              [(np.float32, 2), (np.float64, 2), (np.int32, 1)])
    x = np.linspace(-3, 3, 17)
    k = np.arange(-8, 9, dtype=np.int32)
    r, s, t = f(x.astype(np.float32), x, k)
    np.seterr(divide="ignore")
    for row, (_, args, ref) in enumerate(_MATH_OPS):
        src = np.abs(x) if "%a" in args else x
        expected = ref(src) if ref is not None else np.array([math.erf(v) for v in src])
        np.testing.assert_allclose(s[row], expected, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(r[row], expected.astype(np.float32), rtol=2e-6, atol=1e-6)
    np.testing.assert_array_equal(t, np.abs(k))


WHILE = """
func.func @collatz(%start: i64) -> memref<i64> attributes {ember.entry} {
  %one = arith.constant 1 : i64
  %two = arith.constant 2 : i64
  %three = arith.constant 3 : i64
  %zero = arith.constant 0 : i64
  %r:2 = scf.while (%x = %start, %steps = %zero) : (i64, i64) -> (i64, i64) {
    %go = arith.cmpi ne, %x, %one : i64
    scf.condition(%go) %x, %steps : i64, i64
  } do {
  ^bb0(%y: i64, %s: i64):
    %rem = arith.remsi %y, %two : i64
    %odd = arith.cmpi ne, %rem, %zero : i64
    %next = scf.if %odd -> (i64) {
      %t = arith.muli %y, %three : i64
      %u = arith.addi %t, %one : i64
      scf.yield %u : i64
    } else {
      %h = arith.divsi %y, %two : i64
      scf.yield %h : i64
    }
    %s1 = arith.addi %s, %one : i64
    scf.yield %next, %s1 : i64, i64
  }
  %out = memref.alloc() {ember.result = 0 : i64} : memref<i64>
  memref.store %r#1, %out[] : memref<i64>
  func.return %out : memref<i64>
}
"""


def _collatz(n: int) -> int:
    steps = 0
    while n != 1:
        n, steps = (3 * n + 1 if n % 2 else n // 2), steps + 1
    return steps


def test_scf_while_and_zero_d_result():
    f = entry(WHILE, "collatz", ["i64"], [(np.int64, 0)])
    for n in (1, 6, 27, 97):
        (out,) = f(n)
        assert out.shape == () and int(out) == _collatz(n)


ASSERTS = """
func.func @checked(%x: memref<?xf64>, %lo: f64) -> memref<?xf64> attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f64
  %n = memref.dim %x, %c0 : memref<?xf64>
  %ok1 = arith.cmpi sle, %n, %c4 : index
  cf.assert %ok1, "at most four elements"
  %ok2 = arith.cmpf oge, %lo, %zero : f64
  cf.assert %ok2, "lo must be non-negative"
  %r = memref.alloc(%n) {ember.result = 0 : i64} : memref<?xf64>
  "memref.copy"(%x, %r) : (memref<?xf64>, memref<?xf64>) -> ()
  func.return %r : memref<?xf64>
}
"""


def test_assert_status():
    f = entry(ASSERTS, "checked", ["array", "f64"], [(np.float64, 1)])
    x = np.arange(3.0)
    np.testing.assert_array_equal(f(x, 1.0)[0], x)
    with pytest.raises(EntryError) as err:
        f(np.arange(5.0), 1.0)
    assert err.value.status == 1
    with pytest.raises(EntryError) as err:
        f(x, -1.0)
    assert err.value.status == 2


CALLS = """
func.func @stats(%x: memref<?xf32>) -> (f32, f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?xf32>
  %s, %q = loop.for %i = %c0 to %n step %c1 iter_args(%a = %zero, %b = %zero) -> (f32, f32) {
    %v = memref.load %x[%i] : memref<?xf32>
    %a1 = arith.addf %a, %v : f32
    %v2 = arith.mulf %v, %v : f32
    %b1 = arith.addf %b, %v2 : f32
    loop.yield %a1, %b1 : f32, f32
  }
  func.return %s, %q : f32, f32
}
func.func @scale(%x: memref<?xf32>, %k: f32) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  %y = memref.alloc(%n) : memref<?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    %w = arith.mulf %v, %k : f32
    memref.store %w, %y[%i] : memref<?xf32>
    loop.yield
  }
  func.return %y : memref<?xf32>
}
func.func @main(%x: memref<?xf32>, %k: f32) -> memref<2xf32> attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %y = func.call @scale(%x, %k) : (memref<?xf32>, f32) -> memref<?xf32>
  %s, %q = func.call @stats(%y) : (memref<?xf32>) -> (f32, f32)
  memref.dealloc %y : memref<?xf32>
  %r = memref.alloc() {ember.result = 0 : i64} : memref<2xf32>
  memref.store %s, %r[%c0] : memref<2xf32>
  memref.store %q, %r[%c1] : memref<2xf32>
  func.return %r : memref<2xf32>
}
"""


def test_internal_calls_and_internal_linkage():
    ctx = make_context()
    module = Parser(ctx, CALLS).parse_module()
    lower_to_llvm(ctx, module)
    text = to_llvm_ir(module)
    assert 'define internal {float, float} @"stats"' in text
    assert 'define i32 @"main"' in text
    f = make_entry(Engine(text), "main", ["array", "f32"], [(np.float32, 1)])
    x = np.arange(5, dtype=np.float32)
    (r,) = f(x, 2.0)
    np.testing.assert_allclose(r, [(2 * x).sum(), ((2 * x) ** 2).sum()])


VIEWS = """
func.func @views(%x: memref<?x?xf32>) -> (memref<?x?xf32>, memref<?xf32>) attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %n = memref.dim %x, %c0 : memref<?x?xf32>
  %m = memref.dim %x, %c1 : memref<?x?xf32>
  %s = "memref.cast"(%x) : (memref<?x?xf32>) -> memref<?x?xf32, strided<[?, ?], offset: ?>>
  %h = arith.floordivsi %m, %c2 : index
  %v = "memref.subview"(%s, %n, %h) <{operandSegmentSizes = array<i32: 1, 0, 2, 0>,
      static_offsets = array<i64: 0, 1>, static_sizes = array<i64: -9223372036854775808, -9223372036854775808>,
      static_strides = array<i64: 1, 2>}>
      : (memref<?x?xf32, strided<[?, ?], offset: ?>>, index, index) -> memref<?x?xf32, strided<[?, ?], offset: ?>>
  %r = memref.alloc(%n, %h) {ember.result = 0 : i64} : memref<?x?xf32>
  "memref.copy"(%v, %r) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32>) -> ()
  %nm = arith.muli %n, %m : index
  %flat = "memref.reinterpret_cast"(%x, %nm) <{operandSegmentSizes = array<i32: 1, 0, 1, 0>,
      static_offsets = array<i64: 1>, static_sizes = array<i64: -9223372036854775808>,
      static_strides = array<i64: 1>}> : (memref<?x?xf32>, index) -> memref<?xf32, strided<[1], offset: 1>>
  %len = arith.subi %nm, %c1 : index
  %f = memref.alloc(%len) {ember.result = 1 : i64} : memref<?xf32>
  "memref.copy"(%flat, %f) : (memref<?xf32, strided<[1], offset: 1>>, memref<?xf32>) -> ()
  func.return %r, %f : memref<?x?xf32>, memref<?xf32>
}
"""


def test_cast_subview_reinterpret_copy():
    f = entry(VIEWS, "views", ["array"], [(np.float32, 2), (np.float32, 1)])
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    r, flat = f(x)
    np.testing.assert_array_equal(r, x[:, 1::2][:, :2])
    np.testing.assert_array_equal(flat, x.ravel()[1:])


def test_surviving_op_is_reported():
    text = """
    func.func @f(%x: memref<?xf32>) -> index attributes {} {
      %p = "memref.rank"(%x) : (memref<?xf32>) -> index
      func.return %p : index
    }"""
    ctx = make_context()
    module = Parser(ctx, text).parse_module()
    with pytest.raises(LoweringError, match="memref.rank.*@f"):
        lower_to_llvm(ctx, module)


def test_numpy_layout_matches():
    check_layout()


TEMP = """
func.func @temp(%x: memref<?xf32>) -> memref<?xf32> attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  %n = memref.dim %x, %c0 : memref<?xf32>
  %t = memref.alloc(%n) : memref<?xf32>
  %y = memref.alloc(%n) {ember.result = 0 : i64} : memref<?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    %w = arith.addf %v, %one : f32
    memref.store %w, %t[%i] : memref<?xf32>
    loop.yield
  }
  "memref.copy"(%t, %y) : (memref<?xf32>, memref<?xf32>) -> ()
  memref.dealloc %t : memref<?xf32>
  func.return %y : memref<?xf32>
}
"""


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_no_leak_over_100k_calls():
    f = entry(TEMP, "temp", ["array"], [(np.float32, 1)])
    x = np.arange(256, dtype=np.float32)
    np.testing.assert_array_equal(f(x)[0], x + 1)
    for _ in range(20_000):
        f(x)
    before = _rss_bytes()
    for _ in range(100_000):
        f(x)
    growth = _rss_bytes() - before
    assert growth < 4 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB over 100k calls"
