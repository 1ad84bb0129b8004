"""The transports' basics: success untouched, raise_errors, raise_for_status, construction, wrap.

A test that takes the ``mode`` fixture runs with the sync transport and the async one under
asyncio and trio.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy.testing import error_response

from .helpers import FakeClock, Mode, sync_client

URL = "https://api.example.com/v1/items"
OAUTH_BODY = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}


class RecordingStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that records whether anyone iterated or closed it."""

    def __init__(self, body: bytes = b'{"ok": true}') -> None:
        self.body = body
        self.iterated = False
        self.closed = False
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        self.iterated = True
        yield self.body

    def __aiter__(self) -> RecordingStream:
        self.iterated = True
        self._done = False
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        self._done = True
        return self.body

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


class FakeTransport(httpx.BaseTransport):
    def __init__(self) -> None:
        self.closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(204)

    def close(self) -> None:
        self.closed = True


class FakeAsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(204)

    async def aclose(self) -> None:
        self.closed = True


def respond(status: int, **kwargs: Any) -> Callable[[httpx.Request], httpx.Response]:
    """A handler that answers every request with ``httpx.Response(status, **kwargs)``."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, **kwargs)

    return handler


def mock(status: int = 200, **kwargs: Any) -> httpx.MockTransport:
    return httpx.MockTransport(respond(status, **kwargs))


# ---- a success is never read ----------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 204, 206, 299])
def test_success_is_not_read_by_the_transport(mode: Mode, status: int, clock: FakeClock) -> None:
    stream = RecordingStream()
    handler = respond(status, headers={"Content-Type": "application/json"}, stream=stream)
    with mode.client(handler, clock) as client, client.stream("GET", URL) as response:
        assert response.status_code == status
        assert not stream.iterated
        assert not response.is_stream_consumed
        assert mode.read(response) == b'{"ok": true}'
        assert stream.iterated
    assert clock.sleeps == []


def test_success_with_a_broken_json_body_is_not_parsed(clock: FakeClock) -> None:
    handler = respond(200, headers={"Content-Type": "application/json"}, content=b"{not json")
    with sync_client(handler, clock) as client:
        response = client.get(URL)
    assert response.status_code == 200
    assert response.content == b"{not json"


@pytest.mark.parametrize("status", [301, 302, 304, 307, 308])
def test_redirects_and_not_modified_pass_through(mode: Mode, status: int, clock: FakeClock) -> None:
    stream = RecordingStream(b"")
    headers = {"Location": "https://api.example.com/elsewhere", "ETag": '"abc"'}
    handler = respond(status, headers=headers, stream=stream)
    with mode.client(handler, clock) as client, client.stream("GET", URL) as response:
        assert response.status_code == status
        assert response.headers["ETag"] == '"abc"'
        assert not stream.iterated


def test_success_response_is_the_wrapped_transports(clock: FakeClock) -> None:
    sent = httpx.Response(200, headers={"X-Trace": "t-1"}, content=b"hello")
    with sync_client(lambda request: sent, clock) as client:
        response = client.get(URL)
    assert response.headers["X-Trace"] == "t-1"
    assert response.content == b"hello"


# ---- raise_errors=False -------------------------------------------------------------------------


@pytest.mark.parametrize("retry", [None, "default"])
@pytest.mark.parametrize("status", [400, 401, 404, 422, 499])
def test_raise_errors_false_returns_the_response_unread(
    mode: Mode, status: int, retry: str | None, clock: FakeClock
) -> None:
    stream = RecordingStream(b'{"error": "invalid_request"}')
    handler = respond(status, stream=stream)
    options: dict[str, Any] = {"raise_errors": False}
    if retry is None:
        options["retry"] = None
    with mode.client(handler, clock, **options) as client, client.stream("GET", URL) as response:
        assert response.status_code == status
        assert not stream.iterated
        assert mode.read(response) == b'{"error": "invalid_request"}'


def test_raise_errors_false_returns_a_503_without_retrying_when_retry_is_off(
    clock: FakeClock,
) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(**error_response(503))

    with sync_client(handler, clock, raise_errors=False, retry=None) as client:
        response = client.get(URL)
    assert response.status_code == 503
    assert len(calls) == 1
    assert clock.sleeps == []


def test_raise_errors_false_then_raise_for_status(clock: FakeClock) -> None:
    handler = respond(400, json=OAUTH_BODY)
    with sync_client(handler, clock, raise_errors=False, retry=None) as client:
        response = client.get(URL)
    with pytest.raises(remedy.InvalidGrant) as caught:
        remedy.raise_for_status(response)
    assert caught.value.error_description == OAUTH_BODY["error_description"]


# ---- raise_for_status / araise_for_status -----------------------------------------------------


def test_raise_for_status_from_an_event_hook(mode: Mode) -> None:
    seen: list[bool] = []

    def record(response: httpx.Response) -> None:
        seen.append(response.is_stream_consumed)

    body = json.dumps(OAUTH_BODY).encode()
    transport = mock(400, stream=RecordingStream(body))
    hooks = {"response": [mode.hook(record), mode.raise_for_status]}
    with (
        mode.wrap(transport, event_hooks=hooks) as client,
        pytest.raises(remedy.InvalidGrant) as caught,
    ):
        client.post("https://auth.example.com/token", data={"grant_type": "refresh_token"})
    assert seen == [False]  # the hook got the body unread
    error = caught.value
    assert isinstance(error, remedy.BadRequest)
    assert error.error == "invalid_grant"
    assert error.error_description == "Token has been expired or revoked."
    assert error.entry is remedy.catalog["invalid_grant"]
    assert error.response.json()["error"] == "invalid_grant"
    assert error.attempts[-1].status == 400
    assert error.request.method == "POST"


@pytest.mark.parametrize("status", [200, 201, 204, 301, 304, 399])
def test_raise_for_status_returns_the_response_below_400(mode: Mode, status: int) -> None:
    response = httpx.Response(status, request=httpx.Request("GET", URL))
    assert mode.run(mode.raise_for_status, response) is response


def test_raise_for_status_in_a_hook_passes_success_through(mode: Mode) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="fine"))
    with mode.wrap(transport, event_hooks={"response": [mode.raise_for_status]}) as c:
        assert c.get(URL).text == "fine"


@pytest.mark.parametrize(
    "code", [400, 401, 404, 405, 429, 500, 503, "invalid_grant", "invalid_token", "invalid_client"]
)
def test_raise_for_status_raises_what_the_transport_raises(
    code: int | str, clock: FakeClock
) -> None:
    kwargs = error_response(code, description="Server words here")
    with (
        sync_client(lambda request: httpx.Response(**kwargs), clock, retry=None) as client,
        pytest.raises(remedy.HTTPError) as via_transport,
    ):
        client.get(URL)
    response = httpx.Response(**kwargs, request=httpx.Request("GET", URL))
    with pytest.raises(remedy.HTTPError) as via_function:
        remedy.raise_for_status(response)
    a, b = via_transport.value, via_function.value
    assert type(a) is type(b)
    assert a.entry is b.entry
    assert (a.error, a.error_description, a.retry_after) == (
        b.error,
        b.error_description,
        b.retry_after,
    )
    assert a.server_message == b.server_message
    assert str(a) == str(b)


def test_raise_for_status_reads_at_most_64_kib() -> None:
    request = httpx.Request("GET", URL)
    response = httpx.Response(500, stream=RecordingStream(b"x" * (1024 * 1024)), request=request)
    with pytest.raises(remedy.InternalServerError) as caught:
        remedy.raise_for_status(response)
    assert len(caught.value.response.content) <= 64 * 1024


@pytest.mark.anyio
async def test_araise_for_status_reads_an_unread_async_body() -> None:
    stream = RecordingStream(b'{"error": "invalid_token", "error_description": "expired"}')
    response = httpx.Response(401, stream=stream, request=httpx.Request("GET", URL))
    with pytest.raises(remedy.InvalidToken) as caught:
        await remedy.araise_for_status(response)
    assert caught.value.error_description == "expired"
    assert stream.iterated


# ---- construction and closing -------------------------------------------------------------


def test_default_wrapped_transport_is_httpx_own(mode: Mode) -> None:
    transport = mode.transport()
    try:
        assert type(transport.transport) is type(mode.network())
    finally:
        mode.close(transport)


@pytest.mark.parametrize("inner", [FakeTransport, lambda: mock(204)])
def test_wraps_any_base_transport(inner: Any) -> None:
    wrapped = inner()
    transport = remedy.RemedyTransport(wrapped)
    assert transport.transport is wrapped
    assert isinstance(transport, httpx.BaseTransport)
    with httpx.Client(transport=transport) as client:
        assert client.get(URL).status_code == 204


def fake_inner(mode: Mode) -> FakeTransport | FakeAsyncTransport:
    """A transport of the mode's kind that answers 204 and remembers being closed."""
    return FakeAsyncTransport() if mode.is_async else FakeTransport()


