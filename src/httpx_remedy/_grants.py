"""The built-in OAuth 2.0 grants: the token request, client authentication, the token response.

The grants (:class:`ClientCredentials`, :class:`RefreshToken`) are sans-I/O: they build the
token request and read the token response, using authlib for the protocol pieces (request
encoding, client authentication, RFC 7523 JWT assertions). The flows send the request through
the transport the user's transport wraps, with the retry policy; each grant's
:class:`~._manager.TokenManager` decides when a new token is needed.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, quote

from ._classify import build_error, describe, error_scrubber
from ._dpop import DPoPKey
from ._exceptions import TokenResponseError
from ._http import Request, Response, buffered, new_request, stack_of
from ._manager import TokenManager
from ._policy import Attempt
from ._redact import REDACTED, basic_credentials, redact_url, without_credential_members
from ._store import Store
from ._token import (
    LEEWAY,
    Token,
    authorization_problem,
    require_secure,
    token_number,
    token_type_of,
)


def _authlib() -> tuple[Any, Callable[..., str]]:
    """authlib's ``ClientAuth`` and ``prepare_token_request``, imported on the first grant made:
    ``authlib.oauth2`` loads its server modules too, which a program that never fetches a
    token should not pay for at ``import httpx_remedy``."""
    with warnings.catch_warnings():
        # authlib installs process-wide warning filters when first imported; they must not
        # override the user's (-W error, say), so they leave with this block.
        from authlib.oauth2.auth import ClientAuth
        from authlib.oauth2.rfc6749.parameters import prepare_token_request
    return ClientAuth, prepare_token_request


#: The most bytes read from a token endpoint response.
MAX_TOKEN_BODY = 256 * 1024


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
        dpop: DPoPKey | None = None,
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
        # authlib first, under _authlib's warning guard: _auth_method imports more of it.
        client_auth, self._prepare_token_request = _authlib()
        method, key = _auth_method(auth_method, token_url, client_secret, private_key, jwt_alg)
        self._client_auth = client_auth(client_id, key, method)
        if dpop is not None and not isinstance(dpop, DPoPKey):
            raise TypeError(f"dpop must be a httpx_remedy.DPoPKey, not {dpop!r}")
        #: The key the token requests prove possession with (RFC 9449); None: Bearer tokens.
        self.dpop = dpop
        self.manager = TokenManager(self, dpop)

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
        return self.grant_request(self.grant_type, self._params(scope), stack)

    def grant_request(
        self, grant_type: str, params: Mapping[str, str], stack: ModuleType | None = None
    ) -> Request:
        """A token request for ``grant_type`` with ``params`` and the extra params."""
        body = self._prepare_token_request(grant_type, **{**self.extra_params, **params})
        return self.form_request(self.token_url, body, stack)

    def form_request(self, url: str, body: str, stack: ModuleType | None = None) -> Request:
        """A form POST of ``body`` to ``url`` (an endpoint of the authorization server), client
        authentication applied."""
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        url, headers, body = self._client_auth.prepare("POST", url, headers, body)
        return new_request(
            stack or stack_of(None), "POST", url, headers=headers, content=body.encode("utf-8")
        )

    def accept(self, data: Mapping[str, Any], wall_now: float | None = None) -> Mapping[str, Any]:
        """Take a new token response (``wall_now``: the transport's wall clock, when it
        answered); returns the token data to use."""
        return data

    def logs_in(self, scope: str | None) -> bool:
        """Whether a new token takes a login (a person's approval) rather than a token
        request: a :class:`DeviceCode` without a refresh token."""
        return False

    def adopt(self, data: Mapping[str, Any]) -> None:
        """Take a token another process fetched (from the shared store)."""

    @property
    def shared_key(self) -> str:
        """The store key of these credentials' token: the token URL, client id and scope,
        hashed (never the secret); with a DPoP key, its public thumbprint too, so that only
        processes holding that same key share its tokens (a DPoP token is useless without it,
        and the key itself never goes to the store)."""
        named = f"{self.token_url}\n{self.client_id}\n{self.scope or ''}\n{self.share_as}"
        if self.dpop is not None:
            named += f"\n{self.dpop.thumbprint}"
        digest = hashlib.sha256(named.encode()).hexdigest()
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
        dpop: DPoPKey | None = None,
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
            dpop=dpop,
        )
        self._hold_pair(store, share_as, on_token)
        self.set_token(token, notify=False)

    def _hold_pair(
        self,
        store: Store | None,
        share_as: str | None,
        on_token: Callable[[dict[str, Any]], None] | None,
    ) -> None:
        """The state of a user's token pair: whose it is, who hears of a new one, the pair."""
        if store is not None and not share_as:
            raise ValueError(
                f"a {type(self).__name__} shared through a store needs share_as= (the user the "
                "token belongs to, e.g. their id): token URL and client id alone would mix users"
            )
        self.share_as = share_as or ""
        self.on_token = on_token
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {}

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

    def accept(self, data: Mapping[str, Any], wall_now: float | None = None) -> Mapping[str, Any]:
        with self._lock:
            merged = dict(data)
            lifetime = token_number(merged.get("expires_in"))
            if lifetime is not None and "expires_at" not in merged:
                # So that a pair persisted by on_token and restored later knows its age.
                now = time.time() if wall_now is None else wall_now
                merged["expires_at"] = int(now + lifetime)
            if not merged.get("refresh_token") and self._data.get("refresh_token"):
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
    proves: bool = False,
) -> dict[str, Any]:
    """The token JSON from a 2xx token endpoint response, or the typed error it really is.

    A 2xx whose body carries an OAuth ``error`` raises that code's class; a 2xx without an
    ``access_token``, or with one that cannot be sent (see :func:`authorization_problem`),
    raises :class:`TokenResponseError`, and so does a DPoP-bound token when the request did not
    prove possession of a key (``proves``): it could not be sent. Form-encoded bodies (some
    legacy servers) are accepted too. ``body_cut`` says which cap cut the body short, if one did.
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
        token_type = token_type_of(data.get("token_type"))
        problem = authorization_problem(data["access_token"], token_type)
        if problem is None and token_type == "DPoP" and not proves:
            problem = (
                "it is DPoP-bound (token_type=DPoP) and these credentials have no DPoP key to "
                "prove possession with: pass dpop=DPoPKey(...) to them (a DPoP token is never "
                "sent as a Bearer one)"
            )
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
        # One record, as every typed error has: the send whose answer this is.
        attempt = Attempt(
            1,
            1,
            request.method,
            redact_url(request.url),
            response.status_code,
            details.error,
            0.0,
            "raise",
            note=f"the token endpoint answered {response.status_code} with an OAuth error",
        )
        raise build_error(
            request,
            buffered(response, body, request),
            details,
            attempts=(attempt,),
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
