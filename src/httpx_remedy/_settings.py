"""A transport's configuration as the flows need it: :class:`Settings`, and :class:`Auth` (its
credentials and where their token may go)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING

from ._http import Origin, Request, authorization_of, origin_text, stack_of
from ._listen import emit, listening

if TYPE_CHECKING:
    from ._listen import Listener
    from ._manager import TokenManager
    from ._policy import Retry
    from ._store import Store


@dataclass
class Auth:
    """A transport's credentials: the shared token state, and where tokens may go."""

    source: object
    manager: TokenManager
    #: The transport's own ``origins=`` (they win); None: the credentials' own binding, shared
    #: by every transport that names none (``manager.origins``).
    origins: frozenset[Origin] | None
    step_up: bool
    #: Where the token is shared with other processes (None: this process only).
    store: Store | None = None
    #: The origin last found bound (``wants``): the hot path compares a request's origin with
    #: it instead of hashing it into ``origins``. A binding never goes away, so it never needs
    #: clearing; one key, so nothing to bound.
    last_bound: Origin | None = field(default=None, compare=False, repr=False)
    #: The settings of the transport these credentials are (set by them: see
    #: :meth:`Settings.__post_init__`): where the binding is told, on which clock.
    settings: Settings | None = field(default=None, compare=False, repr=False)

    def wants(self, request: Request, origin: Origin) -> bool:
        """True when the request goes to a bound origin and has no Authorization of its own."""
        origins = self.origins
        if origins is None:
            # Read without a lock once decided (every request); the first decision is taken
            # under the manager's lock, once for every transport using these credentials.
            origins = self.manager.origins
            if origins is None:
                origins, bound = self.manager.bind(origin, str(request.url))
                if bound:
                    self._tell_bound(origin)
        if origin not in origins:
            return False
        self.last_bound = origin
        own = authorization_of(request)
        # Ours when it is a token we issued (httpx copies it onto a same-origin redirect).
        return own is None or self.manager.issued(own)

    def _tell_bound(self, origin: Origin) -> None:
        """The credentials were just bound to ``origin``: told to the transport's listeners
        (once per credentials object, by the transport whose request bound them)."""
        settings = self.settings
        if settings is not None and listening(settings):
            from ._events import CredentialsBound  # loaded by the first event (import time)

            emit(settings, CredentialsBound(settings.clock(), origin_text(origin)))

    def bound_to(self) -> frozenset[Origin]:
        """The origins the token goes to from this transport (empty: none bound yet)."""
        return self.origins if self.origins is not None else self.manager.origins or frozenset()


@dataclass(frozen=True)
class Settings:
    """The transport's configuration, as the flows need it."""

    retry: Retry | None
    raise_errors: bool
    max_error_body: int
    auth: Auth | None = None
    #: Where pauses per origin are shared with other processes (None: this process only).
    store: Store | None = None
    #: The HTTP stack (``httpx`` or ``httpx2``) of the wrapped transport.
    stack: ModuleType = field(default_factory=lambda: stack_of(None))
    #: Secret values to scrub from error messages, for flows that run without ``auth`` (the
    #: token request's own).
    secrets: tuple[str, ...] = ()
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    #: The transport's own listeners (``listeners=``), heard before the process-wide ones.
    listeners: tuple[Listener, ...] = ()
    #: True when a first send may have to wait for a pause heard from the store (derived).
    pauses: bool = field(init=False, compare=False, repr=False)
    #: True when a request that names no policy of its own has nothing done before its send:
    #: no policy, no credentials, no store (derived; the drivers skip ``prepare`` then).
    plain: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pauses", self.store is not None)
        plain = self.retry is None and self.auth is None and self.store is None
        object.__setattr__(self, "plain", plain)
        if self.auth is not None:
            # The credentials' binding is decided in ``Auth.wants``, which has no settings:
            # it tells these listeners (the latest settings of a transport win: its clock).
            self.auth.settings = self

    def known_secrets(self) -> tuple[str, ...]:
        """The secret values to scrub from what a flow prints, logs or raises now: the
        credentials' (their current token, client secret, refresh token), else ``secrets``."""
        if self.auth is not None:
            return self.auth.manager.secrets()
        return self.secrets
