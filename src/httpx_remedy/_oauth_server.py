"""A real OAuth 2.0 authorization server and protected API on 127.0.0.1, for tests and demos.

Built from authlib's own server components (``AuthorizationServer``, ``ClientCredentialsGrant``,
``RefreshTokenGrant``, ``JWTBearerClientAssertion``, ``ResourceProtector`` with a
``BearerTokenValidator``), served by werkzeug over real sockets in a daemon thread, with the
state in memory. Flask is imported only when a server starts (it is an optional extra)::

    with OAuthServer() as server:
        server.add_client("app", "s3cret", scope="read write")
        creds = ClientCredentials(server.token_url, "app", "s3cret", scope="read")
        with httpx.Client(transport=RemedyTransport(credentials=creds)) as client:
            client.get(server.url + "/api/items")

Endpoints:

- ``POST /oauth/token``: the token endpoint (RFC 6749): ``client_credentials`` and
  ``refresh_token`` grants; client authentication ``client_secret_basic``,
  ``client_secret_post``, ``client_secret_jwt`` and ``private_key_jwt`` (RFC 7523), each client
  with the one method it was registered with. Refresh tokens rotate unless
  ``rotate_refresh_tokens=False``.
- ``GET /api/items`` (scope ``read``): a JSON list. ``POST /api/items`` (scope ``write``): echoes
  the body. ``GET /api/admin`` (scope ``admin``). Each answers real RFC 6750 challenges:
  ``401`` with ``WWW-Authenticate: Bearer realm="api"`` without a token, ``401 ... error=
  "invalid_token"`` for an unknown, expired or revoked one, ``403 ... error=
  "insufficient_scope", scope="..."`` when the scope is missing.
- ``GET /api/echo-auth`` (unprotected): whether an ``Authorization`` header arrived, and whether
  it held a valid token (never the value itself).
- ``GET /redirect?to=URL``: ``302`` to ``URL``.

Knobs for tests: :meth:`OAuthServer.revoke_all`, :meth:`~OAuthServer.expire_all`,
:meth:`~OAuthServer.revoke_refresh_tokens`, :meth:`~OAuthServer.reject_new_tokens`,
:meth:`~OAuthServer.fail_next_token_requests`, :meth:`~OAuthServer.fail_next_api_requests`,
:meth:`~OAuthServer.issue_token` (mint a pair without HTTP); counters:
:attr:`~OAuthServer.token_requests`, :attr:`~OAuthServer.api_requests`, with a record of each
call in :attr:`~OAuthServer.token_log` and :attr:`~OAuthServer.api_log`; and
:meth:`~OAuthServer.secrets`, every secret value the server knows, for leak checks.

Not a production server: no TLS, no persistence, no authorization endpoint, no rate limits.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from authlib.common.security import generate_token
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant, RefreshTokenGrant
from authlib.oauth2.rfc6750 import (
    BearerTokenGenerator,
    BearerTokenValidator,
    InsufficientScopeError,
)
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion

if TYPE_CHECKING:
    from flask import Flask
    from flask import Response as FlaskResponse
    from werkzeug.serving import BaseWSGIServer

__all__ = ["ApiCall", "OAuthServer", "TokenCall"]

#: The client authentication methods the token endpoint accepts (each client uses its own).
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt")
#: The scopes the server knows; asking for any other is ``invalid_scope``.
SCOPES = ("read", "write", "admin")
#: The grants the token endpoint supports by default.
GRANT_TYPES = ("client_credentials", "refresh_token")
REALM = "api"
TOKEN_PATH = "/oauth/token"
_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class TokenCall:
    """One request to the token endpoint, as the server saw it (no secret values)."""

    grant_type: str | None
    client_id: str | None
    scope: str | None
    #: How the client authenticated: ``client_secret_basic``, ``client_secret_post``,
    #: ``client_secret_jwt``, ``private_key_jwt`` (by the assertion's algorithm) or ``none``.
    client_auth: str
    status: int
    #: The OAuth ``error`` code of the answer, if any.
    error: str | None


@dataclass(frozen=True)
class ApiCall:
    """One request to ``/api/...``: path, whether it carried ``Authorization``, the status."""

    method: str
    path: str
    authorization: bool
    status: int
    #: The OAuth ``error`` code of the answer (challenge or JSON body), if any.
    error: str | None = None


@dataclass
class _Client:
    """A registered client (authlib's ``ClientMixin``)."""

    client_id: str
    client_secret: str
    scope: str
    auth_method: str
    grant_types: frozenset[str]
    public_key: Any = None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        # No scope asked for: the client's whole scope. Otherwise the part of it that was asked
        # for (RFC 6749 §3.3 lets the server issue less than requested).
        if not scope:
            return self.scope
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(self.client_secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint != "token" or method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class _Token:
    """An issued token pair (authlib's ``TokenMixin``)."""

    access_token: str
    client_id: str
    scope: str
    issued_at: float
    expires_in: int
    refresh_token: str | None = None
    revoked: bool = False
    expired: bool = False
    refused: bool = False
    refresh_revoked: bool = False

    def check_client(self, client: _Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return self.expired or (
            self.expires_in > 0 and time.time() >= self.issued_at + self.expires_in
        )

    def is_revoked(self) -> bool:
        return self.revoked or self.refused

    def get_user(self) -> str:
        return self.client_id

    def get_client_id(self) -> str:
        return self.client_id


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: float | None
    body: str | None


class _ClientCredentialsGrant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)


class _RefreshTokenGrant(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def authenticate_refresh_token(self, refresh_token: str) -> _Token | None:
        rig: OAuthServer = self.server.rig
        return rig._find_refresh(refresh_token)

    def authenticate_user(self, refresh_token: _Token) -> str:
        return refresh_token.client_id

    def issue_token(self, user: str, refresh_token: _Token) -> dict[str, Any]:
        rig: OAuthServer = self.server.rig
        scope = self.request.payload.scope or refresh_token.get_scope()
        token: dict[str, Any] = self.generate_token(
            user=user, scope=scope, include_refresh_token=rig.rotate_refresh_tokens
        )
        return token

    def revoke_old_credential(self, refresh_token: _Token) -> None:
        rig: OAuthServer = self.server.rig
        if rig.rotate_refresh_tokens:
            rig._revoke_refresh(refresh_token)


class _InsufficientScope(InsufficientScopeError):  # type: ignore[misc]
    """authlib's ``insufficient_scope``, with the RFC 6750 §3 challenge naming the scope."""

    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        headers.append(
            (
                "WWW-Authenticate",
                f'Bearer realm="{REALM}", error="{self.error}", '
                f'error_description="{self.get_error_description()}", scope="{self.scope}"',
            )
        )
        return headers


class _BearerValidator(BearerTokenValidator):  # type: ignore[misc]
    def __init__(self, rig: OAuthServer) -> None:
        super().__init__(realm=REALM)
        self.rig = rig

    def authenticate_token(self, token_string: str) -> _Token | None:
        return self.rig._find_access(token_string)

    def validate_token(self, token: _Token | None, scopes: list[str] | None, request: Any) -> None:
        try:
            super().validate_token(token, scopes, request)
        except InsufficientScopeError as error:
            raise _InsufficientScope(" ".join(scopes or ())) from error


class _ClientAssertion(JWTBearerClientAssertion):  # type: ignore[misc]
    """RFC 7523 client authentication, for the clients registered with ``method``."""

    def __init__(self, rig: OAuthServer, method: str) -> None:
        super().__init__()
        self.rig = rig
        self.method = method
        self.CLIENT_AUTH_METHOD = method

    def __call__(self, query_client: Callable[[str], _Client | None], request: Any) -> Any:
        assertion = request.form.get("client_assertion")
        if request.form.get("client_assertion_type") != _ASSERTION_TYPE or not assertion:
            return None
        _, claims = self.extract_assertion(assertion)
        subject = claims.get("sub")
        client = query_client(subject) if isinstance(subject, str) else None
        if client is not None and client.auth_method != self.method:
            return None  # the other assertion method's client
        return super().__call__(query_client, request)

    def get_audiences(self) -> list[str]:
        return [self.rig.token_url, self.rig.url]

    def validate_jti(self, claims: Mapping[str, Any], jti: str) -> bool:
        return self.rig._use_jti(f"{claims.get('sub')}:{jti}")

    def resolve_client_public_key(self, client: _Client) -> Any:
        if client.auth_method == "client_secret_jwt":
            from joserfc.jwk import OctKey

            return OctKey.import_key(client.client_secret)
        return client.public_key


class OAuthServer:
    """An OAuth 2.0 authorization server and a protected API on ``127.0.0.1``, on a free port.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. Thread-safe.

    Args:
        expires_in: the lifetime in seconds of the access tokens the token endpoint issues.
        rotate_refresh_tokens: a refresh answers with a new refresh token and revokes the old
            one (default); False answers without one and the old one stays valid.
        grant_types: the grants the token endpoint supports; any other is
            ``unsupported_grant_type``.
    """

    def __init__(
        self,
        *,
        expires_in: int = 3600,
        rotate_refresh_tokens: bool = True,
        grant_types: Iterable[str] = GRANT_TYPES,
    ) -> None:
        self.expires_in = int(expires_in)
        self.rotate_refresh_tokens = bool(rotate_refresh_tokens)
        self.grant_types = frozenset(grant_types)
        unknown = self.grant_types - set(GRANT_TYPES)
        if unknown:
            raise ValueError(f"unsupported grant types {sorted(unknown)}: use {GRANT_TYPES}")
        self._lock = threading.RLock()
        self._clients: dict[str, _Client] = {}
        self._access: dict[str, _Token] = {}
        self._refresh: dict[str, _Token] = {}
        self._jtis: set[str] = set()
        self._reject_new = False
        self._token_failures: deque[_Failure] = deque()
        self._api_failures: deque[_Failure] = deque()
        self._token_log: list[TokenCall] = []
        self._api_log: list[ApiCall] = []
        #: Called with each :class:`TokenCall` / :class:`ApiCall` as it is recorded (from the
        #: server's thread), e.g. to print a timeline.
        self.on_call: Callable[[TokenCall | ApiCall], None] | None = None
        self._httpd: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> OAuthServer:
        """Start serving (once); returns the server."""
        with self._lock:
            if self._httpd is not None:
                return self
            from werkzeug.serving import WSGIRequestHandler, make_server

            class QuietHandler(WSGIRequestHandler):
                protocol_version = "HTTP/1.1"

                def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                    pass

            app = self._build_app()
            httpd = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
            self._port = int(httpd.server_port)
            self._httpd = httpd
            self._thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.01},
                name=f"OAuthServer:{self._port}",
                daemon=True,
            )
            self._thread.start()
            return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        with self._lock:
            httpd, thread = self._httpd, self._thread
            self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> OAuthServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._httpd is not None else "stopped"
        return f"<OAuthServer {where}>"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if not self._port:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def token_url(self) -> str:
        """The token endpoint's URL."""
        return self.url + TOKEN_PATH

    # -- clients and tokens ----------------------------------------------------------------

    def add_client(
        self,
        client_id: str,
        client_secret: str = "",
        scope: str = "read write",
        auth_method: str = "client_secret_basic",
        *,
        grant_types: Iterable[str] = GRANT_TYPES,
        public_key: str | bytes | Mapping[str, Any] | None = None,
    ) -> None:
        """Register a client that authenticates with ``auth_method`` only, may ask for
        ``scope`` (space-separated) and use ``grant_types``. ``private_key_jwt`` clients pass
        their ``public_key`` (PEM or JWK); ``client_secret_jwt`` secrets should be at least
        14 bytes (HMAC keys shorter than 112 bits draw a SecurityWarning)."""
        if auth_method not in AUTH_METHODS:
            raise ValueError(f"unknown auth_method {auth_method!r}: use one of {AUTH_METHODS}")
        key = None
        if auth_method == "private_key_jwt":
            if public_key is None:
                raise ValueError("a private_key_jwt client needs its public_key")
            key = _public_key(public_key)
        elif not client_secret:
            raise ValueError(f"a {auth_method} client needs a client_secret")
        with self._lock:
            self._clients[client_id] = _Client(
                client_id,
                client_secret,
                " ".join(scope.split()),
                auth_method,
                frozenset(grant_types),
                key,
            )

    def issue_token(
        self,
        client_id: str,
        scope: str = "read write",
        expires_in: int | None = None,
        with_refresh: bool = True,
    ) -> dict[str, Any]:
        """Mint a token pair for ``client_id`` directly (no HTTP): the token endpoint's JSON,
        as a client would have stored it. For the refresh-token grant's tests."""
        with self._lock:
            if client_id not in self._clients:
                raise KeyError(f"no client {client_id!r}; add_client() first")
        lifetime = self.expires_in if expires_in is None else int(expires_in)
        data: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": generate_token(42),
            "expires_in": lifetime,
            "scope": " ".join(scope.split()),
        }
        if with_refresh:
            data["refresh_token"] = generate_token(48)
        self._save(data, client_id)
        return data

    def revoke_all(self) -> None:
        """Every access token issued so far becomes invalid (``invalid_token``)."""
        with self._lock:
            for token in self._access.values():
                token.revoked = True

    def expire_all(self) -> None:
        """Every access token issued so far is treated as expired (``invalid_token``)."""
        with self._lock:
            for token in self._access.values():
                token.expired = True

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token issued so far is revoked (a refresh gets ``invalid_grant``)."""
        with self._lock:
            for token in self._refresh.values():
                token.refresh_revoked = True

    def reject_new_tokens(self, flag: bool) -> None:
        """While on, the API refuses every access token minted from then on (they are issued
        normally, then answered with ``invalid_token``): a client must not loop on them."""
        with self._lock:
            self._reject_new = bool(flag)

    def fail_next_token_requests(
        self,
        n: int,
        status: int = 503,
        error: str | None = "temporarily_unavailable",
        retry_after: float | None = None,
        *,
        body: str | None = None,
    ) -> None:
        """Answer the next ``n`` token requests with ``status`` instead of a token.

        The body is the RFC 6749 §5.2 JSON for ``error``, or ``body`` as ``text/html`` when
        given, or an HTML error page when ``error`` is None. Calls queue up in order, so
        ``fail_next_token_requests(1, 200, None, body="<html>")`` after another one scripts a
        sequence.
        """
        with self._lock:
            self._token_failures.extend(
                _Failure(status, error, retry_after, body) for _ in range(n)
            )

    def fail_next_api_requests(
        self,
        n: int,
        status: int = 429,
        retry_after: float | None = None,
        *,
        error: str | None = None,
    ) -> None:
        """Answer the next ``n`` requests to ``/api/items`` and ``/api/admin`` with ``status``
        (an RFC 9457 problem body, or the OAuth ``error`` JSON) before checking the token."""
        with self._lock:
            self._api_failures.extend(_Failure(status, error, retry_after, None) for _ in range(n))

    # -- counters --------------------------------------------------------------------------

    @property
    def token_requests(self) -> int:
        """How many requests reached the token endpoint."""
        with self._lock:
            return len(self._token_log)

    @property
    def token_log(self) -> list[TokenCall]:
        """One record per token endpoint request, oldest first."""
        with self._lock:
            return list(self._token_log)

    @property
    def api_requests(self) -> int:
        """How many requests reached ``/api/...``."""
        with self._lock:
            return len(self._api_log)

    @property
    def api_log(self) -> list[ApiCall]:
        """One record per ``/api/...`` request, oldest first."""
        with self._lock:
            return list(self._api_log)

    def secrets(self) -> set[str]:
        """Every client secret, access token and refresh token this server knows: what must
        never show up in a client's logs, errors or reprs."""
        with self._lock:
            found = {c.client_secret for c in self._clients.values() if c.client_secret}
            found.update(self._access)
            found.update(self._refresh)
            return found

    # -- storage (called by the authlib components, from the server's threads) -------------

    def _query_client(self, client_id: str) -> _Client | None:
        with self._lock:
            return self._clients.get(client_id)

    def _save(self, token: Mapping[str, Any], client_id: str) -> None:
        refresh = token.get("refresh_token")
        record = _Token(
            access_token=str(token["access_token"]),
            client_id=client_id,
            scope=str(token.get("scope") or ""),
            issued_at=time.time(),
            expires_in=int(token.get("expires_in") or 0),
            refresh_token=refresh if isinstance(refresh, str) else None,
        )
        with self._lock:
            record.refused = self._reject_new
            self._access[record.access_token] = record
            if record.refresh_token is not None:
                self._refresh[record.refresh_token] = record

    def _save_token(self, token: Mapping[str, Any], request: Any) -> None:
        self._save(token, request.client.client_id)

    def _find_access(self, access_token: str) -> _Token | None:
        with self._lock:
            return self._access.get(access_token)

    def _find_refresh(self, refresh_token: str) -> _Token | None:
        with self._lock:
            token = self._refresh.get(refresh_token)
            return None if token is None or token.refresh_revoked else token

    def _revoke_refresh(self, token: _Token) -> None:
        with self._lock:
            token.refresh_revoked = True

    def _use_jti(self, key: str) -> bool:
        with self._lock:
            if key in self._jtis:
                return False
            self._jtis.add(key)
            return True

    def _expires_in(self, client: _Client, grant_type: str) -> int:
        return self.expires_in

    def _take(self, queue: deque[_Failure]) -> _Failure | None:
        with self._lock:
            return queue.popleft() if queue else None

    # -- the WSGI app ----------------------------------------------------------------------

    def _build_app(self) -> Flask:
        from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
        from flask import Flask, Response, request
        from werkzeug.exceptions import HTTPException

        app = Flask(f"httpx_remedy.oauth_server.{id(self)}")
        authz = AuthorizationServer(
            app, query_client=self._query_client, save_token=self._save_token
        )
        authz.rig = self
        authz.scopes_supported = list(SCOPES)
        authz.register_token_generator(
            "default",
            BearerTokenGenerator(
                lambda **_: generate_token(42), lambda **_: generate_token(48), self._expires_in
            ),
        )
        if "client_credentials" in self.grant_types:
            authz.register_grant(_ClientCredentialsGrant)
        if "refresh_token" in self.grant_types:
            authz.register_grant(_RefreshTokenGrant)
        for method in ("client_secret_jwt", "private_key_jwt"):
            authz.register_client_auth_method(method, _ClientAssertion(self, method))
        protector = ResourceProtector()
        protector.register_token_validator(_BearerValidator(self))

        def json_response(
            status: int, body: object, headers: Iterable[tuple[str, str]] = ()
        ) -> Response:
            out = Response(json.dumps(body), status=status, mimetype="application/json")
            for name, value in headers:
                if name.lower() != "content-type":
                    out.headers.add(name, value)
            return out

        def failure_response(failure: _Failure) -> Response:
            headers: list[tuple[str, str]] = [("Cache-Control", "no-store")]
            if failure.retry_after is not None:
                headers.append(("Retry-After", f"{failure.retry_after:g}"))
            if failure.body is not None or failure.error is None:
                phrase = _phrase(failure.status)
                page = failure.body
                if page is None:
                    page = (
                        f"<!doctype html><html><head><title>{failure.status} {phrase}</title>"
                        f"</head><body><h1>{phrase}</h1><p>nginx</p></body></html>"
                    )
                out = Response(page, status=failure.status, mimetype="text/html")
                for name, value in headers:
                    out.headers.add(name, value)
                return out
            body = {"error": failure.error, "error_description": "injected by the test rig"}
            return json_response(failure.status, body, headers)

        def guarded(scope: str, view: Callable[[_Token], Response]) -> Callable[[], Response]:
            def endpoint() -> Response:
                failure = self._take(self._api_failures)
                if failure is not None:
                    if failure.error is None:
                        problem = {
                            "type": "about:blank",
                            "title": _phrase(failure.status),
                            "status": failure.status,
                            "detail": "injected by the test rig",
                        }
                        extra = []
                        if failure.retry_after is not None:
                            extra.append(("Retry-After", f"{failure.retry_after:g}"))
                        out = json_response(failure.status, problem, extra)
                        out.mimetype = "application/problem+json"
                        return out
                    return failure_response(failure)
                if not request.headers.get("Authorization"):
                    # RFC 6750 §3.1: no credentials, no error code.
                    return json_response(
                        401,
                        {"message": "no access token"},
                        [("WWW-Authenticate", f'Bearer realm="{REALM}"')],
                    )
                try:
                    token = protector.acquire_token([scope])
                except OAuth2Error as error:
                    status, body, headers = error()
                    return json_response(status, body, headers)
                return view(token)

            endpoint.__name__ = f"api_{view.__name__}"
            return endpoint

        @app.post(TOKEN_PATH)
        def token() -> Response:
            failure = self._take(self._token_failures)
            if failure is not None:
                return failure_response(failure)
            response: Response = authz.create_token_response()
            return response

        def list_items(token: _Token) -> Response:
            return json_response(
                200,
                {
                    "items": [{"id": 1, "name": "apple"}, {"id": 2, "name": "pear"}],
                    "scope": token.scope,
                },
            )

        def create_item(token: _Token) -> Response:
            data = request.get_data()
            return json_response(
                201, {"received": data.decode("utf-8", "replace"), "length": len(data)}
            )

        def admin(token: _Token) -> Response:
            return json_response(200, {"admin": True, "scope": token.scope})

        app.add_url_rule("/api/items", view_func=guarded("read", list_items), methods=["GET"])
        app.add_url_rule("/api/items", view_func=guarded("write", create_item), methods=["POST"])
        app.add_url_rule("/api/admin", view_func=guarded("admin", admin), methods=["GET"])

        @app.get("/api/echo-auth")
        def echo_auth() -> Response:
            header = request.headers.get("Authorization")
            scheme, _, value = (header or "").partition(" ")
            found = self._find_access(value.strip()) if scheme.lower() == "bearer" else None
            valid = found is not None and not found.is_expired() and not found.is_revoked()
            return json_response(
                200,
                {
                    "authorization": header is not None,
                    "scheme": scheme or None,
                    "valid_token": valid,
                },
            )

        @app.get("/redirect")
        def redirect() -> Response:
            target = request.args.get("to", "/api/echo-auth")
            status = int(request.args.get("status", "302"))
            return Response("", status=status, headers={"Location": target})

        @app.errorhandler(HTTPException)
        def http_error(error: HTTPException) -> Response:
            # A problem body, not an OAuth one: these are plain HTTP errors. The headers werkzeug
            # chose (Allow on a 405, RFC 9110 §15.5.6) are kept.
            status = error.code or 500
            out = Response(
                json.dumps({"type": "about:blank", "title": _phrase(status), "status": status}),
                status=status,
                mimetype="application/problem+json",
            )
            for name, value in error.get_headers():
                if name.lower() not in ("content-type", "content-length"):
                    out.headers[name] = value
            return out

        @app.after_request
        def record(response: FlaskResponse) -> FlaskResponse:
            self._record(request, response)
            return response

        return app

    def _record(self, request: Any, response: Any) -> None:
        path = request.path
        if path == TOKEN_PATH:
            form = request.form
            client_id, client_auth = _client_of(request.headers.get("Authorization"), form)
            error = None
            if response.status_code >= 400 or response.mimetype == "application/json":
                try:
                    data = json.loads(response.get_data())
                except ValueError:
                    data = None
                if isinstance(data, dict) and isinstance(data.get("error"), str):
                    error = data["error"]
            call = TokenCall(
                form.get("grant_type"),
                client_id,
                form.get("scope"),
                client_auth,
                response.status_code,
                error,
            )
            with self._lock:
                self._token_log.append(call)
            self._announce(call)
        elif path.startswith("/api/"):
            api = ApiCall(
                request.method,
                path,
                request.headers.get("Authorization") is not None,
                response.status_code,
                _answer_error(response),
            )
            with self._lock:
                self._api_log.append(api)
            self._announce(api)

    def _announce(self, call: TokenCall | ApiCall) -> None:
        hook = self.on_call
        if hook is not None:
            hook(call)

    def clear_failures(self) -> None:
        """Forget the failures queued by ``fail_next_*_requests`` that have not happened yet."""
        with self._lock:
            self._token_failures.clear()
            self._api_failures.clear()


