// Mistakes on the command line are one line on stderr and exit code 1, never a traceback.

// RUN: not ember-opt %s -p no-such-pass 2>&1 | filecheck %s --check-prefix=UNKNOWN
// UNKNOWN:      ember-opt: error: unknown pass 'no-such-pass' (ember-opt --list-passes lists them)
// UNKNOWN-NOT:  Traceback

// RUN: not ember-opt %s -p canonicalise 2>&1 | filecheck %s --check-prefix=TYPO
// TYPO:         ember-opt: error: unknown pass 'canonicalise'; did you mean 'canonicalize'?

// RUN: not ember-opt %s -p 'cse{bogus=1}' 2>&1 | filecheck %s --check-prefix=OPTION
// OPTION:       ember-opt: error: bad pass pipeline 'cse{bogus=1}':

// RUN: not ember-opt %s -p 'cse{' 2>&1 | filecheck %s --check-prefix=SYNTAX
// SYNTAX:       ember-opt: error: bad pass pipeline 'cse{': Expected argument name here

// RUN: not ember-opt %s --emit=mlir 2>&1 | filecheck %s --check-prefix=EMIT
// EMIT:         ember-opt: error: argument --emit: invalid choice: 'mlir' (choose from 'tensor', 'loop', 'llvm', 'llvm-ir')

// RUN: not ember-opt %s --from=loop --emit=tensor 2>&1 | filecheck %s --check-prefix=BACKWARDS
// BACKWARDS:    ember-opt: error: cannot emit the 'tensor' stage from 'loop'-stage input

// RUN: not ember-opt %s --no-such-flag 2>&1 | filecheck %s --check-prefix=FLAG
// FLAG:         ember-opt: error: unrecognized arguments: --no-such-flag

// An outer builtin.module(...) around the pipeline is accepted, as in mlir-opt.
// RUN: ember-opt %s -p 'builtin.module(canonicalize,cse)' | filecheck %s --check-prefix=NESTED
// NESTED:       func.func @id

func.func @id(%x: tensor<?xf32>) -> tensor<?xf32> {
  func.return %x : tensor<?xf32>
}
