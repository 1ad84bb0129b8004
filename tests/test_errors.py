"""The typed errors: the class tree, the attributes, the one-line message, secrets, robustness."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import httpx_remedy as remedy
from httpx_remedy import _catalog_errors as exc
from httpx_remedy import catalog
from httpx_remedy._exceptions import combine
from httpx_remedy.testing import error_response

from .helpers import SYNC, FakeClock, Mode

URL = "https://api.example.com/v1/items"
KIB = 1024


def fail_with(
    response: httpx.Response | Any,
    clock: FakeClock,
    *,
    mode: Mode = SYNC,
    method: str = "GET",
    url: str = URL,
    headers: dict[str, str] | None = None,
    **options: Any,
) -> remedy.HTTPError:
    """Send one request through the transport of ``mode`` (the sync one unless given; retry
    off unless given); the error raised. The classification is the core's, the same for both
    transports: a test takes the ``mode`` fixture when the transport's part is under test."""
    options.setdefault("retry", None)
    handler = response if callable(response) else (lambda request: response)
    with (
        mode.client(handler, clock, **options) as client,
        pytest.raises(remedy.HTTPError) as caught,
    ):
        client.request(method, url, headers=headers)
    return caught.value


def assert_one_line(text: str) -> None:
    assert "\n" not in text
    assert "\r" not in text
    assert len(text.splitlines()) == 1
    assert all(c.isprintable() for c in text), repr(text)


def bearer(**params: str) -> dict[str, str]:
    value = ", ".join(f'{name}="{v}"' for name, v in params.items())
    return {"WWW-Authenticate": f'Bearer realm="example", {value}'}


class CountingStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body of ``chunks`` chunks of ``size`` bytes that counts what was pulled from it.

    Its async iterator is a plain object, not an async generator, so that a partial read leaves
    nothing of the test's own for trio to warn about.
    """

    def __init__(self, chunk: bytes = b"a" * 64 * KIB, chunks: int = 160) -> None:
        self.chunk, self.left = chunk, chunks
        self.pulled = 0
        self.closed = False

    def _next(self) -> bytes | None:
        if self.left == 0:
            return None
        self.left -= 1
        self.pulled += len(self.chunk)
        return self.chunk

    def __iter__(self) -> Iterator[bytes]:
        while (chunk := self._next()) is not None:
            yield chunk

    def __aiter__(self) -> CountingStream:
        return self

    async def __anext__(self) -> bytes:
        chunk = self._next()
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


# ---- the tree -------------------------------------------------------------------------------


STATUS_CLASSES = {
    400: exc.BadRequest,
    401: exc.Unauthorized,
    403: exc.Forbidden,
    404: exc.NotFound,
    405: exc.MethodNotAllowed,
    406: exc.NotAcceptable,
    408: exc.RequestTimeout,
    409: exc.Conflict,
    410: exc.Gone,
    412: exc.PreconditionFailed,
    413: exc.PayloadTooLarge,
    414: exc.URITooLong,
    415: exc.UnsupportedMediaType,
    421: exc.MisdirectedRequest,
    422: exc.UnprocessableEntity,
    425: exc.TooEarly,
    428: exc.PreconditionRequired,
    429: exc.TooManyRequests,
    431: exc.RequestHeaderFieldsTooLarge,
    500: exc.InternalServerError,
    502: exc.BadGateway,
    503: exc.ServiceUnavailable,
    504: exc.GatewayTimeout,
}


def test_http_error_is_an_httpx_status_error() -> None:
    assert issubclass(remedy.HTTPError, httpx.HTTPStatusError)
    for cls in (
        remedy.ClientError,
        remedy.ServerError,
        remedy.OAuthError,
        *STATUS_CLASSES.values(),
    ):
        assert issubclass(cls, remedy.HTTPError)
    assert not issubclass(remedy.RemedyError, httpx.HTTPStatusError)


def test_except_httpx_status_error_catches_it(mode: Mode, clock: FakeClock) -> None:
    with mode.client(lambda r: httpx.Response(404), clock, retry=None) as client:
        try:
            client.get(URL)
        except httpx.HTTPStatusError as error:
            caught: Exception = error
        else:  # pragma: no cover
            pytest.fail("no error raised")
    assert isinstance(caught, remedy.NotFound)
    assert caught.response.status_code == 404
    assert caught.request.url == URL


def test_unauthorized_is_public() -> None:
    # 401 has its own class, named in the tree and in `httpx-remedy explain 401`: users catch it.
    assert remedy.Unauthorized is exc.Unauthorized  # type: ignore[attr-defined]
    assert "Unauthorized" in remedy.__all__


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES.items(), ids=str)
def test_each_status_has_its_class(
    status: int, cls: type[remedy.HTTPError], clock: FakeClock
) -> None:
    error = fail_with(httpx.Response(status), clock)
    assert type(error) is cls
    assert isinstance(error, remedy.ClientError if status < 500 else remedy.ServerError)
    assert error.status_code == status
    assert error.entry is catalog[status]
    assert error.error is None
    assert catalog[status].exception is cls


@pytest.mark.parametrize(
    ("status", "fallback"),
    [
        (418, remedy.ClientError),
        (451, remedy.ClientError),
        (499, remedy.ClientError),
        (501, remedy.ServerError),
        (507, remedy.ServerError),
        (599, remedy.ServerError),
    ],
)
def test_unlisted_statuses_fall_back(
    status: int, fallback: type[remedy.HTTPError], clock: FakeClock
) -> None:
    error = fail_with(httpx.Response(status, text="I'm a teapot"), clock)
    assert type(error) is fallback
    assert error.status_code == status
    assert error.error is None
    assert error.entry.exception is fallback
    assert error.entry.fix in str(error)
    assert str(status) in str(error)


def test_401_invalid_client_is_both_classes(clock: FakeClock) -> None:
    response = httpx.Response(
        401,
        headers={"WWW-Authenticate": 'Basic realm="token"'},
        json={"error": "invalid_client", "error_description": "Client authentication failed"},
    )
    error = fail_with(response, clock, method="POST")
    assert isinstance(error, remedy.InvalidClient)
    assert isinstance(error, exc.Unauthorized)
    assert isinstance(error, remedy.OAuthError)
    assert isinstance(error, remedy.ClientError)
    assert not isinstance(error, remedy.BadRequest)
    assert error.entry is catalog["invalid_client"]
    assert error.error == "invalid_client"
    assert error.error_description == "Client authentication failed"


def test_400_invalid_client_is_both_classes(clock: FakeClock) -> None:
    response = httpx.Response(400, json={"error": "invalid_client"})
    error = fail_with(response, clock, method="POST")
    assert isinstance(error, remedy.InvalidClient)
    assert isinstance(error, remedy.BadRequest)
    assert not isinstance(error, exc.Unauthorized)
    with pytest.raises(remedy.BadRequest):
        raise error
    with pytest.raises(remedy.InvalidClient):
        raise error


def test_unknown_code_gives_the_status_class(clock: FakeClock) -> None:
    response = httpx.Response(
        400,
        json={"error": "missing_authorization", "error_description": "Send a token"},
    )
    error = fail_with(response, clock)
    assert isinstance(error, remedy.BadRequest)
    assert error.error == "missing_authorization"
    assert error.error_description == "Send a token"
    assert error.entry is catalog[400]
    assert "missing_authorization" in str(error)


def test_oauth_code_on_an_unlisted_status_keeps_the_fallback(clock: FakeClock) -> None:
    error = fail_with(httpx.Response(418, json={"error": "invalid_grant"}), clock)
    assert isinstance(error, remedy.InvalidGrant)
    assert isinstance(error, remedy.ClientError)
    assert error.entry is catalog["invalid_grant"]


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "500"), (400, "503"), (404, "429"), (422, "400")],
)
def test_numeric_body_code_does_not_change_the_statuss_entry(
    status: int, code: str, clock: FakeClock
) -> None:
    # Many APIs echo a number as "code"; it is not an OAuth code and must not swap the entry's
    # fix (a 400 is not "retry later") nor make a non-retryable status retried.
    response = httpx.Response(status, json={"code": code, "message": "Validation failed"})
    error = fail_with(response, clock, retry=remedy.Retry(budget=remedy.RetryBudget()))
    assert type(error) is STATUS_CLASSES[status]
    assert error.entry is catalog[status]
    assert catalog[status].fix in str(error)
    assert len(error.attempts) == 1
    assert clock.sleeps == []


def test_combined_classes_are_cached(clock: FakeClock) -> None:
    response = httpx.Response(401, json={"error": "invalid_client"})
    first = fail_with(response, clock)
    second = fail_with(httpx.Response(401, json={"error": "invalid_client"}), clock)
    assert type(first) is type(second)
    assert combine(remedy.InvalidClient, exc.Unauthorized) is type(first)
    assert type(first).__name__ == "InvalidClient"
    assert repr(first).startswith("InvalidClient(")
    other = fail_with(httpx.Response(400, json={"error": "invalid_client"}), clock)
    assert type(other) is not type(first)
    assert combine(remedy.InvalidClient, remedy.BadRequest) is type(other)


# ---- the attributes ------------------------------------------------------------------------


def test_attributes_of_an_oauth_error(clock: FakeClock) -> None:
    body = {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
        "error_uri": "https://auth.example.com/docs/errors#invalid_grant",
    }
    error = fail_with(httpx.Response(400, json=body), clock, method="POST")
    assert isinstance(error, remedy.InvalidGrant)
    assert error.request.method == "POST"
    assert error.request.url == URL
    assert error.response.status_code == 400
    assert error.response.json() == body
    assert b"Token has been expired" in error.response.content
    assert error.status_code == 400
    assert error.entry is catalog["invalid_grant"]
    assert error.error == "invalid_grant"
    assert error.error_description == "Token has been expired or revoked."
    assert error.error_uri == "https://auth.example.com/docs/errors#invalid_grant"
    assert error.retry_after is None
    assert error.problem is None
    assert isinstance(error.attempts, tuple)
    assert len(error.attempts) >= 1
    assert error.attempts[-1].status == 400
    assert error.attempts[-1].method == "POST"


def test_absent_members_are_none(clock: FakeClock) -> None:
    error = fail_with(httpx.Response(404), clock)
    assert error.error is None
    assert error.error_description is None
    assert error.error_uri is None
    assert error.retry_after is None
    assert error.problem is None
    assert error.response.content == b""


def test_error_uri_from_the_challenge(clock: FakeClock) -> None:
    headers = bearer(error="invalid_token", error_uri="https://auth.example.com/e/invalid_token")
    error = fail_with(httpx.Response(401, headers=headers), clock)
    assert isinstance(error, remedy.InvalidToken)
    assert error.error_uri == "https://auth.example.com/e/invalid_token"
    assert error.error_description is None


def test_attributes_of_a_rate_limit_error(mode: Mode, clock: FakeClock) -> None:
    response = httpx.Response(
        429,
        headers={"Retry-After": "7"},
        json={"error": {"code": 429, "message": "Slow down", "status": "RESOURCE_EXHAUSTED"}},
    )
    error = fail_with(response, clock, mode=mode)
    assert isinstance(error, remedy.TooManyRequests)
    assert error.retry_after == 7.0
    assert error.response.json()["error"]["message"] == "Slow down"
    assert error.attempts[-1].status == 429
    assert error.request.url == URL


def fake_date(clock: FakeClock, seconds: float, form: str) -> str:
    when = clock.time() + seconds
    if form == "imf":
        return email.utils.formatdate(when, usegmt=True)
    if form == "rfc850":
        return time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(when))
    return time.asctime(time.gmtime(when))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": " 120 "}, 120.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"x-ms-retry-after-ms": "250"}, 0.25),
        ({"Retry-After": "-5"}, None),
        ({"Retry-After": "1e400"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "x" * 4 * KIB}, None),
        ({"Retry-After": "9" * 400}, None),
        ({}, None),
    ],
    ids=lambda v: repr(v)[:40],
)
@pytest.mark.parametrize("status", [429, 503])
def test_retry_after(
    status: int, headers: dict[str, str], expected: float | None, clock: FakeClock
) -> None:
    error = fail_with(httpx.Response(status, headers=headers), clock)
    assert type(error) is STATUS_CLASSES[status]
    assert error.retry_after == expected
    assert error.retry_after is None or isinstance(error.retry_after, float)


@pytest.mark.parametrize("form", ["imf", "rfc850", "asctime"])
def test_retry_after_http_date(form: str, clock: FakeClock) -> None:
    headers = {"Retry-After": fake_date(clock, 30, form)}
    error = fail_with(httpx.Response(503, headers=headers), clock)
    assert isinstance(error, remedy.ServiceUnavailable)
    assert error.retry_after == pytest.approx(30.0)


def test_retry_after_date_in_the_past_is_zero(clock: FakeClock) -> None:
    headers = {"Retry-After": "Sun, 06 Nov 1994 08:49:37 GMT"}
    error = fail_with(httpx.Response(429, headers=headers), clock)
    assert error.retry_after == 0.0


def test_retry_after_is_in_the_message(clock: FakeClock) -> None:
    error = fail_with(httpx.Response(429, headers={"Retry-After": "7"}), clock)
    assert "7s" in str(error)


def test_problem_details(clock: FakeClock) -> None:
    body = {
        "type": "https://example.com/probs/out-of-credit",
        "title": "You do not have enough credit.",
        "status": 403,
        "detail": "Your current balance is 30, but that costs 50.",
        "instance": "/account/12345/msgs/abc",
        "balance": 30,
    }
    response = httpx.Response(403, headers={"Content-Type": "application/problem+json"}, json=body)
    error = fail_with(response, clock)
    assert isinstance(error, remedy.Forbidden)
    assert error.problem is not None
    assert dict(error.problem) == body
    assert "Your current balance is 30" in str(error)


def test_problem_members_of_the_wrong_type_are_dropped(clock: FakeClock) -> None:
    body = {"type": 5, "title": "Bad", "status": "400", "detail": ["x"]}
    response = httpx.Response(400, headers={"Content-Type": "application/problem+json"}, json=body)
    error = fail_with(response, clock)
    assert error.problem is not None
    assert dict(error.problem) == {"title": "Bad"}


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(400, json={"error": "invalid_request"}),
        httpx.Response(400, text="plain words"),
        httpx.Response(400, html="<html><title>Bad</title></html>"),
        httpx.Response(400),
    ],
    ids=["oauth-json", "text", "html", "empty"],
)
def test_problem_is_none_for_other_bodies(response: httpx.Response, clock: FakeClock) -> None:
    assert fail_with(response, clock).problem is None


@pytest.mark.parametrize(
    ("allow", "expected"),
    [
        ("GET, HEAD", ("GET", "HEAD")),
        ("get,head", ("GET", "HEAD")),
        ("", ()),
        ("POST", ("POST",)),
    ],
)
def test_method_not_allowed_lists_the_methods(
    allow: str, expected: tuple[str, ...], clock: FakeClock
) -> None:
    error = fail_with(httpx.Response(405, headers={"Allow": allow}), clock, method="DELETE")
    assert isinstance(error, remedy.MethodNotAllowed)
    assert error.allowed_methods == expected


def test_method_not_allowed_with_repeated_allow_headers(clock: FakeClock) -> None:
    response = httpx.Response(405, headers=[("Allow", "GET"), ("Allow", "HEAD, OPTIONS")])
    error = fail_with(response, clock, method="POST")
    assert error.allowed_methods == ("GET", "HEAD", "OPTIONS")  # type: ignore[attr-defined]


def test_method_not_allowed_from_error_response(clock: FakeClock) -> None:
    error = fail_with(httpx.Response(**error_response(405)), clock, method="POST")
    assert error.allowed_methods == ("GET", "HEAD")  # type: ignore[attr-defined]


def test_insufficient_scope_from_the_challenge(clock: FakeClock) -> None:
    headers = bearer(error="insufficient_scope", scope="admin")
    error = fail_with(httpx.Response(403, headers=headers), clock)
    assert isinstance(error, remedy.InsufficientScope)
    assert isinstance(error, remedy.Forbidden)
    assert error.scope == "admin"


def test_insufficient_scope_from_the_body(clock: FakeClock) -> None:
    body = {"error": "insufficient_scope", "scope": "admin", "error_description": "Need admin"}
    error = fail_with(httpx.Response(403, json=body), clock)
    assert isinstance(error, remedy.InsufficientScope)
    assert error.scope == "admin"
    assert error.error_description == "Need admin"


def test_insufficient_scope_from_error_response(clock: FakeClock) -> None:
    response = httpx.Response(**error_response("insufficient_scope", scope="files:write"))
    error = fail_with(response, clock)
    assert isinstance(error, remedy.InsufficientScope)
    assert error.scope == "files:write"


def test_insufficient_scope_without_a_scope(clock: FakeClock) -> None:
    error = fail_with(httpx.Response(403, headers=bearer(error="insufficient_scope")), clock)
    assert isinstance(error, remedy.InsufficientScope)
    assert error.scope is None


def test_insufficient_user_authentication(clock: FakeClock) -> None:
    headers = {
        "WWW-Authenticate": 'Bearer error="insufficient_user_authentication", '
        'error_description="A different authentication level is required", '
        'acr_values="urn:a urn:b", max_age=5'
    }
    error = fail_with(httpx.Response(401, headers=headers), clock)
    assert isinstance(error, remedy.InsufficientUserAuthentication)
    assert isinstance(error, exc.Unauthorized)
    assert error.acr_values == ("urn:a", "urn:b")
    assert error.max_age == 5
    assert error.error_description == "A different authentication level is required"


def test_insufficient_user_authentication_without_parameters(clock: FakeClock) -> None:
    headers = {"WWW-Authenticate": 'Bearer error="insufficient_user_authentication"'}
    error = fail_with(httpx.Response(401, headers=headers), clock)
    assert isinstance(error, remedy.InsufficientUserAuthentication)
    assert error.acr_values == ()
    assert error.max_age is None


def test_use_dpop_nonce_at_the_resource_server(clock: FakeClock) -> None:
    headers = {
        "WWW-Authenticate": 'DPoP error="use_dpop_nonce", '
        'error_description="Resource server requires nonce in DPoP proof"',
        "DPoP-Nonce": "eyJ7S_zG.eyJH0-Z.HX4w-7v",
    }
    error = fail_with(httpx.Response(401, headers=headers), clock)
    assert isinstance(error, remedy.UseDPoPNonce)
    assert error.dpop_nonce == "eyJ7S_zG.eyJH0-Z.HX4w-7v"


def test_use_dpop_nonce_at_the_token_endpoint(clock: FakeClock) -> None:
    response = httpx.Response(
        400,
        headers={"DPoP-Nonce": "nonce-123"},
        json={
            "error": "use_dpop_nonce",
            "error_description": "Authorization server requires nonce",
        },
    )
    error = fail_with(response, clock, method="POST")
    assert isinstance(error, remedy.UseDPoPNonce)
    assert isinstance(error, remedy.BadRequest)
    assert error.dpop_nonce == "nonce-123"


def test_use_dpop_nonce_without_the_header(clock: FakeClock) -> None:
    error = fail_with(httpx.Response(400, json={"error": "use_dpop_nonce"}), clock)
    assert error.dpop_nonce is None  # type: ignore[attr-defined]


def test_challenge_wins_over_the_body(clock: FakeClock) -> None:
    response = httpx.Response(
        401,
        headers=bearer(error="invalid_token", error_description="expired"),
        json={"error": "invalid_request", "error_description": "body words"},
    )
    error = fail_with(response, clock)
    assert isinstance(error, remedy.InvalidToken)
    assert error.error_description == "expired"


def test_attempts_record_retries(clock: FakeClock) -> None:
    responses = iter([httpx.Response(503), httpx.Response(503), httpx.Response(503)])
    error = fail_with(
        lambda request: next(responses),
        clock,
        retry=remedy.Retry(budget=remedy.RetryBudget()),
    )
    assert isinstance(error, remedy.ServiceUnavailable)
    assert [a.status for a in error.attempts] == [503, 503, 503]
    assert [a.action for a in error.attempts] == ["retry", "retry", "raise"]
    assert remedy.attempts_of(error) == error.attempts


# ---- str(e) ---------------------------------------------------------------------------------


def test_message_has_everything(clock: FakeClock) -> None:
    body = {"error": "invalid_grant", "error_description": "Refresh token revoked"}
    error = fail_with(
        httpx.Response(400, json=body),
        clock,
        method="POST",
        url="https://auth.example.com/oauth/token?api_key=k3y-V4LUE&tenant=acme",
    )
    text = str(error)
    assert_one_line(text)
    assert "400" in text
    assert "Bad Request" in text
    assert "POST" in text
    assert "https://auth.example.com/oauth/token?api_key=[redacted]&tenant=[redacted]" in text
    assert "k3y-V4LUE" not in text
    assert "acme" not in text
    assert "invalid_grant" in text
    assert "Refresh token revoked" in text
    assert catalog["invalid_grant"].fix in text


NASTY_WORDS = [
    "line one\nline two",
    "carriage\rreturn",
    "crlf\r\n injected: header",
    "nul\x00byte and bell\x07",
    "escape \x1b[31mred\x1b[0m",
    "unicode\u2028line\u2029separators",
    "next\x85line",
    "vertical\x0btab\x0cfeed",
    "file\x1cgroup\x1drecord\x1e",
    "\n\n\n",
]


@pytest.mark.parametrize("words", NASTY_WORDS, ids=repr)
def test_message_is_one_line_for_a_body_description(words: str, clock: FakeClock) -> None:
    body = {"error": "invalid_request", "error_description": words}
    error = fail_with(httpx.Response(400, json=body), clock)
    assert_one_line(str(error))
    assert_one_line(repr(error))
    for attempt in error.attempts:
        assert_one_line(str(attempt))


@pytest.mark.parametrize("words", NASTY_WORDS, ids=repr)
def test_message_is_one_line_for_a_text_body(words: str, clock: FakeClock) -> None:
    error = fail_with(httpx.Response(500, text=words + "\nmore"), clock)
    assert isinstance(error, remedy.InternalServerError)
    assert_one_line(str(error))


@pytest.mark.parametrize("words", NASTY_WORDS, ids=repr)
def test_message_is_one_line_for_an_html_title(words: str, clock: FakeClock) -> None:
    page = f"<html><head><title>{words}</title></head><body>x</body></html>"
    error = fail_with(httpx.Response(502, html=page), clock)
    assert isinstance(error, remedy.BadGateway)
    assert_one_line(str(error))


def test_message_is_one_line_for_a_challenge_and_reason() -> None:
    response = httpx.Response(
        401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token", error_description="a\\\nb"'},
        extensions={"reason_phrase": b"Unauth\r\norized"},
        request=httpx.Request("GET", URL),
    )
    with pytest.raises(remedy.InvalidToken) as caught:
        remedy.raise_for_status(response)
    assert_one_line(str(caught.value))


def test_message_is_bounded(clock: FakeClock) -> None:
    body = {"error": "invalid_request", "error_description": "word " * 10_000}
    error = fail_with(httpx.Response(400, json=body), clock)
    assert len(str(error)) <= 2000
    assert_one_line(str(error))


# ---- secrets ----------------------------------------------------------------------------------

TOKEN = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2Vu.SiGnAtUrE"
COOKIE = "sessionid=c00k1e-S3CR3T"
PASSWORD = "hunter2-PASSWORD"
QUERY_TOKEN = "qT0ken-SECRET-value"
SECRET_URL = f"https://alice:{PASSWORD}@api.example.com/v1/items?access_token={QUERY_TOKEN}&page=2"
SECRET_HEADERS = {"Authorization": f"Bearer {TOKEN}", "Cookie": COOKIE}
SECRETS = [TOKEN, "c00k1e-S3CR3T", PASSWORD, QUERY_TOKEN]


def assert_no_secrets(error: remedy.HTTPError) -> None:
    shown = [str(error), repr(error)]
    shown += [str(attempt) for attempt in error.attempts]
    shown += [repr(attempt) for attempt in error.attempts]
    shown += [str(attempt.url) for attempt in error.attempts]
    for text in shown:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked in {text!r}"
    assert "access_token=[redacted]" in str(error)


SECRET_CASES = {
    "401-invalid-token": lambda request: httpx.Response(
        401, headers=bearer(error="invalid_token", error_description="The access token expired")
    ),
    "503-retried": lambda request: httpx.Response(503, headers={"Retry-After": "1"}),
    "400-invalid-grant": lambda request: httpx.Response(400, json={"error": "invalid_grant"}),
}


@pytest.mark.parametrize("handler", SECRET_CASES.values(), ids=SECRET_CASES.keys())
def test_no_secret_in_str_repr_or_attempts(mode: Mode, handler: Any, clock: FakeClock) -> None:
    error = fail_with(
        handler,
        clock,
        mode=mode,
        url=SECRET_URL,
        headers=SECRET_HEADERS,
        retry=remedy.Retry(budget=remedy.RetryBudget()),
    )
    assert_no_secrets(error)
    if error.status_code == 503:
        assert len(error.attempts) == 3


def test_no_secret_through_raise_for_status() -> None:
    request = httpx.Request("GET", SECRET_URL, headers=SECRET_HEADERS)
    response = httpx.Response(401, headers=bearer(error="invalid_token"), request=request)
    with pytest.raises(remedy.InvalidToken) as caught:
        remedy.raise_for_status(response)
    assert_no_secrets(caught.value)


# ---- robustness ---------------------------------------------------------------------------

MALFORMED = {
    "broken-json": (400, {"Content-Type": "application/json"}, b'{"error": "invalid_grant", '),
    "json-as-text": (
        400,
        {"Content-Type": "text/plain"},
        b'{"error": "invalid_grant", "error_description": "dead"}',
    ),
    "html-as-json": (502, {"Content-Type": "application/json"}, b"<html><title>Oops</title>"),
    "invalid-utf8": (400, {"Content-Type": "application/json; charset=utf-8"}, b'\xff\xfe{"\xc3'),
    "invalid-utf8-text": (500, {"Content-Type": "text/plain"}, b"\x80\x81\xfe\xff error"),
    "unknown-charset": (400, {"Content-Type": "text/plain; charset=no-such-charset"}, b"bad"),
    "json-null": (404, {"Content-Type": "application/json"}, b"null"),
    "json-array": (422, {"Content-Type": "application/json"}, b"[1, 2, {}]"),
    "deep-json": (400, {"Content-Type": "application/json"}, b"[" * 100_000 + b"]" * 100_000),
    "huge-int": (400, {"Content-Type": "application/json"}, b'{"code": ' + b"9" * 5000 + b"}"),
    "binary": (500, {"Content-Type": "application/octet-stream"}, bytes(range(256)) * 10),
    "empty-json": (503, {"Content-Type": "application/json"}, b""),
    "bad-content-type": (404, {"Content-Type": ";;;===\"'"}, b"{}"),
    "wrong-types": (
        400,
        {"Content-Type": "application/json"},
        b'{"error": 5, "error_description": {"a": 1}, "error_uri": [1]}',
    ),
    "error-is-prose": (400, {"Content-Type": "application/json"}, b'{"error": "Not Found"}'),
    "garbage-challenge": (401, {"WWW-Authenticate": 'Bearer error="", ,,, ="x" \\'}, b""),
    "garbage-allow": (405, {"Allow": ",,, \x00 ,"}, b""),
    "garbage-ratelimit": (
        429,
        {"RateLimit": '"x";r=;t=-1', "X-RateLimit-Reset": "1e999", "Retry-After": "nan"},
        b"",
    ),
}


@pytest.mark.parametrize("case", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_responses_still_map_to_the_status(
    mode: Mode, case: tuple, clock: FakeClock
) -> None:
    status, headers, body = case
    error = fail_with(httpx.Response(status, headers=headers, content=body), clock, mode=mode)
    status_class = STATUS_CLASSES[status]
    assert isinstance(error, status_class)
    assert error.status_code == status
    assert_one_line(str(error))
    assert error.retry_after is None


def test_json_sent_as_text_is_still_read(clock: FakeClock) -> None:
    _, headers, body = MALFORMED["json-as-text"]
    error = fail_with(httpx.Response(400, headers=headers, content=body), clock)
    assert isinstance(error, remedy.InvalidGrant)
    assert error.error_description == "dead"


def test_html_sent_as_json_still_gives_its_title(clock: FakeClock) -> None:
    _, headers, body = MALFORMED["html-as-json"]
    error = fail_with(httpx.Response(502, headers=headers, content=body), clock)
    assert error.server_message == "Oops"


@pytest.mark.parametrize("max_error_body", [None, 1024, 0])
def test_huge_body_is_read_only_up_to_the_limit(
    mode: Mode, max_error_body: int | None, clock: FakeClock
) -> None:
    stream = CountingStream()  # 10 MiB
    options = {} if max_error_body is None else {"max_error_body": max_error_body}
    limit = 64 * KIB if max_error_body is None else max_error_body
    response = httpx.Response(500, headers={"Content-Type": "application/json"}, stream=stream)
    error = fail_with(response, clock, mode=mode, **options)
    assert isinstance(error, remedy.InternalServerError)
    assert len(error.response.content) <= limit
    assert stream.pulled < 10 * 1024 * KIB // 4
    assert stream.closed


def test_huge_in_memory_body_is_cut(clock: FakeClock) -> None:
    body = b'{"error": "invalid_request", "error_description": "' + b"x" * (10 * 1024 * KIB)
    error = fail_with(httpx.Response(400, content=body), clock)
    assert isinstance(error, remedy.BadRequest)
    assert len(error.response.content) <= 64 * KIB
    error = fail_with(httpx.Response(400, content=body), clock, max_error_body=1024)
    assert len(error.response.content) <= 1024


def test_huge_body_through_raise_for_status() -> None:
    stream = CountingStream()
    request = httpx.Request("GET", URL)
    response = httpx.Response(503, stream=stream, request=request)
    with pytest.raises(remedy.ServiceUnavailable) as caught:
        remedy.raise_for_status(response)
    assert len(caught.value.response.content) <= 64 * KIB
    assert stream.pulled < 10 * 1024 * KIB // 4


def test_gzip_error_body_is_decoded(clock: FakeClock) -> None:
    import gzip
    import json

    body = json.dumps({"error": "invalid_grant", "error_description": "zipped"}).encode()
    response = httpx.Response(
        400,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        content=gzip.compress(body),
    )
    error = fail_with(response, clock)
    assert isinstance(error, remedy.InvalidGrant)
    assert error.error_description == "zipped"
    assert error.response.json()["error"] == "invalid_grant"


# A proxy's HTML page under the upstream's Content-Encoding: the body does not decode.
MISLABELLED = {"Content-Encoding": "gzip", "Content-Type": "text/html"}
NOT_GZIP = b"<html><title>502 Bad Gateway</title></html>"


def test_body_that_does_not_decode_still_gives_the_typed_error(
    mode: Mode, clock: FakeClock
) -> None:
    response = httpx.Response(502, headers=MISLABELLED, stream=CountingStream(NOT_GZIP, chunks=1))
    error = fail_with(response, clock, mode=mode)
    assert isinstance(error, remedy.BadGateway)
    assert error.status_code == 502
    assert_one_line(str(error))


def test_body_that_does_not_decode_through_raise_for_status() -> None:
    request = httpx.Request("GET", URL)
    response = httpx.Response(
        400, headers=MISLABELLED, stream=CountingStream(NOT_GZIP, chunks=1), request=request
    )
    with pytest.raises(remedy.BadRequest):
        remedy.raise_for_status(response)


def test_absurd_retry_after_with_retries_still_waits_a_sane_time(clock: FakeClock) -> None:
    headers = {"Retry-After": "1e400", "retry-after-ms": "-5"}
    error = fail_with(
        httpx.Response(429, headers=headers),
        clock,
        retry=remedy.Retry(budget=remedy.RetryBudget()),
    )
    assert isinstance(error, remedy.TooManyRequests)
    assert len(clock.sleeps) == 2
    assert all(0 <= s <= 60 for s in clock.sleeps)


HEADER_NAMES = st.sampled_from(
    [
        "Content-Type",
        "Retry-After",
        "retry-after-ms",
        "x-ms-retry-after-ms",
        "WWW-Authenticate",
        "Allow",
        "DPoP-Nonce",
        "RateLimit",
        "RateLimit-Policy",
        "RateLimit-Reset",
        "X-RateLimit-Reset",
        "X-Custom",
    ]
)
HEADER_VALUES = st.one_of(
    st.text(alphabet=st.characters(codec="latin-1"), max_size=200),
    st.sampled_from(
        [
            "application/json",
            "application/problem+json",
            "application/x-www-form-urlencoded",
            "text/html",
            "application/xml",
            "text/plain; charset=utf-16",
            'Bearer error="invalid_token", error_description="x"',
            'Bearer error="insufficient_scope", scope="a b"',
            'DPoP error="use_dpop_nonce"',
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "-1",
            "1e400",
            "NaN",
        ]
    ),
)
BODIES = st.one_of(
    st.binary(max_size=2000),
    st.sampled_from(
        [
            b'{"error": "invalid_grant"}',
            b'{"error": {"code": 7, "message": "m"}}',
            b"error=invalid_client&error_description=a%0Ab",
            b"<html><title>t</title></html>",
            b"<?xml version='1.0'?><Error><Code>X</Code><Message>M</Message></Error>",
            b'[{"message": "x"}]',
            b'{"type": "about:blank", "status": 400}',
        ]
    ),
    st.text(max_size=500).map(str.encode),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=st.integers(400, 599),
    headers=st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=6),
    body=BODIES,
)
def test_anything_a_server_sends_maps_to_the_status(
    status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    raw_headers = [(name.encode(), value.encode("latin-1")) for name, value in headers]
    request = httpx.Request("GET", URL)
    response = httpx.Response(status, headers=raw_headers, content=body, request=request)
    with pytest.raises(remedy.HTTPError) as caught:
        remedy.raise_for_status(response)
    error = caught.value
    assert error.status_code == status
    assert isinstance(error, catalog.for_status(status).exception)
    assert isinstance(error, remedy.ClientError if status < 500 else remedy.ServerError)
    assert_one_line(str(error))
    assert error.retry_after is None or 0 <= error.retry_after < float("inf")
    assert error.attempts[-1].status == status
