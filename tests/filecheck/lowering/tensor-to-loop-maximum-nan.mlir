// Regression (found by ember.testing): np.maximum must return NaN when either operand is
// NaN, as NumPy's `(a >= b || isnan(a)) ? a : b` does; selecting on `uge` dropped a NaN in
// the second operand.
// RUN: ember-opt %s -p tensor-to-loop | filecheck %s

// CHECK-LABEL: func.func @f
// CHECK:         %[[GE:.*]] = arith.cmpf oge, %[[A:.*]], %[[B:.*]] : f64
// CHECK-NEXT:    %[[NAN:.*]] = arith.cmpf uno, %[[A]], %[[A]] : f64
// CHECK-NEXT:    %[[C:.*]] = arith.ori %[[GE]], %[[NAN]] : i1
// CHECK-NEXT:    arith.select %[[C]], %[[A]], %[[B]] : f64
func.func @f(%x: tensor<?xf64>, %y: tensor<?xf64>) -> tensor<?xf64> attributes {ember.entry} {
  %0 = etensor.maximum %x, %y : (tensor<?xf64>, tensor<?xf64>) -> tensor<?xf64>
  func.return %0 : tensor<?xf64>
}

// A float max reduction: maxnum with nnan/nsz (one vmaxps per vector) and an "or" of isnan
// in a second accumulator; a NaN anywhere makes the result NaN, as in NumPy.
// CHECK-LABEL: func.func @row_max
// CHECK:         %[[F:.*]] = arith.constant false
// CHECK-NEXT:    %[[R:.*]], %[[RN:.*]] = loop.parallel (%[[J:.*]]) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) reduce(max, or) init(%[[M:.*]] = %{{.*}}, %[[S:.*]] = %[[F]]) -> (f32, i1) {
// CHECK-NEXT:      %[[V:.*]] = memref.load %{{.*}}[%{{.*}}, %[[J]]] : memref<?x?xf32>
// CHECK-NEXT:      %[[B:.*]] = arith.maxnumf %[[M]], %[[V]] fastmath<nnan,nsz> : f32
// CHECK-NEXT:      %[[U:.*]] = arith.cmpf uno, %[[V]], %[[V]] : f32
// CHECK-NEXT:      %[[O:.*]] = arith.ori %[[S]], %[[U]] : i1
// CHECK-NEXT:      loop.yield %[[B]], %[[O]] : f32, i1
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[NAN:.*]] = arith.constant 0x7fc00000 : f32
// CHECK-NEXT:    %{{.*}} = arith.select %[[RN]], %[[NAN]], %[[R]] : f32
func.func @row_max(%x: tensor<?x?xf32>) -> tensor<?xf32> attributes {ember.entry} {
  %0 = etensor.max %x {axes = array<i64: 1>} : tensor<?x?xf32> -> tensor<?xf32>
  func.return %0 : tensor<?xf32>
}
