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

// An scf.for stops carrying a value it yields unchanged (its own argument, or its initial
// value): uses of the argument and of the result read the initial value (MLIR's
// ForOpIterArgsFolder, which xDSL's canonicalize lacks).
func.func @carries(%x: tensor<?xf32>, %y: tensor<?xf32>, %n: index) -> (tensor<?xf32>, tensor<?xf32>, tensor<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r:3 = scf.for %i = %c0 to %n step %c1 iter_args(%a = %x, %b = %x, %c = %y) -> (tensor<?xf32>, tensor<?xf32>, tensor<?xf32>) {
    %s = etensor.add %a, %b : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
    scf.yield %s, %b, %y : tensor<?xf32>, tensor<?xf32>, tensor<?xf32>
  }
  func.return %r#0, %r#1, %r#2 : tensor<?xf32>, tensor<?xf32>, tensor<?xf32>
}

// CHECK-LABEL: func.func @carries(%x: tensor<?xf32>, %y: tensor<?xf32>, %n: index)
// CHECK:         %[[R:.*]] = scf.for %{{.*}} = %{{.*}} to %n step %{{.*}} iter_args(%[[A:.*]] = %x) -> (tensor<?xf32>) {
// CHECK-NEXT:      %[[S:.*]] = etensor.add %[[A]], %x
// CHECK-NEXT:      scf.yield %[[S]] : tensor<?xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[R]], %x, %y
