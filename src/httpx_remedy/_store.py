"""Where state shared between processes lives: tokens, and pauses per origin.

A :class:`Store` is a small key-value interface with expiry, a lock with a fencing token, and
"pause this origin until" announcements. :class:`MemoryStore` keeps everything in the process
(the default behaviour, made explicit); :class:`RedisStore` (``_redis_store``) shares it
between every process that points at the same Redis, so that a fleet of workers makes one token
request when a token expires and backs off together when one of them meets a 429.

A store never turns its own fault into a failed request: when Redis is down or slow, the calls
answer as if nothing were shared (per-process behaviour), one warning is logged, and Redis is
tried again a few seconds later.

A shared pause is capped (``max_pause``, five minutes by default) when it is announced, heard or
read back, so that one answer with ``Retry-After: 31536000``, another process configured
differently or a key left over from an earlier run cannot stop a fleet for long.
"""

from __future__ import annotations

import abc
import math
import secrets as _secrets
import threading
import time
from collections.abc import Callable

import anyio.to_thread

#: The default of ``Store.max_pause``: five minutes.
DEFAULT_MAX_PAUSE = 300.0
# More pauses than this in a MemoryStore, and the expired ones are dropped on the next pause.
_PRUNE_PAUSES_AT = 1024


def check_max_pause(value: float) -> float:
    if isinstance(value, bool) or not (
        isinstance(value, (int, float)) and math.isfinite(value) and value >= 0
    ):
        raise ValueError(f"max_pause must be a finite number of seconds >= 0, not {value!r}")
    return float(value)


class Store(abc.ABC):
    """The interface a shared store implements. Every method is safe to call from any thread;
    the ``a``-prefixed twins are for async code (asyncio or trio) and never block the loop."""

    #: How long a refresh lock is held at most: a holder that crashed blocks the others for no
    #: longer than this.
    lock_ttl: float = 10.0
    #: The longest pause a store keeps, in seconds: a longer announcement is cut to this when it
    #: is made, heard or read back. Long enough for a real rate-limit window (a per-minute
    #: quota, a short maintenance), short enough that one wrong answer cannot stop a fleet for
    #: long; a request whose policy would not wait that long raises ``OriginPaused`` at once.
    max_pause: float = DEFAULT_MAX_PAUSE
    #: Whether :meth:`share_counts` shares anything (the retry budget asks it only then).
    shares_counts: bool = False

    @abc.abstractmethod
    def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, or None."""

    @abc.abstractmethod
    def put(self, key: str, value: bytes, ttl: float | None) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (None: no expiry)."""

    @abc.abstractmethod
    def lock(self, key: str) -> str | None:
        """Take the lock ``key`` for at most ``lock_ttl`` seconds: its fencing token, or None
        when another holder has it."""

    @abc.abstractmethod
    def put_fenced(self, lock: str, token: str, key: str, value: bytes, ttl: float | None) -> bool:
        """``put`` only while ``lock`` is still held with ``token``: a writer whose lock expired
        cannot overwrite what the next holder wrote. True when written."""

    @abc.abstractmethod
    def unlock(self, key: str, token: str) -> None:
        """Release the lock ``key`` if ``token`` still holds it."""

    @abc.abstractmethod
    def pause(self, origin: str, seconds: float) -> None:
        """Announce that ``origin`` asked every client to wait ``seconds`` (at most
        ``max_pause``: see :meth:`pause_length`)."""

    def pause_length(self, seconds: float) -> float:
        """How long a pause announced for ``seconds`` lasts here: capped at ``max_pause``,
        0 for a negative or NaN value."""
        if not seconds > 0:
            return 0.0
        return min(float(seconds), self.max_pause)

    @abc.abstractmethod
    def paused_for(self, origin: str) -> float:
        """Seconds left of the pause of ``origin`` (0 when none). Called for every request, so
        it answers from memory."""

    def share_counts(
        self, origin: str, firsts: int, retries: int, window: float
    ) -> tuple[int, int] | None:
        """Add a process's new first attempts and retries to ``origin`` to the fleet's counts,
        and return the fleet's totals over the last ``window`` seconds (firsts, retries), so
        that the retry budget is counted across processes. None: nothing is shared (the
        default; each process counts alone)."""
        return None

    async def ashare_counts(
        self, origin: str, firsts: int, retries: int, window: float
    ) -> tuple[int, int] | None:
        return await anyio.to_thread.run_sync(self.share_counts, origin, firsts, retries, window)

    async def aget(self, key: str) -> bytes | None:
        return await anyio.to_thread.run_sync(self.get, key)

    async def aput(self, key: str, value: bytes, ttl: float | None) -> None:
        await anyio.to_thread.run_sync(self.put, key, value, ttl)

    async def alock(self, key: str) -> str | None:
        return await anyio.to_thread.run_sync(self.lock, key)

    async def aput_fenced(
        self, lock: str, token: str, key: str, value: bytes, ttl: float | None
    ) -> bool:
        return await anyio.to_thread.run_sync(self.put_fenced, lock, token, key, value, ttl)

    async def aunlock(self, key: str, token: str) -> None:
        await anyio.to_thread.run_sync(self.unlock, key, token)

    async def apause(self, origin: str, seconds: float) -> None:
        await anyio.to_thread.run_sync(self.pause, origin, seconds)


