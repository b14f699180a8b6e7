"""When two results are "the same" (part of :mod:`ember.testing`).

Integers and bools compare exactly. Floats compare with a tolerance by dtype
(:data:`TOLERANCES`), NaN against NaN, infinities by sign, and, when both sides were
computed the same way (reference against reference), zeros by sign.

A float tolerance that is right for ``exp(x)`` is wrong for ``sum([1e20, 3.0, -1e20])``:
there the order of the additions decides the answer, and ember (which sums float32 in
float64) and NumPy (pairwise, in float32) may both be right. :func:`stability` measures how
much each output element depends on rounding: it interprets the tensor-stage program three
more times with every rounding op's operands and result nudged by :data:`NUDGE_ULPS` units in
the last place (up, down, and alternating). An element moves by at most that much when only
rounding differs, so the tolerance widens by it; an integer or bool element that changes
(a comparison near a tie, a float->int cast of NaN, which LLVM leaves undefined) is not
compared at all, nor is a float element that moves by more than :data:`ILL_CONDITIONED`.

    bounds = stability(program)              # None if the IR is not at the tensor stage
    differences(want, got, bounds)           # [] or ["result 0: 3 of 4 elements differ; ..."]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.dialects import arith, func
from xdsl.dialects.builtin import TensorType

from ember.dialects import etensor as T
from ember.dialects import reference

#: (rtol, atol) by dtype. ``atol`` only applies when no stability bounds are known.
TOLERANCES = {np.dtype(np.float32): (1e-5, 1e-5), np.dtype(np.float64): (1e-12, 1e-12)}
NUDGE_ULPS = 4
#: An element that nudging moves by more than this, relative, is decided by rounding: it is
#: not compared (``sum([1e20, 3, -1e20])``, ``cos(9e18)`` computed from a rounded value).
ILL_CONDITIONED = 1e-3

#: Ops whose float results are rounded (nudged); the others (neg, abs, where, maximum,
#: compares, transposes...) are exact.
_ROUNDING = {*(T.ELEMENTWISE[k] for k in ("add", "sub", "mul", "div", "floordiv", "mod", "pow",
                                          "exp", "log", "sqrt", "tanh", "sin", "cos", "atan2",
                                          *T.TRANSCENDENTAL)),
             T.CastOp}
#: Ops that accumulate many roundings: their operands are nudged too.
_ACCUMULATING = {T.REDUCE["sum"], T.REDUCE["prod"], T.REDUCE["mean"], T.MatmulOp}


@dataclass(frozen=True)
class Bounds:
    """Per result, the results of the nudged runs (same shapes as the reference's)."""

    runs: tuple[tuple[np.ndarray, ...], ...]

    def width(self, k: int, want: np.ndarray) -> np.ndarray:
        """How far result ``k`` moved under nudging, elementwise (inf where it left the
        finite range or changed NaN-ness)."""
        w = np.zeros(want.shape, np.float64)
        with np.errstate(all="ignore"):
            for run in self.runs:
                moved = np.abs(run[k].astype(np.float64) - want.astype(np.float64))
                special = ~np.isfinite(run[k]) | ~np.isfinite(want)
                same_special = special & ((run[k] == want) | (np.isnan(run[k]) & np.isnan(want)))
                moved = np.where(special, np.where(same_special, 0.0, np.inf), moved)
                w = np.maximum(w, moved)
        return w


def _nudge(value, direction: int):
    a = np.asarray(value)
    if a.dtype.kind != "f" or direction == 0:
        return value
    step = NUDGE_ULPS * np.abs(np.spacing(a))
    with np.errstate(all="ignore"):
        out = np.where(np.isfinite(a), a + direction * step, a).astype(a.dtype)
    return out if isinstance(value, np.ndarray) or out.ndim else out[()]


def _undefined_cast(op, operand, result, direction: int):
    """float -> int casts of NaN, inf or out-of-range values are undefined in LLVM."""
    if not (isinstance(op, T.CastOp) and operand.dtype.kind == "f" and result.dtype.kind in "iu"):
        return result
    info = np.iinfo(result.dtype)
    with np.errstate(all="ignore"):
        bad = ~((operand >= info.min) & (operand < -float(info.min)))
    fill = {1: info.max, -1: info.min, 0: 0}[direction]
    return np.where(bad, fill, result).astype(result.dtype)


def _perturbed_run(module, name: str, args, pattern: str):
    """The reference interpreter with rounding ops nudged: ``pattern`` up, down or alt."""
    fop = next(op for op in module.ops if isinstance(op, func.FuncOp) and op.sym_name.data == name)
    env = {}
    for a, v in zip(fop.args, args):
        env[a] = np.asarray(v) if isinstance(a.type, TensorType) else reference._np_type(a.type)(v)
    count = 0
    with np.errstate(all="ignore"):
        for op in fop.body.block.ops:
            if isinstance(op, func.ReturnOp):
                return tuple(np.asarray(env[v]) for v in op.operands)
            if isinstance(op, arith.ConstantOp):
                env[op.result] = reference._arith_constant(op)
                continue
            impl = reference.REFERENCE.get(type(op)) or reference.ARITH.get(type(op))
            if impl is None or len(op.results) != 1:
                raise NotImplementedError(op.name)
            count += 1
            direction = {"up": 1, "down": -1}.get(pattern, 1 if count % 2 else -1)
            operands = [env[v] for v in op.operands]
            if type(op) in _ACCUMULATING:
                operands = [_nudge(v, direction) for v in operands]
            result = impl(op, *operands)
            if type(op) in _ROUNDING or type(op) in _ACCUMULATING:
                result = _nudge(result, direction)
            if operands and isinstance(result, np.ndarray):
                result = _undefined_cast(op, np.asarray(operands[0]), result, direction)
            env[op.results[0]] = result
    raise ValueError(f"function {name} has no return")


def stability(tensor_program) -> Bounds | None:
    """Nudged reference runs of a tensor-stage program (None if they cannot run)."""
    if tensor_program is None:
        return None
    module = tensor_program.module()
    try:
        runs = tuple(_perturbed_run(module, tensor_program.name, tensor_program.inputs, p)
                     for p in ("up", "down", "alt"))
    except (NotImplementedError, ValueError, ArithmeticError, StopIteration):
        return None
    return Bounds(runs)


def differences(want: tuple, got: tuple, bounds: Bounds | None = None,
                strict_zeros: bool = True) -> list[str]:
    """Why ``got`` is not ``want``, one line per differing result; ``[]`` if they match.

    The signs of zeros are compared only if ``strict_zeros`` (both sides computed the same
    way): NumPy's own loops disagree on the sign of ``np.maximum(0.0, -0.0)``.

        >>> differences((np.array([1.0, -0.0]),), (np.array([1.0, 0.0]),))
        ['result 0 (float64, shape (2,)): 1 of 2 elements differ; first at index [1]: expected np.float64(-0.0), got np.float64(0.0)']
    """
    if len(want) != len(got):
        return [f"{len(want)} results expected, {len(got)} returned"]
    out = []
    for k, (w, g) in enumerate(zip(want, got)):
        w, g = np.asarray(w), np.asarray(g)
        if w.dtype != g.dtype:
            out.append(f"result {k}: dtype {g.dtype}, expected {w.dtype}")
        elif w.shape != g.shape:
            out.append(f"result {k}: shape {g.shape}, expected {w.shape}")
        else:
            usable = bounds is not None and all(r[k].shape == w.shape for r in bounds.runs)
            bad = _bad_elements(w, g, bounds.width(k, w) if usable else None, strict_zeros)
            if bad.any():
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                out.append(f"result {k} ({w.dtype}, shape {w.shape}): {int(bad.sum())} of {w.size} "
                           f"elements differ; first at index {list(idx)}: expected {w[idx]!r}, "
                           f"got {g[idx]!r}")
    return out


def _bad_elements(w: np.ndarray, g: np.ndarray, width: np.ndarray | None,
                  strict_zeros: bool) -> np.ndarray:
    if width is None:
        width = np.zeros(w.shape)
        rtol, atol = TOLERANCES.get(w.dtype, (0.0, 0.0))
    else:
        rtol, atol = TOLERANCES.get(w.dtype, (0.0, 0.0))[0], 0.0
    if w.dtype.kind != "f":
        return (w != g) & ~(width > 0)
    with np.errstate(all="ignore"):
        nan_w, nan_g = np.isnan(w), np.isnan(g)
        special = nan_w | nan_g | np.isinf(w) | np.isinf(g)
        wf, gf = w.astype(np.float64), g.astype(np.float64)
        far = np.abs(gf - wf) > atol + rtol * np.abs(wf) + 2 * width
        bad = np.where(special, ~((nan_w & nan_g) | (w == g)), far)
        if strict_zeros:
            bad |= (w == 0) & (g == 0) & (np.signbit(w) != np.signbit(g))
        decided_by_rounding = width > ILL_CONDITIONED * np.abs(wf) + 4 * float(np.finfo(w.dtype).tiny)
    return bad & ~decided_by_rounding
