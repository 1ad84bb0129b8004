"""OAuth 2.0 credentials and the token state the transports share.

The grants (:class:`ClientCredentials`, :class:`RefreshToken`) are sans-I/O: they build the token
request and read the token response, using authlib for the protocol pieces (request encoding,
client authentication, RFC 7523 JWT assertions). The transport sends the request through the
transport it wraps, with the retry policy, and a :class:`TokenManager` decides when a new token
is needed, so that the sync and async transports only lock and fetch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import logging
import random
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, quote, urlsplit

import anyio.lowlevel

with warnings.catch_warnings():
    # authlib installs process-wide warning filters when first imported; they must not
    # override the user's (-W error, say), so they leave with this block.
    from authlib.oauth2.auth import ClientAuth
    from authlib.oauth2.rfc6749.parameters import prepare_token_request

from ._catalog import Remedy, catalog
from ._classify import build_error, describe, error_scrubber
from ._exceptions import HTTPError, RemedyError
from ._http import Origin, Request, Response, buffered, new_request, origin_text, stack_of
from ._redact import REDACTED, basic_credentials, without_credential_members
from ._store import Store

logger = logging.getLogger("httpx_remedy")

__all__ = [
    "AsyncTokenSource",
    "ClientCredentials",
    "InsecureTransportError",
    "ReauthenticationRequired",
    "RefreshToken",
    "Token",
    "TokenResponseError",
    "TokenSource",
]

#: Refresh this long before expiry (plus up to ``JITTER`` more, at random)...
LEEWAY = 60.0
JITTER = 30.0
#: ...but never before this share of the token's lifetime has passed, so short-lived tokens are
#: not refreshed on every request.
MIN_LIFETIME_SHARE = 0.5
#: The most bytes read from a token endpoint response.
MAX_TOKEN_BODY = 256 * 1024


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


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_secure(url: str, what: str) -> None:
    """Refuse plain ``http://`` to anything but loopback."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and is_loopback(parts.hostname or ""):
        return
    raise InsecureTransportError(
        f"refusing to send {what} to {parts.scheme}://{parts.hostname}: use https:// "
        "(plain http:// is only allowed to loopback addresses)"
    )


@dataclass(frozen=True)
class Token:
    """An access token and what came with it. Its ``repr`` shows no secret.

    ``ValueError`` (``TypeError`` for a non-string) when the token cannot be sent in an
    ``Authorization`` header: see :func:`authorization_problem`. The message never holds it.

    ``expires_at`` and ``refresh_at`` are readings of ``time.monotonic()``, so wall-clock jumps
    do not matter; ``refresh_at`` comes ``LEEWAY`` seconds (plus a little jitter, so a fleet
    does not refresh in the same second) before expiry, or half-way through a short lifetime.
    """

    access_token: str = field(repr=False)
    token_type: str = "Bearer"
    scope: str | None = None
    expires_at: float | None = None
    refresh_at: float | None = None
    refresh_token: str | None = field(default=None, repr=False)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    authorization: str = field(init=False, repr=False, compare=False)
    """The ``Authorization`` header value (made once: it is sent with every request)."""

    def __post_init__(self) -> None:
        problem = authorization_problem(self.access_token, self.token_type)
        if problem is not None:
            if not (isinstance(self.access_token, str) and isinstance(self.token_type, str)):
                raise TypeError(problem)
            raise ValueError(problem)
        object.__setattr__(self, "authorization", f"{self.token_type} {self.access_token}")

    @classmethod
    def from_response(
        cls,
        data: Mapping[str, Any],
        *,
        now: float | None = None,
        wall_now: float | None = None,
        leeway: float = LEEWAY,
        jitter: float = JITTER,
    ) -> Token:
        """A token from a token endpoint's JSON (RFC 6749 §5.1), or ``ValueError``."""
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("no access_token in the token response")
        now = time.monotonic() if now is None else now
        wall_now = time.time() if wall_now is None else wall_now
        # An absolute expires_at (as stored by on_token) beats a relative expires_in, which
        # only means something at the moment the token endpoint answered.
        lifetime = None
        expires_at_wall = _number(data.get("expires_at"))
        if expires_at_wall is not None:
            lifetime = max(0.0, expires_at_wall - wall_now)
        else:
            lifetime = _number(data.get("expires_in"))
        expires_at = refresh_at = None
        if lifetime is not None:
            early = leeway + random.uniform(0.0, jitter)
            expires_at = now + lifetime
            refresh_at = now + max(lifetime - early, lifetime * MIN_LIFETIME_SHARE)
        token_type = _token_type(data.get("token_type"))
        refresh = data.get("refresh_token")
        scope = data.get("scope")
        return cls(
            access_token=access,
            token_type=token_type,
            scope=scope if isinstance(scope, str) else None,
            expires_at=expires_at,
            refresh_at=refresh_at,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            raw=dict(data),
        )

    def fresh(self, now: float) -> bool:
        """True while the token needs no refresh (``now`` is a monotonic reading)."""
        return self.refresh_at is None or now < self.refresh_at

    def usable(self, now: float) -> bool:
        """True until the token expires."""
        return self.expires_at is None or now < self.expires_at


