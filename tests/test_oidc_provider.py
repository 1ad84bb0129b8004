"""The library against node-oidc-provider, an OpenID-certified server nobody here wrote.

``tests/oidc/server.mjs`` (see ``tests/oidc_server.py``) runs oidc-provider on 127.0.0.1 with a
protected resource that checks tokens with the provider's own code. Everything goes through the
public API (``RemedyTransport`` / ``AsyncRemedyTransport`` with ``ClientCredentials`` or
``RefreshToken``), sync and async (asyncio and trio). What reached the server is read from the
rig's request log, so "one token request, one replay" is the server's word, not ours.
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


def sync_client(creds: Any, **options: Any) -> httpx.Client:
    options.setdefault("retry", remedy.Retry(budget=remedy.RetryBudget()))
    return httpx.Client(transport=remedy.RemedyTransport(credentials=creds, **options), timeout=10)


def async_client(creds: Any, **options: Any) -> httpx.AsyncClient:
    options.setdefault("retry", remedy.Retry(budget=remedy.RetryBudget()))
    transport = remedy.AsyncRemedyTransport(credentials=creds, **options)
    return httpx.AsyncClient(transport=transport, timeout=10)


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
def test_client_credentials_reach_the_resource(oidc: OIDCRig, method: str) -> None:
    oidc.forget_requests()
    with sync_client(credentials(oidc, method)) as client:
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


@pytest.mark.anyio
@pytest.mark.parametrize("method", list(AUTH_METHODS))
async def test_client_credentials_reach_the_resource_async(oidc: OIDCRig, method: str) -> None:
    oidc.forget_requests()
    async with async_client(credentials(oidc, method)) as client:
        first = await client.get(oidc.resource_url)
        await client.get(oidc.resource_url)
    assert first.json()["client_id"] == AUTH_METHODS[method](oidc)["client_id"]
    assert seen(oidc) == [
        ("/token", "client_credentials", 200),
        ("/api/resource", None, 200),
        ("/api/resource", None, 200),
    ]


def test_an_explicit_resource_indicator_is_honoured(oidc: OIDCRig) -> None:
    creds = credentials(oidc, extra_params={"resource": oidc.resource})
    with sync_client(creds) as client:
        assert client.get(oidc.resource_url).status_code == 200


# ---- the token endpoint's refusals, typed


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_wrong_secret_is_invalid_client(oidc: OIDCRig, method: str) -> None:
    oidc.forget_requests()
    with sync_client(credentials(oidc, method, client_secret="wrong")) as client:
        with pytest.raises(remedy.InvalidClient) as caught:
            client.get(oidc.resource_url)
        with pytest.raises(remedy.ReauthenticationRequired):
            client.get(oidc.resource_url)
    assert caught.value.error == "invalid_client"
    assert caught.value.status_code == 401
    assert "wrong" not in str(caught.value)
    assert seen(oidc) == [("/token", "client_credentials", 401)]  # asked once, not again


@pytest.mark.anyio
async def test_a_wrong_secret_is_invalid_client_async(oidc: OIDCRig) -> None:
    oidc.forget_requests()
    async with async_client(credentials(oidc, client_secret="wrong")) as client:
        with pytest.raises(remedy.InvalidClient):
            await client.get(oidc.resource_url)
        with pytest.raises(remedy.ReauthenticationRequired):
            await client.get(oidc.resource_url)
    assert seen(oidc) == [("/token", "client_credentials", 401)]


def test_a_scope_the_client_may_not_have_is_invalid_scope(oidc: OIDCRig) -> None:
    with (
        sync_client(credentials(oidc, "client_secret_post", scope="read admin")) as client,
        pytest.raises(remedy.InvalidScope) as caught,
    ):
        client.get(oidc.resource_url)
    assert caught.value.error == "invalid_scope"
    assert caught.value.status_code == 400


@pytest.mark.anyio
async def test_a_scope_the_client_may_not_have_is_invalid_scope_async(oidc: OIDCRig) -> None:
    async with async_client(credentials(oidc, scope="admin")) as client:
        with pytest.raises(remedy.InvalidScope):
            await client.get(oidc.resource_url)


def test_an_unknown_resource_is_invalid_target(oidc: OIDCRig) -> None:
    creds = credentials(oidc, extra_params={"resource": oidc.issuer + "/elsewhere"})
    with sync_client(creds) as client, pytest.raises(remedy.InvalidTarget) as caught:
        client.get(oidc.resource_url)
    assert caught.value.error == "invalid_target"


@pytest.mark.anyio
async def test_an_unknown_resource_is_invalid_target_async(oidc: OIDCRig) -> None:
    creds = credentials(oidc, "private_key_jwt ES256", extra_params={"resource": "urn:nowhere"})
    async with async_client(creds) as client:
        with pytest.raises(remedy.InvalidTarget):
            await client.get(oidc.resource_url)


def test_a_bogus_refresh_token_is_invalid_grant(oidc: OIDCRig) -> None:
    oidc.forget_requests()
    creds = remedy.RefreshToken(oidc.token_url, "device", token={"refresh_token": "bogus"})
    with sync_client(creds) as client:
        with pytest.raises(remedy.InvalidGrant) as caught:
            client.get(oidc.resource_url)
        with pytest.raises(remedy.ReauthenticationRequired):
            client.get(oidc.resource_url)
    assert caught.value.error == "invalid_grant"
    assert "bogus" not in repr(caught.value)
    assert seen(oidc) == [("/token", "refresh_token", 400)]


@pytest.mark.anyio
async def test_a_bogus_refresh_token_is_invalid_grant_async(oidc: OIDCRig) -> None:
    creds = remedy.RefreshToken(oidc.token_url, "device", token={"refresh_token": "bogus"})
    async with async_client(creds) as client:
        with pytest.raises(remedy.InvalidGrant):
            await client.get(oidc.resource_url)


# ---- a rejected token is replaced and the request replayed


@pytest.mark.parametrize("method", list(AUTH_METHODS))
def test_a_revoked_token_is_fetched_again_and_the_request_replayed(
    oidc: OIDCRig, method: str
) -> None:
    """Also: each token request carries a fresh client assertion (the server refuses a jti
    it has seen)."""
    client_id = AUTH_METHODS[method](oidc)["client_id"]
    with sync_client(credentials(oidc, method)) as client:
        assert client.get(oidc.resource_url).status_code == 200
        assert oidc.revoke(client_id) >= 1
        oidc.forget_requests()
        assert client.get(oidc.resource_url).json()["client_id"] == client_id
    assert seen(oidc) == [
        ("/api/resource", "invalid_token", 401),
        ("/token", "client_credentials", 200),
        ("/api/resource", None, 200),
    ]


@pytest.mark.anyio
async def test_a_revoked_token_is_fetched_again_and_the_request_replayed_async(
    oidc: OIDCRig,
) -> None:
    async with async_client(credentials(oidc, "client_secret_post")) as client:
        assert (await client.get(oidc.resource_url)).status_code == 200
        oidc.revoke("post")
        oidc.forget_requests()
        assert (await client.get(oidc.resource_url)).status_code == 200
    assert seen(oidc) == [
        ("/api/resource", "invalid_token", 401),
        ("/token", "client_credentials", 200),
        ("/api/resource", None, 200),
    ]


# ---- refresh tokens, rotated by the server


def test_refresh_with_rotation(oidc: OIDCRig) -> None:
    saved: list[dict[str, Any]] = []
    creds = refresh_token_of(oidc, saved)
    first_refresh = creds.token["refresh_token"]
    with sync_client(creds) as client:
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


@pytest.mark.anyio
async def test_refresh_with_rotation_async(oidc: OIDCRig) -> None:
    saved: list[dict[str, Any]] = []
    creds = refresh_token_of(oidc, saved)
    async with async_client(creds) as client:
        for _ in range(2):
            oidc.revoke("device")
            assert (await client.get(oidc.resource_url)).json()["sub"] == "alice"
    assert len({t["refresh_token"] for t in saved}) == 2
    assert [r for r in seen(oidc) if r[0] == "/token"] == [("/token", "refresh_token", 200)] * 2


# ---- insufficient_scope, and step-up


def test_insufficient_scope_names_the_scope(oidc: OIDCRig) -> None:
    with (
        sync_client(credentials(oidc)) as client,
        pytest.raises(remedy.InsufficientScope) as caught,
    ):
        client.get(oidc.write_url)
    assert caught.value.scope == "write"
    assert caught.value.status_code == 403


def test_step_up_asks_for_the_missing_scope(oidc: OIDCRig) -> None:
    oidc.forget_requests()
    with sync_client(credentials(oidc), step_up=True) as client:
        assert client.get(oidc.resource_url).json()["scope"] == "read"
        assert client.get(oidc.write_url).json()["scope"] == "read write"
    assert seen(oidc) == [
        ("/token", "client_credentials", 200),
        ("/api/resource", None, 200),
        ("/api/write", "insufficient_scope", 403),
        ("/token", "client_credentials", 200),
        ("/api/write", None, 200),
    ]


@pytest.mark.anyio
async def test_step_up_asks_for_the_missing_scope_async(oidc: OIDCRig) -> None:
    async with async_client(credentials(oidc, "client_secret_post"), step_up=True) as client:
        assert (await client.get(oidc.write_url)).json()["scope"] == "read write"
