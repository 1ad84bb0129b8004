"""The event model: one frozen, typed record for every decision the library takes.

The sans-I/O core (``_recovery``, ``_token_flow``, ``_first_send``, ``_pacing``, ``_device``,
the credentials' binding in ``_settings``) and the stores make these records and hand them to
the listeners (``_listen``); the drivers never do, and nothing in the library logs but through
them (a listener's own failure aside, ``_hooks``). A 2xx answered at once makes none: the
success path stays as it is, and httpx's own instrumentation already sees it.

Each record says what happened in a line of text (:meth:`Event.describe`, what the logging
listener and :class:`~._timeline.Timeline` print): one place for the wording. URLs are redacted
(``_redact``), error codes scrubbed, and no record holds a token, a secret or a request object.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Why a retry waits (``RetryScheduled.reason``): the server's ``Retry-After``, its ``RateLimit``
#: headers, a delay in its error body, or the policy's computed backoff. (A retry keeps the
#: policy's wait: the pacer counts it, never delays it; a first send it delays is
#: :class:`RequestPaced`.)
WAIT_REASONS = ("retry-after", "ratelimit", "body", "backoff")

#: Where a server asked for a DPoP nonce (``NonceReplayed.where``): the API (``"resource"``)
#: or the token endpoint (``"token_endpoint"``).
NONCE_PLACES = ("resource", "token_endpoint")

#: Which rule refused a retry (``RetryRefused.cap``).
CAPS = (
    "attempts",
    "max_retry_after",
    "deadline",
    "budget",
    "not_replayable",
    "not_idempotent",
)


@dataclass(frozen=True, slots=True)
class Event:
    """What every event has: ``at``, when it happened (a reading of the transport's monotonic
    clock, ``time.monotonic`` unless a test injects one)."""

    at: float

    def describe(self) -> str:
        """The event as one line of text (no secret: URLs are redacted)."""
        return type(self).__name__


@dataclass(frozen=True, slots=True)
class RequestEvent(Event):
    """An event about one request: its method and its URL (redacted)."""

    method: str
    url: str


@dataclass(frozen=True, slots=True)
class RequestSent(RequestEvent):
    """Attempt number ``attempt`` of a request that needed recovery was sent (the first
    attempt of a request answered with a 2xx at once makes no event)."""

    attempt: int

    def describe(self) -> str:
        return f"sent {self.method} {self.url} (attempt {self.attempt})"


@dataclass(frozen=True, slots=True)
class ErrorClassified(RequestEvent):
    """Attempt ``attempt`` failed: an error ``status`` (None for a transport error) and what
    it said: the OAuth or API error code (scrubbed), or the transport error's class name;
    ``retryable``: whether its kind may be retried at all (the caps decide next)."""

    attempt: int
    status: int | None
    error: str | None
    retryable: bool

    def describe(self) -> str:
        what = _outcome(self.status, self.error)
        kind = "retryable" if self.retryable else "not retryable"
        return f"{self.method} {self.url}: {what} on attempt {self.attempt} ({kind})"


@dataclass(frozen=True, slots=True)
class RetryScheduled(RequestEvent):
    """After failed attempt ``attempt`` (of ``max_attempts``), the request is sent again after
    waiting ``wait`` seconds; ``reason`` is one of :data:`WAIT_REASONS`."""

    attempt: int
    max_attempts: int
    status: int | None
    error: str | None
    wait: float
    reason: str

    def describe(self) -> str:
        return (
            f"retrying {self.method} {self.url} after {_outcome(self.status, self.error)} in "
            f"{self.wait:.3g}s ({self.reason}), attempt {self.attempt} of {self.max_attempts}"
        )


@dataclass(frozen=True, slots=True)
class RetryRefused(RequestEvent):
    """A retryable failure was not retried: ``cap`` (one of :data:`CAPS`) says which limit or
    safety rule stopped it, ``note`` says it in words."""

    attempt: int
    cap: str
    note: str

    def describe(self) -> str:
        return f"not retrying {self.method} {self.url} (attempt {self.attempt}): {self.note}"


@dataclass(frozen=True, slots=True)
class GaveUp(RequestEvent):
    """The final outcome of a failed request: after ``attempts`` sends and ``elapsed``
    seconds, an error ``status`` (None: a transport error) is raised as ``error`` (the class
    name of the exception the caller gets), or returned as it is (``raised`` False, with
    ``raise_errors=False``). ``note`` says why it stopped when it could have gone on.
    ``http_version`` and ``reason_phrase`` are the last response's (for the line httpx would
    have logged had the transport returned). ``ours``: a token request the library made itself
    (httpx never sees it; what came of the token fetch is :class:`TokenFetchFailed`).
    ``client_logger``: the logger of the stack that sent it (``httpx`` or ``httpx2``)."""

    attempts: int
    status: int | None
    error: str
    elapsed: float
    raised: bool
    note: str | None = None
    http_version: str = ""
    reason_phrase: str = ""
    ours: bool = False
    client_logger: str = "httpx"

    def describe(self) -> str:
        what = self.error if self.status is None else f"{self.status} {self.error}"
        tries = "1 attempt" if self.attempts == 1 else f"{self.attempts} attempts"
        text = f"{self.method} {self.url} failed: {what} after {tries} in {self.elapsed:.3g}s"
        return text + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True, slots=True)
class Recovered(RequestEvent):
    """A request that failed at first ended with ``status`` (< 400) after ``attempts`` sends
    and ``elapsed`` seconds."""

    attempts: int
    status: int
    elapsed: float

    def describe(self) -> str:
        return (
            f"{self.method} {self.url} recovered: {self.status} after {self.attempts} "
            f"attempts in {self.elapsed:.3g}s"
        )


@dataclass(frozen=True, slots=True)
class TokenRejected(RequestEvent):
    """The server rejected the token the request carried (``status`` and ``error``, such as
    401 ``invalid_token``); the request is sent again with a new one (``step_up``: a token for
    a wider scope)."""

    attempt: int
    status: int
    error: str | None
    step_up: bool

    def describe(self) -> str:
        said = self.error or "(no error code)"
        wanted = "a token for more scope" if self.step_up else "a new token"
        return f"{self.status} {said} for {self.method} {self.url}: replaying with {wanted}"


@dataclass(frozen=True, slots=True)
class TokenFetched(Event):
    """A new access token came from ``grant`` (``client_credentials``, ``refresh_token``,
    ``device_code``, or the class name of a token source) in ``duration`` seconds;
    ``proactive``: before any request was rejected (none yet, or it was due for refresh);
    ``waiting``: how many other requests of this process were queued for this fetch;
    ``reason``: what the request that needed it was doing (``before sending GET ...``, ``after
    401 invalid_token on GET ...``), its URL redacted."""

    grant: str
    duration: float
    proactive: bool
    waiting: int
    scope: str | None = None
    reason: str = ""

    def describe(self) -> str:
        text = f"fetched a new access token {self.reason} ({self.grant}, {self.duration:.3g}s)"
        if self.waiting:
            many = "request" if self.waiting == 1 else "requests"
            text += f"; {self.waiting} other {many} waited for it"
        return text


@dataclass(frozen=True, slots=True)
class TokenReused(Event):
    """A request waiting for a new token took the one a concurrent fetch got: in this process
    (``shared`` False), or another process's, through the store (``shared`` True)."""

    shared: bool

    def describe(self) -> str:
        return "using the token another " + ("process" if self.shared else "request") + " fetched"


