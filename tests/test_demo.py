"""The demo and the probe command, in process (so that coverage sees them)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest

from httpx_remedy import _cli, _demo
from httpx_remedy.testing import OAuthServer

pytestmark = pytest.mark.integration  # the demo and the probe run against real servers

HEADINGS = [
    "An access token expires mid-run",
    "20 concurrent requests meet a revoked token",
    "429 Too Many Requests with Retry-After: 1",
    "A 503 storm",
    "403 insufficient_scope",
    "400 invalid_request",
    "A wrong client secret",
    "DPoP: the server's nonce asked for once, then carried",
]


def test_demo_runs_every_scenario_and_passes() -> None:
    out = io.StringIO()
    assert _demo.run(out=out) == 0
    text = out.getvalue()
    for number, heading in enumerate(HEADINGS, start=1):
        assert f"{number}. {heading}" in text
    assert "8/8 checks passed: every fix worked." in text
    assert "FAIL" not in text
    assert "\033[" not in text  # no colour when the output is not a terminal
    # The server's side and the library's side are both on the timeline.
    assert re.search(r"server\s+GET /api/items -> 401 invalid_token", text)
    assert re.search(r"library\s+fetched a new access token after 401 invalid_token", text)
    assert "demo-secret" not in text


def test_demo_colours_only_when_asked() -> None:
    out = io.StringIO()
    timeline = _demo.Timeline(out, color=True)
    timeline.verdict(True, "fine")
    timeline.line("server", "GET /x -> 200")
    assert "\033[32m" in out.getvalue()
    assert "\033[36m" in out.getvalue()


def test_demo_reports_a_failed_check() -> None:
    out = io.StringIO()
    timeline = _demo.Timeline(out, color=False)
    timeline.verdict(False, "broken")
    assert "FAIL  broken" in out.getvalue()


def test_demo_command_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _cli.main(["demo", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "127.0.0.1" in out
    assert "Retry-After" in out


def test_demo_without_flask_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "flask", None)  # makes `import flask` fail
    assert _demo.main() == 2
    assert "httpx-remedy[demo]" in capsys.readouterr().err


@pytest.fixture
def server() -> Iterator[OAuthServer]:
    with OAuthServer() as running:
        yield running


def test_probe_explains_a_typed_error(server: OAuthServer, capsys: pytest.CaptureFixture[str]):
    status = _cli.main(["probe", server.url + "/api/items?key=secret-value", "--no-retry"])
    out = capsys.readouterr().out
    assert status == 1
    assert "Unauthorized (401" in out
    assert "fix:" in out
    assert "attempt 1/1: 401 -> raise" in out
    assert "secret-value" not in out
    assert "key=[redacted]" in out


def test_probe_follows_the_retry_policy(server: OAuthServer, capsys: pytest.CaptureFixture[str]):
    server.fail_next_api_requests(1, 503, retry_after=0.05)
    status = _cli.main(["probe", server.url + "/api/items", "-H", "Accept: application/json"])
    out = capsys.readouterr().out
    assert status == 1  # the retry succeeded in reaching the API, which then wants a token
    assert "503 -> retry after 0.05s (retry-after)" in out
    assert "Unauthorized" in out


def test_probe_reports_success(server: OAuthServer, capsys: pytest.CaptureFixture[str]) -> None:
    status = _cli.main(["probe", server.url + "/api/echo-auth", "-X", "get", "-d", "x"])
    assert status == 0
    assert "200 OK" in capsys.readouterr().out


def test_probe_reports_a_transport_error(capsys: pytest.CaptureFixture[str]) -> None:
    status = _cli.main(["probe", "http://127.0.0.1:9/", "--no-retry"])
    assert status == 3
    assert "ConnectError" in capsys.readouterr().out


def test_probe_lists_the_attempts_of_a_transport_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from httpx_remedy.testing import no_wait

    with no_wait():
        status = _cli.main(["probe", "http://127.0.0.1:9/"])
    out = capsys.readouterr().out
    assert status == 3
    assert "attempt 3/3: ConnectError -> raise" in out


def test_probe_rejects_a_malformed_header(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main(["probe", "http://127.0.0.1:9/", "-H", "no-colon"]) == 2
    assert "NAME:VALUE" in capsys.readouterr().err
