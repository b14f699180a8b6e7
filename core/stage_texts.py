"""The MLIR text of a compiled specialisation at each stage, printed when first asked for.

Imports no xDSL until a lazy stage is printed: functions loaded from the disk cache use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def regenerate(tensor_text: str, stages: Sequence[str]) -> dict[str, str]:
    """The MLIR text at each of ``stages`` (after "tensor"), from the tensor stage's text
    run through the pipeline again: what :class:`StageTexts` prints on first use."""
    from xdsl.parser import Parser

    from ember.context import make_context
    from ember.pipeline import STAGES

    ctx = make_context()
    module = Parser(ctx, tensor_text).parse_module()
    out: dict[str, str] = {}
    for stage in STAGES[1:]:
        if len(out) == len(stages):
            break
        for p in stage.passes():
            p.apply(ctx, module)
        if stage.name in stages:
            out[stage.name] = str(module)
    return out


class StageTexts(Mapping):
    """The MLIR text of one specialisation at each stage (``f.ir(stage)``), keyed by stage
    name (and "tensor+locations"). The tensor stage is printed as it compiles. The later
    ones, when nothing stands in the way (no user passes, only ember's own dialects), are
    printed on first use: printing an MLP's loop stage cost a first call 25-30 ms, more than
    most of its passes, and its LLVM stage 110 ms of a second core, for text most programs
    never read. They are made again from the tensor stage's text by the same deterministic
    passes (:func:`regenerate`; source locations only ever reach error messages), under the
    environment of that moment (``EMBER_STRICT_MATH``)."""

    def __init__(self, texts: dict[str, str], lazy: Sequence[str] = ()):
        self._texts = dict(texts)
        self._lazy = [s for s in lazy if s not in self._texts]

    def __getitem__(self, stage: str) -> str:
        if stage not in self._texts and stage in self._lazy:
            self._texts.update(regenerate(self._texts["tensor"], self._lazy))
            self._lazy = []
        return self._texts[stage]

    def __iter__(self):  # stage order: the printed ones come first, the lazy ones are later
        return iter([*self._texts, *self._lazy])

    def __len__(self) -> int:
        return len(self._texts) + len(self._lazy)

    def __contains__(self, stage) -> bool:  # without printing a lazy stage
        return stage in self._texts or stage in self._lazy

    def printed(self) -> dict[str, str]:
        """The stages printed so far (the disk cache stores these, not the lazy ones)."""
        return dict(self._texts)

    def lazy(self) -> tuple[str, ...]:
        return tuple(self._lazy)
