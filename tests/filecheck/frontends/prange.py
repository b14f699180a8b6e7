# ember.prange: the script frontend marks the loop {ember.prange = [...]} (one entry per
# carried value: "shared" array or reduction kind); tensor-to-loop makes it a loop.parallel
# with named reductions, the shared array written in place.
# RUN: %python %s | filecheck %s
import numpy as np

import ember


@ember.script
def f(x):
    out = np.zeros(x.shape[0])
    s = 0.0
    hi = -1e300
    for i in ember.prange(x.shape[0]):
        out[i] = x[i] * 2.0
        s += x[i]
        hi = max(hi, x[i])
    return out, s, hi


f(np.ones(3))
print(f.ir("tensor"))
print(f.ir("loop"))
# CHECK-LABEL: func.func @f(%x: tensor<?xf64>)
# CHECK:         %{{.*}}, %{{.*}}, %{{.*}} = scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[OUT:.*]] = %{{.*}}, %[[S:.*]] = %{{.*}}, %[[HI:.*]] = %{{.*}}) -> (tensor<?xf64>, tensor<f64>, tensor<f64>) {
# CHECK:           %[[V:.*]] = etensor.extract %x[%[[I]]] : tensor<?xf64> -> tensor<f64>
# CHECK:           %[[W:.*]] = etensor.insert %{{.*}}, %[[OUT]][%[[I]]] : tensor<f64>, tensor<?xf64>
# CHECK:           %[[S1:.*]] = etensor.add %[[S]], %{{.*}} : (tensor<f64>, tensor<f64>) -> tensor<f64>
# CHECK:           %[[HI1:.*]] = etensor.maximum %[[HI]], %{{.*}} : (tensor<f64>, tensor<f64>) -> tensor<f64>
# CHECK:           scf.yield %[[W]], %[[S1]], %[[HI1]] : tensor<?xf64>, tensor<f64>, tensor<f64>
# CHECK-NEXT:    } {ember.prange = ["shared", "add", "max"]}

# CHECK-LABEL: func.func @f(%x: memref<?xf64>)
# CHECK:         %[[BUF:.*]] = memref.alloc(%{{.*}}) {ember.result = 0 : i64} : memref<?xf64>
# CHECK:         %{{.*}}, %{{.*}} = loop.parallel (%[[J:.*]]) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) reduce(add, max) init(%[[A:.*]] = %{{.*}}, %[[M:.*]] = %{{.*}}) -> (f64, f64) {
# CHECK:           %[[XV:.*]] = memref.load %x[%[[J]]] : memref<?xf64>
# CHECK:           memref.store %{{.*}}, %[[BUF]][%[[J]]] : memref<?xf64>
# CHECK:           %[[A1:.*]] = arith.addf %[[A]], %[[XV]] : f64
# CHECK:           loop.yield %[[A1]], %{{.*}} : f64, f64
# CHECK-NEXT:    } {ember.prange}
# CHECK-NOT:     scf.for
# CHECK:         func.return
