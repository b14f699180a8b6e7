"""``ember.save``, ``ember.load``, pickling of compiled functions, and the disk cache.

    ember.save(f, "model.ember")           # every signature f has compiled, as IR (+ host code)
    g = ember.load("model.ember")          # no source, no tracing, no pickle: IR is verified
    g(x, 2.0)                              # same results as f

    pickle.dumps(f)                        # the same artifact bytes: workers get the compiled
                                           # code, not the Python function's code

The disk cache (``EMBER_CACHE_DIR``, default ``~/.cache/ember``; ``EMBER_CACHE=0`` turns it
off) stores one artifact per compiled signature, keyed by the frontend's IR (which holds the
source locations, constants baked in by a trace, and the signature), the parameter kinds, the
pipeline options, ember's own code, the xDSL/llvmlite/LLVM versions and the host CPU.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import time
from pathlib import Path

from ember.api import CompileRecord, ScriptFunction, Specialization
from ember.artifact import (Artifact, ArtifactError, artifact_bytes, code_fingerprint, host_target,
                            versions, write_atomic)

__all__ = ["save", "load", "LoadedFunction", "ArtifactError"]

_ANNOTATIONS = {"float": float, "int": int, "bool": bool}


def _describe_function(f: ScriptFunction) -> dict:
    from ember.api import Tensor
    from ember.tracing import TracedFunction

    py = f.py_func
    if py is None:  # a LoadedFunction: keep what it was loaded with
        return dict(f._function)
    try:
        source_hash = hashlib.sha256(inspect.getsource(py).encode()).hexdigest()[:16]
    except (OSError, TypeError):
        source_hash = None
    checks = [(k, name, "tensor" if ann in (Tensor,) or getattr(ann, "__name__", "") == "ndarray"
               else ann.__name__) for k, name, ann in f._checks]
    return {"name": f.__name__, "qualname": getattr(py, "__qualname__", f.__name__),
            "module": getattr(py, "__module__", None),
            "kind": "trace" if isinstance(f, TracedFunction) else "script",
            "nparams": f._nparams, "params": list(f._params),
            # scalar defaults only (JSON); a loaded function wants array arguments given
            "defaults": list(f._defaults)
            if all(type(d) in (int, float, bool) for d in f._defaults) else [],
            "annotations": checks, "source_hash": source_hash,
            "doc": py.__doc__}


def _compiled(f: ScriptFunction) -> list[Specialization]:
    return list(f._cache.values())


def save(f: ScriptFunction, path: str | os.PathLike, objects: bool = True) -> None:
    """Write every signature ``f`` has compiled to ``path`` (an ember artifact, see
    :mod:`ember.artifact`). ``objects=False`` leaves out the host machine code, so loading
    always runs LLVM (use it for an artifact meant for other CPUs)."""
    if not isinstance(f, ScriptFunction):
        raise TypeError(f"ember.save needs a function made by ember.script or ember.trace, "
                        f"got {type(f).__name__}")
    specs = _compiled(f)
    if not specs:
        raise ValueError(f"{f.__name__} has no compiled signatures to save: call it first")
    write_atomic(path, artifact_bytes(_describe_function(f), specs, objects=objects))


def load(path: str | os.PathLike) -> "LoadedFunction":
    """Load an artifact written by :func:`save`. Its tensor IR is parsed and verified; its
    machine code is linked when it was made for this CPU and LLVM, else its LLVM IR is compiled."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ArtifactError(f"cannot read {path}: {e.strerror}") from None
    return LoadedFunction(Artifact(data, str(path)))


class LoadedFunction(ScriptFunction):
    """A compiled function loaded from an artifact: called and inspected like the function it
    was saved from, for the signatures it was saved with."""

    def __init__(self, artifact: Artifact):
        fn = artifact.manifest["function"]
        self._function = fn
        self._origin = artifact.origin
        self.__name__ = fn["name"]
        self.__qualname__ = fn.get("qualname", fn["name"])
        self.__module__ = fn.get("module") or "__main__"
        self.__doc__ = fn.get("doc")
        self.py_func = None
        self._extra_passes = {}
        self._nparams = fn.get("nparams")
        self._params = tuple(fn.get("params", ()))
        self._defaults = tuple(fn.get("defaults", ()))
        self._disabled = False
        self._fast = {}
        self._checks = [(k, name, _annotation(ann)) for k, name, ann in fn.get("annotations", [])]
        self._cache = {}
        self._last = None
        self._hits = 0
        self._records = []
        _adopt(self, artifact, f"loaded from {artifact.origin}")

    def _compile(self, key: tuple, args: tuple) -> Specialization:
        for saved, spec in self._cache.items():  # strided code also serves contiguous arrays
            if len(saved) == len(key) and all(map(_serves, saved, key)):
                return spec
        have = "; ".join(f"({s})" for s in self.signatures)
        want = ", ".join(s.describe() for s in key)
        raise TypeError(f"{self.__name__} was loaded from {self._origin} without its source, with "
                        f"the signatures {have}; it has no compiled code for ({want}). Call the "
                        "original function with such arguments before saving it")

    def __reduce__(self):
        return _restore, (artifact_bytes(self._function, _compiled(self)),)


