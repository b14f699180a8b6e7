// RUN: ember-opt %s -p tensor-to-loop | filecheck %s

// An entry's element write into its argument is a store into the caller's array.
func.func @put(%x: tensor<?xf64>, %v: tensor<f64>) -> tensor<f64> attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %y = etensor.insert %v, %x[%c0] : tensor<f64>, tensor<?xf64>
  %s = etensor.sum %y {axes = array<i64: 0>} : tensor<?xf64> -> tensor<f64>
  func.return %s : tensor<f64>
}

// CHECK-LABEL: func.func @put(%x: memref<?xf64>
// CHECK-NOT:     memref.alloc(
// CHECK:         memref.store %{{.*}}, %x[%c0] : memref<?xf64>

// Jacobi's swap: the loop takes the argument over (no copy of it), a copy is made only for
// `new = a.copy()`, the result is the argument when the loop ends on it, and a dealloc of a
// buffer that may be the argument is guarded by a pointer test.
func.func @swap(%a: tensor<?xf64>, %n: index, %v: tensor<f64>) -> tensor<?xf64> attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %new = etensor.copy %a : tensor<?xf64>
  %r:2 = scf.for %i = %c0 to %n step %c1 iter_args(%p = %a, %q = %new) -> (tensor<?xf64>, tensor<?xf64>) {
    %w = etensor.insert %v, %q[%c0] : tensor<f64>, tensor<?xf64>
    scf.yield %w, %p : tensor<?xf64>, tensor<?xf64>
  }
  func.return %r#0 : tensor<?xf64>
}

// CHECK-LABEL: func.func @swap(%a: memref<?xf64>
// CHECK-SAME:    ember.returns_argument = array<i64: 0>
// CHECK:         %[[NEW:.*]] = memref.alloc(%{{.*}}) : memref<?xf64>
// CHECK:         scf.for {{.*}} iter_args(%{{.*}} = %a, %{{.*}} = %[[NEW]])
// CHECK:         %[[P:.*]] = "memref.extract_aligned_pointer_as_index"(%[[R0:.*]]) : (memref<?xf64>) -> index
// CHECK-NEXT:    %[[Q:.*]] = "memref.extract_aligned_pointer_as_index"(%a)
// CHECK-NEXT:    %[[SAME:.*]] = arith.cmpi eq, %[[P]], %[[Q]] : index
// CHECK-NEXT:    %[[RES:.*]] = scf.if %[[SAME]] -> (memref<?xf64>) {
// CHECK-NEXT:      scf.yield %[[R0]]
// CHECK-NEXT:    } else {
// CHECK-NEXT:      memref.alloc(%{{.*}}) {ember.result = 0 : i64}
// CHECK:         arith.cmpi ne
// CHECK-NEXT:    scf.if %{{.*}} {
// CHECK-NEXT:      memref.dealloc
// CHECK:         func.return %[[RES]]

// Without a written argument a copy separates nothing: none is made.
func.func @copy(%a: tensor<?xf64>) -> tensor<?xf64> attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %v = etensor.extract %a[%c0] : tensor<?xf64> -> tensor<f64>
  %b = etensor.copy %a : tensor<?xf64>
  %w = etensor.insert %v, %b[%c0] : tensor<f64>, tensor<?xf64>
  func.return %w : tensor<?xf64>
}

// CHECK-LABEL: func.func @copy(%a: memref<?xf64>
// CHECK:         memref.alloc(%{{.*}}) {ember.result = 0 : i64}
// CHECK-NOT:     memref.alloc
// CHECK:         func.return
