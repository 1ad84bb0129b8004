"""What the tests share: a fake clock, clients on it, and :class:`Mode`, one test for the sync
transport and the async one (under asyncio and trio).

Import from here (``from .helpers import ...``), never from another test file. The fixtures
that hand these out (``clock``, ``mode``, ``fresh_budget``) are in ``conftest.py``.

A test that takes the ``mode`` fixture runs three times: ``sync`` (``RemedyTransport`` in an
``httpx.Client``), ``asyncio`` and ``trio`` (``AsyncRemedyTransport`` in an
``httpx.AsyncClient``). It is written once, as plain code::

    def test_a_503_is_retried(mode: Mode, clock: FakeClock) -> None:
        with mode.client(Server(503, 200), clock) as client:
            assert client.get(URL).status_code == 200

In the async modes each call runs to completion on an event loop of that backend: one per
backend for the whole session, in a thread of its own (an anyio blocking portal), so that a
client's connections live on one loop across the calls of a test, as they do in a program.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import ssl
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import anyio
import anyio.from_thread
import httpx

import httpx_remedy as remedy
from httpx_remedy import ClientCredentials, RetryBudget
from httpx_remedy.testing import error_response, use_clock

T = TypeVar("T")

Handler = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """A monotonic and a wall clock that only move when something sleeps on them."""

    def __init__(self, start: float = 1_000.0, wall: float = 1_764_000_000.0) -> None:
        self.now = start
        self.wall_start = wall
        self.start = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.wall_start + (self.now - self.start)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` go by without anyone sleeping (not recorded in ``sleeps``)."""
        self.now += seconds


def on_clock(transport: Any, clock: FakeClock) -> Any:
    """Put a remedy transport on ``clock``: its waits are recorded, never slept."""
    is_async = isinstance(transport, remedy.AsyncRemedyTransport)
    return use_clock(
        transport,
        monotonic=clock.monotonic,
        wall=clock.time,
        sleep=clock.asleep if is_async else clock.sleep,
    )


def sync_client(handler: Handler, clock: FakeClock, **options: Any) -> httpx.Client:
    """An ``httpx.Client`` over a ``RemedyTransport`` over ``httpx.MockTransport(handler)``, on
    ``clock``, with a retry budget of its own unless ``retry=`` is given."""
    options.setdefault("retry", remedy.Retry(budget=RetryBudget()))
    transport = on_clock(remedy.RemedyTransport(httpx.MockTransport(handler), **options), clock)
    return httpx.Client(transport=transport)


def async_client(handler: Handler, clock: FakeClock, **options: Any) -> httpx.AsyncClient:
    """The ``httpx.AsyncClient`` twin of :func:`sync_client`."""
    options.setdefault("retry", remedy.Retry(budget=RetryBudget()))
    transport = on_clock(
        remedy.AsyncRemedyTransport(httpx.MockTransport(handler), **options), clock
    )
    return httpx.AsyncClient(transport=transport)


# --------------------------------------------------------------------------------------------
# A scripted origin
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# The core by hand
# --------------------------------------------------------------------------------------------


class Steps:
    """Drives a flow of the core (a generator of commands) by hand, as a driver would, for the
    core's tests: each :meth:`expect` takes the flow's next command, checks it, and says what
    the driver answers (a result, or an exception to throw in); :meth:`result` runs the flow
    to its end and gives what it returns (or raises what it raises)."""

    def __init__(self, flow: Any) -> None:
        self.flow = flow
        self._reply: Any = None
        self._error: BaseException | None = None

    def _next(self) -> Any:
        reply, error = self._reply, self._error
        self._reply, self._error = None, None
        if error is not None:
            return self.flow.throw(error)
        return self.flow.send(reply)

    def expect(self, expected: Any, reply: Any = None) -> Any:
        """The next command, which must equal ``expected`` (a command), be an instance of it
        (a class), or satisfy it (a function); ``reply`` is sent back for it, or thrown in when
        it is an exception (a function is called with the command for the reply, for a reply
        made from it). Returns the command."""
        try:
            command = self._next()
        except StopIteration as stop:
            raise AssertionError(
                f"the flow ended ({stop.value!r}), expected {expected!r}"
            ) from None
        if isinstance(expected, type):
            assert isinstance(command, expected), f"{command!r} is not a {expected.__name__}"
        elif inspect.isfunction(expected):
            assert expected(command), f"{command!r} does not satisfy {expected.__name__}"
        else:
            assert command == expected, f"{command!r} != {expected!r}"
        if inspect.isfunction(reply):
            reply = reply(command)
        if isinstance(reply, BaseException):
            self._error = reply
        else:
            self._reply = reply
        return command

    def reply(self, reply: Any) -> None:
        """Answer the last command with ``reply`` after all (when the answer is worked out after
        the command was seen: a ``Locked`` flow's result, driven by hand)."""
        self._reply, self._error = reply, None

    def result(self) -> Any:
        """What the flow returns after the last answer; it must yield nothing more."""
        try:
            command = self._next()
        except StopIteration as stop:
            return stop.value
        raise AssertionError(f"the flow went on with {command!r}")


