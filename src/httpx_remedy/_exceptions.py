"""The exception tree.

Every error made from a response is an ``HTTPError``, which is also an
``httpx.HTTPStatusError``, so code that already catches httpx's error keeps working::

    httpx.HTTPStatusError
    └── HTTPError
        ├── ClientError                        any 4xx the catalog has no class for
        │   ├── BadRequest                     400
        │   ├── Unauthorized                   401
        │   ├── Forbidden                      403
        │   ├── NotFound                       404
        │   ├── MethodNotAllowed               405  (.allowed_methods)
        │   ├── NotAcceptable                  406
        │   ├── RequestTimeout                 408
        │   ├── Conflict                       409
        │   ├── Gone                           410
        │   ├── PreconditionFailed             412
        │   ├── PayloadTooLarge                413
        │   ├── URITooLong                     414
        │   ├── UnsupportedMediaType           415
        │   ├── MisdirectedRequest             421
        │   ├── UnprocessableEntity            422
        │   ├── TooEarly                       425
        │   ├── PreconditionRequired           428
        │   ├── TooManyRequests                429
        │   └── RequestHeaderFieldsTooLarge    431
        ├── ServerError                        any 5xx the catalog has no class for
        │   ├── InternalServerError            500
        │   ├── BadGateway                     502
        │   ├── ServiceUnavailable             503
        │   └── GatewayTimeout                 504
        └── OAuthError                         a response carrying an OAuth ``error`` code
            ├── InvalidRequest                 invalid_request
            ├── InvalidClient                  invalid_client
            ├── InvalidGrant                   invalid_grant
            ├── UnauthorizedClient             unauthorized_client
            ├── UnsupportedGrantType           unsupported_grant_type
            ├── UnsupportedResponseType        unsupported_response_type
            ├── InvalidScope                   invalid_scope
            ├── AccessDenied                   access_denied
            ├── OAuthServerError               server_error
            ├── TemporarilyUnavailable         temporarily_unavailable
            ├── InvalidToken                   invalid_token
            ├── InsufficientScope              insufficient_scope  (.scope)
            ├── InsufficientUserAuthentication insufficient_user_authentication
            │                                  (.acr_values, .max_age)
            ├── AuthorizationPending           authorization_pending
            ├── SlowDown                       slow_down
            ├── ExpiredToken                   expired_token
            ├── InvalidDPoPProof               invalid_dpop_proof
            ├── UseDPoPNonce                   use_dpop_nonce  (.dpop_nonce)
            ├── InteractionRequired            interaction_required, login_required,
            │   ...                            account_selection_required, consent_required
            ├── InvalidRequestObject           invalid_request_uri, invalid_request_object,
            │                                  request_not_supported, request_uri_not_supported,
            │                                  registration_not_supported
            ├── InvalidClientMetadata          invalid_redirect_uri, invalid_client_metadata,
            │                                  invalid_software_statement,
            │                                  unapproved_software_statement
            ├── InvalidTarget                  invalid_target
            └── UnsupportedTokenType           unsupported_token_type

The raised object is an instance of the class for the OAuth code when there is one AND of the
class for the status (or the 4xx/5xx fallback): a 401 with ``invalid_client`` is caught by
``except InvalidClient`` and by ``except Unauthorized``. Which class each code gets is data: see
the ``exception`` column of the catalog.

Errors that are not made from a response (``RetryBudgetExhausted`` and friends live with the
policy that raises them) derive from ``RemedyError``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from ._http import HTTPStatusErrorBase, Request, Response
from ._parse import Challenge, find_challenge

if TYPE_CHECKING:
    from ._catalog import Entry
    from ._policy import Attempt

__all__ = [
    "AccessDenied",
    "AuthorizationPending",
    "BadGateway",
    "BadRequest",
    "ClientError",
    "Conflict",
    "ExpiredToken",
    "Forbidden",
    "GatewayTimeout",
    "Gone",
    "HTTPError",
    "InsufficientScope",
    "InsufficientUserAuthentication",
    "InteractionRequired",
    "InternalServerError",
    "InvalidClient",
    "InvalidClientMetadata",
    "InvalidDPoPProof",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidRequestObject",
    "InvalidScope",
    "InvalidTarget",
    "InvalidToken",
    "MethodNotAllowed",
    "MisdirectedRequest",
    "NotAcceptable",
    "NotFound",
    "OAuthError",
    "OAuthServerError",
    "OriginPaused",
    "PayloadTooLarge",
    "PreconditionFailed",
    "PreconditionRequired",
    "RemedyError",
    "RequestHeaderFieldsTooLarge",
    "RequestTimeout",
    "ServerError",
    "ServiceUnavailable",
    "SlowDown",
    "TemporarilyUnavailable",
    "TokenWaitTimeout",
    "TooEarly",
    "TooManyRequests",
    "URITooLong",
    "Unauthorized",
    "UnauthorizedClient",
    "UnprocessableEntity",
    "UnsupportedGrantType",
    "UnsupportedMediaType",
    "UnsupportedResponseType",
    "UnsupportedTokenType",
    "UseDPoPNonce",
]


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


class ClientError(HTTPError):
    """A 4xx response."""


class ServerError(HTTPError):
    """A 5xx response."""


class BadRequest(ClientError):
    """400 Bad Request."""


class Unauthorized(ClientError):
    """401 Unauthorized."""


class Forbidden(ClientError):
    """403 Forbidden."""


class NotFound(ClientError):
    """404 Not Found."""


class MethodNotAllowed(ClientError):
    """405 Method Not Allowed."""

    @property
    def allowed_methods(self) -> tuple[str, ...]:
        """The methods the ``Allow`` header lists (RFC 9110 §10.2.1), upper-cased."""
        values = self.response.headers.get_list("allow", split_commas=True)
        return tuple(v.strip().upper() for v in values if v.strip())


class NotAcceptable(ClientError):
    """406 Not Acceptable."""


class RequestTimeout(ClientError):
    """408 Request Timeout."""


class Conflict(ClientError):
    """409 Conflict."""


class Gone(ClientError):
    """410 Gone."""


class PreconditionFailed(ClientError):
    """412 Precondition Failed."""


class PayloadTooLarge(ClientError):
    """413 Content Too Large."""


class URITooLong(ClientError):
    """414 URI Too Long."""


class UnsupportedMediaType(ClientError):
    """415 Unsupported Media Type."""


class MisdirectedRequest(ClientError):
    """421 Misdirected Request."""


class UnprocessableEntity(ClientError):
    """422 Unprocessable Content."""


class TooEarly(ClientError):
    """425 Too Early."""


class PreconditionRequired(ClientError):
    """428 Precondition Required."""


class TooManyRequests(ClientError):
    """429 Too Many Requests; ``retry_after`` says how long the server asked to wait."""


class RequestHeaderFieldsTooLarge(ClientError):
    """431 Request Header Fields Too Large."""


class InternalServerError(ServerError):
    """500 Internal Server Error."""


class BadGateway(ServerError):
    """502 Bad Gateway."""


class ServiceUnavailable(ServerError):
    """503 Service Unavailable; ``retry_after`` says how long the server asked to wait."""


class GatewayTimeout(ServerError):
    """504 Gateway Timeout."""


class OAuthError(HTTPError):
    """A response carrying an OAuth 2.0 / OpenID Connect ``error`` code."""


class InvalidRequest(OAuthError):
    """invalid_request: a parameter is missing, repeated or malformed."""


class InvalidClient(OAuthError):
    """invalid_client: client authentication failed."""


class InvalidGrant(OAuthError):
    """invalid_grant: the grant or refresh token is invalid, expired or revoked."""


class UnauthorizedClient(OAuthError):
    """unauthorized_client: the client may not use this grant or response type."""


class UnsupportedGrantType(OAuthError):
    """unsupported_grant_type: the server does not support the grant type."""


class UnsupportedResponseType(OAuthError):
    """unsupported_response_type: the server does not support the response type."""


class InvalidScope(OAuthError):
    """invalid_scope: the requested scope is invalid, unknown or malformed."""


class AccessDenied(OAuthError):
    """access_denied: the resource owner or the server denied the request."""


class OAuthServerError(OAuthError):
    """server_error: the authorization server met an unexpected condition."""


class TemporarilyUnavailable(OAuthError):
    """temporarily_unavailable: the authorization server is overloaded or in maintenance."""


class InvalidToken(OAuthError):
    """invalid_token: the access token is expired, revoked, malformed or invalid."""


class InsufficientScope(OAuthError):
    """insufficient_scope: the token lacks the privileges the resource needs."""

    @property
    def scope(self) -> str | None:
        """The scope the server says is required (challenge ``scope`` or body ``scope``)."""
        return self.challenge_param("scope") or self.scope_hint


class InsufficientUserAuthentication(OAuthError):
    """insufficient_user_authentication (RFC 9470): a stronger or fresher login is needed."""

    @property
    def acr_values(self) -> tuple[str, ...]:
        """The authentication context classes the resource accepts, in the server's order."""
        return tuple((self.challenge_param("acr_values") or "").split())

    @property
    def max_age(self) -> int | None:
        """The maximum age in seconds of the authentication event, when the server set one."""
        value = (self.challenge_param("max_age") or "").strip()
        return int(value) if value.isdigit() and len(value) < 12 else None


