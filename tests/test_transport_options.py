"""The connection arguments of httpx's own transport (``verify``, ``http2``, ``proxy``, ...) on
``RemedyTransport`` / ``AsyncRemedyTransport``: passed to the transport they build, refused
beside a transport given to them (httpx's client ignores its own when given a transport)."""

from __future__ import annotations

import inspect
import socket
import ssl
from typing import Any

import httpx
import pytest

import httpx_remedy as remedy

from .rawserver import RawServer, answer

#: A value for every argument of httpx.HTTPTransport, none of them its default.
OPTIONS: dict[str, Any] = {
    "verify": False,
    "cert": "client.pem",
    "trust_env": False,
    "http1": False,
    "http2": True,
    "limits": httpx.Limits(max_connections=3),
    "proxy": "http://proxy.example:3128",
    "uds": "/run/api.sock",
    "local_address": "127.0.0.2",
    "retries": 2,
    "socket_options": [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)],
}

TRANSPORTS = [
    pytest.param(remedy.RemedyTransport, "HTTPTransport", id="sync"),
    pytest.param(remedy.AsyncRemedyTransport, "AsyncHTTPTransport", id="async"),
]


def test_every_argument_of_httpx_transport_is_taken() -> None:
    """Whatever httpx's transport takes, the remedy transports take too, in their signature."""
    for inner, outer in (
        (httpx.HTTPTransport, remedy.RemedyTransport),
        (httpx.AsyncHTTPTransport, remedy.AsyncRemedyTransport),
    ):
        wanted = set(inspect.signature(inner.__init__).parameters) - {"self"}
        assert wanted == set(OPTIONS)
        taken = inspect.signature(outer).parameters
        assert wanted <= set(taken)
        for name in wanted:
            assert taken[name].kind is inspect.Parameter.KEYWORD_ONLY
            assert taken[name].default is None


@pytest.mark.parametrize(("kind", "inner"), TRANSPORTS)
@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_each_argument_reaches_the_transport_built(
    kind: type[Any], inner: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[dict[str, Any]] = []
    original = getattr(httpx, inner)

    class Recording(original):  # type: ignore[misc, valid-type]
        def __init__(self, **options: Any) -> None:
            received.append(options)

    monkeypatch.setattr(httpx, inner, Recording)
    transport = kind(**{name: OPTIONS[name]})
    assert isinstance(transport.transport, Recording)
    assert received == [{name: OPTIONS[name]}]


@pytest.mark.parametrize(("kind", "inner"), TRANSPORTS)
def test_none_leaves_httpx_defaults(kind: type[Any], inner: str) -> None:
    transport = kind()
    assert type(transport.transport) is getattr(httpx, inner)
    assert transport.transport._pool._ssl_context.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize(("kind", "inner"), TRANSPORTS)
def test_verify_false_turns_verification_off(kind: type[Any], inner: str) -> None:
    """``httpx.Client(transport=RemedyTransport(), verify=False)`` still verifies (httpx's rule
    for a transport given to a client); ``RemedyTransport(verify=False)`` does not."""
    ignored = httpx.Client(transport=remedy.RemedyTransport(), verify=False)
    assert ignored._transport.transport._pool._ssl_context.verify_mode == ssl.CERT_REQUIRED
    context = kind(verify=False).transport._pool._ssl_context
    assert context.verify_mode == ssl.CERT_NONE
    assert context.check_hostname is False


@pytest.mark.parametrize(("kind", "inner"), TRANSPORTS)
def test_arguments_beside_a_transport_are_refused(kind: type[Any], inner: str) -> None:
    wrapped = getattr(httpx, inner)()
    with pytest.raises(TypeError) as caught:
        kind(wrapped, verify=False, http2=True)
    message = str(caught.value)
    assert "verify, http2" in message
    assert f"httpx.{inner}(verify=...)" in message
    assert kind.__name__ in message


def test_a_proxy_is_used_on_the_wire() -> None:
    """The request goes to the proxy, in absolute form: the argument reached the connection."""
    with (
        RawServer(answer(200, b"via proxy")) as proxy,
        httpx.Client(transport=remedy.RemedyTransport(proxy=proxy.url)) as client,
    ):
        response = client.get("http://api.example.invalid/items")
    assert response.text == "via proxy"
    assert [r.target for r in proxy.received] == ["http://api.example.invalid/items"]


@pytest.mark.anyio
async def test_a_proxy_is_used_on_the_wire_async() -> None:
    with RawServer(answer(200, b"via proxy")) as proxy:
        transport = remedy.AsyncRemedyTransport(proxy=proxy.url)
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.get("http://api.example.invalid/items")
    assert response.text == "via proxy"
    assert [r.target for r in proxy.received] == ["http://api.example.invalid/items"]


def test_wrap_keeps_the_clients_own_settings() -> None:
    """The other route: build the client as usual, then wrap it."""
    client = remedy.wrap(httpx.Client(verify=False))
    assert isinstance(client._transport, remedy.RemedyTransport)
    assert client._transport.transport._pool._ssl_context.verify_mode == ssl.CERT_NONE
