"""Local stand-ins for the hosts the documentation's snippets name (``<!-- snippet:
standin=NAME -->``, see tests/docs_snippets.py and CONTRIBUTING.md).

A stand-in registers pytest-httpx responses for a provider's hosts, answering as that provider
documents (the token endpoint's form, its error bodies, its rate-limit headers), and may set
environment variables, put names in the snippet's namespace and add checks that run after it
(that the Auth0 ``audience`` reached the token endpoint, say). Requests reach no network.
"""

from __future__ import annotations

import json
import sys
import time
import types
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from httpx_remedy.testing import error_response


@dataclass
class Context:
    httpx_mock: HTTPXMock
    monkeypatch: pytest.MonkeyPatch
    tmp_path: Path
    request: pytest.FixtureRequest
    #: Names the snippet finds defined (hidden setup), kept few and named in the page's text.
    names: dict[str, Any] = field(default_factory=dict)
    #: Run after the snippet: what the stand-in saw.
    checks: list[Callable[[], None]] = field(default_factory=list)


STANDINS: dict[str, Callable[[Context], None]] = {}


def standin(function: Callable[[Context], None]) -> Callable[[Context], None]:
    STANDINS[function.__name__.replace("_", "-")] = function
    return function


def form(request: httpx.Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.content.decode()))


def token_answer(
    seen: list[dict[str, str]] | None = None,
    token_type: str = "Bearer",
    expires_in: int = 3600,
    check: Callable[[dict[str, str]], None] | None = None,
) -> Callable[[httpx.Request], httpx.Response]:
    """A token endpoint: records each request's form, answers a fresh token."""
    count = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        fields = form(request)
        if seen is not None:
            seen.append(fields)
        if check is not None:
            check(fields)
        body = {"access_token": f"at-{count}", "token_type": token_type, "expires_in": expires_in}
        if fields.get("grant_type") == "refresh_token":
            body["refresh_token"] = f"rt-{count}"
        return httpx.Response(200, json=body)

    return answer


