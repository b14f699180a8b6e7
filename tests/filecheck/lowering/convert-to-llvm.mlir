// RUN: ember-opt %s -p convert-to-llvm | filecheck %s
// RUN: ember-opt %s -p convert-to-llvm | ember-opt --emit=llvm-ir | filecheck %s --check-prefix=IR

// convert-to-llvm is func-to-llvm, memref-to-llvm, vector-to-llvm, arith-to-llvm, math-to-llvm
// and reconcile-unrealized-casts in one walk: no cast is left, each distinct constant is made
// once at the top of the function, and each descriptor field is read once, where the
// descriptor is defined.

func.func @entry(%x: memref<?x?xf32>, %s: f32, %n: index) -> memref<?xf32> attributes {ember.entry} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %ok = arith.cmpi sgt, %n, %c0 : index
  cf.assert %ok, "n must be positive" {ember.assert_id = 1 : i64}
  %r = memref.alloc(%n) {ember.result = 0 : i64} : memref<?xf32>
  cf.br ^loop(%c0 : index)
^loop(%i: index):
  %more = arith.cmpi slt, %i, %n : index
  cf.cond_br %more, ^body, ^done
^body:
  %a = memref.load %x[%i, %c1] : memref<?x?xf32>
  %b = memref.load %x[%c1, %i] : memref<?x?xf32>
  %t = math.tanh %a fastmath<fast> : f32
  %p = arith.mulf %t, %b : f32
  %q = arith.addf %p, %s : f32
  memref.store %q, %r[%i] : memref<?xf32>
  %next = arith.addi %i, %c1 : index
  cf.br ^loop(%next : index)
^done:
  func.return %r : memref<?xf32>
}

// CHECK-LABEL: llvm.func @entry(%x: !llvm.ptr, %s: f64, %n: i64, %alloc_result: !llvm.ptr, %alloc_ctx: !llvm.ptr) -> i32 attributes {ember.entry} {
// CHECK-NOT:     unrealized_conversion_cast
// The constants 0 and 1 (index, then i64 from the lowering) are made once each.
// CHECK:         %[[C0:.*]] = llvm.mlir.constant(0) : i64
// CHECK-NEXT:    %[[C1:.*]] = llvm.mlir.constant(1) : i64
// CHECK:         %[[Z32:.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NOT:     llvm.mlir.constant(0) : i64
// CHECK-NOT:     llvm.mlir.constant(1) : i64
// The array's descriptor, then its fields, read once, right after it is built.
// CHECK:         %[[D:.*]] = llvm.insertvalue %{{.*}}, %{{.*}}[1, 1]
// CHECK-DAG:     %[[PTR:.*]] = llvm.extractvalue %[[D]][0]
// CHECK-DAG:     %[[N1:.*]] = llvm.extractvalue %[[D]][1, 1]
// CHECK:         %[[S:.*]] = llvm.fptrunc %s : f64 to f32
// CHECK:         %ok = llvm.icmp "sgt" %n, %[[C0]] : i64
// CHECK-NEXT:    llvm.cond_br %ok, ^[[OK:.*]], ^[[FAIL:.*]]
// CHECK-NEXT:  ^[[FAIL]]:
// CHECK-NEXT:    %[[ONE:.*]] = llvm.mlir.constant(1 : i32) : i32
// CHECK-NEXT:    llvm.return %[[ONE]] : i32
// CHECK-NEXT:  ^[[OK]]:
// CHECK:         llvmx.call_indirect %alloc_result(%alloc_ctx, %[[C0]], %[[C1]], 
// CHECK:         llvm.br ^[[LOOP:.*]](%[[C0]] : i64)
// CHECK-NEXT:  ^[[LOOP]](%i: i64):
// CHECK-NEXT:    %more = llvm.icmp "slt" %i, %n : i64
// CHECK-NEXT:    llvm.cond_br %more, ^[[BODY:.*]], ^[[DONE:.*]]
// CHECK-NEXT:  ^[[BODY]]:
// Two loads from %x share its pointer and its row length; x[1, i] is n1 + i (no multiply by 1).
// CHECK-NEXT:    %[[L1:.*]] = llvm.mul %i, %[[N1]] : i64
// CHECK-NEXT:    %[[L2:.*]] = llvm.add %[[L1]], %[[C1]] : i64
// CHECK-NEXT:    %[[A1:.*]] = llvm.getelementptr inbounds %[[PTR]][%[[L2]]] : (!llvm.ptr, i64) -> !llvm.ptr, f32
// CHECK-NEXT:    %a = llvm.load %[[A1]] : !llvm.ptr -> f32
// CHECK-NEXT:    %[[L3:.*]] = llvm.add %[[N1]], %i : i64
// CHECK-NEXT:    %[[A2:.*]] = llvm.getelementptr inbounds %[[PTR]][%[[L3]]] : (!llvm.ptr, i64) -> !llvm.ptr, f32
// CHECK-NEXT:    %b = llvm.load %[[A2]] : !llvm.ptr -> f32
// CHECK-NEXT:    %t = llvmx.intrinsic "llvm.tanh.f32"(%a) {fastmath = #llvm.fastmath<fast>} : (f32) -> f32
// CHECK-NEXT:    %p = llvm.fmul %t, %b : f32
// CHECK-NEXT:    %q = llvm.fadd %p, %[[S]] : f32
// CHECK:         llvm.store %q, %{{.*}} : f32, !llvm.ptr
// CHECK-NEXT:    %next = llvm.add %i, %[[C1]] : i64
// CHECK-NEXT:    llvm.br ^[[LOOP]](%next : i64)
// CHECK-NEXT:  ^[[DONE]]:
// CHECK-NEXT:    llvm.return %[[Z32]] : i32

