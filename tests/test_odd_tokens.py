"""Tokens that cannot be sent: checked when they arrive, refused without repeating them.

An access token is visible ASCII (%x21-7E) and a token type an RFC 9110 token; anything else
(a byte outside ASCII, CR/LF, NUL, a space) is refused where it enters: the token endpoint's
answer (``TokenResponseError``), a user's token source (``ValueError``), a shared store record
(ignored, a new token is fetched).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy import MemoryStore, Token
from httpx_remedy._token import authorization_problem, token_record

from .helpers import FakeClock, Mode, sync_client

TOKEN_URL = "https://auth.example.com/oauth/token"
API = "https://api.example.com/items"
SECRET = "client-s3cret-value"

ODD_ACCESS_TOKENS = {
    "latin-1": "caf\u00e9-token-31337",
    "beyond latin-1": "token-\u2028-31337",
    "crlf": "token-31337\r\nX-Evil: 1",
    "lf": "token-31337\nX-Evil: 1",
    "nul": "token\x00-31337",
    "del": "token\x7f-31337",
    "tab": "token\t31337",
    "leading space": " token-31337",
    "trailing space": "token-31337 ",
    "inner space": "token 31337",
}
ODD_TOKEN_TYPES = {
    "latin-1": "Bear\u00e9r",
    "crlf": "Bearer\r\nX-Evil: 1",
    "nul": "Bearer\x00",
    "space": "Bea rer",
    "uri": "urn:ietf:params:oauth:token-type:jwt",
}
GOOD_TOKEN = "good.token-31337_~+/="


class Endpoint:
    """A token endpoint that answers ``answers`` in turn (the last one repeated), and an API
    that records the Authorization headers it gets."""

    def __init__(self, *answers: Mapping[str, Any]) -> None:
        self.answers = list(answers)
        self.token_requests = 0
        self.authorizations: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            answer = self.answers[min(self.token_requests, len(self.answers) - 1)]
            self.token_requests += 1
            return httpx.Response(200, json=answer)
        self.authorizations.append(request.headers.get("authorization"))
        return httpx.Response(200, json={"ok": True})


def grant(**options: Any) -> remedy.ClientCredentials:
    return remedy.ClientCredentials(TOKEN_URL, "app", SECRET, **options)


def assert_not_leaked(error: BaseException, token: str) -> None:
    for shown in (str(error), repr(error)):
        assert token not in shown
        assert token.strip() not in shown
    response = getattr(error, "response", None)
    if response is not None:
        assert token.strip().encode("utf-8", "surrogatepass") not in response.content
        assert json.dumps(token)[1:-1].encode() not in response.content


def odd_answers() -> list[tuple[str, dict[str, Any], str]]:
    """(id, token endpoint JSON, the secret that must not show)."""
    cases = [
        (f"access_token {name}", {"access_token": token, "token_type": "Bearer"}, token)
        for name, token in ODD_ACCESS_TOKENS.items()
    ]
    cases += [
        (f"token_type {name}", {"access_token": GOOD_TOKEN, "token_type": kind}, GOOD_TOKEN)
        for name, kind in ODD_TOKEN_TYPES.items()
    ]
    return cases


ODD_ANSWERS = odd_answers()


@pytest.mark.parametrize(
    ("answer", "secret"), [c[1:] for c in ODD_ANSWERS], ids=[c[0] for c in ODD_ANSWERS]
)
def test_odd_token_from_the_endpoint_is_refused(
    mode: Mode, answer: dict[str, Any], secret: str, clock: FakeClock
) -> None:
    endpoint = Endpoint({**answer, "refresh_token": "refresh-31337", "expires_in": 3600})
    with (
        mode.client(endpoint, clock, credentials=grant()) as client,
        pytest.raises(remedy.TokenResponseError) as caught,
    ):
        client.get(API)
    assert "token that cannot be used" in str(caught.value)
    assert_not_leaked(caught.value, secret)
    assert "refresh-31337" not in caught.value.response.text
    assert endpoint.authorizations == []  # never sent


def test_the_next_request_asks_again_and_uses_a_good_token(clock: FakeClock) -> None:
    endpoint = Endpoint({"access_token": "tok\u00e9n"}, {"access_token": GOOD_TOKEN})
    with sync_client(endpoint, clock, credentials=grant()) as client:
        with pytest.raises(remedy.TokenResponseError):
            client.get(API)
        assert client.get(API).status_code == 200
    assert endpoint.authorizations == [f"Bearer {GOOD_TOKEN}"]


@pytest.mark.parametrize("kind", [None, "", "bearer", "BEARER", "MAC", "N_A"])  # DPoP: test_dpop.py
def test_token_types_that_can_be_sent(kind: str | None, clock: FakeClock) -> None:
    answer: dict[str, Any] = {"access_token": GOOD_TOKEN}
    if kind is not None:
        answer["token_type"] = kind
    endpoint = Endpoint(answer)
    with sync_client(endpoint, clock, credentials=grant()) as client:
        client.get(API)
    scheme = "Bearer" if not kind or kind.lower() == "bearer" else kind
    assert endpoint.authorizations == [f"{scheme} {GOOD_TOKEN}"]


def test_visible_ascii_tokens_real_servers_issue_are_kept() -> None:
    for token in ("1234|app-secret-part", "00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA", 'a"b\\c{}'):
        assert authorization_problem(token, "Bearer") is None
    assert authorization_problem("", "Bearer") == "access_token is empty"
    assert authorization_problem(7, "Bearer") == "access_token must be a str, not int"
    assert authorization_problem("t", None) == "token_type must be a str, not NoneType"
    problem = authorization_problem("abc\r\n", "Bearer")
    assert problem is not None
    assert "U+000D at position 3 of 5" in problem
    problem = authorization_problem("abc", "")
    assert problem is not None
    assert "it has nothing" in problem


# -- a user's token source --


class Source:
    """A token source for both transports: the sync one calls ``fetch_token``, the async one
    ``afetch_token``."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def fetch_token(self, scope: str | None) -> Any:
        return self.data() if callable(self.data) else self.data

    async def afetch_token(self, scope: str | None) -> Any:
        return self.fetch_token(scope)