def api_answer(payload: Any = None, *, needs_token: bool = True) -> Callable[..., httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        if needs_token and "authorization" not in request.headers:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="api"'})
        return httpx.Response(200, json=payload if payload is not None else {"items": []})

    return answer


def always(ctx: Context, url: Any, answer: Callable[..., httpx.Response], **match: Any) -> None:
    ctx.httpx_mock.add_callback(answer, url=url, is_reusable=True, is_optional=True, **match)


@standin
def example(ctx: Context) -> None:
    """``auth.example.com`` (a token endpoint) and ``api.example.com`` (an API), answering 200."""
    import re

    always(ctx, re.compile(r"https://auth\.example\.com/.*"), token_answer(), method="POST")
    always(ctx, re.compile(r"https://api\.example\.com/.*"), api_answer(needs_token=False))
    always(ctx, re.compile(r"https://status\.example\.org/.*"), no_token_here)
    ctx.monkeypatch.setenv("SECRET", "example-secret")


def no_token_here(request: httpx.Request) -> httpx.Response:
    """Another origin: a token arriving here is a leak, and fails the snippet."""
    assert "authorization" not in request.headers, "a token went to an origin it is not for"
    return httpx.Response(200, json={"status": "ok"})


@standin
def expired_token(ctx: Context) -> None:
    """``api.example.com`` answers 401 ``invalid_token`` ("The access token expired")."""
    import re

    always(
        ctx,
        re.compile(r"https://api\.example\.com/.*"),
        lambda request: httpx.Response(
            **error_response("invalid_token", description="The access token expired")
        ),
    )


@standin
def redis(ctx: Context) -> None:
    """A redis-server of the tests' own (``REDIS_URL``); skipped without one unless
    ``HTTPX_REMEDY_REQUIRE_REDIS=1``, like every fleet test."""
    server = ctx.request.getfixturevalue("redis_server")
    ctx.monkeypatch.setenv("REDIS_URL", server.url)


def _needs(fields: dict[str, str], **wanted: str) -> None:
    for name, value in wanted.items():
        assert fields.get(name) == value, f"the token request's {name} is {fields.get(name)!r}"


def bearer_api(ctx: Context, origin: str, payload: Any) -> list[httpx.Request]:
    """An API at ``origin`` that wants a token: 401 without one, ``payload`` with one."""
    import re

    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return api_answer(payload)(request)

    always(ctx, re.compile(re.escape(origin) + r"/.*"), answer)
    ctx.checks.append(lambda: _all_carried_a_token(seen))
    return seen


def _all_carried_a_token(seen: list[httpx.Request]) -> None:
    assert seen, "the API was not called"
    assert all(r.headers.get("authorization", "").split()[0] in ("Bearer", "DPoP") for r in seen)


@standin
def auth0(ctx: Context) -> None:
    """An Auth0 tenant: ``client_secret_post``, and a 403 ``access_denied`` without the
    ``audience`` (as Auth0 answers for a missing or unknown API identifier)."""
    ctx.monkeypatch.setenv("AUTH0_CLIENT_ID", "m2m-app")
    ctx.monkeypatch.setenv("AUTH0_CLIENT_SECRET", "auth0-secret-value")
    seen: list[dict[str, str]] = []

    def token(request: httpx.Request) -> httpx.Response:
        fields = form(request)
        seen.append(fields)
        if fields.get("audience") != "https://api.example.com/":
            return httpx.Response(
                403,
                json={"error": "access_denied", "error_description": "Service not enabled within "
                      "domain: https://api.example.com"},
            )  # fmt: skip
        _needs(fields, client_id="m2m-app", client_secret="auth0-secret-value")
        return token_answer()(request)

    always(ctx, "https://example-tenant.us.auth0.com/oauth/token", token, method="POST")
    bearer_api(ctx, "https://api.example.com", [{"id": "ord_1"}])
    ctx.checks.append(lambda: _needs(seen[0], audience="https://api.example.com/"))


@standin
def entra(ctx: Context) -> None:
    """Entra ID's v2 token endpoint (a ``.default`` scope only) and Graph, throttling once with
    ``x-ms-retry-after-ms`` and once with ``Retry-After``."""
    ctx.monkeypatch.setenv("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
    ctx.monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001")
    ctx.monkeypatch.setenv("AZURE_CLIENT_SECRET", "entra-secret-value")

    def check(fields: dict[str, str]) -> None:
        _needs(fields, grant_type="client_credentials",
               scope="https://graph.microsoft.com/.default")  # fmt: skip

    always(
        ctx,
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
        token_answer(check=check, expires_in=3599),
        method="POST",
    )
    answers = iter(
        [
            httpx.Response(429, headers={"x-ms-retry-after-ms": "1500"}),
            httpx.Response(503, headers={"Retry-After": "2"}),
        ]
    )
    seen: list[httpx.Request] = []
    users = {"value": [{"displayName": "Adele Vance"}]}

    def graph(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers, None) or httpx.Response(200, json=users)

    always(ctx, "https://graph.microsoft.com/v1.0/users?%24select=displayName", graph)

    def throttled_twice() -> None:
        assert len(seen) == 3, seen
        _all_carried_a_token(seen)

    ctx.checks.append(throttled_twice)


@standin
def okta(ctx: Context) -> None:
    """An Okta custom authorization server: ``private_key_jwt`` only, DPoP with a nonce first
    (``400 use_dpop_nonce``), and an API that wants ``Authorization: DPoP`` with a proof."""
    from joserfc.jwk import RSAKey

    key_file = ctx.tmp_path / "okta-key.pem"
    key_file.write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
    ctx.monkeypatch.setenv("OKTA_CLIENT_ID", "0oa-service-app")
    ctx.monkeypatch.setenv("OKTA_PRIVATE_KEY_FILE", str(key_file))

    def token(request: httpx.Request) -> httpx.Response:
        fields = form(request)
        _needs(fields, client_assertion_type="urn:ietf:params:oauth:client-assertion-type:"
               "jwt-bearer", scope="orders.read")  # fmt: skip
        assertion = _claims(fields["client_assertion"])
        assert assertion["iss"] == assertion["sub"] == "0oa-service-app"
        assert assertion["aud"] == "https://example.okta.com/oauth2/default/v1/token"
        assert "dpop" in request.headers, "no DPoP proof on the token request"
        if "nonce" not in _claims(request.headers["dpop"]):
            return httpx.Response(
                400,
                headers={"DPoP-Nonce": "okta-nonce-1"},
                json={"error": "use_dpop_nonce", "error_description": "Authorization server "
                      "requires nonce in DPoP proof."},
            )  # fmt: skip
        return token_answer(token_type="DPoP")(request)

    always(ctx, "https://example.okta.com/oauth2/default/v1/token", token, method="POST")
    seen = bearer_api(ctx, "https://api.example.com", [{"id": "ord_1"}])

    def dpop_everywhere() -> None:
        assert all(r.headers["authorization"].startswith("DPoP ") and "dpop" in r.headers
                   for r in seen)  # fmt: skip

    ctx.checks.append(dpop_everywhere)


def _claims(jwt: str) -> dict[str, Any]:
    import base64

    part = jwt.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


@standin
def keycloak(ctx: Context) -> None:
    """A Keycloak realm: ``client_secret_basic`` for the service, a public client refreshing
    (with rotation) for the CLI, and a saved pair to start from."""
    import base64

    ctx.monkeypatch.setenv("KEYCLOAK_CLIENT_SECRET", "kc-secret-value")
    saved = {"access_token": "old", "refresh_token": "rt-0", "expires_in": 0}
    (ctx.tmp_path / "keycloak-tokens.json").write_text(json.dumps(saved))

    def token(request: httpx.Request) -> httpx.Response:
        fields = form(request)
        if fields["grant_type"] == "client_credentials":
            basic = base64.b64encode(b"orders-service:kc-secret-value").decode()
            assert request.headers.get("authorization") == f"Basic {basic}"
        else:
            _needs(fields, grant_type="refresh_token", client_id="shop-cli", refresh_token="rt-0")
        return token_answer(expires_in=300)(request)

    always(
        ctx,
        "https://sso.example.com/realms/shop/protocol/openid-connect/token",
        token,
        method="POST",
    )
    bearer_api(ctx, "https://api.example.com", [{"id": "ord_1"}])


@standin
def google(ctx: Context) -> None:
    """google-auth, as far as the recipe uses it: ``service_account.Credentials`` whose
    ``refresh()`` sets a token and a naive-UTC ``expiry``, and ``transport.requests.Request``.
    Stand-in modules (google-auth is not a dependency); the Storage API wants the token."""
    import datetime

    key_file = ctx.tmp_path / "service-account.json"
    key_file.write_text(json.dumps({"type": "service_account", "client_email": "sa@p.iam"}))
    ctx.monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))

    class Credentials:
        token: str | None = None
        expiry: datetime.datetime | None = None

        @classmethod
        def from_service_account_file(cls, path: str, scopes: list[str]) -> Credentials:
            assert json.loads(Path(path).read_text())["type"] == "service_account"
            assert scopes == ["https://www.googleapis.com/auth/devstorage.read_only"]
            return cls()

        def refresh(self, request: object) -> None:
            assert isinstance(request, Request)
            self.token = "ya29.stand-in"
            now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
            self.expiry = now + datetime.timedelta(seconds=3599)

    class Request:
        pass

    names = {
        "google": {},
        "google.auth": {},
        "google.auth.transport": {},
        "google.auth.transport.requests": {"Request": Request},
        "google.oauth2": {},
        "google.oauth2.service_account": {"Credentials": Credentials},
    }
    for name, attributes in names.items():
        module = types.ModuleType(name, "google-auth, stand-in for the docs' snippets")
        for attribute, value in attributes.items():
            setattr(module, attribute, value)
        ctx.monkeypatch.setitem(sys.modules, name, module)
    for name in names:
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, sys.modules[name])
    seen = bearer_api(ctx, "https://storage.googleapis.com", {"items": [{"name": "bucket"}]})
    ctx.checks.append(lambda: _needs(dict(seen[0].headers), authorization="Bearer ya29.stand-in"))


