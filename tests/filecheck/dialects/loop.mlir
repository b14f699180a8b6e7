// loop.for and loop.parallel print and parse back; the verifier checks carried values.
// RUN: ember-opt %s | ember-opt | filecheck %s

// CHECK-LABEL: func.func @loops
func.func @loops(%x: memref<?xf32>, %n: index) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %z = arith.constant 0.0 : f32
  // CHECK: loop.for %{{.*}} = %{{.*}} to %n step %{{.*}} iter_args(%{{.*}} = %{{.*}}) -> (f32) {
  %r = loop.for %i = %c0 to %n step %c1 iter_args(%a = %z) -> (f32) {
    %v = memref.load %x[%i] : memref<?xf32>
    %s = arith.addf %a, %v : f32
    // CHECK: loop.yield %{{.*}} : f32
    loop.yield %s : f32
  }
  // CHECK: loop.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %{{.*}}) to (%n, %n) step (%{{.*}}, %{{.*}}) {
  loop.parallel (%i, %j) = (%c0, %c0) to (%n, %n) step (%c1, %c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    memref.store %v, %x[%j] : memref<?xf32>
  }
  // CHECK: loop.parallel (%{{.*}}) = (%{{.*}}) to (%n) step (%{{.*}}) reduce(add) init(%{{.*}} = %{{.*}}) -> (f32) {
  %q = loop.parallel (%i) = (%c0) to (%n) step (%c1) reduce(add) init(%a = %z) -> (f32) {
    %v = memref.load %x[%i] : memref<?xf32>
    %s = arith.addf %a, %v : f32
    loop.yield %s : f32
  }
  func.return %q : f32
}

// CHECK-LABEL: func.func @hint
func.func @hint(%x: memref<?x?xf64>, %i: index) {
  // CHECK: loop.prefetch %x[%i, %i] {locality = 2 : i32} : memref<?x?xf64>
  loop.prefetch %x[%i, %i] {locality = 2 : i32} : memref<?x?xf64>
  func.return
}
