"""Finding the ```python blocks of README.md and docs/, and the marker comments that say how to run
them (see CONTRIBUTING.md, "Documentation").

A block runs as it is written, unless the line before its fence (blank lines aside) is a marker:

- ``<!-- snippet: standin=NAME -->``: before it runs, the stand-in ``NAME`` of
  ``tests/docs_standins.py`` answers for a real provider's hosts (several: ``standin=A,B``);
- ``<!-- snippet: continue -->``: it runs after the block before it on the same page, in the
  same namespace (one test for the chain);
- ``<!-- snippet: pytest -->``: it is a test file, run by an inner pytest that must pass it;
- ``<!-- snippet: waits -->``: it is run without ``no_wait()`` (the snippets are run with every
  retry wait off), for one that shows waits on a clock of its own;
- ``<!-- snippet: skip="why" -->``: an illustrative fragment, not run (keep these rare).

Options combine: ``<!-- snippet: continue standin=entra -->``.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Every Markdown file whose Python blocks are run.
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")))

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[^\s`{]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
MARKER = re.compile(r"^\s*<!--\s*snippet:(?P<options>.*?)-->\s*$")
#: Languages that mean Python but are not spelled ``python``: refused, so none escapes the run.
PYTHON_ALIASES = frozenset({"py", "python3", "py3", "pycon", "pyi", "ipython"})
OPTIONS = frozenset({"standin", "continue", "pytest", "skip", "waits"})


@dataclass
class Snippet:
    page: Path
    line: int
    code: str
    standins: tuple[str, ...] = ()
    follows: bool = False
    pytest: bool = False
    waits: bool = False
    skip: str | None = None

    @property
    def where(self) -> str:
        return f"{shown(self.page)}:{self.line}"


@dataclass
class Chain:
    """Blocks run one after another in one namespace: a block and the ``continue`` ones after."""

    snippets: list[Snippet] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.snippets[0].where

    @property
    def standins(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for s in self.snippets for name in s.standins))


def shown(page: Path) -> str:
    """The page's path from the repository's root (or as given, outside it)."""
    return page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else str(page)


class SnippetError(ValueError):
    """A block or marker the collector cannot run as written."""


def _marker_before(lines: list[str], index: int) -> str | None:
    """The options of the marker comment on the last non-blank line before line ``index``."""
    for line in reversed(lines[:index]):
        if line.strip():
            found = MARKER.match(line)
            return found.group("options") if found else None
    return None


def parse_options(snippet: Snippet, options: str) -> None:
    for word in shlex.split(options):
        name, _, value = word.partition("=")
        if name not in OPTIONS:
            raise SnippetError(f"{snippet.where}: unknown snippet option {name!r}")
        if name == "standin":
            snippet.standins = tuple(v for v in value.split(",") if v)
        elif name == "continue":
            snippet.follows = True
        elif name == "pytest":
            snippet.pytest = True
        elif name == "waits":
            snippet.waits = True
        elif name == "skip":
            if not value.strip():
                raise SnippetError(f'{snippet.where}: skip needs a reason: skip="why"')
            snippet.skip = value


def snippets(page: Path) -> list[Snippet]:
    """The Python blocks of ``page``, with their markers applied."""
    text = page.read_text()
    lines = text.splitlines()
    found = []
    markers_used = set()
    for match in FENCE.finditer(text):
        lang = match.group("lang").lower()
        line = text.count("\n", 0, match.start()) + 1
        where = f"{shown(page)}:{line}"
        if lang in PYTHON_ALIASES:
            raise SnippetError(f"{where}: write ```python, not ```{lang}, so that the block runs")
        options = _marker_before(lines, line - 1)
        if lang != "python":
            if options is not None:
                raise SnippetError(f"{where}: a snippet marker before a ```{lang} block")
            continue
        snippet = Snippet(page, line, textwrap.dedent(match.group("body")))
        if options is not None:
            parse_options(snippet, options)
            markers_used.add(line)
        found.append(snippet)
    # A marker that no Python block follows is a mistake (a block moved away from it).
    marker_lines = [i + 1 for i, line in enumerate(lines) if MARKER.match(line)]
    for number in marker_lines:
        following = next((i for i in range(number, len(lines)) if lines[i].strip()), None)
        if following is None or not lines[following].lstrip().startswith("```python"):
            raise SnippetError(f"{shown(page)}:{number}: a marker with no ```python "
                               "block right after it")  # fmt: skip
    return found


def chains(page: Path) -> list[Chain]:
    result: list[Chain] = []
    for snippet in snippets(page):
        if snippet.follows:
            if not result or result[-1].snippets[-1].skip or snippet.skip:
                raise SnippetError(f"{snippet.where}: continue needs a run block before it")
            result[-1].snippets.append(snippet)
        else:
            result.append(Chain([snippet]))
    return result
