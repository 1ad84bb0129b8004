"""Servers that echo credentials back: no secret, nor a decodable form of one, gets out.

Each hostile server below reflects what the client sent (its Authorization header, a Basic
pair, a form-encoded client secret, a JSON-escaped token) into an HTML, JSON, problem+json, text
or form body, or into ``WWW-Authenticate``. Whatever it does, the secret must not appear in
``str(e)``, ``repr(e)``, the text attributes, the attempt records or the log, in any encoding it
travelled in, nor in part where a cut fell on it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import html
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy._redact import Scrubber, request_secrets, secret_forms

from .helpers import SYNC, FakeClock, Mode, sync_client

API = "https://api.example.com/v1/items"
TOKEN_URL = "https://auth.example.com/token"
# Characters that change under every encoding: / + % = and a quote.
TOKEN = "tok/EN+w1th%odd=chars'0123456789abcdef"
CLIENT_ID = "my app%id"
CLIENT_SECRET = "s3c%ret+with/slash:and space"
BASIC_ENCODED = (
    "Basic "
    + base64.b64encode(
        f"{quote(CLIENT_ID, safe='')}:{quote(CLIENT_SECRET, safe='')}".encode()
    ).decode()
)
BASIC_RAW = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
FORM_BODY = f"grant_type=client_credentials&client_secret={quote_plus(CLIENT_SECRET)}"

# The credential a request carries, and the secret that must not get out.
CREDENTIALS = {
    "bearer": ({"Authorization": f"Bearer {TOKEN}"}, None, TOKEN),
    "basic-rfc6749": ({"Authorization": BASIC_ENCODED}, None, CLIENT_SECRET),
    "basic-raw": ({"Authorization": BASIC_RAW}, None, CLIENT_SECRET),
    "form-secret": (
        {"Content-Type": "application/x-www-form-urlencoded"},
        FORM_BODY,
        CLIENT_SECRET,
    ),
}


def echoed(request: httpx.Request) -> str:
    """What a careless server reflects: the Authorization header, or the body it got."""
    return request.headers.get("authorization") or request.content.decode()


def php_json(obj: object) -> bytes:
    """JSON as PHP writes it by default: slashes escaped."""
    return json.dumps(obj).replace("/", "\\/").encode()


ECHOES: dict[str, Callable[[httpx.Request], httpx.Response]] = {
    "html": lambda r: httpx.Response(
        400, html=f"<html><title>Error</title><body><p>You sent {html.escape(echoed(r))}</p>"
    ),
    "json": lambda r: httpx.Response(
        400, json={"error": "invalid_request", "error_description": f"bad: {echoed(r)}"}
    ),
    "json-escaped": lambda r: httpx.Response(
        400,
        content=php_json({"message": f"header was {echoed(r)}", "code": "E1"}),
        headers={"Content-Type": "application/json"},
    ),
    "problem": lambda r: httpx.Response(
        401,
        content=php_json(
            {
                "type": "https://example.com/probs/auth",
                "title": "Unauthorized",
                "detail": echoed(r),
                "instance": "/v1/items?t=" + quote(echoed(r), safe=""),
                "request": {"headers": {"authorization": echoed(r)}, "list": [echoed(r)]},
            }
        ),
        headers={"Content-Type": "application/problem+json"},
    ),
    "text": lambda r: httpx.Response(500, text=f"upstream rejected\nAuthorization: {echoed(r)}"),
    "text-first-line": lambda r: httpx.Response(403, text=f"denied for {echoed(r)}"),
    "form": lambda r: httpx.Response(
        400,
        content=f"error=invalid_request&error_description={quote_plus(echoed(r))}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    "url-in-json": lambda r: httpx.Response(
        404, json={"error": {"message": f"no route /x?auth={quote(echoed(r))}", "code": 404}}
    ),
    "challenge": lambda r: httpx.Response(
        401,
        headers={
            "WWW-Authenticate": 'Bearer error="invalid_token", error_description="'
            + echoed(r).replace("\\", "\\\\").replace('"', '\\"')
            + '", error_uri="https://e/'
            + quote(echoed(r), safe="")
            + '"'
        },
    ),
    "challenge-code": lambda r: httpx.Response(
        401,
        headers={"WWW-Authenticate": f'Bearer error="{quote(echoed(r), safe="")}"'},
    ),
}


def decodings(text: str) -> Iterator[str]:
    """``text`` and what a reader could decode from it."""
    for candidate in (text, text.replace("\\/", "/"), html.unescape(text)):
        yield candidate
        yield unquote(candidate)
        yield unquote_plus(candidate)
        yield unquote_plus(unquote(candidate))
        with contextlib.suppress(ValueError):
            yield json.loads(f'"{candidate}"')
    for run in re.findall(r"[A-Za-z0-9+/_-]{8,}=*", text):
        for padded in (run, run + "=", run + "=="):
            try:
                decoded = base64.b64decode(padded, validate=True).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                continue
            yield decoded
            yield unquote(decoded)


def pieces(secret: str, size: int = 10) -> set[str]:
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def assert_clean(texts: list[str], secret: str) -> None:
    """No text shows ``secret``, decodably or in a piece of 10 characters or more."""
    chunks = pieces(secret)
    for text in texts:
        for decoded in decodings(text):
            assert secret not in decoded, f"leaked in {text!r}"
            found = [c for c in chunks if c in decoded]
            assert not found, f"a piece {found[0]!r} leaked in {text!r}"


def error_texts(error: remedy.HTTPError) -> list[str]:
    texts = [str(error), repr(error)]
    for value in (error.error, error.error_description, error.error_uri, error.server_message):
        if value is not None:
            texts.append(value)
    if error.problem is not None:
        texts.append(json.dumps(dict(error.problem)))
    for challenge in error.challenges:
        texts += [challenge.scheme, *challenge.params.values(), challenge.token68 or ""]
    for attempt in error.attempts:
        texts += [str(attempt), repr(attempt)]
    texts += getattr(error, "__notes__", [])
    return texts


def send(
    clock: FakeClock, handler: Any, credential: str, mode: Mode = SYNC, **options: Any
) -> remedy.HTTPError:
    headers, body, _ = CREDENTIALS[credential]
    options.setdefault("retry", None)
    with (
        mode.client(handler, clock, **options) as client,
        pytest.raises(remedy.HTTPError) as caught,
    ):
        client.post(API, headers=headers, content=body)
    return caught.value


@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize("echo", ECHOES)
def test_an_echoed_secret_never_shows(
    mode: Mode, echo: str, credential: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="httpx_remedy")
    error = send(clock, ECHOES[echo], credential, mode)
    secret = CREDENTIALS[credential][2]
    assert_clean([*error_texts(error), caplog.text], secret)
    if echo not in ("text", "challenge-code"):  # a text's first line, a code, say nothing
        # The server's words are still there, the secret replaced.
        assert "[redacted]" in str(error)


@pytest.mark.parametrize("echo", ["json", "problem", "challenge", "text"])
def test_an_echoed_secret_never_shows_through_raise_for_status(echo: str) -> None:
    request = httpx.Request("GET", API, headers={"Authorization": f"Bearer {TOKEN}"})
    response = ECHOES[echo](request)
    response = httpx.Response(
        response.status_code, headers=response.headers, content=response.content, request=request
    )
    with pytest.raises(remedy.HTTPError) as caught:
        remedy.raise_for_status(response)
    assert_clean(error_texts(caught.value), TOKEN)


# ---- cuts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("padding", range(0, 60, 3))
def test_a_token_straddling_the_message_cut_leaves_no_piece(padding: int, clock: FakeClock) -> None:
    # A long path puts the echoed token across character 1000 of str(e).
    path = "/v1/" + "p" * (880 + padding)
    handler = ECHOES["json"]
    with (
        sync_client(handler, clock, retry=None) as client,
        pytest.raises(remedy.HTTPError) as caught,
    ):
        client.get("https://api.example.com" + path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert len(str(caught.value)) <= 1000
    assert_clean(error_texts(caught.value), TOKEN)


@pytest.mark.parametrize("padding", range(440, 500, 4))
def test_a_token_straddling_the_text_cut_leaves_no_piece(padding: int, clock: FakeClock) -> None:
    # Texts are cut at 500 characters; the token sits across that cut.
    def handler(request: httpx.Request) -> httpx.Response:
        words = "w" * padding + " " + echoed(request)
        return httpx.Response(400, json={"error": "invalid_request", "error_description": words})

    error = send(clock, handler, "bearer")
    assert error.error_description is not None
    assert error.error_description.startswith("w" * 100)
    assert_clean(error_texts(error), TOKEN)


@pytest.mark.parametrize("shift", range(5, 40, 5))
def test_a_token_straddling_the_body_limit_leaves_no_piece(shift: int, clock: FakeClock) -> None:
    # The body is read up to max_error_body (1 KiB here): the echo is cut inside the token.
    def handler(request: httpx.Request) -> httpx.Response:
        text = "\n" * (1024 - len("Authorization: Bearer ") - shift) + "Authorization: "
        return httpx.Response(500, text=text + echoed(request))

    error = send(clock, handler, "bearer", max_error_body=1024)
    assert error.server_message is not None
    assert error.server_message.startswith("Authorization: Bearer")
    assert_clean(error_texts(error), TOKEN)


def test_a_token_hidden_in_json_unicode_escapes_is_scrubbed(clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        escaped = "".join(f"\\u{ord(c):04x}" for c in echoed(request))
        body = '{"error": "invalid_request", "error_description": "' + "x" * 470 + escaped + '"}'
        return httpx.Response(
            400, content=body.encode(), headers={"Content-Type": "application/json"}
        )

    error = send(clock, handler, "bearer")
    assert_clean(error_texts(error), TOKEN)


# ---- through the token endpoint ------------------------------------------------------------


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
@pytest.mark.parametrize("echo", ["json", "html", "text", "problem", "challenge"])
def test_a_token_endpoint_echoing_the_client_secret(
    auth_method: str, echo: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="httpx_remedy")
    creds = remedy.ClientCredentials(TOKEN_URL, CLIENT_ID, CLIENT_SECRET, auth_method=auth_method)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(echoed(request))
        return ECHOES[echo](request)

    with (
        sync_client(handler, clock, credentials=creds, retry=None) as client,
        pytest.raises(remedy.HTTPError) as caught,
    ):
        client.get(API)
    if auth_method == "client_secret_basic":
        assert seen[0] == BASIC_ENCODED
    else:
        assert dict(parse_qsl(seen[0]))["client_secret"] == CLIENT_SECRET
    assert_clean([*error_texts(caught.value), caplog.text], CLIENT_SECRET)


def test_a_challenge_code_holding_the_token_is_not_logged_or_recorded(
    mode: Mode, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The refresh path logs and records the challenge's error code before any error exists."""
    caplog.set_level(logging.DEBUG, logger="httpx_remedy")
    issued = iter(["tok-ONE-0123456789abcdef", "tok-TWO-0123456789abcdef"])

    class Source:
        def fetch_token(self, scope: str | None) -> dict[str, Any]:
            return {"access_token": next(issued), "expires_in": 3600}

        async def afetch_token(self, scope: str | None) -> dict[str, Any]:
            return self.fetch_token(scope)

    def handler(request: httpx.Request) -> httpx.Response:
        sent = request.headers["authorization"].split(" ", 1)[1]
        return httpx.Response(401, headers={"WWW-Authenticate": f'Bearer error="{sent}"'})

    records: list[remedy.Attempt] = []
    retry = remedy.Retry(on_retry=records.append, budget=remedy.RetryBudget())
    with (
        mode.client(handler, clock, credentials=Source(), retry=retry) as client,
        pytest.raises(remedy.Unauthorized) as caught,
    ):
        client.get(API)
    texts = [*error_texts(caught.value), caplog.text, *map(str, records)]
    assert_clean(texts, "tok-ONE-0123456789abcdef")
    assert_clean(texts, "tok-TWO-0123456789abcdef")
    assert caught.value.attempts[0].action == "refresh"


