// RUN: ember-opt %s -p expand-memref-copy | filecheck %s

func.func @copy(%src: memref<?x4xf32, strided<[?, ?], offset: ?>>, %dst: memref<?x4xf32>) {
  "memref.copy"(%src, %dst) : (memref<?x4xf32, strided<[?, ?], offset: ?>>, memref<?x4xf32>) -> ()
  func.return
}

// CHECK-LABEL: func.func @copy
// CHECK:         %[[ZERO:.*]] = arith.constant 0 : index
// CHECK-NEXT:    %[[ONE:.*]] = arith.constant 1 : index
// CHECK-NEXT:    %[[D0:.*]] = arith.constant 0 : index
// CHECK-NEXT:    %[[N:.*]] = memref.dim %dst, %[[D0]] : memref<?x4xf32>
// CHECK-NEXT:    %[[M:.*]] = arith.constant 4 : index
// CHECK-NEXT:    scf.for %[[I:.*]] = %[[ZERO]] to %[[N]] step %[[ONE]] {
// CHECK-NEXT:      scf.for %[[J:.*]] = %[[ZERO]] to %[[M]] step %[[ONE]] {
// CHECK-NEXT:        %[[V:.*]] = memref.load %src[%[[I]], %[[J]]] : memref<?x4xf32, strided<[?, ?], offset: ?>>
// CHECK-NEXT:        memref.store %[[V]], %dst[%[[I]], %[[J]]] : memref<?x4xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return

func.func @copy0d(%src: memref<f64>, %dst: memref<f64>) {
  "memref.copy"(%src, %dst) : (memref<f64>, memref<f64>) -> ()
  func.return
}

// CHECK-LABEL: func.func @copy0d
// CHECK:         %[[V:.*]] = memref.load %src[] : memref<f64>
// CHECK-NEXT:    memref.store %[[V]], %dst[] : memref<f64>