def _token_type(value: object) -> str:
    """The auth-scheme a token response's ``token_type`` stands for: ``Bearer`` when it is
    missing, empty or any case of bearer (RFC 6750 §4 is case-insensitive; some servers send
    ``bearer``, and some servers reject anything but ``Bearer``)."""
    if not isinstance(value, str) or not value or value.lower() == "bearer":
        return "Bearer"
    return value


#: An access token as it can be sent: visible ASCII, one or more (RFC 6749 Appendix A's VSCHAR
#: without the space; see :func:`authorization_problem`).
_ACCESS_TOKEN_RE = re.compile(r"[\x21-\x7e]+")
#: A token type as it can be sent: an auth-scheme, which is an RFC 9110 token.
_TOKEN_TYPE_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def authorization_problem(access_token: object, token_type: object) -> str | None:
    """Why ``{token_type} {access_token}`` cannot be sent as an ``Authorization`` header, or
    None when it can. The message names the position and code point of the first bad
    character, never the token.

    An access token must be visible ASCII (%x21-7E). RFC 6749 Appendix A allows %x20-7E, but a
    space cannot be sent: a leading or trailing one is stripped from the header value on the
    way (RFC 9110 §5.5), and one inside cannot be told from the separator after the scheme, as
    Bearer's b64token (RFC 6750 §2.1) and every auth-scheme's token68 exclude it. Stricter than
    VSCHAR it is not: b64token would refuse tokens real servers issue (``app|secret``,
    ``00D..!..``). A character outside ASCII has no agreed encoding in a header (servers read
    Latin-1, UTF-8 or refuse), and CR, LF or NUL would end or break the header. The token
    type is the auth-scheme, so it must be an RFC 9110 token (``Bearer``, ``DPoP``, ``MAC``).
    """
    if not isinstance(access_token, str):
        return f"access_token must be a str, not {type(access_token).__name__}"
    if not isinstance(token_type, str):
        return f"token_type must be a str, not {type(token_type).__name__}"
    if not access_token:
        return "access_token is empty"
    if _ACCESS_TOKEN_RE.fullmatch(access_token) is None:
        where = _first_outside(access_token, _ACCESS_TOKEN_RE)
        return (
            f"access_token cannot be sent in an Authorization header: it has {where}, and an "
            "access token is visible ASCII (%x21-7E: no space, control or non-ASCII character)"
        )
    if _TOKEN_TYPE_RE.fullmatch(token_type) is None:
        where = _first_outside(token_type, _TOKEN_TYPE_RE) if token_type else "nothing"
        return (
            f"token_type cannot be sent as an Authorization scheme: it has {where}, and a "
            "token type is an RFC 9110 token (letters, digits and !#$%&'*+.^_`|~-)"
        )
    return None


