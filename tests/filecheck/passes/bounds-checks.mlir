// RUN: ember-opt %s -p bounds-checks | filecheck %s

// Jacobi's sweep: two buffers of the argument's size swap places in the loop that carries
// them. Their sizes are the allocation's, so every `i - 1`, `i + 1` in `range(1, n - 1)`
// is in bounds: the negative-index wrap and the asserts go.
// CHECK-LABEL: func.func @stencil
// CHECK:         %[[N:.*]] = memref.dim %a, %c0 : memref<?x?xf64>
// CHECK:         scf.for
// CHECK:           %[[I64:.*]] = arith.index_cast %i : index to i64
// CHECK-NEXT:      %[[IM1:.*]] = arith.subi %[[I64]], %c1_i64 : i64
// CHECK-NEXT:      %[[K:.*]] = arith.index_cast %[[IM1]] : i64 to index
// CHECK-NOT:       cf.assert
// CHECK:           memref.load %cur[%[[K]], %j] : memref<?x?xf64>
// CHECK-NOT:       cf.assert
// CHECK:           memref.store
// CHECK-NEXT:      scf.yield
// CHECK:         memref.dim %a, %c0 : memref<?x?xf64>
func.func @stencil(%a: memref<?x?xf64>, %iters: index) -> index {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c1_i64 = arith.constant 1 : i64
  %n = memref.dim %a, %c0 : memref<?x?xf64>
  %m = memref.dim %a, %c1 : memref<?x?xf64>
  %b0 = memref.alloc(%n, %m) : memref<?x?xf64>
  %b1 = memref.alloc(%n, %m) : memref<?x?xf64>
  %r0, %r1 = scf.for %it = %c0 to %iters step %c1 iter_args(%cur = %b0, %nxt = %b1) -> (memref<?x?xf64>, memref<?x?xf64>) {
    %rows = memref.dim %cur, %c0 : memref<?x?xf64>
    %cols = memref.dim %cur, %c1 : memref<?x?xf64>
    %n64 = arith.index_cast %n : index to i64
    %nm1 = arith.subi %n64, %c1_i64 : i64
    %ub = arith.index_cast %nm1 : i64 to index
    %w = scf.for %i = %c1 to %ub step %c1 iter_args(%out = %nxt) -> (memref<?x?xf64>) {
      %w2 = scf.for %j = %c0 to %m step %c1 iter_args(%o = %out) -> (memref<?x?xf64>) {
        %i64 = arith.index_cast %i : index to i64
        %im1 = arith.subi %i64, %c1_i64 : i64
        %k = arith.index_cast %im1 : i64 to index
        %neg = arith.cmpi slt, %k, %c0 : index
        %wrap = arith.addi %k, %rows : index
        %kk = arith.select %neg, %wrap, %k : index
        %ok0 = arith.cmpi ult, %kk, %rows : index
        cf.assert %ok0, "index out of bounds for axis 0"
        %ok1 = arith.cmpi ult, %j, %cols : index
        cf.assert %ok1, "index out of bounds for axis 1"
        %v = memref.load %cur[%kk, %j] : memref<?x?xf64>
        %ip1 = arith.addi %i64, %c1_i64 : i64
        %k2 = arith.index_cast %ip1 : i64 to index
        %orows = memref.dim %o, %c0 : memref<?x?xf64>
        %ok2 = arith.cmpi ult, %k2, %orows : index
        cf.assert %ok2, "index out of bounds for axis 0"
        memref.store %v, %o[%k2, %j] : memref<?x?xf64>
        scf.yield %o : memref<?x?xf64>
      }
      scf.yield %w2 : memref<?x?xf64>
    }
    scf.yield %w, %cur : memref<?x?xf64>, memref<?x?xf64>
  }
  %size = memref.dim %r0, %c0 : memref<?x?xf64>
  func.return %size : index
}

// loop.parallel induction variables have the same range.
// CHECK-LABEL: func.func @parallel
// CHECK-NOT:     cf.assert
// CHECK:         func.return
func.func @parallel(%x: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  loop.parallel (%i) = (%c0) to (%n) step (%c1) {
    %m = memref.dim %x, %c0 : memref<?xf32>
    %neg = arith.cmpi slt, %i, %c0 : index
    %wrap = arith.addi %i, %m : index
    %k = arith.select %neg, %wrap, %i : index
    %ok = arith.cmpi ult, %k, %m : index
    cf.assert %ok, "index out of bounds for axis 0"
    %v = memref.load %x[%k] : memref<?xf32>
    memref.store %v, %x[%k] : memref<?xf32>
  }
  func.return
}

