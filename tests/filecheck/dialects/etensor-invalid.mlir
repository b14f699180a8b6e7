// The verifiers reject ill-typed etensor ops with a message that says what is wrong.
// RUN: ember-opt %s --split-input-file --verify-diagnostics

func.func @mixed_dtypes(%x: tensor<?xf32>, %y: tensor<?xf64>) {
  // expected-error @+1 {{etensor.add: operand element types differ (f32 vs f64); insert etensor.cast}}
  %0 = etensor.add %x, %y : (tensor<?xf32>, tensor<?xf64>) -> tensor<?xf32>
  func.return
}

// -----

func.func @no_broadcast(%x: tensor<3xf32>, %y: tensor<4xf32>) {
  // expected-error @+1 {{etensor.mul: operands could not be broadcast together with shapes (3) (4)}}
  %0 = etensor.mul %x, %y : (tensor<3xf32>, tensor<4xf32>) -> tensor<3xf32>
  func.return
}

// -----

func.func @wrong_result(%x: tensor<?x?xf32>) {
  // expected-error @+1 {{etensor.sum: result type tensor<?xf32> does not match the inferred tensor<?x1xf32>}}
  %0 = etensor.sum %x {axes = array<i64: 1>, keepdims} : tensor<?x?xf32> -> tensor<?xf32>
  func.return
}

// -----

func.func @float_only(%x: tensor<?xi32>) {
  // expected-error @+1 {{etensor.exp needs a float element type, got i32}}
  %0 = etensor.exp %x : tensor<?xi32>
  func.return
}

// -----

func.func @matmul_k(%x: tensor<?x3xf32>, %y: tensor<4x?xf32>) {
  // expected-error @+1 {{matmul: contracted dimensions differ: (?, 3) @ (4, ?)}}
  %0 = etensor.matmul %x, %y : (tensor<?x3xf32>, tensor<4x?xf32>) -> tensor<?x?xf32>
  func.return
}

// -----

func.func @bad_perm(%x: tensor<?x?xf32>) {
  // expected-error @+1 {{etensor.transpose: axes (0, 0) don't match array of dimension 2}}
  %0 = etensor.transpose %x {perm = array<i64: 0, 0>} : tensor<?x?xf32> -> tensor<?x?xf32>
  func.return
}

// -----

func.func @scan_axis(%x: tensor<?x?xf32>) {
  // expected-error @+1 {{etensor.cumsum: axis 2 is not in [0, 2)}}
  %0 = etensor.cumsum %x {axis = 2 : i64} : tensor<?x?xf32> -> tensor<?x?xf32>
  func.return
}

// -----

func.func @scan_dtype(%x: tensor<?xi32>) {
  // expected-error @+1 {{etensor.cumprod: result element type f32 is neither i32 nor i64}}
  %0 = etensor.cumprod %x {axis = 0 : i64} : tensor<?xi32> -> tensor<?xf32>
  func.return
}

// -----

func.func @arg_two_axes(%x: tensor<?x?x?xf32>) {
  // expected-error @+1 {{etensor.argmax: reduces one axis or all of them, not (0, 1)}}
  %0 = etensor.argmax %x {axes = array<i64: 0, 1>} : tensor<?x?x?xf32> -> tensor<?xi64>
  func.return
}
