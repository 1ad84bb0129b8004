"""Carrying out a :class:`~._body.ReadBody`: the body read within its bounds, sync and async.

The raw stream is read, not ``iter_bytes()``: httpx would inflate a compressed body whole, and
a body that fails to decode still yields its bytes. Decoding is bounded (``_decode``).
"""

from __future__ import annotations

import time

from ._body import BodyRead, ReadBody
from ._http import TRANSPORT_ERRORS, Response, body_in_memory, decode_body

# How reading a body may end: its end, a body that breaks off, or one already consumed
# (httpx.StreamConsumed is a RuntimeError). What was read until then still counts.
BODY_END: tuple[type[BaseException], ...] = (StopIteration, RuntimeError, *TRANSPORT_ERRORS)
ASYNC_BODY_END: tuple[type[BaseException], ...] = (
    StopAsyncIteration,
    RuntimeError,
    *TRANSPORT_ERRORS,
)


def read_sync(command: ReadBody) -> BodyRead:
    """The body as the command asks (at most ``limit`` bytes once decoded, no further chunk
    after ``seconds``); the response is closed either way.

    The raw stream is read, not ``iter_bytes()``: httpx would inflate a compressed body whole,
    and a body that fails to decode still yields its bytes.
    """
    response, limit = command.response, command.limit
    body = body_in_memory(response)
    if body is not None:
        response.close()
        return body[:limit], "size" if len(body) > limit else None
    raw = bytearray()
    late = False
    give_up = time.monotonic() + command.seconds
    iterator = iter(response.stream)  # type: ignore[arg-type]
    try:
        while len(raw) < limit:
            raw += next(iterator)
            if len(raw) < limit and time.monotonic() >= give_up:
                late = True
                break
    except BODY_END:
        # The end, a body that breaks off, or one already consumed: what was read still counts.
        pass
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
        response.close()
    return _decoded(response, raw, limit, late)


async def read_async(command: ReadBody) -> BodyRead:
    """The async twin of :func:`read_sync`.

    The iterator is closed explicitly: an async generator left unfinished is reported (trio
    turns it into a ResourceWarning) when it is garbage collected.
    """
    response, limit = command.response, command.limit
    body = body_in_memory(response)
    if body is not None:
        await response.aclose()
        return body[:limit], "size" if len(body) > limit else None
    raw = bytearray()
    late = False
    give_up = time.monotonic() + command.seconds
    iterator = response.stream.__aiter__()  # type: ignore[union-attr]
    try:
        while len(raw) < limit:
            raw += await iterator.__anext__()
            if len(raw) < limit and time.monotonic() >= give_up:
                late = True
                break
    except ASYNC_BODY_END:
        pass
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
        await response.aclose()
    return _decoded(response, raw, limit, late)


def _decoded(response: Response, raw: bytearray, limit: int, late: bool) -> BodyRead:
    """The body read, decoded within ``limit``, and why it stops short: a body exactly
    ``limit`` bytes long is not said to be cut (nothing more was read to tell)."""
    body, more = decode_body(response, bytes(raw[:limit]), limit)
    return body, "time" if late else "size" if more or len(raw) > limit else None
