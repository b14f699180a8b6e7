"""ember: an MLIR-style compiler for tensor programs, in Python, on xDSL and llvmlite."""
