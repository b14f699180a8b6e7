// tensor-to-loop on a float matmul: the packed, register-blocked algorithm of
// lowering/matmul_packed.py (GotoBLAS/BLIS blocking). One loop.parallel over a flat index of
// tasks of nb columns x about 240 rows; per k slice, each task runs the 12 x 32 micro-kernel
// (24 accumulator vectors) and then a 4-row tail kernel over its block, and writes each tile to
// C through a 12 x 32 buffer: the first k slice adds it to a zero tile (C is never zeroed),
// later slices to C. The tiles of the block's first strip of rows read B in place, prefetch
// it and pack it into a buffer of the task's own, which the other strips read. The task loop
// is built folded and marked ember.generated (see passes/canonicalize.mlir).
// RUN: ember-opt %s -p tensor-to-loop | filecheck %s

func.func @mm(%a: tensor<?x?xf32>, %b: tensor<?x?xf32>) -> tensor<?x?xf32> attributes {ember.entry} {
  %0 = etensor.matmul %a, %b : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  func.return %0 : tensor<?x?xf32>
}

// CHECK-LABEL: func.func @mm(%a: memref<?x?xf32>, %b: memref<?x?xf32>) -> memref<?x?xf32>
// CHECK-DAG:     %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG:     %[[MB:.*]] = arith.constant 240 : index
// CHECK-DAG:     %[[NR:.*]] = arith.constant 32 : index
// CHECK:         %[[M:.*]] = memref.dim %a, %[[C0]]
// CHECK:         %[[C:.*]] = memref.alloc({{.*}}) {ember.result = 0 : i64} : memref<?x?xf32>
// CHECK-NOT:     memref.store
//                rows in round(m / 240) blocks of whole 12-row strips
// CHECK:         %[[HALF:.*]] = arith.addi %[[M]], %{{.*}} : index
// CHECK-NEXT:    arith.divui %[[HALF]], %[[MB]] : index
// CHECK:         %[[MBV:.*]] = arith.muli %{{.*}}, %{{.*}} : index
// CHECK:         %[[FLAT:.*]] = memref.reinterpret_cast %b to offset: [0], sizes: [%{{.*}}], strides: [1] : memref<?x?xf32> to memref<?xf32>
// CHECK:         %[[CFLAT:.*]] = memref.reinterpret_cast %[[C]] to offset: [0], sizes: [%{{.*}}], strides: [1] : memref<?x?xf32> to memref<?xf32>
//                one flat task index over (column panel, row block): every task is shared out
// CHECK:         %[[BLOCKS:.*]] = arith.divui %{{.*}}, %[[MBV]] : index
// CHECK:         %[[TASKS:.*]] = arith.muli %{{.*}}, %[[BLOCKS]] : index
// CHECK-NEXT:    loop.parallel (%[[T:.*]]) = (%[[C0]]) to (%[[TASKS]]) step (%{{.*}}) {
// CHECK-NEXT:      %[[PANEL:.*]] = arith.divui %[[T]], %[[BLOCKS]] : index
// CHECK-NEXT:      %[[JB:.*]] = arith.muli %[[PANEL]], %[[NB:.*]] : index
// CHECK-NEXT:      %[[ROW:.*]] = arith.remui %[[T]], %[[BLOCKS]] : index
// CHECK-NEXT:      %[[IB:.*]] = arith.muli %[[ROW]], %[[MBV]] : index
// CHECK:           %[[BUF:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK:           %[[TMP:.*]] = memref.alloc() : memref<384xf32>
// CHECK:           %[[AP:.*]] = memref.alloc() : memref<3072xf32>
//                  the zero tile the first k slice adds to (C itself is not zeroed)
// CHECK:           %[[ZEROS:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK:             vector.store %{{.*}}, %[[ZEROS]][%{{.*}}] : memref<?xf32>, vector<16xf32>
// CHECK-NOT:       memref.store %{{.*}}, %[[C]]
//                  per k slice: the last partial strip of B packed element by element, zero past n
// CHECK:               memref.load %b
// CHECK-NEXT:          arith.addi
// CHECK-NEXT:          memref.store %{{.*}}, %[[BUF]]
//                  per strip of rows: its 12 rows of A side by side, 256 apart, row by row,
//                  by vectors (rows past m read row m - 1)
// CHECK:           %[[FIRSTROWS:.*]] = arith.cmpi eq, %[[I:.*]], %[[IB]] : index
// CHECK:             loop.for %[[R:.*]] = %[[C0]] to %{{.*}} step %{{.*}} {
// CHECK-NEXT:          %[[ROW:.*]] = arith.addi %[[I]], %[[R]] : index
// CHECK-NEXT:          %[[ROWC:.*]] = arith.minui %[[ROW]], %{{.*}} : index
// CHECK-NEXT:          %[[AT:.*]] = arith.muli %[[R]], %{{.*}} : index
// CHECK-NEXT:          loop.for %[[KK:.*]] = %[[C0]] to %{{.*}} step %{{.*}} {
// CHECK-NEXT:            %[[AK:.*]] = arith.addi %{{.*}}, %[[KK]] : index
// CHECK-NEXT:            %[[DST:.*]] = arith.addi %[[AT]], %[[KK]] : index
// CHECK-NEXT:            %[[AV:.*]] = vector.load %a[%[[ROWC]], %[[AK]]] : memref<?x?xf32>, vector<16xf32>
// CHECK-NEXT:            vector.store %[[AV]], %[[AP]][%[[DST]]] : memref<3072xf32>, vector<16xf32>
//                  the block's first strip of rows reads whole strips of B in place and packs
//                  them; the other strips read the packed panel
// CHECK:             scf.if %[[FIRSTROWS]] -> (vector<16xf32>, {{.*}}) {
// CHECK:               %[[SRC:.*]] = arith.select %{{.*}}, %[[FLAT]], %[[BUF]] : memref<?xf32>
// CHECK:               loop.for %[[K:.*]] = {{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>) {
// CHECK:                 %[[B0:.*]] = vector.load %[[SRC]]
// CHECK:                 %[[B1:.*]] = vector.load %[[SRC]]
//                        the row 8 steps ahead is prefetched, this one stored into the packed panel
// CHECK:                 loop.prefetch %[[SRC]][%{{.*}}] {locality = 3 : i32} : memref<?xf32>
// CHECK-NEXT:            vector.store %[[B0]], %[[BUF]][%{{.*}}] : memref<?xf32>, vector<16xf32>
// CHECK:                 loop.prefetch %[[SRC]]
// CHECK:                 vector.store %[[B1]], %[[BUF]]
// CHECK-NEXT:            %[[KK2:.*]] = arith.subi %[[K]], %{{.*}} : index
// CHECK-NEXT:            memref.load %[[AP]][%[[KK2]]] : memref<3072xf32>
// CHECK-NEXT:            vector.broadcast
// CHECK-NEXT:            vector.fma %{{.*}}, %[[B0]]
// CHECK-NEXT:            vector.fma %{{.*}}, %[[B1]]
// CHECK-COUNT-11:        vector.fma %{{.*}}, %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK:                 loop.yield
// CHECK:               scf.yield
// CHECK-NEXT:        } else {
// CHECK:               loop.for %[[K2:.*]] = {{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>) {
// CHECK:                 vector.load %[[BUF]]
// CHECK:                 vector.load %[[BUF]]
// CHECK-NEXT:            arith.subi %[[K2]], %{{.*}} : index
// CHECK-NEXT:            memref.load %[[AP]]
// CHECK-NOT:             vector.store
// CHECK:                 loop.yield
// CHECK:               scf.yield
//                  the tile goes through the 12 x 32 buffer into C, added to the zero tile
//                  in the first k slice, to C in the later ones
// CHECK-COUNT-24:      vector.store %{{.*}}, %[[TMP]]
// CHECK:               %[[FIRST:.*]] = arith.cmpi eq, %{{.*}}, %[[C0]] : index
// CHECK-NEXT:          %[[ADDEND:.*]] = arith.select %[[FIRST]], %[[ZEROS]], %[[CFLAT]] : memref<?xf32>
// CHECK:               vector.load %[[ADDEND]]
// CHECK-NEXT:          arith.addi
// CHECK-NEXT:          vector.load %[[TMP]]
// CHECK-NEXT:          arith.addf
// CHECK-NEXT:          vector.store %{{.*}}, %[[C]]
//                  the 4-row tail kernel (its copy of A reads row m - 1 past m): 8 accumulators
// CHECK:               loop.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>) {
// CHECK:           memref.dealloc %[[BUF]]
// CHECK-NEXT:      memref.dealloc %[[TMP]]
// CHECK-NEXT:      memref.dealloc %[[AP]]
// CHECK-NEXT:      memref.dealloc %[[ZEROS]]
//                generated in final form: the loop stage's canonicalize leaves it alone
// CHECK-NEXT:    } {ember.generated}
// CHECK-NOT:     etensor.

