"""The C ABI of exported functions (``ember.export``): the shim IR and the C header.

A compiled entry function takes ``PyArrayObject`` pointers and a result allocator
(:mod:`ember.lowering.abi`). For each exported signature this module writes, as LLVM IR
text linked next to the entry, a shim with a C prototype::

    typedef struct ember_tensor {
        void *data;        /* element [0, ..., 0] */
        int64_t ndim;
        int64_t *shape;    /* ndim sizes */
        int64_t *strides;  /* ndim strides in bytes, or NULL: C-contiguous */
    } ember_tensor;

    int32_t f_f32dd_float(const ember_tensor *x, double a, ember_tensor *out0,
                          const ember_allocator *allocator);
    const char *f_f32dd_float_message(int32_t status);

The shim checks each tensor against the signature (ndim, size-1 dimensions, layout) and
returns ``-(k+1)`` if argument ``k`` does not match. It then lays out a 48-byte
``PyArrayObject`` look-alike on the stack per tensor (data, dimensions and strides at the
offsets of ``NUMPY_ARRAY_LAYOUT``, the only fields the entry reads), puts the allocator
and the result tensors in a stack frame, and calls the entry with ``<sym>.alloc`` as its
``alloc_result`` and the frame as its ``alloc_ctx``. That callback fills in result ``k`` (``ndim``,
``shape``, ``strides = NULL``) and allocates its data with the user's allocator, or
``malloc`` when ``allocator`` is NULL. A positive status is the entry's failed assert.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field

import numpy as np

from ember.frontends.script import ArraySpec
from ember.lowering.abi import NUMPY_ARRAY_LAYOUT

#: Scalar parameter kind -> (LLVM parameter type of the shim, C type).
SCALAR_TYPES = {
    "f64": ("double", "double"), "f32": ("double", "double"),
    "i64": ("i64", "int64_t"), "i32": ("i64", "int64_t"), "index": ("i64", "int64_t"),
    "i1": ("i8 zeroext", "bool"),
}
#: NumPy dtype name -> C element type (for the header's comments).
C_ELEMENT = {"float32": "float", "float64": "double", "int32": "int32_t", "int64": "int64_t",
             "bool": "bool"}
#: Byte offsets of the ember_tensor fields (64-bit targets).
TENSOR_FIELDS = {"data": 0, "ndim": 8, "shape": 16, "strides": 24}
_PYARRAY_BYTES = 48

#: Once per module: the allocation helper, ember_free.
RUNTIME_IR = """\
declare ptr @malloc(i64)
declare void @free(ptr)
declare void @abort()
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)

define weak void @ember_free(ptr %data) {
  call void @free(ptr %data)
  ret void
}