# --------------------------------------------------------------------------------------------
# One test for the sync and the async transport
# --------------------------------------------------------------------------------------------

#: The ``mode`` fixture's parameters.
MODES = ("sync", "asyncio", "trio")


class EventLoops:
    """One event loop per anyio backend, each in a thread of its own, started on first use and
    stopped by :meth:`close` (at the end of the session)."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._portals: dict[str, anyio.from_thread.BlockingPortal] = {}
        self._lock = threading.Lock()

    def portal(self, backend: str) -> anyio.from_thread.BlockingPortal:
        with self._lock:
            if backend not in self._portals:
                self._portals[backend] = self._stack.enter_context(
                    anyio.from_thread.start_blocking_portal(backend)
                )
            return self._portals[backend]

    def close(self) -> None:
        self._stack.close()


class Mode:
    """How a test drives the library: ``sync``, or async under ``asyncio`` or ``trio``.

    Everything a test needs to write a behaviour once: the transport and client of its kind
    (:meth:`transport`, :meth:`client`, :meth:`wrap`), running a call to completion
    (:meth:`run`), and the pieces whose sync and async forms differ (:meth:`sleep`,
    :meth:`one_shot`, :meth:`streaming`, :meth:`at_once`).
    """

    def __init__(self, name: str, loops: EventLoops | None = None) -> None:
        assert name in MODES, name
        assert loops is not None or name == "sync", "an async mode needs the event loops"
        self.name = name
        self.is_async = name != "sync"
        self._loops = loops

    def __repr__(self) -> str:
        return f"Mode({self.name!r})"

    # -- running ---------------------------------------------------------------------------

    def run(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``call(*args, **kwargs)`` to completion: called as it is in the sync mode; awaited on
        the mode's event loop in the async ones (``call`` is then an async function)."""
        if self._loops is None or not self.is_async:
            return call(*args, **kwargs)
        return self._loops.portal(self.name).call(functools.partial(call, *args, **kwargs))

    def at_once(
        self, calls: Iterable[Callable[[], Any]], within: float = 60.0
    ) -> list[tuple[Any, float]]:
        """Start every call at the same moment and wait for them all: threads in the sync mode,
        tasks of one task group in the async ones (each call then returns an awaitable, as
        :meth:`Client.later` makes). For each call in order: what it returned, or the exception
        it raised, and the seconds it took. A call still running after ``within`` seconds fails
        the test."""
        calls = list(calls)
        outcomes: list[tuple[Any, float]] = [(None, 0.0)] * len(calls)
        if not self.is_async:
            barrier = threading.Barrier(len(calls))

            def one(index: int) -> None:
                barrier.wait()
                began = time.monotonic()
                try:
                    outcome = calls[index]()
                except Exception as error:
                    outcome = error
                outcomes[index] = (outcome, time.monotonic() - began)

            threads = [
                threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(calls))
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=within)
            assert not any(t.is_alive() for t in threads), f"a call ran over {within}s"
            return outcomes

        async def gather() -> None:
            async def one(index: int) -> None:
                began = time.monotonic()
                try:
                    outcome = await calls[index]()
                except Exception as error:
                    outcome = error
                outcomes[index] = (outcome, time.monotonic() - began)

            with anyio.move_on_after(within) as guard:
                async with anyio.create_task_group() as group:
                    for index in range(len(calls)):
                        group.start_soon(one, index)
            assert not guard.cancelled_caught, f"a call ran over {within}s"

        self.run(gather)
        return outcomes

    # -- transports and clients ------------------------------------------------------------

    def transport(self, inner: Any = None, **options: Any) -> Any:
        """A ``RemedyTransport`` or an ``AsyncRemedyTransport`` over ``inner`` (a handler, made
        an ``httpx.MockTransport``, or a transport; None: httpx's own)."""
        if callable(inner) and not isinstance(
            inner, (httpx.BaseTransport, httpx.AsyncBaseTransport)
        ):
            inner = httpx.MockTransport(inner)
        return self.remedy_transport(inner, **options)

    @property
    def remedy_transport(self) -> type[Any]:
        """``RemedyTransport`` or ``AsyncRemedyTransport``."""
        return remedy.AsyncRemedyTransport if self.is_async else remedy.RemedyTransport

    def client(
        self,
        inner: Any,
        clock: FakeClock | None = None,
        *,
        timeout: Any = 5.0,
        **options: Any,
    ) -> Client:
        """A client (with ``timeout``, httpx's default unless given) over a remedy transport
        over ``inner`` (see :meth:`transport`), on ``clock`` when given, with a retry budget of
        its own unless ``retry=`` is given."""
        options.setdefault("retry", remedy.Retry(budget=RetryBudget()))
        transport = self.transport(inner, **options)
        if clock is not None:
            on_clock(transport, clock)
        return self.wrap(transport, timeout=timeout)

    def network(self, **options: Any) -> Any:
        """httpx's own transport of the mode's kind (``httpx.HTTPTransport`` or
        ``httpx.AsyncHTTPTransport``), made with ``options``: for tests over real sockets. It
        verifies certificates with one shared context (:func:`tls`) unless ``verify=`` says
        otherwise."""
        options.setdefault("verify", tls())
        kind = httpx.AsyncHTTPTransport if self.is_async else httpx.HTTPTransport
        return kind(**options)

    @property
    def raise_for_status(self) -> Callable[[httpx.Response], Any]:
        """The event hook of the mode's kind: ``raise_for_status`` or ``araise_for_status``."""
        return remedy.araise_for_status if self.is_async else remedy.raise_for_status

    def wrap(self, transport: Any = None, **client_options: Any) -> Client:
        """An ``httpx.Client`` or ``httpx.AsyncClient`` over ``transport``, as a :class:`Client`."""
        kind = httpx.AsyncClient if self.is_async else httpx.Client
        return Client(self, kind(transport=transport, **client_options))

    def httpx_client(self, **options: Any) -> Client:
        """An ``httpx.Client`` or ``httpx.AsyncClient`` made with ``options`` (``mounts=``,
        ``base_url=``...), as a :class:`Client`; ``client.httpx`` is the httpx client itself."""
        kind = httpx.AsyncClient if self.is_async else httpx.Client
        return Client(self, kind(**options))

    # -- what differs between sync and async ------------------------------------------------

    def hook(self, call: Callable[..., Any]) -> Callable[..., Any]:
        """``call`` as the mode's kind of callback (a sleep for ``use_clock``, an httpx event
        hook): itself in the sync mode, an async function calling it in the async ones."""
        if not self.is_async:
            return call

        async def hook(*args: Any) -> Any:
            return call(*args)

        return hook

    def read(self, response: httpx.Response) -> bytes:
        """Read a streamed response's body (``read`` or ``aread``)."""
        if not self.is_async:
            return response.read()
        return self.run(response.aread)  # type: ignore[no-any-return]

    def close(self, transport: Any) -> None:
        """Close a transport (``close`` or ``aclose``)."""
        if not self.is_async:
            transport.close()
        else:
            self.run(transport.aclose)

    @contextlib.contextmanager
    def holding_token_lock(self, transport: Any) -> Iterator[None]:
        """Hold the lock of ``transport``'s credentials, as another request fetching a token
        does, until the block ends: in the sync mode from this thread, in the async ones from
        a task on the mode's event loop."""
        manager = transport._settings.auth.manager
        if not self.is_async:
            with manager.sync_lock:
                yield
            return

        @contextlib.asynccontextmanager
        async def held() -> AsyncIterator[None]:
            async with manager.async_lock():
                yield

        assert self._loops is not None
        with self._loops.portal(self.name).wrap_async_context_manager(held()):
            yield

    def then(self, value: Any, after: Callable[[Any], T]) -> Any:
        """``after(value)``; in the async modes ``value`` is an awaitable, and this is an
        awaitable of ``after`` of its result (for a handler that makes a request itself: an
        ``httpx.MockTransport`` awaits what an async client's handler returns)."""
        if not self.is_async:
            return after(value)

        async def awaited() -> T:
            return after(await value)

        return awaited()

    def one_shot(self, *chunks: bytes) -> Any:
        """A request body that can be read once (a generator, sync or async)."""
        if not self.is_async:
            return iter_once(chunks)
        return aiter_once(chunks)

    def streaming(self, respond: Callable[[httpx.Request, bytes], httpx.Response]) -> Any:
        """A transport that reads the request body as a connection does (once, never
        buffered) and answers with ``respond(request, body)``."""
        if self.is_async:
            return AsyncStreamingTransport(respond)
        return StreamingTransport(respond)


