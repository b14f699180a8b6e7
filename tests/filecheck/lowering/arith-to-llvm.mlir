// RUN: ember-opt %s -p arith-to-llvm,reconcile-unrealized-casts | filecheck %s

func.func @ops(%a: i64, %b: i64, %x: f32, %y: f32, %i: index) -> (i64, f32, i32, f64, i1, index) {
  %s = arith.addf %x, %y fastmath<fast> : f32
  %m = arith.maxsi %a, %b : i64
  %q = arith.floordivsi %m, %b : i64
  %t = arith.fptosi %s : f32 to i32
  %e = arith.extf %s : f32 to f64
  %c = arith.cmpf olt, %x, %y : f32
  %j = arith.index_cast %q : i64 to index
  %k = arith.addi %j, %i : index
  func.return %q, %s, %t, %e, %c, %k : i64, f32, i32, f64, i1, index
}

// CHECK-LABEL: func.func @ops
// CHECK:         %s = llvm.fadd %x, %y {fastmathFlags = #llvm.fastmath<fast>} : f32
// CHECK-NEXT:    %[[GT:.*]] = llvm.icmp "sgt" %a, %b : i64
// CHECK-NEXT:    %m = llvm.select %[[GT]], %a, %b : i1, i64
// CHECK-NEXT:    %[[Q:.*]] = llvm.sdiv %m, %b : i64
// CHECK-NEXT:    %[[R:.*]] = llvm.srem %m, %b : i64
// CHECK:         %[[WRONG:.*]] = llvm.icmp "slt"
// CHECK:         %[[DOWN:.*]] = llvm.sub %[[Q]], %{{.*}} : i64
// CHECK-NEXT:    %q = llvm.select %{{.*}}, %[[DOWN]], %[[Q]] : i1, i64
// CHECK-NEXT:    %t = llvmx.fptosi %s : f32 to i32
// CHECK-NEXT:    %e = llvm.fpext %s : f32 to f64
// CHECK-NEXT:    %c = llvm.fcmp "olt" %x, %y : f32
// The index_cast is a no-op: index is i64.
// CHECK-NEXT:    %[[I:.*]] = builtin.unrealized_conversion_cast %i : index to i64
// CHECK-NEXT:    %[[K:.*]] = llvm.add %q, %[[I]] : i64
// CHECK-NEXT:    %k = builtin.unrealized_conversion_cast %[[K]] : i64 to index
// CHECK-NEXT:    func.return %q, %s, %t, %e, %c, %k
// CHECK-NOT:     arith.