// What cannot be proven stays: `i + 1` with `i < n`; `i - 1` from 0 (its wrap too);
// a buffer whose size nothing relates to the loop bound; a sum that may wrap around;
// a loop with a dynamic step.
// CHECK-LABEL: func.func @kept
// CHECK:         scf.for %i =
// CHECK:           cf.assert %{{.*}}, "i + 1 < n"
// CHECK:           %[[NEG:.*]] = arith.cmpi slt, %{{.*}}, %c0 : index
// CHECK:           arith.select %[[NEG]]
// CHECK:           cf.assert %{{.*}}, "i - 1 from 0"
// CHECK:           cf.assert %{{.*}}, "other buffer"
// CHECK:           %[[WRAPS:.*]] = arith.cmpi slt, %{{.*}}, %c0 : index
// CHECK:           cf.assert %[[WRAPS]], "may wrap"
// CHECK:         scf.for %s =
// CHECK:           cf.assert %{{.*}}, "dynamic step"
func.func @kept(%a: memref<?xf64>, %b: memref<?xf64>, %step: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %a, %c0 : memref<?xf64>
  %nb = memref.dim %b, %c0 : memref<?xf64>
  scf.for %i = %c0 to %n step %c1 {
    %ip1 = arith.addi %i, %c1 : index
    %ok = arith.cmpi ult, %ip1, %n : index
    cf.assert %ok, "i + 1 < n"
    %im1 = arith.subi %i, %c1 : index
    %neg = arith.cmpi slt, %im1, %c0 : index
    %wrap = arith.addi %im1, %n : index
    %k = arith.select %neg, %wrap, %im1 : index
    %ok2 = arith.cmpi ult, %k, %n : index
    cf.assert %ok2, "i - 1 from 0"
    %ok3 = arith.cmpi ult, %i, %nb : index
    cf.assert %ok3, "other buffer"
    %max = arith.constant 9223372036854775807 : index
    %big = arith.addi %i, %max : index
    %wraps = arith.cmpi slt, %big, %c0 : index
    cf.assert %wraps, "may wrap"
  }
  scf.for %s = %c0 to %n step %step {
    %ok = arith.cmpi ult, %s, %n : index
    cf.assert %ok, "dynamic step"
  }
  func.return
}

// A carried buffer that is replaced by one with other rows: its row count is unknown,
// its column count is still the allocation's.
// CHECK-LABEL: func.func @resized
// CHECK:         scf.for
// CHECK:           %[[R:.*]] = memref.dim %buf, %c0 : memref<?x?xf64>
// CHECK-NOT:       memref.dim %buf, %c1
// CHECK:           cf.assert %{{.*}}, "rows"
// CHECK-NOT:       cf.assert
// CHECK:           memref.alloc(%{{.*}}, %m)
func.func @resized(%n: index, %m: index, %iters: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b0 = memref.alloc(%n, %m) : memref<?x?xf64>
  %r = scf.for %it = %c0 to %iters step %c1 iter_args(%buf = %b0) -> (memref<?x?xf64>) {
    %rows = memref.dim %buf, %c0 : memref<?x?xf64>
    %cols = memref.dim %buf, %c1 : memref<?x?xf64>
    %ok0 = arith.cmpi ult, %it, %rows : index
    cf.assert %ok0, "rows"
    scf.for %j = %c0 to %m step %c1 {
      %ok1 = arith.cmpi ult, %j, %cols : index
      cf.assert %ok1, "cols"
    }
    %bigger = arith.addi %rows, %c1 : index
    %next = memref.alloc(%bigger, %m) : memref<?x?xf64>
    scf.yield %next : memref<?x?xf64>
  }
  func.return
}

// A negative step never gives the induction variable a range.
// CHECK-LABEL: func.func @negative_step
// CHECK:         cf.assert %{{.*}}, "negative step"
func.func @negative_step(%a: memref<?xf64>) {
  %c0 = arith.constant 0 : index
  %cm1 = arith.constant -1 : index
  %n = memref.dim %a, %c0 : memref<?xf64>
  scf.for %i = %n to %c0 step %cm1 {
    %ok = arith.cmpi ult, %i, %n : index
    cf.assert %ok, "negative step"
  }
  func.return
}
