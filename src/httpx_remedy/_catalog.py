"""The error catalog: one table that drives the exception classes and the default remedies.

Each row is a promise: the code, what it means, why it happens, how to fix it, the class raised
for it and what the transport does about it by default. Rows whose ``source`` starts with
``"user catalog"`` carry the text of the user's catalog word for word (and name the section of the
standard that defines the code); the others are written from the standards named in ``source``.
Adding a code is adding a row (see CONTRIBUTING.md). What a row is, and how the table is looked
up, is in ``_entry``.
"""

from __future__ import annotations

from . import _catalog_errors as exc
from ._entry import Catalog, Entry, Remedy

FAIL_FAST = Remedy.FAIL_FAST
BACK_OFF = Remedy.BACK_OFF
RETRY_IF_SAFE = Remedy.RETRY_IF_SAFE
REFRESH = Remedy.REFRESH
REAUTHENTICATE = Remedy.REAUTHENTICATE
STEP_UP = Remedy.STEP_UP
USE_NONCE = Remedy.USE_NONCE
KEEP_POLLING = Remedy.KEEP_POLLING
SLOW_DOWN = Remedy.SLOW_DOWN

_ROWS: tuple[Entry, ...] = (
    # ---- HTTP statuses: the user's catalog --------------------------------------------------
    Entry(
        code=400,
        title="Bad Request",
        description="The request could not be understood or was missing required parameters.",
        causes=(
            "Incorrect or missing parameters (e.g., client_id, client_secret, grant_type, etc.).",
            "Invalid request format or content type.",
        ),
        fix="Verify the request body and parameters. Make sure all required fields are present "
        "and valid.",
        exception=exc.BadRequest,
        remedy=FAIL_FAST,
        status=400,
        source="user catalog; RFC 9110 §15.5.1",
    ),
    Entry(
        code=401,
        title="Unauthorized",
        description="The request lacks valid authentication credentials.",
        causes=(
            "Missing or invalid Access Token in the request.",
            "Incorrect client_id or client_secret.",
            "The token has expired or been revoked.",
        ),
        fix="Ensure the Access Token is valid and not expired. Re-generate an Access Token if "
        "necessary. Double-check client_id and client_secret.",
        exception=exc.Unauthorized,
        remedy=REFRESH,
        status=401,
        source="user catalog; RFC 9110 §15.5.2",
    ),
    Entry(
        code=403,
        title="Forbidden",
        description="The authenticated user does not have permission to access the requested "
        "resource.",
        causes=(
            "Insufficient permissions or scopes associated with the Access Token.",
            "The user or client app is not authorized for this specific action.",
        ),
        fix="Ensure that the correct scopes are requested during the authorization process. "
        "Check if the resource requires additional permissions.",
        exception=exc.Forbidden,
        remedy=FAIL_FAST,
        status=403,
        source="user catalog; RFC 9110 §15.5.4",
    ),
    Entry(
        code=404,
        title="Not Found",
        description="The requested resource could not be found.",
        causes=(
            "Incorrect API endpoint or resource URL.",
            "The resource has been deleted or does not exist.",
        ),
        fix="Verify the API endpoint URL and ensure it is correct.",
        exception=exc.NotFound,
        remedy=FAIL_FAST,
        status=404,
        source="user catalog; RFC 9110 §15.5.5",
    ),
    Entry(
        code=405,
        title="Method Not Allowed",
        description="The HTTP method used in the request is not supported for this endpoint.",
        causes=(
            "Using GET instead of POST for token requests.",
            "Using an unsupported method for an API resource.",
        ),
        fix="Check the documentation to ensure the correct HTTP method is used.",
        exception=exc.MethodNotAllowed,
        remedy=FAIL_FAST,
        status=405,
        source="user catalog; RFC 9110 §15.5.6",
    ),
    Entry(
        code=406,
        title="Not Acceptable",
        description="The server cannot provide a response in the requested format due to an "
        "invalid "
        "Accept header.",
        causes=("The request specifies an unsupported media type in the Accept header.",),
        fix="Ensure the Accept header is set to a supported format, such as application/json. "
        "Check API documentation for valid response types.",
        exception=exc.NotAcceptable,
        remedy=FAIL_FAST,
        status=406,
        source="user catalog; RFC 9110 §15.5.7",
    ),
    Entry(
        code=413,
        title="Payload Too Large",
        description="The request body exceeds the maximum allowed size by the server.",
        causes=(
            "Sending large file uploads, oversized JSON payloads, or improperly compressed data.",
        ),
        fix="Reduce the payload size, use pagination if applicable, or check for API-specific "
        "limits in the documentation",
        exception=exc.PayloadTooLarge,
        remedy=FAIL_FAST,
        status=413,
        source="user catalog; RFC 9110 §15.5.14",
    ),
    Entry(
        code=414,
        title="Request URI Too Long",
        description="The requested URL is too long for the server to process.",
        causes=("Sending excessively long query parameters or improperly encoded URLs.",),
        fix="Shorten the request URI by reducing query parameters or using a POST request with a "
        "request body.",
        exception=exc.URITooLong,
        remedy=FAIL_FAST,
        status=414,
        source="user catalog; RFC 9110 §15.5.15",
    ),
    Entry(
        code=422,
        title="Unprocessable Entity",
        description="The request is well-formed but contains semantic errors that prevent "
        "processing.",
        causes=("Missing or incorrect field values, violating API validation rules.",),
        fix="Validate request parameters, check required fields, and correct any formatting "
        "issues based on API documentation.",
        exception=exc.UnprocessableEntity,
        remedy=FAIL_FAST,
        status=422,
        source="user catalog; RFC 9110 §15.5.21",
    ),
    Entry(
        code=429,
        title="Too Many Requests",
        description="The client has sent too many requests within a given timeframe, exceeding "
        "rate limits.",
        causes=("Exceeding API rate limits or quota restrictions.",),
        fix="Implement exponential backoff or retry logic, monitor usage limits, and consider "
        "upgrading to a higher quota plan if available.",
        exception=exc.TooManyRequests,
        remedy=BACK_OFF,
        status=429,
        source="user catalog; RFC 6585 §4",
    ),
    Entry(
        code=431,
        title="Request Header Fields Too Large",
        description="The request headers exceed the size limits set by the server.",
        causes=("Sending too many headers or overly large individual headers.",),
        fix="Reduce the number or size of headers in the request, remove unnecessary metadata, "
        "and optimize cookie usage.",
        exception=exc.RequestHeaderFieldsTooLarge,
        remedy=FAIL_FAST,
        status=431,
        source="user catalog; RFC 6585 §5",
    ),
    Entry(
        code=500,
        title="Internal Server Error",
        description="An unexpected server error occurred.",
        causes=("A problem on the API provider's server side.", "Temporary service downtime."),
        fix="Retry the request later or contact support if the issue persists.",
        exception=exc.InternalServerError,
        remedy=RETRY_IF_SAFE,
        status=500,
        source="user catalog; RFC 9110 §15.6.1",
    ),
    Entry(
        code=503,
        title="Service Unavailable",
        description="The server is temporarily unable to handle the request.",
        causes=("Server overload or maintenance.", "Rate-limiting or throttling issues."),
        fix="Wait for some time and retry the request.",
        exception=exc.ServiceUnavailable,
        remedy=BACK_OFF,
        status=503,
        source="user catalog; RFC 9110 §15.6.4",
    ),
    # ---- HTTP statuses: written from RFC 9110 and friends -----------------------------------
    Entry(
        code=408,
        title="Request Timeout",
        description="The server did not receive a complete request in the time it was prepared to "
        "wait.",
        causes=("A slow or stalled upload.", "A connection left idle between requests."),
        fix="Retry the request on a new connection; a non-idempotent request only with an "
        "Idempotency-Key.",
        exception=exc.RequestTimeout,
        remedy=RETRY_IF_SAFE,
        status=408,
        source="RFC 9110 §15.5.9",
    ),
    Entry(
        code=409,
        title="Conflict",
        description="The request conflicts with the current state of the resource.",
        causes=(
            "A concurrent change to the same resource.",
            "A request with the same Idempotency-Key is still being processed.",
        ),
        fix="Re-read the resource and resolve the conflict before resending; for an "
        "Idempotency-Key still in flight, wait and retry with the same key.",
        exception=exc.Conflict,
        remedy=FAIL_FAST,
        status=409,
        source="RFC 9110 §15.5.10; Idempotency-Key draft §2.7",
    ),
    Entry(
        code=410,
        title="Gone",
        description="The resource is no longer available and will not be again.",
        causes=("The resource was deliberately removed.", "A retired API version or endpoint."),
        fix="Stop requesting this URL and remove links to it; look for its replacement in the "
        "API documentation.",
        exception=exc.Gone,
        remedy=FAIL_FAST,
        status=410,
        source="RFC 9110 §15.5.11",
    ),
    Entry(
        code=412,
        title="Precondition Failed",
        description="A condition in the request headers (If-Match, If-Unmodified-Since) was false.",
        causes=("The resource changed since its ETag or date was read.",),
        fix="Fetch the current representation and its ETag, reapply the change, and send it "
        "with the new precondition.",
        exception=exc.PreconditionFailed,
        remedy=FAIL_FAST,
        status=412,
        source="RFC 9110 §15.5.13",
    ),
    Entry(
        code=415,
        title="Unsupported Media Type",
        description="The server does not accept the request body's format or encoding.",
        causes=(
            "A wrong or missing Content-Type.",
            "A Content-Encoding the server does not support.",
        ),
        fix="Send the body in a format the server accepts (see the response's Accept, "
        "Accept-Encoding, Accept-Post or Accept-Patch headers) with a matching Content-Type.",
        exception=exc.UnsupportedMediaType,
        remedy=FAIL_FAST,
        status=415,
        source="RFC 9110 §15.5.16",
    ),
    Entry(
        code=421,
        title="Misdirected Request",
        description="The request reached a server that cannot answer for this origin.",
        causes=("A reused connection whose certificate covers several hosts.",),
        fix="Send the request again on a new connection.",
        exception=exc.MisdirectedRequest,
        remedy=FAIL_FAST,
        status=421,
        source="RFC 9110 §15.5.20",
    ),
    Entry(
        code=425,
        title="Too Early",
        description="The server will not process a request that may be replayed.",
        causes=("The request was sent in TLS early data.",),
        fix="Send the request again after the handshake completes.",
        exception=exc.TooEarly,
        remedy=FAIL_FAST,
        status=425,
        source="RFC 8470 §5.2",
    ),
    Entry(
        code=428,
        title="Precondition Required",
        description="The server requires the request to be conditional.",
        causes=("An update sent without If-Match.",),
        fix="Fetch the resource's ETag and resend the change with If-Match.",
        exception=exc.PreconditionRequired,
        remedy=FAIL_FAST,
        status=428,
        source="RFC 6585 §3",
    ),
    Entry(
        code=501,
        title="Not Implemented",
        description="The server does not support the functionality required to fulfil the request.",
        causes=("An HTTP method the server does not recognise.",),
        fix="Use a method or feature the server supports; retrying will not help.",
        exception=exc.ServerError,
        remedy=FAIL_FAST,
        status=501,
        source="RFC 9110 §15.6.2",
    ),
    Entry(
        code=502,
        title="Bad Gateway",
        description="A gateway or proxy received an invalid response from the server behind it.",
        causes=(
            "The upstream server crashed or closed the connection.",
            "A deployment in progress.",
        ),
        fix="Retry idempotent requests with backoff; if it persists, contact the API provider.",
        exception=exc.BadGateway,
        remedy=RETRY_IF_SAFE,
        status=502,
        source="RFC 9110 §15.6.3",
    ),
    Entry(
        code=504,
        title="Gateway Timeout",
        description="A gateway or proxy did not get a response in time from the server behind it.",
        causes=("The upstream server is slow or overloaded.",),
        fix="Retry idempotent requests with backoff (the upstream may have executed the request); "
        "if it persists, contact the API provider.",
        exception=exc.GatewayTimeout,
        remedy=RETRY_IF_SAFE,
        status=504,
        source="RFC 9110 §15.6.5",
    ),
    # ---- OAuth 2.0 & OpenID Connect: the user's catalog -------------------------------------
    Entry(
        code="invalid_request",
        title="Invalid Request",
        description="The request is missing a required parameter or includes an invalid parameter.",
        causes=(
            "Required parameters like client_id, grant_type, or scope are missing or invalid.",
            "Malformed request or incorrect encoding.",
        ),
        fix="Review the request and add the missing or correct parameters.",
        exception=exc.InvalidRequest,
        remedy=FAIL_FAST,
        status=400,
        source="user catalog; RFC 6749 §5.2; RFC 6750 §3.1",
    ),
    Entry(
        code="invalid_client",
        title="Invalid Client",
        description="The client authentication failed (e.g., incorrect client_id or "
        "client_secret).",
        causes=(
            "Wrong client_id or client_secret.",
            "Client credentials are invalid, revoked, or missing.",
        ),
        fix="Double-check the client credentials and make sure they are correct and properly "
        "included in the request.",
        exception=exc.InvalidClient,
        remedy=FAIL_FAST,
        status=401,
        source="user catalog; RFC 6749 §5.2",
    ),
    Entry(
        code="invalid_grant",
        title="Invalid Grant",
        description="The provided authorization grant or refresh token is invalid, expired, or "
        "revoked.",
        causes=(
            "Incorrect or expired authorization code.",
            "Invalid refresh token.",
            "Mismatched redirect URI.",
        ),
        fix="Re-authenticate the user and request a new authorization grant or refresh token.",
        exception=exc.InvalidGrant,
        remedy=REAUTHENTICATE,
        status=400,
        source="user catalog; RFC 6749 §5.2",
    ),
    Entry(
        code="unauthorized_client",
        title="Unauthorized Client",
        description="The client is not authorized to use this grant type.",
        causes=(
            "The client is not allowed to use a specific grant type (e.g., password, "
            "client_credentials).",
            "The client is not authorized to request certain scopes.",
        ),
        fix="Verify that the client is registered to use the grant type and requested scopes.",
        exception=exc.UnauthorizedClient,
        remedy=FAIL_FAST,
        status=400,
        source="user catalog; RFC 6749 §5.2",
    ),
    Entry(
        code="unsupported_grant_type",
        title="Unsupported Grant Type",
        description="The authorization server does not support the requested grant type.",
        causes=("The grant_type parameter in the request is unsupported or misspelled.",),
        fix="Check if the grant type is supported by the server and correct any misspellings in "
        "the request.",
        exception=exc.UnsupportedGrantType,
        remedy=FAIL_FAST,
        status=400,
        source="user catalog; RFC 6749 §5.2",
    ),
    Entry(
        code="invalid_scope",
        title="Invalid Scope",
        description="The requested scope is invalid, unknown, or malformed.",
        causes=(
            "The requested scope does not exist or is misspelled.",
            "The client is not allowed to request certain scopes.",
        ),
        fix="Verify the scope names and ensure they match the allowed scopes.",
        exception=exc.InvalidScope,
        remedy=FAIL_FAST,
        status=400,
        source="user catalog; RFC 6749 §5.2",
    ),
    Entry(
        code="access_denied",
        title="Access Denied",
        description="The resource owner or authorization server denied the request.",
        causes=(
            "The user declined to grant permission to the application.",
            "The authorization server is denying access to the requested resource.",
        ),
        fix="Check the authorization flow and ensure that the user has granted permission. If "
        "the issue persists, contact the authorization provider.",
        exception=exc.AccessDenied,
        remedy=FAIL_FAST,
        status=400,
        source="user catalog; RFC 6749 §4.1.2.1",
    ),
    Entry(
        code="server_error",
        title="Server Error",
        description="The authorization server encountered an unexpected condition.",
        causes=("Internal server error on the provider's side.",),
        fix="Retry the request later, and if the problem persists, contact the service provider.",
        exception=exc.OAuthServerError,
        remedy=RETRY_IF_SAFE,
        status=500,
        source="user catalog; RFC 6749 §4.1.2.1",
    ),
    Entry(
        code="temporarily_unavailable",
        title="Temporarily Unavailable",
        description="The authorization server is temporarily unable to handle the request.",
        causes=("Server maintenance or service outage.",),
        fix="Retry the request later.",
        exception=exc.TemporarilyUnavailable,
        remedy=BACK_OFF,
        status=503,
        source="user catalog; RFC 6749 §4.1.2.1",
    ),
    Entry(
        code="invalid_token",
        title="Invalid Token",
        description="The provided token is invalid or expired.",
        causes=(
            "Access Token or Refresh Token is malformed, expired, or revoked.",
            "The token was issued for a different client or resource.",
        ),
        fix="Request a new token and ensure it is used within its validity period.",
        exception=exc.InvalidToken,
        remedy=REFRESH,
        status=401,
        source="user catalog; RFC 6750 §3.1",
    ),
    Entry(
        code="insufficient_scope",
        title="Insufficient Scope",
        description="The token does not have sufficient scope to access the requested resource.",
        causes=(
            "Re-authenticate with the correct scope or request a new token with the required "
            "permissions.",
        ),
        fix="Re-authenticate with the correct scope or request a new token with the required "
        "permissions.",
        exception=exc.InsufficientScope,
        remedy=STEP_UP,
        status=403,
        source="user catalog; RFC 6750 §3.1",
    ),
    # ---- OAuth / OIDC: written from the standards (table A) ---------------------------------
    Entry(
        code="unsupported_response_type",
        title="Unsupported Response Type",
        description="The authorization server does not support obtaining a response of this type.",
        causes=("A response_type the server or this client is not set up for.",),
        fix="Use a response_type the server advertises (response_types_supported) and the client "
        "is registered for.",
        exception=exc.UnsupportedResponseType,
        remedy=FAIL_FAST,
        status=None,
        source="RFC 6749 §4.1.2.1",
    ),
    Entry(
        code="authorization_pending",
        title="Authorization Pending",
        description="Device flow: the user has not yet completed the authorization.",
        causes=("The user has not finished on the verification page.",),
        fix="Keep polling the token endpoint, no faster than the interval (default 5 s). "
        "DeviceCode does: it polls again after the interval, until expires_in.",
        exception=exc.AuthorizationPending,
        remedy=KEEP_POLLING,
        status=400,
        source="RFC 8628 §3.5",
    ),
    Entry(
        code="slow_down",
        title="Slow Down",
        description="Device flow: the client is polling too fast.",
        causes=("Polling faster than the interval the server set.",),
        fix="Increase the polling interval by 5 seconds for this and all later requests. "
        "DeviceCode does, for the rest of the login.",
        exception=exc.SlowDown,
        remedy=SLOW_DOWN,
        status=400,
        source="RFC 8628 §3.5",
    ),
    Entry(
        code="expired_token",
        title="Expired Token",
        description="Device flow: the device code expired before the user finished.",
        causes=("The user took longer than the device code's lifetime.",),
        fix="Stop polling and start a new device authorization request. DeviceCode stops and "
        "raises; after reset() the next request logs in again.",
        exception=exc.ExpiredToken,
        remedy=REAUTHENTICATE,
        status=400,
        source="RFC 8628 §3.5",
    ),
    Entry(
        code="invalid_dpop_proof",
        title="Invalid DPoP Proof",
        description="The DPoP proof in the request failed the server's checks.",
        causes=("A wrong htm/htu, a stale iat, a reused jti, or a bad signature.",),
        fix="Check the key's algorithm is one the server accepts (DPoP algs), the clock (iat), "
        "and that nothing rewrites the method or URL on the way; the transport raises it at "
        "once, never replays it.",
        exception=exc.InvalidDPoPProof,
        remedy=FAIL_FAST,
        status=400,
        source="RFC 9449 §5, §7.1",
    ),
    Entry(
        code="use_dpop_nonce",
        title="Use DPoP Nonce",
        description="The server requires a DPoP proof that carries the nonce it supplied.",
        causes=("The proof had no nonce, or an old one.",),
        fix="Store the DPoP-Nonce header value for this server and retry once with a fresh proof "
        "that includes it. The transport does, and keeps each origin's latest nonce.",
        exception=exc.UseDPoPNonce,
        remedy=USE_NONCE,
        status=401,
        source="RFC 9449 §8, §9",
    ),
    Entry(
        code="insufficient_user_authentication",
        title="Insufficient User Authentication",
        description="The authentication event behind the token does not meet the resource's "
        "requirements.",
        causes=(
            "The user signed in too long ago (max_age).",
            "The user signed in with a weaker method than required (acr_values).",
        ),
        fix="Send the user through authorization again with the acr_values and max_age the "
        "challenge names, then use the new token.",
        exception=exc.InsufficientUserAuthentication,
        remedy=FAIL_FAST,
        status=401,
        source="RFC 9470 §3",
    ),
    Entry(
        code="interaction_required",
        title="Interaction Required",
        description="Authentication cannot finish without the user interacting (prompt=none).",
        causes=("The server needs the user to see a page.",),
        fix="Repeat the authorization request without prompt=none so the user can interact.",
        exception=exc.InteractionRequired,
        remedy=FAIL_FAST,
        status=None,
        source="OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        code="login_required",
        title="Login Required",
        description="The user must sign in; it cannot be done silently (prompt=none).",
        causes=("No session at the authorization server.",),
        fix="Repeat the authorization request without prompt=none so the user can sign in.",
        exception=exc.InteractionRequired,
        remedy=FAIL_FAST,
        status=None,
        source="OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        code="account_selection_required",
        title="Account Selection Required",
        description="The user must choose an account; it cannot be done silently (prompt=none).",
        causes=("Several sessions at the authorization server.",),
        fix="Repeat the authorization request without prompt=none, or with prompt=select_account.",
        exception=exc.InteractionRequired,
        remedy=FAIL_FAST,
        status=None,
        source="OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        code="consent_required",
        title="Consent Required",
        description="The user must consent; it cannot be done silently (prompt=none).",
        causes=("The client asks for scopes the user has not approved.",),
        fix="Repeat the authorization request without prompt=none so the user can consent.",
        exception=exc.InteractionRequired,
        remedy=FAIL_FAST,
        status=None,
        source="OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        code="invalid_request_uri",
        title="Invalid Request URI",
        description="The request_uri is invalid or its content cannot be fetched.",
        causes=("An unreachable, expired or unregistered request_uri.",),
        fix="Check that the request_uri is reachable by the server and registered for the client.",
        exception=exc.InvalidRequestObject,
        remedy=FAIL_FAST,
        status=None,
        source="OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        code="invalid_request_object",
        title="Invalid Request Object",
        description="The request parameter holds an invalid request object.",
        causes=("A bad signature, wrong audience or expired request object.",),
        fix="Rebuild the request object with the right signing key, audience and lifetime.",
        exception=exc.InvalidRequestObject,
        remedy=FAIL_FAST,
        status=None,
        source="OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        code="request_not_supported",
        title="Request Not Supported",
        description="The server does not support the request parameter.",
        causes=("The provider does not accept request objects.",),
        fix="Send the parameters in the query instead of a request object.",
        exception=exc.InvalidRequestObject,
        remedy=FAIL_FAST,
        status=None,
        source="OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        code="request_uri_not_supported",
        title="Request URI Not Supported",
        description="The server does not support the request_uri parameter.",
        causes=("The provider does not fetch request objects by reference.",),
        fix="Send the request object by value, or the parameters in the query.",
        exception=exc.InvalidRequestObject,
        remedy=FAIL_FAST,
        status=None,
        source="OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        code="registration_not_supported",
        title="Registration Not Supported",
        description="The server does not support the registration parameter.",
        causes=("The provider does not accept registration metadata in the request.",),
        fix="Register the client ahead of time and drop the registration parameter.",
        exception=exc.InvalidRequestObject,
        remedy=FAIL_FAST,
        status=None,
        source="OpenID Connect Core §3.1.2.6",
    ),
    Entry(
        code="invalid_redirect_uri",
        title="Invalid Redirect URI",
        description="Dynamic registration: a redirect URI is not acceptable.",
        causes=("A non-HTTPS, wildcard or disallowed redirect URI.",),
        fix="Register redirect URIs that the server's policy allows.",
        exception=exc.InvalidClientMetadata,
        remedy=FAIL_FAST,
        status=400,
        source="RFC 7591 §3.2.2",
    ),
    Entry(
        code="invalid_client_metadata",
        title="Invalid Client Metadata",
        description="Dynamic registration: a metadata field is invalid.",
        causes=("A field value the server does not accept.",),
        fix="Correct the client metadata named in the error description.",
        exception=exc.InvalidClientMetadata,
        remedy=FAIL_FAST,
        status=400,
        source="RFC 7591 §3.2.2",
    ),
    Entry(
        code="invalid_software_statement",
        title="Invalid Software Statement",
        description="Dynamic registration: the software statement is invalid.",
        causes=("A bad signature or malformed statement.",),
        fix="Obtain a valid, correctly signed software statement.",
        exception=exc.InvalidClientMetadata,
        remedy=FAIL_FAST,
        status=400,
        source="RFC 7591 §3.2.2",
    ),
    Entry(
        code="unapproved_software_statement",
        title="Unapproved Software Statement",
        description="Dynamic registration: the software statement is not approved by this server.",
        causes=("A statement from an issuer the server does not trust.",),
        fix="Use a software statement the server has approved.",
        exception=exc.InvalidClientMetadata,
        remedy=FAIL_FAST,
        status=400,
        source="RFC 7591 §3.2.2",
    ),
    Entry(
        code="invalid_target",
        title="Invalid Target",
        description="The requested resource or audience is invalid or not acceptable.",
        causes=("A resource or audience the server does not know or will not issue tokens for.",),
        fix="Request a resource / audience the server serves, as an absolute URI.",
        exception=exc.InvalidTarget,
        remedy=FAIL_FAST,
        status=400,
        source="RFC 8707 §2; RFC 8693 §2.2.2",
    ),
    Entry(
        code="unsupported_token_type",
        title="Unsupported Token Type",
        description="The server does not support revoking this type of token.",
        causes=("Revoking an access token at a server that only revokes refresh tokens.",),
        fix="Revoke the refresh token instead, or let the access token expire.",
        exception=exc.UnsupportedTokenType,
        remedy=FAIL_FAST,
        status=400,
        source="RFC 7009 §2.2.1",
    ),
)

#: The fallbacks used for a status the catalog does not list.
_CLIENT_FALLBACK = Entry(
    code="4xx",
    title="Client Error",
    description="The server rejected the request.",
    causes=("Something in the request the server did not accept.",),
    fix="Read the server's message and the API documentation; retrying the same request will not "
    "help.",
    exception=exc.ClientError,
    remedy=FAIL_FAST,
    status=None,
    source="RFC 9110 §15.5",
)
_SERVER_FALLBACK = Entry(
    code="5xx",
    title="Server Error",
    description="The server failed to fulfil a valid request.",
    causes=("A fault on the server's side.",),
    fix="Retry later; if it persists, contact the API provider.",
    exception=exc.ServerError,
    remedy=FAIL_FAST,
    status=None,
    source="RFC 9110 §15.6",
)

catalog = Catalog(_ROWS, client_fallback=_CLIENT_FALLBACK, server_fallback=_SERVER_FALLBACK)
"""The catalog: ``catalog[429].fix``, ``catalog["invalid_grant"].exception``."""

#: The statuses the default retry policy retries: every row whose remedy is a retry.
RETRYABLE_STATUSES: frozenset[int] = frozenset(
    int(e.code) for e in catalog.statuses() if e.remedy.retries
)
