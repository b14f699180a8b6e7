// RUN: ember-opt %s -p invariant-divisor | filecheck %s

// An f32 divisor defined outside the loop: its f64 reciprocal is computed once, right after
// it, and the division in the loop becomes extf, mulf, truncf.
// CHECK-LABEL: func.func @row_divisor
// CHECK:         %[[S:.*]] = memref.load %s[%i] : memref<?xf32>
// CHECK-NEXT:    %[[ONE:.*]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %[[W:.*]] = arith.extf %[[S]] : f32 to f64
// CHECK-NEXT:    %[[R:.*]] = arith.divf %[[ONE]], %[[W]] : f64
// CHECK-NEXT:    loop.parallel
// CHECK-NEXT:      %[[X:.*]] = memref.load %x[%i, %j] : memref<?x?xf32>
// CHECK-NEXT:      %[[XW:.*]] = arith.extf %[[X]] : f32 to f64
// CHECK-NEXT:      %[[P:.*]] = arith.mulf %[[XW]], %[[R]] : f64
// CHECK-NEXT:      %[[Q:.*]] = arith.truncf %[[P]] : f64 to f32
// CHECK-NEXT:      memref.store %[[Q]], %out[%i, %j] : memref<?x?xf32>
// CHECK-NOT:     arith.divf %{{.*}} : f32
func.func @row_divisor(%x: memref<?x?xf32>, %s: memref<?xf32>, %out: memref<?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?x?xf32>
  %m = memref.dim %x, %c1 : memref<?x?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %d = memref.load %s[%i] : memref<?xf32>
    loop.parallel (%j) = (%c0) to (%m) step (%c1) {
      %v = memref.load %x[%i, %j] : memref<?x?xf32>
      %q = arith.divf %v, %d : f32
      memref.store %q, %out[%i, %j] : memref<?x?xf32>
    }
  }
  func.return
}

// A function argument as the divisor: the reciprocal goes at the start of the entry block;
// both divisions by it share one reciprocal.
// CHECK-LABEL: func.func @argument_divisor
// CHECK-NEXT:    %{{.*}} = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %{{.*}} = arith.extf %d : f32 to f64
// CHECK-NEXT:    %{{.*}} = arith.divf
// CHECK-NOT:     arith.divf
// CHECK:         func.return
func.func @argument_divisor(%x: memref<?xf32>, %d: f32, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    %q = arith.divf %v, %d : f32
    %q2 = arith.divf %q, %d : f32
    memref.store %q2, %out[%i] : memref<?xf32>
  }
  func.return
}

// Left alone: a divisor that changes in the loop, a division outside any loop, and f64.
// CHECK-LABEL: func.func @left_alone
// CHECK:         arith.divf %{{.*}}, %{{.*}} : f32
// CHECK:         arith.divf %{{.*}}, %{{.*}} : f64
// CHECK:         arith.divf %{{.*}}, %{{.*}} : f32
// CHECK-NOT:     arith.truncf
// CHECK:         func.return
func.func @left_alone(%x: memref<?xf32>, %y: memref<?xf32>, %z: memref<?xf64>, %a: f32, %b: f32, %c: f64) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    %w = memref.load %y[%i] : memref<?xf32>
    %q = arith.divf %v, %w : f32
    memref.store %q, %x[%i] : memref<?xf32>
    %u = memref.load %z[%i] : memref<?xf64>
    %p = arith.divf %u, %c : f64
    memref.store %p, %z[%i] : memref<?xf64>
  }
  %r = arith.divf %a, %b : f32
  func.return %r : f32
}
