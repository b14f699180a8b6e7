"""Extension points: user dialects and passes, registered once and seen everywhere.

    import ember
    ember.register_dialect(MyDialect)      # ember-opt, ember.testing and the pipeline parse it
    ember.register_pass(MyPass)            # by its ``name``: "-p my-pass", passes={"tensor": ["my-pass"]}

An installed package can do the same without code in the user's program: declare an entry
point in the ``ember.plugins`` group whose object is a function taking no arguments that
calls ``register_dialect``/``register_pass``; ember loads plugins on first use.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Dialect
from xdsl.passes import ModulePass

from ember.context import USER_DIALECTS

#: passes registered by users, by name
USER_PASSES: dict[str, type[ModulePass]] = {}
_plugins_loaded = False


def register_dialect(dialect: Dialect | Callable[[], Dialect]) -> None:
    """Make ``dialect`` (or a factory returning it) known to every ember context."""
    if isinstance(dialect, Dialect):
        USER_DIALECTS[dialect.name] = lambda d=dialect: d
    else:
        USER_DIALECTS[dialect().name] = dialect


def register_pass(pass_cls: type[ModulePass]) -> type[ModulePass]:
    """Make ``pass_cls`` usable by name (``pass_cls.name``); usable as a class decorator."""
    if not (isinstance(pass_cls, type) and issubclass(pass_cls, ModulePass)):
        raise TypeError(f"register_pass expects a ModulePass subclass, got {pass_cls!r}")
    USER_PASSES[pass_cls.name] = pass_cls
    return pass_cls


def load_plugins() -> None:
    """Run every ``ember.plugins`` entry point once."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="ember.plugins"):
        ep.load()()


def all_passes() -> dict[str, type[ModulePass]]:
    """Every pass by name: xDSL's, ember's and the users'."""
    from xdsl.transforms import get_all_passes

    from ember.lowering.loop_to_llvm import PASSES as lowering
    from ember.lowering.tensor_to_loop import TensorToLoopPass
    from ember.passes import PASSES

    load_plugins()
    out = {name: factory() for name, factory in get_all_passes().items()}
    out.update({TensorToLoopPass.name: TensorToLoopPass, **PASSES, **lowering, **USER_PASSES})
    return out


def resolve_pass(spec: str | ModulePass) -> list[ModulePass]:
    """Pass instances from an instance, or a pipeline string ``"a,b{opt=1}"``."""
    if isinstance(spec, ModulePass):
        return [spec]
    from xdsl.passes import PassPipeline

    available = {name: (lambda cls=cls: cls) for name, cls in all_passes().items()}
    try:
        return list(PassPipeline.parse_spec(available, spec).passes)
    except Exception as e:  # xDSL raises bare ValueErrors with long messages
        raise ValueError(f"bad pass pipeline {spec!r}: {str(e).splitlines()[0]}") from None