def _answer_error(response: Any) -> str | None:
    """The OAuth error code an API answer carries, from its challenge or its JSON body."""
    from ._challenges import find_challenge, parse_www_authenticate

    challenge = find_challenge(
        parse_www_authenticate(response.headers.getlist("WWW-Authenticate")), "Bearer"
    )
    if challenge is not None and challenge.param("error"):
        return challenge.param("error")
    if response.status_code >= 400 and response.mimetype == "application/json":
        try:
            data = json.loads(response.get_data())
        except ValueError:
            return None
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            return str(data["error"])
    return None


def _client_of(authorization: str | None, form: Mapping[str, str]) -> tuple[str | None, str]:
    """The client id a token request names, and how it authenticates (no secret kept)."""
    if authorization and authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return None, "client_secret_basic"
        return unquote(decoded.partition(":")[0]) or None, "client_secret_basic"
    assertion = form.get("client_assertion")
    if form.get("client_assertion_type") == _ASSERTION_TYPE and assertion:
        header, sub = _peek_jwt(assertion)
        method = (
            "client_secret_jwt"
            if str(header.get("alg", "")).startswith("HS")
            else ("private_key_jwt")
        )
        return (form.get("client_id") or sub), method
    if form.get("client_secret"):
        return form.get("client_id"), "client_secret_post"
    return form.get("client_id"), "none"


