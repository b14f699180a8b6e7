// RUN: ember-opt %s -p forward-stores | filecheck %s

// A temporary filled and read back in the same iteration (what fuse-rows leaves of a value
// with three users) becomes an SSA value; its buffer, now write-only, disappears. The row
// statistic stored in the row body and read in the nested loop is forwarded too.
// CHECK-LABEL: func.func @forwarded
// CHECK-NOT:     memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK:         loop.parallel (%[[I:.*]]) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) {
// CHECK-NEXT:      %[[V:.*]] = memref.load %x[%[[I]]] : memref<?xf32>
// CHECK-NEXT:      %[[E:.*]] = math.exp %[[V]] : f32
// CHECK-NEXT:      %[[S:.*]] = arith.mulf %[[E]], %[[E]] : f32
// CHECK-NEXT:      memref.store %[[S]], %r[%[[I]]] : memref<?xf32>
// CHECK-NEXT:    }
// CHECK-NOT:     memref.dealloc
// CHECK:         loop.parallel (%[[R:.*]]) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) {
// CHECK:           %[[M:.*]] = loop.parallel
// CHECK-NOT:       memref.store %[[M]]
// CHECK:           loop.parallel (%[[J:.*]]) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) {
// CHECK-NEXT:        %[[W:.*]] = memref.load %y[%[[R]], %[[J]]] : memref<?x?xf32>
// CHECK-NEXT:        %{{.*}} = arith.subf %[[W]], %[[M]] : f32
func.func @forwarded(%x: memref<?xf32>, %r: memref<?xf32>, %y: memref<?x?xf32>, %out: memref<?x?xf32>) {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  %a = memref.alloc(%n) : memref<?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    %e = math.exp %v : f32
    memref.store %e, %a[%i] : memref<?xf32>
    %l = memref.load %a[%i] : memref<?xf32>
    %s = arith.mulf %l, %l : f32
    memref.store %s, %r[%i] : memref<?xf32>
  }
  memref.dealloc %a : memref<?xf32>
  %rows = memref.dim %y, %c0 : memref<?x?xf32>
  %cols = memref.dim %y, %c1 : memref<?x?xf32>
  %m = memref.alloc(%rows) : memref<?x1xf32>
  loop.parallel (%i) = (%c0) to (%rows) step (%c1) {
    %ninf = arith.constant 0xff800000 : f32
    %mx = loop.parallel (%j) = (%c0) to (%cols) step (%c1) reduce(max) init(%acc = %ninf) -> (f32) {
      %w = memref.load %y[%i, %j] : memref<?x?xf32>
      %b = arith.maximumf %acc, %w : f32
      loop.yield %b : f32
    }
    memref.store %mx, %m[%i, %c0] : memref<?x1xf32>
    loop.parallel (%j) = (%c0) to (%cols) step (%c1) {
      %w = memref.load %y[%i, %j] : memref<?x?xf32>
      %mv = memref.load %m[%i, %c0] : memref<?x1xf32>
      %d = arith.subf %w, %mv : f32
      memref.store %d, %out[%i, %j] : memref<?x?xf32>
    }
  }
  memref.dealloc %m : memref<?x1xf32>
  func.return
}

// Left alone: a load before the store (it reads the previous contents), a buffer stored
// twice, and a load at another index; and buffers read after the loop stay.
// CHECK-LABEL: func.func @left_alone
// CHECK-COUNT-4: memref.load %t
// CHECK:         func.return
func.func @left_alone(%x: memref<?xf32>, %t: memref<?xf32>, %u: memref<?xf32>) -> f32 {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  loop.for %i = %c0 to %n step %c1 {
    %before = memref.load %t[%i] : memref<?xf32>
    %v = memref.load %x[%i] : memref<?xf32>
    %s = arith.addf %before, %v : f32
    memref.store %s, %t[%i] : memref<?xf32>
    memref.store %s, %t[%c0] : memref<?xf32>
    %again = memref.load %t[%i] : memref<?xf32>
    %other = memref.load %t[%c0] : memref<?xf32>
    %w = arith.addf %again, %other : f32
    memref.store %w, %u[%i] : memref<?xf32>
  }
  %last = memref.load %t[%c0] : memref<?xf32>
  func.return %last : f32
}
