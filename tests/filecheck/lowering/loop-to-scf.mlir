// RUN: ember-opt %s -p loop-to-scf | filecheck %s

func.func @sum2d(%x: memref<?x?xf32>, %n: index, %m: index) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %z = arith.constant 0.0 : f32
  %r = loop.parallel (%i, %j) = (%c0, %c1) to (%n, %m) step (%c1, %c1) reduce(add) init(%acc = %z) -> (f32) {
    %v = memref.load %x[%i, %j] : memref<?x?xf32>
    %s = arith.addf %acc, %v : f32
    loop.yield %s : f32
  }
  %t = loop.for %k = %c0 to %n step %c1 iter_args(%a = %r) -> (f32) {
    %b = arith.addf %a, %a : f32
    loop.yield %b : f32
  }
  func.return %t : f32
}

// CHECK-LABEL: func.func @sum2d
// CHECK:         %r = scf.for %i = %c0 to %n step %c1 iter_args(%[[OUTER:.*]] = %z) -> (f32) {
// CHECK-NEXT:      %[[INNER:.*]] = scf.for %j = %c1 to %m step %c1 iter_args(%acc = %[[OUTER]]) -> (f32) {
// CHECK-NEXT:        %v = memref.load %x[%i, %j] : memref<?x?xf32>
// CHECK-NEXT:        %s = arith.addf %acc, %v : f32
// CHECK-NEXT:        scf.yield %s : f32
// CHECK-NEXT:      }
// CHECK-NEXT:      scf.yield %[[INNER]] : f32
// CHECK-NEXT:    }
// CHECK-NEXT:    %t = scf.for %k = %c0 to %n step %c1 iter_args(%a = %r) -> (f32) {
// CHECK-NEXT:      %b = arith.addf %a, %a : f32
// CHECK-NEXT:      scf.yield %b : f32
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %t : f32
// CHECK-NOT:   loop.
