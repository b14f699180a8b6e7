// tensor-to-loop: buffers for every tensor, loop nests for every op, size checks first,
// temporaries freed, the returned buffer marked as the result.
// RUN: ember-opt %s -p tensor-to-loop | filecheck %s

// CHECK-LABEL: func.func @bias_tanh(%x: memref<?x?xf32>, %b: memref<?xf32, strided<[?]>> {ember.strided}) -> memref<?x?xf32>
// CHECK:         %[[D0:.*]] = memref.dim %x, %{{.*}} : memref<?x?xf32>
// CHECK:         %[[D1:.*]] = memref.dim %x, %{{.*}} : memref<?x?xf32>
// CHECK:         %[[B0:.*]] = memref.dim %b, %{{.*}} : memref<?xf32, strided<[?]>>
// CHECK:         %[[OK:.*]] = arith.cmpi eq, %[[D1]], %[[B0]] : index
// CHECK-NEXT:    cf.assert %[[OK]], "operands could not be broadcast together"
// The add has one elementwise user: it is fused into the tanh loop (no buffer of its own).
// CHECK-NOT:     memref.alloc({{[^)]*}}) : memref
// CHECK:         %[[R:.*]] = memref.alloc(%[[D0]], %[[D1]]) {ember.result = 0 : i64} : memref<?x?xf32>
// CHECK:         loop.parallel (%[[I:.*]], %[[J:.*]]) = ({{.*}}) to (%[[D0]], %[[D1]]) step ({{.*}}) {
// CHECK-NEXT:      %[[XV:.*]] = memref.load %x[%[[I]], %[[J]]] : memref<?x?xf32>
// CHECK-NEXT:      %[[BV:.*]] = memref.load %b[%[[J]]] : memref<?xf32, strided<[?]>>
// CHECK-NEXT:      %[[S:.*]] = arith.addf %[[XV]], %[[BV]] : f32
// CHECK-NEXT:      %[[T:.*]] = math.tanh %[[S]] : f32
// CHECK-NEXT:      memref.store %[[T]], %[[R]][%[[I]], %[[J]]] : memref<?x?xf32>
// CHECK:         func.return %[[R]] : memref<?x?xf32>
func.func @bias_tanh(%x: tensor<?x?xf32>, %b: tensor<?xf32> {ember.strided}) -> tensor<?x?xf32> attributes {ember.entry} {
  %0 = etensor.add %x, %b : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
  %1 = etensor.tanh %0 : tensor<?x?xf32>
  func.return %1 : tensor<?x?xf32>
}

// A reduction: a parallel nest over the kept dimension, a reducing loop.parallel inside;
// f32 sums accumulate in f64, over blocks of 256 elements each summed in f32 first.
// CHECK-LABEL: func.func @row_sum
// CHECK-DAG:     %[[BM1:.*]] = arith.constant 255 : index
// CHECK-DAG:     %[[B:.*]] = arith.constant 256 : index
// CHECK:         memref.dim %x, %{{.*}} : memref<?x?xf32>
// CHECK-NEXT:    %[[N:.*]] = memref.dim %x, %{{.*}} : memref<?x?xf32>
// CHECK:         %[[UP:.*]] = arith.addi %[[N]], %[[BM1]] : index
// CHECK-NEXT:    %[[NB:.*]] = arith.divui %[[UP]], %[[B]] : index
// CHECK:         loop.parallel (%[[I:.*]]) = ({{.*}}) to (%{{.*}}) step ({{.*}}) {
// CHECK:           %[[Z:.*]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:      %{{.*}} = loop.parallel (%[[K:.*]]) = ({{.*}}) to (%[[NB]]) step ({{.*}}) reduce(add) init(%[[A:.*]] = %[[Z]]) -> (f64) {
// CHECK-NEXT:        %[[LO:.*]] = arith.muli %[[K]], %[[B]] : index
// CHECK-NEXT:        %[[END:.*]] = arith.addi %[[LO]], %[[B]] : index
// CHECK-NEXT:        %[[HI:.*]] = arith.minui %[[END]], %[[N]] : index
// CHECK-NEXT:        %[[Z32:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:        %[[P:.*]] = loop.parallel (%[[J:.*]]) = (%[[LO]]) to (%[[HI]]) step ({{.*}}) reduce(add) init(%[[A32:.*]] = %[[Z32]]) -> (f32) {
// CHECK-NEXT:          %[[V:.*]] = memref.load %x[%[[I]], %[[J]]] : memref<?x?xf32>
// CHECK-NEXT:          %[[S32:.*]] = arith.addf %[[A32]], %[[V]] fastmath<reassoc,contract> : f32
// CHECK-NEXT:          loop.yield %[[S32]] : f32
// CHECK:             %[[W:.*]] = arith.extf %[[P]] : f32 to f64
// CHECK-NEXT:        %[[S:.*]] = arith.addf %[[A]], %[[W]] fastmath<reassoc,contract> : f64
// CHECK-NEXT:        loop.yield %[[S]] : f64
// CHECK:           arith.truncf %{{.*}} : f64 to f32
func.func @row_sum(%x: tensor<?x?xf32>) -> tensor<?xf32> attributes {ember.entry} {
  %0 = etensor.sum %x {axes = array<i64: 1>} : tensor<?x?xf32> -> tensor<?xf32>
  func.return %0 : tensor<?xf32>
}

