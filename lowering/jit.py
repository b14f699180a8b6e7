"""Compile LLVM IR text to native code in-process with llvmlite's MCJIT.

    engine = Engine(ir_text)           # parse, verify, O3 (loop + SLP vectorisers), codegen
    engine.optimized_ir                # the IR after optimisation, before codegen
    addr = engine.address("f")         # raises if the symbol is missing

Each engine owns a fresh ``TargetMachine`` (MCJIT takes ownership of it; sharing one
between engines crashes when the first is collected).  External symbols (``malloc``,
``free``, libm's ``expf``/``tanhf``...) resolve against the running process, and the native
runtime's entry points (``ember_parallel_for``, ``ember_temp_alloc``... ``ENTRY_POINTS``)
against one process-wide runtime module, compiled the first time a module needs it
(``ember.lowering.parallel_runtime``): every compiled function shares one thread pool and one
cache of temporaries.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
import hashlib
import os
import threading

import llvmlite.binding as llb

from ember.lowering.parallel_runtime import ENTRY_POINTS, bind_symbols, runtime_ir

#: Symbols compiled code may call; ``check_symbols`` verifies that the process has them.
RUNTIME_SYMBOLS = ("malloc", "free", "expf", "exp", "logf", "log", "tanhf", "tanh", "powf",
                   "sinf", "cosf", "erff", "erf", "log1pf", "expm1f",
                   "pthread_create", "pthread_detach", "pthread_sigmask", "sigfillset", "syscall",
                   "getpid", "getenv", "atoi", "sysconf", "madvise", "atoll", "sched_yield")


@functools.cache
def _init_llvm() -> None:
    llb.initialize_native_target()
    llb.initialize_native_asmprinter()
    libm = ctypes.util.find_library("m")
    if libm is not None:  # make libm's symbols visible to MCJIT's process-symbol lookup
        llb.load_library_permanently(libm)
    bind_symbols()  # the thread count and grain of the parallel runtime, process-wide
    check_symbols()
    _fork_safe_llvm()


def _fork_safe_llvm() -> None:
    """Make ``fork()`` wait for llvmlite's lock: a child forked while another thread was
    inside LLVM would inherit the lock held and hang on its first compile."""
    lock = getattr(getattr(getattr(llb.ffi, "lib", None), "_lock", None), "_lock", None)
    if lock is not None and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=lock.acquire, after_in_parent=lock.release,
                            after_in_child=lock.release)


_RUNTIME_LOCK = threading.Lock()
_runtime: list[Engine] = []


def _link_runtime() -> None:
    """Compile the native runtime once and resolve its entry points to it, process-wide.

    Its machine code is kept in the disk cache (``EMBER_CACHE_DIR``/runtime), so that a
    process whose functions all come from the cache does not compile it either. The engine
    is never freed (its refcount is raised past any collection): idle pool workers run its
    code, and must find it mapped until the process exits."""
    with _RUNTIME_LOCK:  # two threads compiling at once must not make two pools
        if _runtime:
            return
        engine = cached_engine("runtime", runtime_ir(), "ember_parallel_for")
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(engine))
        for name in ENTRY_POINTS:
            llb.add_symbol(name, engine.address(name))
        _runtime.append(engine)


def start_runtime_link() -> None:
    """Begin :func:`_link_runtime` on a thread, so that a first compile's Python passes run
    while LLVM compiles the runtime (about 60 ms, on the other core; the GIL is free inside
    LLVM). The compile that needs the runtime waits for it on ``_RUNTIME_LOCK``; a failure
    here is left for that compile to meet again and report."""
    if _runtime or _RUNTIME_LOCK.locked():
        return
    _init_llvm()  # on the caller's thread: it registers the fork handlers once
    host_cpu()  # and asks LLVM about the host now, not behind the runtime's compile
    # Every module the thread needs is imported here: a child forked while the thread held
    # a module's import lock would wait for it forever.
    import ember.artifact  # noqa: F401 - the disk cache's keys
    import ember.persist  # noqa: F401
    from ember.lowering import pyalloc

    # the result allocator's few lines too (14 ms when compiled)
    threading.Thread(target=_link_runtime_quietly, args=(pyalloc.address,), name="ember-runtime",
                     daemon=True).start()


def _link_runtime_quietly(also) -> None:
    try:
        _link_runtime()
        also()
    except BaseException:  # noqa: BLE001 - the compile's own calls raise it again
        pass


def runtime_lock() -> threading.Lock:
    """The lock that guards the process-wide engines (the runtime, the result allocator)."""
    return _RUNTIME_LOCK


def _fresh_runtime_lock() -> None:
    """After ``fork``: a child forked while the runtime was being linked on a thread (which
    the child does not have) must not inherit the lock held."""
    global _RUNTIME_LOCK
    _RUNTIME_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_runtime_lock)


def cached_engine(kind: str, text: str, symbol: str, opt_level: int = 2) -> Engine:
    """An engine for a module every process compiles the same (the runtime, the result
    allocator): its machine code is kept in the disk cache (``EMBER_CACHE_DIR``/``kind``),
    so that a process whose functions all come from the cache compiles nothing. ``symbol``:
    a function the module defines (checked when a cached object is loaded)."""
    path = _object_cache_path(kind, text)
    engine = _cached_object(path, symbol)
    if engine is None:
        engine = Engine.__new__(Engine)
        engine._compile(text, opt_level)
        _store_object(path, engine.object_code)
    return engine


def _object_cache_path(kind: str, text: str):
    from ember.artifact import host_target, versions
    from ember.persist import cache_dir

    directory = cache_dir()
    if directory is None:
        return None
    key = hashlib.sha256(repr((text, versions()["llvm"], sorted(host_target().items())))
                         .encode()).hexdigest()
    return directory / kind / f"{key[:32]}.o"


def _cached_object(path, symbol: str) -> Engine | None:
    """The engine of the cache entry at ``path`` (its SHA-256, then the object: LLVM would
    crash on a damaged object), or None."""
    try:
        data = path.read_bytes() if path is not None else b""
    except OSError:
        return None
    digest, code = data[:32], data[32:]
    if not code or hashlib.sha256(code).digest() != digest:
        return None
    engine = Engine.__new__(Engine)
    try:
        engine._load(code, "")
        engine.address(symbol)
    except Exception:  # noqa: BLE001 - a damaged entry: compile it again
        return None
    return engine


def _store_object(path, code: bytes | None) -> None:
    from ember.artifact import write_atomic

    if path is None or code is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, hashlib.sha256(code).digest() + code)
    except OSError:  # a read-only or full cache: compile again next time
        pass


_ENTRY_NAMES = tuple(ENTRY_POINTS)
_ENTRY_NAMES_BYTES = tuple(name.encode() for name in ENTRY_POINTS)


def _uses_runtime(text: str | bytes) -> bool:
    """Whether IR text or an object file names one of the runtime's entry points."""
    names = _ENTRY_NAMES if isinstance(text, str) else _ENTRY_NAMES_BYTES
    return any(name in text for name in names)


