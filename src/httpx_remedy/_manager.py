"""The token state one credentials object shares with every transport that uses it.

A :class:`TokenManager` decides, without I/O, whether a request can use the current token,
whether a rejected token was already replaced, what to remember after a failed fetch, and where
the token may go when a transport names no origins (the origin binding, decided once under a
lock). The flows fetch under its lock, so one token request serves every waiting request.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from anyio.lowlevel import RunVar

from ._dpop import DPoPKey, Signer
from ._exceptions import HTTPError, ReauthenticationRequired
from ._http import Origin
from ._token import Token, covers, require_secure


class TokenManager:
    """The current token of one credentials object, shared by every transport that uses it.

    It decides (no I/O): whether a request can use the current token, whether a rejected token
    was already replaced, what to remember after a failure, and where the token may go when a
    transport names no origins. The transports hold its lock while they fetch, so that however
    many threads or tasks find the token expired at once, exactly one token request is made.
    """

    def __init__(self, source: object, dpop: DPoPKey | None = None) -> None:
        self.source = source
        #: The DPoP key and nonces of these credentials (None: no DPoP); see :meth:`use_key`.
        self.dpop: Signer | None = None
        self.token: Token | None = None
        self.rejection: HTTPError | None = None
        self.sync_lock = threading.Lock()
        # The lock per event loop, made by the first async fetch (anyio.lowlevel is imported
        # then: most processes never need it).
        self._async_lock: RunVar[anyio.Lock] | None = None
        self._issued: tuple[str, ...] = ()
        #: Where the token may go for every transport given no ``origins=``: decided once per
        #: credentials object, by the first request any of those transports sends (None until
        #: then). Read without a lock; written once, under ``_bind_lock``.
        self.origins: frozenset[Origin] | None = None
        self._bind_lock = threading.Lock()
        # The requests of this process waiting for the lock, one ticket each (for the fetch's
        # event: how many one fetch served). Weak: a wait abandoned (timed out, cancelled)
        # drops its ticket with its flow, and is counted no more.
        self._waiting: weakref.WeakSet[Ticket] = weakref.WeakSet()
        self._queue_lock = threading.Lock()
        if dpop is not None:
            self.use_key(dpop)

    def bind(self, origin: Origin, url: str) -> tuple[frozenset[Origin], bool]:
        """The origins the token is bound to, binding it to ``origin`` (the origin of ``url``)
        when nothing is bound yet; and whether this call bound it (the caller tells the
        listeners: :class:`~._events.CredentialsBound`).

        One decision, under a lock: two first requests to two hosts at once, from two threads
        or through two mounts, cannot both get the token. Plain ``http://`` to a host that is
        not loopback is refused, and binds nothing.
        """
        with self._bind_lock:
            if self.origins is not None:
                return self.origins, False
            require_secure(url, "access tokens")
            self.origins = frozenset((origin,))
            return self.origins, True

    def join_queue(self) -> Ticket:
        """A request starts waiting for the lock: its ticket, held by its flow."""
        ticket = Ticket()
        with self._queue_lock:
            self._waiting.add(ticket)
        return ticket

    def leave_queue(self, ticket: Ticket) -> None:
        """The request holding ``ticket`` got the lock."""
        with self._queue_lock:
            self._waiting.discard(ticket)

    @property
    def queued(self) -> int:
        """How many requests of this process wait for the lock now."""
        with self._queue_lock:
            return len(self._waiting)

    def async_lock(self) -> anyio.Lock:
        """A lock for the running event loop (an anyio lock cannot cross event loops)."""
        per_loop = self._async_lock
        if per_loop is None:
            per_loop = self._per_loop()
        try:
            return per_loop.get()
        except LookupError:
            lock = anyio.Lock()
            per_loop.set(lock)
            return lock

    def _per_loop(self) -> RunVar[anyio.Lock]:
        """The variable holding each event loop's lock, made once (two threads' first fetches
        must not make two)."""
        import anyio.lowlevel

        with self._queue_lock:
            self._async_lock = self._async_lock or anyio.lowlevel.RunVar("lock")
            return self._async_lock

    def current(self, now: float) -> Token | None:
        """The token to use without asking anyone, or None: the hot path, no lock."""
        token = self.token
        # Token.fresh(), inlined: this runs for every authorized request.
        if token is not None and (token.refresh_at is None or now < token.refresh_at):
            return token
        return None

    def reusable(self, rejected: Token | None, now: float, scope: str | None) -> Token | None:
        """Called under the lock: a token someone else fetched meanwhile, or None to fetch."""
        if self.rejection is not None:
            raise ReauthenticationRequired(self.rejection)
        token = self.token
        if token is None or token is rejected or not token.fresh(now):
            return None
        if scope is not None and not covers(token.scope, scope):
            return None
        return token

    def use_key(self, key: DPoPKey) -> None:
        """Prove possession of this source's DPoP tokens with ``key``; a source has one key."""
        if not isinstance(key, DPoPKey):
            raise TypeError(f"dpop must be a httpx_remedy.DPoPKey, not {key!r}")
        with self._bind_lock:
            if self.dpop is None:
                self.dpop = Signer(key)
            elif self.dpop.key != key:
                raise ValueError(
                    f"these credentials already prove possession with {self.dpop.key!r}; "
                    f"one token source has one DPoP key, not also {key!r}"
                )

    def store(self, token: Token) -> Token:
        """Take ``token`` as the current one. A ``DPoP`` token is bound to the credentials'
        key here, once: its requests then carry a proof (``ValueError`` without a key)."""
        if token.token_type != "Bearer" and token.token_type.lower() == "dpop":
            token = self.bound(token)
        self.token = token
        self._issued = (token.authorization, *self._issued[:3])
        return token

    def bound(self, token: Token) -> Token:
        """A copy of the DPoP ``token`` that signs its requests' proofs with the key."""
        if self.dpop is None:
            raise ValueError(dpop_without_key(self.source))
        bound = dataclasses.replace(token, token_type="DPoP")  # the scheme as RFC 9449 spells it
        object.__setattr__(bound, "_dpop", self.dpop.proof(token.access_token))
        object.__setattr__(bound, "header_row", None)  # never the Bearer hot path
        return bound

    def failed(
        self, error: BaseException, rejected: Token | None, now: float, scope: str | None
    ) -> Token | None:
        """After a failed fetch: a still-valid token to carry on with, or None to raise.

        A rejection for good (the catalog says re-authenticate or fail fast) is remembered, so
        the endpoint is not asked again on every request. A transient failure leaves the
        current token in use while it has not expired.
        """
        if (
            isinstance(error, HTTPError)
            and scope is None
            and not (error.entry.remedy.passes or error.status_code >= 500)
        ):
            self.rejection = error
            self.token = None
            return None
        token = self.token
        if token is not None and token is not rejected and token.usable(now) and scope is None:
            return token
        return None

    def issued(self, header_value: str) -> bool:
        """True when ``header_value`` is an Authorization value this manager handed out."""
        return header_value in self._issued

    def reset(self) -> None:
        self.token = None
        self.rejection = None

    def secrets(self) -> tuple[str, ...]:
        token = self.token
        extra = getattr(self.source, "secrets", None)
        found = tuple(extra()) if callable(extra) else ()
        if token is not None:
            found += (token.access_token,) + ((token.refresh_token,) if token.refresh_token else ())
        return found


class Ticket:
    """A request's place in the queue for a manager's lock (see ``TokenManager.join_queue``)."""

    __slots__ = ("__weakref__",)


def dpop_without_key(source: object) -> str:
    """Why a DPoP token cannot be used: nothing holds the key it must be proven with."""
    where = (
        f"{type(source).__name__}(..., dpop=DPoPKey(...))"
        if hasattr(source, "token_request")
        else "the transport's dpop= (RemedyTransport(credentials=source, dpop=DPoPKey(...)))"
    )
    return (
        "the token is DPoP-bound (token_type=DPoP) but no DPoP key was given to prove "
        f"possession of it: pass the key to {where}; a DPoP token is never sent as a Bearer one"
    )