// An internal function: descriptors by value, several results as one struct, asserts dropped,
// index block arguments become i64 in place (their order is kept).
func.func @pair(%m: memref<?xf64>, %k: index, %ok: i1) -> (f64, index) {
  cf.assert %ok, "dropped outside entry functions"
  %v = memref.load %m[%k] : memref<?xf64>
  cf.br ^next(%v, %k : f64, index)
^next(%w: f64, %j: index):
  func.return %w, %j : f64, index
}

// CHECK-LABEL: llvm.func internal @pair
// CHECK-SAME:    (%m: !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)>, %k: i64, %{{.*}}: i1) -> !llvm.struct<(f64, i64)> {
// CHECK-NOT:     cf.assert
// CHECK:         llvm.br ^[[NEXT:.*]](%v, %k : f64, i64)
// CHECK-NEXT:  ^[[NEXT]](%w: f64, %j: i64):
// CHECK:         llvm.insertvalue %w, %{{.*}}[0] : !llvm.struct<(f64, i64)>

func.func @caller(%m: memref<?xf64>, %k: index, %ok: i1) -> f64 {
  %v, %j = func.call @pair(%m, %k, %ok) : (memref<?xf64>, index, i1) -> (f64, index)
  func.return %v : f64
}

// CHECK-LABEL: llvm.func internal @caller
// CHECK:         %[[R:.*]] = llvm.call @pair(%{{.*}}, %{{.*}}, %{{.*}}) : (!llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)>, i64, i1) -> !llvm.struct<(f64, i64)>
// CHECK-NEXT:    %{{.*}} = llvm.extractvalue %[[R]][0] : !llvm.struct<(f64, i64)>
// CHECK-NOT:     unrealized_conversion_cast

// IR:      define i32 @"entry"(ptr {{.*}}, double {{.*}}, i64 {{.*}}, ptr {{.*}}, ptr {{.*}})
// IR:        call afn arcp contract ninf nnan nsz reassoc float @"llvm.tanh.f32"(float
// IR:      define internal {double, i64} @"pair"