def runtime_function(name: str, restype, *argtypes):
    """A ctypes function for the process-wide runtime's function ``name``, or None while no
    compiled function has needed the runtime (its state is still the initial one)."""
    if not _runtime:
        return None
    return ctypes.CFUNCTYPE(restype, *argtypes)(_runtime[0].address(name))


def check_symbols(names: tuple[str, ...] = RUNTIME_SYMBOLS) -> None:
    """Raise ``RuntimeError`` naming any runtime symbol the JIT could not resolve."""
    missing = [n for n in names if not llb.address_of_symbol(n)]
    if missing:
        raise RuntimeError(f"JIT cannot resolve runtime symbols: {', '.join(missing)}")


@functools.cache
def host_cpu() -> tuple[str, str, frozenset[str], str]:
    """``(triple, cpu name, enabled features, features for LLVM)`` of the host, asked of LLVM
    once per process. On AVX-512 CPUs, LLVM's default tuning prefers 256-bit vectors
    (``prefer-256-bit``, against old clock-throttling parts); ember's loops are long and
    uniform, so it turns that off: 512-bit vectors ran the tanh chain 1.6x and softmax 1.4x
    faster on the development machine (a Rocket Lake Xeon). :func:`start_runtime_link` asks
    before its thread takes llvmlite's lock: a pass asking while the runtime compiled waited
    20 ms for it."""
    features = llb.get_host_cpu_features()
    enabled = frozenset(name for name, on in features.items() if on)
    text = features.flatten() + (",-prefer-256-bit" if "avx512f" in enabled else "")
    return llb.get_process_triple(), llb.get_host_cpu_name(), enabled, text


def host_has(feature: str) -> bool:
    """Whether the host CPU has ``feature`` (LLVM's name: ``avx512f``, ``fma``...)."""
    return feature in host_cpu()[2]


def host_features() -> str:
    """The host CPU's features for LLVM (see :func:`host_cpu`)."""
    return host_cpu()[3]


def _target_machine() -> llb.TargetMachine:
    triple, cpu, _, features = host_cpu()
    return llb.Target.from_triple(triple).create_target_machine(
        cpu=cpu, features=features, opt=3, jit=True)


