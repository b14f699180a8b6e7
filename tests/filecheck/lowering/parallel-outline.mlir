// RUN: ember-opt %s -p parallel-outline | filecheck %s
// RUN: ember-opt %s -p parallel-outline,parallel-runtime | filecheck %s --check-prefix=RUNTIME

// An elementwise loop: the body runs chunk %chunk of %chunks of the rows.
func.func @scale(%x: memref<?x?xf32>, %y: memref<?x?xf32>, %a: f32) attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?x?xf32>
  %m = memref.dim %x, %c1 : memref<?x?xf32>
  loop.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) {
    %v = memref.load %x[%i, %j] : memref<?x?xf32>
    %w = arith.mulf %v, %a : f32
    memref.store %w, %y[%i, %j] : memref<?x?xf32>
  }
  func.return
}

// CHECK-LABEL: func.func @scale(
// CHECK:         %[[CTX:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(i64, !llvm.struct<(!llvm.ptr, !llvm.array<2 x i64>, !llvm.array<2 x i64>)>, f32, !llvm.struct<(!llvm.ptr, !llvm.array<2 x i64>, !llvm.array<2 x i64>)>, i64)>
// work = rows x columns x 4 ops; the trip count of the rows is %n
// CHECK:         %[[CELLS:.*]] = arith.muli %n, %m : index
// CHECK-NEXT:    %[[I:.*]] = arith.index_cast %[[CELLS]] : index to i64
// CHECK-NEXT:    %[[F:.*]] = arith.sitofp %[[I]] : i64 to f64
// CHECK-NEXT:    %[[FOUR:.*]] = arith.constant 4.000000e+00 : f64
// CHECK-NEXT:    %[[WORK:.*]] = arith.mulf %[[F]], %[[FOUR]] : f64
// CHECK-NEXT:    %[[TRIP:.*]] = arith.index_cast %n : index to i64
// CHECK-NEXT:    %[[CHUNKS:.*]] = llvm.call @ember_parallel_chunks(%[[TRIP]], %[[WORK]]) : (i64, f64) -> i64
// CHECK:         llvm.store %{{.*}}, %[[CTX]]
// CHECK-NEXT:    %[[BODY:.*]] = llvm.mlir.addressof @scale_parallel0 : !llvm.ptr
// CHECK-NEXT:    %{{.*}} = llvm.call @ember_parallel_for(%[[BODY]], %[[CTX]], %[[CHUNKS]]) : (!llvm.ptr, !llvm.ptr, i64) -> i32
// CHECK-NEXT:    func.return

// CHECK-LABEL: func.func private @scale_parallel0(%ctx: !llvm.ptr, %chunk: index, %chunks: index) -> i32 attributes {ember.parallel_body} {
// CHECK-NEXT:    %[[S:.*]] = llvm.load %ctx : !llvm.ptr -> !llvm.struct<(i64,
// CHECK:         %[[X:.*]] = builtin.unrealized_conversion_cast %{{.*}} : !llvm.struct<(!llvm.ptr, !llvm.array<2 x i64>, !llvm.array<2 x i64>)> to memref<?x?xf32>
// CHECK:         %[[A:.*]] = llvm.extractvalue %[[S]][2]
// CHECK:         %[[Q:.*]] = arith.divui %[[N:.*]], %chunks : index
// CHECK-NEXT:    %[[R:.*]] = arith.remui %[[N]], %chunks : index
// CHECK-NEXT:    %[[KQ:.*]] = arith.muli %chunk, %[[Q]] : index
// CHECK-NEXT:    %[[KR:.*]] = arith.minui %chunk, %[[R]] : index
// CHECK-NEXT:    %[[LO:.*]] = arith.addi %[[KQ]], %[[KR]] : index
// CHECK:         loop.parallel (%i, %j) = (%[[LO]], %c0) to (%{{.*}}, %{{.*}}) step (%c1, %c1) {
// CHECK-NEXT:      %v = memref.load %[[X]][%i, %j] : memref<?x?xf32>
// CHECK-NEXT:      %w = arith.mulf %v, %[[A]] : f32
// CHECK:         %[[OK:.*]] = arith.constant 0 : i32
// CHECK-NEXT:    func.return %[[OK]] : i32