class AuthorizationPending(OAuthError):
    """authorization_pending: device flow, the user has not finished yet."""


class SlowDown(OAuthError):
    """slow_down: device flow, poll 5 seconds slower from now on."""


class ExpiredToken(OAuthError):
    """expired_token: device flow, the device code expired."""


class InvalidDPoPProof(OAuthError):
    """invalid_dpop_proof (RFC 9449): the DPoP proof failed the server's checks."""


class UseDPoPNonce(OAuthError):
    """use_dpop_nonce (RFC 9449): the server requires the nonce it sent."""

    @property
    def dpop_nonce(self) -> str | None:
        """The nonce from the ``DPoP-Nonce`` response header."""
        value: str | None = self.response.headers.get("dpop-nonce")
        return value


class InteractionRequired(OAuthError):
    """OIDC ``prompt=none`` errors: the user must interact to finish authentication."""


class InvalidRequestObject(OAuthError):
    """OIDC request object / request_uri / registration parameter errors."""


class InvalidClientMetadata(OAuthError):
    """RFC 7591 dynamic client registration errors."""


class InvalidTarget(OAuthError):
    """invalid_target (RFC 8707, RFC 8693): the resource or audience is not acceptable."""


class UnsupportedTokenType(OAuthError):
    """unsupported_token_type (RFC 7009): the server cannot revoke that token type."""


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


def _restore(
    kind: type[BaseException] | tuple[type[HTTPError], type[HTTPError]],
    args: tuple[object, ...],
    state: dict[str, object],
) -> BaseException:
    """An error rebuilt from its pickled parts; a combined class is found again by ``combine``."""
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
