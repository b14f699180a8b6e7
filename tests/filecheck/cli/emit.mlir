// --emit runs the stage table (ember.pipeline.STAGES) up to a stage; the input's stage is
// inferred from its ops (etensor -> tensor) unless --from says it.

// RUN: ember-opt %s --emit=loop | filecheck %s --check-prefix=LOOP
// RUN: ember-opt %s -p stage-loop | filecheck %s --check-prefix=LOOP
// RUN: ember-opt %s --emit=loop | ember-opt | filecheck %s --check-prefix=LOOP
// RUN: ember-opt %s --emit=llvm | filecheck %s --check-prefix=LLVM
// RUN: ember-opt %s --emit=loop | ember-opt --emit=llvm | filecheck %s --check-prefix=LLVM
// RUN: ember-opt %s --emit=loop | ember-opt --from=loop --emit=llvm | filecheck %s --check-prefix=LLVM
// RUN: ember-opt %s --emit=llvm-ir | filecheck %s --check-prefix=IR
// RUN: ember-opt %s --emit=llvm | ember-opt --emit=llvm-ir | filecheck %s --check-prefix=IR

func.func @add1(%x: tensor<?xf32>) -> tensor<?xf32> {
  %one = arith.constant 1.000000e+00 : f32
  %0 = etensor.fill %one() : f32 -> tensor<f32>
  %1 = etensor.add %x, %0 : (tensor<?xf32>, tensor<f32>) -> tensor<?xf32>
  func.return %1 : tensor<?xf32>
}

// LOOP:       func.func @add1(%{{.*}}: memref<?xf32>) -> memref<?xf32>
// LOOP-NOT:   etensor.
// LOOP:       memref.alloc
// LOOP:       loop.parallel
// LOOP:         memref.load
// LOOP-NEXT:    arith.addf
// LOOP-NEXT:    memref.store
// LOOP:       func.return

// LLVM:       llvm.func {{.*}}@add1
// LLVM-NOT:   {{etensor|loop|memref|arith|func}}.
// LLVM:       llvm.fadd
// LLVM-NOT:   {{etensor|loop|memref|arith|func}}.
// LLVM:       llvm.return

// IR:         define {{.*}}@"add1"
// IR:         fadd float
// IR:         ret
