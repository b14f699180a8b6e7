// RUN: ember-opt %s -p number-asserts,loop-to-scf,expand-memref-copy,lower-scf-to-cf,func-to-llvm,memref-to-llvm,arith-to-llvm,math-to-llvm,reconcile-unrealized-casts -t llvm | filecheck %s

func.func @scale(%x: memref<?xf32>, %k: f32) -> memref<?xf32> attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  %y = memref.alloc(%n) {ember.result = 0 : i64} : memref<?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    %w = arith.mulf %v, %k : f32
    memref.store %w, %y[%i] : memref<?xf32>
    loop.yield
  }
  func.return %y : memref<?xf32>
}

func.func @helper(%a: f64) -> f64 {
  %b = math.tanh %a : f64
  func.return %b : f64
}

// CHECK:      define i32 @"scale"(ptr %".1", double %".2", ptr %".3")
// CHECK-NEXT: {
// CHECK-NEXT: .5:
// The result's sizes array lives in the entry block.
// CHECK-NEXT:   %".10" = alloca i64, i64 1, align 8
// CHECK-NEXT:   %".11" = getelementptr inbounds i8, ptr %".1", i32 32
// CHECK-NEXT:   %".12" = load ptr, ptr %".11"
// CHECK-NEXT:   %".13" = load i64, ptr %".12"
// CHECK-NEXT:   %".14" = getelementptr inbounds i8, ptr %".1", i32 16
// CHECK-NEXT:   %".15" = load ptr, ptr %".14"
// CHECK-NEXT:   %".16" = insertvalue {ptr, [1 x i64], [1 x i64]} undef, ptr %".15", 0
// CHECK-NEXT:   %".17" = insertvalue {ptr, [1 x i64], [1 x i64]} %".16", i64 %".13", 1, 0
// CHECK-NEXT:   %".18" = fptrunc double %".2" to float
// CHECK-NEXT:   %".19" = extractvalue {ptr, [1 x i64], [1 x i64]} %".17", 1, 0
// CHECK-NEXT:   store i64 %".19", i64* %".10"
// CHECK-NEXT:   %".21" = call ptr %".3"(i64 0, i64* %".10")
// CHECK-NEXT:   %".22" = insertvalue {ptr, [1 x i64], [1 x i64]} undef, ptr %".21", 0
// CHECK-NEXT:   %".23" = insertvalue {ptr, [1 x i64], [1 x i64]} %".22", i64 %".19", 1, 0
// CHECK-NEXT:   br label %".6"
// CHECK-NEXT: .6:
// CHECK-NEXT:   %".9" = phi  i64 [0, %".5"], [%".34", %".7"]
// CHECK-NEXT:   %".25" = icmp slt i64 %".9", %".19"
// CHECK-NEXT:   br i1 %".25", label %".7", label %".8"
// CHECK-NEXT: .7:
// CHECK-NEXT:   %".27" = extractvalue {ptr, [1 x i64], [1 x i64]} %".17", 0
// CHECK-NEXT:   %".28" = getelementptr inbounds float, ptr %".27", i64 %".9"
// CHECK-NEXT:   %".29" = load float, ptr %".28"
// CHECK-NEXT:   %".30" = fmul float %".29", %".18"
// CHECK-NEXT:   %".31" = extractvalue {ptr, [1 x i64], [1 x i64]} %".23", 0
// CHECK-NEXT:   %".32" = getelementptr inbounds float, ptr %".31", i64 %".9"
// CHECK-NEXT:   store float %".30", ptr %".32"
// CHECK-NEXT:   %".34" = add i64 %".9", 1
// CHECK-NEXT:   br label %".6"
// CHECK-NEXT: .8:
// CHECK-NEXT:   ret i32 0
// CHECK-NEXT: }
// CHECK-EMPTY:
// CHECK-NEXT: define internal double @"helper"(double %".1")
// CHECK-NEXT: {
// CHECK-NEXT: .3:
// CHECK-NEXT:   %".4" = call double @"llvm.tanh.f64"(double %".1")
// CHECK-NEXT:   ret double %".4"
// CHECK-NEXT: }
// CHECK-EMPTY:
// CHECK-NEXT: declare double @"llvm.tanh.f64"(double %".1")