// A reduction that keeps the innermost axis (a column sum): the rows stream past blocks of
// 512 accumulators (f64 for an f32 sum), four rows per load and store of an accumulator
// (added in f32, widened once), one loop.parallel over the blocks; no strided walk down
// each column.
// CHECK-LABEL: func.func @column_sum
// CHECK-DAG:     %[[FOUR:.*]] = arith.constant 4 : index
// CHECK-DAG:     %[[COLS:.*]] = arith.constant 512 : index
// CHECK:         %[[ROWS:.*]] = memref.dim %x, %{{.*}} : memref<?x?xf32>
// CHECK:         %[[ACC:.*]] = memref.alloc(%{{.*}}) : memref<?xf64>
// CHECK:         loop.parallel (%[[JB:.*]]) = ({{.*}}) to (%{{.*}}) step ({{.*}}) {
// CHECK-NEXT:      %[[LO:.*]] = arith.muli %[[JB]], %[[COLS]] : index
// CHECK:           loop.parallel (%[[J0:.*]]) = (%[[LO]]) to (%[[HI:.*]]) step ({{.*}}) {
// CHECK-NEXT:        memref.store %{{.*}}, %[[ACC]][%[[J0]]] : memref<?xf64>
// CHECK:           loop.for %[[I:.*]] = %{{.*}} to %{{.*}} step %[[FOUR]] {
// CHECK-NEXT:        loop.parallel (%[[J:.*]]) = (%[[LO]]) to (%[[HI]]) step ({{.*}}) {
// CHECK-NEXT:          %[[A:.*]] = memref.load %[[ACC]][%[[J]]] : memref<?xf64>
// CHECK-NEXT:          %[[V:.*]] = memref.load %x[%[[I]], %[[J]]] : memref<?x?xf32>
// CHECK-COUNT-3:       arith.addf %{{.*}}, %{{.*}} : f32
// CHECK-NEXT:          %[[W:.*]] = arith.extf %{{.*}} : f32 to f64
// CHECK-NEXT:          %[[S:.*]] = arith.addf %[[A]], %[[W]] : f64
// CHECK-NEXT:          memref.store %[[S]], %[[ACC]][%[[J]]] : memref<?xf64>
//                the rows left over, one at a time, then the sums into the result
// CHECK:           loop.for %{{.*}} = %{{.*}} to %[[ROWS]] step %{{.*}} {
// CHECK:           arith.truncf %{{.*}} : f64 to f32
func.func @column_sum(%x: tensor<?x?xf32>) -> tensor<?xf32> attributes {ember.entry} {
  %0 = etensor.sum %x {axes = array<i64: 0>} : tensor<?x?xf32> -> tensor<?xf32>
  func.return %0 : tensor<?xf32>
}

// Returning an argument (C order) returns it: no result is allocated, the caller hands it back.
// CHECK-LABEL: func.func @identity
// CHECK-SAME:    ember.returns_argument = array<i64: 0>
// CHECK-NOT:     memref.alloc
// CHECK:         func.return %x
func.func @identity(%x: tensor<?xi64>) -> tensor<?xi64> attributes {ember.entry} {
  func.return %x : tensor<?xi64>
}

// A value with three user ops gets its own buffer, freed after its last use (two would
// recompute it: tensor-to-loop-recompute.mlir).
// CHECK-LABEL: func.func @shared
// CHECK:         %[[E:.*]] = memref.alloc(%{{.*}}) : memref<?xf64>
// CHECK:           math.exp
// CHECK:         %[[R:.*]] = memref.alloc(%{{.*}}) {ember.result = 0 : i64} : memref<?xf64>
// CHECK:           arith.mulf
// CHECK:           arith.addf
// CHECK:           arith.subf
// CHECK:         memref.dealloc %[[E]] : memref<?xf64>
// CHECK-NEXT:    func.return %[[R]]
func.func @shared(%x: tensor<?xf64>) -> tensor<?xf64> attributes {ember.entry} {
  %0 = etensor.exp %x : tensor<?xf64>
  %1 = etensor.mul %0, %0 : (tensor<?xf64>, tensor<?xf64>) -> tensor<?xf64>
  %2 = etensor.add %1, %0 : (tensor<?xf64>, tensor<?xf64>) -> tensor<?xf64>
  %3 = etensor.sub %2, %0 : (tensor<?xf64>, tensor<?xf64>) -> tensor<?xf64>
  func.return %3 : tensor<?xf64>
}

// np.empty: a broadcast marked uninitialized is an allocation and nothing else; the same
// broadcast unmarked (np.zeros) fills its buffer.
// CHECK-LABEL: func.func @empty_and_zeros
// CHECK:         %[[E:.*]] = memref.alloc(%{{.*}}) {ember.result = 0 : i64} : memref<?xf64>
// CHECK-NEXT:    %[[Z:.*]] = memref.alloc(%{{.*}}) {ember.result = 1 : i64} : memref<?xf64>
// CHECK-NEXT:    loop.parallel
// CHECK-NEXT:      memref.store %{{.*}}, %[[Z]]
// CHECK-NOT:       memref.store
// CHECK:         func.return %[[E]], %[[Z]]
func.func @empty_and_zeros(%n: index) -> (tensor<?xf64>, tensor<?xf64>) attributes {ember.entry} {
  %z = arith.constant 0.000000e+00 : f64
  %s = etensor.fill %z() : f64 -> tensor<f64>
  %e = etensor.broadcast %s (%n) {ember.uninitialized} : tensor<f64> -> tensor<?xf64>
  %f = etensor.broadcast %s (%n) : tensor<f64> -> tensor<?xf64>
  func.return %e, %f : tensor<?xf64>, tensor<?xf64>
}
