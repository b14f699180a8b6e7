"""``ember.export``: compiled signatures as a C-callable shared library or object file.

    @ember.script
    def f(x, a: float):
        return np.tanh(x * a)

    ember.export(f, "libf.so", signatures=["float32[?,?], float"], header="f.h")
    ember.export(f, "f.o", signatures=["float32[?,?], float"], target="riscv64-linux-gnu")

Each signature becomes one C function, ``<name>_<mangling>`` (see :func:`mangle`), plus
``<name>`` as an alias when exactly one signature is exported; ``<symbol>_message(status)``
gives the text of a status. The C ABI (``ember_tensor``, ``ember_allocator``) is described in
:mod:`ember.export_abi` and ``docs/deployment.md``. The library needs no Python: only libc,
libm and pthreads. A ``.so`` is linked by the system C compiler (``$CC``, ``cc``, ``gcc`` or
``clang``; ``<target>-gcc`` for another architecture); a ``.o`` needs no compiler.
"""

from __future__ import annotations

import functools
import inspect
import keyword
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import llvmlite.binding as llb
import numpy as np

from ember.api import ScriptFunction, Specialization
from ember.dialects.shapes import DYN
from ember.export_abi import RUNTIME_IR, ExportedSignature, alias_ir, header_text, shim_ir
from ember.frontends.script import ArraySpec, ScalarSpec
from ember.lowering.jit import host_features
from ember.lowering.parallel_runtime import link_runtime
from ember.tracing import TracedFunction


class ExportError(RuntimeError):
    """The library could not be linked: no C compiler for the target, or the linker failed.

    Write a ``.o`` instead (it needs no compiler) and link it with your toolchain, with
    ``-lm``; or install a C compiler (``cc``, or ``<target>-gcc`` for a cross target).
    """


# -- targets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """An LLVM target to compile for: triple, CPU, features, ABI name."""

    name: str
    triple: str
    cpu: str
    features: str = ""
    abi: str = ""

    def machine(self) -> llb.TargetMachine:
        _init_targets()
        return llb.Target.from_triple(self.triple).create_target_machine(
            cpu=self.cpu, features=self.features, opt=3, reloc="pic", codemodel="small",
            abiname=self.abi)


#: Cross targets: 64-bit Linux with a generic CPU of the architecture (Debian's baselines;
#: riscv64 is RV64GC with the lp64d ABI, which Debian's riscv64-linux-gnu-gcc uses).
TARGETS = {t.name: t for t in [
    Target("x86_64-linux-gnu", "x86_64-unknown-linux-gnu", "x86-64"),
    Target("aarch64-linux-gnu", "aarch64-unknown-linux-gnu", "generic", "+neon,+fp-armv8"),
    Target("riscv64-linux-gnu", "riscv64-unknown-linux-gnu", "generic-rv64", "+m,+a,+f,+d,+c",
           "lp64d"),
]}


def host_target() -> Target:
    """This machine, tuned for its CPU (like ``-march=native``)."""
    _init_targets()
    triple = llb.get_process_triple()
    return Target("host", triple, llb.get_host_cpu_name(), host_features())


def resolve_target(target: str | None) -> Target:
    """``None`` is this machine; otherwise a key of ``TARGETS`` (``-unknown-`` may appear)."""
    if target is None:
        return host_target()
    found = TARGETS.get(str(target).replace("-unknown-", "-"))
    if found is None:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(sorted(TARGETS))}, "
                         "or None for this machine")
    return found


@functools.cache
def _init_targets() -> None:
    llb.initialize_all_targets()
    llb.initialize_all_asmprinters()


# -- signatures ----------------------------------------------------------------------------------

_SCALARS = {"float": float, "int": int, "bool": bool}
_ITEM = re.compile(r"(?P<dtype>\w+)\[(?P<dims>[?1,\s]*)\](?P<strided>\s+strided)?")
#: dtype -> mangling code; scalars mangle as their Python type name
DTYPE_CODES = {"float32": "f32", "float64": "f64", "int32": "i32", "int64": "i64", "bool": "b8"}


def parse_signature(text: str) -> tuple:
    """``"float32[?,1], float64[?] strided, float"`` -> its specialisation key."""
    items = [s.strip() for s in re.split(r",(?![^\[]*\])", text)] if text.strip() else []
    key = tuple(_parse_item(item) for item in items)
    for item, spec in zip(items, key):
        if spec is None:
            raise ValueError(f"signature {text!r}: cannot parse {item!r}; expected a tensor like "
                             "'float32[?,1]' or 'float64[?] strided' (dtype float32, float64, "
                             "int32, int64 or bool; each dimension ? or 1), or float, int, bool")
    return key


