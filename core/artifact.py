"""Compiled functions as files: ``ember.save`` / ``ember.load``, pickling, the disk cache's entries.

An artifact is a zip file (stdlib ``zipfile``: every member is CRC-checked, so a corrupted
or truncated file is detected) holding JSON and text only — nothing in it is ever executed
as Python, and there is no pickle::

    manifest.json              format, versions, host target, the function, its signatures
    sig0/tensor.mlir           tensor-stage IR of signature 0 (parsed and verified by load)
    sig0/loop.mlir, llvm.mlir  the later stages, for ``f.ir(stage=...)``
    sig0/module.ll             LLVM IR before optimisation: what load compiles
    sig0/optimized.ll          LLVM IR after O3, for ``f.llvm_ir(optimized=True)``
    sig0/host.o                (optional) machine code for the saving host: load links it
                               instead of running LLVM when the loading host is the same CPU
    sig0/kernels.o             (with host.o, when the JIT compiled the matmul kernels apart)
                               their machine code, linked with host.o

    ember.save(f, "model.ember")
    g = ember.load("model.ember")      # a LoadedFunction: g(x, 2.0), g.signatures, g.ir()
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import io
import json
import os
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

FORMAT = "ember-artifact"
FORMAT_VERSION = 1
_STAGE_FILES = {"tensor": "tensor.mlir", "tensor+locations": "tensor-locations.mlir",
                "loop": "loop.mlir", "llvm": "llvm.mlir"}


class ArtifactError(ValueError):
    """An artifact that cannot be loaded: corrupted, truncated, or from another version."""


# -- facts about this installation and host -----------------------------------------------


@functools.cache
def versions() -> dict[str, str]:
    import llvmlite.binding as llb

    from ember import __version__

    return {"ember": __version__, "xdsl": importlib.metadata.version("xdsl"),
            "llvmlite": importlib.metadata.version("llvmlite"),
            "llvm": ".".join(map(str, llb.llvm_version_info))}


@functools.cache
def host_target() -> dict[str, str]:
    from ember.lowering.jit import host_cpu

    triple, cpu, _, features = host_cpu()
    return {"triple": triple, "cpu": cpu, "features": features}


def source_files() -> list[tuple[str, Path]]:
    """(``package/file.py``, path) of every module of ember: each subpackage may live in its
    own folder (core/ is ``ember``, lowering/ is ``ember.lowering``)."""
    import importlib.util

    import ember

    # find_spec locates a subpackage without running its __init__ (ember.passes imports
    # every pass, and xDSL's dialects with them: 25 ms of a warm first call)
    folders = [("ember", list(ember.__path__))]
    for sub in ("dialects", "frontends", "lowering", "passes"):
        spec = importlib.util.find_spec(f"ember.{sub}")
        folders.append((f"ember.{sub}", list(spec.submodule_search_locations or [])))
    return [(f"{name}/{path.name}", path)
            for name, paths in folders
            for folder in map(Path, paths) for path in sorted(folder.glob("*.py"))]


@functools.cache
def code_fingerprint() -> str:
    """A hash of ember's own source files: an edited compiler never reuses stale cache entries."""
    h = hashlib.sha256()
    for name, path in source_files():
        h.update(name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


# -- signatures as JSON ---------------------------------------------------------------------

_PYTYPES = {"bool": bool, "int": int, "float": float}


def spec_to_json(spec) -> dict:
    from ember.frontends.script import ArraySpec

    if isinstance(spec, ArraySpec):
        return {"array": spec.dtype.name, "shape": [1 if d == 1 else None for d in spec.shape],
                "contiguous": spec.contiguous}
    return {"scalar": spec.pytype.__name__}


def spec_from_json(data: dict):
    from ember.dialects.shapes import DYN
    from ember.frontends.script import ArraySpec, ScalarSpec

    if "array" in data:
        return ArraySpec(np.dtype(data["array"]), tuple(1 if d == 1 else DYN for d in data["shape"]),
                         bool(data["contiguous"]))
    return ScalarSpec(_PYTYPES[data["scalar"]])


# -- writing ------------------------------------------------------------------------------


def _stage_texts(spec, printed_only: bool) -> dict[str, str]:
    """``spec``'s stage texts to store: all of them, or (``printed_only``) those printed
    already (a lazy ``StageTexts`` prints the others when the loaded function is asked)."""
    ir = spec.ir.printed() if printed_only else spec.ir
    return {stage: ir[stage] for stage in _STAGE_FILES if stage in ir}


def _signature_record(spec, texts: dict[str, str]) -> dict:
    return {"name": spec.name, "specs": [spec_to_json(s) for s in spec.specs], "kinds": spec.kinds,
            "results": [list(r) for r in spec.results], "weak": spec.weak,
            "returns_tuple": spec.returns_tuple, "messages": spec.messages, "plain": spec.plain,
            "written": spec.written, "returns_argument": spec.returns_argument,
            "stages": list(texts)}


def artifact_bytes(function: dict, specializations: list, objects: bool = True,
                   printed_only: bool = False) -> bytes:
    """The artifact (zip bytes) for ``specializations``; ``function`` describes the function
    (name, qualname, module, kind, annotations). ``objects``: also store host machine code.
    ``printed_only``: store only the stage texts printed already (the disk cache: the later
    stages are made again from the tensor stage when asked for)."""
    texts = [_stage_texts(s, printed_only) for s in specializations]
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "versions": versions(),
                "target": host_target(), "function": function,
                "signatures": [_signature_record(s, t) for s, t in zip(specializations, texts)]}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("manifest.json", json.dumps(manifest, indent=1))
        for k, spec in enumerate(specializations):
            for stage, text in texts[k].items():
                z.writestr(f"sig{k}/{_STAGE_FILES[stage]}", text)
            z.writestr(f"sig{k}/module.ll", spec.llvm_ir)
            z.writestr(f"sig{k}/optimized.ll", spec.optimized_llvm_ir)
            engine = getattr(spec.call, "engine", None)
            code = getattr(engine, "object_code", None)
            if objects and code:
                z.writestr(f"sig{k}/host.o", code)
                kernels = getattr(engine, "kernel_code", None)
                if kernels:
                    z.writestr(f"sig{k}/kernels.o", kernels)
    return out.getvalue()


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one:
    a unique temporary file in the same directory, then ``os.replace``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# -- reading ------------------------------------------------------------------------------


