// RUN: ember-opt %s -p tensor-to-loop | filecheck %s

// A transpose of an array with contiguous rows goes by 16 x 16 blocks of f32 (a cache line
// a side): 16 row loads, 4 rounds of 16 shuffles that interleave the low and the high
// halves of two rows, 16 row stores; the rows and columns past the last whole block are
// copied element by element.
func.func @t(%x: tensor<?x?xf32>) -> tensor<?x?xf32> attributes {ember.entry} {
  %t = etensor.transpose %x {perm = array<i64: 1, 0>} : tensor<?x?xf32> -> tensor<?x?xf32>
  func.return %t : tensor<?x?xf32>
}

// CHECK-LABEL: func.func @t
// CHECK:         %[[W:.*]] = arith.constant 16 : index
// CHECK:         %[[NI:.*]] = arith.divui %{{.*}}, %[[W]] : index
// CHECK-NEXT:    %[[NJ:.*]] = arith.divui %{{.*}}, %[[W]] : index
// CHECK-NEXT:    %[[EI:.*]] = arith.muli %[[NI]], %[[W]] : index
// CHECK-NEXT:    %[[EJ:.*]] = arith.muli %[[NJ]], %[[W]] : index
// CHECK:         loop.parallel (%[[BI:[0-9]+]], %[[BJ:[0-9]+]]) = (%{{.*}}, %{{.*}}) to (%[[NI]], %[[NJ]])
// CHECK-NEXT:      %[[I0:.*]] = arith.muli %[[BI]], %[[W]] : index
// CHECK-NEXT:      %[[J0:.*]] = arith.muli %[[BJ]], %[[W]] : index
// CHECK:           %[[R0:[0-9]+]] = vector.load %x[%[[J0]], %[[I0]]] : memref<?x?xf32>, vector<16xf32>
// CHECK-COUNT-15:  vector.load %x
// CHECK-NEXT:      vector.shuffle %[[R0]], %{{.*}} [0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23] : vector<16xf32>, vector<16xf32>
// CHECK-NEXT:      vector.shuffle %[[R0]], %{{.*}} [8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31] : vector<16xf32>, vector<16xf32>
// CHECK-COUNT-62:  vector.shuffle
// CHECK:           vector.store %{{.*}}, %{{.*}}[%[[I0]], %[[J0]]] : memref<?x?xf32>, vector<16xf32>
// CHECK-COUNT-15:  vector.store
// CHECK:         loop.parallel (%[[I:[0-9]+]], %[[J:[0-9]+]]) = (%[[EI]], %{{.*}}) to
// CHECK-NEXT:      %{{.*}} = memref.load %x[%[[J]], %[[I]]] : memref<?x?xf32>
// CHECK:         loop.parallel (%[[I2:[0-9]+]], %[[J2:[0-9]+]]) = (%{{.*}}, %[[EJ]]) to (%[[EI]], %{{.*}})
// CHECK-NEXT:      %{{.*}} = memref.load %x[%[[J2]], %[[I2]]] : memref<?x?xf32>

// f64: 8 x 8 blocks, 3 rounds of shuffles.
func.func @t64(%x: tensor<?x?xf64>) -> tensor<?x?xf64> attributes {ember.entry} {
  %t = etensor.transpose %x {perm = array<i64: 1, 0>} : tensor<?x?xf64> -> tensor<?x?xf64>
  func.return %t : tensor<?x?xf64>
}

// CHECK-LABEL: func.func @t64
// CHECK:         arith.constant 8 : index
// CHECK-COUNT-8:   vector.load %x{{.*}} vector<8xf64>
// CHECK-COUNT-24:  vector.shuffle
// CHECK-COUNT-8:   vector.store
// CHECK-NOT:       vector.shuffle
