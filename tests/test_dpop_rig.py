"""DPoP against node-oidc-provider: every proof the library makes is checked by its verifier.

The rig (``tests/oidc_server.py``) requires server nonces at the token endpoint and at its
protected resource, and checks proofs with oidc-provider's own code (``typ``, ``alg``, the
signature by the embedded key, ``iat``, ``jti`` replay, ``htm``, ``htu``, ``ath``, the nonce,
then the token's ``jkt``). What reached it is read from its request log: "one nonce refusal,
one token" is the server's word. Sync, asyncio and trio.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy import DPoPKey
from tests.oidc_server import (
    DEVICE_GRANT,
    SESSION_POLL_SPACING,
    OIDCRig,
    oidc_rig_fixture,  # noqa: F401  (the session fixture "oidc")
)

pytestmark = pytest.mark.integration

#: What the rig accepts (and the library signs with joserfc).
RIG_ALGS = ["ES256", "ES384", "PS256", "RS256", "EdDSA", "Ed25519"]


def dpop_client(oidc: OIDCRig, key: DPoPKey, **options: Any) -> remedy.ClientCredentials:
    options.setdefault("scope", "read")
    return remedy.ClientCredentials(
        oidc.token_url, "dpop", oidc.secrets["dpop"], dpop=key, **options
    )


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
        (r["path"], r.get("error") or r.get("grant_type"), r["status"]) for r in oidc.requests()
    ]


NONCE_THEN_TOKEN = [
    ("/token", "use_dpop_nonce", 400),
    ("/token", "client_credentials", 200),
]


@pytest.fixture(params=RIG_ALGS)
def key(request: pytest.FixtureRequest) -> DPoPKey:
    return DPoPKey.generate(request.param)


# ---- client_credentials, with the server's nonces


def test_client_credentials_with_dpop(oidc: OIDCRig, key: DPoPKey) -> None:
    oidc.forget_requests()
    with sync_client(dpop_client(oidc, key)) as client:
        first = client.get(oidc.resource_url)
        second = client.post(oidc.resource_url + "?page=2", json={"x": 1})
    assert first.json() == {
        "client_id": "dpop",
        "scope": "read",
        "token_type": "DPoP",
        "method": "GET",
    }
    assert second.json()["method"] == "POST"
    # The token endpoint's nonce, asked for once; the resource (the same origin here) is sent
    # the nonce learned there: no round trip for it.
    assert seen(oidc) == [
        *NONCE_THEN_TOKEN,
        ("/api/resource", None, 200),
        ("/api/resource", None, 200),
    ]
    requests = oidc.requests()
    assert [r["authorization"] for r in requests[2:]] == ["DPoP", "DPoP"]
    assert all(r["dpop"] for r in requests)


@pytest.mark.anyio
async def test_client_credentials_with_dpop_async(oidc: OIDCRig) -> None:
    oidc.forget_requests()
    async with async_client(dpop_client(oidc, DPoPKey.generate())) as client:
        assert (await client.get(oidc.resource_url)).json()["token_type"] == "DPoP"
        assert (await client.delete(oidc.resource_url)).json()["method"] == "DELETE"
    assert seen(oidc) == [
        *NONCE_THEN_TOKEN,
        ("/api/resource", None, 200),
        ("/api/resource", None, 200),
    ]


def test_private_key_jwt_and_dpop_rebuild_the_assertion(oidc: OIDCRig) -> None:
    """The nonce replay of a token request is a new request: a client assertion is single-use
    (oidc-provider refuses a jti it has seen)."""
    oidc.forget_requests()
    creds = remedy.ClientCredentials(
        oidc.token_url, "jwt", private_key=oidc.rsa_key, scope="read", dpop=DPoPKey.generate()
    )
    with sync_client(creds) as client:
        assert client.get(oidc.resource_url).json()["token_type"] == "DPoP"
    assert seen(oidc) == [*NONCE_THEN_TOKEN, ("/api/resource", None, 200)]


def test_single_flight_with_dpop(oidc: OIDCRig) -> None:
    """Eight threads need the first token at once: one token request (after the nonce)."""
    oidc.forget_requests()
    with (
        sync_client(dpop_client(oidc, DPoPKey.generate())) as client,
        ThreadPoolExecutor(8) as pool,
    ):
        statuses = list(pool.map(lambda _: client.get(oidc.resource_url).status_code, range(8)))
    assert statuses == [200] * 8
    assert [s for s in seen(oidc) if s[0] == "/token"] == NONCE_THEN_TOKEN


def test_a_revoked_dpop_token_is_replaced_and_the_request_replayed(oidc: OIDCRig) -> None:
    with sync_client(dpop_client(oidc, DPoPKey.generate())) as client:
        assert client.get(oidc.resource_url).status_code == 200
        oidc.revoke("dpop")
        oidc.forget_requests()
        assert client.get(oidc.resource_url).status_code == 200
    assert seen(oidc) == [
        ("/api/resource", "invalid_token", 401),
        ("/token", "client_credentials", 200),
        ("/api/resource", None, 200),
    ]


def test_step_up_with_dpop(oidc: OIDCRig) -> None:
    oidc.forget_requests()
    with sync_client(dpop_client(oidc, DPoPKey.generate()), step_up=True) as client:
        assert client.get(oidc.write_url).json()["scope"] == "read write"
    assert seen(oidc)[2:] == [
        ("/api/write", "insufficient_scope", 403),
        ("/token", "client_credentials", 200),
        ("/api/write", None, 200),
    ]


def test_an_alg_the_server_refuses_is_invalid_dpop_proof_once(oidc: OIDCRig) -> None:
    oidc.forget_requests()
    with sync_client(dpop_client(oidc, DPoPKey.generate("ES512"))) as client:
        with pytest.raises(remedy.InvalidDPoPProof) as caught:
            client.get(oidc.resource_url)
        with pytest.raises(remedy.ReauthenticationRequired):
            client.get(oidc.resource_url)
    assert caught.value.status_code == 400
    assert seen(oidc) == [("/token", "invalid_dpop_proof", 400)]  # asked once, not looped


# ---- the resource's nonce


class HandMadeSource:
    """A token source that gets its DPoP token by itself (a cloud SDK would), proving
    possession with ``key``: the transport's signer learns no nonce from it."""

    def __init__(self, oidc: OIDCRig, key: DPoPKey) -> None:
        self.oidc, self.key, self.calls = oidc, key, 0

    def fetch_token(self, scope: str | None) -> dict[str, Any]:
        self.calls += 1
        auth = ("dpop", self.oidc.secrets["dpop"] or "")
        data = {"grant_type": "client_credentials", "scope": "read"}
        url = self.oidc.token_url
        proof = self.key.proof("POST", url, nonce=self.oidc.dpop_nonce())
        answer = httpx.post(url, auth=auth, data=data, headers={"DPoP": proof})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def test_the_resources_nonce_gets_one_replay(oidc: OIDCRig) -> None:
    key = DPoPKey.generate()
    source = HandMadeSource(oidc, key)
    with sync_client(source, dpop=key) as client:
        oidc.forget_requests()
        assert client.get(oidc.resource_url).json()["token_type"] == "DPoP"
        assert client.get(oidc.resource_url).status_code == 200
    assert seen(oidc) == [
        ("/token", "client_credentials", 200),  # the source's own token request
        ("/api/resource", "use_dpop_nonce", 401),
        ("/api/resource", None, 200),
        ("/api/resource", None, 200),  # the nonce is remembered: no second refusal
    ]


