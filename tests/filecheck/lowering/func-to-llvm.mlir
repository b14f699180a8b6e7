// RUN: ember-opt %s -p func-to-llvm | filecheck %s

func.func @entry(%x: memref<?x3xf32>, %y: memref<?xf64, strided<[?], offset: ?>>, %s: f32, %b: i1, %n: index)
    -> memref<?xf32> attributes {ember.entry} {
  cf.assert %b, "b must hold" {ember.assert_id = 1 : i64}
  %r = memref.alloc(%n) {ember.result = 0 : i64} : memref<?xf32>
  func.return %r : memref<?xf32>
}

// CHECK-LABEL: llvm.func @entry(%x: !llvm.ptr, %y: !llvm.ptr, %s: f64, %b: i8, %n: i64, %alloc_result: !llvm.ptr, %alloc_ctx: !llvm.ptr) -> i32 attributes {ember.entry} {
// The array object's fields: data at byte 16, dimensions at 32, strides (bytes) at 40.
// CHECK:         %[[DIMSP:.*]] = llvm.getelementptr inbounds %x[32] : (!llvm.ptr) -> !llvm.ptr, i8
// CHECK-NEXT:    %[[DIMS:.*]] = llvm.load %[[DIMSP]] : !llvm.ptr -> !llvm.ptr
// CHECK-NEXT:    %[[N0:.*]] = llvm.load %[[DIMS]] : !llvm.ptr -> i64
// CHECK-NEXT:    %[[DATAP:.*]] = llvm.getelementptr inbounds %x[16] : (!llvm.ptr) -> !llvm.ptr, i8
// CHECK-NEXT:    %[[DATA:.*]] = llvm.load %[[DATAP]] : !llvm.ptr -> !llvm.ptr
// CHECK:         llvm.insertvalue %[[DATA]], %{{.*}}[0]
// CHECK:         llvm.insertvalue %[[N0]], %{{.*}}[1, 0]
// The static size 3 is a constant, not read from the array.
// CHECK-NEXT:    %[[THREE:.*]] = llvm.mlir.constant(3) : i64
// CHECK-NEXT:    llvm.insertvalue %[[THREE]], %{{.*}}[1, 1]
// CHECK:         llvm.getelementptr inbounds %y[40] : (!llvm.ptr) -> !llvm.ptr, i8
// CHECK:         llvm.sdiv exact %{{.*}}, %{{.*}} : i64
// CHECK:         llvm.insertvalue %{{.*}}, %{{.*}}[2, 0]
// CHECK:         %[[S:.*]] = llvm.fptrunc %s : f64 to f32
// CHECK-NEXT:    %[[B:.*]] = llvm.trunc %b : i8 to i1
// CHECK:         llvm.cond_br %[[B]], ^[[OK:.*]], ^[[FAIL:.*]]
// CHECK-NEXT:  ^[[FAIL]]:
// CHECK-NEXT:    %[[ONE:.*]] = llvm.mlir.constant(1 : i32) : i32
// CHECK-NEXT:    llvm.return %[[ONE]] : i32
// CHECK-NEXT:  ^[[OK]]:
// CHECK-NEXT:    %r = memref.alloc
// CHECK-NEXT:    %[[ZERO:.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT:    llvm.return %[[ZERO]] : i32

func.func @pair(%x: memref<?xf32>, %i: index, %ok: i1) -> (f32, index) {
  %v = memref.load %x[%i] : memref<?xf32>
  cf.assert %ok, "dropped outside entry functions"
  func.return %v, %i : f32, index
}

// CHECK-LABEL: llvm.func internal @pair
// CHECK-SAME:    (%{{.*}}: !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)>, %[[I:.*]]: i64, %{{.*}}: i1) -> !llvm.struct<(f32, i64)> {
// CHECK-NOT:     cf.assert
// CHECK:         %[[P0:.*]] = llvm.insertvalue %v, %{{.*}}[0] : !llvm.struct<(f32, i64)>
// CHECK-NEXT:    %[[P1:.*]] = llvm.insertvalue %[[I]], %[[P0]][1] : !llvm.struct<(f32, i64)>
// CHECK-NEXT:    llvm.return %[[P1]] : !llvm.struct<(f32, i64)>

func.func @caller(%x: memref<?xf32>, %i: index, %ok: i1) -> f32 {
  %v, %j = func.call @pair(%x, %i, %ok) : (memref<?xf32>, index, i1) -> (f32, index)
  cf.br ^next(%j : index)
^next(%k: index):
  func.return %v : f32
}

// CHECK-LABEL: llvm.func internal @caller
// CHECK-SAME:    (%[[X:.*]]: !llvm.struct<{{.*}}>, %[[I2:.*]]: i64, %[[OK:.*]]: i1) -> f32 {
// CHECK:         %[[R:.*]] = llvm.call @pair(%[[X]], %[[I2]], %[[OK]]) : (!llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)>, i64, i1) -> !llvm.struct<(f32, i64)>
// CHECK-NEXT:    %[[V:.*]] = llvm.extractvalue %[[R]][0] : !llvm.struct<(f32, i64)>
// CHECK-NEXT:    %[[J:.*]] = llvm.extractvalue %[[R]][1] : !llvm.struct<(f32, i64)>
// CHECK:         llvm.br ^[[NEXT:.*]](%[[J]] : i64)
// CHECK-NEXT:  ^[[NEXT]](%k: i64):
// CHECK:         llvm.return %[[V]] : f32