class EchoedToken:
    """Answers 200 first (so that a token is fetched and held), then 401 with the token it got
    echoed as the challenge's error code."""

    def __init__(self) -> None:
        self.sends = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sends += 1
        if self.sends == 1:
            return httpx.Response(200)
        sent = request.headers["authorization"].split(" ", 1)[1]
        return httpx.Response(401, headers={"WWW-Authenticate": f'Bearer error="{sent}"'})


class OneToken:
    def fetch_token(self, scope: str | None) -> dict[str, Any]:
        return {"access_token": "tok-ONE-0123456789abcdef", "expires_in": 3600}


def test_giving_up_on_the_token_lock_never_repeats_an_echoed_token(
    mode: Mode, clock: FakeClock
) -> None:
    """With ``raise_errors=False`` the code is read from the challenge alone; the request that
    gives up waiting for another's refresh must not put it in TokenWaitTimeout."""
    client = mode.client(EchoedToken(), clock, credentials=OneToken(), raise_errors=False)
    with client:
        assert client.get(API).status_code == 200
        with (
            mode.holding_token_lock(client.transport),  # another request is refreshing
            pytest.raises(remedy.TokenWaitTimeout) as caught,
        ):
            client.get(API, timeout=0.05)
    assert_clean(
        [str(caught.value), repr(caught.value), *map(str, caught.value.attempts)],
        "tok-ONE-0123456789abcdef",
    )
    assert [a.action for a in caught.value.attempts] == ["raise"]