@standin
def github(ctx: Context) -> None:
    """api.github.com: a primary-limit 429 (``x-ratelimit-reset``) before the answer, and a
    secondary-limit 403 (``retry-after``) on search."""
    ctx.monkeypatch.setenv("GITHUB_TOKEN", "ghp_standin")
    reset = str(int(time.time()) + 2)
    ctx.httpx_mock.add_response(
        url="https://api.github.com/orgs/python/repos",
        status_code=429,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
        json={"message": "API rate limit exceeded for user ID 1."},
    )
    ctx.httpx_mock.add_response(url="https://api.github.com/orgs/python/repos", json=[])
    ctx.httpx_mock.add_response(
        url="https://api.github.com/search/code?q=httpx_remedy",
        status_code=403,
        headers={"retry-after": "60"},
        json={"message": "You have exceeded a secondary rate limit. Please wait a few minutes."},
    )


@standin
def stripe(ctx: Context) -> None:
    """api.stripe.com: a 500 on the first payment intent POST, then the answer; the same
    ``Idempotency-Key`` must arrive on both attempts."""
    ctx.monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_standin")
    keys: list[str] = []

    def intent(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["idempotency-key"])
        if len(keys) == 1:
            return httpx.Response(500, json={"error": {"type": "api_error", "message": "oops"}})
        return httpx.Response(200, json={"id": "pi_123", "object": "payment_intent"})

    ctx.httpx_mock.add_callback(intent, url="https://api.stripe.com/v1/payment_intents")
    ctx.httpx_mock.add_callback(intent, url="https://api.stripe.com/v1/payment_intents")

    def refund(request: httpx.Request) -> httpx.Response:
        assert request.headers["idempotency-key"] == "refund-pi_123"
        return httpx.Response(200, json={"id": "re_1"})

    ctx.httpx_mock.add_callback(refund, url="https://api.stripe.com/v1/refunds")

    def one_key_twice() -> None:
        assert len(keys) == 2, keys
        assert keys[0] == keys[1], keys

    ctx.checks.append(one_key_twice)


@standin
def example_httpx2(ctx: Context) -> None:
    """``example``, for clients built on httpx2 (authlib's, when httpx2 is installed), which
    pytest-httpx does not intercept: httpx2's own transport answers for the two hosts."""
    import httpx2

    example(ctx)
    hosts = {"auth.example.com", "api.example.com"}

    def handle_request(self: object, request: Any) -> Any:
        assert request.url.host in hosts, f"{request.url} is not a stand-in's host"
        if request.url.host == "auth.example.com":
            body = {"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600}
            return httpx2.Response(200, json=body)
        assert request.headers["authorization"] == "Bearer at-1"
        return httpx2.Response(200, json={"items": []})

    ctx.monkeypatch.setattr(httpx2.HTTPTransport, "handle_request", handle_request)