@functools.cache
def tls() -> ssl.SSLContext:
    """One TLS context for the tests' own transports: httpx builds one per transport (loading
    the CA bundle, about 50 ms), which adds up over hundreds of tests that never use it."""
    return ssl.create_default_context()


#: The sync mode, for a test that does not take the ``mode`` fixture.
SYNC = Mode("sync")


def iter_once(chunks: Iterable[bytes]) -> Iterator[bytes]:
    yield from chunks


async def aiter_once(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


class StreamingTransport(httpx.BaseTransport):
    """Sends like a real connection does: reads the request stream once, never buffers it."""

    def __init__(self, respond: Callable[[httpx.Request, bytes], httpx.Response]) -> None:
        self.respond = respond

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.respond(request, b"".join(request.stream))  # type: ignore[arg-type]


class AsyncStreamingTransport(httpx.AsyncBaseTransport):
    """The async :class:`StreamingTransport`."""

    def __init__(self, respond: Callable[[httpx.Request, bytes], httpx.Response]) -> None:
        self.respond = respond

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        return self.respond(request, body)


class Client:
    """An ``httpx.Client`` or ``httpx.AsyncClient`` behind one sync face: each call returns
    the response (run to completion on the mode's event loop for an async client)."""

    def __init__(self, mode: Mode, client: httpx.Client | httpx.AsyncClient) -> None:
        self.mode = mode
        self.httpx = client

    @property
    def transport(self) -> Any:
        """The client's transport (the remedy transport, when it wraps one)."""
        return self.httpx._transport

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        return self.mode.run(self.httpx.request, method, url, **options)  # type: ignore[no-any-return]

    def send(self, request: httpx.Request, **options: Any) -> httpx.Response:
        return self.mode.run(self.httpx.send, request, **options)  # type: ignore[no-any-return]

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.request("POST", url, **options)

    def put(self, url: str, **options: Any) -> httpx.Response:
        return self.request("PUT", url, **options)

    def delete(self, url: str, **options: Any) -> httpx.Response:
        return self.request("DELETE", url, **options)

    @contextlib.contextmanager
    def stream(self, method: str, url: str, **options: Any) -> Iterator[httpx.Response]:
        """``client.stream(...)``: the response, its body unread (see :meth:`Mode.read`)."""
        if not self.mode.is_async:
            with self.httpx.stream(method, url, **options) as response:  # type: ignore[union-attr]
                yield response
            return
        assert self.mode._loops is not None
        portal = self.mode._loops.portal(self.mode.name)
        with portal.wrap_async_context_manager(
            self.httpx.stream(method, url, **options)  # type: ignore[arg-type]
        ) as response:
            yield response

    def later(self, method: str, url: str, **options: Any) -> Callable[[], Any]:
        """The request as a call for :meth:`Mode.at_once` (an awaitable one in async modes)."""
        return functools.partial(self.httpx.request, method, url, **options)

    def start(self, method: str, url: str, **options: Any) -> Future[httpx.Response]:
        """Send the request in the background (a thread, or a task on the mode's event loop)
        and return at once: its future response."""
        call = functools.partial(self.httpx.request, method, url, **options)
        if self.mode.is_async:
            assert self.mode._loops is not None
            return self.mode._loops.portal(self.mode.name).start_task_soon(call)  # type: ignore[arg-type]
        future: Future[httpx.Response] = Future()

        def run() -> None:
            try:
                future.set_result(call())  # type: ignore[arg-type]
            except BaseException as error:
                future.set_exception(error)

        threading.Thread(target=run, daemon=True).start()
        return future

    def inside(self, method: str, url: str, **options: Any) -> Any:
        """The request made from inside a handler, on the loop already running: the response
        in the sync mode, an awaitable of it in the async ones (see :meth:`Mode.then`)."""
        return self.httpx.request(method, url, **options)

    def close(self) -> None:
        if isinstance(self.httpx, httpx.AsyncClient):
            self.mode.run(self.httpx.aclose)
        else:
            self.httpx.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
