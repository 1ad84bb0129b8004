"""The error catalog: one table that drives the exception classes and the default remedies.

Each row is a promise: the code, what it means, why it happens, how to fix it, the class raised
for it and what the transport does about it by default. Rows marked ``source="catalog"`` carry
the text of the user's catalog word for word; the others are written from the standards named in
``source``. Adding a code is adding a row.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from . import _catalog_errors as exc
from ._exceptions import HTTPError


class Remedy(str, enum.Enum):
    """What the transport does about an error by default."""

    FAIL_FAST = "fail fast"
    """Raise at once: only a change to the request or the configuration fixes it."""
    BACK_OFF = "back off and retry"
    """The request was refused, not processed: wait (the server's delay first) and retry, for
    every method."""
    RETRY_IF_SAFE = "retry if safe"
    """The request may have been processed: retry with backoff only when it is idempotent or
    carries an Idempotency-Key."""
    REFRESH = "refresh and replay"
    """Get a new access token and replay the request once."""
    REAUTHENTICATE = "re-authenticate"
    """The grant is dead: drop it and raise once; a person or a new grant must step in."""
    STEP_UP = "step up"
    """Ask for a token with the scope the server named, then replay once (opt-in)."""

    @property
    def retries(self) -> bool:
        """True for the remedies the retry policy carries out."""
        return self in (Remedy.BACK_OFF, Remedy.RETRY_IF_SAFE)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Entry:
    """One row of the catalog.

    ``code`` is an HTTP status (``int``) or an OAuth / OIDC error code (``str``); ``status`` is
    the HTTP status the code usually arrives with (None when it travels in a redirect).
    """

    code: int | str
    title: str
    description: str
    causes: tuple[str, ...]
    fix: str
    exception: type[HTTPError]
    remedy: Remedy
    status: int | None
    source: str = "catalog"

    @property
    def is_oauth(self) -> bool:
        """True for OAuth / OIDC error codes, False for HTTP statuses."""
        return isinstance(self.code, str)

    def explain(self) -> str:
        """A few lines for people: what the code means, why, and what to do."""
        head = f"{self.code} {self.title}" if not self.is_oauth else f"{self.code} ({self.title})"
        status = f"usually HTTP {self.status}" if self.status else "arrives in a redirect"
        lines = [
            head,
            "",
            f"  What it means:   {self.description}",
            "  Possible causes: " + "\n                   ".join(self.causes),
            f"  How to fix:      {self.fix}",
            "",
            f"  Raised as:       httpx_remedy.{self.exception.__name__}"
            + ("" if not self.is_oauth else f" ({status})"),
            f"  Default remedy:  {self.remedy}",
            f"  Source:          {self.source}",
        ]
        return "\n".join(lines)


F, B, S = Remedy.FAIL_FAST, Remedy.BACK_OFF, Remedy.RETRY_IF_SAFE

_ROWS: tuple[Entry, ...] = (
    # ---- HTTP statuses: the user's catalog --------------------------------------------------
    Entry(
        400,
        "Bad Request",
        "The request could not be understood or was missing required parameters.",
        (
            "Incorrect or missing parameters (e.g., client_id, client_secret, grant_type, etc.).",
            "Invalid request format or content type.",
        ),
        "Verify the request body and parameters. Make sure all required fields are present "
        "and valid.",
        exc.BadRequest,
        F,
        400,
    ),
    Entry(
        401,
        "Unauthorized",
        "The request lacks valid authentication credentials.",
        (
            "Missing or invalid Access Token in the request.",
            "Incorrect client_id or client_secret.",
            "The token has expired or been revoked.",
        ),
        "Ensure the Access Token is valid and not expired. Re-generate an Access Token if "
        "necessary. Double-check client_id and client_secret.",
        exc.Unauthorized,
        Remedy.REFRESH,
        401,
    ),
    Entry(
        403,
        "Forbidden",
        "The authenticated user does not have permission to access the requested resource.",
        (
            "Insufficient permissions or scopes associated with the Access Token.",
            "The user or client app is not authorized for this specific action.",
        ),
        "Ensure that the correct scopes are requested during the authorization process. "
        "Check if the resource requires additional permissions.",
        exc.Forbidden,
        F,
        403,
    ),
    Entry(
        404,
        "Not Found",
        "The requested resource could not be found.",
        (
            "Incorrect API endpoint or resource URL.",
            "The resource has been deleted or does not exist.",
        ),
        "Verify the API endpoint URL and ensure it is correct.",
        exc.NotFound,
        F,
        404,
    ),
    Entry(
        405,
        "Method Not Allowed",
        "The HTTP method used in the request is not supported for this endpoint.",
        (
            "Using GET instead of POST for token requests.",
            "Using an unsupported method for an API resource.",
        ),
        "Check the documentation to ensure the correct HTTP method is used.",
        exc.MethodNotAllowed,
        F,
        405,
    ),
    Entry(
        406,
        "Not Acceptable",
        "The server cannot provide a response in the requested format due to an invalid "
        "Accept header.",
        ("The request specifies an unsupported media type in the Accept header.",),
        "Ensure the Accept header is set to a supported format, such as application/json. "
        "Check API documentation for valid response types.",
        exc.NotAcceptable,
        F,
        406,
    ),
    Entry(
        413,
        "Payload Too Large",
        "The request body exceeds the maximum allowed size by the server.",
        ("Sending large file uploads, oversized JSON payloads, or improperly compressed data.",),
        "Reduce the payload size, use pagination if applicable, or check for API-specific "
        "limits in the documentation",
        exc.PayloadTooLarge,
        F,
        413,
    ),
    Entry(
        414,
        "Request URI Too Long",
        "The requested URL is too long for the server to process.",
        ("Sending excessively long query parameters or improperly encoded URLs.",),
        "Shorten the request URI by reducing query parameters or using a POST request with a "
        "request body.",
        exc.URITooLong,
        F,
        414,
    ),
    Entry(
        422,
        "Unprocessable Entity",
        "The request is well-formed but contains semantic errors that prevent processing.",
        ("Missing or incorrect field values, violating API validation rules.",),
        "Validate request parameters, check required fields, and correct any formatting "
        "issues based on API documentation.",
        exc.UnprocessableEntity,
        F,
        422,
    ),
    Entry(
        429,
        "Too Many Requests",
        "The client has sent too many requests within a given timeframe, exceeding rate limits.",
        ("Exceeding API rate limits or quota restrictions.",),
        "Implement exponential backoff or retry logic, monitor usage limits, and consider "
        "upgrading to a higher quota plan if available.",
        exc.TooManyRequests,
        B,
        429,
    ),
    Entry(
        431,
        "Request Header Fields Too Large",
        "The request headers exceed the size limits set by the server.",
        ("Sending too many headers or overly large individual headers.",),
        "Reduce the number or size of headers in the request, remove unnecessary metadata, "
        "and optimize cookie usage.",
        exc.RequestHeaderFieldsTooLarge,
        F,
        431,
    ),
    Entry(
        500,
        "Internal Server Error",
        "An unexpected server error occurred.",
        ("A problem on the API provider's server side.", "Temporary service downtime."),
        "Retry the request later or contact support if the issue persists.",
        exc.InternalServerError,
        S,
        500,
    ),
    Entry(
        503,
        "Service Unavailable",
        "The server is temporarily unable to handle the request.",
        ("Server overload or maintenance.", "Rate-limiting or throttling issues."),
        "Wait for some time and retry the request.",
        exc.ServiceUnavailable,
        B,
        503,
    ),
    # ---- HTTP statuses: written from RFC 9110 and friends -----------------------------------
    Entry(
        408,
        "Request Timeout",
        "The server did not receive a complete request in the time it was prepared to wait.",
        ("A slow or stalled upload.", "A connection left idle between requests."),
        "Retry the request on a new connection; a non-idempotent request only with an "
        "Idempotency-Key.",
        exc.RequestTimeout,
        S,
        408,
        "RFC 9110 §15.5.9",
    ),
    Entry(
        409,
        "Conflict",
        "The request conflicts with the current state of the resource.",
        (
            "A concurrent change to the same resource.",
            "A request with the same Idempotency-Key is still being processed.",
        ),
        "Re-read the resource and resolve the conflict before resending; for an "
        "Idempotency-Key still in flight, wait and retry with the same key.",
        exc.Conflict,
        F,
        409,
        "RFC 9110 §15.5.10; Idempotency-Key draft §2.7",
    ),
    Entry(
        410,
        "Gone",
        "The resource is no longer available and will not be again.",
        ("The resource was deliberately removed.", "A retired API version or endpoint."),
        "Stop requesting this URL and remove links to it; look for its replacement in the "
        "API documentation.",
        exc.Gone,
        F,
        410,
        "RFC 9110 §15.5.11",
    ),
    Entry(
        412,
        "Precondition Failed",
        "A condition in the request headers (If-Match, If-Unmodified-Since) was false.",
        ("The resource changed since its ETag or date was read.",),
        "Fetch the current representation and its ETag, reapply the change, and send it "
        "with the new precondition.",
        exc.PreconditionFailed,
        F,
        412,
        "RFC 9110 §15.5.13",
    ),
    Entry(
        415,
        "Unsupported Media Type",
        "The server does not accept the request body's format or encoding.",
        ("A wrong or missing Content-Type.", "A Content-Encoding the server does not support."),
        "Send the body in a format the server accepts (see the response's Accept, "
        "Accept-Encoding, Accept-Post or Accept-Patch headers) with a matching Content-Type.",
        exc.UnsupportedMediaType,
        F,
        415,
        "RFC 9110 §15.5.16",
    ),
    Entry(
        421,
        "Misdirected Request",
        "The request reached a server that cannot answer for this origin.",
        ("A reused connection whose certificate covers several hosts.",),
        "Send the request again on a new connection.",
        exc.MisdirectedRequest,
        F,
        421,
        "RFC 9110 §15.5.20",
    ),
    Entry(
        425,
        "Too Early",
        "The server will not process a request that may be replayed.",
        ("The request was sent in TLS early data.",),
        "Send the request again after the handshake completes.",
        exc.TooEarly,
        F,
        425,
        "RFC 8470 §5.2",
    ),
    Entry(
        428,
        "Precondition Required",
        "The server requires the request to be conditional.",
        ("An update sent without If-Match.",),
        "Fetch the resource's ETag and resend the change with If-Match.",
        exc.PreconditionRequired,
        F,
        428,
        "RFC 6585 §3",
    ),
    Entry(
        501,
        "Not Implemented",
        "The server does not support the functionality required to fulfil the request.",
        ("An HTTP method the server does not recognise.",),
        "Use a method or feature the server supports; retrying will not help.",
        exc.ServerError,
        F,
        501,
        "RFC 9110 §15.6.2",
    ),
    Entry(
        502,
        "Bad Gateway",
        "A gateway or proxy received an invalid response from the server behind it.",
        ("The upstream server crashed or closed the connection.", "A deployment in progress."),
        "Retry idempotent requests with backoff; if it persists, contact the API provider.",
        exc.BadGateway,
        S,
        502,
        "RFC 9110 §15.6.3",
    ),
    Entry(
        504,
        "Gateway Timeout",
        "A gateway or proxy did not get a response in time from the server behind it.",
        ("The upstream server is slow or overloaded.",),
        "Retry idempotent requests with backoff (the upstream may have executed the request); "
        "if it persists, contact the API provider.",
        exc.GatewayTimeout,
        S,
        504,
        "RFC 9110 §15.6.5",
    ),
    # ---- OAuth 2.0 & OpenID Connect: the user's catalog -------------------------------------
    Entry(
        "invalid_request",
        "Invalid Request",
        "The request is missing a required parameter or includes an invalid parameter.",
        (
            "Required parameters like client_id, grant_type, or scope are missing or invalid.",
            "Malformed request or incorrect encoding.",
        ),
        "Review the request and add the missing or correct parameters.",
        exc.InvalidRequest,
        F,
        400,
    ),
    Entry(
        "invalid_client",
        "Invalid Client",
        "The client authentication failed (e.g., incorrect client_id or client_secret).",
        (
            "Wrong client_id or client_secret.",
            "Client credentials are invalid, revoked, or missing.",
        ),
        "Double-check the client credentials and make sure they are correct and properly "
        "included in the request.",
        exc.InvalidClient,
        F,
        401,
    ),
    Entry(
        "invalid_grant",
        "Invalid Grant",
        "The provided authorization grant or refresh token is invalid, expired, or revoked.",
        (
            "Incorrect or expired authorization code.",
            "Invalid refresh token.",
            "Mismatched redirect URI.",
        ),
        "Re-authenticate the user and request a new authorization grant or refresh token.",
        exc.InvalidGrant,
        Remedy.REAUTHENTICATE,
        400,
    ),
    Entry(
        "unauthorized_client",
        "Unauthorized Client",
        "The client is not authorized to use this grant type.",
        (
            "The client is not allowed to use a specific grant type (e.g., password, "
            "client_credentials).",
            "The client is not authorized to request certain scopes.",
        ),
        "Verify that the client is registered to use the grant type and requested scopes.",
        exc.UnauthorizedClient,
        F,
        400,
    ),
    Entry(
        "unsupported_grant_type",
        "Unsupported Grant Type",
        "The authorization server does not support the requested grant type.",
        ("The grant_type parameter in the request is unsupported or misspelled.",),
        "Check if the grant type is supported by the server and correct any misspellings in "
        "the request.",
        exc.UnsupportedGrantType,
        F,
        400,
    ),
    Entry(
        "invalid_scope",
        "Invalid Scope",
        "The requested scope is invalid, unknown, or malformed.",
        (
            "The requested scope does not exist or is misspelled.",
            "The client is not allowed to request certain scopes.",
        ),
        "Verify the scope names and ensure they match the allowed scopes.",
        exc.InvalidScope,
        F,
        400,
    ),
    Entry(
        "access_denied",
        "Access Denied",
        "The resource owner or authorization server denied the request.",
        (
            "The user declined to grant permission to the application.",
            "The authorization server is denying access to the requested resource.",
        ),
        "Check the authorization flow and ensure that the user has granted permission. If "
        "the issue persists, contact the authorization provider.",
        exc.AccessDenied,
        F,
        400,
    ),
    Entry(
        "server_error",
        "Server Error",
        "The authorization server encountered an unexpected condition.",
        ("Internal server error on the provider's side.",),
        "Retry the request later, and if the problem persists, contact the service provider.",
        exc.OAuthServerError,
        S,
        500,
    ),
    Entry(
        "temporarily_unavailable",
        "Temporarily Unavailable",
        "The authorization server is temporarily unable to handle the request.",
        ("Server maintenance or service outage.",),
        "Retry the request later.",
        exc.TemporarilyUnavailable,
        B,
        503,
    ),
    Entry(
        "invalid_token",
        "Invalid Token",
        "The provided token is invalid or expired.",
        (
            "Access Token or Refresh Token is malformed, expired, or revoked.",
            "The token was issued for a different client or resource.",
        ),
        "Request a new token and ensure it is used within its validity period.",
        exc.InvalidToken,
        Remedy.REFRESH,
        401,
    ),
    Entry(
        "insufficient_scope",
        "Insufficient Scope",
        "The token does not have sufficient scope to access the requested resource.",
        (
            "Re-authenticate with the correct scope or request a new token with the required "
            "permissions.",
        ),
        "Re-authenticate with the correct scope or request a new token with the required "
        "permissions.",
        exc.InsufficientScope,
        Remedy.STEP_UP,
        403,
    ),
    # ---- OAuth / OIDC: written from the standards (table A) ---------------------------------
    Entry(
        "unsupported_response_type",
        "Unsupported Response Type",
        "The authorization server does not support obtaining a response of this type.",
        ("A response_type the server or this client is not set up for.",),
        "Use a response_type the server advertises (response_types_supported) and the client "
        "is registered for.",
        exc.UnsupportedResponseType,
        F,
        None,
        "RFC 6749 §4.1.2.1",
    ),
    Entry(
        "authorization_pending",
        "Authorization Pending",
        "Device flow: the user has not yet completed the authorization.",
        ("The user has not finished on the verification page.",),
        "Keep polling the token endpoint, no faster than the interval (default 5 s).",
        exc.AuthorizationPending,
        F,
        400,
        "RFC 8628 §3.5",
    ),
    Entry(
        "slow_down",
        "Slow Down",
        "Device flow: the client is polling too fast.",
        ("Polling faster than the interval the server set.",),
        "Increase the polling interval by 5 seconds for this and all later requests.",
        exc.SlowDown,
        F,
        400,
        "RFC 8628 §3.5",
    ),
    Entry(
        "expired_token",
        "Expired Token",
        "Device flow: the device code expired before the user finished.",
        ("The user took longer than the device code's lifetime.",),
        "Stop polling and start a new device authorization request.",
        exc.ExpiredToken,
        F,
        400,
        "RFC 8628 §3.5",
    ),
    Entry(
        "invalid_dpop_proof",
        "Invalid DPoP Proof",
        "The DPoP proof in the request failed the server's checks.",
        ("A wrong htm/htu, a stale iat, a reused jti, or a bad signature.",),
        "Build a fresh DPoP proof for this exact method and URL and retry once; if it fails "
        "again, check the key and clock.",
        exc.InvalidDPoPProof,
        F,
        400,
        "RFC 9449 §5, §7.1",
    ),
    Entry(
        "use_dpop_nonce",
        "Use DPoP Nonce",
        "The server requires a DPoP proof that carries the nonce it supplied.",
        ("The proof had no nonce, or an old one.",),
        "Store the DPoP-Nonce header value for this server and retry once with a fresh proof "
        "that includes it.",
        exc.UseDPoPNonce,
        F,
        401,
        "RFC 9449 §8, §9",
    ),
    Entry(
        "insufficient_user_authentication",
        "Insufficient User Authentication",
        "The authentication event behind the token does not meet the resource's requirements.",
        (
            "The user signed in too long ago (max_age).",
            "The user signed in with a weaker method than required (acr_values).",
        ),
        "Send the user through authorization again with the acr_values and max_age the "
        "challenge names, then use the new token.",
        exc.InsufficientUserAuthentication,
        F,
        401,
        "RFC 9470 §3",
    ),
    Entry(
        "interaction_required",
        "Interaction Required",
        "Authentication cannot finish without the user interacting (prompt=none).",
        ("The server needs the user to see a page.",),
        "Repeat the authorization request without prompt=none so the user can interact.",
        exc.InteractionRequired,
        F,
        None,
        "OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        "login_required",
        "Login Required",
        "The user must sign in; it cannot be done silently (prompt=none).",
        ("No session at the authorization server.",),
        "Repeat the authorization request without prompt=none so the user can sign in.",
        exc.InteractionRequired,
        F,
        None,
        "OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        "account_selection_required",
        "Account Selection Required",
        "The user must choose an account; it cannot be done silently (prompt=none).",
        ("Several sessions at the authorization server.",),
        "Repeat the authorization request without prompt=none, or with prompt=select_account.",
        exc.InteractionRequired,
        F,
        None,
        "OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        "consent_required",
        "Consent Required",
        "The user must consent; it cannot be done silently (prompt=none).",
        ("The client asks for scopes the user has not approved.",),
        "Repeat the authorization request without prompt=none so the user can consent.",
        exc.InteractionRequired,
        F,
        None,
        "OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        "invalid_request_uri",
        "Invalid Request URI",
        "The request_uri is invalid or its content cannot be fetched.",
        ("An unreachable, expired or unregistered request_uri.",),
        "Check that the request_uri is reachable by the server and registered for the client.",
        exc.InvalidRequestObject,
        F,
        None,
        "OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        "invalid_request_object",
        "Invalid Request Object",
        "The request parameter holds an invalid request object.",
        ("A bad signature, wrong audience or expired request object.",),
        "Rebuild the request object with the right signing key, audience and lifetime.",
        exc.InvalidRequestObject,
        F,
        None,
        "OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        "request_not_supported",
        "Request Not Supported",
        "The server does not support the request parameter.",
        ("The provider does not accept request objects.",),
        "Send the parameters in the query instead of a request object.",
        exc.InvalidRequestObject,
        F,
        None,
        "OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        "request_uri_not_supported",
        "Request URI Not Supported",
        "The server does not support the request_uri parameter.",
        ("The provider does not fetch request objects by reference.",),
        "Send the request object by value, or the parameters in the query.",
        exc.InvalidRequestObject,
        F,
        None,
        "OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        "registration_not_supported",
        "Registration Not Supported",
        "The server does not support the registration parameter.",
        ("The provider does not accept registration metadata in the request.",),
        "Register the client ahead of time and drop the registration parameter.",
        exc.InvalidRequestObject,
        F,
        None,
        "OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        "invalid_redirect_uri",
        "Invalid Redirect URI",
        "Dynamic registration: a redirect URI is not acceptable.",
        ("A non-HTTPS, wildcard or disallowed redirect URI.",),
        "Register redirect URIs that the server's policy allows.",
        exc.InvalidClientMetadata,
        F,
        400,
        "RFC 7591 §3.2.2",
    ),
    Entry(
        "invalid_client_metadata",
        "Invalid Client Metadata",
        "Dynamic registration: a metadata field is invalid.",
        ("A field value the server does not accept.",),
        "Correct the client metadata named in the error description.",
        exc.InvalidClientMetadata,
        F,
        400,
        "RFC 7591 §3.2.2",
    ),
    Entry(
        "invalid_software_statement",
        "Invalid Software Statement",
        "Dynamic registration: the software statement is invalid.",
        ("A bad signature or malformed statement.",),
        "Obtain a valid, correctly signed software statement.",
        exc.InvalidClientMetadata,
        F,
        400,
        "RFC 7591 §3.2.2",
    ),
    Entry(
        "unapproved_software_statement",
        "Unapproved Software Statement",
        "Dynamic registration: the software statement is not approved by this server.",
        ("A statement from an issuer the server does not trust.",),
        "Use a software statement the server has approved.",
        exc.InvalidClientMetadata,
        F,
        400,
        "RFC 7591 §3.2.2",
    ),
    Entry(
        "invalid_target",
        "Invalid Target",
        "The requested resource or audience is invalid or not acceptable.",
        ("A resource or audience the server does not know or will not issue tokens for.",),
        "Request a resource / audience the server serves, as an absolute URI.",
        exc.InvalidTarget,
        F,
        400,
        "RFC 8707 §2; RFC 8693 §2.2.2",
    ),
    Entry(
        "unsupported_token_type",
        "Unsupported Token Type",
        "The server does not support revoking this type of token.",
        ("Revoking an access token at a server that only revokes refresh tokens.",),
        "Revoke the refresh token instead, or let the access token expire.",
        exc.UnsupportedTokenType,
        F,
        400,
        "RFC 7009 §2.2.1",
    ),
)

#: The fallbacks used for a status the catalog does not list.
_CLIENT_FALLBACK = Entry(
    "4xx",
    "Client Error",
    "The server rejected the request.",
    ("Something in the request the server did not accept.",),
    "Read the server's message and the API documentation; retrying the same request will not help.",
    exc.ClientError,
    F,
    None,
    "RFC 9110 §15.5",
)
_SERVER_FALLBACK = Entry(
    "5xx",
    "Server Error",
    "The server failed to fulfil a valid request.",
    ("A fault on the server's side.",),
    "Retry later; if it persists, contact the API provider.",
    exc.ServerError,
    F,
    None,
    "RFC 9110 §15.6",
)


class Catalog(Mapping["int | str", Entry]):
    """A read-only mapping from a status (``429``) or OAuth code (``"invalid_grant"``) to its
    :class:`Entry`. ``"429"`` finds the same entry as ``429``; codes are case-insensitive."""

    __slots__ = ("_by_code",)

    def __init__(self, rows: tuple[Entry, ...]) -> None:
        by_code: dict[int | str, Entry] = {}
        for row in rows:
            if row.code in by_code:
                raise ValueError(f"duplicate catalog code {row.code!r}")
            by_code[row.code] = row
        self._by_code = by_code

    @staticmethod
    def _key(code: object) -> object:
        if isinstance(code, str):
            text = code.strip()
            return int(text) if text.isdigit() and len(text) == 3 else text.lower()
        return code

    def __getitem__(self, code: int | str) -> Entry:
        return self._by_code[self._key(code)]  # type: ignore[index]

    def __contains__(self, code: object) -> bool:
        return self._key(code) in self._by_code

    def __iter__(self) -> Iterator[int | str]:
        return iter(self._by_code)

    def __len__(self) -> int:
        return len(self._by_code)

    def __repr__(self) -> str:
        return f"<Catalog of {len(self)} codes>"

    def statuses(self) -> tuple[Entry, ...]:
        """The HTTP status entries, by status."""
        return tuple(
            sorted((e for e in self._by_code.values() if not e.is_oauth), key=lambda e: int(e.code))
        )

    def oauth_codes(self) -> tuple[Entry, ...]:
        """The OAuth / OIDC code entries, in table order."""
        return tuple(e for e in self._by_code.values() if e.is_oauth)

    def for_status(self, status: int) -> Entry:
        """The entry for ``status``, or the 4xx / 5xx fallback."""
        entry = self._by_code.get(status)
        if entry is not None:
            return entry
        return _SERVER_FALLBACK if status >= 500 else _CLIENT_FALLBACK

    def oauth(self, code: str | None) -> Entry | None:
        """The entry for an OAuth / OIDC error code, or None (a status number never matches:
        a body's ``"code": "503"`` must not pass for a 503)."""
        if code is None:
            return None
        entry = self._by_code.get(code.strip().lower())
        return entry if entry is not None and entry.is_oauth else None

    def suggest(self, code: str, n: int = 3) -> list[str]:
        """Codes close to ``code``, for "did you mean" messages."""
        names = [str(c) for c in self._by_code]
        return difflib.get_close_matches(str(code).strip().lower(), names, n=n, cutoff=0.5)


catalog = Catalog(_ROWS)
"""The catalog: ``catalog[429].fix``, ``catalog["invalid_grant"].exception``."""

#: The statuses the default retry policy retries: every row whose remedy is a retry.
RETRYABLE_STATUSES: frozenset[int] = frozenset(
    int(e.code) for e in catalog.statuses() if e.remedy.retries
)
