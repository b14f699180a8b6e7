// RUN: ember-opt %s -p share-recomputed | filecheck %s

// A row of softmax (the shape fuse-rows leaves): the exp computed for the row sum and again
// for the division is computed once, by a loop of its own before the sum, into the result
// row; the sum (blocked f32 of tensor-to-loop, blocks of 256, counts as one loop over the
// row) and the division read it back. The sum's loop stores nothing (LLVM vectorises it
// without a run-time overlap check).
// CHECK-LABEL: func.func @softmax_row
// CHECK:         loop.parallel (%[[I:.*]]) = ({{.*}}) to ({{.*}}) step ({{.*}}) {
// CHECK:           loop.parallel (%[[F:.*]]) = (%{{.*}}) to (%[[C:.*]]) step (%{{.*}}) {
// CHECK:             %[[E:.*]] = math.exp %{{.*}} : f32
// CHECK-NEXT:        memref.store %[[E]], %[[R:.*]][%[[I]], %[[F]]] : memref<?x?xf32>
// CHECK-NEXT:      }
// CHECK:           loop.parallel (%[[J:.*]]) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) reduce(add) init(%[[A:.*]] = %{{.*}}) -> (f32) {
// CHECK-NEXT:        %[[EJ:.*]] = memref.load %[[R]][%[[I]], %[[J]]] : memref<?x?xf32>
// CHECK-NEXT:        %{{.*}} = arith.addf %[[A]], %[[EJ]] : f32
// CHECK:           loop.parallel (%[[K:.*]]) = ({{.*}}) to ({{.*}}) step ({{.*}}) {
// CHECK-NEXT:        %[[E2:.*]] = memref.load %[[R]][%[[I]], %[[K]]] : memref<?x?xf32>
// CHECK-NEXT:        %[[SV:.*]] = memref.load %{{.*}}[%[[I]], %{{.*}}] : memref<?x1xf32>
// CHECK-NEXT:        %{{.*}} = arith.divf %[[E2]], %[[SV]] : f32
// CHECK-NOT:         math.exp
// CHECK:         func.return
func.func @softmax_row(%x: memref<?x?xf32>, %m: memref<?x1xf32>) -> memref<?x?xf32> attributes {ember.entry} {
  %c255 = arith.constant 255 : index
  %c256 = arith.constant 256 : index
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x?xf32>
  %c = memref.dim %x, %c1 : memref<?x?xf32>
  %s = memref.alloc(%n) : memref<?x1xf32>
  %up = arith.addi %c, %c255 : index
  %blocks = arith.divui %up, %c256 : index
  %r = memref.alloc(%n, %c) {ember.result = 0 : i64} : memref<?x?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %z64 = arith.constant 0.000000e+00 : f64
    %sum = loop.parallel (%k) = (%c0) to (%blocks) step (%c1) reduce(add) init(%acc = %z64) -> (f64) {
      %lo = arith.muli %k, %c256 : index
      %end = arith.addi %lo, %c256 : index
      %hi = arith.minui %end, %c : index
      %z = arith.constant 0.000000e+00 : f32
      %part = loop.parallel (%j) = (%lo) to (%hi) step (%c1) reduce(add) init(%a = %z) -> (f32) {
        %v = memref.load %x[%i, %j] : memref<?x?xf32>
        %mv = memref.load %m[%i, %c0] : memref<?x1xf32>
        %d = arith.subf %v, %mv : f32
        %e = math.exp %d : f32
        %b = arith.addf %a, %e : f32
        loop.yield %b : f32
      }
      %w = arith.extf %part : f32 to f64
      %t = arith.addf %acc, %w : f64
      loop.yield %t : f64
    }
    %s32 = arith.truncf %sum : f64 to f32
    memref.store %s32, %s[%i, %c0] : memref<?x1xf32>
    loop.parallel (%j) = (%c0) to (%c) step (%c1) {
      %v = memref.load %x[%i, %j] : memref<?x?xf32>
      %mv = memref.load %m[%i, %c0] : memref<?x1xf32>
      %d = arith.subf %v, %mv : f32
      %e = math.exp %d : f32
      %sv = memref.load %s[%i, %c0] : memref<?x1xf32>
      %q = arith.divf %e, %sv : f32
      memref.store %q, %r[%i, %j] : memref<?x?xf32>
    }
  }
  memref.dealloc %s : memref<?x1xf32>
  func.return %r : memref<?x?xf32>
}

// Left alone: the reduction covers another range (%h, not the row length %c); the buffer
// the exp reads (%m) is written between the two loops; nothing worth storing (a subtraction).
// CHECK-LABEL: func.func @left_alone
// CHECK-COUNT-4: math.exp
// CHECK-NOT:     memref.load %r
// CHECK:         func.return
func.func @left_alone(%x: memref<?x?xf32>, %m: memref<?x1xf32>, %h: index) -> (memref<?x?xf32>, memref<?x?xf32>, memref<?x?xf32>) attributes {ember.entry} {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x?xf32>
  %c = memref.dim %x, %c1 : memref<?x?xf32>
  %r1 = memref.alloc(%n, %c) {ember.result = 0 : i64} : memref<?x?xf32>
  %r2 = memref.alloc(%n, %c) {ember.result = 1 : i64} : memref<?x?xf32>
  %r3 = memref.alloc(%n, %c) {ember.result = 2 : i64} : memref<?x?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %z = arith.constant 0.000000e+00 : f32
    %s1 = loop.parallel (%j) = (%c0) to (%h) step (%c1) reduce(add) init(%a = %z) -> (f32) {
      %v = memref.load %x[%i, %j] : memref<?x?xf32>
      %e = math.exp %v : f32
      %b = arith.addf %a, %e : f32
      loop.yield %b : f32
    }
    loop.parallel (%j) = (%c0) to (%c) step (%c1) {
      %v = memref.load %x[%i, %j] : memref<?x?xf32>
      %e = math.exp %v : f32
      %q = arith.divf %e, %s1 : f32
      memref.store %q, %r1[%i, %j] : memref<?x?xf32>
    }
    %s2 = loop.parallel (%j) = (%c0) to (%c) step (%c1) reduce(add) init(%a = %z) -> (f32) {
      %v = memref.load %x[%i, %j] : memref<?x?xf32>
      %mv = memref.load %m[%i, %c0] : memref<?x1xf32>
      %e = math.exp %mv : f32
      %b = arith.addf %a, %e : f32
      loop.yield %b : f32
    }
    memref.store %s2, %m[%i, %c0] : memref<?x1xf32>
    loop.parallel (%j) = (%c0) to (%c) step (%c1) {
      %mv = memref.load %m[%i, %c0] : memref<?x1xf32>
      %e = math.exp %mv : f32
      memref.store %e, %r2[%i, %j] : memref<?x?xf32>
    }
    %s3 = loop.parallel (%j) = (%c0) to (%c) step (%c1) reduce(add) init(%a = %z) -> (f32) {
      %v = memref.load %x[%i, %j] : memref<?x?xf32>
      %d = arith.subf %v, %z : f32
      %b = arith.addf %a, %d : f32
      loop.yield %b : f32
    }
    loop.parallel (%j) = (%c0) to (%c) step (%c1) {
      %v = memref.load %x[%i, %j] : memref<?x?xf32>
      %d = arith.subf %v, %z : f32
      %q = arith.mulf %d, %s3 : f32
      memref.store %q, %r3[%i, %j] : memref<?x?xf32>
    }
  }
  func.return %r1, %r2, %r3 : memref<?x?xf32>, memref<?x?xf32>, memref<?x?xf32>
}
