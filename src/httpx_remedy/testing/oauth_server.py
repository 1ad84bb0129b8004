"""A real OAuth 2.0 authorization server and protected API on 127.0.0.1, for tests and demos.

Built from authlib's own server components (``AuthorizationServer``, ``ClientCredentialsGrant``,
``RefreshTokenGrant``, ``JWTBearerClientAssertion``, ``ResourceProtector`` with a
``BearerTokenValidator``), served by werkzeug over real sockets in a daemon thread, with the
state in memory. This module is loaded only when used (``httpx_remedy.testing`` loads it on the
first access to :class:`OAuthServer`), and Flask only when a server starts: it comes with the
``demo`` extra, and without it :meth:`OAuthServer.start` says so::

    with OAuthServer() as server:
        server.add_client("app", "s3cret", scope="read write")
        creds = ClientCredentials(server.token_url, "app", "s3cret", scope="read")
        with httpx.Client(transport=RemedyTransport(credentials=creds)) as client:
            client.get(server.url + "/api/items")

Endpoints:

- ``POST /oauth/token``: the token endpoint (RFC 6749): ``client_credentials``,
  ``refresh_token`` and device code (RFC 8628) grants; client authentication
  ``client_secret_basic``, ``client_secret_post``, ``client_secret_jwt``, ``private_key_jwt``
  (RFC 7523) and ``none`` (a public client), each client with the one method it was registered
  with. Refresh tokens rotate unless ``rotate_refresh_tokens=False``. A request with a DPoP
  proof (RFC 9449) gets a DPoP-bound token (and, for a public client, a bound refresh token).
- ``POST /oauth/device``: the device authorization endpoint (RFC 8628); the test plays the user
  with :meth:`OAuthServer.approve` / :meth:`~OAuthServer.deny`. Polls faster than the interval
  are answered ``slow_down``.
- ``GET /api/items`` (scope ``read``): a JSON list. ``POST /api/items`` (scope ``write``): echoes
  the body. ``GET /api/admin`` (scope ``admin``). Each answers real RFC 6750 challenges:
  ``401`` with ``WWW-Authenticate: Bearer realm="api"`` without a token, ``401 ... error=
  "invalid_token"`` for an unknown, expired or revoked one, ``403 ... error=
  "insufficient_scope", scope="..."`` when the scope is missing; a DPoP-bound token needs
  ``Authorization: DPoP`` and a proof by its key (``WWW-Authenticate: DPoP error=...``).
- DPoP proofs are checked as RFC 9449 §4.3 says (``testing._server_dpop``); with
  ``dpop_nonce=True`` they must carry the server's nonce (``use_dpop_nonce`` and a
  ``DPoP-Nonce`` header otherwise; a 2xx announces the next nonce), which
  :meth:`~OAuthServer.rotate_dpop_nonce` changes.
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

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from authlib.common.security import generate_token

from ._server_app import answer_error, build_app, client_of
from ._server_device import DEVICE_PATH, DeviceLogins
from ._server_dpop import DPoPChecker
from ._server_parts import (
    AUTH_METHODS,
    GRANT_TYPES,
    TOKEN_PATH,
    Client,
    Failure,
    IssuedToken,
    import_public_key,
)

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

#: What starting the server says without the ``demo`` extra (the ``demo`` command says it too).
NEEDS_DEMO_EXTRA = "needs the demo extra: pip install 'httpx-remedy[demo]'"


def require_demo_extra(who: str) -> None:
    """Raise ``ModuleNotFoundError`` saying that ``who`` needs the ``demo`` extra when Flask (or
    the Werkzeug it brings) is not installed."""
    try:
        import flask  # noqa: F401
        import werkzeug.serving  # noqa: F401
    except ImportError as error:
        raise ModuleNotFoundError(f"{who} {NEEDS_DEMO_EXTRA}", name=error.name) from error


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
    #: Whether the request carried a DPoP proof.
    dpop: bool = False


@dataclass(frozen=True)
class ApiCall:
    """One request to ``/api/...``: path, whether it carried ``Authorization``, the status."""

    method: str
    path: str
    authorization: bool
    status: int
    #: The OAuth ``error`` code of the answer (challenge or JSON body), if any.
    error: str | None = None
    #: The ``Authorization`` scheme (``Bearer``, ``DPoP``), if any.
    scheme: str | None = None


class OAuthServer(DeviceLogins):
    """An OAuth 2.0 authorization server and a protected API on ``127.0.0.1``, on a free port.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. Thread-safe.

    Args:
        expires_in: the lifetime in seconds of the access tokens the token endpoint issues.
        rotate_refresh_tokens: a refresh answers with a new refresh token and revokes the old
            one (default); False answers without one and the old one stays valid.
        grant_types: the grants the token endpoint supports; any other is
            ``unsupported_grant_type``.
        device_interval: the polling interval the device authorization endpoint advertises.
        device_expires_in: the lifetime in seconds of its device codes.
        dpop_nonce: DPoP proofs must carry the server's nonce (RFC 9449 §8, §9).
    """

    def __init__(
        self,
        *,
        expires_in: int = 3600,
        rotate_refresh_tokens: bool = True,
        grant_types: Iterable[str] = GRANT_TYPES,
        device_interval: int = 5,
        device_expires_in: int = 600,
        dpop_nonce: bool = False,
    ) -> None:
        self.expires_in = int(expires_in)
        self.rotate_refresh_tokens = bool(rotate_refresh_tokens)
        self.grant_types = frozenset(grant_types)
        unknown = self.grant_types - set(GRANT_TYPES)
        if unknown:
            raise ValueError(f"unsupported grant types {sorted(unknown)}: use {GRANT_TYPES}")
        self.device_interval = int(device_interval)
        self.device_expires_in = int(device_expires_in)
        self._dpop = DPoPChecker(require_nonce=bool(dpop_nonce))
        self._lock = threading.RLock()
        self._logins = {}
        self._clients: dict[str, Client] = {}
        self._access: dict[str, IssuedToken] = {}
        self._refresh: dict[str, IssuedToken] = {}
        self._jtis: set[str] = set()
        self._reject_new = False
        self._token_failures: deque[Failure] = deque()
        self._api_failures: deque[Failure] = deque()
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
        """Start serving (once); returns the server. ``ModuleNotFoundError`` without the
        ``demo`` extra (Flask)."""
        with self._lock:
            if self._httpd is not None:
                return self
            require_demo_extra("OAuthServer")
            from werkzeug.serving import WSGIRequestHandler, make_server

            class QuietHandler(WSGIRequestHandler):
                protocol_version = "HTTP/1.1"

                def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                    pass

            app = build_app(self)
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

    @property
    def device_authorization_url(self) -> str:
        """The device authorization endpoint's URL (RFC 8628)."""
        return self.url + DEVICE_PATH

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
        14 bytes (HMAC keys shorter than 112 bits draw a SecurityWarning); a public client
        (``none``, a command-line tool's) has no secret."""
        if auth_method not in AUTH_METHODS:
            raise ValueError(f"unknown auth_method {auth_method!r}: use one of {AUTH_METHODS}")
        key = None
        if auth_method == "private_key_jwt":
            if public_key is None:
                raise ValueError("a private_key_jwt client needs its public_key")
            key = import_public_key(public_key)
        elif not client_secret and auth_method != "none":
            raise ValueError(f"a {auth_method} client needs a client_secret")
        with self._lock:
            self._clients[client_id] = Client(
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

    def rotate_dpop_nonce(self) -> str:
        """A new DPoP nonce; the one before it is still accepted (a request on its way), and
        a 2xx to a proof carrying it announces the new one. Returns the new nonce."""
        return self._dpop.rotate()

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
            self._token_failures.extend(Failure(status, error, retry_after, body) for _ in range(n))

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
            self._api_failures.extend(Failure(status, error, retry_after, None) for _ in range(n))

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
        """Every client secret, access token, refresh token and device code this server knows:
        what must never show up in a client's logs, errors or reprs."""
        with self._lock:
            found = {c.client_secret for c in self._clients.values() if c.client_secret}
            found.update(self._access)
            found.update(self._refresh)
            found.update(login.device_code for login in self._logins.values())
            return found

    # -- storage (called by the authlib components, from the server's threads) -------------

    def _query_client(self, client_id: str) -> Client | None:
        with self._lock:
            return self._clients.get(client_id)

    def _save(self, token: Mapping[str, Any], client_id: str) -> None:
        refresh = token.get("refresh_token")
        record = IssuedToken(
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

    def _find_access(self, access_token: str) -> IssuedToken | None:
        with self._lock:
            return self._access.get(access_token)

    def _find_refresh(self, refresh_token: str) -> IssuedToken | None:
        with self._lock:
            token = self._refresh.get(refresh_token)
            return None if token is None or token.refresh_revoked else token

    def _revoke_refresh(self, token: IssuedToken) -> None:
        with self._lock:
            token.refresh_revoked = True

    def _use_jti(self, key: str) -> bool:
        with self._lock:
            if key in self._jtis:
                return False
            self._jtis.add(key)
            return True

    def _expires_in(self, client: Client, grant_type: str) -> int:
        return self.expires_in

    def _take(self, queue: deque[Failure]) -> Failure | None:
        with self._lock:
            return queue.popleft() if queue else None

    # -- the WSGI app ----------------------------------------------------------------------

    def _record(self, request: Any, response: Any) -> None:
        path = request.path
        if path == TOKEN_PATH:
            form = request.form
            client_id, client_auth = client_of(request.headers.get("Authorization"), form)
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
                dpop="DPoP" in request.headers,
            )
            with self._lock:
                self._token_log.append(call)
            self._announce(call)
        elif path.startswith("/api/"):
            authorization = request.headers.get("Authorization")
            api = ApiCall(
                request.method,
                path,
                authorization is not None,
                response.status_code,
                answer_error(response),
                authorization.partition(" ")[0] if authorization else None,
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