def _first_outside(text: str, allowed: re.Pattern[str]) -> str:
    """``U+000D at position 12 of 40``: where ``text`` first leaves ``allowed``, without the
    text itself."""
    for position, char in enumerate(text):
        if allowed.fullmatch(char) is None:
            return f"U+{ord(char):04X} at position {position} of {len(text)}"
    return "nothing wrong"  # pragma: no cover - only called once the whole text failed


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, (int, float)) and 0 <= value < 10**10:
        return float(value)
    return None


@runtime_checkable
class TokenSource(Protocol):
    """Any source of access tokens: a cloud SDK, a vault, a file.

    ``fetch_token`` returns a new token (a :class:`Token`, or a mapping shaped like a token
    endpoint's JSON: ``access_token``, ``expires_in``, ...). ``scope`` is the scope wanted, or
    None for the source's own. The transport decides when to call it and makes sure only one
    call runs at a time.
    """

    def fetch_token(self, scope: str | None) -> Token | Mapping[str, Any]: ...


@runtime_checkable
class AsyncTokenSource(Protocol):
    """The async twin of :class:`TokenSource`, for ``AsyncRemedyTransport``."""

    async def afetch_token(self, scope: str | None) -> Token | Mapping[str, Any]: ...


class Grant:
    """Base of the built-in OAuth 2.0 grants: builds token requests, reads token responses."""

    token_url: str
    client_id: str
    scope: str | None

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str | None = None,
        *,
        scope: str | Iterable[str] | None = None,
        auth_method: str | None = None,
        private_key: str | bytes | Mapping[str, Any] | None = None,
        jwt_alg: str | None = None,
        extra_params: Mapping[str, str] | None = None,
        leeway: float = LEEWAY,
        store: Store | None = None,
    ) -> None:
        if not isinstance(token_url, str) or not token_url:
            raise ValueError("token_url must be the token endpoint's URL")
        if not isinstance(client_id, str) or not client_id:
            raise ValueError("client_id must be a non-empty string")
        require_secure(token_url, "client credentials")
        self.token_url = token_url
        self.client_id = client_id
        self.scope = _scope_text(scope)
        self.leeway = float(leeway)
        self.extra_params = dict(extra_params or {})
        if store is not None and not isinstance(store, Store):
            raise TypeError(f"store must be a httpx_remedy.Store, not {store!r}")
        #: Where the current token is shared with other processes (None: this process only).
        self.store = store
        #: What else names the token shared in the store (a user id for RefreshToken).
        self.share_as = ""
        if auth_method is None:
            auth_method = (
                "private_key_jwt"
                if private_key is not None
                else "client_secret_basic"
                if client_secret is not None
                else "none"
            )
        self.auth_method = auth_method
        self._client_secret = client_secret
        if auth_method in ("client_secret_basic", "client_secret_post", "client_secret_jwt") and (
            not client_secret
        ):
            raise ValueError(f"auth_method {auth_method!r} needs a client_secret")
        method, key = _auth_method(auth_method, token_url, client_secret, private_key, jwt_alg)
        self._client_auth = ClientAuth(client_id, key, method)
        self.manager = TokenManager(self)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(token_url={self.token_url!r}, client_id="
            f"{self.client_id!r}, auth_method={self.auth_method!r}, scope={self.scope!r})"
        )

    def _params(self, scope: str | None) -> dict[str, str]:
        raise NotImplementedError

    grant_type = ""

    def token_request(self, scope: str | None = None, stack: ModuleType | None = None) -> Request:
        """The token request (RFC 6749 §4.4.2 / §6), client authentication applied, made by
        ``stack`` (``httpx`` or ``httpx2``; default httpx)."""
        params = {**self.extra_params, **self._params(scope)}
        body = prepare_token_request(self.grant_type, **params)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        url, headers, body = self._client_auth.prepare("POST", self.token_url, headers, body)
        return new_request(
            stack or stack_of(None), "POST", url, headers=headers, content=body.encode("utf-8")
        )

    def accept(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """Take a new token response; returns the token data to use."""
        return data

    def adopt(self, data: Mapping[str, Any]) -> None:
        """Take a token another process fetched (from the shared store)."""

    @property
    def shared_key(self) -> str:
        """The store key of these credentials' token: the token URL, client id and scope,
        hashed (never the secret)."""
        digest = hashlib.sha256(
            f"{self.token_url}\n{self.client_id}\n{self.scope or ''}\n{self.share_as}".encode()
        ).hexdigest()
        return f"token:{digest[:40]}"

    def secrets(self) -> tuple[str, ...]:
        """The secret values to scrub from anything printed: the client secret, and the
        ``Authorization: Basic`` values it travels in (RFC 6749 §2.3.1 encoded, and raw)."""
        secret = self._client_secret
        if not secret:
            return ()
        return (secret, *basic_credentials(self.client_id, secret))

    def reset(self) -> None:
        """Forget the current token and any earlier rejection: the next request asks again."""
        self.manager.reset()


def _scope_text(scope: str | Iterable[str] | None) -> str | None:
    if scope is None:
        return None
    if isinstance(scope, str):
        return " ".join(scope.split()) or None
    return " ".join(scope) or None


def _client_secret_basic(
    client: Any, method: str, uri: str, headers: dict[str, str], body: str
) -> tuple[str, dict[str, str], str]:
    """RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined and base64ed
    (a secret with ``%``, ``+`` or ``/`` is otherwise read wrongly by a conforming server)."""
    import base64

    pair = f"{quote(client.client_id, safe='')}:{quote(client.client_secret or '', safe='')}"
    headers = {
        **headers,
        "Authorization": "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii"),
    }
    return uri, headers, body


