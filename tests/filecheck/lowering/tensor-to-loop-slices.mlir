// tensor-to-loop: a slice is a lazy value. An elementwise consumer loads the selected
// elements from the source where it needs them (offset + index * step): no buffer, no copy.
// RUN: ember-opt %s -p tensor-to-loop | filecheck %s

func.func @stencil(%x: tensor<?x?xf32>, %a: index, %n: index, %m: index) -> tensor<?x?xf32> attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %0 = etensor.slice %x[%c0, %a] sizes[%n, %m] {strides = array<i64: 1, 1>, dropped = array<i64>} : tensor<?x?xf32> -> tensor<?x?xf32>
  %1 = etensor.slice %x[%c2, %a] sizes[%n, %m] {strides = array<i64: 1, 2>, dropped = array<i64>} : tensor<?x?xf32> -> tensor<?x?xf32>
  %2 = etensor.add %0, %1 : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  func.return %2 : tensor<?x?xf32>
}

// CHECK-LABEL: func.func @stencil
// CHECK:         %[[R:.*]] = memref.alloc(%n, %m) {ember.result = 0 : i64} : memref<?x?xf32>
// CHECK-NOT:     memref.alloc
// CHECK:         loop.parallel (%[[I:.*]], %[[J:.*]]) = {{.*}} to (%n, %m) {{.*}} {
// CHECK-NEXT:      %[[I0:.*]] = arith.addi %c0, %[[I]] : index
// CHECK-NEXT:      %[[J0:.*]] = arith.addi %a, %[[J]] : index
// CHECK-NEXT:      %[[U:.*]] = memref.load %x[%[[I0]], %[[J0]]] : memref<?x?xf32>
// CHECK-NEXT:      %[[I2:.*]] = arith.addi %c2, %[[I]] : index
// CHECK-NEXT:      %[[J2:.*]] = arith.muli %[[J]], %{{.*}} : index
// CHECK-NEXT:      %[[J3:.*]] = arith.addi %a, %[[J2]] : index
// CHECK-NEXT:      %[[V:.*]] = memref.load %x[%[[I2]], %[[J3]]] : memref<?x?xf32>
// CHECK-NEXT:      %[[S:.*]] = arith.addf %[[U]], %[[V]] : f32
// CHECK-NEXT:      memref.store %[[S]], %[[R]][%[[I]], %[[J]]] : memref<?x?xf32>

// A consumer that needs a buffer (a matmul) gets a copy, made where it needs it.
func.func @into_matmul(%x: tensor<?x?xf32>, %n: index) -> tensor<?x?xf32> attributes {ember.entry} {
  %c1 = arith.constant 1 : index
  %0 = etensor.slice %x[%c1, %c1] sizes[%n, %n] {strides = array<i64: 1, 1>, dropped = array<i64>} : tensor<?x?xf32> -> tensor<?x?xf32>
  %1 = etensor.matmul %0, %0 : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  func.return %1 : tensor<?x?xf32>
}

// CHECK-LABEL: func.func @into_matmul
// CHECK:         %[[COPY:.*]] = memref.alloc(%n, %n) : memref<?x?xf32>
// CHECK-NEXT:    loop.parallel
// CHECK:           memref.load %x[
// CHECK:           memref.store %{{.*}}, %[[COPY]][
// CHECK:         loop.parallel
