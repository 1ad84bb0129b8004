"""Every Python snippet of docs/observability.md runs as it is, as a program of its own, and
prints what the page says it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # each snippet is a process of its own

PAGE = Path(__file__).resolve().parent.parent / "docs" / "observability.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)


def test_the_page_has_its_snippets() -> None:
    assert len(SNIPPETS) == 4


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_each_snippet_runs(index: int, tmp_path: Path) -> None:
    script = tmp_path / f"snippet_{index}.py"
    script.write_text(SNIPPETS[index])
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    expected = {
        0: ["caught NotFound", "failed: 404 NotFound after 3 attempts", '"HTTP/1.1 404 Not Found"'],
        1: ["{'retry retry-after': 2, 'refused attempts': 1}"],
        2: ["client   GET /items", "recovered: 200 after 2 attempts"],
        3: ['"name": "httpx_remedy.retry"', "httpx_remedy.retries"],
    }[index]
    for line in expected:
        assert line in output
    assert "hunter2" not in output
