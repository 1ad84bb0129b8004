"""What the tests share: a fake clock, clients on it, and :class:`Mode`, one test for the sync
transport and the async one (under asyncio and trio).

Import from here (``from .helpers import ...``), never from another test file. Inside, one
module per concern: ``clock``, ``origins`` (scripted servers), ``steps`` (the core by hand) and
``modes`` (sync and async). The fixtures that hand these out (``clock``, ``mode``,
``fresh_budget``, ``collect_garbage``) are in ``conftest.py``.

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

from .clock import FakeClock, Handler, async_client, on_clock, sync_client
from .modes import (
    MODES,
    SYNC,
    AsyncStreamingTransport,
    Client,
    EventLoops,
    Mode,
    StreamingTransport,
    aiter_once,
    iter_once,
    tls,
)
from .origins import (
    API,
    AUTH_HOST,
    SECRET,
    TOKEN_URL,
    FakeAS,
    RecordingStream,
    Server,
    actions,
    bearer,
    cc,
    form,
)
from .steps import Steps

__all__ = [
    "API",
    "AUTH_HOST",
    "MODES",
    "SECRET",
    "SYNC",
    "TOKEN_URL",
    "AsyncStreamingTransport",
    "Client",
    "EventLoops",
    "FakeAS",
    "FakeClock",
    "Handler",
    "Mode",
    "RecordingStream",
    "Server",
    "Steps",
    "StreamingTransport",
    "actions",
    "aiter_once",
    "async_client",
    "bearer",
    "cc",
    "form",
    "iter_once",
    "on_clock",
    "sync_client",
    "tls",
]
