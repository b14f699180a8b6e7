"""Runs the lit + filecheck suite in ``tests/filecheck`` as one pytest test.

    pytest tests/test_lit.py          # the same as: lit -v tests/filecheck
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

FILECHECK_DIR = Path(__file__).parent / "filecheck"
# lit has no __main__ module; this is what its `lit` console script runs
LIT_MAIN = "import sys; from lit.main import main; sys.exit(main())"


def test_lit_suite():
    env = dict(os.environ)
    # ember-opt and filecheck live next to this interpreter (lit.cfg relies on it too)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", LIT_MAIN, "-v", "--order=lexical", str(FILECHECK_DIR)],
        capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        failures = [line for line in proc.stdout.splitlines()
                    if line.startswith(("FAIL:", "XPASS:", "UNRESOLVED:"))]
        print(proc.stdout[-20000:])
        print(proc.stderr[-5000:], file=sys.stderr)
        raise AssertionError(f"lit failed ({len(failures)} tests):\n" + "\n".join(failures))
    assert "Passed" in proc.stdout or "Passed" in proc.stderr, proc.stdout
