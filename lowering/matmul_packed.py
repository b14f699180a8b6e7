"""The packed float matmul of ``tensor-to-loop`` (GotoBLAS/BLIS blocking), for f32 and f64.

``C[i, j] = sum_k A[i, k] * B[k, j]`` over a grid of tasks, each ``mb`` rows x ``nb``
columns of ``C`` (``mb``: ``m`` cut into about ``m / MB`` equal blocks of whole ``MR``
strips; ``nb``: a multiple of ``NR`` near a quarter of ``n``, at most ``NC``).
The tasks are the iterations of one ``loop.parallel`` over a flat index (column panel outer,
row block inner), which ``parallel-outline`` shares out to threads: every task, not only the
column panels (512 x 512 on 2 threads: 8 tasks, not 4 chunks of 2; 2-thread speedup
1.69-1.75x -> 1.86-1.99x). For each ``KC``-deep slice of ``k`` (one empty slice when
``k == 0``), a task:

* packs the slice of ``B`` it needs (``KC x nb``) into a buffer of its own (so, per thread),
  in ``NR``-wide column strips (``Bp[strip][k][NR]``): the micro-kernel streams it with unit
  stride, not ``KC`` rows far apart (TLB, prefetch). For a C-contiguous ``B`` the tiles of
  the block's first strip of rows pack it as they go: they read whole strips of ``B`` where
  they are (``arith.select`` of the memref, row stride and offset per strip), store what they
  read into ``Bp``, and prefetch the row ``PREFETCH_AHEAD`` steps ahead (``loop.prefetch``).
  Reading ``B`` from L3 overlaps the arithmetic instead of preceding it: 64 x 512 x 1024
  went from 467 to 417 us, 16 x 512 x 1024 from 202 to 153 us, squares stayed the same.
  The partial last strip (zero-padded) and a strided ``B`` (``x @ y.T``) are packed before,
  element by element.
* runs the micro-kernel on every ``MR x NR`` tile of its block (the last rows in
  ``MR_TAIL``-row strips, whose rows past ``m`` re-read row ``m - 1``): ``MR * NV``
  accumulator vectors stay in registers while ``k`` advances. Per step of a 12 x 32 f32
  tile::

      %b0 = vector.load %bp[%o] : memref<?xf32>, vector<16xf32>
      %b1 = vector.load %bp[%o16] : memref<?xf32>, vector<16xf32>
      %a0 = memref.load %ap[%kk] : memref<3072xf32>
      %s0 = vector.broadcast %a0 : f32 to vector<16xf32>
      %c00 = vector.fma %s0, %b0, %acc00 : vector<16xf32>
      %c01 = vector.fma %s0, %b1, %acc01 : vector<16xf32>
      ... (11 more rows)

* writes each tile into ``C`` through an ``MR x NR`` buffer, for the rows and columns
  inside ``C``: the first slice adds it to a zero tile of the task's own (``C`` is never
  zeroed, nor read before its first write), later slices to ``C``; the last one applies the
  *epilogue*, if there is one, to the finished sum (the bias and activation of
  ``np.maximum(x @ w + b, 0)``, see :mod:`ember.lowering.matmul_epilogue`).

Before a strip of rows runs its tiles, its ``MR x KC`` rows of ``A`` are copied side by side
(``Ap[r][k]``, rows ``KC`` apart; by vectors when ``A`` is C-contiguous, else by elements):
rows of 4 KiB or more in ``A`` all fall on the same L1 sets, and 12 of them fill the 12 ways.
64 x 512 x 1024 went from 422-462 to 393-435 us, 512² from 1512 to 1379 us, ``x.T @ y``
1024² from 18.2 to 15.2 ms (best of 40, 7 rounds, in one process).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.builder import Builder
from xdsl.dialects import memref, scf
from xdsl.dialects.builtin import DYNAMIC_INDEX, IndexType, MemRefType, UnitAttr, VectorType
from xdsl.ir import Attribute, Block, Region, SSAValue
from xdsl.rewriter import InsertPoint

from ember.dialects.loop import ForOp, ParallelOp, PrefetchOp, YieldOp
from ember.lowering import scalar_ops as X
from ember.lowering.llvm_common import FastAccess as F
from ember.lowering.llvm_common import FastArith as arith  # the ``arith`` constructors, unchecked
from ember.lowering.tensor_ops import flat_view, seq_loop
from ember.passes.canonicalize import GENERATED

#: Micro-tile: MR rows x NV vectors (MR * NV accumulators + NV row pieces of Bp in the 32
#: vector registers of AVX-512).
MR, NV = 12, 2
#: The last rows of a task (fewer than MR) run in strips of MR_TAIL rows (a second, smaller
#: kernel: a 12-row kernel on 4 rows would waste two thirds of its work).
MR_TAIL = 4
#: About the rows of C per task, most columns per task, depth of a k slice.
MB, NC, KC = 240, 512, 256
#: The packing kernel prefetches the row of B this many steps of k ahead (into every cache
#: level): rows of 4 KiB (n = 1024 f32) each sit in a page of their own, where the hardware
#: does not prefetch (64 x 512 x 1024: 467 -> 417 us).
PREFETCH_AHEAD = 8


def _parallel(b: Builder, lbs, ubs, steps, body) -> ParallelOp:
    block = Block(arg_types=[IndexType()] * len(ubs))
    inner = Builder(InsertPoint.at_end(block))
    body(inner, list(block.args))
    inner.insert(YieldOp())
    return b.insert(ParallelOp(list(lbs), list(ubs), list(steps), block))


def _if(b: Builder, cond: SSAValue, then: Callable[[Builder], None], other: Callable[[Builder], None]):
    """``scf.if %cond { then } else { other }`` (no results)."""
    blocks = []
    for body in (then, other):
        block = Block()
        inner = Builder(InsertPoint.at_end(block))
        body(inner)
        inner.insert(scf.YieldOp())
        blocks.append(block)
    b.insert(scf.IfOp(cond, [], Region(blocks[0]), Region(blocks[1])))


#: ``epilogue(builder, index of C, finished sum) -> the value C holds at that index``
Epilogue = Callable[[Builder, list[SSAValue], SSAValue], SSAValue]


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
    contiguous_a: bool  # A is C-contiguous: its strips are packed by vectors
    contiguous_b: bool  # B is C-contiguous: the first strip of rows reads it in place
    epilogue: Epilogue | None = None

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
        # at least 1: the k-slice loop's step; an empty k runs one empty slice, which stores
        # the zeros (or the epilogue of zeros) into C
        self.kc = b.insert(arith.MaxUIOp(b.insert(arith.MinUIOp(self.k, self.i(KC))).result,
                                         self.i(1))).result
        self.k_top = b.insert(arith.MaxUIOp(self.k, self.i(1))).result
        self.size = b.insert(arith.MuliOp(self.kc, self.nb)).result
        # mb: m in round(m / MB) equal blocks of whole MR strips (each block packs B once)
        blocks = b.insert(arith.MaxUIOp(b.insert(arith.DivUIOp(
            b.insert(arith.AddiOp(self.m, self.i(MB // 2))).result, self.i(MB))).result, self.i(1))).result
        per = b.insert(arith.DivUIOp(b.insert(arith.AddiOp(
            self.m, b.insert(arith.SubiOp(blocks, self.i(1))).result)).result, blocks)).result
        strips = b.insert(arith.DivUIOp(b.insert(arith.AddiOp(per, self.i(MR - 1))).result, self.i(MR))).result
        self.mb = b.insert(arith.MuliOp(b.insert(arith.MaxUIOp(strips, self.i(1))).result, self.i(MR))).result
        # the first strip of rows reads whole strips of a C-contiguous B where they are
        self.flat = flat_view(b, self.b, self.t, self.i(1)) if self.contiguous_b else None
        self.c_flat = flat_view(b, self.c, self.t, self.i(1))  # the first slice's writes select a zero tile instead
        nbat = len(batch)
        # one flat task index over (column panel, row block), so that the threads share out
        # every task, not only the column panels
        ceil = lambda x, d: b.insert(arith.DivUIOp(  # noqa: E731
            b.insert(arith.AddiOp(x, b.insert(arith.SubiOp(d, self.i(1))).result)).result, d)).result
        self.row_blocks = ceil(self.m, self.mb)
        tasks = b.insert(arith.MuliOp(ceil(self.n, self.nb), self.row_blocks)).result
        tasks = _parallel(b, [self.i(0)] * (nbat + 1), [*batch, tasks], [self.i(1)] * (nbat + 1),
                          self._flat_task)
        if self.epilogue is None:  # (an epilogue's ops come from the elementwise fusion)
            tasks.attributes[GENERATED] = UnitAttr()

    def linear(self, b: Builder, indices: list[SSAValue], sizes) -> SSAValue:
        """The C-order offset of ``indices`` in a buffer of ``sizes``, built folded (leading
        zero indices add nothing): the task loop is generated in canonical form."""
        zero = self.i(0)
        flat = None
        for idx, size in zip(indices, sizes):
            if flat is not None:
                flat = b.insert(arith.MuliOp(flat, size)).result
            if idx is not zero:
                flat = idx if flat is None else b.insert(arith.AddiOp(flat, idx)).result
        return zero if flat is None else flat

    def _flat_task(self, b: Builder, ivs):
        *bivs, t = ivs
        jb = b.insert(arith.MuliOp(b.insert(arith.DivUIOp(t, self.row_blocks)).result, self.nb)).result
        ib = b.insert(arith.MuliOp(b.insert(arith.RemUIOp(t, self.row_blocks)).result, self.mb)).result
        self.task(b, [*bivs, jb, ib])

    def task(self, b: Builder, ivs):
        """One ``mb x nb`` block of C: per k slice, pack B and run the tiles."""
        *bivs, jb, ib = ivs
        i_end = b.insert(arith.MinUIOp(b.insert(arith.AddiOp(ib, self.mb)).result, self.m)).result
        j_end = b.insert(arith.MinUIOp(b.insert(arith.AddiOp(jb, self.nb)).result, self.n)).result
        buf = b.insert(memref.AllocOp([self.size], [], MemRefType(self.t, [DYNAMIC_INDEX]))).memref
        tmp = b.insert(memref.AllocOp([], [], MemRefType(self.t, [MR * self.nr]))).memref
        self.ap = b.insert(memref.AllocOp([], [], MemRefType(self.t, [MR * KC]))).memref
        # what the first k slice adds its tiles to (C is not zeroed: its first write is a store)
        self.zeros = b.insert(memref.AllocOp([self.i(MR * self.nr)], [],
                                             MemRefType(self.t, [DYNAMIC_INDEX]))).memref
        zv = b.insert(F.broadcast(X.const(b, 0, self.t), VectorType(self.t, [self.lanes]))).vector
        seq_loop(b, self.i(0), self.i(MR * self.nr), self.i(self.lanes),
                 lambda zb, o: zb.insert(F.vstore(zv, self.zeros, [o])))

        def k_slice(kb: Builder, pc):
            k_end = kb.insert(arith.MinUIOp(kb.insert(arith.AddiOp(pc, self.kc)).result, self.k)).result
            self.pack_b(kb, buf, bivs, pc, k_end, jb, j_end)
            rows = kb.insert(arith.SubiOp(i_end, ib)).result
            i_main = kb.insert(arith.SubiOp(i_end, kb.insert(arith.RemUIOp(rows, self.i(MR))).result)).result
            def strip(rb: Builder, i, mr: int):
                # the block's first strip of rows reads B in place and packs it for the others
                first = rb.insert(arith.CmpiOp(i, ib, "eq")).result if self.contiguous_b else None
                self.pack_a(rb, bivs, i, mr, pc, k_end)
                seq_loop(rb, jb, j_end, self.i(self.nr), lambda cb, j: self.tile(
                    cb, buf, tmp, bivs, mr, i, j, i_end, j_end, pc, k_end, jb, first))
            for lo, hi, mr in ((ib, i_main, MR), (i_main, i_end, MR_TAIL)):
                seq_loop(kb, lo, hi, self.i(mr), lambda rb, i, mr=mr: strip(rb, i, mr))
        seq_loop(b, self.i(0), self.k_top, self.kc, k_slice)
        b.insert(memref.DeallocOp.get(buf))
        b.insert(memref.DeallocOp.get(tmp))
        b.insert(memref.DeallocOp.get(self.ap))
        b.insert(memref.DeallocOp.get(self.zeros))

    def strip_offset(self, b: Builder, j, jb, pc):
        """Where ``Bp[k = 0]`` of the strip at column ``j`` would be: strips are ``kc x NR``
        and the slice starts at ``pc`` (the result is only ever offset by ``k * NR``)."""
        start = b.insert(arith.MuliOp(b.insert(arith.SubiOp(j, jb)).result, self.kc)).result
        return b.insert(arith.SubiOp(start, b.insert(arith.MuliOp(pc, self.i(self.nr))).result)).result

    def pack_b(self, b: Builder, buf, bivs, pc, k_end, jb, j_end):
        """``Bp[strip][k - pc][c] = B[k, j + c]`` (0 past ``n``) by elements, for the last
        partial strip of a contiguous ``B`` (the tiles of the first strip of rows pack its
        whole strips) and every strip of a strided one."""
        nr, one = self.nr, self.i(1)
        whole = jb
        if self.contiguous_b:  # whole strips: packed by the first strip of rows (``tile``)
            width = b.insert(arith.SubiOp(j_end, jb)).result
            whole = b.insert(arith.SubiOp(j_end, b.insert(arith.RemUIOp(width, self.i(nr))).result)).result
        zc = X.const(b, 0, self.t)

        def elem_strip(sb: Builder, j):
            base = self.strip_offset(sb, j, jb, pc)
            width = sb.insert(arith.MinUIOp(sb.insert(arith.SubiOp(j_end, j)).result, self.i(nr))).result

            def row(rb: Builder, k):
                at = rb.insert(arith.AddiOp(base, rb.insert(arith.MuliOp(k, self.i(nr))).result)).result

                def copy(eb: Builder, c):
                    col = eb.insert(arith.AddiOp(j, c)).result
                    x = eb.insert(F.load(self.b.ref, self.b_at(bivs, k, col))).res
                    eb.insert(F.store(x, buf, [eb.insert(arith.AddiOp(at, c)).result]))
                seq_loop(rb, self.i(0), width, one, copy)
                seq_loop(rb, width, self.i(nr), one, lambda eb, c: eb.insert(
                    F.store(zc, buf, [eb.insert(arith.AddiOp(at, c)).result])))
            seq_loop(sb, pc, k_end, one, row)
        seq_loop(b, whole, j_end, self.i(nr), elem_strip)

    def strip_source(self, b: Builder, buf, bivs, j, jb, j_end, pc, pack: bool):
        """``(memref, row stride, offset, packed offset)``: row ``k`` of the strip at ``j``
        starts at ``offset + k * stride``: in the packed panel (at the packed offset), or
        (``pack``, a whole strip) in B."""
        packed = self.strip_offset(b, j, jb, pc)
        if not pack:
            return buf, self.i(self.nr), packed, packed
        j_next = b.insert(arith.AddiOp(j, self.i(self.nr))).result
        use_b = b.insert(arith.CmpiOp(j_next, j_end, "ule")).result
        flat = self.linear(b, self.b_at(bivs, self.i(0), j), self.b.sizes)  # of B[..., 0, j]
        pick = lambda x, y: b.insert(arith.SelectOp(use_b, x, y)).result  # noqa: E731
        return pick(self.flat, buf), pick(self.n, self.i(self.nr)), pick(flat, packed), packed

    def tile(self, b: Builder, buf, tmp, bivs, mr, i, j, i_end, j_end, pc, k_end, jb, first):
        """The micro-kernel on rows ``[i, i + mr)`` x columns ``[j, j + NR)``, then into C;
        when ``first`` holds, the kernel that packs ``B`` as it reads it (one ``scf.if``
        yielding the accumulators of either, so the write into C is built once)."""
        vt = VectorType(self.t, [self.lanes])
        zero = b.insert(F.broadcast(X.const(b, 0, self.t), vt)).vector
        kernel = lambda kb, pack: self.kernel(kb, buf, bivs, mr, j, jb, j_end, pc, k_end, zero, pack)  # noqa: E731
        if first is None:
            acc = kernel(b, False)
        else:
            branches = []
            for pack in (True, False):
                block = Block()
                inner = Builder(InsertPoint.at_end(block))
                inner.insert(scf.YieldOp(*kernel(inner, pack)))
                branches.append(Region(block))
            acc = list(b.insert(scf.IfOp(first, [vt] * (mr * NV), *branches)).results)
        self.write_tile(b, tmp, bivs, acc, i, j, i_end, j_end, pc, k_end)

    def pack_a(self, b: Builder, bivs, i, mr: int, pc, k_end):
        """``Ap[r][k - pc] = A[i + r, k]`` (rows past ``m`` read row ``m - 1``): the strip's
        rows of the k slice, ``KC`` apart. A C-contiguous A row by row, by vectors (the last
        ``width % lanes`` by elements); any other, ``k`` by ``k``, the rows inside (a
        transposed A holds them side by side)."""
        width = b.insert(arith.SubiOp(k_end, pc)).result
        last = b.insert(arith.SubiOp(self.m, self.i(1))).result
        zero, one = self.i(0), self.i(1)

        def row(rb: Builder, r):  # (its index in A, where it starts in Ap)
            ri = rb.insert(arith.MinUIOp(rb.insert(arith.AddiOp(i, r)).result, last)).result
            return ri, rb.insert(arith.MuliOp(r, self.i(KC))).result

        def copy(cb: Builder, ri, at, kk, vt=None):
            src = self.a_at(bivs, ri, cb.insert(arith.AddiOp(pc, kk)).result)
            dst = [cb.insert(arith.AddiOp(at, kk)).result]
            if vt:
                cb.insert(F.vstore(cb.insert(F.vload(self.a.ref, src, vt)).result, self.ap, dst))
            else:
                cb.insert(F.store(cb.insert(F.load(self.a.ref, src)).res, self.ap, dst))
        if not self.contiguous_a:
            seq_loop(b, zero, width, one, lambda kb, kk: seq_loop(
                kb, zero, self.i(mr), one, lambda rb, r: copy(rb, *row(rb, r), kk)))
            return
        vt = VectorType(self.t, [self.lanes])
        whole = b.insert(arith.SubiOp(width, b.insert(arith.RemUIOp(width, self.i(self.lanes))).result)).result

        def by_row(rb: Builder, r):
            ri, at = row(rb, r)
            seq_loop(rb, zero, whole, self.i(self.lanes), lambda cb, kk: copy(cb, ri, at, kk, vt))
            seq_loop(rb, whole, width, one, lambda cb, kk: copy(cb, ri, at, kk))
        seq_loop(b, zero, self.i(mr), one, by_row)

    def kernel(self, b: Builder, buf, bivs, mr: int, j, jb, j_end, pc, k_end, zero, pack: bool) -> list[SSAValue]:
        """The ``loop.for`` over ``k`` of a tile: its accumulators. ``pack``: B's whole
        strips are read in place, prefetched ``PREFETCH_AHEAD`` rows ahead and stored into
        ``Bp`` (the partial last strip, which reads ``Bp`` itself, stores what it holds)."""
        vt = VectorType(self.t, [self.lanes])
        src, ld, base, packed = self.strip_source(b, buf, bivs, j, jb, j_end, pc, pack)
        last_k = b.insert(arith.SubiOp(k_end, self.i(1))).result if pack else None
        block = Block(arg_types=[IndexType()] + [vt] * (mr * NV))
        kb = Builder(InsertPoint.at_end(block))
        k, accs = block.args[0], list(block.args[1:])
        lane = lambda x, v: kb.insert(arith.AddiOp(x, self.i(v * self.lanes))).result if v else x  # noqa: E731
        at = kb.insert(arith.AddiOp(base, kb.insert(arith.MuliOp(k, ld)).result)).result
        bv = [kb.insert(F.vload(src, [lane(at, v)], vt)).result for v in range(NV)]
        if pack:
            ahead = kb.insert(arith.MinUIOp(kb.insert(arith.AddiOp(k, self.i(PREFETCH_AHEAD))).result,
                                            last_k)).result
            at_ahead = kb.insert(arith.AddiOp(base, kb.insert(arith.MuliOp(ahead, ld)).result)).result
            to = kb.insert(arith.AddiOp(packed, kb.insert(arith.MuliOp(k, self.i(self.nr))).result)).result
            for v in range(NV):
                kb.insert(PrefetchOp(src, [lane(at_ahead, v)]))
                kb.insert(F.vstore(bv[v], buf, [lane(to, v)]))
        new = []
        kk = kb.insert(arith.SubiOp(k, pc)).result
        for r in range(mr):
            x = kb.insert(F.load(self.ap, [kb.insert(arith.AddiOp(kk, self.i(r * KC))).result
                                                      if r else kk])).res
            s = kb.insert(F.broadcast(x, vt)).vector
            new += [kb.insert(F.fma(s, bv[v], accs[r * NV + v])).res for v in range(NV)]
        kb.insert(YieldOp(*new))
        return list(b.insert(ForOp(pc, k_end, self.i(1), [zero] * (mr * NV), block)).results)

    def write_tile(self, b: Builder, tmp, bivs, acc, i, j, i_end, j_end, pc, k_end):
        """``C[i:i+mr, j:j+NR]`` from the tile, for the rows and columns inside the block: the
        tile goes through ``tmp`` (an ``MR x NR`` row-major buffer in L1), so one loop nest
        serves whole and edge tiles alike. The last k slice applies the epilogue to the
        finished sum (a branch per tile, not per element)."""
        for n, vec in enumerate(acc):
            b.insert(F.vstore(vec, tmp, [self.i(n * self.lanes)]))  # row-major, NR wide
        i_next = b.insert(arith.AddiOp(i, self.i(len(acc) // NV))).result
        r_end = b.insert(arith.MinUIOp(i_next, i_end)).result
        width = b.insert(arith.SubiOp(b.insert(arith.MinUIOp(
            b.insert(arith.AddiOp(j, self.i(self.nr))).result, j_end)).result, j)).result
        first = b.insert(arith.CmpiOp(pc, self.i(0), "eq")).result
        rows = lambda epilogue: lambda rb: self.write_rows(  # noqa: E731
            rb, tmp, bivs, i, r_end, j, width, first, epilogue)
        if self.epilogue is None:
            rows(False)(b)
        else:
            _if(b, b.insert(arith.CmpiOp(k_end, self.k, "eq")).result, rows(True), rows(False))

    def write_rows(self, b: Builder, tmp, bivs, i, r_end, j, width, first, epilogue: bool):
        """Rows ``[i, r_end)`` x columns ``[j, j + width)`` of C: the tile plus what C holds,
        or (the first k slice) plus the task's zero tile, so ``C`` is never read before it is
        written and never zeroed; whole vectors, then single elements. With the epilogue the
        sums go back into ``tmp``, and a scalar loop (the elementwise fusion's code, which LLVM
        vectorises) writes C from there: C and its flat view in one loop would make LLVM's
        overlap check fail and run the scalar loop."""
        vt = VectorType(self.t, [self.lanes])
        zero, one, lanes = self.i(0), self.i(1), self.i(self.lanes)
        src = b.insert(arith.SelectOp(first, self.zeros, self.c_flat)).result
        whole = b.insert(arith.SubiOp(width, b.insert(arith.RemUIOp(width, lanes)).result)).result

        def row(rb: Builder, ri):
            r = rb.insert(arith.MuliOp(rb.insert(arith.SubiOp(ri, i)).result, self.i(self.nr))).result
            flat = self.linear(rb, [*bivs, ri, j], self.c.sizes)  # of C[..., ri, j]
            base = rb.insert(arith.SelectOp(first, r, flat)).result

            def put(cb: Builder, c, vt=None):
                load = (lambda m, ix: cb.insert(F.vload(m, ix, vt)).result) if vt else \
                       (lambda m, ix: cb.insert(F.load(m, ix)).res)
                at = None if epilogue else [*bivs, ri, cb.insert(arith.AddiOp(j, c)).result]
                addend = load(src, [cb.insert(arith.AddiOp(base, c)).result])
                t_at = [cb.insert(arith.AddiOp(r, c)).result]
                v = cb.insert(arith.AddfOp(addend, load(tmp, t_at))).result
                ref, at = (tmp, t_at) if epilogue else (self.c.ref, at)
                cb.insert(F.vstore(v, ref, at) if vt else F.store(v, ref, at))

            def finish(cb: Builder, c):
                v = cb.insert(F.load(tmp, [cb.insert(arith.AddiOp(r, c)).result])).res
                at = [*bivs, ri, cb.insert(arith.AddiOp(j, c)).result]
                cb.insert(F.store(self.epilogue(cb, at, v), self.c.ref, at))
            seq_loop(rb, zero, whole, lanes, lambda cb, c: put(cb, c, vt))
            seq_loop(rb, whole, width, one, put)
            if epilogue:
                seq_loop(rb, zero, width, one, finish)
        seq_loop(b, i, r_end, one, row)
