// canonicalize (ember.passes.canonicalize): xDSL's canonicalize patterns with folding, then
// dead-code removal, but neither walks into an op marked ember.generated (a packed matmul's
// task loop, generated in final form): the marked op is still visited, its body is not.
// RUN: ember-opt %s -p canonicalize | filecheck %s

func.func @f(%m: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %z = arith.constant 0.000000e+00 : f32
  %dead = arith.muli %n, %c1 : index
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %j = arith.addi %i, %c0 : index
    %unused = arith.muli %j, %c1 : index
    memref.store %z, %m[%j] : memref<?xf32>
  }
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %j = arith.addi %i, %c0 : index
    %unused = arith.muli %j, %c1 : index
    memref.store %z, %m[%j] : memref<?xf32>
  } {ember.generated}
  func.return
}

// CHECK-LABEL: func.func @f
// CHECK-NOT:     arith.muli
//                outside: the addition of 0 folds, the dead products go
// CHECK:         loop.parallel (%[[I:.*]]) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) {
// CHECK-NEXT:      memref.store %{{.*}}, %{{.*}}[%[[I]]] : memref<?xf32>
// CHECK-NEXT:    }
//                inside the marked loop nothing changes
// CHECK-NEXT:    loop.parallel (%[[K:.*]]) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) {
// CHECK-NEXT:      %[[J:.*]] = arith.addi %[[K]], %{{.*}} : index
// CHECK-NEXT:      arith.muli %[[J]], %{{.*}} : index
// CHECK-NEXT:      memref.store %{{.*}}, %{{.*}}[%[[J]]] : memref<?xf32>
// CHECK-NEXT:    } {ember.generated}

// An unused marked op with no effects still goes (the op itself is visited).
func.func @g(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %j = arith.addi %i, %c1 : index
  } {ember.generated}
  func.return
}

// CHECK-LABEL: func.func @g
// CHECK-NOT:     loop.parallel
// CHECK:         func.return
