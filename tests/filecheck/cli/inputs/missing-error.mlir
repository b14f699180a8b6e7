// Valid IR with an expectation that no error meets (used by ../verify-diagnostics.mlir).

func.func @fine(%x: tensor<?xf32>) {
  // expected-error @+0 {{never happens}}
  func.return
}
