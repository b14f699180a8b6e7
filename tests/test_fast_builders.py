"""The unchecked op builders of the lowerings (``llvm_common.Emitter``, ``br``/``cond_br``,
the ``llvmx`` constructors) skip ``IRDLOperation.__init__``'s checks for compile time: each
must build the op its checked constructor builds (same properties, attributes, results,
operands, successors, and the same text)."""

from xdsl.dialects import llvm
from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr, VectorType, f32, f64, i1, i32, i64
from xdsl.ir import Block, Operation, Region

from ember.dialects import llvmx
from ember.lowering.llvm_common import PTR, Emitter, br, cond_br, descriptor_type, splat_mask


def _same(fast: Operation, checked: Operation, verify: bool = True) -> None:
    assert type(fast) is type(checked)
    assert fast.properties == checked.properties, fast.name
    assert list(fast.properties) == list(checked.properties), fast.name  # printing order
    assert fast.attributes == checked.attributes, fast.name
    assert list(fast.operands) == list(checked.operands), fast.name
    assert list(fast.successors) == list(checked.successors), fast.name
    assert [r.type for r in fast.results] == [r.type for r in checked.results], fast.name
    if verify:  # (a branch verifies only inside a region)
        fast.verify()


def test_unchecked_builders_build_the_checked_ops():
    v16 = VectorType(f32, [16])
    block = Block(arg_types=[i64, i64, i1, PTR, f32, v16, v16, v16, descriptor_type(1), f64])
    x, y, c, p, s, va, vb, vc, d, w = block.args
    other, third = Block(arg_types=[i64]), Block()
    e = Emitter()
    pairs = [
        (e.select(c, x, y), llvm.SelectOp(c, x, y)),
        (e.undef(d.type), llvm.UndefOp(d.type)),
        (e.cast(llvm.TruncOp, x, i32), llvm.TruncOp(x, i32)),
        (e.cast(llvm.ZExtOp, c, i64), llvm.ZExtOp(c, i64)),
        (e.cast(llvm.SExtOp, c, i64), llvm.SExtOp(c, i64)),
        (e.cast(llvm.SIToFPOp, x, f64), llvm.SIToFPOp(x, f64)),
        (e.cast(llvm.FPTruncOp, w, f32), llvm.FPTruncOp(w, f32)),
        (e.cast(llvmx.FPToSIOp, s, i64), llvmx.FPToSIOp(s, i64)),
        (e.fma(va, vb, vc), llvm.FMAOp(va, vb, vc)),
        (e.insert_element(va, s, x), llvm.InsertElementOp(va, s, x)),
        (e.shuffle(va, vb, splat_mask(16), v16),
         llvm.ShuffleVectorOp(va, vb, DenseArrayBase.from_list(i32, [0] * 16), v16)),
        (e.load(p, v16, 4), llvm.LoadOp(p, v16, alignment=4)),
        (e.gep(p, 3, f32), llvm.GEPOp(p, [3], f32, inbounds=True)),
    ]
    for fast, checked in pairs:
        _same(fast.owner, checked)
    e.store(s, p)
    e.store(va, p, 4)
    _same(e.ops[-2], llvm.StoreOp(s, p))
    _same(e.ops[-1], llvm.StoreOp(va, p, alignment=4))
    _same(br(other, [x]), llvm.BrOp(other, x), verify=False)
    _same(br(third, []), llvm.BrOp(third), verify=False)
    _same(cond_br(c, other, [y], third, []), llvm.CondBrOp(c, other, [y], third, []), verify=False)
    _same(cond_br(c, third, [], other, [x]), llvm.CondBrOp(c, third, [], other, [x]), verify=False)


def test_llvmx_constructors_build_what_irdl_builds():
    block = Block(arg_types=[f32, PTR, i64])
    s, p, n = block.args
    fm = llvm.FastMathAttr("fast")
    cases = [
        (llvmx.IntrinsicOp("llvm.tanh.f32", [s], f32, fm), "llvm.tanh.f32", [s], [f32], fm),
        (llvmx.IntrinsicOp("llvm.trap", [], None), "llvm.trap", [], [], llvm.FastMathAttr(None)),
    ]
    for op, name, args, types, flags in cases:
        checked = llvmx.IntrinsicOp.create(operands=args, result_types=types,
                                           properties={"intrin": llvmx.StringAttr(name),
                                                       "fastmath": flags})
        _same(op, checked)
        assert str(op) == str(checked)
    call = llvmx.CallIndirectOp(p, [n, p], PTR)
    assert list(call.operands) == [p, n, p] and call.callee is p and list(call.args) == [n, p]
    assert [r.type for r in call.results] == [PTR]
    call.verify()
    cast = llvmx.UIToFPOp(n, f64)
    assert cast.arg is n and cast.result.type == f64
    cast.verify()
    hint = llvmx.PrefetchOp(p, 2)
    _same(hint, llvmx.PrefetchOp.create(operands=[p], properties={"locality": IntegerAttr(2, 32)}))
    assert str(hint).startswith("llvmx.prefetch %") and str(hint).endswith("{locality = 2 : i32}")
    # they print and verify inside a function like any op
    fn = llvm.FuncOp("f", llvm.LLVMFunctionType([f32, PTR, i64], llvm.LLVMVoidType()),
                     body=Region(block))
    block.add_ops([cases[0][0], call, cast, llvm.ReturnOp()])
    fn.verify()
    assert 'llvmx.intrinsic "llvm.tanh.f32"' in str(fn)


