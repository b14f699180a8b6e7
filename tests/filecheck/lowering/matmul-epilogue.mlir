// tensor-to-loop{fuse_epilogue=true}: the elementwise ops on a packed float matmul's result
// (each value with one elementwise user of the matmul's shape, ending in its element type) run
// in the matmul's write-back at the last k slice, on the finished sum: the result is written
// once, by the matmul, and the ops get no loop nest of their own. Off by default.
// RUN: ember-opt %s -p 'tensor-to-loop{fuse_epilogue=true}' | filecheck %s
// RUN: ember-opt %s -p tensor-to-loop | filecheck %s --check-prefix=OFF

// np.maximum(x @ w + b, 0.0)
func.func @layer(%x: tensor<?x?xf32>, %w: tensor<?x?xf32>, %b: tensor<?xf32>) -> tensor<?x?xf32> attributes {ember.entry} {
  %0 = etensor.matmul %x, %w : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  %1 = etensor.add %0, %b : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
  %z = arith.constant 0.000000e+00 : f32
  %2 = etensor.fill %z() : f32 -> tensor<f32>
  %3 = etensor.maximum %1, %2 : (tensor<?x?xf32>, tensor<f32>) -> tensor<?x?xf32>
  func.return %3 : tensor<?x?xf32>
}

// CHECK-LABEL: func.func @layer
// CHECK:         %[[C:.*]] = memref.alloc(%{{.*}}) {ember.result = 0 : i64} : memref<?x?xf32>
// CHECK-NOT:     memref.alloc(%{{.*}}, %{{.*}}) : memref<?x?xf32>
// CHECK:         loop.parallel
//                  after the kernel of a tile, the last k slice
// CHECK:                 loop.yield
// CHECK:               %[[FIRST:.*]] = arith.cmpi eq, %{{.*}}, %{{.*}} : index
// CHECK-NEXT:          %[[LAST:.*]] = arith.cmpi eq, %{{.*}}, %{{.*}} : index
// CHECK-NEXT:          scf.if %[[LAST]] {
// CHECK-NEXT:            %[[SRC:.*]] = arith.select %[[FIRST]], %{{.*}}, %{{.*}} : memref<?xf32>
//                  the sums (C or the zero tile, plus the tile) go back into the tile buffer...
// CHECK:                 vector.load %[[SRC]]
// CHECK-NEXT:            arith.addi
// CHECK-NEXT:            %[[TILE:.*]] = vector.load %[[TMP:.*]][%{{.*}}] : memref<384xf32>, vector<16xf32>
// CHECK-NEXT:            arith.addf %{{.*}}, %[[TILE]] : vector<16xf32>
// CHECK-NEXT:            vector.store %{{.*}}, %[[TMP]]
// CHECK:                   memref.store %{{.*}}, %[[TMP]]
//                  ... from which the epilogue writes C: + b, then maximum
// CHECK:                 loop.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:              arith.addi
// CHECK-NEXT:              %[[SUM:.*]] = memref.load %[[TMP]][%{{.*}}] : memref<384xf32>
// CHECK-NEXT:              arith.addi
// CHECK-NEXT:              %[[B:.*]] = memref.load %b[%{{.*}}] : memref<?xf32>
// CHECK-NEXT:              %[[BIASED:.*]] = arith.addf %[[SUM]], %[[B]] : f32
// CHECK-NEXT:              arith.cmpf oge, %[[BIASED]], %z : f32
// CHECK:                   %[[RELU:.*]] = arith.select %{{.*}}, %[[BIASED]], %z : f32
// CHECK-NEXT:              memref.store %[[RELU]], %[[C]][%{{.*}}, %{{.*}}] : memref<?x?xf32>
//                  earlier slices: C + tile into C, whole vectors
// CHECK:               } else {
// CHECK:                   arith.addf %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK-NEXT:              vector.store %{{.*}}, %[[C]]
//                  and no loop nest after the matmul's
// CHECK-NOT:     loop.parallel
// CHECK:         func.return %[[C]] : memref<?x?xf32>

// OFF-LABEL: func.func @layer
// OFF:         loop.parallel
// OFF-NOT:       memref.load %b
// OFF:         loop.parallel (%[[I:.*]], %[[J:.*]]) =
// OFF:           memref.load %b[%[[J]]] : memref<?xf32>

// The matmul's result is also returned: it keeps its buffer and the add its loop nest.
func.func @twice(%x: tensor<?x?xf32>, %w: tensor<?x?xf32>, %b: tensor<?xf32>) -> (tensor<?x?xf32>, tensor<?x?xf32>) attributes {ember.entry} {
  %0 = etensor.matmul %x, %w : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  %1 = etensor.add %0, %b : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
  func.return %0, %1 : tensor<?x?xf32>, tensor<?x?xf32>
}

// CHECK-LABEL: func.func @twice
// CHECK:         loop.parallel
// CHECK-NOT:       memref.load %b
//                no epilogue: the task loop is generated in final form
// CHECK:         } {ember.generated}
// CHECK:         loop.parallel (%[[I:.*]], %[[J:.*]]) =
// CHECK:           memref.load %b[%[[J]]] : memref<?xf32>

// A reduction reads the result: no epilogue (only elementwise ops are).
func.func @rowsum(%x: tensor<?x?xf32>, %w: tensor<?x?xf32>) -> tensor<?xf32> attributes {ember.entry} {
  %0 = etensor.matmul %x, %w : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  %1 = etensor.sum %0 {axes = array<i64: 1>} : tensor<?x?xf32> -> tensor<?xf32>
  func.return %1 : tensor<?xf32>
}

// CHECK-LABEL: func.func @rowsum
// CHECK:         %[[C:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x?xf32>
// CHECK:         } {ember.generated}
// CHECK:         loop.parallel
// CHECK:           memref.load %[[C]]

// The chain ends in float64, but C holds the float32 partial sums: no epilogue.
func.func @widen(%x: tensor<?x?xf32>, %w: tensor<?x?xf32>) -> tensor<?x?xf64> attributes {ember.entry} {
  %0 = etensor.matmul %x, %w : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  %1 = etensor.cast %0 : tensor<?x?xf32> to tensor<?x?xf64>
  func.return %1 : tensor<?x?xf64>
}

// CHECK-LABEL: func.func @widen
// CHECK:         %[[C:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x?xf32>
// CHECK:         } {ember.generated}
// CHECK:         loop.parallel (%{{.*}}, %{{.*}}) =
// CHECK:           arith.extf

// Integer matmuls (a scalar register tile) have no epilogue.
func.func @ints(%x: tensor<?x?xi32>, %w: tensor<?x?xi32>, %b: tensor<?xi32>) -> tensor<?x?xi32> attributes {ember.entry} {
  %0 = etensor.matmul %x, %w : (tensor<?x?xi32>, tensor<?x?xi32>) -> tensor<?x?xi32>
  %1 = etensor.add %0, %b : (tensor<?x?xi32>, tensor<?xi32>) -> tensor<?x?xi32>
  func.return %1 : tensor<?x?xi32>
}

// CHECK-LABEL: func.func @ints
// CHECK-NOT:     scf.if
// CHECK:         %[[R:.*]] = memref.alloc(%{{.*}}, %{{.*}}) {ember.result = 0 : i64} : memref<?x?xi32>
// CHECK-NEXT:    loop.parallel (%{{.*}}, %[[J:.*]]) =
// CHECK:           memref.load %b[%[[J]]] : memref<?xi32>
// CHECK-NEXT:      arith.addi
// CHECK-NEXT:      memref.store %{{.*}}, %[[R]]
