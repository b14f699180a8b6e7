"""``tensor-to-loop`` for ``etensor.matmul``: register tiles, cache blocks, no packing.

Float matmuls whose ``B`` has unit column stride use explicit SIMD values: a tile of ``ROWS``
rows x 2 vectors of ``C`` stays in registers while ``k`` advances (per ``k``: two vector loads
of a row piece of ``B``, ``ROWS`` broadcasts of ``A``, ``2 * ROWS`` vector FMAs). The main
region is cache-blocked: each parallel iteration owns ``MC`` rows of ``C``; for each
``NC``-wide column panel and each ``KC``-deep slice of ``k``, the ``KC x NC`` block of ``B``
stays in L2 while the row tiles stream over it, adding to ``C`` (zeroed first). Integer, bool and strided-``B`` matmuls use a scalar ``ROWS x COLS``
tile over all of ``k``. Leftover rows and columns run one row at a time, i-k-j. Float
products and sums may contract into FMAs, as BLAS does.
"""

from __future__ import annotations

from xdsl.builder import Builder
from xdsl.dialects import arith, memref, vector
from xdsl.dialects.builtin import Float32Type, Float64Type, IndexType, VectorType
from xdsl.dialects.utils.fast_math import FastMathFlag
from xdsl.ir import Block
from xdsl.rewriter import InsertPoint

from ember.dialects import etensor as T
from ember.dialects import shapes as S
from ember.dialects.loop import ForOp, ParallelOp, YieldOp
from ember.lowering import matmul_packed as P
from ember.lowering import scalar_ops as X
from ember.lowering.llvm_common import is_strided
from ember.lowering.tensor_ops import broadcast_sizes, seq_loop

ROWS = 4
COLS = 32
#: Float matmuls with a unit-stride ``B`` use explicit SIMD values: a ROWS x (2 vectors) tile
#: of accumulators, 512-bit vectors (LLVM splits them on narrower targets).
LANES = {Float32Type: 16, Float64Type: 8}
#: Cache blocking of the vector path: MC rows of C per parallel iteration, NC-wide column
#: panels, KC-deep slices of k (a KC x NC block of B: 128 KiB of f32, for L2). MC = 32 leaves
#: two parallel blocks even for a batch of 64 rows.
MC, NC, KC = 32, 256, 128
_CONTRACT = arith.FastMathFlagsAttr([FastMathFlag.ALLOW_CONTRACT])


def _loop(fl, b: Builder, lbs, ubs, steps, body):
    """A ``loop.parallel`` over the given bounds; ``body(builder, ivs)``."""
    block = Block(arg_types=[IndexType()] * len(ubs))
    inner = Builder(InsertPoint.at_end(block))
    body(inner, list(block.args))
    inner.insert(YieldOp())
    b.insert(ParallelOp(list(lbs), list(ubs), list(steps), block))


def _index(src_shape, batch_ivs, r, c, zero):
    nb = len(src_shape) - 2
    mine = batch_ivs[len(batch_ivs) - nb:] if nb else []
    idx = [zero if d == 1 else v for d, v in zip(src_shape[:nb], mine)]
    return [*idx, zero if src_shape[-2] == 1 else r, zero if src_shape[-1] == 1 else c]