def _public_key(data: str | bytes | Mapping[str, Any]) -> Any:
    """A joserfc key from a PEM or a JWK (RSA, EC or OKP)."""
    from joserfc.jwk import ECKey, OKPKey, RSAKey

    kinds: dict[str, type[RSAKey | ECKey | OKPKey]] = {"RSA": RSAKey, "EC": ECKey, "OKP": OKPKey}
    if isinstance(data, Mapping):
        kind = kinds.get(str(data.get("kty")))
        if kind is None:
            raise ValueError("public_key must be an RSA, EC or OKP key")
        return kind.import_key(dict(data))
    for kind in kinds.values():
        try:
            return kind.import_key(data)
        except Exception:
            continue
    raise ValueError("public_key must be an RSA, EC or OKP public key (PEM or JWK)")


def _peek_jwt(token: str) -> tuple[dict[str, Any], str | None]:
    """A JWT's header and ``sub``, unverified (for the log only)."""
    parts = token.split(".")
    out: list[Any] = []
    for part in parts[:2]:
        try:
            out.append(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))
        except ValueError:
            out.append({})
    header = out[0] if out and isinstance(out[0], dict) else {}
    claims = out[1] if len(out) > 1 and isinstance(out[1], dict) else {}
    sub = claims.get("sub")
    return header, sub if isinstance(sub, str) else None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