@pytest.mark.anyio
async def test_the_resources_nonce_gets_one_replay_async(oidc: OIDCRig) -> None:
    key = DPoPKey.generate("EdDSA")
    async with async_client(HandMadeSource(oidc, key), dpop=key) as client:
        oidc.forget_requests()
        assert (await client.get(oidc.resource_url)).status_code == 200
        assert (await client.get(oidc.resource_url)).status_code == 200
    assert [s[1] for s in seen(oidc)] == ["client_credentials", "use_dpop_nonce", None, None]


def test_a_one_shot_body_is_not_replayed_for_a_nonce(oidc: OIDCRig) -> None:
    key = DPoPKey.generate()
    with sync_client(HandMadeSource(oidc, key), dpop=key) as client:
        oidc.forget_requests()
        with pytest.raises(remedy.UseDPoPNonce) as caught:
            client.post(oidc.resource_url, content=iter([b"only once"]))
        assert caught.value.dpop_nonce
        assert client.post(oidc.resource_url, content=iter([b"once"])).status_code == 200
    assert len(caught.value.attempts) == 1
    assert seen(oidc)[1:] == [
        ("/api/resource", "use_dpop_nonce", 401),
        ("/api/resource", None, 200),
    ]


# ---- refresh tokens, rotated and bound to the key


