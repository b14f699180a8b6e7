# Every tensor-stage op carries the source location of the expression it came from.
# RUN: %python %s | filecheck %s
import numpy as np

import ember


@ember.script
def clip_sum(x, hi: float):
    total = 0.0
    for i in range(len(x)):
        v = x[i]
        if v > hi:
            v = hi
        total += v
    return total


clip_sum(np.arange(5.0), 2.5)
print(clip_sum.ir(stage="tensor", locations=True))
# CHECK-LABEL: func.func @clip_sum(%x: tensor<?xf64> loc(unknown), %hi: f64 loc(unknown)) -> tensor<f64>
# CHECK:         scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %{{.*}}) -> (tensor<f64>) {
# CHECK:           etensor.extract %x[%{{.*}}] : tensor<?xf64> -> tensor<f64> loc("{{.*}}script-locations.py":12:13)
# CHECK:           etensor.gt %{{.*}}, %{{.*}} : (tensor<f64>, tensor<f64>) -> tensor<i1> loc("{{.*}}script-locations.py":13:12)
# CHECK:           scf.if %{{.*}} -> (tensor<f64>) {
# CHECK:           etensor.add %{{.*}}, %{{.*}} : (tensor<f64>, tensor<f64>) -> tensor<f64> loc("{{.*}}script-locations.py":15:9)
# CHECK:           scf.yield
