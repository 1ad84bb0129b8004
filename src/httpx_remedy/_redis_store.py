"""A :class:`~._store.Store` shared through Redis by every process that points at it.

A fleet of workers makes one token request when a token expires (a Redis lock with expiry and a
fenced write) and backs off together when one of them meets a 429 (pauses announced over
pub/sub, and polled for the origins in use). When Redis is down or slow, each process goes on by
itself: the calls answer as if nothing were shared, one warning is logged, and Redis is tried
again a few seconds later.
"""

from __future__ import annotations

import contextlib
import math
import secrets as _secrets
import threading
import time
from typing import Any

from ._listen import emit_process
from ._redact import redact_url
from ._store import DEFAULT_MAX_PAUSE, MemoryStore, Store, check_max_pause

# Fenced write and unlock must each be one atomic step in Redis: a script checks the lock's
# value and acts only while it is still ours.
_PUT_FENCED = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  if ARGV[3] == '' then redis.call('set', KEYS[2], ARGV[2])
  else redis.call('set', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
  return 1
end
return 0
"""
_UNLOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisStore(Store):
    """State shared through Redis by every process that uses the same ``url`` and ``prefix``.

    Args:
        url: the Redis URL, e.g. ``redis://127.0.0.1:6379/0``.
        prefix: put before every key, so several applications can share one Redis.
        timeout: seconds a Redis call may take before it counts as a fault; kept short, as a
            slow Redis must not slow requests down.
        lock_ttl: the longest a refresh lock is held (a crashed holder blocks no longer).
        retry_in: after a fault, how long the store answers locally before trying Redis again.
        client: a ready client to use instead of connecting to ``url``: a ``redis.Redis``
            (one from a ``redis.sentinel.Sentinel``'s ``master_for()`` too), or a
            ``redis.cluster.RedisCluster``. On a cluster, the keys each script touches share
            one hash slot (a token and its lock are named ``...{key}`` and ``...lock:{key}``).
        max_pause: the longest pause kept, in seconds (see :attr:`Store.max_pause`): applied to
            what this process announces and writes, to what it hears from other processes, and
            to a pause key it reads back (a longer key, left by another configuration or an
            earlier run, is cut to this in Redis too).
        poll_every: how often the listener asks Redis about the pauses of the origins in use
            (so that a pause announced before this process subscribed is heard too): one round
            trip, however many origins.
        forget_after: an origin not requested for this long is no longer asked about.
        max_origins: the most origins asked about, the most recently requested kept.

    A process that sends nothing sends nothing to Redis either, once its origins are forgotten.
    Pauses announced by others are still heard, over pub/sub.

    Needs redis-py: ``pip install 'httpx-remedy[redis]'``.
    """

    shares_counts = True

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "httpx-remedy:",
        timeout: float = 0.25,
        lock_ttl: float = 10.0,
        retry_in: float = 5.0,
        client: Any = None,
        max_pause: float = DEFAULT_MAX_PAUSE,
        poll_every: float = 1.0,
        forget_after: float = 60.0,
        max_origins: int = 256,
    ) -> None:
        try:
            import redis
        except ImportError as error:  # pragma: no cover - the extra is installed in tests
            raise ImportError(
                "RedisStore needs redis-py: pip install 'httpx-remedy[redis]'"
            ) from error
        #: The Redis URL without its password, for messages.
        self.url = redact_url(url)
        self.prefix = prefix
        self.lock_ttl = float(lock_ttl)
        self.retry_in = float(retry_in)
        self.max_pause = check_max_pause(max_pause)
        for name, value in (("poll_every", poll_every), ("forget_after", forget_after)):
            if isinstance(value, bool) or not (
                isinstance(value, (int, float)) and math.isfinite(value) and value > 0
            ):
                raise ValueError(f"{name} must be a finite number of seconds > 0, not {value!r}")
        if isinstance(max_origins, bool) or not (isinstance(max_origins, int) and max_origins > 0):
            raise ValueError(f"max_origins must be an int > 0, not {max_origins!r}")
        self.poll_every = float(poll_every)
        self.forget_after = float(forget_after)
        self.max_origins = max_origins
        self._errors = (redis.RedisError, OSError)
        self._redis = client or redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        # A Redis Cluster's scripts may only touch keys of one hash slot: hash tags put a token
        # and its lock in the same one. A plain Redis keeps the names it always had.
        self._cluster = hasattr(self._redis, "get_nodes")
        self._put_fenced = self._redis.register_script(_PUT_FENCED)
        self._unlock = self._redis.register_script(_UNLOCK)
        self._guard = threading.Lock()
        self._down_until = 0.0
        self._warned = False
        # Origins requested since the listener last looked (the hot path only adds to it).
        self._used: set[str] = set()
        # The origins asked about, each with when it was last requested, least recent first;
        # the listener thread's alone.
        self._interest: dict[str, float] = {}
        self._clock = time.monotonic
        self._listener: threading.Thread | None = None
        # The listener thread met an error that is not Redis's (told once, until it works).
        self._listener_broken = False
        self._closed = threading.Event()
        # What answers while Redis is away, and where pauses heard are kept.
        self.local = MemoryStore(lock_ttl=lock_ttl, max_pause=self.max_pause)

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, prefix={self.prefix!r})"

    # -- fault handling ------------------------------------------------------------------------

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _fault(self, error: BaseException) -> None:
        with self._guard:
            self._down_until = time.monotonic() + self.retry_in
            first = not self._warned
            self._warned = True
        if first:
            from ._events import StoreFault  # loaded by the first event (import time)

            emit_process(StoreFault(time.monotonic(), f"Redis at {self.url}", type(error).__name__))

    def _recovered(self) -> None:
        if self._warned:
            with self._guard:
                self._warned = False
            from ._events import StoreFault

            emit_process(StoreFault(time.monotonic(), f"Redis at {self.url}", "", recovered=True))

    def _call(self, method: str, *args: Any) -> Any:
        """``method`` on Redis; on the local store while Redis is away or when it fails."""
        if not self._available():
            return getattr(self.local, method)(*args)
        try:
            result = getattr(self, "_redis_" + method)(*args)
        except self._errors as error:
            self._fault(error)
            return getattr(self.local, method)(*args)
        self._recovered()
        return result

    # -- the interface -------------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        found: bytes | None = self._call("get", key)
        return found

    def put(self, key: str, value: bytes, ttl: float | None) -> None:
        self._call("put", key, value, ttl)

    def lock(self, key: str) -> str | None:
        token: str | None = self._call("lock", key)
        return token

    def put_fenced(self, lock: str, token: str, key: str, value: bytes, ttl: float | None) -> bool:
        return bool(self._call("put_fenced", lock, token, key, value, ttl))

    def unlock(self, key: str, token: str) -> None:
        self._call("unlock", key, token)

    def pause(self, origin: str, seconds: float) -> None:
        self._remember_pause(origin, seconds)
        self._call("pause", origin, seconds)

    def paused_for(self, origin: str) -> float:
        # From memory only: the listener thread keeps it current (it hears announcements as
        # they are made, and asks Redis about the origins in use every poll_every seconds, so
        # that a pause announced before this process subscribed is heard too).
        self._used.add(origin)
        if self._listener is None:
            self._listen()
        return self.local.paused_for(origin)

    def share_counts(
        self, origin: str, firsts: int, retries: int, window: float
    ) -> tuple[int, int] | None:
        # One round trip: add to this tenth of the window's hash, read the last ten. The
        # slots are on the wall clock, which the processes share (monotonic clocks differ).
        if not self._available():
            return None
        slot = window / 10
        index = int(time.time() / slot)
        keys = [f"{self.prefix}budget:{{{origin}}}:{i}" for i in range(index - 9, index + 1)]
        try:
            pipe = self._redis.pipeline(transaction=False)
            if firsts:
                pipe.hincrby(keys[-1], "f", firsts)
            if retries:
                pipe.hincrby(keys[-1], "r", retries)
            pipe.pexpire(keys[-1], max(1, int((window + slot) * 1000)))
            for key in keys:
                pipe.hmget(key, "f", "r")
            found = pipe.execute()[-10:]
        except self._errors as error:
            self._fault(error)
            return None
        self._recovered()
        return (
            sum(int(f or 0) for f, _ in found),
            sum(int(r or 0) for _, r in found),
        )

    def close(self) -> None:
        """Stop listening for pauses and close the connections."""
        self._closed.set()
        self._redis.close()

    # -- Redis ---------------------------------------------------------------------------------

    def _remember_pause(self, origin: str, seconds: float) -> None:
        self.local.pause(origin, seconds)

    def _name(self, key: str) -> str:
        """The Redis key of ``key``: on a cluster, ``lock:x`` and ``x`` hash alike."""
        if not self._cluster:
            return self.prefix + key
        if key.startswith("lock:"):
            return f"{self.prefix}lock:{{{key[5:]}}}"
        return f"{self.prefix}{{{key}}}"

    def _redis_get(self, key: str) -> bytes | None:
        value = self._redis.get(self._name(key))
        if isinstance(value, str):
            return value.encode()
        return value if isinstance(value, bytes) else None

    def _redis_put(self, key: str, value: bytes, ttl: float | None) -> None:
        px = None if ttl is None else max(1, int(ttl * 1000))
        self._redis.set(self._name(key), value, px=px)

    def _redis_lock(self, key: str) -> str | None:
        token = _secrets.token_hex(8)
        taken = self._redis.set(self._name(key), token, nx=True, px=int(self.lock_ttl * 1000))
        return token if taken else None

    def _redis_put_fenced(
        self, lock: str, token: str, key: str, value: bytes, ttl: float | None
    ) -> bool:
        px = "" if ttl is None else str(max(1, int(ttl * 1000)))
        return bool(
            self._put_fenced(keys=[self._name(lock), self._name(key)], args=[token, value, px])
        )

    def _redis_unlock(self, key: str, token: str) -> None:
        self._unlock(keys=[self._name(key)], args=[token])

    def _redis_pause(self, origin: str, seconds: float) -> None:
        seconds = self.pause_length(seconds)
        if seconds <= 0:
            return
        px = max(1, int(seconds * 1000))
        key = self.prefix + "pause:" + origin
        # Keep the longest pause: only extend, never shorten, an announced one; but one longer
        # than max_pause (another configuration, an earlier run) is cut.
        current = self._redis.pttl(key)
        if not (isinstance(current, int) and px <= current <= self._max_pause_ms()):
            self._redis.set(key, b"1", px=px)
        self._redis.publish(self.prefix + "pauses", f"{origin} {seconds}")

    def _max_pause_ms(self) -> int:
        return max(1, int(self.max_pause * 1000))

    def _listen(self) -> None:
        """Start, once, the thread that hears other processes' pauses as they are announced."""
        if self._listener is not None:
            return
        with self._guard:
            if self._listener is not None:
                return
            self._listener = threading.Thread(
                target=self._listen_forever, name="httpx-remedy-pauses", daemon=True
            )
            self._listener.start()

    def _listen_forever(self) -> None:
        channel = self.prefix + "pauses"
        while not self._closed.is_set():
            try:
                # Its own connection from the client's pool; each wait for a message (0.2 s) is
                # shorter than the socket timeout, so a quiet channel is not a fault.
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(channel)
                asked = 0.0
                wait = min(0.2, self.poll_every)
                while not self._closed.is_set():
                    if time.monotonic() - asked >= self.poll_every:
                        asked = time.monotonic()
                        self._ask_about_pauses()
                    message = pubsub.get_message(timeout=wait)
                    if message is not None:
                        self._heard(message.get("data"))
                    if self._listener_broken:
                        self._listener_fault(None)
            except self._errors as error:
                self._fault(error)
                self._closed.wait(self.retry_in)
            except Exception as error:
                # Not Redis's error (a client that is not redis-py's, a bug): the pauses other
                # processes announce go unheard meanwhile, a fault of the sharing like any
                # other; the store's calls, which may well work, go on using Redis.
                self._listener_fault(error)
                self._closed.wait(1.0)

    def _listener_fault(self, error: Exception | None) -> None:
        """Tell the listeners, once, that the pause listener fails with ``error``; or, None,
        that it works again."""
        if self._listener_broken == (error is not None):
            return  # told already
        from ._events import StoreFault  # loaded by the first event (import time)

        self._listener_broken = error is not None
        where = f"the pause listener of Redis at {self.url}"
        if error is None:
            emit_process(StoreFault(time.monotonic(), where, "", recovered=True))
        else:
            emit_process(StoreFault(time.monotonic(), where, type(error).__name__))

    def _origins_in_use(self) -> list[str]:
        """The origins to ask about: those requested in the last ``forget_after`` seconds, at
        most ``max_origins`` of them, the most recently requested."""
        now = self._clock()
        used, self._used = self._used, set()
        interest = self._interest
        for origin in used:
            interest.pop(origin, None)  # to the end: the most recent
            interest[origin] = now
        while interest:
            oldest = next(iter(interest))
            if len(interest) <= self.max_origins and now - interest[oldest] < self.forget_after:
                break
            del interest[oldest]
        return list(interest)

    def _ask_about_pauses(self) -> None:
        """One round trip for every origin in use (none when there is none)."""
        origins = self._origins_in_use()
        if not origins:
            return
        keys = [self.prefix + "pause:" + origin for origin in origins]
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.pttl(key)
        longest = self._max_pause_ms()
        too_long = []
        for origin, key, left in zip(origins, keys, pipe.execute(), strict=True):
            if isinstance(left, int) and left > 0:
                if left > longest:
                    too_long.append(key)
                self._remember_pause(origin, left / 1000)
        if too_long:
            # Left by another configuration or an earlier run: cut to max_pause here too, or
            # it would be read back again every time the capped pause ran out.
            pipe = self._redis.pipeline(transaction=False)
            for key in too_long:
                pipe.pexpire(key, longest)
            pipe.execute()

    def _heard(self, data: object) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        origin, _, seconds = text.rpartition(" ")
        with contextlib.suppress(ValueError):
            self._remember_pause(origin, float(seconds))
