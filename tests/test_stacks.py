"""httpx and httpx2 side by side in one process: the same library serves both.

The whole suite also runs with ``httpx2.alias_httpx()`` (``.ci/run`` does it), which makes every
``import httpx`` load httpx2; these tests cover the other case, both stacks imported at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy.testing import OAuthServer, error_response, no_wait

httpx2 = pytest.importorskip("httpx2")
pytestmark = pytest.mark.skipif(
    httpx is httpx2, reason="httpx is aliased to httpx2: there is only one stack"
)


def test_the_error_is_each_stacks_http_status_error() -> None:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(**error_response("invalid_token"))

    transport = remedy.RemedyTransport(httpx2.MockTransport(answer), retry=None)
    with (
        httpx2.Client(transport=transport) as client,
        pytest.raises(httpx2.HTTPStatusError) as caught,
    ):
        client.get("https://api.example.com/items")
    error = caught.value
    assert isinstance(error, remedy.InvalidToken)
    assert isinstance(error, remedy.Unauthorized)
    assert isinstance(error, httpx.HTTPStatusError)
    # What the library builds for an httpx2 request is httpx2's.
    assert type(error.response) is httpx2.Response
    assert type(error.request) is httpx2.Request
    assert error.response.json()["error"] == "invalid_token"
    assert error.error_description == remedy.catalog["invalid_token"].description


def test_httpx_errors_are_httpx2_errors_too() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    transport = remedy.RemedyTransport(httpx.MockTransport(answer), retry=None)
    with (
        httpx.Client(transport=transport) as client,
        pytest.raises(httpx2.HTTPStatusError) as caught,
    ):
        client.get("https://api.example.com/nothing")
    assert type(caught.value.response) is httpx.Response


def test_retries_and_transport_errors_on_httpx2() -> None:
    calls: list[httpx2.Request] = []

    def flaky(request: httpx2.Request) -> httpx2.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx2.ConnectError("refused", request=request)
        if len(calls) == 2:
            return httpx2.Response(503, headers={"Retry-After": "0"})
        return httpx2.Response(200, json={"ok": True})

    policy = remedy.Retry(budget=remedy.RetryBudget(), max_attempts=3)
    transport = remedy.RemedyTransport(httpx2.MockTransport(flaky), retry=policy)
    with httpx2.Client(transport=transport) as client, no_wait():
        assert client.post("https://api.example.com/items", json={}).json() == {"ok": True}
    assert len(calls) == 3


def test_a_one_shot_httpx2_body_is_never_replayed() -> None:
    def answer(request: httpx2.Request) -> httpx2.Response:
        request.read()
        return httpx2.Response(503)

    def body() -> Iterator[bytes]:
        yield b"once"

    policy = remedy.Retry(budget=remedy.RetryBudget())
    transport = remedy.RemedyTransport(httpx2.MockTransport(answer), retry=policy)
    with (
        httpx2.Client(transport=transport) as client,
        no_wait(),
        pytest.raises(remedy.ServiceUnavailable) as caught,
    ):
        client.post("https://api.example.com/upload", content=body())
    assert len(caught.value.attempts) == 1
    assert "cannot be replayed" in (caught.value.attempts[-1].note or "")


def test_wrap_and_raise_for_status_on_httpx2() -> None:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(**error_response(429, retry_after=120))

    client = remedy.wrap(httpx2.Client(transport=httpx2.MockTransport(answer)))
    assert isinstance(client._transport, remedy.RemedyTransport)
    with client, pytest.raises(remedy.TooManyRequests) as caught:
        client.get("https://api.example.com/items")
    assert caught.value.retry_after == 120.0

    with pytest.raises(remedy.TooManyRequests):
        remedy.raise_for_status(
            httpx2.Response(
                **error_response(429), request=httpx2.Request("GET", "https://a.example/")
            )
        )


@pytest.fixture
def server() -> Iterator[OAuthServer]:
    with OAuthServer() as running:
        running.add_client("app", "s3cret-s3cret-s3cret", scope="read write")
        yield running


@pytest.mark.integration  # a real OAuth server
def test_credentials_over_real_sockets_with_both_stacks(server: OAuthServer) -> None:
    creds = remedy.ClientCredentials(server.token_url, "app", "s3cret-s3cret-s3cret", scope="read")
    two = remedy.RemedyTransport(httpx2.HTTPTransport(), credentials=creds, origins=[server.url])
    one = remedy.RemedyTransport(httpx.HTTPTransport(), credentials=creds, origins=[server.url])
    with httpx2.Client(transport=two) as c2, httpx.Client(transport=one) as c1:
        assert c2.get(server.url + "/api/items").status_code == 200
        assert c1.get(server.url + "/api/items").status_code == 200
        server.expire_all()
        assert c2.get(server.url + "/api/items").status_code == 200  # refreshed over httpx2
        assert c1.get(server.url + "/api/items").status_code == 200  # reuses that token
    # Both clients share the credentials' token: one fetch, one refresh.
    assert server.token_requests == 2


@pytest.mark.integration  # a real OAuth server
@pytest.mark.anyio
async def test_async_httpx2_client(server: OAuthServer) -> None:
    creds = remedy.ClientCredentials(server.token_url, "app", "s3cret-s3cret-s3cret", scope="read")
    transport = remedy.AsyncRemedyTransport(
        httpx2.AsyncHTTPTransport(), credentials=creds, origins=[server.url]
    )
    async with httpx2.AsyncClient(transport=transport) as client:
        assert (await client.get(server.url + "/api/items")).status_code == 200
        with pytest.raises(remedy.InsufficientScope) as caught:
            await client.get(server.url + "/api/admin")
    assert caught.value.scope == "admin"
    assert type(caught.value.response) is httpx2.Response
    await anyio.sleep(0)
