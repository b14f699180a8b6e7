// RUN: ember-opt %s -p func-to-llvm,memref-to-llvm,vector-to-llvm,reconcile-unrealized-casts | filecheck %s

// One step of matmul's register tile: broadcast an element of A, load a row piece of B,
// fused multiply-add, store. Loads and stores keep the element's alignment (4), never the
// vector's: rows of NumPy arrays are not 64-byte aligned.
func.func @tile(%a: memref<?x?xf32>, %b: memref<?x?xf32>, %i: index, %j: index) {
  %x = memref.load %a[%i, %j] : memref<?x?xf32>
  %s = vector.broadcast %x : f32 to vector<16xf32>
  %v = vector.load %b[%i, %j] : memref<?x?xf32>, vector<16xf32>
  %r = vector.fma %s, %v, %v : vector<16xf32>
  vector.store %r, %b[%i, %j] : memref<?x?xf32>, vector<16xf32>
  func.return
}

// CHECK-LABEL: llvm.func internal @tile
// CHECK:         %x = llvm.load %{{.*}} : !llvm.ptr -> f32
// CHECK-NEXT:    %[[U:.*]] = llvm.mlir.undef : vector<16xf32>
// CHECK-NEXT:    %[[Z:.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT:    %[[ONE:.*]] = llvm.insertelement %x, %[[U]][%[[Z]] : i32] : vector<16xf32>
// CHECK-NEXT:    %s = llvm.shufflevector %[[ONE]], %[[U]] [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] : vector<16xf32>
// CHECK:         %[[P:.*]] = llvm.getelementptr inbounds %{{.*}}[%{{.*}}] : (!llvm.ptr, i64) -> !llvm.ptr, f32
// CHECK-NEXT:    %v = llvm.load %[[P]] {alignment = 4 : i64} : !llvm.ptr -> vector<16xf32>
// CHECK-NEXT:    %r = llvm.intr.fma(%s, %v, %v) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// CHECK:         llvm.store %r, %{{.*}} {alignment = 4 : i64} : vector<16xf32>, !llvm.ptr
// CHECK-NOT:     vector.

// f64 tiles use vector<8xf64>.
func.func @splat64(%x: f64) -> vector<8xf64> {
  %s = vector.broadcast %x : f64 to vector<8xf64>
  func.return %s : vector<8xf64>
}

// CHECK-LABEL: llvm.func internal @splat64
// CHECK:         llvm.shufflevector %{{.*}}, %{{.*}} [0, 0, 0, 0, 0, 0, 0, 0] : vector<8xf64>

// A shuffle of two vectors (a block transpose's perfect-shuffle step) is LLVM's.
func.func @interleave(%a: vector<4xf64>, %b: vector<4xf64>) -> vector<4xf64> {
  %s = vector.shuffle %a, %b [0, 4, 1, 5] : vector<4xf64>, vector<4xf64>
  func.return %s : vector<4xf64>
}

// CHECK-LABEL: llvm.func internal @interleave
// CHECK:         %{{.*}} = llvm.shufflevector %{{.*}}, %{{.*}} [0, 4, 1, 5] : vector<4xf64>
