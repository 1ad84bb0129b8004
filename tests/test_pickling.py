"""Every typed error survives pickle, across processes too, and its pickle holds no secret."""

from __future__ import annotations

import base64
import multiprocessing
import pickle
import traceback
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import httpx_remedy as remedy
from httpx_remedy import catalog
from httpx_remedy._exceptions import combine
from httpx_remedy._token import require_secure
from httpx_remedy.testing import no_wait

from .helpers import FakeClock, Mode, sync_client

TOKEN = "eyJhbGciOiJFUzI1NiJ9.cGlja2xlLXRva2Vu.SIGnaTURE-pickle"
COOKIE_VALUE = "c00kie-SECRET-pickle"
API_KEY = "k3y-SECRET-pickle"
QUERY_SECRET = "q-SECRET-pickle"
CLIENT_SECRET = "cl1ent/SECRET+with%odd"
URL = f"https://api.example.com/v1/items?access_token={QUERY_SECRET}&page=2"
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Cookie": f"sid={COOKIE_VALUE}",
    "X-API-Key": API_KEY,
    "DPoP": "eyJ0eXAiOiJkcG9wK2p3dCJ9.proof.SIG",
    "X-Trace": "trace-123",
}
SECRETS = [TOKEN, COOKIE_VALUE, API_KEY, QUERY_SECRET, "eyJ0eXAiOiJkcG9wK2p3dCJ9.proof.SIG"]

ATTRIBUTES = (
    "status_code",
    "error",
    "error_description",
    "error_uri",
    "server_message",
    "retry_after",
    "scope_hint",
    "challenges",
    "attempts",
    "entry",
)


def raise_for(response: httpx.Response) -> remedy.HTTPError:
    with pytest.raises(remedy.HTTPError) as caught:
        remedy.raise_for_status(response)
    return caught.value


def assert_round_trip(error: remedy.HTTPError) -> remedy.HTTPError:
    data = pickle.dumps(error)
    for secret in SECRETS:
        assert secret.encode() not in data, secret
    copy = pickle.loads(data)
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert repr(copy) == repr(error)
    assert copy.args == error.args
    for name in ATTRIBUTES:
        assert getattr(copy, name) == getattr(error, name), name
    assert (copy.problem is None) == (error.problem is None)
    if error.problem is not None:
        assert dict(copy.problem) == dict(error.problem)
        with pytest.raises(TypeError):
            copy.problem["x"] = 1  # type: ignore[index]
    # The request and response, good enough to read.
    assert copy.request.method == error.request.method
    assert copy.request.url.host == error.request.url.host
    assert copy.request.url.path == error.request.url.path
    assert copy.request.headers["x-trace"] == "trace-123"
    for name in ("authorization", "cookie", "x-api-key", "dpop"):
        assert name not in copy.request.headers
    assert copy.response.status_code == error.status_code
    assert copy.response.content == error.response.content
    assert copy.response.headers.get("content-type") == error.response.headers.get("content-type")
    assert copy.response.request.method == error.request.method
    return copy


def request() -> httpx.Request:
    return httpx.Request("GET", URL, headers=HEADERS)


def status_response(status: int) -> httpx.Response:
    return httpx.Response(
        status,
        headers={"Retry-After": "7"} if status in (429, 503) else {},
        json={"message": f"status {status} said so"},
        request=request(),
    )


def oauth_response(code: str, status: int) -> httpx.Response:
    return httpx.Response(
        status,
        headers={"WWW-Authenticate": f'Bearer realm="api", error="{code}", scope="read"'},
        json={"error": code, "error_description": f"{code} happened", "error_uri": "https://e/x"},
        request=request(),
    )


STATUSES = sorted(code for code in catalog if isinstance(code, int) and code >= 400)
CODES = sorted(code for code in catalog if isinstance(code, str))


