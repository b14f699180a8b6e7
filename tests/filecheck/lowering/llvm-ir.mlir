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

// CHECK:      define i32 @"scale"(ptr %".1", double %".2", ptr %".3", ptr %".4")
// CHECK-NEXT: {
// CHECK-NEXT: .6:
// The result's sizes array lives in the entry block; the allocator gets
// (ctx, k, rank, sizes, NumPy type number).
// CHECK-NEXT:   %".11" = alloca i64, i64 1, align 8
// CHECK-NEXT:   %".12" = getelementptr inbounds i8, ptr %".1", i32 32
// CHECK-NEXT:   %".13" = load ptr, ptr %".12"
// CHECK-NEXT:   %".14" = load i64, ptr %".13"
// CHECK-NEXT:   %".15" = getelementptr inbounds i8, ptr %".1", i32 16
// CHECK-NEXT:   %".16" = load ptr, ptr %".15"
// CHECK-NEXT:   %".17" = insertvalue {ptr, [1 x i64], [1 x i64]} undef, ptr %".16", 0
// CHECK-NEXT:   %".18" = insertvalue {ptr, [1 x i64], [1 x i64]} %".17", i64 %".14", 1, 0
// CHECK-NEXT:   %".19" = fptrunc double %".2" to float
// CHECK-NEXT:   %".20" = extractvalue {ptr, [1 x i64], [1 x i64]} %".18", 1, 0
// CHECK-NEXT:   store i64 %".20", i64* %".11"
// CHECK-NEXT:   %".22" = call ptr %".3"(ptr %".4", i64 0, i64 1, i64* %".11", i32 11)
// CHECK-NEXT:   %".23" = insertvalue {ptr, [1 x i64], [1 x i64]} undef, ptr %".22", 0
// CHECK-NEXT:   %".24" = insertvalue {ptr, [1 x i64], [1 x i64]} %".23", i64 %".20", 1, 0
// CHECK-NEXT:   br label %".7"
// CHECK-NEXT: .7:
// CHECK-NEXT:   %".10" = phi  i64 [0, %".6"], [%".35", %".8"]
// CHECK-NEXT:   %".26" = icmp slt i64 %".10", %".20"
// CHECK-NEXT:   br i1 %".26", label %".8", label %".9"
// CHECK-NEXT: .8:
// CHECK-NEXT:   %".28" = extractvalue {ptr, [1 x i64], [1 x i64]} %".18", 0
// CHECK-NEXT:   %".29" = getelementptr inbounds float, ptr %".28", i64 %".10"
// CHECK-NEXT:   %".30" = load float, ptr %".29"
// CHECK-NEXT:   %".31" = fmul float %".30", %".19"
// CHECK-NEXT:   %".32" = extractvalue {ptr, [1 x i64], [1 x i64]} %".24", 0
// CHECK-NEXT:   %".33" = getelementptr inbounds float, ptr %".32", i64 %".10"
// CHECK-NEXT:   store float %".31", ptr %".33"
// CHECK-NEXT:   %".35" = add i64 %".10", 1
// CHECK-NEXT:   br label %".7"
// CHECK-NEXT: .9:
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
