"""Header bytes no ASCII decoder expects: a byte outside ASCII (a localized ``X-Error-Message``,
a filename), in any header or in the reason phrase, gives the typed error as plain httpx gives
the response, and a 2xx keeps its bytes."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy import _cli
from httpx_remedy.testing import no_wait

from .helpers import Mode
from .rawserver import RawServer, Script, head

JSON_BODY = b'{"error": "invalid_request", "error_description": "bad"}'

#: (name, value) pairs as bytes on the wire; each goes out with a 401 and with a 429.
ODD_HEADERS: dict[str, tuple[bytes, bytes]] = {
    "latin-1 message": (b"X-Error-Message", b"caf\xe9"),
    "utf-8 message": (b"X-Error-Message", b"caf\xc3\xa9 \xe2\x80\x94 r\xc3\xa9essayez"),
    "no charset at all": (b"X-Error-Message", b"\xff\xfe"),
    "filename": (b"Content-Disposition", b'attachment; filename="r\xe9sum\xe9.pdf"'),
    "www-authenticate": (
        b"WWW-Authenticate",
        b'Bearer error="invalid_token", error_description="expir\xe9 \xff"',
    ),
    "retry-after": (b"Retry-After", b"\xff\xfe 12"),
    "content-type": (b"Content-Type", b"application/json; charset=\xe9\xff"),
    "content-encoding": (b"Content-Encoding", b"gz\xefp"),
}


def respond(
    status: int,
    headers: Sequence[tuple[bytes, bytes]],
    *,
    reason: bytes = b"X",
    body: bytes = JSON_BODY,
) -> Script:
    """Answer with the head written byte for byte as given."""
    data = head(status, [*headers, (b"Content-Length", b"%d" % len(body))], reason=reason) + body

    def script(conn: object, request: object, server: object) -> None:
        conn.sendall(data)  # type: ignore[attr-defined]

    return script


def check(error: remedy.HTTPError, sent: Sequence[tuple[bytes, bytes]]) -> None:
    """The error is whole: its response carries the header bytes as sent, its text is one line."""
    for pair in sent:
        if pair[0].lower() != b"content-encoding":  # dropped: the body it carries is decoded
            assert pair in error.response.headers.raw
    text = str(error)
    assert "\n" not in text
    assert "\r" not in text
    assert repr(error)
    assert all(str(attempt) for attempt in error.attempts)


@pytest.mark.parametrize("pair", ODD_HEADERS.values(), ids=ODD_HEADERS.keys())
@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, remedy.Unauthorized), (400, remedy.BadRequest), (403, remedy.Forbidden)],
)
def test_odd_header_bytes_give_the_typed_error(
    mode: Mode, pair: tuple[bytes, bytes], status: int, kind: type[remedy.HTTPError]
) -> None:
    with (
        RawServer(respond(status, [pair])) as server,
        mode.client(mode.network(), retry=None) as client,
        pytest.raises(kind) as caught,
    ):
        client.get(server.url + "/items")
    check(caught.value, [pair])


ALL_AT_ONCE = list(ODD_HEADERS.values())
ODD_REASON = b"Trop de requ\xeates \xff"


@pytest.mark.parametrize(
    ("status", "kind", "attempts"),
    [(429, remedy.TooManyRequests, 3), (503, remedy.ServiceUnavailable, 2)],
)
def test_odd_bytes_everywhere_while_retrying(
    mode: Mode, status: int, kind: type[remedy.HTTPError], attempts: int
) -> None:
    retry = remedy.Retry(max_attempts=attempts, budget=remedy.RetryBudget())
    with (
        RawServer(respond(status, ALL_AT_ONCE, reason=ODD_REASON)) as server,
        mode.client(mode.network(), retry=retry) as client,
        no_wait(),
        pytest.raises(kind) as caught,
    ):
        client.get(server.url + "/items")
    check(caught.value, ALL_AT_ONCE)
    assert len(caught.value.attempts) == attempts
    assert caught.value.response.extensions["reason_phrase"] == ODD_REASON


@pytest.mark.parametrize("reason", [b"Non autoris\xe9", b"\xff\xfe\xfd", b""])
def test_odd_reason_phrase(reason: bytes) -> None:
    with (
        RawServer(respond(401, [], reason=reason)) as server,
        httpx.Client(transport=remedy.RemedyTransport(retry=None)) as client,
        pytest.raises(remedy.InvalidRequest) as caught,
    ):
        client.get(server.url)
    assert caught.value.response.extensions["reason_phrase"] == reason
    assert str(caught.value).startswith("401 ")


def test_odd_bytes_through_raise_for_status(mode: Mode) -> None:
    hooks = {"response": [mode.raise_for_status]}
    with (
        RawServer(respond(409, ALL_AT_ONCE, reason=ODD_REASON)) as server,
        mode.wrap(mode.network(), event_hooks=hooks) as client,
        pytest.raises(remedy.Conflict) as caught,
    ):
        client.get(server.url)
    check(caught.value, ALL_AT_ONCE)


@pytest.mark.parametrize(("status", "body"), [(200, b"ok"), (204, b"")])
def test_a_2xx_passes_through_with_its_bytes(mode: Mode, status: int, body: bytes) -> None:
    sent = [(b"X-Name", b"caf\xe9"), (b"Content-Disposition", b'inline; filename="\xff.txt"')]
    with (
        RawServer(respond(status, sent, reason=b"D'accord \xe9", body=body)) as server,
        mode.wrap(mode.transport(mode.network())) as client,
    ):
        response = client.get(server.url)
    assert response.status_code == status
    for pair in sent:
        assert pair in response.headers.raw
    assert response.extensions["reason_phrase"] == b"D'accord \xe9"
    assert response.content == body


# Control bytes cannot come through h11 (it refuses them), but a custom transport can hand
# them over: they are folded out of everything the library writes.
CONTROL = [
    (b"X-Error-Message", b"a\x00b\x1b[31mred\x7f"),
    (b"WWW-Authenticate", b'Bearer error="invalid\r\ntoken", error_description="x\x00\ny"'),
    (b"Retry-After", b"\x00\r\n"),
]


def control_response(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        401,
        headers=CONTROL,
        stream=httpx.ByteStream(b"\x00\x1b[2J body"),
        extensions={"reason_phrase": b"Bad\x00\r\nX-Forged: 1"},
    )


def test_control_bytes_from_a_custom_transport(mode: Mode) -> None:
    with (
        mode.client(control_response, retry=None) as client,
        pytest.raises(remedy.HTTPError) as caught,
    ):
        client.get("https://api.example.com/items")
    check(caught.value, CONTROL)
    assert "\x00" not in str(caught.value)
    assert "\x1b" not in str(caught.value)


# -- the probe command prints what the server said, whatever the terminal can show --


def ascii_terminal(monkeypatch: pytest.MonkeyPatch) -> io.TextIOWrapper:
    """stdout as a terminal that only knows ASCII (``PYTHONIOENCODING=ascii``, old consoles).
    Set in the test itself: pytest's capture puts its own stdout back before each phase."""
    terminal = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", terminal)
    return terminal


def printed(terminal: io.TextIOWrapper) -> str:
    terminal.flush()
    return terminal.buffer.getvalue().decode("ascii")  # type: ignore[attr-defined]


def test_probe_prints_odd_bytes_on_an_ascii_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    challenge = b'Bearer error="invalid_token", error_description="expir\xc3\xa9 \x1b[2J"'
    with RawServer(respond(401, [(b"WWW-Authenticate", challenge)], reason=ODD_REASON)) as server:
        terminal = ascii_terminal(monkeypatch)
        status = _cli.main(["probe", server.url + "/caf\u00e9?key=s3cret", "--no-retry"])
    out = printed(terminal)
    assert status == 1
    assert "/caf\\xe9?key=[redacted]" in out
    assert "server said: expir\\xe9" in out
    assert "\x1b" not in out
    assert "s3cret" not in out


def test_probe_prints_a_success_on_an_ascii_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    with RawServer(respond(200, [(b"X", b"\xe9")], reason=b"Tr\xe8s bien", body=b"ok")) as server:
        terminal = ascii_terminal(monkeypatch)
        assert _cli.main(["probe", server.url + "/\u00e9t\u00e9", "--no-retry"]) == 0
    assert "-> 200 Trs bien (2 bytes)" in printed(terminal)