@pytest.mark.parametrize("status", STATUSES)
def test_every_status_class_round_trips(status: int) -> None:
    error = raise_for(status_response(status))
    assert isinstance(error, catalog[status].exception)
    copy = assert_round_trip(error)
    assert copy.server_message == f"status {status} said so"


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("status", [400, 401, 403, 500, 503])
def test_every_oauth_class_combined_with_a_status_round_trips(code: str, status: int) -> None:
    error = raise_for(oauth_response(code, status))
    assert isinstance(error, catalog[code].exception)
    assert isinstance(error, catalog.for_status(status).exception)
    copy = assert_round_trip(error)
    # The very class object, found again by combine(): except clauses keep working.
    assert type(copy) is combine(catalog[code].exception, catalog.for_status(status).exception)
    assert copy.challenge_param("scope") == "read"


@settings(max_examples=60, deadline=None)
@given(
    status=st.integers(400, 599),
    code=st.one_of(
        st.none(), st.sampled_from(CODES), st.from_regex(r"[a-z_]{1,20}", fullmatch=True)
    ),
    words=st.text(max_size=300),
    problem=st.booleans(),
)
def test_any_error_round_trips(status: int, code: str | None, words: str, problem: bool) -> None:
    body: dict[str, Any] = {"detail": words, "title": "T", "status": status, "ext": [words]}
    if code is not None:
        body["error"] = code
        body["error_description"] = words
    headers = {"Content-Type": "application/problem+json" if problem else "application/json"}
    response = httpx.Response(
        status, headers=headers, content=httpx.Response(200, json=body).content, request=request()
    )
    assert_round_trip(raise_for(response))


def test_problem_and_challenges_survive(clock: FakeClock) -> None:
    response = httpx.Response(
        403,
        headers={
            "Content-Type": "application/problem+json",
            "WWW-Authenticate": 'Bearer error="insufficient_scope", scope="admin"',
        },
        json={"type": "https://e/p", "title": "Nope", "status": 403, "balance": 30},
        request=request(),
    )
    copy = assert_round_trip(raise_for(response))
    assert isinstance(copy, remedy.InsufficientScope)
    assert copy.scope == "admin"
    assert copy.problem == {"type": "https://e/p", "title": "Nope", "status": 403, "balance": 30}


def test_attempts_and_retry_after_survive(clock: FakeClock) -> None:
    answers = iter([httpx.Response(503, headers={"Retry-After": "2"})] * 3)
    with (
        sync_client(lambda r: next(answers), clock) as client,
        pytest.raises(remedy.ServiceUnavailable) as caught,
    ):
        client.get(URL, headers=HEADERS)
    copy = assert_round_trip(caught.value)
    assert copy.retry_after == 2.0
    assert [a.action for a in copy.attempts] == ["retry", "retry", "raise"]
    assert remedy.attempts_of(copy) == caught.value.attempts


def test_the_pickled_url_has_no_userinfo_or_query_value() -> None:
    url = f"https://alice:pa55word-X@api.example.com/v1?api_key={QUERY_SECRET}"
    error = raise_for(httpx.Response(404, request=httpx.Request("GET", url)))
    data = pickle.dumps(error)
    assert b"pa55word-X" not in data
    assert QUERY_SECRET.encode() not in data
    copy = pickle.loads(data)
    assert copy.request.url.path == "/v1"
    assert copy.request.url.params.get("api_key") == "[redacted]"


def test_the_pickled_response_drops_cookies_and_scrubs_echoes() -> None:
    response = httpx.Response(
        401,
        headers=[
            ("Set-Cookie", "session=srv-SECRET-cookie; HttpOnly"),
            ("X-Echo", f"you sent Bearer {TOKEN}"),
        ],
        text=f"denied: Authorization: Bearer {TOKEN}",
        request=request(),
    )
    error = raise_for(response)
    data = pickle.dumps(error)
    assert b"srv-SECRET-cookie" not in data
    assert TOKEN.encode() not in data
    copy = pickle.loads(data)
    assert "set-cookie" not in copy.response.headers
    assert copy.response.headers["x-echo"] == "you sent Bearer [redacted]"
    assert copy.response.text == "denied: Authorization: Bearer [redacted]"
    # The error itself, in this process, still has what the server sent.
    assert TOKEN in error.response.text


