// RUN: ember-opt %s -p math-to-llvm | filecheck %s

func.func @fns(%x: f32, %y: f64, %n: i32) -> (f32, f64, f64, i32, f32) {
  %t = math.tanh %x fastmath<fast> : f32
  %e = math.exp %y : f64
  %r = math.erf %e : f64
  %a = math.absi %n : i32
  %q = math.rsqrt %t : f32
  func.return %t, %e, %r, %a, %q : f32, f64, f64, i32, f32
}

// CHECK:       func.func @fns
// CHECK-NEXT:    %t = llvmx.intrinsic "llvm.tanh.f32"(%x) {fastmath = #llvm.fastmath<fast>} : (f32) -> f32
// CHECK-NEXT:    %e = llvmx.intrinsic "llvm.exp.f64"(%y) : (f64) -> f64
// CHECK-NEXT:    %r = llvm.call @erf(%e) : (f64) -> f64
// CHECK-NEXT:    %[[FALSE:.*]] = llvm.mlir.constant(false) : i1
// CHECK-NEXT:    %a = llvmx.intrinsic "llvm.abs.i32"(%n, %[[FALSE]]) : (i32, i1) -> i32
// CHECK-NEXT:    %[[ROOT:.*]] = llvmx.intrinsic "llvm.sqrt.f32"(%t) : (f32) -> f32
// CHECK-NEXT:    %[[ONE:.*]] = llvm.mlir.constant(1.000000e+00 : f32) : f32
// CHECK-NEXT:    %q = llvm.fdiv %[[ONE]], %[[ROOT]] : f32
// CHECK-NEXT:    func.return
// CHECK:       llvm.func @erf(f64) -> f64