// A reduction: one partial per chunk, combined in chunk order after the join.
func.func @total(%x: memref<?xf64>) -> f64 attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f64
  %n = memref.dim %x, %c0 : memref<?xf64>
  %s = loop.parallel (%i) = (%c0) to (%n) step (%c1) reduce(add) init(%acc = %zero) -> (f64) {
    %v = memref.load %x[%i] : memref<?xf64>
    %r = arith.addf %acc, %v : f64
    loop.yield %r : f64
  }
  func.return %s : f64
}

// CHECK-LABEL: func.func @total(
// CHECK:         %[[PARTIALS:.*]] = memref.alloca() {alignment = 8 : i64} : memref<256xf64>
// CHECK:         %[[CHUNKS:.*]] = llvm.call @ember_parallel_chunks(
// CHECK:         llvm.call @ember_parallel_for(
// CHECK:         %[[FIRST:.*]] = memref.load %[[PARTIALS]][%{{.*}}] : memref<256xf64>
// CHECK-NEXT:    %[[COUNT:.*]] = arith.index_cast %[[CHUNKS]] : i64 to index
// CHECK-NEXT:    %s = loop.for %[[K:.*]] = %{{.*}} to %[[COUNT]] step %{{.*}} iter_args(%[[ACC:.*]] = %[[FIRST]]) -> (f64) {
// CHECK-NEXT:      %[[P:.*]] = memref.load %[[PARTIALS]][%[[K]]] : memref<256xf64>
// CHECK-NEXT:      %[[SUM:.*]] = arith.addf %[[ACC]], %[[P]] : f64
// CHECK-NEXT:      loop.yield %[[SUM]] : f64
// CHECK:         func.return %s : f64

// Chunk 0 starts from the initial value, the others from -0.0 (the identity of a float sum).
// CHECK-LABEL: func.func private @total_parallel0(
// CHECK:         %[[FIRST:.*]] = arith.cmpi eq, %chunk, %{{.*}} : index
// CHECK-NEXT:    %[[ID:.*]] = arith.constant -0.000000e+00 : f64
// CHECK-NEXT:    %[[INIT:.*]] = arith.select %[[FIRST]], %zero, %[[ID]] : f64
// CHECK-NEXT:    %[[R:.*]] = loop.parallel (%i) = (%{{.*}}) to (%{{.*}}) step (%c1) reduce(add) init(%acc = %[[INIT]]) -> (f64) {
// CHECK:         memref.store %[[R]], %{{.*}}[%chunk] : memref<256xf64>

// Not outlined: inside a loop.for, and a single iteration.
func.func @inner(%x: memref<?x?xf32>) attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?x?xf32>
  %f = arith.constant 1.0 : f32
  loop.for %i = %c0 to %n step %c1 {
    loop.parallel (%j) = (%c0) to (%n) step (%c1) {
      memref.store %f, %x[%i, %j] : memref<?x?xf32>
    }
  }
  loop.parallel (%j) = (%c0) to (%c1) step (%c1) {
    memref.store %f, %x[%j, %j] : memref<?x?xf32>
  }
  func.return
}

// CHECK-LABEL: func.func @inner(
// CHECK-NEXT:    %c0 = arith.constant 0 : index
// CHECK:         loop.for
// CHECK-NEXT:      loop.parallel
// CHECK:         loop.parallel (%{{.*}}) = (%c0) to (%c1) step (%c1) {
// CHECK-NOT:     ember_parallel_for
// CHECK:         func.return

// An assert in the body returns its number; the caller asserts on the status.
func.func @checked(%x: memref<?xi64>) attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %z = arith.constant 0 : i64
  %n = memref.dim %x, %c0 : memref<?xi64>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xi64>
    %ok = arith.cmpi sge, %v, %z : i64
    cf.assert %ok, "negative" {ember.assert_id = 1 : i64}
    memref.store %z, %x[%i] : memref<?xi64>
  }
  func.return
}

