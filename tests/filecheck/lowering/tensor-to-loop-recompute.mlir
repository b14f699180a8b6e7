// RUN: ember-opt %s -p tensor-to-loop | filecheck %s

// softmax: the exp has two elementwise users (the sum and the division). It is recomputed
// in both loops instead of stored: the only buffers are the row max, the row sum and the
// result.
func.func @softmax(%x: tensor<?x?xf32>) -> tensor<?x?xf32> attributes {ember.entry} {
  %0 = etensor.max %x {axes = array<i64: 1>, keepdims} : tensor<?x?xf32> -> tensor<?x1xf32>
  %1 = etensor.sub %x, %0 : (tensor<?x?xf32>, tensor<?x1xf32>) -> tensor<?x?xf32>
  %2 = etensor.exp %1 : tensor<?x?xf32>
  %3 = etensor.sum %2 {axes = array<i64: 1>, keepdims} : tensor<?x?xf32> -> tensor<?x1xf32>
  %4 = etensor.div %2, %3 : (tensor<?x?xf32>, tensor<?x1xf32>) -> tensor<?x?xf32>
  func.return %4 : tensor<?x?xf32>
}

// CHECK-LABEL: func.func @softmax
// CHECK:         %[[MAX:.*]] = memref.alloc(%{{.*}}) : memref<?x1xf32>
// CHECK:         arith.maxnumf
// CHECK-NOT:     memref.alloc(%{{.*}}, %{{.*}}) : memref<?x?xf32>
// CHECK:         %[[SUM:.*]] = memref.alloc(%{{.*}}) : memref<?x1xf32>
// CHECK:         reduce(add)
// CHECK:           arith.subf
// CHECK-NEXT:      math.exp
// CHECK:         %[[OUT:.*]] = memref.alloc(%{{.*}}, %{{.*}}) {ember.result = 0 : i64} : memref<?x?xf32>
// CHECK:           arith.subf
// CHECK-NEXT:      math.exp
// CHECK:           arith.divf
// CHECK:         memref.dealloc %[[MAX]]
// CHECK-NEXT:    memref.dealloc %[[SUM]]
// CHECK-NEXT:    func.return %[[OUT]]

// A value recomputed by several users may not be built on another recomputed value
// (no nested recomputation): %a is recomputed (by %b and %e), so %b, which has two users
// too, is stored.
func.func @nested(%x: tensor<?xf32>) -> (tensor<?xf32>, tensor<?xf32>, tensor<?xf32>) attributes {ember.entry} {
  %a = etensor.exp %x : tensor<?xf32>
  %b = etensor.add %a, %x : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
  %c = etensor.neg %b : tensor<?xf32>
  %d = etensor.abs %b : tensor<?xf32>
  %e = etensor.sub %a, %x : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
  func.return %c, %d, %e : tensor<?xf32>, tensor<?xf32>, tensor<?xf32>
}

// CHECK-LABEL: func.func @nested
// CHECK:         %[[B:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK:           math.exp
// CHECK:           arith.addf
// CHECK:           memref.store %{{.*}}, %[[B]]
// CHECK:         memref.alloc(%{{.*}}) {ember.result = 0 : i64}
// CHECK:           memref.load %[[B]]
// CHECK:           arith.negf
// CHECK:         memref.alloc(%{{.*}}) {ember.result = 1 : i64}
// CHECK:           memref.load %[[B]]
// CHECK:           math.absf
// CHECK:         memref.alloc(%{{.*}}) {ember.result = 2 : i64}
// CHECK:           math.exp
// CHECK:           arith.subf

// Both operands of one op are one user: d * d with d = x - m is fused, not stored.
func.func @square(%x: tensor<?xf32>, %m: tensor<f32>) -> tensor<?xf32> attributes {ember.entry} {
  %d = etensor.sub %x, %m : (tensor<?xf32>, tensor<f32>) -> tensor<?xf32>
  %s = etensor.mul %d, %d : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
  func.return %s : tensor<?xf32>
}

// CHECK-LABEL: func.func @square
// CHECK-NOT:     memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK:         memref.alloc(%{{.*}}) {ember.result = 0 : i64}
// CHECK:           arith.subf
// CHECK:           arith.mulf