; allocator == NULL: malloc; otherwise allocator->alloc(allocator->ctx, nbytes); NULL aborts
define internal ptr @__ember_allocate(ptr %allocator, i64 %nbytes) {
entry:
  %empty = icmp eq i64 %nbytes, 0
  %n = select i1 %empty, i64 1, i64 %nbytes
  %default = icmp eq ptr %allocator, null
  br i1 %default, label %use_malloc, label %use_allocator
use_malloc:
  %m = call ptr @malloc(i64 %n)
  br label %check
use_allocator:
  %fn = load ptr, ptr %allocator
  %ctx.p = getelementptr inbounds i8, ptr %allocator, i64 8
  %ctx = load ptr, ptr %ctx.p
  %a = call ptr %fn(ptr %ctx, i64 %n)
  br label %check
check:
  %p = phi ptr [ %m, %use_malloc ], [ %a, %use_allocator ]
  %failed = icmp eq ptr %p, null
  br i1 %failed, label %oom, label %ok
oom:
  call void @abort()
  unreachable
ok:
  ret ptr %p
}
"""


@dataclass
class ExportedSignature:
    """One signature as exported: its C symbol and everything its shim and header need."""

    symbol: str
    impl: str                       # the renamed entry function
    specs: tuple                    # ArraySpec / ScalarSpec per parameter
    kinds: list[str]                # "array" or a scalar kind per parameter
    params: list[str]               # C parameter names
    results: list[tuple[str, int]]  # (dtype name, rank) per result
    outs: list[str]                 # C names of the result parameters
    messages: list[str]             # assert messages: status k > 0 is messages[k - 1]
    python: str                     # "f(x: float32[?,?], a: float) -> float32[?,?]"
    #: per result, the argument the entry may return as is (``ember.returns_argument``), or -1:
    #: the shim then copies that argument into a result of its own
    returns_argument: list[int] = dataclass_field(default_factory=list)

    def argument_messages(self) -> list[str]:
        """The message of status -(k+1): argument k does not match the signature."""
        out = []
        for k, (spec, name) in enumerate(zip(self.specs, self.params)):
            if isinstance(spec, ArraySpec):
                out.append(f"argument {k} ({name}): expected {_describe_tensor(spec)}")
        return out


def _describe_tensor(spec: ArraySpec) -> str:
    ones = [d for d, n in enumerate(spec.shape) if n == 1]
    text = f"a {spec.dtype} tensor of ndim {len(spec.shape)}"
    if ones:
        text += ", size 1 along axis " + ", ".join(map(str, ones))
    if spec.contiguous:
        return text + ", C-contiguous (strides NULL or C order)"
    return text + f", strides multiples of {spec.dtype.itemsize} bytes"


class _Lines:
    """IR text with fresh local names: ``v = out.emit("load i64, ptr {p}", "p.ndim")``."""

    def __init__(self):
        self.lines: list[str] = []
        self._count = 0

    def emit(self, text: str, hint: str = "v") -> str:
        self._count += 1
        name = f'%"{hint}.{self._count}"'
        self.lines.append(f"  {name} = {text}")
        return name

    def do(self, text: str) -> None:
        self.lines.append(f"  {text}")

    def label(self, name: str) -> None:
        self.lines.append(f'"{name}":')

    def field(self, base: str, offset: int, ty: str, hint: str) -> str:
        p = self.emit(f"getelementptr inbounds i8, ptr {base}, i64 {offset}", hint + ".p")
        return self.emit(f"load {ty}, ptr {p}", hint)

    def store_field(self, base: str, offset: int, ty: str, value: str) -> None:
        p = self.emit(f"getelementptr inbounds i8, ptr {base}, i64 {offset}", "p")
        self.do(f"store {ty} {value}, ptr {p}")

    def element(self, base: str, index: int, hint: str) -> str:
        p = self.emit(f"getelementptr inbounds i64, ptr {base}, i64 {index}", hint + ".p")
        return self.emit(f"load i64, ptr {p}", hint)

    def fold(self, op: str, values: list[str], empty: str, hint: str) -> str:
        acc = values[0] if values else empty
        for v in values[1:]:
            acc = self.emit(f"{op} i1 {acc}, {v}", hint)
        return acc


def _unpack_tensor(out: _Lines, k: int, arg: str, spec: ArraySpec, obj: str, fallback: str) -> None:
    """Check tensor argument ``k`` and fill the PyArrayObject look-alike ``obj``."""
    rank, itemsize, fail = len(spec.shape), spec.dtype.itemsize, f"fail.{k}"
    ndim = out.field(arg, TENSOR_FIELDS["ndim"], "i64", f"a{k}.ndim")
    ok = out.emit(f"icmp eq i64 {ndim}, {rank}", f"a{k}.rank_ok")
    out.do(f'br i1 {ok}, label %"a{k}.sizes", label %"{fail}"')
    out.label(f"a{k}.sizes")
    shape = out.field(arg, TENSOR_FIELDS["shape"], "ptr", f"a{k}.shape")
    strides = out.field(arg, TENSOR_FIELDS["strides"], "ptr", f"a{k}.strides")
    sizes = [out.element(shape, d, f"a{k}.size") for d in range(rank)]
    ones = [out.emit(f"icmp eq i64 {s}, 1", f"a{k}.one") for s in sizes]
    fixed = out.fold("and", [ones[d] for d in range(rank) if spec.shape[d] == 1], "true", f"a{k}.fixed")
    no_strides = out.emit(f"icmp eq ptr {strides}, null", f"a{k}.no_strides")
    # C-order strides in bytes: what strides == NULL means, and what contiguity compares with
    expected, running = [""] * rank, str(itemsize)
    for d in reversed(range(rank)):
        expected[d] = running
        running = out.emit(f"mul i64 {running}, {sizes[d]}", f"a{k}.extent")
    out.do(f'br i1 {fixed}, label %"a{k}.layout", label %"{fail}"')
    out.label(f"a{k}.layout")
    out.do(f'br i1 {no_strides}, label %"a{k}.c_order", label %"a{k}.strides"')
    out.label(f"a{k}.c_order")
    for d in range(rank):
        out.do(f"store i64 {expected[d]}, ptr " +
               out.emit(f"getelementptr inbounds i64, ptr {fallback}, i64 {d}", "p"))
    out.do(f'br label %"a{k}.pack"')
    out.label(f"a{k}.strides")
    good = []
    for d in range(rank):
        st = out.element(strides, d, f"a{k}.stride")
        if spec.contiguous:  # like NumPy's flag: a size-1 dimension's stride does not matter
            same = out.emit(f"icmp eq i64 {st}, {expected[d]}", f"a{k}.c")
            good.append(out.emit(f"or i1 {same}, {ones[d]}", f"a{k}.c"))
        else:  # the entry divides byte strides by the item size exactly
            rem = out.emit(f"srem i64 {st}, {itemsize}", f"a{k}.rem")
            good.append(out.emit(f"icmp eq i64 {rem}, 0", f"a{k}.aligned"))
    ok = out.fold("and", good, "true", f"a{k}.layout_ok")
    if spec.contiguous and rank:  # NumPy calls any array with a zero-size dimension contiguous
        zeros = [out.emit(f"icmp eq i64 {s}, 0", f"a{k}.zero") for s in sizes]
        ok = out.emit(f"or i1 {ok}, {out.fold('or', zeros, 'false', f'a{k}.empty')}", f"a{k}.ok")
    out.do(f'br i1 {ok}, label %"a{k}.pack", label %"{fail}"')
    out.label(f"a{k}.pack")
    used = out.emit(f'phi ptr [ {fallback}, %"a{k}.c_order" ], [ {strides}, %"a{k}.strides" ]',
                    f"a{k}.used_strides")
    data = out.emit(f"load ptr, ptr {arg}", f"a{k}.data")
    for name, value in (("data", data), ("dimensions", shape), ("strides", used)):
        out.store_field(obj, NUMPY_ARRAY_LAYOUT[name], "ptr", value)


def shim_ir(sig: ExportedSignature) -> str:
    """The shim ``sig.symbol``, its ``.alloc`` callback and its ``_message`` function, and
    the declaration of the entry ``sig.impl`` (linked in next)."""
    entry_params = ["ptr" if kind == "array" else SCALAR_TYPES[kind][0].split()[0]
                    for kind in sig.kinds]
    declaration = f'declare i32 @"{sig.impl}"({", ".join(entry_params + ["ptr", "ptr"])})\n'
    return "\n".join([declaration, _shim(sig), _alloc_callback(sig), _message_function(sig)])


def _c_params(sig: ExportedSignature) -> list[tuple[str, str]]:
    """(LLVM type, LLVM name) of each shim parameter."""
    params = [("ptr" if kind == "array" else SCALAR_TYPES[kind][0], _arg(name))
              for kind, name in zip(sig.kinds, sig.params)]
    return params + [("ptr", _arg(name)) for name in sig.outs] + [("ptr", "%allocator")]


def _arg(name: str) -> str:
    """The IR name of C parameter ``name`` (prefixed: labels share the namespace)."""
    return f'%"arg.{name}"'


def _shim(sig: ExportedSignature) -> str:
    out = _Lines()
    n_out = len(sig.outs)
    objs = {k: out.emit(f"alloca [{_PYARRAY_BYTES // 8} x i64], align 8", f"obj{k}")
            for k, kind in enumerate(sig.kinds) if kind == "array"}
    fallbacks = {k: out.emit(f"alloca [{max(len(sig.specs[k].shape), 1)} x i64], align 8",
                             f"c_order{k}") for k in objs}
    frame = out.emit(f"alloca [{n_out + 1} x ptr], align 8", "frame")
    for (_, rank), name in zip(sig.results, sig.outs):  # a failed call leaves data == NULL
        for field, ty, value in (("data", "ptr", "null"), ("ndim", "i64", rank),
                                 ("strides", "ptr", "null")):
            out.store_field(_arg(name), TENSOR_FIELDS[field], ty, value)
    for k in objs:
        _unpack_tensor(out, k, _arg(sig.params[k]), sig.specs[k], objs[k], fallbacks[k])
    out.do("store ptr %allocator, ptr " + frame)
    for j, name in enumerate(sig.outs):
        out.store_field(frame, 8 * (j + 1), "ptr", _arg(name))
    args = [f"ptr {objs[k]}" if kind == "array" else f"{SCALAR_TYPES[kind][0].split()[0]} {_arg(name)}"
            for k, (kind, name) in enumerate(zip(sig.kinds, sig.params))]
    args += [f'ptr @"{sig.symbol}.alloc"', f"ptr {frame}"]
    status = out.emit(f'call i32 @"{sig.impl}"({", ".join(args)})', "status")
    _copy_returned_arguments(out, sig, frame, status)
    out.do(f"ret i32 {status}")
    for k in objs:
        out.label(f"fail.{k}")
        out.do(f"ret i32 {-(k + 1)}")
    params = ", ".join(f"{t} {n}" for t, n in _c_params(sig))
    return (f'define signext i32 @"{sig.symbol}"({params}) {{\nentry:\n'
            + "\n".join(out.lines) + "\n}\n")


def _copy_returned_arguments(out: _Lines, sig: ExportedSignature, frame: str, status: str) -> None:
    """A result the entry left unallocated is argument ``j`` itself (Python would return that
    array): a C caller gets a copy in a buffer of its own allocator, as for every result."""
    for k, j in enumerate(sig.returns_argument):
        if j < 0:
            continue
        rank = sig.results[k][1]
        tensor = _arg(sig.outs[k])
        data = out.field(tensor, TENSOR_FIELDS["data"], "ptr", f"out{k}.data")
        ok = out.emit(f"icmp eq i32 {status}, 0", f"out{k}.ok")
        empty = out.emit(f"icmp eq ptr {data}, null", f"out{k}.empty")
        copy = out.emit(f"and i1 {ok}, {empty}", f"out{k}.copy")
        out.do(f'br i1 {copy}, label %"copy{k}", label %"done{k}"')
        out.label(f"copy{k}")
        src = _arg(sig.params[j])
        shape = out.field(src, TENSOR_FIELDS["shape"], "ptr", f"arg{j}.shape")
        nbytes = str(np.dtype(sig.results[k][0]).itemsize)
        for d in range(rank):
            nbytes = out.emit(f"mul i64 {nbytes}, {out.element(shape, d, f'arg{j}.size')}", "nbytes")
        dtype = np.dtype(sig.results[k][0]).num
        dst = out.emit(f'call ptr @"{sig.symbol}.alloc"(ptr {frame}, i64 {k}, i64 {rank}, '
                       f"ptr {shape}, i32 {dtype})", f"out{k}.new")
        failed = out.emit(f"icmp eq ptr {dst}, null", f"out{k}.failed")
        out.do(f'br i1 {failed}, label %"oom{k}", label %"fill{k}"')
        out.label(f"oom{k}")
        out.do(f"ret i32 {2**31 - 1}")
        out.label(f"fill{k}")
        src_data = out.field(src, TENSOR_FIELDS["data"], "ptr", f"arg{j}.data")
        out.do(f"call void @llvm.memcpy.p0.p0.i64(ptr {dst}, ptr {src_data}, i64 {nbytes}, i1 false)")
        out.do(f'br label %"done{k}"')
        out.label(f"done{k}")


def _alloc_callback(sig: ExportedSignature) -> str:
    """``alloc_result(frame, k, rank, sizes, dtype)``: fill in result k from the frame and
    allocate its data."""
    out = _Lines()
    frame = "%frame"
    allocator = out.emit(f"load ptr, ptr {frame}", "allocator")
    cases = " ".join(f'i64 {j}, label %"r{j}"' for j in range(1, len(sig.results)))
    out.do(f'switch i64 %k, label %"r0" [ {cases} ]')
    for j, (dtype, rank) in enumerate(sig.results):
        out.label(f"r{j}")
        tensor = out.field(frame, 8 * (j + 1), "ptr", f"r{j}")
        shape = out.field(tensor, TENSOR_FIELDS["shape"], "ptr", f"r{j}.shape")
        nbytes = str(np.dtype(dtype).itemsize)
        for d in range(rank):
            size = out.element("%sizes", d, f"r{j}.size")
            out.do(f"store i64 {size}, ptr " +
                   out.emit(f"getelementptr inbounds i64, ptr {shape}, i64 {d}", "p"))
            nbytes = out.emit(f"mul i64 {nbytes}, {size}", f"r{j}.nbytes")
        data = out.emit(f"call ptr @__ember_allocate(ptr {allocator}, i64 {nbytes})", f"r{j}.data")
        out.do(f"store ptr {data}, ptr {tensor}")
        out.do(f"ret ptr {data}")
    return (f'define internal ptr @"{sig.symbol}.alloc"(ptr %frame, i64 %k, i64 %rank, '
            f'ptr %sizes, i32 %dtype) {{\nentry:\n'
            + "\n".join(out.lines) + "\n}\n")


def _message_function(sig: ExportedSignature) -> str:
    """``const char *<sym>_message(int32_t status)``: a switch over constant strings."""
    texts = {0: "ok", 2**31 - 1: "a result could not be allocated (the allocator returned NULL)"}
    texts.update({k: m for k, m in enumerate(sig.messages, start=1)})
    array_params = [k for k, kind in enumerate(sig.kinds) if kind == "array"]
    texts.update({-(k + 1): m for k, m in zip(array_params, sig.argument_messages())})
    strings, cases, blocks = [], [], []
    for j, (status, text) in enumerate([*texts.items(), (None, "unknown status")]):
        data = text.encode() + b"\0"
        name = "@" + _q(f"{sig.symbol}.msg{j}")
        strings.append(f"{name} = private unnamed_addr constant [{len(data)} x i8] c\"{_escape(data)}\"")
        blocks.append(f'"m{j}":\n  ret ptr {name}')
        if status is not None:
            cases.append(f'i32 {status}, label %"m{j}"')
    default = f'"m{len(texts)}"'
    return ("\n".join(strings) + f'\n\ndefine ptr @"{sig.symbol}_message"(i32 %status) {{\n'
            f"entry:\n  switch i32 %status, label %{default} [ {' '.join(cases)} ]\n"
            + "\n".join(blocks) + "\n}\n")


def alias_ir(alias: str, sig: ExportedSignature) -> str:
    """``<name>`` and ``<name>_message`` as aliases of the only exported signature."""
    types = ", ".join(t.split()[0] for t, _ in _c_params(sig))
    return (f"@{_q(alias)} = alias i32 ({types}), ptr @{_q(sig.symbol)}\n"
            f"@{_q(alias + '_message')} = alias ptr (i32), ptr @{_q(sig.symbol + '_message')}\n")


def _q(name: str) -> str:
    return f'"{name}"'


def _escape(data: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:02X}" for b in data)


# -- the C header -------------------------------------------------------------------------------

HEADER_COMMON = """\
#ifndef EMBER_TENSOR_ABI_1
#define EMBER_TENSOR_ABI_1
/* A tensor argument or result of an exported ember function. */
typedef struct ember_tensor {
    void *data;        /* address of element [0, ..., 0] */
    int64_t ndim;      /* number of dimensions */
    int64_t *shape;    /* ndim sizes; for a result, room for ndim sizes that the call fills in */
    int64_t *strides;  /* ndim strides in bytes, or NULL for C order; a result gets NULL */
} ember_tensor;