#: The JWS algorithm used by default for each kind of private key.
_DEFAULT_ALG = {
    "RSA": "RS256",
    "OKP": "EdDSA",
    "P-256": "ES256",
    "P-384": "ES384",
    "P-521": "ES512",
    "secp256k1": "ES256K",
}


def _private_key(key: str | bytes | Mapping[str, Any], alg: str | None) -> tuple[Any, str]:
    """The private key as a joserfc key object, and the algorithm to sign with.

    authlib reads anything that is not a key object as RSA, so the type is found here: a JWK
    says it (``kty``), a PEM is tried as RSA, then EC, then OKP.
    """
    from joserfc.errors import JoseError
    from joserfc.jwk import import_key

    candidates = [None] if isinstance(key, Mapping) else ["RSA", "EC", "OKP"]
    for key_type in candidates:
        try:
            loaded = import_key(dict(key) if isinstance(key, Mapping) else key, key_type)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError):
            continue
        kind = loaded.key_type
        if kind == "oct":
            break
        default = _DEFAULT_ALG.get(
            getattr(loaded, "curve_name", kind) if kind == "EC" else kind, "RS256"
        )
        return loaded, alg or default
    raise ValueError("private_key must be an RSA, EC or OKP private key, as PEM or JWK")


def _auth_method(
    name: str,
    token_url: str,
    secret: str | None,
    private_key: str | bytes | Mapping[str, Any] | None,
    alg: str | None,
) -> tuple[Any, Any]:
    """The authlib client-auth method for ``name``, and the key material it signs with."""
    if name == "client_secret_basic":
        return _client_secret_basic, secret
    if name in ("client_secret_post", "none"):
        return name, secret
    if name == "client_secret_jwt":
        if secret is not None and len(secret.encode("utf-8")) < 14:
            raise ValueError(
                "client_secret_jwt needs a client_secret of at least 14 bytes "
                "(112 bits) to be a safe HMAC key"
            )
        from authlib.oauth2.rfc7523 import ClientSecretJWT

        return ClientSecretJWT(token_url, alg=alg), secret
    if name == "private_key_jwt":
        if private_key is None:
            raise ValueError("auth_method 'private_key_jwt' needs a private_key")
        from authlib.oauth2.rfc7523 import PrivateKeyJWT

        key, key_alg = _private_key(private_key, alg)
        return PrivateKeyJWT(token_url, alg=key_alg), key
    raise ValueError(
        f"unknown auth_method {name!r}: use client_secret_basic, client_secret_post, "
        "client_secret_jwt, private_key_jwt or none"
    )


