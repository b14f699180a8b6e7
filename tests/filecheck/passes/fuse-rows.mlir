// RUN: ember-opt %s -p fuse-rows | filecheck %s

// softmax after tensor-to-loop (exp shortened to math.exp): a row max, a row sum and the
// division, each a nest over the rows, become one nest over the rows; the size-1 dimension
// of the keepdims buffers disappears, the allocations between the nests move above it and
// the deallocations stay below.
// CHECK-LABEL: func.func @softmax
// CHECK:         %[[M:.*]] = memref.alloc(%[[N:.*]]) : memref<?x1xf32>
// CHECK-NEXT:    %[[S:.*]] = memref.alloc(%[[N]]) : memref<?x1xf32>
// CHECK-NEXT:    %[[R:.*]] = memref.alloc(%[[N]], %[[C:.*]]) {ember.result = 0 : i64} : memref<?x?xf32>
// CHECK-NEXT:    loop.parallel (%[[I:.*]]) = (%[[C0:.*]]) to (%[[N]]) step (%{{.*}}) {
// CHECK:           %[[MX:.*]] = loop.parallel (%{{.*}}) = (%[[C0]]) to (%[[C]]) step (%{{.*}}) reduce(max)
// CHECK:           memref.store %[[MX]], %[[M]][%[[I]], %[[C0]]] : memref<?x1xf32>
// CHECK:           %[[SM:.*]] = loop.parallel (%{{.*}}) = (%[[C0]]) to (%[[C]]) step (%{{.*}}) reduce(add)
// CHECK:           memref.store %[[SM]], %[[S]][%[[I]], %[[C0]]] : memref<?x1xf32>
// CHECK-NEXT:      loop.parallel (%[[J:.*]]) = (%[[C0]]) to (%[[C]]) step (%{{.*}}) {
// CHECK:             memref.load %[[S]][%[[I]], %[[C0]]] : memref<?x1xf32>
// CHECK:             memref.store %{{.*}}, %[[R]][%[[I]], %[[J]]] : memref<?x?xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    memref.dealloc %[[M]] : memref<?x1xf32>
// CHECK-NEXT:    memref.dealloc %[[S]] : memref<?x1xf32>
// CHECK-NEXT:    func.return %[[R]] : memref<?x?xf32>
func.func @softmax(%x: memref<?x?xf32>) -> memref<?x?xf32> attributes {ember.entry} {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x?xf32>
  %c = memref.dim %x, %c1 : memref<?x?xf32>
  %m = memref.alloc(%n) : memref<?x1xf32>
  loop.parallel (%i, %k) = (%c0, %c0) to (%n, %c1) step (%c1, %c1) {
    %ninf = arith.constant 0xff800000 : f32
    %mx = loop.parallel (%j) = (%c0) to (%c) step (%c1) reduce(max) init(%a = %ninf) -> (f32) {
      %v = memref.load %x[%i, %j] : memref<?x?xf32>
      %b = arith.maximumf %a, %v : f32
      loop.yield %b : f32
    }
    memref.store %mx, %m[%i, %k] : memref<?x1xf32>
  }
  %s = memref.alloc(%n) : memref<?x1xf32>
  loop.parallel (%i, %k) = (%c0, %c0) to (%n, %c1) step (%c1, %c1) {
    %z = arith.constant 0.000000e+00 : f32
    %sm = loop.parallel (%j) = (%c0) to (%c) step (%c1) reduce(add) init(%a = %z) -> (f32) {
      %v = memref.load %x[%i, %j] : memref<?x?xf32>
      %mv = memref.load %m[%i, %c0] : memref<?x1xf32>
      %d = arith.subf %v, %mv : f32
      %e = math.exp %d : f32
      %b = arith.addf %a, %e : f32
      loop.yield %b : f32
    }
    memref.store %sm, %s[%i, %k] : memref<?x1xf32>
  }
  %r = memref.alloc(%n, %c) {ember.result = 0 : i64} : memref<?x?xf32>
  loop.parallel (%i, %j) = (%c0, %c0) to (%n, %c) step (%c1, %c1) {
    %v = memref.load %x[%i, %j] : memref<?x?xf32>
    %mv = memref.load %m[%i, %c0] : memref<?x1xf32>
    %d = arith.subf %v, %mv : f32
    %e = math.exp %d : f32
    %sv = memref.load %s[%i, %c0] : memref<?x1xf32>
    %q = arith.divf %e, %sv : f32
    memref.store %q, %r[%i, %j] : memref<?x?xf32>
  }
  memref.dealloc %m : memref<?x1xf32>
  memref.dealloc %s : memref<?x1xf32>
  func.return %r : memref<?x?xf32>
}

// The second nest reads row 0 of the first one's buffer in every iteration: iteration i
// would read it before iteration 0 wrote it. Not fused.
// CHECK-LABEL: func.func @reads_another_row
// CHECK:         loop.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) {
// CHECK:         loop.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) {
// CHECK:         func.return
func.func @reads_another_row(%x: memref<?xf32>) -> memref<?xf32> attributes {ember.entry} {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  %t = memref.alloc(%n) : memref<?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    memref.store %v, %t[%i] : memref<?xf32>
  }
  %r = memref.alloc(%n) {ember.result = 0 : i64} : memref<?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %t[%c0] : memref<?xf32>
    memref.store %v, %r[%i] : memref<?xf32>
  }
  memref.dealloc %t : memref<?xf32>
  func.return %r : memref<?xf32>
}

// Different row counts, an assert inside a body, and a load between the nests each keep
// the nests apart.
// CHECK-LABEL: func.func @not_fused
// CHECK-COUNT-4: loop.parallel (%{{[^)]*}}) = (%{{[^)]*}}) to
// CHECK:         func.return
func.func @not_fused(%x: memref<?xf32>, %y: memref<?xf32>) -> memref<?xf32> attributes {ember.entry} {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  %m = memref.dim %y, %c0 : memref<?xf32>
  %t = memref.alloc(%n) : memref<?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    memref.store %v, %t[%i] : memref<?xf32>
  }
  %u = memref.alloc(%m) : memref<?xf32>
  loop.parallel (%i) = (%c0) to (%m) step (%c1) {
    %v = memref.load %y[%i] : memref<?xf32>
    memref.store %v, %u[%i] : memref<?xf32>
  }
  loop.parallel (%i) = (%c0) to (%m) step (%c1) {
    %v = memref.load %u[%i] : memref<?xf32>
    %ok = arith.cmpf oge, %v, %v : f32
    cf.assert %ok, "nan"
  }
  %first = memref.load %t[%c0] : memref<?xf32>
  %r = memref.alloc(%n) {ember.result = 0 : i64} : memref<?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %t[%i] : memref<?xf32>
    %w = arith.addf %v, %first : f32
    memref.store %w, %r[%i] : memref<?xf32>
  }
  memref.dealloc %t : memref<?xf32>
  memref.dealloc %u : memref<?xf32>
  func.return %r : memref<?xf32>
}
