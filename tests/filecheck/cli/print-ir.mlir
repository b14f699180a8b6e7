// --print-ir-after-all prints the IR after every pass to stderr under MLIR's header
// (pass class name, then its argument); --print-ir-after-change skips passes that changed
// nothing; --time-passes prints MLIR's execution time report. -p and --pass-pipeline agree.

// RUN: ember-opt %s -p 'builtin.module(cse,canonicalize)' --print-ir-after-all 2>&1 >/dev/null | filecheck %s --check-prefix=ALL
// ALL:      // -----// IR Dump After CommonSubexpressionElimination (cse) //----- //
// ALL-NEXT: builtin.module {
// ALL:        etensor.add %[[E:.*]], %[[E]]
// ALL:      // -----// IR Dump After CanonicalizePass (canonicalize) //----- //
// ALL-NEXT: builtin.module {

// RUN: ember-opt %s --pass-pipeline 'cse,cse' --print-ir-after-change 2>&1 >/dev/null | filecheck %s --check-prefix=CHANGE
// CHANGE:     // -----// IR Dump After CommonSubexpressionElimination (cse) //----- //
// CHANGE-NOT: IR Dump After

// RUN: ember-opt %s -p cse --time-passes 2>&1 >/dev/null | filecheck %s --check-prefix=TIME
// TIME:      ... Execution time report ...
// TIME:      Total Execution Time: {{[0-9.]+}} seconds
// TIME:      ----Wall Time----  ----Name----
// TIME:      Parser
// TIME-NEXT: cse
// TIME-NEXT: Output
// TIME-NEXT: Total

// RUN: ember-opt %s -p cse -o %t && filecheck %s --check-prefix=OUT < %t
// OUT: etensor.add %[[E:.*]], %[[E]]

func.func @twice(%x: tensor<?xf32>) -> tensor<?xf32> {
  %0 = etensor.exp %x : tensor<?xf32>
  %1 = etensor.exp %x : tensor<?xf32>
  %2 = etensor.add %0, %1 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
  func.return %2 : tensor<?xf32>
}
