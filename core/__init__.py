"""ember: an MLIR-style compiler for tensor programs, in Python, on xDSL and llvmlite.

    import numpy as np, ember

    @ember.script
    def f(x, y, a: float):
        return np.tanh(x * a + y) * 0.5 + x.sum(axis=1, keepdims=True)
"""

from ember.api import ScriptFunction, Tensor, script
from ember.errors import CompilerError, ScriptError, TraceCheckError, TraceError, TracerWarning
from ember.custom_op import CUSTOM_OPS as custom_ops, CustomOp, custom_op
from ember.registry import register_dialect, register_pass
from ember.threads import get_num_threads, set_num_threads
from ember.tracing import TracedFunction, trace
from ember.export import export
from ember.persist import ArtifactError, LoadedFunction, load, save
from ember.frontends.prange import prange
from ember.lowering.parallel_runtime import cached_memory, release_memory

__version__ = "0.1.0"
__all__ = ["script", "ScriptFunction", "Tensor", "ScriptError", "CompilerError", "trace",
           "TracedFunction", "TracerWarning", "TraceError", "TraceCheckError", "register_dialect",
           "register_pass", "custom_op", "CustomOp", "custom_ops", "save", "load", "LoadedFunction",
           "ArtifactError", "export", "prange", "release_memory", "cached_memory",
           "__version__"]