class ClientCredentials(Grant):
    """The client_credentials grant (RFC 6749 §4.4).

    ``auth_method`` is ``client_secret_basic`` (default), ``client_secret_post``,
    ``client_secret_jwt`` or ``private_key_jwt`` (pass ``private_key``, a PEM or JWK; RFC 7523).
    """

    grant_type = "client_credentials"

    def _params(self, scope: str | None) -> dict[str, str]:
        scope = scope or self.scope
        return {"scope": scope} if scope else {}


class RefreshToken(Grant):
    """A token pair refreshed with the refresh_token grant (RFC 6749 §6).

    ``token`` is the token endpoint's JSON as you stored it (``access_token``,
    ``refresh_token``, ``expires_in`` or ``expires_at``). A rotated refresh token replaces the
    old one; when the server does not rotate, the old one is kept. ``on_token(new_token)`` is
    called after every change, with the whole token dict, so that you can persist it. With a
    ``store``, ``share_as`` names whose token it is (a user id), so that processes share one
    user's token and never mix users.
    """

    grant_type = "refresh_token"

    def __init__(
        self,
        token_url: str,
        client_id: str,
        *,
        token: Mapping[str, Any],
        client_secret: str | None = None,
        on_token: Callable[[dict[str, Any]], None] | None = None,
        scope: str | Iterable[str] | None = None,
        auth_method: str | None = None,
        private_key: str | bytes | Mapping[str, Any] | None = None,
        jwt_alg: str | None = None,
        extra_params: Mapping[str, str] | None = None,
        leeway: float = LEEWAY,
        store: Store | None = None,
        share_as: str | None = None,
    ) -> None:
        super().__init__(
            token_url,
            client_id,
            client_secret,
            scope=scope,
            auth_method=auth_method,
            private_key=private_key,
            jwt_alg=jwt_alg,
            extra_params=extra_params,
            leeway=leeway,
            store=store,
        )
        if store is not None and not share_as:
            raise ValueError(
                "a RefreshToken shared through a store needs share_as= (the user the token "
                "belongs to, e.g. their id): token URL and client id alone would mix users"
            )
        self.share_as = share_as or ""
        self.on_token = on_token
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {}
        self.set_token(token, notify=False)

    def set_token(self, token: Mapping[str, Any], *, notify: bool = True) -> None:
        """Replace the token pair (after the user re-authenticated, say) and clear any earlier
        rejection."""
        if not isinstance(token, Mapping) or not isinstance(token.get("refresh_token"), str):
            raise ValueError("token must be a mapping with a refresh_token")
        with self._lock:
            self._data = dict(token)
        self.manager.reset()
        if isinstance(token.get("access_token"), str) and token["access_token"]:
            self.manager.store(Token.from_response(token, leeway=self.leeway))
        if notify and self.on_token is not None:
            self.on_token(dict(self._data))

    @property
    def token(self) -> dict[str, Any]:
        """A copy of the current token pair."""
        with self._lock:
            return dict(self._data)

    def _params(self, scope: str | None) -> dict[str, str]:
        with self._lock:
            params = {"refresh_token": str(self._data["refresh_token"])}
        scope = scope or self.scope
        if scope:
            params["scope"] = scope
        return params

    def accept(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        with self._lock:
            merged = dict(data)
            lifetime = _number(merged.get("expires_in"))
            if lifetime is not None and "expires_at" not in merged:
                # So that a pair persisted by on_token and restored later knows its age.
                merged["expires_at"] = int(time.time() + lifetime)
            if not merged.get("refresh_token"):
                # The server did not rotate: the old refresh token stays valid (RFC 6749 §6).
                merged["refresh_token"] = self._data.get("refresh_token")
            self._data = merged
        if self.on_token is not None:
            self.on_token(dict(merged))
        return merged

    def adopt(self, data: Mapping[str, Any]) -> None:
        # A sibling process refreshed: its rotated refresh token is the only valid one now,
        # and this process's persisted copy must learn it too.
        refresh = data.get("refresh_token")
        if not (isinstance(refresh, str) and refresh):
            return
        with self._lock:
            changed = refresh != self._data.get("refresh_token")
            self._data = dict(data)
        if changed and self.on_token is not None:
            self.on_token(dict(data))

    def secrets(self) -> tuple[str, ...]:
        with self._lock:
            refresh = self._data.get("refresh_token")
        return super().secrets() + ((refresh,) if isinstance(refresh, str) else ())


def parse_token_response(
    request: Request,
    response: Response,
    body: bytes,
    secrets: tuple[str, ...],
    *,
    body_cut: str | None = None,
) -> dict[str, Any]:
    """The token JSON from a 2xx token endpoint response, or the typed error it really is.

    A 2xx whose body carries an OAuth ``error`` raises that code's class; a 2xx without an
    ``access_token``, or with one that cannot be sent (see :func:`authorization_problem`),
    raises :class:`TokenResponseError`. Form-encoded bodies (some legacy servers) are accepted
    too. ``body_cut`` says which cap cut the body short, if one did.
    """
    data: Any = None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        pairs = parse_qsl(body.decode("utf-8", "replace"))
        data = dict(pairs) if pairs else None
    if (
        isinstance(data, dict)
        and isinstance(data.get("access_token"), str)
        and (data["access_token"])
        and "error" not in data
    ):
        problem = authorization_problem(data["access_token"], _token_type(data.get("token_type")))
        if problem is None:
            return data
        # The body holds the token: the error carries it with every secret member redacted.
        shown = {k: REDACTED if k in _SECRET_MEMBERS else v for k, v in data.items()}
        raise TokenResponseError(
            f"the token endpoint answered {response.status_code} with a token that cannot be "
            f"used: {problem}",
            response=buffered(response, json.dumps(shown).encode(), request),
        )
    # Described without its credential-named members: a 2xx that is not a token (a token
    # under another name, say) must not put one in the message.
    details = describe(
        response.status_code,
        response.headers,
        without_credential_members(body),
        time.time(),
        error_scrubber(request, secrets),
    )
    if details.error is not None:
        raise build_error(
            request,
            buffered(response, body, request),
            details,
            secrets=secrets,
            body_cut=body_cut,
        )
    what = "no JSON object" if not isinstance(data, dict) else "no access_token"
    said = f': "{details.server_message}"' if details.server_message else ""
    cut = f" [{body_cut}]" if body_cut else ""
    raise TokenResponseError(
        f"the token endpoint answered {response.status_code} with {what}{said}; check "
        f"token_url (it should be the token endpoint, not the authorization page){cut}",
        response=buffered(response, body, request),
    )


#: Token response members whose values never travel on an error.
_SECRET_MEMBERS = frozenset({"access_token", "refresh_token", "id_token"})


class TokenManager:
    """The current token of one credentials object, shared by every transport that uses it.

    It decides (no I/O): whether a request can use the current token, whether a rejected token
    was already replaced, what to remember after a failure, and where the token may go when a
    transport names no origins. The transports hold its lock while they fetch, so that however
    many threads or tasks find the token expired at once, exactly one token request is made.
    """

    def __init__(self, source: object) -> None:
        self.source = source
        self.token: Token | None = None
        self.rejection: HTTPError | None = None
        self.sync_lock = threading.Lock()
        self._async_lock: anyio.lowlevel.RunVar[anyio.Lock] = anyio.lowlevel.RunVar("lock")
        self._issued: tuple[str, ...] = ()
        #: Where the token may go for every transport given no ``origins=``: decided once per
        #: credentials object, by the first request any of those transports sends (None until
        #: then). Read without a lock; written once, under ``_bind_lock``.
        self.origins: frozenset[Origin] | None = None
        self._bind_lock = threading.Lock()

    def bind(self, origin: Origin, url: str) -> frozenset[Origin]:
        """The origins the token is bound to, binding it to ``origin`` (the origin of ``url``)
        when nothing is bound yet.

        One decision, under a lock: two first requests to two hosts at once, from two threads
        or through two mounts, cannot both get the token. Plain ``http://`` to a host that is
        not loopback is refused, and binds nothing.
        """
        with self._bind_lock:
            if self.origins is None:
                require_secure(url, "access tokens")
                self.origins = frozenset((origin,))
                logger.info(
                    "binding credentials to %s (the first origin requested with them)",
                    origin_text(origin),
                )
            return self.origins

    def async_lock(self) -> anyio.Lock:
        """A lock for the running event loop (an anyio lock cannot cross event loops)."""
        try:
            return self._async_lock.get()
        except LookupError:
            lock = anyio.Lock()
            self._async_lock.set(lock)
            return lock

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
        if scope is not None and not _covers(token.scope, scope):
            return None
        return token

    def store(self, token: Token) -> Token:
        self.token = token
        self._issued = (token.authorization, *self._issued[:3])
        return token

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
            and not (error.entry.remedy.retries or error.status_code >= 500)
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


_REFRESH_AT = "httpx_remedy_refresh_at"


def token_record(token: Token, now: float, wall_now: float) -> tuple[bytes, float | None]:
    """The token as stored for other processes (its expiry in wall-clock time, as monotonic
    clocks differ between processes), and how long to keep it."""
    data = dict(token.raw)
    data.update(access_token=token.access_token, token_type=token.token_type)
    if token.refresh_token:
        data["refresh_token"] = token.refresh_token
    if token.scope:
        data["scope"] = token.scope
    ttl = None
    if token.expires_at is not None:
        lifetime = max(token.expires_at - now, 0.001)
        data["expires_at"] = wall_now + lifetime
        data.pop("expires_in", None)
        # A record with a refresh token is the only place a sibling learns the rotated one:
        # it must outlive the access token it came with.
        ttl = None if token.refresh_token else lifetime
    if token.refresh_at is not None:
        # The refresh point travels too: read back, the remaining lifetime is not a new token's
        # lifetime to use half of.
        data[_REFRESH_AT] = wall_now + (token.refresh_at - now)
    return json.dumps(data).encode(), ttl


def token_from_record(
    record: bytes | None, *, now: float, wall_now: float, leeway: float
) -> tuple[Token, dict[str, Any]] | None:
    """A token another process stored, and its data; None for nothing or garbage."""
    if not record:
        return None
    try:
        data = json.loads(record)
        token = Token.from_response(data, now=now, wall_now=wall_now, leeway=leeway)
    except (ValueError, TypeError, AttributeError):
        return None
    refresh_at = _number(data.pop(_REFRESH_AT, None))
    if refresh_at is not None and token.refresh_at is not None:
        token = dataclasses.replace(token, refresh_at=now + (refresh_at - wall_now))
    return token, data


def _covers(granted: str | None, wanted: str) -> bool:
    return set(wanted.split()) <= set((granted or "").split())


def union_scope(*scopes: str | None) -> str:
    """The space-separated union of scopes, in first-seen order."""
    seen: dict[str, None] = {}
    for scope in scopes:
        for item in (scope or "").split():
            seen.setdefault(item, None)
    return " ".join(seen)


def should_refresh(error: str | None) -> bool:
    """Whether a 401 asks for a new token (RFC 6750 §3.1).

    Yes for ``invalid_token`` and for no error code; also for a word that is not an OAuth code
    (``{"error": "unauthorized"}``). No for an OAuth code with another fix (``invalid_client``,
    ``insufficient_user_authentication``, ``use_dpop_nonce``): a new token would not help.
    """
    entry = catalog.oauth(error)
    return entry is None or entry.remedy is Remedy.REFRESH
