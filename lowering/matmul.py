"""``tensor-to-loop`` for ``etensor.matmul``: which algorithm runs which matmul.

* Float matmuls (f32, f64) with more than one row and column: packed, cache-blocked and
  register-blocked, as BLAS does it (:mod:`ember.lowering.matmul_packed`), for any layout of
  ``A`` and ``B``; with ``tensor-to-loop{fuse_epilogue=true}`` the elementwise ops on the
  result (bias, activation) run in its write-back (:mod:`ember.lowering.matmul_epilogue`).
* A float matrix times a column (``n == 1``, static: ``x @ v`` with a 1-D ``v``): one dot
  product per row, a reduction LLVM vectorises (``fastmath<reassoc,contract>``).
* A float row times a matrix (``m == 1``, static) and everything left over below: one row of
  ``C`` at a time, i-k-j (the j loop is unit-stride and vectorises).
* Integer and bool matmuls: a scalar ``ROWS x COLS`` register tile over all of ``k``, the
  leftover rows and columns i-k-j.

Float products and sums may contract into FMAs, as BLAS does.
"""

from __future__ import annotations

from xdsl.builder import Builder
from xdsl.dialects import arith, memref
from xdsl.dialects.builtin import Float32Type, Float64Type, IndexType, f64
from xdsl.dialects.utils.fast_math import FastMathFlag
from xdsl.ir import Block
from xdsl.rewriter import InsertPoint

from ember.dialects import etensor as T
from ember.dialects import shapes as S
from ember.dialects.loop import ForOp, ParallelOp, YieldOp
from ember.lowering import matmul_epilogue as E
from ember.lowering import matmul_packed as P
from ember.lowering import scalar_ops as X
from ember.lowering.llvm_common import is_strided
from ember.lowering.reductions import SUM_BLOCK, blocked_sum
from ember.lowering.tensor_ops import broadcast_sizes, seq_loop

#: The scalar tile of integer matmuls.
ROWS = 4
COLS = 32
#: Lanes of the 512-bit vectors of the packed float path (LLVM splits them on narrower targets).
LANES = {Float32Type: 16, Float64Type: 8}
_CONTRACT = arith.FastMathFlagsAttr([FastMathFlag.ALLOW_CONTRACT])
_DOT = arith.FastMathFlagsAttr([FastMathFlag.REASSOC, FastMathFlag.ALLOW_CONTRACT])


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

    def row_dot(b: Builder, ivs):
        """``C[i, 0] = sum_k A[i, k] * B[k, 0]`` with a reassociable sum (vectorised). A
        float32 dot of one row (``np.dot`` of two vectors) sums blocks of ``SUM_BLOCK``
        products in float32 and the blocks in float64, as float32 sums do: summed in float32
        alone, the dot of two 4M-element vectors was 0.4 % off (NumPy's sdot: 1e-6)."""
        *bivs, i = ivs

        def product(kb: Builder, k):
            x = kb.insert(memref.LoadOp.get(a.ref, _index(a_shape, bivs, i, k, zero))).res
            y = kb.insert(memref.LoadOp.get(bb.ref, _index(b_shape, bivs, k, zero, zero))).res
            return kb.insert(arith.MulfOp(x, y, _DOT)).result

        if isinstance(t, Float32Type) and a_shape[-2] == 1:
            blocks = b.insert(arith.DivUIOp(b.insert(arith.AddiOp(
                kk, fl.index(SUM_BLOCK - 1))).result, fl.index(SUM_BLOCK))).result
            total = blocked_sum(fl, b, [kk], blocks, X.const(b, 0, f64), t,
                                 lambda kb, rivs, acc: kb.insert(arith.AddfOp(
                                     acc, product(kb, rivs[-1]), _DOT)).result)
            total = X.cast(b, total, f64, t)
        else:
            block = Block(arg_types=[IndexType(), t])
            kb = Builder(InsertPoint.at_end(block))
            k, acc = block.args
            kb.insert(YieldOp(kb.insert(arith.AddfOp(acc, product(kb, k), _DOT)).result))
            total = b.insert(ForOp(zero, kk, one, [X.const(b, 0, t)], block)).results[0]
        b.insert(memref.StoreOp.get(total, out.ref, [*bivs, i, zero]))

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
    if lanes is not None and 1 not in (a_shape[-2], b_shape[-1]):  # floats: packed, blocked
        def packed(into, epilogue=None):
            P.Packed(fl, a, bb, into, lambda bivs, r, c: _index(a_shape, bivs, r, c, zero),
                     lambda bivs, r, c: _index(b_shape, bivs, r, c, zero), t, lanes, m, n, kk,
                     not is_strided(a.ref.type), not is_strided(bb.ref.type), epilogue).emit(batch)
        links = E.chain(op) if fl.fuse_epilogue else []
        if links and not fl.epilogue_ops.intersection(links):  # (x @ w1 + x @ w2: one of them)
            # the elementwise ops on the result run in the write-back, where the last one was
            E.defer(fl, op, links, [*batch, m, n], packed)
            return
        out = fl.alloc(shape, [*batch, m, n], t)
        packed(out)
        fl.bufs[op.result] = out
        return
    out = fl.alloc(shape, [*batch, m, n], t)
    if lanes is not None and b_shape[-1] == 1:  # matrix @ column, and vector . vector
        _loop(fl, fl.b, [zero] * (nb + 1), [*batch, m], [one] * (nb + 1), row_dot)
        fl.bufs[op.result] = out
        return
    m_main = fl.b.insert(arith.SubiOp(m, fl.b.insert(arith.RemUIOp(m, fl.index(ROWS))).result)).result
    n_main = fl.b.insert(arith.SubiOp(n, fl.b.insert(arith.RemUIOp(n, fl.index(COLS))).result)).result
    _loop(fl, fl.b, [zero] * (nb + 2), [*batch, m_main, n_main],
          [one] * nb + [fl.index(ROWS), fl.index(COLS)], tile)
    _loop(fl, fl.b, [zero] * (nb + 1), [*batch, m_main], [one] * (nb + 1), rows_from(n_main))
    _loop(fl, fl.b, [zero] * nb + [m_main], [*batch, m], [one] * (nb + 1), rows_from(zero))
    fl.bufs[op.result] = out
