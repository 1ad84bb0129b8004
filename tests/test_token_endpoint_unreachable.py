"""A token endpoint that cannot be reached: the error names it, and is still the transport error.

Before, a request that needed a token got httpx's bare ``ConnectError`` (``[Errno 111]
Connection refused``) while calling the API URL: nothing said the token endpoint was the one
down. Now it is a ``TokenEndpointUnreachable`` that is also that ``ConnectError``.
"""

from __future__ import annotations

import pickle
import socket
from collections.abc import Iterator

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy.testing import no_wait

SECRET = "s3cret-of-the-client-0123"


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then closed): connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def waits_off() -> Iterator[None]:
    with no_wait():  # connect errors are retried with backoff: decided, not slept
        yield


def check(error: BaseException, token_url: str, api_url: str) -> None:
    assert isinstance(error, remedy.TokenEndpointUnreachable)
    assert isinstance(error, remedy.RemedyError)
    assert isinstance(error, httpx.ConnectError)  # what a user caught before still catches it
    assert isinstance(error, httpx.TransportError)
    assert type(error).__qualname__ == "TokenEndpointUnreachable[ConnectError]"
    assert error.token_url == token_url
    message = str(error)
    assert message.startswith(f"no answer from the token endpoint {token_url}, ")
    assert f"before sending GET {api_url}" in message
    assert "ConnectError: " in message
    assert SECRET not in message
    assert SECRET not in repr(error)
    assert type(error.__cause__) is httpx.ConnectError
    attempts = remedy.attempts_of(error)
    assert [(a.method, a.url, a.error) for a in attempts] == [
        ("POST", token_url, "ConnectError")
    ] * 3
    assert [a.action for a in attempts] == ["retry", "retry", "raise"]


def test_sync_names_the_token_endpoint(closed_port: int) -> None:
    token_url = f"http://127.0.0.1:{closed_port}/oauth/token"
    api_url = f"http://127.0.0.1:{closed_port}/api/items"
    creds = remedy.ClientCredentials(token_url, "app", SECRET)
    with (
        httpx.Client(transport=remedy.RemedyTransport(credentials=creds)) as client,
        pytest.raises(httpx.ConnectError) as caught,
    ):
        client.get(api_url)
    check(caught.value, token_url, api_url)
    assert caught.value.request.url == api_url  # httpx's own: the request the client sent


@pytest.mark.anyio
async def test_async_names_the_token_endpoint(closed_port: int) -> None:
    token_url = f"http://127.0.0.1:{closed_port}/oauth/token"
    api_url = f"http://127.0.0.1:{closed_port}/api/items"
    creds = remedy.ClientCredentials(token_url, "app", SECRET)
    transport = remedy.AsyncRemedyTransport(credentials=creds)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError) as caught:
            await client.get(api_url)
    check(caught.value, token_url, api_url)


def test_it_is_caught_by_name_before_the_api_is_blamed(closed_port: int) -> None:
    token_url = f"http://127.0.0.1:{closed_port}/oauth/token?tenant=acme"
    creds = remedy.ClientCredentials(token_url, "app", SECRET)
    with httpx.Client(transport=remedy.RemedyTransport(credentials=creds)) as client:
        try:
            client.get(f"http://127.0.0.1:{closed_port}/api/items")
        except remedy.TokenEndpointUnreachable as error:
            found = error.token_url
        except httpx.ConnectError:
            pytest.fail("the API was blamed")
    assert found == f"http://127.0.0.1:{closed_port}/oauth/token?tenant=[redacted]"


class RefreshThenDown:
    """The token endpoint answers once, then is down; the API rejects every token."""

    def __init__(self) -> None:
        self.issued = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            if self.issued:
                raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
            self.issued = True
            return httpx.Response(200, json={"access_token": "t0k3n-1", "expires_in": 3600})
        challenge = 'Bearer error="invalid_token"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})


def test_a_refresh_that_cannot_reach_the_endpoint_says_what_came_before() -> None:
    creds = remedy.ClientCredentials("https://auth.example.com/token", "app", SECRET)
    transport = remedy.RemedyTransport(httpx.MockTransport(RefreshThenDown()), credentials=creds)
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError) as caught:
        client.get("https://api.example.com/items")
    error = caught.value
    assert isinstance(error, remedy.TokenEndpointUnreachable)
    assert str(error) == (
        "no answer from the token endpoint https://auth.example.com/token, after 401 "
        "invalid_token on GET https://api.example.com/items: ConnectError: [Errno 111] "
        "Connection refused"
    )


def test_a_timeout_stays_a_timeout() -> None:
    def stalled(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    creds = remedy.ClientCredentials("https://auth.example.com/token", "app", SECRET)
    transport = remedy.RemedyTransport(httpx.MockTransport(stalled), credentials=creds)
    with (
        httpx.Client(transport=transport) as client,
        pytest.raises(httpx.TimeoutException) as caught,
    ):
        client.get("https://api.example.com/items")
    assert isinstance(caught.value, remedy.TokenEndpointUnreachable)
    assert isinstance(caught.value, httpx.ReadTimeout)
    assert type(caught.value).__qualname__ == "TokenEndpointUnreachable[ReadTimeout]"


def test_it_pickles_as_its_class_without_the_secret(closed_port: int) -> None:
    token_url = f"http://127.0.0.1:{closed_port}/oauth/token"
    creds = remedy.ClientCredentials(token_url, "app", SECRET)
    with (
        httpx.Client(transport=remedy.RemedyTransport(credentials=creds)) as client,
        pytest.raises(remedy.TokenEndpointUnreachable) as caught,
    ):
        client.get(f"http://127.0.0.1:{closed_port}/api/items")
    data = pickle.dumps(caught.value)
    assert SECRET.encode() not in data
    copy = pickle.loads(data)
    assert type(copy) is type(caught.value)
    assert isinstance(copy, httpx.ConnectError)
    assert str(copy) == str(caught.value)
    assert copy.token_url == token_url
    assert len(remedy.attempts_of(copy)) == 3
    assert type(remedy.redacted(caught.value)) is type(caught.value)


def test_the_plain_class_pickles_too() -> None:
    error = remedy.TokenEndpointUnreachable("https://auth.example.com/token", "before x", "boom")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is remedy.TokenEndpointUnreachable
    assert str(copy) == str(error)
    assert copy.before == "before x"


def test_a_token_source_error_is_left_alone() -> None:
    """A token source is the user's code, reaching whatever it reaches: its error is its own."""

    class Vault:
        def fetch_token(self, scope: str | None) -> remedy.Token:
            raise httpx.ConnectError("vault is down")

    transport = remedy.RemedyTransport(httpx.MockTransport(RefreshThenDown()), credentials=Vault())
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError) as caught:
        client.get("https://api.example.com/items")
    assert not isinstance(caught.value, remedy.TokenEndpointUnreachable)
