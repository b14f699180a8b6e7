// RUN: ember-opt %s -p memref-to-llvm,reconcile-unrealized-casts | filecheck %s

// Identity layout: the linear index comes from the sizes (innermost stride 1).
func.func @load2d(%m: memref<?x?xf32>, %i: index, %j: index) -> f32 {
  %v = memref.load %m[%i, %j] : memref<?x?xf32>
  func.return %v : f32
}

// CHECK-LABEL: func.func @load2d
// CHECK:         %[[D:.*]] = builtin.unrealized_conversion_cast %m : memref<?x?xf32> to !llvm.struct<(!llvm.ptr, !llvm.array<2 x i64>, !llvm.array<2 x i64>)>
// CHECK:         %[[N1:.*]] = llvm.extractvalue %[[D]][1, 1]
// CHECK-NEXT:    %[[ROW:.*]] = llvm.mul %{{.*}}, %[[N1]] : i64
// CHECK-NEXT:    %[[LIN:.*]] = llvm.add %[[ROW]], %{{.*}} : i64
// CHECK-NEXT:    %[[P:.*]] = llvm.extractvalue %[[D]][0]
// CHECK-NEXT:    %[[A:.*]] = llvm.getelementptr inbounds %[[P]][%[[LIN]]] : (!llvm.ptr, i64) -> !llvm.ptr, f32
// CHECK-NEXT:    %v = llvm.load %[[A]] : !llvm.ptr -> f32

// Strided layout: static strides are constants, dynamic ones come from the descriptor.
func.func @store_strided(%m: memref<?x?xi1, strided<[?, 1], offset: ?>>, %i: index, %j: index, %b: i1) {
  memref.store %b, %m[%i, %j] : memref<?x?xi1, strided<[?, 1], offset: ?>>
  func.return
}

// CHECK-LABEL: func.func @store_strided
// i1 elements are stored as bytes.
// CHECK:         %[[B:.*]] = llvm.zext %b : i1 to i8
// CHECK-NEXT:    %[[S0:.*]] = llvm.extractvalue %{{.*}}[2, 0]
// CHECK-NEXT:    %[[OFF:.*]] = llvm.mul %{{.*}}, %[[S0]] : i64
// CHECK-NEXT:    %[[LIN:.*]] = llvm.add %[[OFF]], %{{.*}} : i64
// CHECK-NEXT:    %[[P:.*]] = llvm.extractvalue %{{.*}}[0]
// CHECK-NEXT:    %[[A:.*]] = llvm.getelementptr inbounds %[[P]][%[[LIN]]] : (!llvm.ptr, i64) -> !llvm.ptr, i8
// CHECK-NEXT:    llvm.store %[[B]], %[[A]] : i8, !llvm.ptr

func.func @alloc_free(%n: index) -> index {
  %c1 = arith.constant 1 : index
  %m = memref.alloc(%n) : memref<4x?xf64>
  %d = memref.dim %m, %c1 : memref<4x?xf64>
  memref.dealloc %m : memref<4x?xf64>
  func.return %d : index
}

// CHECK-LABEL: func.func @alloc_free
// nbytes = 8 * 4 * n, at least 1; the product again in f64: from 2^62 bytes on (it may have
// wrapped around) ember_temp_alloc gets SIZE_MAX and fails
// CHECK:         %[[NB:.*]] = llvm.mul %{{.*}}, %[[N:.*]] : i64
// CHECK-NEXT:    %[[NF:.*]] = llvm.sitofp %[[N]] : i64 to f64
// CHECK:         %[[ZERO:.*]] = llvm.icmp "eq" %[[NB]], %{{.*}} : i64
// CHECK-NEXT:    %[[ONE:.*]] = llvm.mlir.constant(1) : i64
// CHECK-NEXT:    %[[SIZE:.*]] = llvm.select %[[ZERO]], %[[ONE]], %[[NB]] : i1, i64
// CHECK-NEXT:    %[[LIMIT:.*]] = llvm.mlir.constant(1.4411518807585587e+17 : f64) : f64
// CHECK-NEXT:    %[[BIG:.*]] = llvm.fcmp "oge" %[[NF]], %[[LIMIT]] : f64
// CHECK-NEXT:    %[[MAX:.*]] = llvm.mlir.constant(-1) : i64
// CHECK-NEXT:    %[[ASK:.*]] = llvm.select %[[BIG]], %[[MAX]], %[[SIZE]] : i1, i64
// CHECK-NEXT:    %[[P:.*]] = llvm.call @ember_temp_alloc(%[[ASK]]) : (i64) -> !llvm.ptr
// CHECK:         %[[M:.*]] = llvm.insertvalue %[[N]], %{{.*}}[1, 1]
// CHECK-NEXT:    %{{.*}} = llvm.extractvalue %[[M]][1, 1]
// CHECK:         %[[FREED:.*]] = llvm.extractvalue %[[M]][0]
// CHECK-NEXT:    llvm.call @ember_temp_free(%[[FREED]]) : (!llvm.ptr) -> ()
// The allocator is the runtime's (it caches large blocks across calls): only declared here.
// CHECK:       llvm.func @ember_temp_alloc(i64) -> !llvm.ptr
// CHECK-NEXT:  llvm.func @ember_temp_free(!llvm.ptr)
// CHECK-NOT:   llvm.func {{.*}}@ember_temp
