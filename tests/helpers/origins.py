"""Scripted origins: ``Server`` (a status script, for retries) and ``FakeAS`` (a token endpoint
and an API), both handlers for ``httpx.MockTransport``."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx

import httpx_remedy as remedy
from httpx_remedy import ClientCredentials
from httpx_remedy.testing import error_response


class RecordingStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that remembers whether it was closed."""

    def __init__(self, body: bytes = b'{"detail": "busy"}') -> None:
        self.body = body
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield self.body

    async def __aiter__(self) -> Any:
        yield self.body

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


Step = Any  # int | (int, headers) | exception class | callable(request) -> Response


class Server:
    """A handler answering from ``script`` in order (the last step repeats).

    A step is a status, a ``(status, headers)`` pair, an exception class (raised, with the
    request when it is an httpx one) or a callable taking the request and returning a response.
    Every send is recorded as it was sent: body, headers and timeouts are snapshots, since the
    transport sends the same request object again.
    """

    def __init__(self, *script: Step) -> None:
        self.script = list(script) or [200]
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.timeouts: list[dict[str, float | None]] = []
        self.responses: list[httpx.Response] = []
        self.raised: list[BaseException] = []

    @property
    def sends(self) -> int:
        return len(self.requests)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.respond(request, request.content)

    def respond(self, request: httpx.Request, body: bytes) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(body)
        self.headers.append(dict(request.headers))
        self.timeouts.append(dict(request.extensions.get("timeout", {})))
        step = self.script[min(len(self.requests), len(self.script)) - 1]
        if isinstance(step, type) and issubclass(step, BaseException):
            error: BaseException = (
                step("simulated failure", request=request)
                if issubclass(step, httpx.RequestError)
                else step("simulated failure")
            )
            self.raised.append(error)
            raise error
        if isinstance(step, int):
            response = httpx.Response(step, json={"detail": "scripted"})
        elif isinstance(step, tuple):
            response = httpx.Response(step[0], headers=step[1], json={"detail": "scripted"})
        else:
            response = step(request)
        self.responses.append(response)
        return response


# --------------------------------------------------------------------------------------------
# A scripted authorization server and API
# --------------------------------------------------------------------------------------------

AUTH_HOST = "auth.example.com"
TOKEN_URL = f"https://{AUTH_HOST}/token"
API = "https://api.example.com"
SECRET = "s3cret-client-secret"


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


def bearer(request: httpx.Request) -> str | None:
    value = request.headers.get("authorization")
    if value is None:
        return None
    assert value.startswith("Bearer "), value
    return value[len("Bearer ") :]


Script = httpx.Response | Callable[[httpx.Request], httpx.Response]


class FakeAS:
    """A token endpoint at ``auth.example.com``, an API at ``api.example.com``, and an echo
    of the bearer token everywhere else.

    Tokens are ``access-1``, ``access-2``... with the scope asked for (filtered by
    ``grantable``); the API accepts the tokens in ``valid``, wants ``read`` on ``/items``,
    ``admin`` on ``/admin``, and answers RFC 6750 challenges otherwise. ``token_script`` and
    ``api_script`` queue answers that replace the next ones.
    """

    def __init__(
        self,
        *,
        expires_in: int | None = 3600,
        rotate: bool = True,
        grantable: tuple[str, ...] = ("read", "write", "admin"),
    ) -> None:
        self.expires_in = expires_in
        self.rotate = rotate
        self.grantable = grantable
        self.reject_new = False
        self.lock = threading.Lock()
        self.token_requests: list[httpx.Request] = []
        self.api_requests: list[httpx.Request] = []
        #: (path, bearer token) of each API request, as it was sent (the transport reuses the
        #: request object for a replay, so the request's headers change afterwards)
        self.calls: list[tuple[str, str | None]] = []
        self.requests: list[httpx.Request] = []
        self.token_script: deque[Script] = deque()
        self.api_script: deque[Script] = deque()
        self.valid: set[str] = set()
        self.scopes: dict[str, str] = {}
        self.issued: list[str] = []
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
        if request.url.host == AUTH_HOST:
            return self.token(request)
        return self.api(request)

    def token(self, request: httpx.Request) -> httpx.Response:
        params = form(request)
        with self.lock:
            self.token_requests.append(request)
            answer = self.token_script.popleft() if self.token_script else None
        if answer is not None:
            return answer(request) if callable(answer) else answer
        with self.lock:
            n = len(self.issued) + 1
            access = f"access-{n}"
            self.issued.append(access)
            wanted = params.get("scope", "read").split()
            scope = " ".join(s for s in wanted if s in self.grantable)
            self.scopes[access] = scope
            if not self.reject_new:
                self.valid.add(access)
        body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "scope": scope}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        if params.get("grant_type") == "refresh_token" and self.rotate:
            body["refresh_token"] = f"refresh-{n}"
        return httpx.Response(200, json=body, headers={"Cache-Control": "no-store"})

    def api(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.api_requests.append(request)
            self.calls.append((request.url.path, bearer(request)))
            self.bodies.append(request.read())
            answer = self.api_script.popleft() if self.api_script else None
        if answer is not None:
            return answer(request) if callable(answer) else answer
        token = bearer(request)
        if request.url.host != "api.example.com" or request.url.port is not None:
            return httpx.Response(200, json={"token": token})
        if token is None or token not in self.valid:
            return httpx.Response(**error_response("invalid_token"))
        need = "admin" if request.url.path == "/admin" else "read"
        if need not in self.scopes.get(token, "").split():
            return httpx.Response(**error_response("insufficient_scope", scope=need))
        return httpx.Response(200, json={"ok": True, "token": token})

    def revoke_all(self) -> None:
        with self.lock:
            self.valid.clear()


def cc(**options: Any) -> ClientCredentials:
    options.setdefault("scope", "read")
    return ClientCredentials(TOKEN_URL, "app", SECRET, **options)


def actions(error: BaseException) -> list[str]:
    return [a.action for a in remedy.attempts_of(error)]
