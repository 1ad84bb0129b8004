"""DPoP tokens and a shared store: what is shared is the token, never the key.

A DPoP-bound token is useless without its private key, and the key never goes to the store:
the store key of a token names the DPoP key's public thumbprint, so processes that hold the
same key (loaded from the same PEM) share one token, and processes with keys of their own each
get theirs. Against node-oidc-provider (its verifier checks every proof and the token's ``jkt``)
and a real ``redis-server``; each "process" has its own credentials object, store connection
and client, so nothing is shared but Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

import httpx_remedy as remedy
from httpx_remedy import DPoPKey, RedisStore
from tests.oidc_server import (
    OIDCRig,
    oidc_rig_fixture,  # noqa: F401  (the session fixture "oidc")
)

from .fleet_worker import RedisServer, redis_for_tests

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    yield from redis_for_tests()


@pytest.fixture
def prefix() -> str:
    return f"dpop-{uuid.uuid4().hex[:12]}:"


class Process:
    """One worker: its own store connection, credentials object and client."""

    def __init__(self, oidc: OIDCRig, redis_server: RedisServer, prefix: str, key: DPoPKey) -> None:
        self.store = RedisStore(redis_server.url, prefix=prefix)
        self.creds = remedy.ClientCredentials(
            oidc.token_url, "dpop", oidc.secrets["dpop"], scope="read", dpop=key, store=self.store
        )
        transport = remedy.RemedyTransport(credentials=self.creds)
        self.client = httpx.Client(transport=transport, timeout=10)

    def get(self, url: str) -> Any:
        return self.client.get(url).json()

    def close(self) -> None:
        self.client.close()
        self.store.close()


def token_grants(oidc: OIDCRig) -> int:
    return sum(1 for r in oidc.requests() if r["path"] == "/token" and r["status"] == 200)


def test_processes_holding_one_key_share_one_token(
    oidc: OIDCRig, redis_server: RedisServer, prefix: str
) -> None:
    key = DPoPKey.generate()
    pem = key.private_pem()  # what each worker loads from the secret store
    workers = [Process(oidc, redis_server, prefix, DPoPKey(pem)) for _ in range(3)]
    oidc.forget_requests()
    try:
        for worker in workers:
            assert worker.get(oidc.resource_url)["token_type"] == "DPoP"
        tokens = {w.creds.manager.token.access_token for w in workers}  # type: ignore[union-attr]
    finally:
        for worker in workers:
            worker.close()
    assert token_grants(oidc) == 1
    assert len(tokens) == 1
    # Each worker learned the nonce for itself (nonces are per process): at most one refusal
    # each, and every proof passed the rig's checks with the one key the token is bound to.
    refusals = [r for r in oidc.requests() if r.get("error") == "use_dpop_nonce"]
    assert len(refusals) <= 1 + len(workers)
    assert all(
        r["status"] == 200
        for r in oidc.requests()
        if r["path"] == "/api/resource" and "error" not in r
    )


def test_processes_with_keys_of_their_own_get_tokens_of_their_own(
    oidc: OIDCRig, redis_server: RedisServer, prefix: str
) -> None:
    workers = [Process(oidc, redis_server, prefix, DPoPKey.generate()) for _ in range(2)]
    oidc.forget_requests()
    try:
        for worker in workers:
            assert worker.get(oidc.resource_url)["token_type"] == "DPoP"
        keys = {w.creds.shared_key for w in workers}
    finally:
        for worker in workers:
            worker.close()
    assert token_grants(oidc) == 2
    assert len(keys) == 2  # two store entries: neither process gets a token it cannot prove
    assert [r for r in oidc.requests() if r.get("error") == "invalid_token"] == []


def test_the_store_holds_no_private_key(
    oidc: OIDCRig, redis_server: RedisServer, prefix: str
) -> None:
    key = DPoPKey.generate("RS256")
    worker = Process(oidc, redis_server, prefix, key)
    try:
        worker.get(oidc.resource_url)
    finally:
        worker.close()
    raw = redis.Redis.from_url(redis_server.url)
    try:
        stored = b"".join(
            (raw.get(name) or b"") if raw.type(name) == b"string" else b""
            for name in raw.scan_iter(prefix + "*")
        )
    finally:
        raw.close()
    assert b'"token_type": "DPoP"' in stored
    private = key.private_jwk()
    for member in ("d", "p", "q", "dp", "dq", "qi"):
        assert private[member].encode() not in stored
    pem_body = b"".join(key.private_pem().splitlines()[1:-1])
    assert pem_body[:40] not in stored
    assert key.thumbprint.encode() not in stored  # hashed into the key name, not stored
