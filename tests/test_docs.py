"""The code in the user docs runs: each Python block of a page, in order, as one module."""

import importlib.util
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = ["script.md"]


@pytest.mark.parametrize("page", PAGES)
def test_doc_code_runs(page, tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(encoding="utf-8"), re.S)
    assert blocks, f"{page} has no python blocks"
    module = tmp_path / f"doc_{page.replace('.', '_')}.py"
    module.write_text("\n".join(blocks))
    spec = importlib.util.spec_from_file_location(module.stem, module)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