# ---- the pieces ---------------------------------------------------------------------------------


def test_request_secrets_reads_every_credential_a_request_carries() -> None:
    request = httpx.Request(
        "POST",
        "https://u:pa55-word@api.example.com/x?api_key=key-in-query&page=2&code=auth-code-1",
        headers={
            "Authorization": BASIC_ENCODED,
            "Proxy-Authorization": "Bearer proxy-token-1",
            "Cookie": "a=cookie-one; b=cookie-two",
            "X-Auth-Token": "x-auth-token-1",
            "X-Other": "not-a-secret",
        },
        json={"user": "alice", "password": "hunter2-pw", "nested": {"refresh_token": "rt-1234"}},
    )
    found = set(request_secrets(request))
    assert {CLIENT_SECRET, BASIC_ENCODED.split()[1], "proxy-token-1", "pa55-word"} <= found
    assert {"cookie-one", "cookie-two", "x-auth-token-1", "key-in-query", "auth-code-1"} <= found
    assert {"hunter2-pw", "rt-1234"} <= found
    assert not {"not-a-secret", "alice", "page", "2"} & found


def test_secret_forms_cover_the_encodings() -> None:
    forms = secret_forms("a/b+c%d e\u00e9")
    assert {"a/b+c%d e\u00e9", "a%2Fb%2Bc%25d%20e%C3%A9", "a%2fb%2bc%25d%20e%c3%a9"} <= forms
    assert {"a/b%2Bc%25d%20e%C3%A9", "a%2Fb%2Bc%25d+e%C3%A9", "a\\/b+c%d e\\u00e9"} <= forms
    assert "a/b+c%d e\\u00e9" in forms


