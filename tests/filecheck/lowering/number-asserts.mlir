// RUN: ember-opt %s -p number-asserts | filecheck %s

func.func @entry(%a: i1, %b: i1) attributes {ember.entry} {
  cf.assert %a, "first"
  scf.if %b {
    cf.assert %b, "second"
  }
  cf.assert %a, "third"
  func.return
}

func.func @helper(%a: i1) {
  cf.assert %a, "not numbered"
  func.return
}

// CHECK-LABEL: func.func @entry
// CHECK:         cf.assert %a, "first" {ember.assert_id = 1 : i64}
// CHECK:         cf.assert %b, "second" {ember.assert_id = 2 : i64}
// CHECK:         cf.assert %a, "third" {ember.assert_id = 3 : i64}
// CHECK-LABEL: func.func @helper
// CHECK-NEXT:    cf.assert %a, "not numbered"
// CHECK-NEXT:    func.return
