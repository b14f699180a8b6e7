"""User-facing errors. Each class's docstring says how to fix what it reports."""

from __future__ import annotations


class ScriptError(Exception):
    """A construct in a scripted function that ember cannot compile.

    The message names the file, line and column, shows the source line with a caret under
    the offending column, and gives a hint where one exists. Rewrite the construct as the
    hint says, or move that code out of the scripted function.
    """

    def __init__(self, message: str, *, filename: str = "<unknown>", lineno: int = 0,
                 col_offset: int = 0, construct: str = "", source_line: str = "", hint: str = ""):
        self.message = message
        self.filename = filename
        self.lineno = lineno
        self.col_offset = col_offset
        self.construct = construct
        self.source_line = source_line
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.filename}:{self.lineno}:{self.col_offset + 1}: {self.message}"
        if self.source_line:
            stripped = self.source_line.rstrip()
            text += f"\n    {stripped}\n    {' ' * self.col_offset}^"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class CompilerError(RuntimeError):
    """An internal error: a pass failed on IR that the frontend produced.

    This is a bug in ember; the message names the pass and the file holding the IR that
    reproduces it with ``ember-opt``. Please report it with that file.
    """
