# ember.trace on unchanged NumPy code: the MLP, one trace for every batch size.
# RUN: %python %s | filecheck %s
import warnings

import numpy as np

import ember

warnings.simplefilter("error", ember.TracerWarning)  # a clean program never warns


def mlp(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0)
    z = h @ w2 + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


f32 = np.float32
g = ember.trace(mlp, (np.ones((8, 5), f32), np.ones((5, 16), f32), np.ones(16, f32),
                      np.ones((16, 3), f32), np.ones(3, f32)))
print(g.ir())
# CHECK-LABEL: func.func @mlp(%x: tensor<?x?xf32>, %w1: tensor<?x?xf32>, %b1: tensor<?xf32>, %w2: tensor<?x?xf32>, %b2: tensor<?xf32>) -> tensor<?x?xf32> attributes {ember.entry}
# CHECK-NEXT:    %[[XW:.*]] = etensor.matmul %x, %w1 : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
# CHECK-NEXT:    %[[A:.*]] = etensor.add %[[XW]], %b1 : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
# The Python int 0 is weak (NEP 50): it becomes an f32 zero, the result stays f32.
# CHECK:         %[[Z:.*]] = etensor.cast %{{.*}} : tensor<i64> to tensor<f32>
# CHECK-NEXT:    %[[H:.*]] = etensor.maximum %[[A]], %[[Z]] : (tensor<?x?xf32>, tensor<f32>) -> tensor<?x?xf32>
# CHECK-NEXT:    %[[HW:.*]] = etensor.matmul %[[H]], %w2
# CHECK-NEXT:    %[[L:.*]] = etensor.add %[[HW]], %b2
# CHECK-NEXT:    %[[M:.*]] = etensor.max %[[L]] {axes = array<i64: 1>, keepdims} : tensor<?x?xf32> -> tensor<?x1xf32>
# CHECK-NEXT:    %[[S:.*]] = etensor.sub %[[L]], %[[M]] : (tensor<?x?xf32>, tensor<?x1xf32>) -> tensor<?x?xf32>
# CHECK-NEXT:    %[[E:.*]] = etensor.exp %[[S]] : tensor<?x?xf32>
# CHECK-NEXT:    %[[T:.*]] = etensor.sum %[[E]] {axes = array<i64: 1>, keepdims} : tensor<?x?xf32> -> tensor<?x1xf32>
# CHECK-NEXT:    %[[R:.*]] = etensor.div %[[E]], %[[T]] : (tensor<?x?xf32>, tensor<?x1xf32>) -> tensor<?x?xf32>
# CHECK-NEXT:    func.return %[[R]] : tensor<?x?xf32>

g(np.ones((100, 5), f32), np.ones((5, 16), f32), np.ones(16, f32), np.ones((16, 3), f32), np.ones(3, f32))
print(g.cache_info()["misses"], g.signatures)
# CHECK: 1 ['float32[?,?], float32[?,?], float32[?], float32[?,?], float32[?]']

# A batch of one is another signature (size-1 dimensions broadcast): traced again.
g(np.ones((1, 5), f32), np.ones((5, 16), f32), np.ones(16, f32), np.ones((16, 3), f32), np.ones(3, f32))
print(g.cache_info()["compiles"][-1]["reason"])
# CHECK: retraced: argument 0: new size-1 dimensions
print(g.ir())
# CHECK: func.func @mlp(%x: tensor<1x?xf32>