#: What the explicitly vectorised kernels (a packed matmul's body) get instead of O3: their
#: vectors, FMAs and loops are written out already; these passes clean up. O1 ran them as
#: fast as O3 (512^2 and 1024^2 matmuls, the MLP) and took 75-80 ms of the MLP's first call,
#: these 25 ms at the same speed (A/B, best CPU time: 1641 vs 1615 us, 752 vs 749 us, within
#: the noise). Unrolling (``loop_unroll``, once in this list) only multiplied the copy and
#: edge loops by 8: without it the MLP's kernels compile in 45-50 instead of 92 ms, 1162
#: instead of 1780 instructions, as fast (A/B in one process: the same within the noise).
KERNEL_PASSES: tuple[str, ...] = (
    "instruction_combine", "simplify_cfg", "loop_simplify", "loop_rotate",
    "instruction_combine", "simplify_cfg")


def _optimized(tm: llb.TargetMachine, ir_text: str, opt_level: int,
               context: llb.ContextRef | None = None,
               passes: tuple[str, ...] | None = None) -> llb.ModuleRef:
    """Parse and verify ``ir_text``, then run O``opt_level`` on it, or ``passes``
    (llvmlite's ``add_<name>_pass`` methods) in that order."""
    module = llb.parse_assembly(ir_text, context)
    module.verify()
    module.triple = tm.triple
    module.data_layout = str(tm.target_data)
    if passes is not None:
        pb = llb.create_pass_builder(tm, llb.create_pipeline_tuning_options(speed_level=0))
        mpm = llb.create_new_module_pass_manager()
        for name in passes:
            getattr(mpm, f"add_{name}_pass")()
        mpm.run(module, pb)
    elif opt_level > 0:
        pto = llb.create_pipeline_tuning_options(speed_level=opt_level)
        pto.loop_vectorization = True
        pto.slp_vectorization = True
        pb = llb.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(module, pb)
    return module


# -- compiling the kernels on a second core -------------------------------------------------
#
# llvmlite serialises every call into LLVM with one process-wide lock, for LLVM's global
# context. LLVM itself compiles modules of different contexts on different threads at once
# (ORC's concurrent compiles rely on it). A thread marked private below compiles a module of
# its own context, with its own target machine, without that lock: every LLVM object it
# makes, uses and disposes of is its own. The cyclic garbage collector is paused meanwhile
# (:meth:`Engine._compile_two`), so that it cannot run on that thread and dispose of another
# thread's objects there. (Disposals that waited for the lock, as a first version had them do,
# made the kernels' thread wait for each of the other thread's LLVM calls: 126 instead of
# 60 ms.)

_private = threading.local()


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector (unless it is off already) for the ``with`` body."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _lock_class(base: type) -> type:
    class _SkippedByPrivateThreads(base):
        def __enter__(self):
            if not getattr(_private, "on", False):
                base.__enter__(self)

        def __exit__(self, *exc):
            if not getattr(_private, "on", False):
                base.__exit__(self, *exc)

    return _SkippedByPrivateThreads


@functools.cache
def _private_threads_supported() -> bool:
    """Let private threads skip llvmlite's lock (its class gains the check once); False if this
    llvmlite has no such lock (then the kernels compile after the rest, as one thread)."""
    lock = getattr(getattr(llb.ffi, "lib", None), "_lock", None)
    if lock is None or not hasattr(type(lock), "__enter__"):
        return False
    lock.__class__ = _lock_class(type(lock))
    return True


def _kernel_passes(opt_level: int) -> tuple[str, ...]:
    """The kernels' passes at ``opt_level`` of the rest: none at 0, else ``KERNEL_PASSES``."""
    return KERNEL_PASSES if opt_level > 0 else ()


def _object_of(ir_text: str, opt_level: int) -> tuple[bytes, str]:
    """Machine code (an ELF object) and optimised IR of the kernels ``ir_text``, compiled in a
    context of its own: on a private thread (:func:`_compile_beside`), without llvmlite's
    lock."""
    context = llb.create_context()
    try:
        tm = _target_machine()
        module = _optimized(tm, ir_text, opt_level, context, _kernel_passes(opt_level))
        try:
            return tm.emit_object(module), str(module)
        finally:
            module.close()
            tm.close()
    finally:
        context.close()


def _compile_beside(ir_text: str, opt_level: int):
    """Start :func:`_object_of` on a private thread; returns a function that waits for its
    result (raising what it raised)."""
    out: list = []

    def run():
        _private.on = True
        try:
            out.append(_object_of(ir_text, opt_level))
        except BaseException as e:  # noqa: BLE001 - re-raised by the caller's wait()
            out.append(e)
        finally:
            _private.on = False

    thread = threading.Thread(target=run, name="ember-kernels", daemon=True)
    thread.start()

    def wait():
        thread.join()
        if isinstance(out[0], BaseException):
            raise out[0]
        return out[0]
    return wait