/* Where result data comes from (NULL: malloc). alloc returns nbytes of memory aligned for
   any element type, or NULL to abort the process. Calls on one thread may nest. */
typedef struct ember_allocator {
    void *(*alloc)(void *ctx, int64_t nbytes);
    void *ctx;
} ember_allocator;

/* Releases result data that came from the default allocator (free; NULL is fine). */
void ember_free(void *data);
#endif
"""


def header_text(guard: str, sigs: list[ExportedSignature], alias: str | None) -> str:
    """The C header declaring ``sigs`` (and the alias of a single signature)."""
    parts = [f"/* Generated by ember.export. Do not edit. */\n#ifndef {guard}\n#define {guard}\n\n"
             "#include <stdbool.h>\n#include <stdint.h>\n\n#ifdef __cplusplus\nextern \"C\" {\n"
             "#endif\n\n" + HEADER_COMMON]
    for sig in sigs:
        parts.append(_declarations(sig, sig.symbol, _signature_comment(sig)))
    if alias is not None:
        parts.append(_declarations(sigs[0], alias, f"/* {alias}: {sigs[0].symbol} under a short "
                                                   "name (the only exported signature). */\n"))
    parts.append(f"#ifdef __cplusplus\n}}\n#endif\n#endif /* {guard} */\n")
    return "\n".join(parts)


def _signature_comment(sig: ExportedSignature) -> str:
    lines = [sig.python]
    width = max(map(len, sig.params + sig.outs))
    for name, spec, kind in zip(sig.params, sig.specs, sig.kinds):
        if kind == "array":
            layout = ("C-contiguous (strides NULL or C order)" if spec.contiguous
                      else "any strides (multiples of the element size)")
            ones = [str(d) for d, n in enumerate(spec.shape) if n == 1]
            size1 = f", size 1 along axis {', '.join(ones)}" if ones else ""
            lines.append(f"  {name:<{width}}  in:  {C_ELEMENT[spec.dtype.name]}, ndim "
                         f"{len(spec.shape)}{size1}, {layout}")
    for name, (dtype, rank) in zip(sig.outs, sig.results):
        room = f" (set {name}->shape to room for {rank} size{'s' * (rank > 1)})" if rank else ""
        lines.append(f"  {name:<{width}}  out: {C_ELEMENT[dtype]}, ndim {rank}{room}")
    lines.append(f"Returns 0 on success; otherwise {sig.symbol}_message(status) says what failed.")
    return "/* " + "\n * ".join(lines) + " */\n"


def _declarations(sig: ExportedSignature, name: str, comment: str) -> str:
    params = [f"const ember_tensor *{p}" if kind == "array" else f"{SCALAR_TYPES[kind][1]} {p}"
              for kind, p in zip(sig.kinds, sig.params)]
    params += [f"ember_tensor *{o}" for o in sig.outs] + ["const ember_allocator *allocator"]
    indent = " " * len(f"int32_t {name}(")
    lines, line = [], f"int32_t {name}("
    for k, p in enumerate(params):
        piece = p + (", " if k < len(params) - 1 else ");")
        if k and len(line) + len(piece) > 96:
            lines.append(line.rstrip())
            line = indent
        line += piece
    lines.append(line)
    return (comment + "\n".join(lines) + f"\nconst char *{name}_message(int32_t status);\n")
