// loop.prefetch: memref-to-llvm computes the element's address as a load would and emits
// llvmx.prefetch, which becomes a call of llvm.prefetch (read, the given locality, data).
// Nothing erases it: it declares no memory effects, as MLIR's memref.prefetch.
// RUN: ember-opt %s -p memref-to-llvm,reconcile-unrealized-casts,dce | filecheck %s
// RUN: ember-opt %s -p func-to-llvm,memref-to-llvm,reconcile-unrealized-casts -t llvm | filecheck %s --check-prefix=IR

func.func @ahead(%m: memref<?x?xf32>, %i: index, %j: index) {
  loop.prefetch %m[%i, %j] {locality = 3 : i32} : memref<?x?xf32>
  loop.prefetch %m[%j, %i] {locality = 1 : i32} : memref<?x?xf32>
  func.return
}

// CHECK-LABEL: func.func @ahead
// CHECK:         %[[N1:.*]] = llvm.extractvalue %{{.*}}[1, 1]
// CHECK-NEXT:    %[[ROW:.*]] = llvm.mul %{{.*}}, %[[N1]] : i64
// CHECK-NEXT:    %[[LIN:.*]] = llvm.add %[[ROW]], %{{.*}} : i64
// CHECK-NEXT:    %[[P:.*]] = llvm.extractvalue %{{.*}}[0]
// CHECK-NEXT:    %[[A:.*]] = llvm.getelementptr inbounds %[[P]][%[[LIN]]] : (!llvm.ptr, i64) -> !llvm.ptr, f32
// CHECK-NEXT:    llvmx.prefetch %[[A]] {locality = 3 : i32}
// CHECK:         llvmx.prefetch %{{.*}} {locality = 1 : i32}

// IR:      call void @"llvm.prefetch.p0"(ptr %{{.*}}, i32 0, i32 3, i32 1)
// IR:      call void @"llvm.prefetch.p0"(ptr %{{.*}}, i32 0, i32 1, i32 1)
// IR:      declare void @"llvm.prefetch.p0"(ptr %{{.*}}, i32 %{{.*}}, i32 %{{.*}}, i32 %{{.*}})