def test_loop_prefetch_builds_what_irdl_builds():
    from xdsl.dialects.builtin import IndexType, MemRefType

    from ember.dialects.loop import PrefetchOp

    block = Block(arg_types=[MemRefType(f32, [-1, -1]), IndexType(), IndexType()])
    m, i, j = block.args
    op = PrefetchOp(m, [i, j], 1)
    _same(op, PrefetchOp.create(operands=[m, i, j], properties={"locality": IntegerAttr(1, 32)}))
    assert op.memref is m and list(op.indices) == [i, j]
    assert "loop.prefetch" in str(op) and "locality = 1 : i32" in str(op)


def test_like_builds_arith_ops_as_their_constructors():
    from xdsl.dialects import arith
    from xdsl.dialects.builtin import IndexType

    from ember.lowering.llvm_common import like

    index = IndexType()
    block = Block(arg_types=[index, index, f64, f64, i1, i64])
    x, y, f, g, c, n = block.args
    pairs = [
        (like(arith.AddiOp, (x, y), index), arith.AddiOp(x, y)),
        (like(arith.MuliOp, (x, y), index), arith.MuliOp(x, y)),
        (like(arith.DivUIOp, (x, y), index), arith.DivUIOp(x, y)),
        (like(arith.MinUIOp, (x, y), index), arith.MinUIOp(x, y)),
        (like(arith.AddfOp, (f, g), f64), arith.AddfOp(f, g)),
        (like(arith.CmpiOp, (x, y), i1, "ult"), arith.CmpiOp(x, y, "ult")),
        (like(arith.CmpiOp, (x, y), i1, "eq"), arith.CmpiOp(x, y, "eq")),
        (like(arith.SelectOp, (c, x, y), index), arith.SelectOp(c, x, y)),
        (like(arith.IndexCastOp, (x,), i64, i64), arith.IndexCastOp(x, i64)),
        (like(arith.SIToFPOp, (n,), f64, f64), arith.SIToFPOp(n, f64)),
    ]
    for fast, checked in pairs:
        _same(fast, checked)
        assert str(fast).split("=", 1)[1] == str(checked).split("=", 1)[1]


def test_fast_arith_and_access_build_the_checked_ops():
    """``FastArith``/``FastAccess`` (the packed matmul's builders) against xDSL's own."""
    from xdsl.dialects import arith, memref, vector
    from xdsl.dialects.builtin import IndexType, MemRefType

    from ember.lowering.llvm_common import FastAccess as F
    from ember.lowering.llvm_common import FastArith as A

    index, v16 = IndexType(), VectorType(f32, [16])
    block = Block(arg_types=[index, index, i1, f32, v16, MemRefType(f32, [-1, -1]), MemRefType(f64, [384])])
    x, y, c, s, v, m, t = block.args
    pairs = [(getattr(A, name)(x, y), getattr(arith, name)(x, y))
             for name in ("AddiOp", "SubiOp", "MuliOp", "DivUIOp", "RemUIOp", "MinUIOp", "MaxUIOp")]
    pairs += [
        (A.AddfOp(s, s), arith.AddfOp(s, s)),
        (A.CmpiOp(x, y, "ule"), arith.CmpiOp(x, y, "ule")),
        (A.SelectOp(c, x, y), arith.SelectOp(c, x, y)),
        (A.SelectOp(c, m, m), arith.SelectOp(c, m, m)),
        (F.load(m, [x, y]), memref.LoadOp.get(m, [x, y])),
        (F.load(t, [x]), memref.LoadOp.get(t, [x])),
        (F.store(s, m, [x, y]), memref.StoreOp.get(s, m, [x, y])),
        (F.vload(m, [x, y], v16), vector.LoadOp(m, [x, y], v16)),
        (F.vstore(v, m, [x, y]), vector.StoreOp(v, m, [x, y])),
        (F.broadcast(s, v16), vector.BroadcastOp(s, v16)),
        (F.fma(v, v, v), vector.FMAOp(v, v, v)),
    ]
    for fast, checked in pairs:
        _same(fast, checked)
        assert str(fast).split("=", 1)[-1] == str(checked).split("=", 1)[-1]