class Artifact:
    """A parsed artifact: its manifest and lazy access to each signature's files."""

    def __init__(self, data: bytes, origin: str = "<bytes>"):
        self.origin = origin
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            bad = self._zip.testzip()
            if bad is not None:
                raise ArtifactError(f"{origin}: corrupted ember artifact (member {bad} fails its CRC check)")
            manifest = json.loads(self._zip.read("manifest.json"))
        except ArtifactError:
            raise
        except (zipfile.BadZipFile, zlib.error, KeyError, ValueError, EOFError, OSError) as e:
            raise ArtifactError(f"{origin}: not a readable ember artifact (truncated or corrupted "
                                f"file?): {e}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ArtifactError(f"{origin}: not an ember artifact (no '{FORMAT}' manifest)")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(f"{origin}: artifact format version {manifest.get('format_version')} "
                                f"is not supported by ember {versions()['ember']} (it reads "
                                f"version {FORMAT_VERSION}); save it again with this ember")
        saved = manifest.get("versions", {})
        if saved.get("ember") != versions()["ember"] or saved.get("xdsl") != versions()["xdsl"]:
            raise ArtifactError(f"{origin}: saved by ember {saved.get('ember')} with xdsl "
                                f"{saved.get('xdsl')}; this is ember {versions()['ember']} with xdsl "
                                f"{versions()['xdsl']}: the IR is not compatible, save it again")
        self.manifest = manifest

    def read(self, k: int, filename: str) -> bytes | None:
        try:
            return self._zip.read(f"sig{k}/{filename}")
        except KeyError:
            return None

    def host_code_usable(self) -> bool:
        return (self.manifest.get("target") == host_target()
                and self.manifest["versions"].get("llvm") == versions()["llvm"])

    def specialization(self, k: int, verify: bool = True, use_object: bool = True):
        """Rebuild signature ``k``: verify its tensor IR, then link its host machine code (same
        CPU and LLVM) or compile its LLVM IR."""
        from ember.api import Specialization
        from ember.stage_texts import StageTexts
        from ember.lowering.abi import make_entry
        from ember.lowering.jit import Engine

        record = self.manifest["signatures"][k]
        t0 = time.perf_counter()
        texts = {stage: self._text(k, _STAGE_FILES[stage]) for stage in record["stages"]}
        if verify:
            _verify_mlir(texts.get("tensor", ""), f"{self.origin}: signature {k}")
        llvm_ir = self._text(k, "module.ll")
        optimized = self._text(k, "optimized.ll")
        code = self.read(k, "host.o") if use_object and self.host_code_usable() else None
        engine = (Engine.from_object(code, optimized, self.read(k, "kernels.o")) if code
                  else Engine(llvm_ir))
        returned = list(record.get("returns_argument", []))
        call = make_entry(engine, record["name"], record["kinds"],
                          [(np.dtype(dt), rank) for dt, rank in record["results"]], returned)
        timings = {"load": time.perf_counter() - t0}
        lazy = [s for s in ("loop", "llvm") if s not in texts] if "tensor+locations" in texts else []
        return Specialization(tuple(spec_from_json(s) for s in record["specs"]), call,
                              list(record["weak"]), record["returns_tuple"], list(record["messages"]),
                              StageTexts(texts, lazy), llvm_ir, engine.optimized_ir, timings, plain=record["plain"],
                              name=record["name"], kinds=list(record["kinds"]),
                              results=[tuple(r) for r in record["results"]],
                              written=list(record.get("written", [])), returns_argument=returned)

    def _text(self, k: int, filename: str) -> str:
        data = self.read(k, filename)
        if data is None:
            raise ArtifactError(f"{self.origin}: signature {k} has no {filename}")
        return data.decode()


def _verify_mlir(text: str, where: str) -> None:
    from xdsl.parser import Parser

    from ember.context import make_context

    try:
        module = Parser(make_context(), text).parse_module()
        module.verify()
    except Exception as e:
        raise ArtifactError(f"{where}: its tensor-stage IR does not verify: {e}") from None
