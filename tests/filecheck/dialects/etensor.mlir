// Every etensor op prints and parses back unchanged.
// RUN: ember-opt %s | ember-opt | filecheck %s

// CHECK-LABEL: func.func @ops
func.func @ops(%x: tensor<?x?xf32>, %y: tensor<?xf32>, %s: f32, %b: tensor<?x?xi1>) -> tensor<?x1xf32> {
  // CHECK: etensor.add %x, %y : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
  %a = etensor.add %x, %y : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
  // CHECK: etensor.floordiv %{{.*}}, %y : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
  %fd = etensor.floordiv %a, %y : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
  // CHECK: etensor.tanh %{{.*}} : tensor<?x?xf32>
  %t = etensor.tanh %a : tensor<?x?xf32>
  // CHECK: etensor.sum %{{.*}} {axes = array<i64: 1>, keepdims} : tensor<?x?xf32> -> tensor<?x1xf32>
  %r = etensor.sum %t {axes = array<i64: 1>, keepdims} : tensor<?x?xf32> -> tensor<?x1xf32>
  // CHECK: etensor.mean %{{.*}} {axes = array<i64: 0, 1>} : tensor<?x?xf32> -> tensor<f32>
  %m = etensor.mean %t {axes = array<i64: 0, 1>} : tensor<?x?xf32> -> tensor<f32>
  // CHECK: etensor.argmax %{{.*}} {axes = array<i64: 1>, keepdims} : tensor<?x?xf32> -> tensor<?x1xi64>
  %am = etensor.argmax %t {axes = array<i64: 1>, keepdims} : tensor<?x?xf32> -> tensor<?x1xi64>
  // CHECK: etensor.argmin %b {axes = array<i64: 0, 1>} : tensor<?x?xi1> -> tensor<i64>
  %an = etensor.argmin %b {axes = array<i64: 0, 1>} : tensor<?x?xi1> -> tensor<i64>
  // CHECK: etensor.cumsum %{{.*}} {axis = 0 : i64} : tensor<?x?xf32> -> tensor<?x?xf32>
  %cs = etensor.cumsum %t {axis = 0 : i64} : tensor<?x?xf32> -> tensor<?x?xf32>
  // CHECK: etensor.cumprod %b {axis = 1 : i64} : tensor<?x?xi1> -> tensor<?x?xi64>
  %cp = etensor.cumprod %b {axis = 1 : i64} : tensor<?x?xi1> -> tensor<?x?xi64>
  // CHECK: etensor.cast %{{.*}} : tensor<?x1xf32> to tensor<?x1xi64>
  %c = etensor.cast %r : tensor<?x1xf32> to tensor<?x1xi64>
  // CHECK: etensor.dim %x[1] : tensor<?x?xf32>
  %n = etensor.dim %x[1] : tensor<?x?xf32>
  // CHECK: etensor.fill %s(%{{.*}}) : f32 -> tensor<?xf32>
  %f = etensor.fill %s(%n) : f32 -> tensor<?xf32>
  // CHECK: etensor.transpose %x {perm = array<i64: 1, 0>} : tensor<?x?xf32> -> tensor<?x?xf32>
  %tr = etensor.transpose %x {perm = array<i64: 1, 0>} : tensor<?x?xf32> -> tensor<?x?xf32>
  // CHECK: etensor.matmul %x, %{{.*}} : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  %mm = etensor.matmul %x, %tr : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  // CHECK: etensor.iota(%{{.*}}) : tensor<?xi64>
  %i = etensor.iota(%n) : tensor<?xi64>
  // CHECK: etensor.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
  %k = etensor.constant dense<[1.0, 2.0]> : tensor<2xf32>
  // CHECK: etensor.reshape %{{.*}}(%{{.*}}, %{{.*}}) : tensor<?xf32> -> tensor<?x1xf32>
  %one = arith.constant 1 : index
  %rs = etensor.reshape %f(%n, %one) : tensor<?xf32> -> tensor<?x1xf32>
  // CHECK: etensor.where %b, %x, %y : (tensor<?x?xi1>, tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
  %w = etensor.where %b, %x, %y : (tensor<?x?xi1>, tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
  // CHECK: etensor.broadcast %y(%{{.*}}, %{{.*}}) : tensor<?xf32> -> tensor<?x?xf32>
  %bc = etensor.broadcast %y(%n, %n) : tensor<?xf32> -> tensor<?x?xf32>
  // CHECK: etensor.lt %x, %y : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xi1>
  %lt = etensor.lt %x, %y : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xi1>
  // CHECK: etensor.not %{{.*}} : tensor<?x?xi1>
  %nt = etensor.not %lt : tensor<?x?xi1>
  func.return %r : tensor<?x1xf32>
}