def test_an_error_from_either_transport_round_trips(mode: Mode, clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}, request=request
        )

    with (
        mode.client(handler, clock, retry=None) as client,
        pytest.raises(remedy.InvalidToken) as caught,
    ):
        client.get(URL, headers=HEADERS)
    copy = assert_round_trip(caught.value)
    assert type(copy) is combine(remedy.InvalidToken, remedy.Unauthorized)


# ---- the RemedyError family -------------------------------------------------------------------

TOKEN_URL = "https://auth.example.com/token"


def basic_of(client_id: str, secret: str) -> str:
    from urllib.parse import quote

    return base64.b64encode(
        f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    ).decode()


def token_endpoint_error(clock: FakeClock, answer: httpx.Response, times: int = 1) -> Iterator[Any]:
    """The errors of ``times`` calls whose token request got ``answer``."""
    creds = remedy.ClientCredentials(TOKEN_URL, "app", CLIENT_SECRET)

    def handler(request: httpx.Request) -> httpx.Response:
        return answer

    with sync_client(handler, clock, credentials=creds) as client:
        for _ in range(times):
            with pytest.raises((remedy.HTTPError, remedy.RemedyError)) as caught:
                client.get("https://api.example.com/items")
            yield caught.value


def test_token_response_error_round_trips_without_the_token(clock: FakeClock) -> None:
    answer = httpx.Response(200, json={"accessToken": TOKEN, "note": "camelCase"})
    (error,) = token_endpoint_error(clock, answer)
    assert isinstance(error, remedy.TokenResponseError)
    assert TOKEN not in str(error)
    data = pickle.dumps(error)
    assert TOKEN.encode() not in data
    assert CLIENT_SECRET.encode() not in data
    assert basic_of("app", CLIENT_SECRET).encode() not in data
    copy = pickle.loads(data)
    assert type(copy) is remedy.TokenResponseError
    assert str(copy) == str(error)
    assert copy.response.status_code == 200
    assert copy.response.json() == {"accessToken": "[redacted]", "note": "camelCase"}
    assert copy.response.request.url == TOKEN_URL
    assert "authorization" not in copy.response.request.headers
    assert copy.response.request.content == b""


def test_reauthentication_required_round_trips_with_its_cause(clock: FakeClock) -> None:
    answer = httpx.Response(400, json={"error": "invalid_grant", "error_description": "revoked"})
    first, second = token_endpoint_error(clock, answer, times=2)
    assert isinstance(first, remedy.InvalidGrant)
    assert isinstance(second, remedy.ReauthenticationRequired)
    data = pickle.dumps(second)
    assert CLIENT_SECRET.encode() not in data
    assert basic_of("app", CLIENT_SECRET).encode() not in data
    copy = pickle.loads(data)
    assert type(copy) is remedy.ReauthenticationRequired
    assert str(copy) == str(second)
    assert type(copy.cause) is type(first)
    assert copy.cause.error_description == "revoked"
    assert copy.cause.request.url == TOKEN_URL
    assert copy.cause.request.content == b""  # the form body held the grant


def test_origin_paused_and_insecure_transport_round_trip() -> None:
    paused = remedy.OriginPaused("https://api.example.com", 12.5, "more than max_retry_after")
    copy = pickle.loads(pickle.dumps(paused))
    assert type(copy) is remedy.OriginPaused
    assert (copy.origin, copy.retry_after, str(copy)) == (
        paused.origin,
        paused.retry_after,
        str(paused),
    )
    with pytest.raises(remedy.InsecureTransportError) as caught:
        require_secure("http://auth.example.com/token", "client credentials")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is remedy.InsecureTransportError
    assert isinstance(copy, ValueError)
    assert str(copy) == str(caught.value)


