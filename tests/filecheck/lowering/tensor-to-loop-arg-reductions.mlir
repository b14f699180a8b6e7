// tensor-to-loop on argmax/argmin: per output element, the reduced row in blocks of 256.
// Each block's extreme is a vectorisable reduction (maxnum plus a NaN flag, as a max
// reduction's); it replaces the best so far only when strictly greater (or the first NaN),
// so the first block holding the extreme wins. The winning block is then searched for the
// extreme's first index. An empty row is NumPy's ValueError.
// RUN: ember-opt %s -p tensor-to-loop | filecheck %s

func.func @rows(%a: tensor<?x?xf32>) -> tensor<?xi64> attributes {ember.entry} {
  %0 = etensor.argmax %a {axes = array<i64: 1>} : tensor<?x?xf32> -> tensor<?xi64>
  func.return %0 : tensor<?xi64>
}

// CHECK-LABEL: func.func @rows(%a: memref<?x?xf32>) -> memref<?xi64>
// CHECK-DAG:     %[[BLOCK:.*]] = arith.constant 256 : index
// CHECK-DAG:     %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG:     %[[C0:.*]] = arith.constant 0 : index
// CHECK:         %[[N:.*]] = memref.dim %a, %[[C1]]
// CHECK:         cf.assert %{{.*}}, "attempt to get argmax of an empty sequence"
// CHECK:         %[[OUT:.*]] = memref.alloc(%{{.*}}) {ember.result = 0 : i64} : memref<?xi64>
// CHECK-NEXT:    loop.parallel (%[[I:.*]]) =
// CHECK-NEXT:      %[[NEGINF:.*]] = arith.constant 0xff800000 : f32
// CHECK-NEXT:      %[[BEST:.*]], %[[WHERE:.*]] = loop.for %[[S:.*]] = %[[C0]] to %[[N]] step %[[BLOCK]] iter_args(%[[CUR:.*]] = %[[NEGINF]], %[[AT:.*]] = %[[C0]]) -> (f32, index) {
// CHECK:             %[[MAX:.*]], %[[NAN:.*]] = loop.parallel {{.*}} reduce(max, or)
// CHECK:               arith.maxnumf %{{.*}}, %{{.*}} fastmath<nnan,nsz> : f32
// CHECK:             %[[M:.*]] = arith.select %[[NAN]], %{{.*}}, %[[MAX]] : f32
// CHECK:             %[[GT:.*]] = arith.cmpf ogt, %[[M]], %[[CUR]] : f32
// CHECK:             %[[TAKE:.*]] = arith.ori %[[GT]], %{{.*}} : i1
// CHECK-NEXT:        %[[NB:.*]] = arith.select %[[TAKE]], %[[M]], %[[CUR]] : f32
// CHECK-NEXT:        %[[NW:.*]] = arith.select %[[TAKE]], %{{.*}}, %[[AT]] : index
// CHECK-NEXT:        loop.yield %[[NB]], %[[NW]] : f32, index
//                  the winning block, searched for the first element equal to the best: a
//                  min reduction of (hit ? index : n), which LLVM vectorises
// CHECK:           %[[START:.*]] = arith.remui %[[WHERE]], %[[N]] : index
// CHECK:           loop.parallel (%[[R:.*]]) = {{.*}} reduce(min) init(%[[F:.*]] = %[[N]]) -> (index) {
// CHECK-NEXT:        %[[K:.*]] = arith.addi %[[START]], %[[R]] : index
// CHECK-NEXT:        %[[X:.*]] = memref.load %a[%[[I]], %[[K]]] : memref<?x?xf32>
// CHECK-NEXT:        arith.cmpf oeq, %[[X]], %[[BEST]] : f32
// CHECK:             %[[HIT:.*]] = arith.select %{{.*}}, %[[K]], %[[N]] : index
// CHECK-NEXT:        arith.minui %[[F]], %[[HIT]] : index
// CHECK:           arith.index_cast %{{.*}} : index to i64
// CHECK-NEXT:      memref.store %{{.*}}, %[[OUT]][%[[I]]] : memref<?xi64>

// Over all axes of an int32 array: the blocks run along each row in turn, the result is the
// flat index in C order; ints compare signed.
func.func @all(%a: tensor<?x?xi32>) -> tensor<i64> attributes {ember.entry} {
  %0 = etensor.argmin %a {axes = array<i64: 0, 1>} : tensor<?x?xi32> -> tensor<i64>
  func.return %0 : tensor<i64>
}

// CHECK-LABEL: func.func @all
// CHECK:         loop.for %{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (i32, index) {
// CHECK:           loop.for %{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (i32, index) {
// CHECK:             loop.parallel {{.*}} reduce(min)
// CHECK:             arith.cmpi slt
