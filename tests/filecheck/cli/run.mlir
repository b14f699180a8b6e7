// ember-run JIT-compiles a function of any stage and calls it on command-line arguments.

// RUN: ember-run %s --arg "[[1,2],[3,4]]:f32" --arg "[10, 20]" --arg 2 | filecheck %s
// CHECK:      array({{\[}}[12., 24.],
// CHECK-NEXT:        [16., 28.]], dtype=float32)

// RUN: ember-opt %s --emit=loop | ember-run - --arg "[[1,2],[3,4]]:f32" --arg "[10, 20]" --arg 2 | filecheck %s
// RUN: not ember-run %s --arg "[1.5]" --arg "[10, 20]" --arg 1 2>&1 | filecheck %s --check-prefix=SHAPE
// SHAPE: ember-run: error: argument 0: expected tensor<?x?xf32>, got an array of shape (1,)
// RUN: not ember-run %s --arg "[[1,2]]:f32" --arg "[10, 20, 30]" --arg 1 2>&1 | filecheck %s --check-prefix=ASSERT
// ASSERT: ember-run: error: operands could not be broadcast together

func.func @axpy(%x: tensor<?x?xf32>, %y: tensor<?xf32>, %a: f64) -> tensor<?x?xf32> {
  %0 = etensor.fill %a() : f64 -> tensor<f64>
  %1 = etensor.cast %0 : tensor<f64> to tensor<f32>
  %2 = etensor.mul %x, %1 : (tensor<?x?xf32>, tensor<f32>) -> tensor<?x?xf32>
  %3 = etensor.add %2, %y : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
  func.return %3 : tensor<?x?xf32>
}