class MemoryStore(Store):
    """Everything in this process: what the library does without a store, as a store.

    Args:
        lock_ttl: the longest a refresh lock is held.
        max_pause: the longest pause kept, in seconds (see :attr:`Store.max_pause`).
        clock: the monotonic clock expiries, locks and pauses are measured on, in seconds
            (default ``time.monotonic``). Tests pass a fake one to let time pass without
            sleeping; it must only move forward.
    """

    def __init__(
        self,
        *,
        lock_ttl: float = 10.0,
        max_pause: float = DEFAULT_MAX_PAUSE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds, not {clock!r}")
        self.lock_ttl = float(lock_ttl)
        self.max_pause = check_max_pause(max_pause)
        self._clock = clock
        self._guard = threading.Lock()
        self._values: dict[str, tuple[bytes, float | None]] = {}
        self._pauses: dict[str, float] = {}

    def __repr__(self) -> str:
        return "MemoryStore()"

    def get(self, key: str) -> bytes | None:
        with self._guard:
            found = self._values.get(key)
            if found is None:
                return None
            value, until = found
            if until is not None and self._clock() >= until:
                del self._values[key]
                return None
            return value

    def put(self, key: str, value: bytes, ttl: float | None) -> None:
        with self._guard:
            self._values[key] = (value, None if ttl is None else self._clock() + ttl)

    def lock(self, key: str) -> str | None:
        token = _secrets.token_hex(8)
        with self._guard:
            held = self._values.get(key)
            if held is not None and held[1] is not None and self._clock() < held[1]:
                return None
            self._values[key] = (token.encode(), self._clock() + self.lock_ttl)
        return token

    def put_fenced(self, lock: str, token: str, key: str, value: bytes, ttl: float | None) -> bool:
        with self._guard:
            held = self._values.get(lock)
            if (
                held is None
                or held[0] != token.encode()
                or (held[1] is not None and self._clock() >= held[1])
            ):
                return False
            self._values[key] = (value, None if ttl is None else self._clock() + ttl)
            return True

    def unlock(self, key: str, token: str) -> None:
        with self._guard:
            held = self._values.get(key)
            if held is not None and held[0] == token.encode():
                del self._values[key]

    def pause(self, origin: str, seconds: float) -> None:
        seconds = self.pause_length(seconds)
        if seconds <= 0:
            return
        now = self._clock()
        until = now + seconds
        with self._guard:
            if until > self._pauses.get(origin, 0.0):
                if origin not in self._pauses and len(self._pauses) >= _PRUNE_PAUSES_AT:
                    # Pauses heard for origins never asked about are only dropped here.
                    self._pauses = {o: u for o, u in self._pauses.items() if u > now}
                self._pauses[origin] = until

    def paused_for(self, origin: str) -> float:
        until = self._pauses.get(origin)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            self._pauses.pop(origin, None)
            return 0.0
        return left
