"""One exception class per status and per OAuth / OpenID Connect error code of the catalog.

The tree they form is drawn in ``_exceptions``; the catalog's ``exception`` column says which
class each code gets (``_catalog``), and a code's class is combined with its status's class at
raise time (:func:`~._exceptions.combine`).
"""

from __future__ import annotations

from ._exceptions import HTTPError


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