def test_short_values_are_not_scrubbed() -> None:
    assert Scrubber(["abc", "", None]).text("abc abc") == "abc abc"
    assert not Scrubber(["abc"])


def test_the_scrubber_drops_a_secret_head_left_by_a_cut() -> None:
    scrubber = Scrubber(["0123456789abcdef"])
    assert scrubber.cut_text("key 0123456") == "key [redacted]"
    assert scrubber.cut_bytes(b"key 0123456") == b"key [redacted]"
    assert scrubber.text("key 0123456\u2026") == "key [redacted]\u2026"
    assert scrubber.text("key 0123456 and more") == "key 0123456 and more"
    assert scrubber.cut_text("key 012") == "key 012"  # under four characters: nothing to hide


def test_request_secrets_is_total_on_odd_requests() -> None:
    class Odd:
        url = "http://[::1"  # not a URL urlsplit accepts
        content = b"{not json"
        headers = httpx.Headers(
            {"Authorization": "Basic !!!not-base64!!!", "Content-Type": "application/json"}
        )

    assert request_secrets(Odd()) == ("!!!not-base64!!!",)
    assert request_secrets(object()) == ()
    scheme_only = httpx.Request("GET", API, headers={"Authorization": "Bearer"})
    assert request_secrets(scheme_only) == ()  # "Bearer" alone hides nothing
    bare_key = httpx.Request("GET", API, headers={"Authorization": "sk-live-0123456789"})
    assert request_secrets(bare_key) == ("sk-live-0123456789",)
    streamed = httpx.Request("POST", API, content=iter([b"password=x"]))
    assert request_secrets(streamed) == ()  # a body not read yet is not read here
    deep: Any = {"password": "deep-secret-1"}
    for _ in range(40):
        deep = {"wrap": deep}
    nested = httpx.Request("POST", API, json={"a": [deep, {"api_key": "key-in-list"}]})
    assert request_secrets(nested) == ("key-in-list",)  # deeper than 32 levels: not searched
    hinted = httpx.Request("POST", API, data={"token": "tok-1234", "token_type_hint": "refresh"})
    assert request_secrets(hinted) == ("tok-1234",)


def test_a_problem_nested_deeper_than_the_scrubber_goes_is_redacted() -> None:
    deep: Any = "tok-DEEP-0123456789"
    for _ in range(40):
        deep = [deep]
    scrubbed: Any = Scrubber(["tok-DEEP-0123456789"]).value({"a": deep, "n": 1})
    assert scrubbed["n"] == 1
    for _ in range(33):  # the levels scrubbed one by one
        scrubbed = scrubbed[0] if isinstance(scrubbed, list) else scrubbed["a"]
    assert scrubbed == "[redacted]"  # the rest, too deep to walk, is replaced whole
