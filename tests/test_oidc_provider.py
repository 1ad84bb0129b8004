"""The library against node-oidc-provider, an OpenID-certified server nobody here wrote.

``tests/oidc/server.mjs`` (see ``tests/oidc_server.py``) runs oidc-provider on 127.0.0.1 with a
protected resource that checks tokens with the provider's own code. Everything goes through the
public API (``RemedyTransport`` / ``AsyncRemedyTransport`` with ``ClientCredentials`` or
``RefreshToken``), sync and async (asyncio and trio: the ``mode`` fixture). What reached the
server is read from the rig's request log, so "one token request, one replay" is the server's
word, not ours.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

import httpx_remedy as remedy
from tests.oidc_server import (
    OIDCRig,
    oidc_rig_fixture,  # noqa: F401  (the session fixture "oidc")
)

from .helpers import Client, Mode

pytestmark = pytest.mark.integration

#: Each client authentication method, as the ClientCredentials options for the rig's client.
AUTH_METHODS: dict[str, Callable[[OIDCRig], dict[str, Any]]] = {
    "client_secret_basic": lambda oidc: {
        "client_id": "basic",
        "client_secret": oidc.secrets["basic"],
    },
    "client_secret_post": lambda oidc: {
        "client_id": "post",
        "client_secret": oidc.secrets["post"],
        "auth_method": "client_secret_post",
    },
    "private_key_jwt RS256": lambda oidc: {"client_id": "jwt", "private_key": oidc.rsa_key},
    "private_key_jwt ES256": lambda oidc: {"client_id": "jwt", "private_key": oidc.ec_key},
}


def credentials(oidc: OIDCRig, method: str = "client_secret_basic", **options: Any) -> Any:
    options = {**AUTH_METHODS[method](oidc), **options}
    options.setdefault("scope", "read")
    return remedy.ClientCredentials(oidc.token_url, options.pop("client_id"), **options)


def client_of(mode: Mode, creds: Any, **options: Any) -> Client:
    """A client of the mode's kind over httpx's own transport, with ``creds``."""
    options.setdefault("retry", remedy.Retry(budget=remedy.RetryBudget()))
    return mode.client(mode.network(), timeout=10, credentials=creds, **options)


def seen(oidc: OIDCRig) -> list[tuple[str, str | None, int]]:
    """What reached the rig since it last forgot: (path, grant type or error, status)."""
    return [
        (r["path"], r.get("grant_type") or r.get("error"), r["status"]) for r in oidc.requests()
    ]


def refresh_token_of(oidc: OIDCRig, saved: list[dict[str, Any]]) -> Any:
    """A ``RefreshToken`` seeded by a device login done by hand (the public ``device`` client,
    ``offline_access read``); every token it is handed is appended to ``saved``."""
    token = oidc.device_login()
    oidc.forget_requests()
    return remedy.RefreshToken(oidc.token_url, "device", token=token, on_token=saved.append)


# ---- client_credentials, each authentication method, to the protected resource


@pytest.mark.parametrize("method", list(AUTH_METHODS))
def test_client_credentials_reach_the_resource(mode: Mode, oidc: OIDCRig, method: str) -> None:
    oidc.forget_requests()
    with client_of(mode, credentials(oidc, method)) as client:
        first = client.get(oidc.resource_url)
        second = client.post(oidc.resource_url, json={"x": 1})
    client_id = AUTH_METHODS[method](oidc)["client_id"]
    assert first.json() == {
        "client_id": client_id,
        "scope": "read",
        "token_type": "Bearer",
        "method": "GET",
    }
    assert second.json()["method"] == "POST"
    assert seen(oidc) == [
        ("/token", "client_credentials", 200),
        ("/api/resource", None, 200),
        ("/api/resource", None, 200),
    ]
    schemes = [r.get("authorization") for r in oidc.requests()]
    basic = "Basic" if method == "client_secret_basic" else None
    assert schemes == [basic, "Bearer", "Bearer"]


def test_an_explicit_resource_indicator_is_honoured(mode: Mode, oidc: OIDCRig) -> None:
    oidc.forget_requests()
    creds = credentials(oidc, extra_params={"resource": oidc.resource})
    with client_of(mode, creds) as client:
        answer = client.get(oidc.resource_url)
    # The resource checked the token with the provider's own code: it was issued for it.
    assert answer.json()["client_id"] == "basic"
    assert seen(oidc) == [("/token", "client_credentials", 200), ("/api/resource", None, 200)]


# ---- the token endpoint's refusals, typed


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_wrong_secret_is_invalid_client(mode: Mode, oidc: OIDCRig, method: str) -> None:
    oidc.forget_requests()
    with client_of(mode, credentials(oidc, method, client_secret="wrong")) as client:
        with pytest.raises(remedy.InvalidClient) as caught:
            client.get(oidc.resource_url)
        with pytest.raises(remedy.ReauthenticationRequired):
            client.get(oidc.resource_url)
    assert caught.value.error == "invalid_client"
    assert caught.value.status_code == 401
    assert "wrong" not in str(caught.value)
    assert seen(oidc) == [("/token", "client_credentials", 401)]  # asked once, not again


@pytest.mark.parametrize(
    ("method", "scope"), [("client_secret_post", "read admin"), ("client_secret_basic", "admin")]
)
def test_a_scope_the_client_may_not_have_is_invalid_scope(
    mode: Mode, oidc: OIDCRig, method: str, scope: str
) -> None:
    with (
        client_of(mode, credentials(oidc, method, scope=scope)) as client,
        pytest.raises(remedy.InvalidScope) as caught,
    ):
        client.get(oidc.resource_url)
    assert caught.value.error == "invalid_scope"
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    ("method", "resource"),
    [("client_secret_basic", "/elsewhere"), ("private_key_jwt ES256", "urn:nowhere")],
)
def test_an_unknown_resource_is_invalid_target(
    mode: Mode, oidc: OIDCRig, method: str, resource: str
) -> None:
    if resource.startswith("/"):
        resource = oidc.issuer + resource
    creds = credentials(oidc, method, extra_params={"resource": resource})
    with client_of(mode, creds) as client, pytest.raises(remedy.InvalidTarget) as caught:
        client.get(oidc.resource_url)
    assert caught.value.error == "invalid_target"


def test_a_bogus_refresh_token_is_invalid_grant(mode: Mode, oidc: OIDCRig) -> None:
    oidc.forget_requests()
    creds = remedy.RefreshToken(oidc.token_url, "device", token={"refresh_token": "bogus"})
    with client_of(mode, creds) as client:
        with pytest.raises(remedy.InvalidGrant) as caught:
            client.get(oidc.resource_url)
        with pytest.raises(remedy.ReauthenticationRequired):
            client.get(oidc.resource_url)
    assert caught.value.error == "invalid_grant"
    assert "bogus" not in repr(caught.value)
    assert seen(oidc) == [("/token", "refresh_token", 400)]


# ---- a rejected token is replaced and the request replayed


@pytest.mark.parametrize("method", list(AUTH_METHODS))
def test_a_revoked_token_is_fetched_again_and_the_request_replayed(
    mode: Mode, oidc: OIDCRig, method: str
) -> None:
    """Also: each token request carries a fresh client assertion (the server refuses a jti
    it has seen)."""
    client_id = AUTH_METHODS[method](oidc)["client_id"]
    with client_of(mode, credentials(oidc, method)) as client:
        assert client.get(oidc.resource_url).status_code == 200
        assert oidc.revoke(client_id) >= 1
        oidc.forget_requests()
        assert client.get(oidc.resource_url).json()["client_id"] == client_id
    assert seen(oidc) == [
        ("/api/resource", "invalid_token", 401),
        ("/token", "client_credentials", 200),
        ("/api/resource", None, 200),
    ]


# ---- refresh tokens, rotated by the server


def test_refresh_with_rotation(mode: Mode, oidc: OIDCRig) -> None:
    saved: list[dict[str, Any]] = []
    creds = refresh_token_of(oidc, saved)
    first_refresh = creds.token["refresh_token"]
    with client_of(mode, creds) as client:
        # The device login's own access token is used first: no token request.
        assert client.get(oidc.resource_url).json()["sub"] == "alice"
        assert seen(oidc) == [("/api/resource", None, 200)]
        for _ in range(2):  # twice: the second refresh must use the rotated refresh token
            oidc.revoke("device")
            oidc.forget_requests()
            assert client.get(oidc.resource_url).json()["sub"] == "alice"
            assert seen(oidc) == [
                ("/api/resource", "invalid_token", 401),
                ("/token", "refresh_token", 200),
                ("/api/resource", None, 200),
            ]
    refreshes = [t["refresh_token"] for t in saved]
    assert len(set(refreshes)) == 2
    assert first_refresh not in refreshes
    assert creds.token["refresh_token"] == refreshes[-1]
    # The server rotated for real: the first refresh token is spent (and, reused, it revokes
    # the whole grant, as RFC 9700 §4.14.2 asks: so this check comes last).
    spent = httpx.post(
        oidc.token_url,
        data={"grant_type": "refresh_token", "refresh_token": first_refresh, "client_id": "device"},
    )
    assert spent.json()["error"] == "invalid_grant"


# ---- insufficient_scope, and step-up


def test_insufficient_scope_names_the_scope(mode: Mode, oidc: OIDCRig) -> None:
    with (
        client_of(mode, credentials(oidc)) as client,
        pytest.raises(remedy.InsufficientScope) as caught,
    ):
        client.get(oidc.write_url)
    assert caught.value.scope == "write"
    assert caught.value.status_code == 403


def test_step_up_on_the_first_request(mode: Mode, oidc: OIDCRig) -> None:
    with client_of(mode, credentials(oidc, "client_secret_post"), step_up=True) as client:
        assert client.get(oidc.write_url).json()["scope"] == "read write"


def test_step_up_asks_for_the_missing_scope(mode: Mode, oidc: OIDCRig) -> None:
    oidc.forget_requests()
    with client_of(mode, credentials(oidc), step_up=True) as client:
        assert client.get(oidc.resource_url).json()["scope"] == "read"
        assert client.get(oidc.write_url).json()["scope"] == "read write"
    assert seen(oidc) == [
        ("/token", "client_credentials", 200),
        ("/api/resource", None, 200),
        ("/api/write", "insufficient_scope", 403),
        ("/token", "client_credentials", 200),
        ("/api/write", None, 200),
    ]
