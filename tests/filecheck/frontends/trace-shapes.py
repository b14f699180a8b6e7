# ember.trace keeps sizes read from .shape symbolic; captured values become constants;
# a scripted callee keeps its control flow.
# RUN: %python %s | filecheck %s
import warnings

import numpy as np

import ember

warnings.simplefilter("error", ember.TracerWarning)


def flatten_pad(x):
    n = x.shape[0]
    return np.zeros((n, 4), dtype=x.dtype) + x.reshape(n, -1)[:, :4], n // 2 + 1


g = ember.trace(flatten_pad, (np.ones((6, 2, 3)),))
print(g.ir())
# CHECK-LABEL: func.func @flatten_pad(%x: tensor<?x?x?xf64>) -> (tensor<?x4xf64>, tensor<i64>)
# CHECK:         %[[N:.*]] = etensor.dim %x[0] : tensor<?x?x?xf64>
# np.zeros((n, 4)): a fill broadcast to the run-time n and the static 4.
# CHECK:         etensor.broadcast %{{.*}}(%[[N]], %{{.*}}) : tensor<f64> -> tensor<?x4xf64>
# x.reshape(n, -1): n and the size that -1 stands for, computed at run time.
# CHECK:         etensor.reshape %x(%[[N]], %{{.*}}) : tensor<?x?x?xf64> -> tensor<?x?xf64>
# n // 2 + 1 is index arithmetic, returned as a Python int.
# CHECK:         %[[H:.*]] = arith.floordivsi %[[N]], %{{.*}} : index
# CHECK:         %[[H1:.*]] = arith.addi %[[H]], %{{.*}} : index
# CHECK:         arith.index_cast %[[H1]] : index to i64
print(g(np.ones((10, 1, 4)))[1])
# CHECK: 6

TABLE = np.array([1.0, 2.0, 3.0], dtype=np.float32)
g = ember.trace(lambda x: x * TABLE + 0.5, (np.ones((2, 3), np.float32),))
print(g.ir())
# CHECK:         etensor.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00]> : tensor<3xf32>
# CHECK:         etensor.mul %x, %{{.*}} : (tensor<?x?xf32>, tensor<3xf32>) -> tensor<?x3xf32>


@ember.script
def repeat(v, n: int):
    acc = v
    for i in range(n):
        acc = acc * v
    return acc


g = ember.trace(lambda x, n: repeat(np.tanh(x), n) / x.shape[0], (np.ones(3), 2))
print(g.ir())
# CHECK-LABEL: func.func @"<lambda>"(%x: tensor<?xf64>, %n: i64) -> tensor<?xf64>
# CHECK:         etensor.tanh %x
# CHECK:         scf.for
# CHECK:           etensor.mul
# CHECK:           scf.yield
# CHECK:         etensor.div
