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
// (ctx, k, rank, sizes, NumPy type number); a NULL result returns 2^31 - 1.
// CHECK-NEXT:   %".13" = alloca i64, i64 1, align 8
// CHECK-NEXT:   %".14" = getelementptr inbounds i8, ptr %".1", i32 32
// CHECK-NEXT:   %".15" = load ptr, ptr %".14"
// CHECK-NEXT:   %".16" = load i64, ptr %".15"
// CHECK-NEXT:   %".17" = getelementptr inbounds i8, ptr %".1", i32 16
// CHECK-NEXT:   %".18" = load ptr, ptr %".17"
// CHECK-NEXT:   %".19" = insertvalue {ptr, [1 x i64], [1 x i64]} undef, ptr %".18", 0
// CHECK-NEXT:   %".20" = insertvalue {ptr, [1 x i64], [1 x i64]} %".19", i64 %".16", 1, 0
// CHECK-NEXT:   %".21" = fptrunc double %".2" to float
// CHECK-NEXT:   %".22" = extractvalue {ptr, [1 x i64], [1 x i64]} %".20", 1, 0
// CHECK-NEXT:   store i64 %".22", i64* %".13"
// CHECK-NEXT:   %".24" = call ptr %".3"(ptr %".4", i64 0, i64 1, i64* %".13", i32 11)
// CHECK-NEXT:   %".25" = ptrtoint ptr %".24" to i64
// CHECK-NEXT:   %".26" = icmp eq i64 %".25", 0
// CHECK-NEXT:   br i1 %".26", label %".7", label %".8"
// CHECK-NEXT: .7:
// CHECK-NEXT:   ret i32 2147483647
// CHECK-NEXT: .8:
// CHECK-NEXT:   %".29" = insertvalue {ptr, [1 x i64], [1 x i64]} undef, ptr %".24", 0
// CHECK-NEXT:   %".30" = insertvalue {ptr, [1 x i64], [1 x i64]} %".29", i64 %".22", 1, 0
// CHECK-NEXT:   br label %".9"
// CHECK-NEXT: .9:
// CHECK-NEXT:   %".12" = phi  i64 [0, %".8"], [%".41", %".10"]
// CHECK-NEXT:   %".32" = icmp slt i64 %".12", %".22"
// CHECK-NEXT:   br i1 %".32", label %".10", label %".11"
// CHECK-NEXT: .10:
// CHECK-NEXT:   %".34" = extractvalue {ptr, [1 x i64], [1 x i64]} %".20", 0
// CHECK-NEXT:   %".35" = getelementptr inbounds float, ptr %".34", i64 %".12"
// CHECK-NEXT:   %".36" = load float, ptr %".35"
// CHECK-NEXT:   %".37" = fmul float %".36", %".21"
// CHECK-NEXT:   %".38" = extractvalue {ptr, [1 x i64], [1 x i64]} %".30", 0
// CHECK-NEXT:   %".39" = getelementptr inbounds float, ptr %".38", i64 %".12"
// CHECK-NEXT:   store float %".37", ptr %".39"
// CHECK-NEXT:   %".41" = add i64 %".12", 1
// CHECK-NEXT:   br label %".9"
// CHECK-NEXT: .11:
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
