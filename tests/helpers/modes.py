"""One test for the sync and the async transport: ``Mode`` (the ``mode`` fixture's value) and
the ``Client`` it hands out.

A test that takes the ``mode`` fixture runs three times: ``sync`` (``RemedyTransport`` in an
``httpx.Client``), ``asyncio`` and ``trio`` (``AsyncRemedyTransport`` in an
``httpx.AsyncClient``). In the async modes each call runs to completion on an event loop of that
backend: one per backend for the whole session, in a thread of its own (an anyio blocking
portal), so that a client's connections live on one loop across the calls of a test, as they
do in a program.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import httpx

import httpx_remedy as remedy
from httpx_remedy import RetryBudget

from .clock import FakeClock, on_clock

T = TypeVar("T")


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

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.request("POST", url, **options)

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