def _parse_item(item: str) -> ArraySpec | ScalarSpec | None:
    if item in _SCALARS:
        return ScalarSpec(_SCALARS[item])
    m = _ITEM.fullmatch(item)
    if not m or m["dtype"] not in DTYPE_CODES:
        return None
    dims = [d.strip() for d in m["dims"].split(",")] if m["dims"].strip() else []
    if not all(d in ("?", "1") for d in dims):
        return None
    return ArraySpec(np.dtype(m["dtype"]), tuple(1 if d == "1" else DYN for d in dims),
                     not m["strided"])


def describe(key: tuple) -> str:
    return ", ".join(s.describe() for s in key)


def mangle(key: tuple) -> str:
    """The symbol suffix of a signature: one token per parameter, joined by ``_``.

    A tensor is its dtype code (``f32 f64 i32 i64 b8``), one letter per dimension (``d``
    dynamic, ``1`` size 1) and ``s`` if strided; a scalar is ``float``, ``int`` or ``bool``;
    no parameters is ``void``. ``float32[?,1], float64[] strided, int`` ->
    ``f32d1_f64s_int``.
    """
    tokens = [DTYPE_CODES[s.dtype.name] + "".join("1" if n == 1 else "d" for n in s.shape)
              + ("" if s.contiguous else "s") if isinstance(s, ArraySpec)
              else s.pytype.__name__ for s in key]
    return "_".join(tokens) or "void"


def _select(f: ScriptFunction, signatures) -> list[tuple[tuple, Specialization]]:
    """The (key, specialisation) pairs to export, compiling the missing ones of a scripted
    function."""
    name = f.__name__
    if signatures is None:
        if not f._cache:
            raise ValueError(f"{name} has not been compiled for any signature: call it first, "
                             "or pass signatures=[...]")
        return list(f._cache.items())
    if isinstance(signatures, str):
        signatures = [signatures]
    selected = {}
    for text in signatures:
        key = parse_signature(text)
        if f._nparams is not None and len(key) != f._nparams:
            raise ValueError(f"signature {text!r} has {len(key)} parameters; {name} takes "
                             f"{f._nparams}")
        if key not in f._cache and isinstance(f, TracedFunction):
            raise ValueError(f"{name} has no trace for signature {describe(key)!r}: call it "
                             "once with such arguments first")
        selected[key] = f._cache.get(key) or f._compile(key, None)
    return list(selected.items())


# -- names ---------------------------------------------------------------------------------------

_C_KEYWORDS = set("""auto break case char const continue default do double else enum extern float
for goto if inline int long register restrict return short signed sizeof static struct switch
typedef union unsigned void volatile while bool true false allocator""".split())


def _c_names(f: ScriptFunction, n_params: int, n_results: int) -> tuple[list[str], list[str]]:
    """C parameter names (the Python ones where they are valid C) and result names."""
    try:
        names = list(inspect.signature(f.py_func).parameters)[:n_params]
    except (TypeError, ValueError):
        names = []
    names += [f"a{k}" for k in range(len(names), n_params)]
    params, taken = [], set()
    for k, n in enumerate(names):
        n = n if n.isascii() and n.isidentifier() else f"a{k}"
        while n in _C_KEYWORDS or n in taken or keyword.iskeyword(n):
            n += "_"
        params.append(n)
        taken.add(n)
    outs = []
    for j in range(n_results):
        o = f"out{j}"
        while o in taken:
            o += "_"
        outs.append(o)
    return params, outs


def _python_signature(name: str, params: list[str], key: tuple, results) -> str:
    args = ", ".join(f"{p}: {s.describe()}" for p, s in zip(params, key))
    outs = [f"{dt}[{','.join('?' * rank)}]" for dt, rank in results]
    ret = outs[0] if len(outs) == 1 else f"({', '.join(outs)})"
    return f"{name}({args}) -> {ret}"


# -- compiling -----------------------------------------------------------------------------------


@dataclass
class ExportResult:
    """What :func:`export` wrote: the output, the header, the exported C functions."""

    path: str
    target: str
    symbols: list[str]
    header: str | None = None
    seconds: float = 0.0
    signatures: list[ExportedSignature] = field(default_factory=list, repr=False)


def _signature(f: ScriptFunction, base: str, key: tuple, spec: Specialization) -> ExportedSignature:
    params, outs = _c_names(f, len(key), len(spec.results))
    symbol = f"{base}_{mangle(key)}"
    return ExportedSignature(symbol, f"{symbol}.impl", key, list(spec.kinds), params,
                             list(spec.results), outs, list(spec.messages),
                             _python_signature(base, params, key, spec.results),
                             list(spec.returns_argument))


def _entry_module(sig: ExportedSignature, spec: Specialization, tm) -> tuple[llb.ModuleRef, list[str]]:
    """Parse a specialisation's IR for ``tm``; rename its public definitions into the
    signature's namespace (the entry becomes ``sig.impl``). Returns the module and the new
    names, to make internal once linked."""
    mod = llb.parse_assembly(spec.llvm_ir)
    mod.triple, mod.data_layout = tm.triple, str(tm.target_data)
    renamed = []
    for value in [*mod.functions, *mod.global_variables]:
        if value.is_declaration or value.linkage != llb.Linkage.external:
            continue
        value.name = sig.impl if value.name == spec.name else f"{sig.symbol}.{value.name}"
        renamed.append(value.name)
    return mod, renamed