def other_kind(mode: Mode) -> FakeTransport | FakeAsyncTransport:
    return FakeTransport() if mode.is_async else FakeAsyncTransport()


@pytest.mark.parametrize(
    "wrong", ["https://api.example.com", object(), 42, other_kind, httpx.Client]
)
def test_wrong_transport_type_is_a_type_error(mode: Mode, wrong: object) -> None:
    if wrong is other_kind:
        wrong = other_kind(mode)
    with pytest.raises(TypeError, match="transport must be an httpx"):
        mode.remedy_transport(wrong)


def test_close_closes_the_wrapped_transport(mode: Mode) -> None:
    inner = fake_inner(mode)
    mode.close(mode.transport(inner))
    assert inner.closed


def test_closing_the_client_closes_the_wrapped_transport(mode: Mode) -> None:
    inner = fake_inner(mode)
    with mode.wrap(mode.transport(inner)) as client:
        assert client.get(URL).status_code == 204
    assert inner.closed


def test_transport_repr_and_retry() -> None:
    transport = remedy.RemedyTransport(FakeTransport(), retry=None)
    assert transport.retry is None
    assert "RemedyTransport" in repr(transport)
    policy = remedy.Retry(max_attempts=5)
    assert remedy.RemedyTransport(FakeTransport(), retry=policy).retry is policy
    assert isinstance(remedy.RemedyTransport(FakeTransport()).retry, remedy.Retry)


