"""MkDocs hooks (mkdocs.yml ``hooks:``): the catalog page is rendered from the catalog table.

``docs/catalog.md`` holds the marker ``<!-- catalog:table -->``; at build time it is replaced by
the rows of ``httpx_remedy.catalog`` (the same objects the transport and the CLI read), so the
page can never drift from the code. ``tests/test_docs_site.py`` checks the rendering too.
"""

from __future__ import annotations

from typing import Any

MARKER = "<!-- catalog:table -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_catalog() -> str:
    """The catalog as Markdown: a summary table, then one section per code."""
    from httpx_remedy import catalog

    statuses = list(catalog.statuses())
    codes = list(catalog.oauth_codes())
    lines = ["## Every code at a glance", ""]
    for heading, rows in (("HTTP statuses", statuses), ("OAuth and OpenID Connect codes", codes)):
        lines += [f"### {heading}", "", "| code | class | default remedy | usually | title |"]
        lines.append("|---|---|---|---|---|")
        for entry in rows:
            status = str(entry.status) if entry.status else "in a redirect"
            lines.append(
                f"| [`{entry.code}`](#{_anchor(entry.code)}) | `{entry.exception.__name__}` "
                f"| {entry.remedy} | {status} | {_cell(entry.title)} |"
            )
        lines.append("")
    lines += ["## Each code", ""]
    for entry in [*statuses, *codes]:
        lines += [
            f"### `{entry.code}` {_cell(entry.title)} {{ #{_anchor(entry.code)} }}",
            "",
            f"**What it means.** {entry.description}",
            "",
            "**Possible causes.**",
            "",
            *[f"- {cause}" for cause in entry.causes],
            "",
            f"**How to fix.** {entry.fix}",
            "",
            f"**Raised as** `httpx_remedy.{entry.exception.__name__}`; "
            f"**default remedy:** {entry.remedy}; **source:** {entry.source}.",
            "",
        ]
    return "\n".join(lines)


def _anchor(code: int | str) -> str:
    return f"code-{str(code).replace('_', '-')}"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, render_catalog())
    return markdown