def _optimize(module: llb.ModuleRef, tm: llb.TargetMachine) -> None:
    """The O3 pipeline of ``ember.lowering.jit.Engine`` (loop and SLP vectorisers on)."""
    pto = llb.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pb = llb.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(module, pb)


def compile_object(f: ScriptFunction, selected: list[tuple[tuple, Specialization]], target: Target,
                   name: str | None = None) -> tuple[bytes, list[ExportedSignature], str | None]:
    """Machine code (an ELF object) for the ``(key, specialisation)`` pairs of ``f``: their
    entries, shims and the runtime. Returns the object, the signatures and the alias (or None)."""
    base = name or f.__name__
    if not (base.isascii() and base.isidentifier()):
        raise ValueError(f"{base!r} is not a C identifier: pass name='...' to ember.export")
    tm = target.machine()
    sigs = [_signature(f, base, key, spec) for key, spec in selected]
    alias = base if len(sigs) == 1 else None
    module = llb.parse_assembly("\n".join([RUNTIME_IR, *map(shim_ir, sigs),
                                            alias_ir(alias, sigs[0]) if alias else ""]))
    module.triple, module.data_layout = tm.triple, str(tm.target_data)
    internal = set(link_runtime(module))  # one thread pool per library
    for sig, (_, spec) in zip(sigs, selected):
        entry_module, renamed = _entry_module(sig, spec, tm)
        module.link_in(entry_module)
        internal.update(renamed)
    for value in [*module.functions, *module.global_variables]:
        if value.name in internal:
            value.linkage = "internal"
    module.verify()
    _optimize(module, tm)
    return tm.emit_object(module), sigs, alias


def _compiler(target: Target) -> list[str]:
    if target.name == "host":
        if os.environ.get("CC"):
            return shlex.split(os.environ["CC"])
        candidates = ["cc", "gcc", "clang"]
    else:
        candidates = [f"{target.name}-gcc"]
    for c in candidates:
        if shutil.which(c):
            return [c]
    raise ExportError(f"no C compiler found to link a shared library for {target.name} (looked "
                      f"for {', '.join(candidates)}); install one, or export a .o and link it "
                      "yourself with -lm")


def link_shared(obj: bytes, path: Path, target: Target) -> None:
    cc = _compiler(target)
    with tempfile.TemporaryDirectory(prefix="ember-export-") as tmp:
        obj_path = Path(tmp) / "module.o"
        obj_path.write_bytes(obj)
        # -z nodelete: the library's thread pool outlives a dlclose (its idle workers sleep
        # in the library's code, which must stay mapped)
        cmd = [*cc, "-shared", "-Wl,-z,nodelete", "-o", str(path), str(obj_path), "-lm", "-lpthread"]
        done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise ExportError(f"linking {path} failed ({' '.join(cmd)}):\n{done.stderr.strip()}")


def _guard(header: Path) -> str:
    return "EMBER_" + re.sub(r"\W", "_", header.name).upper()


def export(f, path, signatures=None, header=None, target=None, name=None) -> ExportResult:
    """Write ``f``'s compiled code as a C-callable ``.so`` or ``.o`` (and a C header).

    ``signatures``: strings like ``"float32[?,?], float"`` (as ``f.signatures`` prints them),
    or ``None`` for every signature compiled so far. A scripted function compiles the ones it
    lacks; a traced function must have been called with each. ``header``: path of a C header
    to write. ``target``: ``None`` (this machine, tuned for its CPU) or one of ``TARGETS``
    (a generic CPU). ``name``: the C base name (default: the function's name).
    """
    t0 = time.perf_counter()
    if not isinstance(f, ScriptFunction):
        raise TypeError(f"ember.export needs a function made by ember.script or ember.trace, "
                        f"got {type(f).__name__}")
    path = Path(path)
    if path.suffix not in (".so", ".o"):
        raise ValueError(f"cannot export to {str(path)!r}: the name must end in .so (shared "
                         "library) or .o (object file)")
    tgt = resolve_target(target)
    obj, sigs, alias = compile_object(f, _select(f, signatures), tgt, name)
    if path.suffix == ".so":
        link_shared(obj, path, tgt)
    else:
        path.write_bytes(obj)
    if header is not None:
        Path(header).write_text(header_text(_guard(Path(header)), sigs, alias))
    symbols = [s.symbol for s in sigs] + ([alias] if alias else [])
    return ExportResult(str(path), tgt.triple, symbols, None if header is None else str(header),
                        time.perf_counter() - t0, sigs)