// A strided B (a NumPy view, e.g. y.T) is packed element by element, never read in place;
// f64 tiles are 12 x 16 (8 lanes).
func.func @mm_bt(%a: tensor<?x?xf64>, %b: tensor<?x?xf64> {ember.strided}) -> tensor<?x?xf64> attributes {ember.entry} {
  %0 = etensor.matmul %a, %b : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
  func.return %0 : tensor<?x?xf64>
}

// CHECK-LABEL: func.func @mm_bt
// CHECK-NOT:     memref.reinterpret_cast %b
// CHECK:         loop.parallel
// CHECK:           memref.alloc() : memref<192xf64>
// CHECK-NOT:       vector.load %b
// CHECK:           memref.load %b[%{{.*}}, %{{.*}}] : memref<?x?xf64, strided<[?, ?]>>
// CHECK:           vector.fma %{{.*}} : vector<8xf64>

// A matrix times a column (n == 1 is static): one vectorisable dot product per row.
func.func @mv(%a: tensor<?x?xf32>, %v: tensor<?x1xf32>) -> tensor<?x1xf32> attributes {ember.entry} {
  %0 = etensor.matmul %a, %v : (tensor<?x?xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  func.return %0 : tensor<?x1xf32>
}

// CHECK-LABEL: func.func @mv
// CHECK:         loop.parallel (%[[I:.*]]) =
// CHECK:           %[[S:.*]] = loop.for %[[K:.*]] = {{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (f32) {
// CHECK-NEXT:        memref.load %a[%[[I]], %[[K]]]
// CHECK-NEXT:        memref.load %v[%[[K]], %{{.*}}]
// CHECK-NEXT:        arith.mulf %{{.*}}, %{{.*}} fastmath<reassoc,contract> : f32
// CHECK-NEXT:        arith.addf %[[ACC]], %{{.*}} fastmath<reassoc,contract> : f32
// CHECK:           memref.store %[[S]], %{{.*}}[%[[I]], %{{.*}}]
// CHECK-NOT:     vector.