// CHECK-LABEL: func.func @checked(
// CHECK:         %[[STATUS:.*]] = llvm.call @ember_parallel_for(
// CHECK-NEXT:    %[[ONE:.*]] = arith.constant 1 : i32
// CHECK-NEXT:    %[[OK:.*]] = arith.cmpi ne, %[[STATUS]], %[[ONE]] : i32
// CHECK-NEXT:    cf.assert %[[OK]], "negative" {ember.assert_id = 1 : i64}

// CHECK-LABEL: func.func private @checked_parallel0(
// CHECK:         %ok = arith.cmpi sge, %v, %z : i64
// CHECK-NEXT:    cf.cond_br %ok, ^[[GOOD:.*]], ^[[BAD:.*]]
// CHECK-NEXT:  ^[[BAD]]:
// CHECK-NEXT:    %[[J:.*]] = arith.constant 1 : i32
// CHECK-NEXT:    func.return %[[J]] : i32

// A body with an scf.while: its trip count is unknown, so it counts as WHILE_TRIP = 2^32
// iterations (work = n x (3 + 4 x 2^32): the ops of both regions): worth splitting at any grain.
func.func @halvings(%x: memref<?xi64>) attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1 : i64
  %n = memref.dim %x, %c0 : memref<?xi64>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xi64>
    %r = scf.while (%a = %v) : (i64) -> i64 {
      %big = arith.cmpi sgt, %a, %one : i64
      scf.condition(%big) %a : i64
    } do {
    ^bb0(%b: i64):
      %h = arith.shrsi %b, %one : i64
      scf.yield %h : i64
    }
    memref.store %r, %x[%i] : memref<?xi64>
  }
  func.return
}

// CHECK-LABEL: func.func @halvings(
// CHECK:         %[[I:.*]] = arith.index_cast %n : index to i64
// CHECK-NEXT:    %[[F:.*]] = arith.sitofp %[[I]] : i64 to f64
// CHECK-NEXT:    %[[COST:.*]] = arith.constant 0x42100000000C0000 : f64
// CHECK-NEXT:    %[[WORK:.*]] = arith.mulf %[[F]], %[[COST]] : f64
// CHECK:         llvm.call @ember_parallel_chunks(%{{.*}}, %[[WORK]]) : (i64, f64) -> i64

// A loop of ember.prange is split whatever its estimated work (Numba's prange is too): the
// work passed to ember_parallel_chunks is a constant larger than any grain.
func.func @prange_loop(%x: memref<?xf64>) attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xf64>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf64>
    memref.store %v, %x[%i] : memref<?xf64>
  } {ember.prange}
  func.return
}

// CHECK-LABEL: func.func @prange_loop(
// CHECK:         %[[WORK:.*]] = arith.constant 1.000000e+300 : f64
// CHECK-NEXT:    %[[TRIP:.*]] = arith.index_cast %n : index to i64
// CHECK-NEXT:    %{{.*}} = llvm.call @ember_parallel_chunks(%[[TRIP]], %[[WORK]]) : (i64, f64) -> i64

// The runtime's entry points are declared, and stay declarations: the JIT resolves them to
// its process-wide runtime, ember.export links a copy into the library.
// CHECK:       llvm.func @ember_parallel_chunks(i64, f64) -> i64
// CHECK-NEXT:  llvm.func @ember_parallel_for(!llvm.ptr, !llvm.ptr, i64) -> i32
// CHECK-NOT:   llvm.func

// parallel-runtime only checks the declarations.
// RUNTIME:       llvm.func @ember_parallel_chunks(i64, f64) -> i64
// RUNTIME-NEXT:  llvm.func @ember_parallel_for(!llvm.ptr, !llvm.ptr, i64) -> i32
// RUNTIME-NOT:   llvm.func
// RUNTIME-NOT:   llvm.mlir.global
