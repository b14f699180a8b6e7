// RUN: ember-opt %s --split-input-file --verify-diagnostics

func.func @bad_kind(%n: index, %z: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{unknown reduction kind 'avg', expected one of add, mul, max, min, and, or}}
  %q = loop.parallel (%i) = (%c0) to (%n) step (%c1) reduce(avg) init(%a = %z) -> (f32) {
    loop.yield %a : f32
  }
  func.return
}

// -----

func.func @bad_yield(%n: index, %z: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %i0 = arith.constant 0 : i32
  // expected-error @+1 {{loop.for must yield one value per carried value}}
  %q = loop.for %i = %c0 to %n step %c1 iter_args(%a = %z) -> (f32) {
    loop.yield %i0 : i32
  }
  func.return
}
