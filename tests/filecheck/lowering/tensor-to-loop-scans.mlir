// tensor-to-loop on cumsum/cumprod: each running value from the one before, in order.
// Along the last axis, the rows in parallel and a loop.for carrying the running value (from
// -0.0 for a float sum: -0.0 + x is x for every x). Along another axis, its first index
// copied, then a loop.for over the rest whose steps run the inner indices as a nest that
// reads the previous line of the result. Ints widen to int64 first, as in NumPy.
// RUN: ember-opt %s -p tensor-to-loop | filecheck %s

func.func @rows(%a: tensor<?x?xf32>) -> tensor<?x?xf32> attributes {ember.entry} {
  %0 = etensor.cumsum %a {axis = 1 : i64} : tensor<?x?xf32> -> tensor<?x?xf32>
  func.return %0 : tensor<?x?xf32>
}

// CHECK-LABEL: func.func @rows(%a: memref<?x?xf32>) -> memref<?x?xf32>
// CHECK:         %[[C1:.*]] = arith.constant 1 : index
// CHECK:         %[[C0:.*]] = arith.constant 0 : index
// CHECK:         %[[M:.*]] = memref.dim %a, %[[C0]]
// CHECK:         %[[N:.*]] = memref.dim %a, %[[C1]]
// CHECK:         %[[OUT:.*]] = memref.alloc(%[[M]], %[[N]]) {ember.result = 0 : i64} : memref<?x?xf32>
// CHECK-NEXT:    loop.parallel (%[[I:.*]]) = (%[[C0]]) to (%[[M]]) step (%[[C1]]) {
// CHECK-NEXT:      %[[Z:.*]] = arith.constant -0.000000e+00 : f32
// CHECK-NEXT:      loop.for %[[J:.*]] = %[[C0]] to %[[N]] step %[[C1]] iter_args(%[[ACC:.*]] = %[[Z]]) -> (f32) {
// CHECK-NEXT:        %[[X:.*]] = memref.load %a[%[[I]], %[[J]]] : memref<?x?xf32>
// CHECK-NEXT:        %[[S:.*]] = arith.addf %[[ACC]], %[[X]] : f32
// CHECK-NEXT:        memref.store %[[S]], %[[OUT]][%[[I]], %[[J]]] : memref<?x?xf32>
// CHECK-NEXT:        loop.yield %[[S]] : f32

func.func @columns(%a: tensor<?x?xi32>) -> tensor<?x?xi64> attributes {ember.entry} {
  %0 = etensor.cumprod %a {axis = 0 : i64} : tensor<?x?xi32> -> tensor<?x?xi64>
  func.return %0 : tensor<?x?xi64>
}

// CHECK-LABEL: func.func @columns(%a: memref<?x?xi32>) -> memref<?x?xi64>
// CHECK:         %[[C1:.*]] = arith.constant 1 : index
// CHECK:         %[[C0:.*]] = arith.constant 0 : index
// CHECK:         %[[M:.*]] = memref.dim %a, %[[C0]]
// CHECK:         %[[N:.*]] = memref.dim %a, %[[C1]]
// CHECK:         %[[OUT:.*]] = memref.alloc(%[[M]], %[[N]]) {ember.result = 0 : i64} : memref<?x?xi64>
// CHECK-NEXT:    %[[ANY:.*]] = arith.cmpi ne, %[[M]], %[[C0]] : index
// CHECK-NEXT:    scf.if %[[ANY]] {
//                  the first line, copied (widened)
// CHECK-NEXT:      loop.parallel (%[[J:.*]]) = (%[[C0]]) to (%[[N]]) step (%[[C1]]) {
// CHECK-NEXT:        %[[X:.*]] = memref.load %a[%[[C0]], %[[J]]] : memref<?x?xi32>
// CHECK-NEXT:        %[[W:.*]] = arith.extsi %[[X]] : i32 to i64
// CHECK-NEXT:        memref.store %[[W]], %[[OUT]][%[[C0]], %[[J]]] : memref<?x?xi64>
//                  each next line from the one before
// CHECK:           loop.for %[[I:.*]] = %[[C1]] to %[[M]] step %[[C1]] {
// CHECK-NEXT:        %[[PREV:.*]] = arith.subi %[[I]], %[[C1]] : index
// CHECK-NEXT:        loop.parallel (%[[J2:.*]]) = (%[[C0]]) to (%[[N]]) step (%[[C1]]) {
// CHECK-NEXT:          %[[P:.*]] = memref.load %[[OUT]][%[[PREV]], %[[J2]]] : memref<?x?xi64>
// CHECK-NEXT:          %[[Y:.*]] = memref.load %a[%[[I]], %[[J2]]] : memref<?x?xi32>
// CHECK-NEXT:          %[[YW:.*]] = arith.extsi %[[Y]] : i32 to i64
// CHECK-NEXT:          %[[R:.*]] = arith.muli %[[P]], %[[YW]] : i64
// CHECK-NEXT:          memref.store %[[R]], %[[OUT]][%[[I]], %[[J2]]] : memref<?x?xi64>

// A bool's running sum is "any so far".
func.func @any(%a: tensor<?xi1>) -> tensor<?xi1> attributes {ember.entry} {
  %0 = etensor.cumsum %a {axis = 0 : i64} : tensor<?xi1> -> tensor<?xi1>
  func.return %0 : tensor<?xi1>
}

// CHECK-LABEL: func.func @any
// CHECK:         loop.for {{.*}} -> (i1) {
// CHECK:           arith.ori
