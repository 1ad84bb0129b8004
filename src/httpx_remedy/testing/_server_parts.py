"""The OAuth server's pieces built on authlib's server components: the registered client, the
issued token, the two grants, the RFC 6750 validator and the RFC 7523 client assertions."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant, RefreshTokenGrant
from authlib.oauth2.rfc6750 import BearerTokenValidator, InsufficientScopeError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion

if TYPE_CHECKING:
    from .oauth_server import OAuthServer

#: The client authentication methods the token endpoint accepts (each client uses its own);
#: ``none`` is a public client's (a command-line tool's): no client_credentials for it.
AUTH_METHODS = (
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "none",
)
#: The scopes the server knows; asking for any other is ``invalid_scope``.
SCOPES = ("read", "write", "admin")
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
#: The grants the token endpoint supports by default.
GRANT_TYPES = ("client_credentials", "refresh_token", DEVICE_GRANT)
REALM = "api"
TOKEN_PATH = "/oauth/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class Client:
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
        return endpoint not in ("token", "device_authorization") or method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class IssuedToken:
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
    #: The thumbprint of the DPoP key the token is bound to (RFC 9449 §6); None: Bearer.
    jkt: str | None = None
    #: The key a public client's refresh token is bound to (RFC 9449 §5); None: not bound.
    refresh_jkt: str | None = None

    def check_client(self, client: Client) -> bool:
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
class Failure:
    status: int
    error: str | None
    retry_after: float | None
    body: str | None


class ClientCredentialsGrantOf(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = [m for m in AUTH_METHODS if m != "none"]


class RefreshTokenGrantOf(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken | None:
        from flask import g

        rig: OAuthServer = self.server.rig
        found = rig._find_refresh(refresh_token)
        bound = found.refresh_jkt if found is not None else None
        if bound is not None and bound != g.get("dpop_jkt"):
            return None  # bound to a DPoP key: only a proof by that key refreshes it
        return found

    def authenticate_user(self, refresh_token: IssuedToken) -> str:
        return refresh_token.client_id

    def issue_token(self, user: str, refresh_token: IssuedToken) -> dict[str, Any]:
        rig: OAuthServer = self.server.rig
        scope = self.request.payload.scope or refresh_token.get_scope()
        token: dict[str, Any] = self.generate_token(
            user=user, scope=scope, include_refresh_token=rig.rotate_refresh_tokens
        )
        return token

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        rig: OAuthServer = self.server.rig
        if rig.rotate_refresh_tokens:
            rig._revoke_refresh(refresh_token)


class InsufficientScope(InsufficientScopeError):  # type: ignore[misc]
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


class BearerValidator(BearerTokenValidator):  # type: ignore[misc]
    def __init__(self, rig: OAuthServer) -> None:
        super().__init__(realm=REALM)
        self.rig = rig

    def authenticate_token(self, token_string: str) -> IssuedToken | None:
        return self.rig._find_access(token_string)

    def validate_token(
        self, token: IssuedToken | None, scopes: list[str] | None, request: Any
    ) -> None:
        try:
            super().validate_token(token, scopes, request)
        except InsufficientScopeError as error:
            raise InsufficientScope(" ".join(scopes or ())) from error


class ClientAssertion(JWTBearerClientAssertion):  # type: ignore[misc]
    """RFC 7523 client authentication, for the clients registered with ``method``."""

    def __init__(self, rig: OAuthServer, method: str) -> None:
        super().__init__()
        self.rig = rig
        self.method = method
        self.CLIENT_AUTH_METHOD = method

    def __call__(self, query_client: Callable[[str], Client | None], request: Any) -> Any:
        assertion = request.form.get("client_assertion")
        if request.form.get("client_assertion_type") != ASSERTION_TYPE or not assertion:
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

    def resolve_client_public_key(self, client: Client) -> Any:
        if client.auth_method == "client_secret_jwt":
            from joserfc.jwk import OctKey

            return OctKey.import_key(client.client_secret)
        return client.public_key


def import_public_key(data: str | bytes | Mapping[str, Any]) -> Any:
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
