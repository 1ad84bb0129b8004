"""The OAuth server's WSGI app (Flask, from the ``demo`` extra), and how a request to it is told
apart in the server's log."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from authlib.common.security import generate_token
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6750 import BearerTokenGenerator

from ._server_device import DEVICE_PATH, DeviceEndpoint, DeviceGrant
from ._server_dpop import ProofRejected
from ._server_parts import (
    ASSERTION_TYPE,
    DEVICE_GRANT,
    REALM,
    SCOPES,
    TOKEN_PATH,
    BearerValidator,
    ClientAssertion,
    ClientCredentialsGrantOf,
    Failure,
    IssuedToken,
    RefreshTokenGrantOf,
)

if TYPE_CHECKING:
    from flask import Flask
    from flask import Response as FlaskResponse

    from .oauth_server import OAuthServer


def build_app(rig: OAuthServer) -> Flask:
    """The WSGI app of ``rig``: the token endpoint, the protected API, the redirect."""
    from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
    from flask import Flask, Response, g, request
    from werkzeug.exceptions import HTTPException

    app = Flask(f"httpx_remedy.oauth_server.{id(rig)}")
    authz = AuthorizationServer(app, query_client=rig._query_client, save_token=rig._save_token)
    authz.rig = rig
    authz.scopes_supported = list(SCOPES)
    authz.register_token_generator(
        "default",
        BearerTokenGenerator(
            lambda **_: generate_token(42), lambda **_: generate_token(48), rig._expires_in
        ),
    )
    if "client_credentials" in rig.grant_types:
        authz.register_grant(ClientCredentialsGrantOf)
    if "refresh_token" in rig.grant_types:
        authz.register_grant(RefreshTokenGrantOf)
    if DEVICE_GRANT in rig.grant_types:
        authz.register_grant(DeviceGrant)
        authz.register_endpoint(DeviceEndpoint(authz, rig))
    for method in ("client_secret_jwt", "private_key_jwt"):
        authz.register_client_auth_method(method, ClientAssertion(rig, method))
    protector = ResourceProtector()
    protector.register_token_validator(BearerValidator(rig))

    def json_response(
        status: int, body: object, headers: Iterable[tuple[str, str]] = ()
    ) -> Response:
        out = Response(json.dumps(body), status=status, mimetype="application/json")
        for name, value in headers:
            if name.lower() != "content-type":
                out.headers.add(name, value)
        return out

    def failure_response(failure: Failure) -> Response:
        headers: list[tuple[str, str]] = [("Cache-Control", "no-store")]
        if failure.retry_after is not None:
            headers.append(("Retry-After", f"{failure.retry_after:g}"))
        if failure.body is not None or failure.error is None:
            phrase = status_phrase(failure.status)
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

    def guarded(scope: str, view: Callable[[IssuedToken], Response]) -> Callable[[], Response]:
        def endpoint() -> Response:
            failure = rig._take(rig._api_failures)
            if failure is not None:
                if failure.error is None:
                    problem = {
                        "type": "about:blank",
                        "title": status_phrase(failure.status),
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
            authorization = request.headers.get("Authorization")
            if not authorization:
                # RFC 6750 §3.1: no credentials, no error code.
                return json_response(
                    401,
                    {"message": "no access token"},
                    [("WWW-Authenticate", f'Bearer realm="{REALM}"')],
                )
            if authorization[:5].lower() == "dpop ":
                return proven(scope, view)
            try:
                token = protector.acquire_token([scope])
            except OAuth2Error as error:
                status, body, headers = error()
                return json_response(status, body, headers)
            if token.jkt is not None or "DPoP" in request.headers:
                # A DPoP-bound token sent as Bearer, or a Bearer one with a proof.
                refused = ProofRejected("invalid_token", "not a Bearer token")
                return dpop_refusal(401, refused, challenge=True)
            return view(token)

        endpoint.__name__ = f"api_{view.__name__}"
        return endpoint

    def dpop_refusal(status: int, error: ProofRejected, challenge: bool) -> Response:
        headers = [("Cache-Control", "no-store")]
        if error.error == "use_dpop_nonce":
            headers.append(("DPoP-Nonce", rig._dpop.nonce))
        if challenge:
            headers.append(("WWW-Authenticate", f'DPoP realm="{REALM}", error="{error.error}"'))
        body = {"error": error.error, "error_description": error.description}
        return json_response(status, body, headers)

    def announce_nonce(response: Response, claims: dict[str, Any]) -> Response:
        # The next nonce, on any answer to a proof that did not carry it (RFC 9449 §8.2).
        if rig._dpop.require_nonce and claims.get("nonce") != rig._dpop.nonce:
            response.headers["DPoP-Nonce"] = rig._dpop.nonce
        return response

    @app.post(TOKEN_PATH)
    def token() -> Response:
        failure = rig._take(rig._token_failures)
        if failure is not None:
            return failure_response(failure)
        proofs = request.headers.getlist("DPoP")
        checked = None
        if proofs:
            try:
                checked = rig._dpop.check(proofs, "POST", rig.token_url, time.time())
            except ProofRejected as error:
                return dpop_refusal(400, error, challenge=False)
            g.dpop_jkt = checked.jkt
        response: Response = authz.create_token_response()
        if checked is None:
            return response
        if response.status_code == 200:
            data = json.loads(response.get_data())
            data["token_type"] = "DPoP"
            bind(data["access_token"], checked.jkt)
            response.set_data(json.dumps(data))
        return announce_nonce(response, checked.claims)

    def bind(access_token: str, jkt: str) -> None:
        """The token just issued is bound to the DPoP key ``jkt``, and a public client's
        refresh token too (RFC 9449 §5)."""
        with rig._lock:
            record = rig._access[access_token]
            record.jkt = jkt
            client = rig._clients.get(record.client_id)
            if record.refresh_token and client is not None and client.auth_method == "none":
                record.refresh_jkt = jkt

    @app.post(DEVICE_PATH)
    def device_authorization() -> Response:
        response: Response = authz.create_endpoint_response("device_authorization")
        return response

    def proven(scope: str, view: Callable[[IssuedToken], Response]) -> Response:
        """A request with ``Authorization: DPoP``: the token, its proof, its key, its scope."""
        value = (request.headers.get("Authorization") or "").partition(" ")[2].strip()
        token = rig._find_access(value)
        if token is None or token.jkt is None or token.is_expired() or token.is_revoked():
            return dpop_refusal(401, ProofRejected("invalid_token", "unknown token"), True)
        try:
            checked = rig._dpop.check(
                request.headers.getlist("DPoP"), request.method, request.url, time.time(), value
            )
        except ProofRejected as error:
            return dpop_refusal(401, error, challenge=True)
        if checked.jkt != token.jkt:
            refused = ProofRejected("invalid_token", "the proof is by another key")
            return dpop_refusal(401, refused, challenge=True)
        if scope not in token.scope.split():
            challenge = f'DPoP realm="{REALM}", error="insufficient_scope", scope="{scope}"'
            body = {"error": "insufficient_scope"}
            return json_response(403, body, [("WWW-Authenticate", challenge)])
        return announce_nonce(view(token), checked.claims)

    def list_items(token: IssuedToken) -> Response:
        return json_response(
            200,
            {
                "items": [{"id": 1, "name": "apple"}, {"id": 2, "name": "pear"}],
                "scope": token.scope,
            },
        )

    def create_item(token: IssuedToken) -> Response:
        data = request.get_data()
        return json_response(
            201, {"received": data.decode("utf-8", "replace"), "length": len(data)}
        )

    def admin(token: IssuedToken) -> Response:
        return json_response(200, {"admin": True, "scope": token.scope})

    app.add_url_rule("/api/items", view_func=guarded("read", list_items), methods=["GET"])
    app.add_url_rule("/api/items", view_func=guarded("write", create_item), methods=["POST"])
    app.add_url_rule("/api/admin", view_func=guarded("admin", admin), methods=["GET"])

    @app.get("/api/echo-auth")
    def echo_auth() -> Response:
        header = request.headers.get("Authorization")
        scheme, _, value = (header or "").partition(" ")
        found = rig._find_access(value.strip()) if scheme.lower() == "bearer" else None
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
            json.dumps({"type": "about:blank", "title": status_phrase(status), "status": status}),
            status=status,
            mimetype="application/problem+json",
        )
        for name, value in error.get_headers():
            if name.lower() not in ("content-type", "content-length"):
                out.headers[name] = value
        return out

    @app.after_request
    def record(response: FlaskResponse) -> FlaskResponse:
        rig._record(request, response)
        return response

    return app


def answer_error(response: Any) -> str | None:
    """The OAuth error code an API answer carries, from its challenge or its JSON body."""
    from .._challenges import find_challenge, parse_www_authenticate

    challenge = find_challenge(
        parse_www_authenticate(response.headers.getlist("WWW-Authenticate")), "Bearer", "DPoP"
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


def client_of(authorization: str | None, form: Mapping[str, str]) -> tuple[str | None, str]:
    """The client id a token request names, and how it authenticates (no secret kept)."""
    if authorization and authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return None, "client_secret_basic"
        return unquote(decoded.partition(":")[0]) or None, "client_secret_basic"
    assertion = form.get("client_assertion")
    if form.get("client_assertion_type") == ASSERTION_TYPE and assertion:
        header, sub = peek_jwt(assertion)
        method = (
            "client_secret_jwt"
            if str(header.get("alg", "")).startswith("HS")
            else ("private_key_jwt")
        )
        return (form.get("client_id") or sub), method
    if form.get("client_secret"):
        return form.get("client_id"), "client_secret_post"
    return form.get("client_id"), "none"


def peek_jwt(token: str) -> tuple[dict[str, Any], str | None]:
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


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
