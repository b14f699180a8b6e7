// RUN: ember-opt %s -p parallel-outline | filecheck %s

// Two loops with the same code (two matmuls of one dtype, here two scalings) outline to one
// body, which both call sites run: LLVM optimises and compiles it once. A loop with other
// code gets a body of its own.
func.func @twice(%x: memref<?xf32>, %y: memref<?xf32>, %z: memref<?xf32>, %a: f32) attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    %w = arith.mulf %v, %a : f32
    memref.store %w, %y[%i] : memref<?xf32>
  }
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %y[%i] : memref<?xf32>
    %w = arith.mulf %v, %a : f32
    memref.store %w, %z[%i] : memref<?xf32>
  }
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %z[%i] : memref<?xf32>
    %w = arith.addf %v, %a : f32
    memref.store %w, %x[%i] : memref<?xf32>
  }
  func.return
}

// CHECK-LABEL: func.func @twice(
// CHECK:         llvm.mlir.addressof @twice_parallel0 : !llvm.ptr
// CHECK:         llvm.mlir.addressof @twice_parallel0 : !llvm.ptr
// CHECK:         llvm.mlir.addressof @twice_parallel1 : !llvm.ptr
// CHECK:       func.func private @twice_parallel0(
// CHECK:         arith.mulf
// CHECK:       func.func private @twice_parallel1(
// CHECK:         arith.addf
// CHECK-NOT:   func.func private

// The same code over buffers of different layouts (contiguous, strided) is not shared: the
// bodies read the descriptors differently. (The contiguous loop is @twice's first loop:
// bodies are shared across functions too.)
func.func @layouts(%x: memref<?xf32>, %s: memref<?xf32, strided<[?], offset: ?>>, %y: memref<?xf32>, %a: f32) attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    %w = arith.mulf %v, %a : f32
    memref.store %w, %y[%i] : memref<?xf32>
  }
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %s[%i] : memref<?xf32, strided<[?], offset: ?>>
    %w = arith.mulf %v, %a : f32
    memref.store %w, %y[%i] : memref<?xf32>
  }
  func.return
}

// CHECK-LABEL: func.func @layouts(
// CHECK:         llvm.mlir.addressof @twice_parallel0 : !llvm.ptr
// CHECK:         llvm.mlir.addressof @layouts_parallel0 : !llvm.ptr
// CHECK:       func.func private @layouts_parallel0(
// CHECK:         memref.load %{{.*}} : memref<?xf32, strided<[?], offset: ?>>