@pytest.mark.parametrize("bad", [-1, 1.5, "64", True])
def test_bad_max_error_body(bad: object) -> None:
    with pytest.raises(ValueError, match="max_error_body"):
        remedy.RemedyTransport(FakeTransport(), max_error_body=bad)  # type: ignore[arg-type]


def test_bad_retry_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        remedy.RemedyTransport(FakeTransport(), retry=3)  # type: ignore[arg-type]


# ---- wrap --------------------------------------------------------------------------------------


def test_wrap_client_in_place(mode: Mode) -> None:
    client = mode.httpx_client(
        transport=mock(503, headers={"Retry-After": "1"}),
        mounts={
            "https://other.example": mock(401, json={"error": "invalid_token"}),
            "all://blocked.example": None,
        },
    )
    kind = mode.remedy_transport
    with client:
        assert remedy.wrap(client.httpx, retry=None) is client.httpx
        with pytest.raises(remedy.ServiceUnavailable) as caught:
            client.get(URL)
        assert len(caught.value.attempts) == 1  # retry=None: not retried
        with pytest.raises(remedy.InvalidToken):
            client.get("https://other.example/x")
        assert isinstance(client.transport, kind)
        for pattern, transport in client.httpx._mounts.items():
            if transport is None:
                assert pattern.pattern == "all://blocked.example"
            else:
                assert isinstance(transport, kind)
                assert transport.retry is None


def test_wrap_is_idempotent(mode: Mode) -> None:
    client = mode.httpx_client(
        transport=mock(404), mounts={"https://other.example": mock(500)}
    ).httpx
    kind = mode.remedy_transport
    remedy.wrap(client)
    first = client._transport
    mounted = list(client._mounts.values())
    assert remedy.wrap(client) is client
    assert client._transport is first
    assert list(client._mounts.values()) == mounted
    for transport in [client._transport, *client._mounts.values()]:
        assert isinstance(transport, kind)
        assert not isinstance(transport.transport, kind)


def test_wrap_default_client_transport() -> None:
    with httpx.Client() as client:
        remedy.wrap(client)
        assert isinstance(client._transport, remedy.RemedyTransport)
        assert isinstance(client._transport.transport, httpx.HTTPTransport)


@pytest.mark.parametrize(
    "not_a_client", [object(), None, "client", mock(200), remedy.RemedyTransport(FakeTransport())]
)
def test_wrap_rejects_non_clients(not_a_client: object) -> None:
    with pytest.raises(TypeError):
        remedy.wrap(not_a_client)  # type: ignore[call-overload]