class Engine:
    """One compiled LLVM module; keeps the MCJIT engine (and so the code) alive."""

    def __init__(self, ir_text: str, opt_level: int = 3, kernels: str | None = None,
                 kernel_names: tuple[str, ...] = ()):
        """Compile ``ir_text``; ``kernels`` (see ``llvm_ir.Parts``) is a second module of
        explicitly vectorised functions, optimised by ``KERNEL_PASSES``: compiled to an
        object of its own on a second thread while this one compiles ``ir_text`` (whose
        declarations of ``kernel_names`` resolve to it when the engine links), or, where
        llvmlite's lock cannot be skipped, linked into ``ir_text``'s module."""
        _init_llvm()
        if _uses_runtime(ir_text) or (kernels is not None and _uses_runtime(kernels)):
            _link_runtime()
        self._compile(ir_text, opt_level, kernels, kernel_names)

    def _compile(self, ir_text: str, opt_level: int, kernels: str | None = None,
                 kernel_names: tuple[str, ...] = ()) -> None:
        #: The machine code of the kernels' own object (None when they were linked in).
        self.kernel_code: bytes | None = None
        if kernels is not None and _private_threads_supported():
            self._compile_two(ir_text, opt_level, kernels)
            return
        tm = _target_machine()
        module = _optimized(tm, ir_text, opt_level)
        if kernels is not None:
            module.link_in(_optimized(tm, kernels, opt_level, passes=_kernel_passes(opt_level)))
            for name in kernel_names:
                module.get_function(name).linkage = llb.Linkage.internal
        #: Optimised IR, captured before codegen mutates the module.
        self.optimized_ir: str = str(module)
        #: The machine code MCJIT produced (an object file for this host), for the disk cache
        #: and ``ember.save``; ``Engine.from_object`` loads it back without LLVM.
        self.object_code: bytes | None = None
        self._engine = llb.create_mcjit_compiler(module, tm)  # owns tm and module
        self._engine.set_object_cache(notify_func=self._keep_object)
        self._engine.finalize_object()
        self._engine.run_static_constructors()

    def _compile_two(self, ir_text: str, opt_level: int, kernels: str) -> None:
        """Compile ``ir_text`` to an object on this thread while ``kernels`` compiles on another (:func:`_compile_beside`), then link the two objects: the
        main module's declarations of the kernels resolve to the kernels' object. The cyclic
        garbage collector stays paused until the kernels' thread is done (see above)."""
        with gc_paused():
            beside = _compile_beside(kernels, opt_level)
            try:
                tm = _target_machine()
                module = _optimized(tm, ir_text, opt_level)
                self.optimized_ir = str(module)
                self.object_code = tm.emit_object(module)
                module.close()
                tm.close()
            finally:
                self.kernel_code, kernel_ir = beside()  # joined even if this thread failed
        self.optimized_ir += "\n; ---- the kernels' module (KERNEL_PASSES) ----\n" + kernel_ir
        self._load(self.object_code, self.optimized_ir, self.kernel_code)

    def _keep_object(self, _module, buffer: bytes) -> None:
        self.object_code = bytes(buffer)

    @classmethod
    def from_object(cls, object_code: bytes, optimized_ir: str = "",
                    kernel_code: bytes | None = None) -> "Engine":
        """An engine over machine code that ``Engine(...).object_code`` (and ``kernel_code``)
        produced for this host: no parsing, optimisation or code generation, only linking."""
        _init_llvm()
        if _uses_runtime(object_code) or (kernel_code is not None and _uses_runtime(kernel_code)):
            _link_runtime()
        self = cls.__new__(cls)
        self._load(object_code, optimized_ir, kernel_code)
        return self

    def _load(self, object_code: bytes, optimized_ir: str, kernel_code: bytes | None = None) -> None:
        """Link machine code into an engine of its own (``kernel_code``: a second object,
        whose symbols the first may call)."""
        self.optimized_ir = optimized_ir
        self.object_code = object_code
        self.kernel_code = kernel_code
        self._engine = llb.create_mcjit_compiler(llb.parse_assembly(""), _target_machine())
        for code in (object_code, kernel_code):
            if code is not None:
                self._engine.add_object_file(llb.ObjectFileRef.from_data(code))
        self._engine.finalize_object()
        self._engine.run_static_constructors()

    def address(self, name: str) -> int:
        """The native address of function ``name``."""
        addr = self._engine.get_function_address(name)
        if not addr:
            raise KeyError(f"no function '{name}' in the compiled module")
        return addr

    def global_address(self, name: str) -> int:
        """The native address of global variable ``name``."""
        addr = self._engine.get_global_value_address(name)
        if not addr:
            raise KeyError(f"no global '{name}' in the compiled module")
        return addr