@dataclass(frozen=True, slots=True)
class TokenFetchFailed(Event):
    """A token fetch from ``grant`` failed with ``error`` (the exception's class name).
    ``remembered``: the failure is for good and is raised to every request from now on without
    asking again (``ReauthenticationRequired``); ``kept``: the current token, still valid, is
    used until it expires."""

    grant: str
    error: str
    remembered: bool
    kept: bool

    def describe(self) -> str:
        if self.kept:
            return (
                f"token refresh failed ({self.error}); carrying on with the current token "
                "until it expires"
            )
        then = (
            "remembered: every request raises it until the credentials are reset"
            if self.remembered
            else "raised"
        )
        return f"token fetch ({self.grant}) failed: {self.error}; {then}"


@dataclass(frozen=True, slots=True)
class PauseHeard(Event):
    """An answer asked ``origin`` to be left alone for ``seconds``: every process sharing the
    store is told."""

    origin: str
    seconds: float
    status: int

    def describe(self) -> str:
        return (
            f"{self.origin} answered {self.status}: pausing it for {self.seconds:.3g}s in "
            "every process"
        )


@dataclass(frozen=True, slots=True)
class PauseHonoured(RequestEvent):
    """The request waits ``seconds`` before its first send: a pause another process heard."""

    seconds: float

    def describe(self) -> str:
        return (
            f"waiting {self.seconds:.3g}s before {self.method} {self.url}: the origin asked "
            "every client to wait"
        )


