"""httpx-remedy: typed, catchable HTTP and OAuth errors for httpx, with their fixes.

Wrap a client's transport and every 4xx/5xx response becomes an exception you catch by name,
carrying the server's words and the catalog's fix; 429, 503 and other transient failures are
retried with backoff, safely and within bounds::

    import httpx, httpx_remedy as remedy

    client = httpx.Client(transport=remedy.RemedyTransport())
    try:
        client.get("https://api.example.com/items")
    except remedy.InvalidToken as e:
        print(e.error_description, e.entry.fix)
"""

import inspect
from typing import TYPE_CHECKING

from ._budget import RetryBudget
from ._catalog import catalog
from ._catalog_errors import (
    AccessDenied,
    AuthorizationPending,
    BadGateway,
    BadRequest,
    ClientError,
    Conflict,
    ExpiredToken,
    Forbidden,
    GatewayTimeout,
    Gone,
    InsufficientScope,
    InsufficientUserAuthentication,
    InteractionRequired,
    InternalServerError,
    InvalidClient,
    InvalidClientMetadata,
    InvalidDPoPProof,
    InvalidGrant,
    InvalidRequest,
    InvalidRequestObject,
    InvalidScope,
    InvalidTarget,
    InvalidToken,
    MethodNotAllowed,
    MisdirectedRequest,
    NotAcceptable,
    NotFound,
    OAuthError,
    OAuthServerError,
    PayloadTooLarge,
    PreconditionFailed,
    PreconditionRequired,
    RequestHeaderFieldsTooLarge,
    RequestTimeout,
    ServerError,
    ServiceUnavailable,
    SlowDown,
    TemporarilyUnavailable,
    TooEarly,
    TooManyRequests,
    Unauthorized,
    UnauthorizedClient,
    UnprocessableEntity,
    UnsupportedGrantType,
    UnsupportedMediaType,
    UnsupportedResponseType,
    UnsupportedTokenType,
    URITooLong,
    UseDPoPNonce,
)
from ._device import DeviceAuthorization, DeviceCode
from ._dpop import DPoPKey
from ._entry import Catalog, Entry, Remedy
from ._exceptions import (
    HTTPError,
    InsecureTransportError,
    LoginCancelled,
    LoginTimeout,
    OriginPaused,
    PacingRefused,
    ReauthenticationRequired,
    RemedyError,
    TokenEndpointUnreachable,
    TokenResponseError,
    TokenWaitTimeout,
)
from ._grants import ClientCredentials, RefreshToken
from ._listen import Listener, get_listeners, set_listeners
from ._log_listener import LoggingListener
from ._pacer import Pacer
from ._policy import Attempt, Retry, RetryHook, attempts_of
from ._portable import redacted
from ._raise_for_status import araise_for_status, raise_for_status
from ._redis_store import RedisStore
from ._sources import AsyncTokenSource, TokenSource
from ._store import MemoryStore, Store
from ._timeline import Timeline
from ._token import Token
from ._transport import AsyncRemedyTransport, RemedyTransport
from ._wrap import wrap

if TYPE_CHECKING:
    from ._events import (
        CredentialsBound,
        ErrorClassified,
        Event,
        GaveUp,
        NonceReplayed,
        PauseHeard,
        PauseHonoured,
        PollingSlowed,
        Recovered,
        RequestEvent,
        RequestPaced,
        RequestSent,
        RetryRefused,
        RetryScheduled,
        StoreFault,
        TokenFetched,
        TokenFetchFailed,
        TokenRejected,
        TokenReused,
    )

#: Public names loaded on first access (PEP 562), with the module that defines them: the event
#: records are dataclasses, whose making is a fair share of the import time, and a process
#: whose requests all succeed never makes one. ``httpx_remedy.RequestSent`` and
#: ``from httpx_remedy import RequestSent`` work as for any other name.
_LAZY = dict.fromkeys(
    (
        "CredentialsBound",
        "ErrorClassified",
        "Event",
        "GaveUp",
        "NonceReplayed",
        "PauseHeard",
        "PauseHonoured",
        "PollingSlowed",
        "Recovered",
        "RequestEvent",
        "RequestPaced",
        "RequestSent",
        "RetryRefused",
        "RetryScheduled",
        "StoreFault",
        "TokenFetched",
        "TokenFetchFailed",
        "TokenRejected",
        "TokenReused",
    ),
    "._events",
)


if not TYPE_CHECKING:  # hidden from type checkers, which would type every unknown name

    def __getattr__(name: str) -> object:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_LAZY})


__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "AsyncRemedyTransport",
    "AsyncTokenSource",
    "Attempt",
    "AuthorizationPending",
    "BadGateway",
    "BadRequest",
    "Catalog",
    "ClientCredentials",
    "ClientError",
    "Conflict",
    "CredentialsBound",
    "DPoPKey",
    "DeviceAuthorization",
    "DeviceCode",
    "Entry",
    "ErrorClassified",
    "Event",
    "ExpiredToken",
    "Forbidden",
    "GatewayTimeout",
    "GaveUp",
    "Gone",
    "HTTPError",
    "InsecureTransportError",
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
    "Listener",
    "LoggingListener",
    "LoginCancelled",
    "LoginTimeout",
    "MemoryStore",
    "MethodNotAllowed",
    "MisdirectedRequest",
    "NonceReplayed",
    "NotAcceptable",
    "NotFound",
    "OAuthError",
    "OAuthServerError",
    "OriginPaused",
    "Pacer",
    "PacingRefused",
    "PauseHeard",
    "PauseHonoured",
    "PayloadTooLarge",
    "PollingSlowed",
    "PreconditionFailed",
    "PreconditionRequired",
    "ReauthenticationRequired",
    "Recovered",
    "RedisStore",
    "RefreshToken",
    "Remedy",
    "RemedyError",
    "RemedyTransport",
    "RequestEvent",
    "RequestHeaderFieldsTooLarge",
    "RequestPaced",
    "RequestSent",
    "RequestTimeout",
    "Retry",
    "RetryBudget",
    "RetryHook",
    "RetryRefused",
    "RetryScheduled",
    "ServerError",
    "ServiceUnavailable",
    "SlowDown",
    "Store",
    "StoreFault",
    "TemporarilyUnavailable",
    "Timeline",
    "Token",
    "TokenEndpointUnreachable",
    "TokenFetchFailed",
    "TokenFetched",
    "TokenRejected",
    "TokenResponseError",
    "TokenReused",
    "TokenSource",
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
    "__version__",
    "araise_for_status",
    "attempts_of",
    "catalog",
    "get_listeners",
    "raise_for_status",
    "redacted",
    "set_listeners",
    "wrap",
]

# Every public class and function reports this package as its module, as httpx does: a traceback
# shows httpx_remedy.NotFound, not the private module it is defined in (and a combined class,
# made later from these, httpx_remedy.InvalidToken[Unauthorized]). Pickling finds them here.
# (The lazy names' module sets theirs when it loads: see _events.)
for _name in __all__:
    if _name in _LAZY:
        continue
    _public = globals()[_name]
    if isinstance(_public, type) or inspect.isfunction(_public):
        _public.__module__ = __name__
del _name, _public, inspect
