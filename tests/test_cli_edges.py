"""The command line's rough edges: ``--version``, exit statuses in every ``--help``, ``probe``
input checks, the ``Allow`` of a 405 and the retry it would do, ``explain`` for a valid status
the catalog does not list, one type for ``code`` in ``catalog --json``, and ``Source:``."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

import httpx_remedy as remedy
from httpx_remedy import catalog
from httpx_remedy._cli import main
from httpx_remedy.testing import no_wait

from .rawserver import RawServer, answer

#: The command line's page of the documentation (it was the README's section before the site).
CLI_PAGE = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def exits(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int | str | None, str]:
    with pytest.raises(SystemExit) as caught:
        main(list(argv))
    return caught.value.code, capsys.readouterr().out


# ---- --version and --help ----------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = exits(capsys, "--version")
    assert code == 0
    assert out == f"httpx-remedy {remedy.__version__}\n"


@pytest.mark.parametrize(
    ("argv", "statuses"),
    [
        ([], ["0", "1", "2", "3"]),
        (["explain"], ["0", "2"]),
        (["catalog"], ["0", "2"]),
        (["probe"], ["0", "1", "2", "3"]),
        (["demo"], ["0", "1", "2"]),
    ],
    ids=["top", "explain", "catalog", "probe", "demo"],
)
def test_every_help_lists_its_exit_statuses(
    argv: list[str], statuses: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = exits(capsys, *argv, "--help")
    assert code == 0
    listed = out.split("exit status:\n", 1)[1]
    found = re.findall(r"^  (\d)  ", listed, flags=re.MULTILINE)
    assert found == statuses


# ---- probe: bad input is exit 2, before anything is sent -------------------------------------


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("api.example.com/items", "did you mean 'https://api.example.com/items'?"),
        ("localhost:8000", "did you mean 'https://localhost:8000'?"),
        ("ftp://files.example.com/x", "not 'ftp://files.example.com/x'"),
        ("https://", "not 'https://'"),
        ("http://[::1", "is not one"),
    ],
)
def test_probe_without_a_usable_url_is_bad_input(
    url: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "probe", url)
    assert status == 2
    assert out == ""
    assert "probe takes an absolute http:// or https:// URL" in err
    assert hint in err


def test_probe_a_body_that_cannot_be_sent_is_bad_input(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with RawServer(answer(200, b"ok")) as server:
        status, _, err = run(capsys, "probe", server.url, "-H", "X-Name: caf\u00e9\u2603")
    assert status == 2
    assert "cannot send this request" in err
    assert server.received == []


def test_probe_no_answer_is_3(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # bound, then closed: the connection is refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with no_wait():
        status, out, _ = run(capsys, "probe", f"http://127.0.0.1:{port}/items")
    assert status == 3
    assert "-> ConnectError" in out


# ---- probe: what the answer says, and what the policy does about it ----------------------------


def test_probe_shows_allow_on_a_405(capsys: pytest.CaptureFixture[str]) -> None:
    script = answer(405, b"use POST", [("Allow", "POST, OPTIONS")])
    with RawServer(script) as server:
        status, out, _ = run(capsys, "probe", server.url + "/items")
    assert status == 1
    assert "-> MethodNotAllowed (405" in out
    assert "   allow:       POST, OPTIONS\n" in out


def test_probe_says_so_when_a_405_has_no_allow(capsys: pytest.CaptureFixture[str]) -> None:
    with RawServer(answer(405, b"no")) as server:
        _, out, _ = run(capsys, "probe", server.url + "/items")
    assert "   allow:       (no Allow header)\n" in out


@pytest.mark.parametrize(
    ("status", "headers", "method", "next_step"),
    [
        (429, [("Retry-After", "2")], "GET", "would retry after 2s (retry-after), attempt 1 of 3"),
        (503, [("Retry-After", "7")], "POST", "would retry after 7s (retry-after), attempt 1 of 3"),
        (
            429,
            [("Retry-After", "3600")],
            "GET",
            "would not retry: the server asked for 3600s, more than max_retry_after (60s)",
        ),
        (500, [], "POST", "would not retry: POST is not idempotent and may have been processed"),
        (404, [], "GET", "would not retry: fail fast (the catalog's remedy for it)"),
    ],
)
def test_probe_without_retries_says_what_the_policy_would_do(
    status: int,
    headers: list[tuple[str, str]],
    method: str,
    next_step: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with RawServer(answer(status, b"busy", headers)) as server:
        code, out, _ = run(capsys, "probe", "--no-retry", "-X", method, server.url + "/items")
        assert len(server.received) == 1
    assert code == 1
    assert f"   next:        {next_step}" in out
    assert "     attempt 1/1: " in out


def test_probe_a_backoff_is_a_sample_of_the_policy(capsys: pytest.CaptureFixture[str]) -> None:
    with RawServer(answer(502, b"bad gateway")) as server:
        _, out, _ = run(capsys, "probe", "--no-retry", server.url + "/items")
    found = re.search(r"would retry after ([\d.e-]+)s \(backoff\), attempt 1 of 3", out)
    assert found is not None
    assert 0 <= float(found.group(1)) <= 0.5  # full jitter under 0.5 s for the first retry


def test_probe_shows_each_wait_as_it_starts(capsys: pytest.CaptureFixture[str]) -> None:
    with RawServer(answer(503, b"", [("Retry-After", "2")])) as server, no_wait():
        status, out, _ = run(capsys, "probe", server.url + "/items")
    assert status == 1
    lines = out.splitlines()
    assert lines[1:3] == [
        "   waiting 2s (retry-after) before attempt 2 of 3",
        "   waiting 2s (retry-after) before attempt 3 of 3",
    ]
    assert lines[3].startswith("-> ServiceUnavailable (503")
    assert "     attempt 3/3: 503 -> raise [max_attempts (3) reached]" in lines


# ---- explain: a valid status the catalog does not list ---------------------------------------


def test_explain_an_unlisted_client_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "explain", "418")
    assert status == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == "418 I'm a Teapot"
    assert "Not in the catalog: what any 4xx status means (Client Error)" in out
    assert catalog.for_status(418).fix in out
    assert "Raised as:       httpx_remedy.ClientError" in out
    assert "Default remedy:  fail fast" in out
    assert "Source:          RFC 9110 §15.5" in out


def test_explain_an_unlisted_server_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "explain", "599")
    assert status == 0
    assert out.startswith("599 Server Error\n")
    assert "Raised as:       httpx_remedy.ServerError" in out


@pytest.mark.parametrize(
    ("code", "head", "kind"),
    [
        ("101", "101 Switching Protocols", "1xx (informational)"),
        ("204", "204 No Content", "2xx (successful)"),
        ("302", "302 Found", "3xx (redirection)"),
        ("399", "399", "3xx (redirection)"),
    ],
)
def test_explain_a_status_that_is_not_an_error(
    code: str, head: str, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "explain", code)
    assert status == 0
    assert out.splitlines()[0] == head
    assert f"Not in the catalog: a {kind} status, not an error." in out
    assert "raises nothing for it" in out or "untouched" in out


# ---- catalog --json and Source ---------------------------------------------------------------


def test_catalog_json_code_is_always_a_string(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "catalog", "--json")
    rows = json.loads(out)
    assert {type(row["code"]) for row in rows} == {str}
    for row in rows:
        entry = catalog[row["code"]]
        assert row["kind"] == ("oauth" if entry.is_oauth else "status")
        if row["kind"] == "status":
            assert row["status"] == int(row["code"])
    assert any(row["code"] == "429" for row in rows)


@pytest.mark.parametrize("code", list(catalog), ids=str)
def test_source_names_the_standard_or_the_user_catalog(
    code: int | str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "explain", str(code))
    source = out.split("Source:", 1)[1].strip()
    assert source != "catalog"
    assert "§" in source
    assert source.startswith(("user catalog; RFC ", "RFC ", "OpenID Connect "))


def test_the_docs_say_what_the_plain_catalog_shows(capsys: pytest.CaptureFixture[str]) -> None:
    text = CLI_PAGE.read_text()
    said = text[text.index("`httpx-remedy catalog` lists") :].split("\n\n")[0]
    assert "class, default remedy and title" in said
    assert "description" not in said.split(";")[0]
    _, out, _ = run(capsys, "catalog")
    entry = catalog[429]
    line = next(line for line in out.splitlines() if line.startswith("429 "))
    assert line.split() == ["429", "TooManyRequests", "back", "off", "and", "retry", "Too", "Many",
                            "Requests"]  # fmt: skip
    assert entry.description not in out
