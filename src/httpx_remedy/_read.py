"""Carrying out a :class:`~._body.ReadBody`: the body read within its bounds, sync and async.

The raw stream is read, not ``iter_bytes()``: httpx would inflate a compressed body whole, and
a body that fails to decode still yields its bytes. Decoding is bounded (``_decode``).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import anyio

from ._body import BodyRead, ReadBody
from ._http import ASYNC_BODY_END, BODY_END, body_in_memory, decode_body

# How reading a body may end (BODY_END, ASYNC_BODY_END): its end, a body that breaks off, or
# one already consumed (httpx.StreamConsumed is a RuntimeError). What was read until then still
# counts. Kept with the stacks' classes in ``_http``, which grows them when httpx2 is imported.


def read_sync(command: ReadBody) -> BodyRead:
    """The body as the command asks (at most ``limit`` bytes once decoded, no further chunk
    after ``seconds``); the response is closed either way.

    The raw stream is read, not ``iter_bytes()``: httpx would inflate a compressed body whole,
    and a body that fails to decode still yields its bytes.
    """
    response = command.response
    read = _in_memory(command)
    if read is not None:
        response.close()
        return read
    reading = _Reading(command)
    iterator = iter(response.stream)  # type: ignore[arg-type]
    try:
        while reading.wants_more():
            reading.take(next(iterator))
    except BODY_END:
        # The end, a body that breaks off, or one already consumed: what was read still counts.
        pass
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
        response.close()
    return reading.result()


async def read_async(command: ReadBody) -> BodyRead:
    """The async twin of :func:`read_sync`.

    The iterator is closed explicitly: an async generator left unfinished is reported (trio
    turns it into a ResourceWarning) when it is garbage collected.
    """
    response = command.response
    read = _in_memory(command)
    if read is not None:
        await response.aclose()
        return read
    reading = _Reading(command)
    iterator = response.stream.__aiter__()  # type: ignore[union-attr]
    ended = False
    try:
        while reading.wants_more():
            reading.take(await iterator.__anext__())
    except ASYNC_BODY_END:
        ended = True
    finally:
        await response.aclose()
        if not ended:
            await _unwind(iterator)
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
    return reading.result()


async def _unwind(iterator: Any) -> None:
    """Run a body iterator stopped early to its end, on its closed response: httpx and httpcore
    nest async generators in it that ``aclose()`` does not reach, and trio reports every one
    left suspended when it is collected. What the connection had buffered comes out first (at
    most ``_UNWIND_STEPS`` chunks), then the closed connection fails the next read, which
    unwinds them all; the zero timeout makes sure nothing is waited for, and the byte cap that a
    stream which is not a connection's (one in memory, say) is not read on to its end."""
    drained = 0
    with anyio.move_on_after(0), contextlib.suppress(Exception):
        for _ in range(_UNWIND_STEPS):
            drained += len(await iterator.__anext__())
            if drained > _UNWIND_BYTES:
                break


#: Chunks taken from a stopped body's buffers before giving up on unwinding it: more than one
#: read of 64 KiB can hold (the smallest chunk, ``1\r\nx\r\n``, takes 6 bytes)...
_UNWIND_STEPS = 16_384
#: ...and bytes: a connection's buffers hold a read or two of 64 KiB, never more.
_UNWIND_BYTES = 256 * 1024


def _in_memory(command: ReadBody) -> BodyRead | None:
    """The body already read (a response built with ``content=``), cut to the limit; None when
    it must be read from the stream."""
    body = body_in_memory(command.response)
    if body is None:
        return None
    return body[: command.limit], "size" if len(body) > command.limit else None


class _Reading:
    """A body being read from its stream: what arrived, and whether to read on. The bounds are
    applied here, once for both drivers, which only fetch the next chunk."""

    def __init__(self, command: ReadBody) -> None:
        self.command = command
        self.raw = bytearray()
        self.late = False
        self._give_up = time.monotonic() + command.seconds

    def wants_more(self) -> bool:
        return len(self.raw) < self.command.limit and not self.late

    def take(self, chunk: bytes) -> None:
        self.raw += chunk
        if len(self.raw) < self.command.limit and time.monotonic() >= self._give_up:
            self.late = True  # checked between chunks: the wait for one is the read timeout's

    def result(self) -> BodyRead:
        """The body read, decoded within the limit, and why it stops short: a body exactly
        ``limit`` bytes long is not said to be cut (nothing more was read to tell)."""
        limit = self.command.limit
        body, more = decode_body(self.command.response, bytes(self.raw[:limit]), limit)
        cut = "time" if self.late else "size" if more or len(self.raw) > limit else None
        return body, cut
