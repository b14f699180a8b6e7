// RUN: ember-opt %s -p lower-scf-to-cf | filecheck %s

func.func @halve_until_odd(%x: i64) -> i64 {
  %two = arith.constant 2 : i64
  %zero = arith.constant 0 : i64
  %r = scf.while (%a = %x) : (i64) -> i64 {
    %rem = arith.remsi %a, %two : i64
    %even = arith.cmpi eq, %rem, %zero : i64
    scf.condition(%even) %a : i64
  } do {
  ^bb0(%b: i64):
    %h = arith.divsi %b, %two : i64
    scf.yield %h : i64
  }
  func.return %r : i64
}

// CHECK-LABEL: func.func @halve_until_odd
// CHECK:         cf.br ^[[BEFORE:.*]](%x : i64)
// CHECK-NEXT:  ^[[BEFORE]](%a: i64):
// CHECK:         %even = arith.cmpi eq, %rem, %zero : i64
// CHECK-NEXT:    cf.cond_br %even, ^[[AFTER:.*]](%a : i64), ^[[END:.*]](%a : i64)
// CHECK-NEXT:  ^[[AFTER]](%b: i64):
// CHECK-NEXT:    %h = arith.divsi %b, %two : i64
// CHECK-NEXT:    cf.br ^[[BEFORE]](%h : i64)
// CHECK-NEXT:  ^[[END]](%r: i64):
// CHECK-NEXT:    func.return %r : i64

func.func @while_in_for(%n: index, %x: i64, %m: memref<i64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    %r = scf.while (%a = %x) : (i64) -> i64 {
      %t = arith.constant true
      scf.condition(%t) %a : i64
    } do {
    ^bb0(%b: i64):
      memref.store %b, %m[] : memref<i64>
      scf.yield %b : i64
    }
    scf.yield
  }
  func.return
}

// CHECK-LABEL: func.func @while_in_for
// CHECK:         cf.br ^[[FOR:.*]](%c0 : index)
// CHECK-NEXT:  ^[[FOR]](%i: index):
// CHECK-NEXT:    %[[C:.*]] = arith.cmpi slt, %i, %n : index
// CHECK-NEXT:    cf.cond_br %[[C]], ^{{.*}}, ^[[EXIT:.*]]
// CHECK:         cf.br ^[[BEFORE:.*]](%x : i64)
// CHECK-NEXT:  ^[[BEFORE]](%a: i64):
// CHECK:         cf.cond_br %t, ^[[AFTER:.*]](%a : i64), ^[[END:.*]](%a : i64)
// CHECK-NEXT:  ^[[AFTER]](%b: i64):
// CHECK-NEXT:    memref.store %b, %m[] : memref<i64>
// CHECK-NEXT:    cf.br ^[[BEFORE]](%b : i64)
// CHECK-NEXT:  ^[[END]](%r: i64):
// CHECK-NEXT:    %[[NEXT:.*]] = arith.addi %i, %c1 : index
// CHECK-NEXT:    cf.br ^[[FOR]](%[[NEXT]] : index)
// CHECK-NEXT:  ^[[EXIT]]:
// CHECK-NEXT:    func.return
// CHECK-NOT:     scf.
