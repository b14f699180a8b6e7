// Invalid IR is reported with its location and the verifier's message, exit code 1.

// RUN: not ember-opt %s 2>&1 | filecheck %s
// CHECK:     ember-opt: error:
// CHECK:     etensor.add: operand element types differ (f32 vs f64); insert etensor.cast
// CHECK-NOT: Traceback

func.func @mixed(%x: tensor<?xf32>, %y: tensor<?xf64>) -> tensor<?xf32> {
  %0 = etensor.add %x, %y : (tensor<?xf32>, tensor<?xf64>) -> tensor<?xf32>
  func.return %0 : tensor<?xf32>
}
