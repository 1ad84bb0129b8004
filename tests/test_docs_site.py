"""The documentation site's sources stay true: the catalog page is rendered from the catalog,
every page is in the navigation, and each security guarantee names tests that exist.
(``mkdocs build --strict`` in .ci/run checks links and the API reference.)"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

from httpx_remedy import catalog

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _hooks() -> object:
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "_hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_catalog_page_is_rendered_from_the_catalog() -> None:
    hooks = _hooks()
    page = (DOCS / "catalog.md").read_text()
    assert hooks.MARKER in page  # type: ignore[attr-defined]
    rendered = hooks.on_page_markdown(page, page=None)  # type: ignore[attr-defined]
    assert hooks.MARKER not in rendered  # type: ignore[attr-defined]
    for entry in catalog.values():
        assert f"| [`{entry.code}`](#" in rendered, entry.code
        assert f"`httpx_remedy.{entry.exception.__name__}`" in rendered
        assert entry.fix in rendered
        assert entry.source in rendered
        for cause in entry.causes:
            assert f"- {cause}" in rendered
    # Another page is left as it is.
    assert hooks.on_page_markdown("# Title\n", page=None) == "# Title\n"  # type: ignore[attr-defined]


def _nav_pages() -> set[str]:
    text = (ROOT / "mkdocs.yml").read_text()
    nav = text[text.index("\nnav:") : text.index("\nhooks:")]
    return set(re.findall(r"([\w/.-]+\.md)", nav))


def test_every_page_is_in_the_navigation_and_every_entry_is_a_page() -> None:
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages == _nav_pages()
    # The pages other branches replace keep their place.
    assert {"rate-limits.md", "observability.md"} <= pages


def _tests_named(text: str) -> set[str]:
    return set(re.findall(r"`(tests/[\w/]+\.py(?:::\w+)?)`", text))


def _security_page() -> str:
    return (DOCS / "security.md").read_text()


@pytest.mark.parametrize("section", ["## Security", "## Limits"])
def test_each_guarantee_names_tests_that_exist(section: str) -> None:
    text = _security_page()
    start = text.index(section)
    end = text.find("\n## ", start + 1)
    part = text[start : end if end != -1 else None]
    named = _tests_named(part)
    assert len(named) >= 8
    for reference in named:
        path, _, function = reference.partition("::")
        assert (ROOT / path).is_file(), reference
        if function:
            tree = ast.parse((ROOT / path).read_text())
            defined = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
            assert function in defined, reference
    # Every bullet of the Security section and every row of the Limits table names one.
    if section == "## Security":
        items = part.split("\n- ")[1:]
    else:
        items = [line for line in part.splitlines() if line.startswith("| ") and "---" not in line]
        items = items[1:]  # the header
    assert items
    for item in items:
        assert _tests_named(item), item[:80]


def test_the_readme_is_short_and_keeps_its_quick_start() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.encode()) < 8 * 1024
    quick = text[text.index("## Quick start") :]
    block = quick[quick.index("```console\n") + len("```console\n") :]
    commands = block[: block.index("```")].splitlines()
    assert commands == [
        "python -m pip install '.[demo]' && httpx-remedy demo",
        "python -m pip install -e '.[dev]' && pytest",
    ]
    for page in re.findall(r"\]\((docs/[\w/.-]+\.md)(?:#[\w-]+)?\)", text):
        assert (ROOT / page).is_file(), page


@pytest.mark.parametrize("page", ["README.md", "docs/errors.md"])
def test_the_error_line_shown_is_the_one_raised(page: str) -> None:
    import httpx

    import httpx_remedy as remedy
    from httpx_remedy.testing import error_response

    text = (ROOT / page).read_text()
    shown = text.split("```text\n401 Unauthorized", 1)[1].split("\n", 1)[0]
    answer = error_response("invalid_token", description="The access token expired")
    transport = remedy.RemedyTransport(httpx.MockTransport(lambda _: httpx.Response(**answer)))
    with pytest.raises(remedy.InvalidToken) as caught:
        httpx.Client(transport=transport).get("https://api.example.com/items?key=abc")
    assert str(caught.value) == "401 Unauthorized" + shown
