"""The dialects ember knows, loaded into an xDSL ``Context``.

An explicit list (not package walking): editable installs hide mapped subpackages from
``pkgutil``, and an explicit list is what a reader wants to see anyway.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.context import Context
from xdsl.ir import Dialect


def _builtin_dialects() -> dict[str, Callable[[], Dialect]]:
    from xdsl.dialects import builtin, cf, func, llvm, math, memref, scf, vector

    return {
        "builtin": lambda: builtin.Builtin,
        "func": lambda: func.Func,
        "arith": _arith,
        "math": lambda: math.Math,
        "scf": lambda: scf.Scf,
        "cf": lambda: cf.Cf,
        "memref": lambda: memref.MemRef,
        "llvm": lambda: llvm.LLVM,
        "vector": lambda: vector.Vector,
    }


def _arith() -> Dialect:
    from ember.dialects.arith_ext import extended_arith
    return extended_arith()


def _ember_dialects() -> dict[str, Callable[[], Dialect]]:
    def etensor():
        from ember.dialects.etensor import ETensor
        return ETensor

    def loop():
        from ember.dialects.loop import Loop
        return Loop

    def llvmx():
        from ember.dialects.llvmx import LLVMX
        return LLVMX

    return {"etensor": etensor, "loop": loop, "llvmx": llvmx}


#: Dialects registered by users (``ember.register_dialect``), name -> factory.
USER_DIALECTS: dict[str, Callable[[], Dialect]] = {}


def all_dialects() -> dict[str, Callable[[], Dialect]]:
    return {**_builtin_dialects(), **_ember_dialects(), **USER_DIALECTS}


def make_context() -> Context:
    """A context with every known dialect registered (loaded lazily on first use)."""
    ctx = Context(allow_unregistered=False)
    for name, factory in all_dialects().items():
        ctx.register_dialect(name, factory)
    return ctx