def _serves(saved, wanted) -> bool:
    from ember.frontends.script import ArraySpec

    if isinstance(saved, ArraySpec) and isinstance(wanted, ArraySpec):
        return (saved.dtype == wanted.dtype and saved.shape == wanted.shape
                and (wanted.contiguous or not saved.contiguous))
    return saved == wanted


def _annotation(name: str):
    from ember.api import Tensor

    return Tensor if name == "tensor" else _ANNOTATIONS[name]


def _adopt(f: ScriptFunction, artifact: Artifact, reason: str) -> None:
    """Add the artifact's signatures that ``f`` has not compiled yet."""
    for k in range(len(artifact.manifest["signatures"])):
        t0 = time.perf_counter()
        spec = artifact.specialization(k)
        if spec.specs in f._cache:
            continue
        f._cache[spec.specs] = spec
        f._last = spec
        f._records.append(CompileRecord(", ".join(s.describe() for s in spec.specs), reason,
                                        time.perf_counter() - t0, spec.timings))


# -- pickling -------------------------------------------------------------------------------


def reduce_function(f: ScriptFunction):
    """``ScriptFunction.__reduce__``: pickle by IR and manifest, never by code."""
    return _restore, (artifact_bytes(_describe_function(f), _compiled(f)),)


def _restore(data: bytes) -> ScriptFunction:
    """Unpickle: when the worker can import the same scripted function (same module, same
    source), hand it the compiled signatures; otherwise a :class:`LoadedFunction`."""
    artifact = Artifact(data, "<pickled ember function>")
    fn = artifact.manifest["function"]
    target = _importable(fn)
    if target is not None:
        _adopt(target, artifact, "unpickled")
        return target
    return LoadedFunction(artifact)


def _importable(fn: dict) -> ScriptFunction | None:
    if fn.get("kind") != "script" or not fn.get("module") or not fn.get("source_hash"):
        return None
    try:
        obj = importlib.import_module(fn["module"])
        for part in fn["qualname"].split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    if not isinstance(obj, ScriptFunction) or type(obj) is not ScriptFunction:
        return None
    return obj if _describe_function(obj).get("source_hash") == fn["source_hash"] else None


# -- the disk cache -------------------------------------------------------------------------

#: the dialects whose lowering is ember's own (a custom op or a user dialect's op in the IR
#: may be lowered by user code that the cache key cannot see, so such IR is never cached)
_CACHEABLE_DIALECTS = frozenset({"builtin", "func", "arith", "math", "scf", "cf", "etensor"})


def only_embers_own_ops(module) -> bool:
    """Whether every op of ``module`` is of a dialect ember lowers itself (no custom op, no
    user dialect): such IR is what the disk cache keeps, and what prints and parses back to
    the same module (``StageTexts`` prints later stages from it)."""
    return all(op.name.split(".", 1)[0] in _CACHEABLE_DIALECTS and op.name != "etensor.custom"
               for op in module.walk())


def cache_dir() -> Path | None:
    """The disk cache's directory, or None when ``EMBER_CACHE=0``."""
    if os.environ.get("EMBER_CACHE", "1") == "0":
        return None
    explicit = os.environ.get("EMBER_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ember"


def cache_key(module, kinds: list[str], extra_passes: dict) -> str | None:
    """The disk-cache key of a frontend module, or None if it must not be cached."""
    if extra_passes or not only_embers_own_ops(module):
        return None
    from ember.compiler import _with_locations

    h = hashlib.sha256()
    for part in (_with_locations(module), repr(kinds), os.environ.get("EMBER_STRICT_MATH", ""),
                 code_fingerprint(), repr(sorted(versions().items())),
                 repr(sorted(host_target().items()))):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _entry_path(directory: Path, key: str) -> Path:
    return directory / key[:2] / f"{key}.ember"


def cache_lookup(key: str) -> Specialization | None:
    """The cached specialisation for ``key``; a missing, unreadable or corrupted entry is None
    (and a corrupted one is removed, to be rebuilt)."""
    directory = cache_dir()
    if directory is None:
        return None
    path = _entry_path(directory, key)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        return Artifact(data, str(path)).specialization(0, verify=False)
    except Exception:  # noqa: BLE001 - any damage means: rebuild the entry
        try:
            path.unlink()
        except OSError:
            pass
        return None


def cache_store(key: str, f: ScriptFunction, spec: Specialization) -> None:
    """Write ``spec`` under ``key``; concurrent writers are safe (atomic rename). A cache
    that cannot be written (read-only, full disk) is silently skipped."""
    directory = cache_dir()
    if directory is None:
        return
    path = _entry_path(directory, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, artifact_bytes({"name": f.__name__, "kind": "cache-entry"}, [spec],
                                          printed_only=True))
    except OSError:
        pass


def cache_summary() -> dict:
    """The disk cache's directory, number of entries and total size in bytes."""
    directory = cache_dir()
    if directory is None:
        return {"directory": None, "entries": 0, "bytes": 0}
    entries = list(directory.glob("*/*.ember")) if directory.exists() else []
    return {"directory": str(directory), "entries": len(entries),
            "bytes": sum(p.stat().st_size for p in entries)}


def cache_clear() -> int:
    """Remove every entry of the disk cache; returns how many were removed."""
    directory = cache_dir()
    removed = 0
    if directory is not None and directory.exists():
        for path in directory.glob("*/*.ember"):
            try:
                path.unlink()
                removed += 1
            except OSError:
                pass
    return removed