@dataclass(frozen=True, slots=True)
class StoreFault(Event):
    """The shared store (``store``: its description, credentials left out) failed with
    ``error``; the library carries on without sharing (``recovered`` True: it answers again)."""

    store: str
    error: str
    recovered: bool = False

    def describe(self) -> str:
        if self.recovered:
            return f"{self.store} answers again; sharing is back on"
        return (
            f"{self.store} is unavailable ({self.error}); sharing is off, each process goes "
            "on by itself until it answers again"
        )


@dataclass(frozen=True, slots=True)
class RequestPaced(RequestEvent):
    """The request waits ``seconds`` before its first send, to stay within the quota the
    server announced (``source``: the lower-case header it was read from, such as
    ``ratelimit`` or ``x-ratelimit-reset``); see :class:`~httpx_remedy.Pacer`."""

    seconds: float
    source: str

    def describe(self) -> str:
        return (
            f"waiting {self.seconds:.3g}s before {self.method} {self.url}: pacing on the quota "
            f"the server announced ({self.source})"
        )


@dataclass(frozen=True, slots=True)
class NonceReplayed(RequestEvent):
    """The server answered ``status`` ``use_dpop_nonce`` with a new DPoP nonce, and the
    request is sent again, once, with a proof carrying it: ``where`` (one of
    :data:`NONCE_PLACES`) says whether it was the API or the token endpoint."""

    status: int
    where: str

    def describe(self) -> str:
        if self.where == "token_endpoint":
            return (
                "the token endpoint asked for a DPoP nonce; sending the token request again with it"
            )
        return (
            f"{self.status} use_dpop_nonce for {self.method} {self.url}: replaying with the "
            "server's nonce"
        )


@dataclass(frozen=True, slots=True)
class CredentialsBound(Event):
    """Credentials given to transports that name no ``origins=`` were bound to ``origin``, the
    first origin requested with them: their token goes there, and nowhere else."""

    origin: str

    def describe(self) -> str:
        return f"binding credentials to {self.origin} (the first origin requested with them)"


@dataclass(frozen=True, slots=True)
class PollingSlowed(Event):
    """During a device login, the token endpoint answered ``slow_down``: the polls are
    ``interval`` seconds apart from now on (RFC 8628 §3.5: 5 seconds more each time)."""

    interval: float

    def describe(self) -> str:
        return f"the token endpoint said slow_down: polling every {self.interval:g}s now"


def _outcome(status: int | None, error: str | None) -> str:
    if status is None:
        return error or "a transport error"
    return f"{status} {error}" if error else str(status)


# Public as ``httpx_remedy.<name>``, loaded on first access (see the package's ``_LAZY``): they
# report the package as their module, as every public class does (set there for the others).
for _kind in (
    Event,
    RequestEvent,
    RequestSent,
    ErrorClassified,
    RetryScheduled,
    RetryRefused,
    GaveUp,
    Recovered,
    TokenRejected,
    TokenFetched,
    TokenReused,
    TokenFetchFailed,
    PauseHeard,
    PauseHonoured,
    StoreFault,
    RequestPaced,
    NonceReplayed,
    CredentialsBound,
    PollingSlowed,
):
    _kind.__module__ = "httpx_remedy"
del _kind
