# The script frontend's tensor-stage IR: NEP 50 casts, broadcasting in the types, locations.
# RUN: %python %s | filecheck %s
import numpy as np

import ember


@ember.script
def f(x, y, a: float):
    return np.tanh(x * a + y) * 0.5 + x.sum(axis=1, keepdims=True)


f(np.ones((2, 3), np.float32), np.ones(3, np.float32), 2.0)
print(f.ir(stage="tensor"))
# CHECK-LABEL: func.func @f(%x: tensor<?x?xf32>, %y: tensor<?xf32>, %a: f64) -> tensor<?x?xf32> attributes {ember.entry}
# CHECK:         %[[A:.*]] = etensor.fill %a() : f64 -> tensor<f64>
# CHECK-NEXT:    %[[A32:.*]] = etensor.cast %[[A]] : tensor<f64> to tensor<f32>
# CHECK-NEXT:    %[[M:.*]] = etensor.mul %x, %[[A32]] : (tensor<?x?xf32>, tensor<f32>) -> tensor<?x?xf32>
# CHECK-NEXT:    %[[P:.*]] = etensor.add %[[M]], %y : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
# CHECK-NEXT:    %[[T:.*]] = etensor.tanh %[[P]] : tensor<?x?xf32>
# CHECK:         %[[S:.*]] = etensor.sum %x {axes = array<i64: 1>, keepdims} : tensor<?x?xf32> -> tensor<?x1xf32>
# CHECK:         etensor.add %{{.*}}, %[[S]] : (tensor<?x?xf32>, tensor<?x1xf32>) -> tensor<?x?xf32>

f(np.ones((1, 3), np.float64), np.ones(3, np.float64), 2.0)
print(f.ir(stage="tensor"))
# Size-1 dimensions are specialised statically: they broadcast.
# CHECK-LABEL: func.func @f(%x: tensor<1x?xf64>, %y: tensor<?xf64>, %a: f64) -> tensor<1x?xf64>
