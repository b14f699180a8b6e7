"""The packed float matmul of ``tensor-to-loop`` (GotoBLAS/BLIS blocking), for f32 and f64.

``C[i, j] = sum_k A[i, k] * B[k, j]`` over a grid of tasks, each ``MB`` rows x ``nb``
columns of ``C`` (``nb``: a multiple of ``NR`` near a quarter of ``n``, at most ``NC``; the
task grid is the ``loop.parallel`` that ``parallel-outline`` runs on threads, split over
column panels first: they share no packing). A task zeroes its block of ``C``, then for each
``KC``-deep slice of ``k``:

* packs the slice of ``B`` it needs (``KC x nb``) into a contiguous buffer of its own, in
  ``NR``-wide column strips (``Bp[strip][k][NR]``), so the micro-kernel streams it with
  unit stride (no TLB misses from ``KC`` rows far apart; one buffer per task, hence per
  thread). Columns past ``n`` repeat the last column; their results are never stored.
* runs the ``MR x NR`` micro-kernel on every row strip x column strip of the block: ``MR x
  NR / LANES`` accumulator vectors stay in registers while ``k`` advances; per ``k``,
  ``NR / LANES`` vector loads of ``Bp``, ``MR`` broadcasts of ``A`` (rows past ``m`` read
  the last row) and ``MR * NR / LANES`` vector FMAs. Then the tile is added to ``C``:
  directly when it lies inside ``C``, else through a small tile buffer, element by element.

Per ``k`` step of a 12 x 32 f32 tile that is::

    %b0 = vector.load %bp[%o] : memref<?xf32>, vector<16xf32>
    %b1 = vector.load %bp[%o16] : memref<?xf32>, vector<16xf32>
    %a0 = memref.load %A[%r0, %k] : memref<?x?xf32>
    %s0 = vector.broadcast %a0 : f32 to vector<16xf32>
    %c00 = vector.fma %s0, %b0, %acc00 : vector<16xf32>
    %c01 = vector.fma %s0, %b1, %acc01 : vector<16xf32>
    ... (11 more rows)

``A`` is not packed: a row strip (``MR x KC``) stays in L1 while the column strips of the
packed panel (in L2) pass under it. ``B`` may be strided (``x @ y.T``): packing then reads
it element by element.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.builder import Builder
from xdsl.dialects import arith, memref, vector
from xdsl.dialects.builtin import DYNAMIC_INDEX, IndexType, MemRefType, VectorType
from xdsl.ir import Attribute, Block, SSAValue
from xdsl.rewriter import InsertPoint

from ember.dialects.loop import ForOp, ParallelOp, YieldOp
from ember.lowering import scalar_ops as X
from ember.lowering.tensor_ops import seq_loop

#: Micro-tile: MR rows x NV vectors (MR * NV accumulators + NV row pieces of Bp in the 32
#: vector registers of AVX-512).
MR, NV = 12, 2
#: Rows of C per task (a multiple of MR), most columns per task, depth of a k slice.
MB, NC, KC = 240, 512, 256


def _parallel(b: Builder, lbs, ubs, steps, body):
    block = Block(arg_types=[IndexType()] * len(ubs))
    body(Builder(InsertPoint.at_end(block)), list(block.args))
    Builder(InsertPoint.at_end(block)).insert(YieldOp())
    b.insert(ParallelOp(list(lbs), list(ubs), list(steps), block))


@dataclass
class Packed:
    """One packed matmul: buffers, their index functions, sizes, the element type."""

    fl: object
    a: object  # Buffer of A, B and C
    b: object
    c: object
    a_at: object  # (bivs, row, col) -> indices of A, B (their broadcast batch dims read 0)
    b_at: object
    t: Attribute
    lanes: int
    m: SSAValue
    n: SSAValue
    k: SSAValue
    unit_b: bool  # B's rows are contiguous: pack with vector loads

    @property
    def nr(self) -> int:
        return NV * self.lanes

    def i(self, v: int) -> SSAValue:
        return self.fl.index(v)

    def emit(self, batch: list[SSAValue]):
        """The task grid: ``loop.parallel`` over (batch..., column panels, row blocks)."""
        b, nr = self.fl.b, self.nr
        # nb: a quarter of n rounded up to whole strips, at least one strip, at most NC
        quarter = b.insert(arith.DivUIOp(b.insert(arith.AddiOp(self.n, self.i(4 * nr - 1))).result,
                                         self.i(4 * nr))).result
        nb = b.insert(arith.MinUIOp(b.insert(arith.MaxUIOp(quarter, self.i(1))).result,
                                    self.i(NC // nr))).result
        self.nb = b.insert(arith.MuliOp(nb, self.i(nr))).result
        # at least 1: the k-slice loop's step (an empty k still zeroes C)
        self.kc = b.insert(arith.MaxUIOp(b.insert(arith.MinUIOp(self.k, self.i(KC))).result,
                                         self.i(1))).result
        panel = b.insert(arith.MuliOp(self.kc, self.nb)).result
        self.size = b.insert(arith.AddiOp(panel, self.i(MR * nr))).result
        self.tile_at = panel  # the tile buffer follows the packed panel
        nbat = len(batch)
        _parallel(b, [self.i(0)] * (nbat + 2), [*batch, self.n, self.m],
                  [self.i(1)] * nbat + [self.nb, self.i(MB)], self.task)

    def task(self, b: Builder, ivs):
        """One ``MB x nb`` block of C: zero it, then per k slice pack B and run the tiles."""
        *bivs, jb, ib = ivs
        i_end = b.insert(arith.MinUIOp(b.insert(arith.AddiOp(ib, self.i(MB))).result, self.m)).result
        j_end = b.insert(arith.MinUIOp(b.insert(arith.AddiOp(jb, self.nb)).result, self.n)).result
        buf = b.insert(memref.AllocOp([self.size], [], MemRefType(self.t, [DYNAMIC_INDEX]))).memref
        zc = X.const(b, 0, self.t)
        seq_loop(b, ib, i_end, self.i(1), lambda rb, i: seq_loop(
            rb, jb, j_end, self.i(1), lambda cb, j: cb.insert(memref.StoreOp.get(zc, self.c.ref, [*bivs, i, j]))))

        def k_slice(kb: Builder, pc):
            k_end = kb.insert(arith.MinUIOp(kb.insert(arith.AddiOp(pc, self.kc)).result, self.k)).result
            self.pack_b(kb, buf, bivs, pc, k_end, jb, j_end)
            seq_loop(kb, ib, i_end, self.i(MR), lambda rb, i: seq_loop(
                rb, jb, j_end, self.i(self.nr),
                lambda cb, j: self.tile(cb, buf, bivs, i, j, i_end, j_end, pc, k_end, jb)))
        seq_loop(b, self.i(0), self.k, self.kc, k_slice)
        b.insert(memref.DeallocOp.get(buf))

    def strip_offset(self, b: Builder, j, jb, pc):
        """Where ``Bp[k = 0]`` of the strip at column ``j`` would be: strips are ``kc x NR``
        and the slice starts at ``pc`` (the result is only ever offset by ``k * NR``)."""
        start = b.insert(arith.MuliOp(b.insert(arith.SubiOp(j, jb)).result, self.kc)).result
        return b.insert(arith.SubiOp(start, b.insert(arith.MuliOp(pc, self.i(self.nr))).result)).result

    def pack_b(self, b: Builder, buf, bivs, pc, k_end, jb, j_end):
        """``Bp[strip][k - pc][c] = B[k, min(j + c, n - 1)]``: whole strips by vectors (when
        B's rows are contiguous), the last partial strip (or all, for a strided B) by elements."""
        nr, one = self.nr, self.i(1)
        vt = VectorType(self.t, [self.lanes])
        whole = jb
        if self.unit_b:
            width = b.insert(arith.SubiOp(j_end, jb)).result
            whole = b.insert(arith.SubiOp(j_end, b.insert(arith.RemUIOp(width, self.i(nr))).result)).result

            def vec_strip(sb: Builder, j):
                base = self.strip_offset(sb, j, jb, pc)

                def row(rb: Builder, k):
                    at = rb.insert(arith.AddiOp(base, rb.insert(arith.MuliOp(k, self.i(nr))).result)).result
                    for v in range(NV):
                        col = rb.insert(arith.AddiOp(j, self.i(v * self.lanes))).result if v else j
                        dst = rb.insert(arith.AddiOp(at, self.i(v * self.lanes))).result if v else at
                        x = rb.insert(vector.LoadOp(self.b.ref, self.b_at(bivs, k, col), vt)).result
                        rb.insert(vector.StoreOp(x, buf, [dst]))
                seq_loop(sb, pc, k_end, one, row)
            seq_loop(b, jb, whole, self.i(nr), vec_strip)
        last = b.insert(arith.SubiOp(self.n, one)).result

        def elem_strip(sb: Builder, j):
            base = self.strip_offset(sb, j, jb, pc)

            def row(rb: Builder, k):
                at = rb.insert(arith.AddiOp(base, rb.insert(arith.MuliOp(k, self.i(nr))).result)).result

                def elem(eb: Builder, c):
                    col = eb.insert(arith.MinUIOp(eb.insert(arith.AddiOp(j, c)).result, last)).result
                    x = eb.insert(memref.LoadOp.get(self.b.ref, self.b_at(bivs, k, col))).res
                    eb.insert(memref.StoreOp.get(x, buf, [eb.insert(arith.AddiOp(at, c)).result]))
                seq_loop(rb, self.i(0), self.i(nr), one, elem)
            seq_loop(sb, pc, k_end, one, row)
        seq_loop(b, whole, j_end, self.i(nr), elem_strip)

    def tile(self, b: Builder, buf, bivs, i, j, i_end, j_end, pc, k_end, jb):
        """The micro-kernel on rows ``[i, i + MR)`` x columns ``[j, j + NR)``, then C += it."""
        vt = VectorType(self.t, [self.lanes])
        last = b.insert(arith.SubiOp(self.m, self.i(1))).result
        rows = [i] + [b.insert(arith.AddiOp(i, self.i(r))).result for r in range(1, MR)]
        clamped = [b.insert(arith.MinUIOp(r, last)).result for r in rows]
        base = self.strip_offset(b, j, jb, pc)
        zero = b.insert(vector.BroadcastOp(X.const(b, 0, self.t), vt)).vector
        block = Block(arg_types=[IndexType()] + [vt] * (MR * NV))
        kb = Builder(InsertPoint.at_end(block))
        k, accs = block.args[0], list(block.args[1:])
        at = kb.insert(arith.AddiOp(base, kb.insert(arith.MuliOp(k, self.i(self.nr))).result)).result
        bv = [kb.insert(vector.LoadOp(buf, [kb.insert(arith.AddiOp(at, self.i(v * self.lanes))).result
                                            if v else at], vt)).result for v in range(NV)]
        new = []
        for r, row in enumerate(clamped):
            x = kb.insert(memref.LoadOp.get(self.a.ref, self.a_at(bivs, row, k))).res
            s = kb.insert(vector.BroadcastOp(x, vt)).vector
            new += [kb.insert(vector.FMAOp(s, bv[v], accs[r * NV + v])).res for v in range(NV)]
        kb.insert(YieldOp(*new))
        acc = list(b.insert(ForOp(pc, k_end, self.i(1), [zero] * (MR * NV), block)).results)
        self.add_tile(b, buf, bivs, acc, rows, j, i_end, j_end)

    def add_tile(self, b: Builder, buf, bivs, acc, rows, j, i_end, j_end):
        """``C[rows, j:j+NR] += acc``: by vectors if the tile lies inside C (loop of one or no
        trip), else through the tile buffer, element by element."""
        vt = VectorType(self.t, [self.lanes])
        zero, one = self.i(0), self.i(1)
        cols = [j] + [b.insert(arith.AddiOp(j, self.i(v * self.lanes))).result for v in range(1, NV)]
        rows_in = b.insert(arith.CmpiOp(b.insert(arith.AddiOp(rows[0], self.i(MR))).result, i_end, "ule")).result
        cols_in = b.insert(arith.CmpiOp(b.insert(arith.AddiOp(j, self.i(self.nr))).result, j_end, "ule")).result
        inside = b.insert(arith.SelectOp(b.insert(arith.AndIOp(rows_in, cols_in)).result, one, zero)).result

        def direct(db: Builder, _):
            for r, row in enumerate(rows):
                for v, col in enumerate(cols):
                    old = db.insert(vector.LoadOp(self.c.ref, [*bivs, row, col], vt)).result
                    s = db.insert(arith.AddfOp(old, acc[r * NV + v])).result
                    db.insert(vector.StoreOp(s, self.c.ref, [*bivs, row, col]))
        seq_loop(b, zero, inside, one, direct)

        def edge(eb: Builder, _):
            for r in range(MR):
                for v in range(NV):
                    eb.insert(vector.StoreOp(acc[r * NV + v], buf,
                                             [eb.insert(arith.AddiOp(self.tile_at, self.i((r * NV + v) * self.lanes))).result]))
            r_end = eb.insert(arith.MinUIOp(eb.insert(arith.AddiOp(rows[0], self.i(MR))).result, i_end)).result
            c_end = eb.insert(arith.MinUIOp(eb.insert(arith.AddiOp(j, self.i(self.nr))).result, j_end)).result

            def row(rb: Builder, ri):
                off = rb.insert(arith.AddiOp(self.tile_at, rb.insert(arith.MuliOp(
                    rb.insert(arith.SubiOp(ri, rows[0])).result, self.i(self.nr))).result)).result

                def elem(cb: Builder, cj):
                    x = cb.insert(memref.LoadOp.get(buf, [cb.insert(arith.AddiOp(off, cb.insert(arith.SubiOp(cj, j)).result)).result])).res
                    old = cb.insert(memref.LoadOp.get(self.c.ref, [*bivs, ri, cj])).res
                    cb.insert(memref.StoreOp.get(cb.insert(arith.AddfOp(old, x)).result, self.c.ref, [*bivs, ri, cj]))
                seq_loop(rb, j, c_end, one, elem)
            seq_loop(eb, rows[0], r_end, one, row)
        seq_loop(b, inside, one, one, edge)
