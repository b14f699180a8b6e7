// tensor-to-loop on an scf.for marked {ember.prange}: a loop.parallel whose shared buffers
// are written in place (not carried) and whose scalars are named reductions. An element
// write under an scf.if takes the buffer over in both branches (no copy).
// RUN: ember-opt %s -p tensor-to-loop | filecheck %s

// CHECK-LABEL: func.func @count_positive(%x: memref<?xf64>) -> (memref<?xf64>, memref<i64>)
// CHECK:         %[[OUT:.*]] = memref.alloc(%{{.*}}) {ember.result = 0 : i64} : memref<?xf64>
// CHECK:         %[[N:.*]] = loop.parallel (%[[I:.*]]) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) reduce(add) init(%[[ACC:.*]] = %{{.*}}) -> (i64) {
// CHECK:           %[[V:.*]] = memref.load %x[%[[I]]] : memref<?xf64>
// CHECK:           %{{.*}} = scf.if %{{.*}} -> (memref<?xf64>) {
// CHECK-NEXT:        memref.store %[[V]], %[[OUT]][%[[I]]] : memref<?xf64>
// CHECK-NEXT:        scf.yield %[[OUT]] : memref<?xf64>
// CHECK-NEXT:      } else {
// CHECK-NEXT:        scf.yield %[[OUT]] : memref<?xf64>
// CHECK-NEXT:      }
// CHECK:           %[[ACC1:.*]] = arith.addi %[[ACC]], %{{.*}} : i64
// CHECK-NEXT:      loop.yield %[[ACC1]] : i64
// CHECK-NEXT:    } {ember.prange}
// CHECK-NOT:     memref.dealloc %[[OUT]]
// CHECK:         func.return %[[OUT]], %{{.*}} : memref<?xf64>, memref<i64>
func.func @count_positive(%x: tensor<?xf64>) -> (tensor<?xf64>, tensor<i64>) attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = etensor.dim %x[0] : tensor<?xf64>
  %zf = arith.constant 0.000000e+00 : f64
  %z = etensor.fill %zf() : f64 -> tensor<f64>
  %out0 = etensor.broadcast %z(%n) : tensor<f64> -> tensor<?xf64>
  %zi = arith.constant 0 : i64
  %count0 = etensor.fill %zi() : i64 -> tensor<i64>
  %oi = arith.constant 1 : i64
  %one = etensor.fill %oi() : i64 -> tensor<i64>
  %out, %count = scf.for %i = %c0 to %n step %c1 iter_args(%o = %out0, %c = %count0) -> (tensor<?xf64>, tensor<i64>) {
    %v = etensor.extract %x[%i] : tensor<?xf64> -> tensor<f64>
    %pos = etensor.gt %v, %z : (tensor<f64>, tensor<f64>) -> tensor<i1>
    %p = etensor.item %pos : tensor<i1> -> i1
    %o2 = scf.if %p -> (tensor<?xf64>) {
      %w = etensor.insert %v, %o[%i] : tensor<f64>, tensor<?xf64>
      scf.yield %w : tensor<?xf64>
    } else {
      scf.yield %o : tensor<?xf64>
    }
    %c2 = etensor.add %c, %one : (tensor<i64>, tensor<i64>) -> tensor<i64>
    scf.yield %o2, %c2 : tensor<?xf64>, tensor<i64>
  } {ember.prange = ["shared", "add"]}
  func.return %out, %count : tensor<?xf64>, tensor<i64>
}

// Without the mark, the same loop stays a serial scf.for carrying the buffer.
// CHECK-LABEL: func.func @serial
// CHECK:         scf.for %{{.*}} iter_args(%{{.*}} = %{{.*}}) -> (memref<?xf64>) {
// CHECK-NOT:     loop.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) reduce
func.func @serial(%x: tensor<?xf64>) -> tensor<?xf64> attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = etensor.dim %x[0] : tensor<?xf64>
  %zf = arith.constant 0.000000e+00 : f64
  %z = etensor.fill %zf() : f64 -> tensor<f64>
  %out0 = etensor.broadcast %z(%n) : tensor<f64> -> tensor<?xf64>
  %out = scf.for %i = %c0 to %n step %c1 iter_args(%o = %out0) -> (tensor<?xf64>) {
    %v = etensor.extract %x[%i] : tensor<?xf64> -> tensor<f64>
    %w = etensor.insert %v, %o[%i] : tensor<f64>, tensor<?xf64>
    scf.yield %w : tensor<?xf64>
  }
  func.return %out : tensor<?xf64>
}