def test_like_builds_llvm_ops_as_their_constructors():
    from ember.lowering.llvm_common import like, walk_ops

    block = Block(arg_types=[i64, i64, f64, f64])
    x, y, f, g = block.args
    eq = llvm.ICmpOp(x, y, llvm.IntegerAttr(0, i64)).predicate
    ptr = Block(arg_types=[PTR]).args[0]
    pairs = [
        (like(llvm.PtrToIntOp, (ptr,), i64, i64), llvm.PtrToIntOp(ptr, i64)),
        (like(llvm.FMulOp, (f, g), f64), llvm.FMulOp(f, g)),
        (like(llvm.ICmpOp, (x, y), i1, eq), llvm.ICmpOp(x, y, eq)),
        (like(llvm.FCmpOp, (f, g), i1, "oge"), llvm.FCmpOp(f, g, "oge")),
    ]
    for fast, checked in pairs[1:]:
        _same(fast, checked)
        block.add_ops([fast, checked])
    _same(pairs[0][0], pairs[0][1], verify=False)
    fn = llvm.FuncOp("f", llvm.LLVMFunctionType([i64, i64, f64, f64], llvm.LLVMVoidType()),
                     body=Region(block))
    block.add_op(llvm.ReturnOp())
    assert list(walk_ops(fn)) == list(fn.walk())[1:]
    assert list(walk_ops(fn.body)) == list(fn.body.walk())


def test_loop_dialect_constructors_build_what_irdl_builds():
    from xdsl.dialects.builtin import IndexType
    from xdsl.irdl import IRDLOperation

    from ember.dialects import loop

    index = IndexType()

    def checked(cls, **kwargs):
        op = cls.__new__(cls)
        IRDLOperation.__init__(op, **kwargs)
        return op

    block = Block(arg_types=[index, index, index, f32])
    lb, ub, step, z = block.args
    body = Block(arg_types=[index, f32])
    fast = loop.ForOp(lb, ub, step, [z], Region(Block(arg_types=[index, f32])))
    _same(fast, checked(loop.ForOp, operands=[[lb], [ub], [step], [z]], result_types=[[f32]],
                        regions=[Region(body)]), verify=False)
    body2 = Block(arg_types=[index, index])
    fast = loop.ParallelOp([lb, lb], [ub, ub], [step, step], Block(arg_types=[index, index]))
    _same(fast, checked(loop.ParallelOp, operands=[[lb, lb], [ub, ub], [step, step], []],
                        result_types=[[]], regions=[Region(body2)]), verify=False)
    fast = loop.ParallelOp([lb], [ub], [step], Block(arg_types=[index, f32]), [z], ["add"])
    _same(fast, checked(loop.ParallelOp, operands=[[lb], [ub], [step], [z]], result_types=[[f32]],
                        regions=[Region(Block(arg_types=[index, f32]))],
                        properties={"kinds": loop.ArrayAttr([loop.StringAttr("add")])}),
          verify=False)  # (empty bodies)
    assert fast.reduction_kinds == ("add",)
    _same(loop.YieldOp(z), checked(loop.YieldOp, operands=[[z]]), verify=False)


def test_unchecked_calls_are_the_checked_ones():
    from ember.lowering.llvm_common import call

    block = Block(arg_types=[i64, f64, PTR])
    x, f, p = block.args
    fm = llvm.FastMathAttr("fast")
    pairs = [(call("foo", [x, f, p], i64), llvm.CallOp("foo", x, f, p, return_type=i64)),
             (call("bar", [p], None), llvm.CallOp("bar", p, return_type=None)),
             (call("erff", [f], f64, fm), llvm.CallOp("erff", f, return_type=f64, fastmath=fm))]
    for fast, checked in pairs:  # (a call verifies only inside a module: its callee's table)
        _same(fast, checked, verify=False)
        assert str(fast).split("=", 1)[-1] == str(checked).split("=", 1)[-1]


def test_loop_effects_are_xdsls_recursive_effects():
    """``loop.BodyEffects`` gives every loop the set xDSL's ``RecursiveMemoryEffect`` gives."""
    from pathlib import Path

    from xdsl.parser import Parser
    from xdsl.traits import RecursiveMemoryEffect

    from ember.context import make_context
    from ember.dialects import loop
    from ember.pipeline import lower

    loops = []
    for name in ("tensor-to-loop", "matmul-packed"):  # (nested loops, allocations, stores)
        text = (Path(__file__).parent / f"filecheck/lowering/{name}.mlir").read_text()
        module = Parser(make_context(), text).parse_module()
        lower(make_context(), module, start="tensor", stop="loop")
        loops += [op for op in module.walk() if isinstance(op, (loop.ForOp, loop.ParallelOp))]
    assert len(loops) > 20
    for op in loops:
        assert loop.BodyEffects.get_effects(op) == RecursiveMemoryEffect.get_effects(op)
