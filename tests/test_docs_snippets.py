"""Every ```python block of README.md and docs/ runs, as written (see tests/docs_snippets.py for
the markers, tests/docs_standins.py for the local stand-ins of real providers).

Each block runs with pytest-httpx active: a request to a host no stand-in answers fails the test
(nothing reaches the network), while 127.0.0.1 (the embedded ``OAuthServer``) is let through.
Retry waits are off (``no_wait()``) so that a snippet showing a ``Retry-After`` costs no time.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

# Loaded before any inner pytest runs: pytester forgets the modules first imported during its
# run, and a second copy of cryptography's classes breaks the next key serialisation.
import cryptography.hazmat.primitives.serialization  # noqa: F401
import joserfc.jwk  # noqa: F401
import pytest

# Likewise the event records, loaded on first use (``httpx_remedy._LAZY``): a second copy would
# not be the classes ``httpx_remedy`` handed out before, and ``isinstance`` would fail.
import httpx_remedy._events  # noqa: F401
from httpx_remedy.testing import no_wait

from .docs_snippets import PAGES, ROOT, Chain, SnippetError, chains, snippets
from .docs_standins import STANDINS, Context

pytest_plugins = ["pytester"]

#: At most this many illustrative blocks that do not run, over README.md and docs/.
MAX_SKIPPED = 6


def _all_chains() -> list[Chain]:
    return [chain for page in PAGES for chain in chains(page)]


def _starts_servers(chain: Chain) -> bool:
    """A chain that starts a real server (the embedded OAuth server, Redis) or an inner pytest
    belongs in the integration group."""
    code = "".join(snippet.code for snippet in chain.snippets)
    return (
        chain.snippets[0].pytest
        or "redis" in chain.standins
        or "OAuthServer" in code
        or "remedy_oauth_server" in code
    )


CHAINS = [
    pytest.param(chain, id=chain.id, marks=[pytest.mark.integration] * _starts_servers(chain))
    for chain in _all_chains()
    if not chain.snippets[0].skip
]
LOCAL_ONLY = pytest.mark.httpx_mock(
    should_mock=lambda request: request.url.host not in ("127.0.0.1", "localhost"),
    assert_all_responses_were_requested=False,
)


@LOCAL_ONLY
@pytest.mark.parametrize("chain", CHAINS)
def test_snippet_runs(
    chain: Chain,
    httpx_mock: object,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pytester: pytest.Pytester,
    request: pytest.FixtureRequest,
) -> None:
    context = Context(httpx_mock, monkeypatch, tmp_path, request)  # type: ignore[arg-type]
    for name in chain.standins:
        assert name in STANDINS, f"{chain.id}: no stand-in named {name!r} in docs_standins.py"
        STANDINS[name](context)
    if chain.snippets[0].pytest:
        source = "\n\n".join(snippet.code for snippet in chain.snippets)
        pytester.makepyfile(test_snippet=source)
        result = pytester.runpytest_inprocess(
            "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-q", "--no-cov"
        )
        outcomes = result.parseoutcomes()
        assert result.ret == 0, result.stdout.str()
        assert outcomes.get("passed", 0) >= 1, outcomes
        assert set(outcomes) <= {"passed", "warnings"}, outcomes  # httpx2 leg: a rewrite warning
        return
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__snippet__", **context.names}
    with contextlib.nullcontext() if chain.snippets[0].waits else no_wait():
        for snippet in chain.snippets:
            code = compile(snippet.code, snippet.where, "exec")
            exec(code, namespace)
    for check in context.checks:
        check()


def test_every_page_is_collected() -> None:
    """The pages searched are README.md and every Markdown page under docs/."""
    names = {page.relative_to(ROOT).as_posix() for page in PAGES}
    assert "README.md" in names
    assert {"docs/index.md", "docs/testing.md", "docs/recipes/auth0.md"} <= names
    assert sum(len(chains(page)) for page in PAGES) >= 40


def test_few_snippets_are_skipped_and_each_says_why() -> None:
    skipped = [s for page in PAGES for s in snippets(page) if s.skip]
    assert len(skipped) <= MAX_SKIPPED, [s.where for s in skipped]
    assert all(s.skip and len(s.skip) > 10 for s in skipped)


# The collector refuses what would let a block escape the run.


@pytest.fixture
def probe_page(tmp_path: Path) -> Path:
    return tmp_path / "page.md"


def test_an_unmarked_block_is_run(probe_page: Path) -> None:
    probe_page.write_text("Text.\n\n```python\nraise SystemExit('ran')\n```\n")
    [only] = snippets(probe_page)
    assert only.skip is None
    assert not only.standins
    with pytest.raises(SystemExit, match="ran"):
        exec(compile(only.code, only.where, "exec"), {})


@pytest.mark.parametrize("lang", ["py", "python3", "pycon"])
def test_python_under_another_name_is_refused(probe_page: Path, lang: str) -> None:
    probe_page.write_text(f"```{lang}\nx = 1\n```\n")
    with pytest.raises(SnippetError, match="write ```python"):
        snippets(probe_page)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<!-- snippet: skip -->\n```python\nx\n```\n", "needs a reason"),
        ('<!-- snippet: skip="" -->\n```python\nx\n```\n', "needs a reason"),
        ("<!-- snippet: sometimes -->\n```python\nx\n```\n", "unknown snippet option"),
        ("<!-- snippet: continue -->\n\n```python\nx\n```\n", "continue needs a run block"),
        ("<!-- snippet: standin=auth0 -->\n\nText.\n\n```python\nx\n```\n", "no ```python"),
        ("<!-- snippet: standin=auth0 -->\n```text\nx\n```\n", "before a ```text block"),
    ],
)
def test_a_bad_marker_is_refused(probe_page: Path, text: str, message: str) -> None:
    probe_page.write_text(text)
    with pytest.raises(SnippetError, match=message):
        chains(probe_page)


def test_an_indented_block_in_a_tab_is_found(probe_page: Path) -> None:
    probe_page.write_text(
        '=== "ours"\n\n    <!-- snippet: standin=example -->\n    ```python\n    x = 1\n'
        "    if x:\n        y = 2\n    ```\n"
    )
    [only] = snippets(probe_page)
    assert only.code == "x = 1\nif x:\n    y = 2\n"
    assert only.standins == ("example",)


def test_the_snippets_do_not_leave_the_environment_changed() -> None:
    """The stand-ins' environment variables and modules are gone after the snippets ran."""
    assert "AUTH0_CLIENT_SECRET" not in os.environ
    google = sys.modules.get("google")
    assert getattr(google, "__doc__", None) != "google-auth, stand-in for the docs' snippets"
