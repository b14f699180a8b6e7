// RUN: ember-opt %s | filecheck %s
// RUN: ember-opt %s | ember-opt | filecheck %s
// RUN: ember-opt %s --print-op-generic | ember-opt | filecheck %s

// ember-opt parses, verifies and prints etensor IR; the printed form parses back.

func.func @f(%x: tensor<?x?xf32>, %y: tensor<?x?xf32>, %a: f64) -> tensor<?x?xf32> {
  %0 = etensor.fill %a() : f64 -> tensor<f64>
  %1 = etensor.cast %0 : tensor<f64> to tensor<f32>
  %2 = etensor.mul %x, %1 : (tensor<?x?xf32>, tensor<f32>) -> tensor<?x?xf32>
  %3 = etensor.add %2, %y : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  %4 = etensor.tanh %3 : tensor<?x?xf32>
  %5 = etensor.sum %x {axes = array<i64: 1>, keepdims} : tensor<?x?xf32> -> tensor<?x1xf32>
  %6 = etensor.add %4, %5 : (tensor<?x?xf32>, tensor<?x1xf32>) -> tensor<?x?xf32>
  func.return %6 : tensor<?x?xf32>
}

// CHECK:      func.func @f(%{{.*}}: tensor<?x?xf32>, %{{.*}}: tensor<?x?xf32>, %{{.*}}: f64) -> tensor<?x?xf32> {
// CHECK-NEXT:   %[[FILL:.*]] = etensor.fill %{{.*}}() : f64 -> tensor<f64>
// CHECK-NEXT:   %[[A:.*]] = etensor.cast %[[FILL]] : tensor<f64> to tensor<f32>
// CHECK-NEXT:   %[[MUL:.*]] = etensor.mul %{{.*}}, %[[A]] : (tensor<?x?xf32>, tensor<f32>) -> tensor<?x?xf32>
// CHECK-NEXT:   %[[ADD:.*]] = etensor.add %[[MUL]], %{{.*}} : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
// CHECK-NEXT:   %[[T:.*]] = etensor.tanh %[[ADD]] : tensor<?x?xf32>
// CHECK-NEXT:   %[[S:.*]] = etensor.sum %{{.*}} {axes = array<i64: 1>, keepdims} : tensor<?x?xf32> -> tensor<?x1xf32>
// CHECK-NEXT:   %[[R:.*]] = etensor.add %[[T]], %[[S]] : (tensor<?x?xf32>, tensor<?x1xf32>) -> tensor<?x?xf32>
// CHECK-NEXT:   func.return %[[R]] : tensor<?x?xf32>
// CHECK-NEXT: }
