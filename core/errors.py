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


class TraceError(ScriptError):
    """Traced code used something ember cannot record: a NumPy function or method missing
    from the op table, fancy indexing, an element write.

    The message names the function and the line of the traced code that called it. Rewrite
    that line with supported operations (``docs/trace.md`` lists what traces), or compile the
    function with ``ember.script``. Adding a NumPy function to ember is one row in
    ``ember.frontends.optable.FUNCTIONS``.
    """


class TracerWarning(UserWarning):
    """A value was baked into a trace: the trace is only right for inputs like the example.

    ``ember.trace`` records operations on tensors, not Python control flow. When traced code
    turns a tensor into a Python value (``if x.sum() > 0:``, ``float(x.max())``,
    ``int(n)``, ``for row in x:``, ``range(x.shape[0])``), that value as computed on the
    example inputs is written into the trace. The warning names the file and line, what was
    baked in (the branch taken, the value) and what to do instead:

    - choose values with ``np.where(cond, a, b)`` instead of an ``if`` on a tensor;
    - keep sizes symbolic: ``x.reshape(x.shape[0], -1)``, ``np.zeros((x.shape[0], 4))``
      trace for every size, ``int(x.shape[0])`` does not;
    - keep scalars as tensors: ``x / x.sum()`` rather than ``x / float(x.sum())``;
    - move data-dependent loops and branches into a function compiled with ``ember.script``
      and call it from the traced code: its control flow is kept.

    Turn the warnings into errors with ``warnings.simplefilter("error", ember.TracerWarning)``.
    """


class TraceCheckError(AssertionError):
    """``ember.trace(..., check_inputs=[...])``: the trace disagrees with the Python function.

    The traced function was run on other inputs and gave a different result from the Python
    function, usually because a value was baked in while tracing (see the
    :class:`TracerWarning` printed then). Rewrite that code as the warning says, or compile
    the function with ``ember.script``.
    """
