// --list-passes lists every pass, sorted, with its docstring summary; ember's are marked,
// and so are passes a plugin registers (--load-plugin imports a Python file).

// RUN: ember-opt --list-passes | filecheck %s
// CHECK:     Available passes
// CHECK:     canonicalize
// CHECK:     cse
// CHECK:     func-to-llvm {{ *}}[ember] Lower ``func`` and ``cf`` to ``llvm``
// CHECK:     tensor-to-loop {{ *}}[ember] Bufferize every function

// RUN: ember-opt --list-passes --load-plugin %S/inputs/plugin.py | filecheck %s --check-prefix=USER
// USER:      double-exp {{ *}}[user] {{ *}}Replace etensor.exp by two of them (a toy user pass)

// RUN: ember-opt %s --load-plugin %S/inputs/plugin.py -p double-exp | filecheck %s --check-prefix=APPLY
// APPLY:     etensor.exp
// APPLY-NEXT: etensor.exp

func.func @f(%x: tensor<?xf32>) -> tensor<?xf32> {
  %0 = etensor.exp %x : tensor<?xf32>
  func.return %0 : tensor<?xf32>
}