def matmul(fl, op: T.MatmulOp):
    """``C[..., i, j] = sum_k A[..., i, k] * B[..., k, j]``."""
    a, bb = fl.buffer(op.lhs), fl.buffer(op.rhs)
    a_shape, b_shape = S.shape_of(op.lhs.type), S.shape_of(op.rhs.type)
    shape = S.shape_of(op.result.type)
    t = op.result.type.element_type
    fl.check_equal(a.sizes[-1], bb.sizes[-2],
                   "matmul: Input operand 1 has a mismatch in its core dimension 0")
    batch = broadcast_sizes(fl, [op.lhs, op.rhs], shape[:-2] + (1, 1))[:-2] if len(shape) > 2 else []
    m, n, kk = a.sizes[-2], bb.sizes[-1], a.sizes[-1]
    out = fl.alloc(shape, [*batch, m, n], t)
    zero, one = fl.index(0), fl.index(1)
    is_bool, is_float = S.is_bool(t), S.is_float(t)

    def fma(b: Builder, c, x, y):
        if is_bool:
            return b.insert(arith.OrIOp(c, b.insert(arith.AndIOp(x, y)).result)).result
        if is_float:
            prod = b.insert(arith.MulfOp(x, y, _CONTRACT)).result
            return b.insert(arith.AddfOp(c, prod, _CONTRACT)).result
        return b.insert(arith.AddiOp(c, b.insert(arith.MuliOp(x, y)).result)).result

    def tile(b: Builder, ivs):
        """A ROWS x COLS block of C accumulated in registers over all of k."""
        *bivs, i0, j0 = ivs
        ii = [i0] + [b.insert(arith.AddiOp(i0, fl.index(r))).result for r in range(1, ROWS)]
        jj = [j0] + [b.insert(arith.AddiOp(j0, fl.index(c))).result for c in range(1, COLS)]
        zc = X.const(b, 0, t)
        block = Block(arg_types=[IndexType()] + [t] * (ROWS * COLS))
        kb = Builder(InsertPoint.at_end(block))
        k, accs = block.args[0], list(block.args[1:])
        bvs = [kb.insert(memref.LoadOp.get(bb.ref, _index(b_shape, bivs, k, j, zero))).res for j in jj]
        new = []
        for r, i in enumerate(ii):
            av = kb.insert(memref.LoadOp.get(a.ref, _index(a_shape, bivs, i, k, zero))).res
            new += [fma(kb, accs[r * COLS + c], av, bvs[c]) for c in range(COLS)]
        kb.insert(YieldOp(*new))
        loop = b.insert(ForOp(zero, kk, one, [zc] * (ROWS * COLS), block))
        for r, i in enumerate(ii):
            for c, j in enumerate(jj):
                b.insert(memref.StoreOp.get(loop.results[r * COLS + c], out.ref, [*bivs, i, j]))

    def rows_from(j_start):
        def body(b, ivs):
            *bivs, i = ivs
            rows_cols(b, bivs, i, j_start)
        return body

    def rows_cols(b, bivs, i, j_start):
        """One row of C for columns [j_start, n) (the edges of the tiling), i-k-j order."""
        zc = X.const(b, 0, t)
        _loop(fl, b, [j_start], [n], [one],
              lambda jb, jv: jb.insert(memref.StoreOp.get(zc, out.ref, [*bivs, i, jv[0]])))

        def kbody(kb: Builder, k):
            av = kb.insert(memref.LoadOp.get(a.ref, _index(a_shape, bivs, i, k, zero))).res

            def jbody(jb: Builder, jv):
                bv = jb.insert(memref.LoadOp.get(bb.ref, _index(b_shape, bivs, k, jv[0], zero))).res
                cv = jb.insert(memref.LoadOp.get(out.ref, [*bivs, i, jv[0]])).res
                jb.insert(memref.StoreOp.get(fma(jb, cv, av, bv), out.ref, [*bivs, i, jv[0]]))

            _loop(fl, kb, [j_start], [n], [one], jbody)

        seq_loop(b, zero, kk, one, kbody)

    lanes = LANES.get(type(t))
    nb = len(batch)
    if lanes is not None:  # floats: packed and register-blocked (matmul_packed)
        at_least = fl.b.insert(arith.CmpiOp(m, fl.index(P.MR), "uge")).result
        m_main = fl.b.insert(arith.SelectOp(at_least, m, zero)).result
        P.Packed(fl, a, bb, out, lambda bivs, r, c: _index(a_shape, bivs, r, c, zero),
                 lambda bivs, r, c: _index(b_shape, bivs, r, c, zero), t, lanes, m_main, n, kk,
                 not is_strided(bb.ref.type)).emit(batch)
        _loop(fl, fl.b, [zero] * nb + [m_main], [*batch, m], [one] * (nb + 1), rows_from(zero))
        fl.bufs[op.result] = out
        return
    m_main = fl.b.insert(arith.SubiOp(m, fl.b.insert(arith.RemUIOp(m, fl.index(ROWS))).result)).result
    n_main = fl.b.insert(arith.SubiOp(n, fl.b.insert(arith.RemUIOp(n, fl.index(COLS))).result)).result
    _loop(fl, fl.b, [zero] * (nb + 2), [*batch, m_main, n_main],
          [one] * nb + [fl.index(ROWS), fl.index(COLS)], tile)
    _loop(fl, fl.b, [zero] * (nb + 1), [*batch, m_main], [one] * (nb + 1), rows_from(n_main))
    _loop(fl, fl.b, [zero] * nb + [m_main], [*batch, m], [one] * (nb + 1), rows_from(zero))
    fl.bufs[op.result] = out
