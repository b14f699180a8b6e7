// --verify-diagnostics checks `expected-error` annotations, as in mlir-opt: the error must
// be reported for the annotated line (@+N, @-N, @above, @below) and contain the text.

// RUN: ember-opt %s --split-input-file --verify-diagnostics
// RUN: sed 's/insert etensor.cast/WRONG TEXT/' %s | not ember-opt --split-input-file --verify-diagnostics 2>&1 | filecheck %s --check-prefix=UNEXPECTED
// UNEXPECTED: ember-opt: error: stdin:{{[0-9]+}}: unexpected error: etensor.add: operand element types differ (f32 vs f64); insert etensor.cast
// RUN: sed 's/@-1 {{etensor.exp/@-2 {{etensor.exp/' %s | not ember-opt --split-input-file --verify-diagnostics 2>&1 | filecheck %s --check-prefix=LINE
// LINE: unexpected error: etensor.exp needs a float element type, got i32
// RUN: not ember-opt %S/inputs/missing-error.mlir --verify-diagnostics 2>&1 | filecheck %s --check-prefix=MISSING
// MISSING: ember-opt: error: {{.*}}missing-error.mlir:4: expected error "never happens" was not produced

func.func @mixed(%x: tensor<?xf32>, %y: tensor<?xf64>) {
  // expected-error @+1 {{operand element types differ (f32 vs f64); insert etensor.cast}}
  %0 = etensor.add %x, %y : (tensor<?xf32>, tensor<?xf64>) -> tensor<?xf32>
  func.return
}

// -----

func.func @float_only(%x: tensor<?xi32>) {
  %0 = etensor.exp %x : tensor<?xi32>
  // expected-error @-1 {{etensor.exp needs a float element type, got i32}}
  func.return
}

// -----

func.func @custom(%x: tensor<3xf32>, %y: tensor<4xf32>) {
  // expected-error @below {{etensor.custom: operands could not be broadcast together}}
  %0 = etensor.custom "mylib::f"(%x, %y) : (tensor<3xf32>, tensor<4xf32>) -> tensor<3xf32>
  func.return
}