def test_token_wait_timeout_round_trips_with_its_message() -> None:
    # A TimeoutError is an OSError, whose __new__ leaves args empty for a subclass with its own
    # __init__: the message must survive anyway.
    waited = remedy.TokenWaitTimeout(2.0, "its longest timeout (2s)", "another request", "x")
    copy = pickle.loads(pickle.dumps(waited))
    assert type(copy) is remedy.TokenWaitTimeout
    assert isinstance(copy, TimeoutError)
    assert str(copy) == str(waited)
    assert (copy.waited, copy.cap, copy.holder) == (
        2.0,
        "its longest timeout (2s)",
        "another request",
    )


# ---- redacted() -----------------------------------------------------------------------------


def test_redacted_is_the_pickled_copy_with_its_traceback() -> None:
    try:
        remedy.raise_for_status(status_response(404))
    except remedy.NotFound as error:
        try:
            raise remedy.ReauthenticationRequired(error) from error
        except remedy.ReauthenticationRequired as outer:
            copy = remedy.redacted(outer)
    assert type(copy) is remedy.ReauthenticationRequired
    assert copy.__traceback__ is not None
    assert "test_redacted_is_the_pickled_copy" in "".join(traceback.format_tb(copy.__traceback__))
    assert isinstance(copy.__cause__, remedy.NotFound)
    assert "authorization" not in copy.__cause__.request.headers
    assert "authorization" not in copy.cause.request.headers
    assert copy.cause.server_message == "status 404 said so"
    plain = ValueError("not ours")
    assert remedy.redacted(plain) is plain


# ---- across processes ----------------------------------------------------------------------


def fetch_missing(url: str) -> None:
    """Runs in a worker process: a request through the transport that raises NotFound."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"message": "no such item", "auth": "see header"})

    transport = remedy.RemedyTransport(httpx.MockTransport(handler))
    with no_wait(), httpx.Client(transport=transport) as client:
        client.get(url, headers=HEADERS)


@pytest.mark.integration  # starts a worker process
def test_an_error_raised_in_a_process_pool_arrives_typed() -> None:
    context = multiprocessing.get_context("spawn")  # fork is unsafe in a threaded test runner
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        future = pool.submit(fetch_missing, URL)
        with pytest.raises(remedy.NotFound) as caught:
            future.result(timeout=60)
    error = caught.value
    assert error.status_code == 404
    assert error.server_message == "no such item"
    assert error.entry.code == 404
    assert error.request.method == "GET"
    assert error.request.url.path == "/v1/items"
    assert "authorization" not in error.request.headers
    assert error.response.json()["message"] == "no such item"
    assert error.attempts[-1].action == "raise"
    assert "404 Not Found for GET https://api.example.com/v1/items" in str(error)


def test_a_form_encoded_token_response_loses_its_credentials_when_pickled(
    clock: FakeClock,
) -> None:
    answer = httpx.Response(
        200,
        content=b"token=" + TOKEN.encode() + b"&refresh_token=rt-SECRET-pickle&expires=3600",
        headers={"Content-Type": "text/plain"},
    )
    (error,) = token_endpoint_error(clock, answer)
    assert isinstance(error, remedy.TokenResponseError)
    data = pickle.dumps(error)
    assert TOKEN.encode() not in data
    assert b"rt-SECRET-pickle" not in data
    copy = pickle.loads(data)
    assert copy.response.text == "token=[redacted]&refresh_token=[redacted]&expires=3600"
    assert TOKEN not in str(error)  # the message is made from the body, redacted the same way


def test_notes_and_other_state_survive() -> None:
    error = raise_for(status_response(404))
    # What add_note() makes (Python 3.11+), set the way that also runs on 3.10.
    error.__notes__ = [f"while syncing, with Bearer {TOKEN}"]  # type: ignore[attr-defined]
    error.extra = [f"Bearer {TOKEN}", 3]  # type: ignore[attr-defined]
    copy = pickle.loads(pickle.dumps(error))
    assert copy.__notes__ == ["while syncing, with Bearer [redacted]"]
    assert copy.extra == ["Bearer [redacted]", 3]