def dpop_device_login(oidc: OIDCRig, key: DPoPKey) -> dict[str, Any]:
    """A device login by hand for the public ``device`` client, proven with ``key``: a
    DPoP-bound pair whose refresh token is bound to the key too."""
    codes = oidc.device_authorization(scope="offline_access read")
    oidc.approve(codes["user_code"])
    data = {"grant_type": DEVICE_GRANT, "device_code": codes["device_code"], "client_id": "device"}
    proof = key.proof("POST", oidc.token_url, nonce=oidc.dpop_nonce())
    answer = httpx.post(oidc.token_url, data=data, headers={"DPoP": proof})
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "DPoP"
    time.sleep(SESSION_POLL_SPACING)
    return dict(answer.json())


def test_refresh_with_rotation_and_dpop(oidc: OIDCRig) -> None:
    key = DPoPKey.generate()
    saved: list[dict[str, Any]] = []
    pair = dpop_device_login(oidc, key)
    creds = remedy.RefreshToken(
        oidc.token_url, "device", token=pair, on_token=saved.append, dpop=key
    )
    with sync_client(creds) as client:
        oidc.forget_requests()
        assert client.get(oidc.resource_url).json()["sub"] == "alice"
        for _ in range(2):
            oidc.revoke("device")
            assert client.get(oidc.resource_url).json()["token_type"] == "DPoP"
    refreshes = [r for r in seen(oidc) if r[0] == "/token"]
    assert refreshes in (
        [("/token", "refresh_token", 200)] * 2,
        # the nonce the resource taught may have turned by the first refresh
        [("/token", "use_dpop_nonce", 400)] + [("/token", "refresh_token", 200)] * 2,
    )
    assert len({t["refresh_token"] for t in saved}) == 2
    assert pair["refresh_token"] not in {t["refresh_token"] for t in saved}


@pytest.mark.anyio
async def test_refresh_with_rotation_and_dpop_async(oidc: OIDCRig) -> None:
    key = DPoPKey.generate("PS256")
    creds = remedy.RefreshToken(
        oidc.token_url, "device", token=dpop_device_login(oidc, key), dpop=key
    )
    async with async_client(creds) as client:
        for _ in range(2):
            oidc.revoke("device")
            assert (await client.get(oidc.resource_url)).json()["token_type"] == "DPoP"


def test_a_refresh_token_bound_to_another_key_is_invalid_grant(oidc: OIDCRig) -> None:
    pair = dpop_device_login(oidc, DPoPKey.generate())
    thief = remedy.RefreshToken(oidc.token_url, "device", token=pair, dpop=DPoPKey.generate())
    oidc.revoke("device")
    with sync_client(thief) as client, pytest.raises(remedy.InvalidGrant):
        client.get(oidc.resource_url)