@pytest.mark.parametrize("token", ODD_ACCESS_TOKENS.values(), ids=ODD_ACCESS_TOKENS.keys())
def test_odd_token_from_a_token_source_mapping(mode: Mode, token: str, clock: FakeClock) -> None:
    endpoint = Endpoint({"access_token": GOOD_TOKEN})
    source = Source({"access_token": token, "token_type": "Bearer", "expires_in": 60})
    with (
        mode.client(endpoint, clock, credentials=source) as client,
        pytest.raises(ValueError, match="access_token cannot be sent") as caught,
    ):
        client.get(API)
    assert_not_leaked(caught.value, token)
    assert endpoint.authorizations == []


@pytest.mark.parametrize("token", ODD_ACCESS_TOKENS.values(), ids=ODD_ACCESS_TOKENS.keys())
def test_odd_token_built_by_a_token_source(mode: Mode, token: str, clock: FakeClock) -> None:
    source = Source(lambda: Token(access_token=token))
    with (
        mode.client(Endpoint({}), clock, credentials=source) as client,
        pytest.raises(ValueError, match="access_token cannot be sent") as caught,
    ):
        client.get(API)
    assert_not_leaked(caught.value, token)


def test_odd_token_type_built_by_a_token_source(mode: Mode, clock: FakeClock) -> None:
    source = Source(lambda: Token(access_token=GOOD_TOKEN, token_type="Bearer\r\n"))
    with (
        mode.client(Endpoint({}), clock, credentials=source) as client,
        pytest.raises(ValueError, match="token_type cannot be sent") as caught,
    ):
        client.get(API)
    assert_not_leaked(caught.value, GOOD_TOKEN)


def test_a_token_that_is_not_a_str_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="access_token must be a str"):
        Token(access_token=b"bytes-token")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="token_type must be a str"):
        Token(access_token=GOOD_TOKEN, token_type=None)  # type: ignore[arg-type]


def test_refresh_token_grant_refuses_an_odd_stored_access_token() -> None:
    with pytest.raises(ValueError, match="access_token cannot be sent") as caught:
        remedy.RefreshToken(
            TOKEN_URL, "app", token={"access_token": "at\r\nX: y", "refresh_token": "r-31337"}
        )
    assert_not_leaked(caught.value, "at\r\nX: y")


# -- a record another process stored --


@pytest.mark.parametrize("token", ODD_ACCESS_TOKENS.values(), ids=ODD_ACCESS_TOKENS.keys())
def test_odd_token_in_a_shared_record_is_ignored(mode: Mode, token: str, clock: FakeClock) -> None:
    store = MemoryStore()
    creds = grant(store=store)
    good, _ = token_record(Token(access_token="placeholder"), now=0.0, wall_now=clock.time())
    record = json.loads(good)
    record["access_token"] = token
    store.put(creds.shared_key, json.dumps(record).encode(), None)
    endpoint = Endpoint({"access_token": GOOD_TOKEN, "expires_in": 3600})
    with mode.client(endpoint, clock, credentials=creds) as client:
        assert client.get(API).status_code == 200
    assert endpoint.token_requests == 1
    assert endpoint.authorizations == [f"Bearer {GOOD_TOKEN}"]
