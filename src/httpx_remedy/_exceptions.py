r"""Every exception this library raises, and how they relate.

Errors made from a response are :class:`HTTPError`\ s, which are also
``httpx.HTTPStatusError``\ s, so code that already catches httpx's error keeps working. The
others derive from :class:`RemedyError`::

    Exception
    ├── httpx.HTTPStatusError
    │   └── HTTPError                          an error response, typed by the catalog
    │       ├── ClientError                    any 4xx the catalog has no class for
    │       │   ├── BadRequest                 400
    │       │   ├── Unauthorized               401
    │       │   ├── Forbidden                  403
    │       │   ├── NotFound                   404
    │       │   ├── MethodNotAllowed           405  (.allowed_methods)
    │       │   ├── NotAcceptable              406
    │       │   ├── RequestTimeout             408
    │       │   ├── Conflict                   409
    │       │   ├── Gone                       410
    │       │   ├── PreconditionFailed         412
    │       │   ├── PayloadTooLarge            413
    │       │   ├── URITooLong                 414
    │       │   ├── UnsupportedMediaType       415
    │       │   ├── MisdirectedRequest         421
    │       │   ├── UnprocessableEntity        422
    │       │   ├── TooEarly                   425
    │       │   ├── PreconditionRequired       428
    │       │   ├── TooManyRequests            429
    │       │   └── RequestHeaderFieldsTooLarge  431
    │       ├── ServerError                    any 5xx the catalog has no class for
    │       │   ├── InternalServerError        500
    │       │   ├── BadGateway                 502
    │       │   ├── ServiceUnavailable         503
    │       │   └── GatewayTimeout             504
    │       └── OAuthError                     a response carrying an OAuth ``error`` code
    │           ├── InvalidRequest             invalid_request
    │           ├── InvalidClient              invalid_client
    │           ├── InvalidGrant               invalid_grant
    │           ├── UnauthorizedClient         unauthorized_client
    │           ├── UnsupportedGrantType       unsupported_grant_type
    │           ├── UnsupportedResponseType    unsupported_response_type
    │           ├── InvalidScope               invalid_scope
    │           ├── AccessDenied               access_denied
    │           ├── OAuthServerError           server_error
    │           ├── TemporarilyUnavailable     temporarily_unavailable
    │           ├── InvalidToken               invalid_token
    │           ├── InsufficientScope          insufficient_scope  (.scope)
    │           ├── InsufficientUserAuthentication
    │           │                              insufficient_user_authentication
    │           │                              (.acr_values, .max_age)
    │           ├── AuthorizationPending       authorization_pending
    │           ├── SlowDown                   slow_down
    │           ├── ExpiredToken               expired_token
    │           ├── InvalidDPoPProof           invalid_dpop_proof
    │           ├── UseDPoPNonce               use_dpop_nonce  (.dpop_nonce)
    │           ├── InteractionRequired        interaction_required, login_required,
    │           │                              account_selection_required, consent_required
    │           ├── InvalidRequestObject       invalid_request_uri, invalid_request_object,
    │           │                              request_not_supported,
    │           │                              request_uri_not_supported,
    │           │                              registration_not_supported
    │           ├── InvalidClientMetadata      invalid_redirect_uri, invalid_client_metadata,
    │           │                              invalid_software_statement,
    │           │                              unapproved_software_statement
    │           ├── InvalidTarget              invalid_target
    │           └── UnsupportedTokenType       unsupported_token_type
    └── RemedyError                            raised by the library, not made from a response
        ├── OriginPaused                       another process heard a pause longer than this
        │   │                                  request may wait (.origin, .retry_after)
        │   └── PacingRefused                  the server's quota is spent until a reset
        │                                      further away than this request may wait
        ├── ReauthenticationRequired           the grant was rejected for good earlier (.cause)
        ├── InsecureTransportError             (also a ValueError) credentials or tokens over
        │                                      plain http:// to a host that is not loopback
        ├── TokenResponseError                 a 2xx token response that is not a usable token
        │                                      (.response)
        ├── TokenEndpointUnreachable           (also the transport error it stands for:
        │                                      httpx.ConnectError, httpx.ReadTimeout, ...) no
        │                                      answer from the token endpoint (.token_url)
        ├── TokenWaitTimeout                   (also a TimeoutError) gave up waiting for
        │                                      another's token fetch (.waited, .cap, .attempts)
        ├── LoginTimeout                       (also a TimeoutError) a device login was not
        │                                      approved in time (.waited, .cap, .polls)
        └── LoginCancelled                     a device login was cancelled (.waited, .polls)

The raised object is an instance of the class for the OAuth code when there is one AND of the
class for the status (or the 4xx/5xx fallback): a 401 with ``invalid_client`` is caught by
``except InvalidClient`` and by ``except Unauthorized``; its class prints as
``httpx_remedy.InvalidClient[Unauthorized]``. Which class each code gets is data: see the
``exception`` column of the catalog.

This module holds the two bases and the library's own errors; the one class per status and per
OAuth code lives in ``_catalog_errors``. A retry the policy refuses (max_attempts, the deadline,
the retry budget) raises no error of its own: the response's typed error is raised, and its last
attempt record's ``note`` says which cap stopped the retrying.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from ._challenges import Challenge, find_challenge
from ._http import HTTPStatusErrorBase, Request, Response, see_httpx2

if TYPE_CHECKING:
    from ._entry import Entry
    from ._policy import Attempt


class RemedyError(Exception):
    """Base of the errors this library raises that are not made from a response.

    Picklable, like :class:`HTTPError`: the copy carries no secret (see ``redacted``).
    """

    def __reduce__(self) -> tuple[object, ...]:
        from ._portable import portable_state

        return (_restore, (type(self), self.args, portable_state(self.__dict__)))


class OriginPaused(RemedyError):
    """An origin asked every client to wait (a 429 or 503 another process met, shared through
    the store) longer than this request may: raised before sending, with ``retry_after``."""

    def __init__(self, origin: str, retry_after: float, why: str) -> None:
        super().__init__(
            f"requests to {origin} are paused for {retry_after:.3g}s more (the server asked "
            f"another process to wait); {why}: raised at once, not sent"
        )
        self.origin = origin
        self.retry_after = retry_after


class PacingRefused(OriginPaused):
    """The client's own pacing refused to send: the server announced that the quota is spent
    (``remaining=0`` in its rate-limit headers) until a reset further away than this request
    may wait (``max_retry_after``, or its deadline). Raised at once, before sending, instead
    of collecting a 429; an :class:`OriginPaused`, so code catching that catches this too.

    Attributes:
        origin: the origin, ``https://api.example.com``.
        retry_after: seconds until the quota returns, as the client computed them.
        remaining: requests the client counts as left in the server's window (0: spent).
        limit: the requests a window allows, when the server said; else None.
        window: the window's length in seconds, when known; else None.
        source: the header the quota was read from (``x-ratelimit-reset``, ``ratelimit``...).
    """

    def __init__(
        self,
        origin: str,
        retry_after: float,
        why: str,
        *,
        remaining: float = 0.0,
        limit: float | None = None,
        window: float | None = None,
        source: str = "",
    ) -> None:
        said = f"remaining={remaining:g}"
        if limit is not None:
            said += f" of limit={limit:g}"
        if window is not None:
            said += f" per {window:g}s"
        RemedyError.__init__(
            self,
            f"the client's pacing refused to send to {origin}: the server's quota is spent "
            f"({said}, from {source or 'its rate-limit headers'}) for {retry_after:.3g}s more; "
            f"{why}: raised at once, not sent",
        )
        self.origin = origin
        self.retry_after = retry_after
        self.remaining = remaining
        self.limit = limit
        self.window = window
        self.source = source


class TokenWaitTimeout(RemedyError, TimeoutError):
    """A request gave up waiting for the access token another request is fetching (in this
    process, or in another one sharing the token through a store): its own time ran out first.

    A request waits for another's token fetch at most as long as its own longest timeout
    (``TOKEN_TIMEOUT``, 30 s, for each one the client leaves unset), and never past a
    ``Retry(deadline=...)`` you set. The token request itself is sent with those timeouts, so a
    token endpoint that accepts the connection and never answers fails the request fetching
    the token with the transport's own timeout error, and every request waiting for it with this
    one: nothing queues behind a stalled token endpoint for ever.

    Attributes:
        waited: seconds this request waited.
        cap: the limit that ran out (its longest timeout, or its deadline), for people.
        holder: who was fetching the token.
        attempts: the sends made for this request before it waited (empty when it waited for
            its first token).
    """

    def __init__(self, waited: float, cap: str, holder: str, before: str) -> None:
        super().__init__(
            f"gave up after {waited:.3g}s waiting for the access token {holder} is fetching: "
            f"{cap} ran out, {before}; the token endpoint is slow or not answering"
        )
        self.waited = waited
        self.cap = cap
        self.holder = holder
        self.attempts: tuple[Attempt, ...] = ()


class TokenEndpointUnreachable(RemedyError):
    """No answer came from the token endpoint: the connection failed, timed out or broke.

    Raised, when a request needs an access token, from the transport error the token request
    met (its ``__cause__``), after the retries the policy allows. The raised object is also an
    instance of that error's own class (``httpx.ConnectError``, ``httpx.ConnectTimeout``,
    ``httpx.ReadTimeout``, ...; it prints as ``TokenEndpointUnreachable[ConnectError]``), so
    ``except httpx.ConnectError`` and ``except httpx.TransportError`` catch it as before, and
    ``except TokenEndpointUnreachable`` tells it apart from the API itself being down. Its
    message names the token endpoint, where the bare transport error names nothing (and
    ``e.request`` is the request that needed the token, not the token request).

    Attributes:
        token_url: the token endpoint's URL (query values redacted).
        before: what the request that needed the token was about (``before sending GET
            https://api.example.com/items``), for people.

    ``attempts_of(e)`` gives the token request's sends.
    """

    token_url: str
    before: str

    def __init__(self, token_url: str, before: str, cause: str) -> None:
        super().__init__(f"no answer from the token endpoint {token_url}, {before}: {cause}")
        self.token_url = token_url
        self.before = before

    def __reduce__(self) -> tuple[object, ...]:
        from ._portable import portable_state

        kind = type(self).__dict__.get("_combined_from")
        return (_restore_unreachable, (kind, self.args, portable_state(self.__dict__)))


_unreachable: dict[type[Exception], type[TokenEndpointUnreachable]] = {}


def unreachable_class(transport_error: type[Exception]) -> type[TokenEndpointUnreachable]:
    """:class:`TokenEndpointUnreachable` that is also a ``transport_error`` (made once)."""
    found = _unreachable.get(transport_error)
    if found is None:
        with _combined_lock:
            found = _unreachable.get(transport_error)
            if found is None:
                name = f"TokenEndpointUnreachable[{transport_error.__name__}]"
                found = type(
                    "TokenEndpointUnreachable",
                    (TokenEndpointUnreachable, transport_error),
                    {
                        "__module__": TokenEndpointUnreachable.__module__,
                        "__doc__": TokenEndpointUnreachable.__doc__,
                        "__qualname__": name,
                        "_combined_from": transport_error,
                    },
                )
                _unreachable[transport_error] = found
    return found


def token_endpoint_unreachable(
    error: Exception, token_url: str, before: str, cause: str
) -> TokenEndpointUnreachable:
    """The error to raise from ``error``, a transport error a token request met; ``cause``
    is what it said (scrubbed). It keeps ``error``'s state (the attempt records), not its
    notes: chained from it, the traceback shows them once."""
    found = unreachable_class(type(error))(token_url, before, cause)
    state = {k: v for k, v in vars(error).items() if k != "__notes__" and k not in vars(found)}
    found.__dict__.update(state)
    return found


class LoginTimeout(RemedyError, TimeoutError):
    """A device login (``DeviceCode``, RFC 8628) was not approved in time: polling stopped at
    the device code's ``expires_in``, the ``timeout=`` you gave, or the deadline of the request
    that needed the token, whichever came first.

    Attributes:
        waited: seconds since the login began.
        cap: the limit that ran out, for people.
        polls: how many times the token endpoint was asked.
    """

    def __init__(self, waited: float, cap: str, polls: int) -> None:
        super().__init__(
            f"the device login was not approved in time: {cap} ran out after {waited:.3g}s "
            f"and {polls} poll{'s' if polls != 1 else ''} of the token endpoint (each answered "
            "authorization_pending or slow_down); nothing was granted"
        )
        self.waited = waited
        self.cap = cap
        self.polls = polls


class LoginCancelled(RemedyError):
    """A device login (``DeviceCode``) was cancelled through its ``cancel`` event before it was
    approved. ``waited`` and ``polls`` say how far it got."""

    def __init__(self, waited: float, polls: int) -> None:
        super().__init__(
            f"the device login was cancelled after {waited:.3g}s and {polls} "
            f"poll{'s' if polls != 1 else ''} of the token endpoint; nothing was granted"
        )
        self.waited = waited
        self.polls = polls


class InsecureTransportError(RemedyError, ValueError):
    """Credentials or tokens would travel over plain ``http://`` to a host that is not loopback."""


class TokenResponseError(RemedyError):
    """The token endpoint answered 2xx with something that is not a token, or with a token that
    cannot be sent (see :func:`authorization_problem`). ``response`` is that answer; when it held
    a token, its body is the token JSON with ``access_token``, ``refresh_token`` and
    ``id_token`` redacted."""

    def __init__(self, message: str, *, response: Response) -> None:
        super().__init__(message)
        self.response = response


class ReauthenticationRequired(RemedyError):
    """The grant was rejected for good (``invalid_grant``, ``invalid_client``, ...) earlier.

    Raised instead of asking the token endpoint again; ``cause`` is the typed error the endpoint
    gave the first time. Give the credentials a new grant (``RefreshToken.set_token``) or call
    ``reset()`` after fixing the configuration.
    """

    def __init__(self, cause: HTTPError) -> None:
        super().__init__(
            f"the token endpoint rejected these credentials earlier and will not be asked again "
            f"until reset(): {cause}"
        )
        self.cause = cause


class HTTPError(HTTPStatusErrorBase):
    """An error response, typed by the catalog.

    Attributes:
        request, response: the request as sent and the error response (its body holds what
            was read of it, at most the transport's ``max_error_body`` bytes).
        status_code: the response status.
        entry: the catalog entry that describes this error; ``entry.fix`` says what to do.
        error, error_description, error_uri: the OAuth members (RFC 6749 §5.2, RFC 6750 §3),
            from the ``WWW-Authenticate`` challenge or the body; None when absent.
        server_message: the server's own words when they are not OAuth shaped (a nested
            ``message``, a problem ``detail``, an HTML title, a line of text); None otherwise.
        retry_after: seconds the server asked the client to wait, or None.
        problem: the RFC 9457 problem details members, or None.
        challenges: every parsed ``WWW-Authenticate`` challenge.
        attempts: one record per send made for this request, in order (at least one).
    """

    entry: Entry
    status_code: int
    error: str | None
    error_description: str | None
    error_uri: str | None
    server_message: str | None
    retry_after: float | None
    problem: Mapping[str, object] | None
    challenges: tuple[Challenge, ...]
    attempts: tuple[Attempt, ...]
    scope_hint: str | None

    def __init__(
        self,
        message: str,
        *,
        request: Request,
        response: Response,
        entry: Entry,
        error: str | None = None,
        error_description: str | None = None,
        error_uri: str | None = None,
        server_message: str | None = None,
        retry_after: float | None = None,
        problem: Mapping[str, object] | None = None,
        challenges: tuple[Challenge, ...] = (),
        attempts: tuple[Attempt, ...] = (),
        scope_hint: str | None = None,
    ) -> None:
        super().__init__(message, request=request, response=response)
        self.status_code = response.status_code
        self.entry = entry
        self.error = error
        self.error_description = error_description
        self.error_uri = error_uri
        self.server_message = server_message
        self.retry_after = retry_after
        self.problem = problem
        self.challenges = challenges
        self.attempts = attempts
        self.scope_hint = scope_hint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[object, ...]:
        # The default would call __init__ with the message alone, and cannot name a combined
        # class; the state leaves the request's credentials behind (see ``redacted``).
        from ._portable import portable_state

        kind = type(self).__dict__.get("_combined_from", type(self))
        return (_restore, (kind, self.args, portable_state(self.__dict__)))

    def challenge_param(self, name: str) -> str | None:
        """A parameter of the Bearer (or DPoP) challenge that carried the error, if any."""
        challenge = find_challenge(self.challenges, "Bearer", "DPoP")
        return challenge.param(name) if challenge is not None else None


_combined: dict[tuple[type[HTTPError], type[HTTPError]], type[HTTPError]] = {}
_combined_lock = threading.Lock()


def combine(code_class: type[HTTPError], status_class: type[HTTPError]) -> type[HTTPError]:
    """The class that is both ``code_class`` and ``status_class`` (made once, then reused)."""
    if issubclass(code_class, status_class):
        return code_class
    key = (code_class, status_class)
    found = _combined.get(key)
    if found is None:
        with _combined_lock:
            found = _combined.get(key)
            if found is None:
                found = type(
                    code_class.__name__,
                    (code_class, status_class),
                    {
                        "__module__": code_class.__module__,
                        "__doc__": code_class.__doc__,
                        "__qualname__": f"{code_class.__name__}[{status_class.__name__}]",
                        "_combined_from": key,
                    },
                )
                _combined[key] = found
    return found


def _restore_unreachable(
    transport_error: type[Exception] | None, args: tuple[object, ...], state: dict[str, object]
) -> BaseException:
    """A :class:`TokenEndpointUnreachable` rebuilt from its pickled parts."""
    if transport_error is None:
        return _restore(TokenEndpointUnreachable, args, state)
    return _restore(unreachable_class(transport_error), args, state)


def _restore(
    kind: type[BaseException] | tuple[type[HTTPError], type[HTTPError]],
    args: tuple[object, ...],
    state: dict[str, object],
) -> BaseException:
    """An error rebuilt from its pickled parts; a combined class is found again by ``combine``."""
    see_httpx2()  # unpickled where httpx2 is imported: its HTTPStatusError catches this too
    cls = combine(*kind) if isinstance(kind, tuple) else kind
    error = cls.__new__(cls, *args)
    # OSError's __new__ (TokenWaitTimeout is a TimeoutError) leaves args empty when the class
    # has its own __init__: set them whatever the base.
    error.args = args
    problem = state.get("problem")
    if isinstance(problem, dict):
        state["problem"] = MappingProxyType(problem)
    error.__dict__.update(state)
    return error
