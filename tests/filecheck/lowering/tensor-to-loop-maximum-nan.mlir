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
