"""The token lifecycle over real sockets, against a real authlib authorization server.

``httpx.Client(transport=RemedyTransport(credentials=...))`` and its async twin (the ``mode``
fixture: sync, asyncio, trio) talk HTTP to :class:`httpx_remedy.testing.oauth_server.OAuthServer`
on 127.0.0.1. Token lifetimes are never waited out: the server's ``expire_all()`` and
``revoke_all()`` and the ``FakeClock`` (for the transport's own idea of time, and its retry
waits) stand in. Every test starts a server: the module is in the ``integration`` group.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey, RSAKey

import httpx_remedy as remedy
from httpx_remedy import (
    ClientCredentials,
    ReauthenticationRequired,
    RefreshToken,
    TokenResponseError,
)
from httpx_remedy.testing.oauth_server import OAuthServer

from .helpers import SYNC, Client, FakeClock, Mode, on_clock

pytestmark = pytest.mark.integration

LIMITS = httpx.Limits(max_connections=200)
CONCURRENCY = 100


@pytest.fixture
def oauth_server() -> Iterator[OAuthServer]:
    """A started server with the client ``app``/``s3cret`` (scope ``read write``)."""
    with OAuthServer() as server:
        server.add_client("app", "s3cret", scope="read write")
        yield server


@pytest.fixture
def other_server() -> Iterator[OAuthServer]:
    """A second server: another port, so another origin."""
    with OAuthServer() as server:
        yield server


def cc(server: OAuthServer, **options: Any) -> ClientCredentials:
    options.setdefault("scope", "read")
    options.setdefault("client_secret", "s3cret")
    return ClientCredentials(server.token_url, options.pop("client_id", "app"), **options)


def client_of(
    mode: Mode, credentials: Any, clock: FakeClock | None = None, **options: Any
) -> Client:
    """A client of the mode's kind over httpx's own transport, with ``credentials``."""
    options.setdefault("retry", remedy.Retry(budget=remedy.RetryBudget()))
    follow = options.pop("follow_redirects", False)
    transport = mode.transport(mode.network(limits=LIMITS), credentials=credentials, **options)
    if clock is not None:
        on_clock(transport, clock)
    return mode.wrap(transport, timeout=10, follow_redirects=follow)


def actions(error: BaseException) -> list[str]:
    return [a.action for a in remedy.attempts_of(error)]


def statuses(server: OAuthServer) -> list[int]:
    return [call.status for call in server.api_log]


# -- client credentials ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_credentials(mode: Mode, oauth_server: OAuthServer, method: str) -> None:
    oauth_server.add_client("c", "c-secret", scope="read", auth_method=method)
    creds = cc(oauth_server, client_id="c", client_secret="c-secret", auth_method=method)
    with client_of(mode, creds) as client:
        assert client.get(oauth_server.url + "/api/items").json()["items"]
        echo = client.get(oauth_server.url + "/api/echo-auth").json()
        assert echo == {"authorization": True, "scheme": "Bearer", "valid_token": True}
    (call,) = oauth_server.token_log
    assert (call.grant_type, call.client_id, call.scope, call.client_auth, call.status) == (
        "client_credentials",
        "c",
        "read",
        method,
        200,
    )
    assert statuses(oauth_server) == [200, 200]


def test_client_secret_jwt(oauth_server: OAuthServer) -> None:
    secret = "a-shared-secret-of-enough-bytes"
    oauth_server.add_client("hs", secret, auth_method="client_secret_jwt")
    creds = cc(oauth_server, client_id="hs", client_secret=secret, auth_method="client_secret_jwt")
    with client_of(SYNC, creds) as client:
        assert client.get(oauth_server.url + "/api/items").status_code == 200
        creds.reset()
        assert client.get(oauth_server.url + "/api/items").status_code == 200  # a new jti
    assert [(c.client_auth, c.status) for c in oauth_server.token_log] == [
        ("client_secret_jwt", 200),
        ("client_secret_jwt", 200),
    ]


def test_private_key_jwt_rsa(oauth_server: OAuthServer) -> None:
    key = RSAKey.generate_key(2048)
    oauth_server.add_client(
        "rs", auth_method="private_key_jwt", public_key=key.as_pem(private=False)
    )
    for private_key in (key.as_pem(private=True), key.as_dict(private=True)):
        creds = cc(oauth_server, client_id="rs", client_secret=None, private_key=private_key)
        with client_of(SYNC, creds) as client:
            assert client.get(oauth_server.url + "/api/items").status_code == 200
    assert [(c.client_auth, c.status) for c in oauth_server.token_log] == [
        ("private_key_jwt", 200),
        ("private_key_jwt", 200),
    ]


def test_private_key_jwt_ec(oauth_server: OAuthServer) -> None:
    """``private_key`` is "a PEM or JWK": an EC key (ES256) is one too."""
    key = ECKey.generate_key("P-256")
    oauth_server.add_client(
        "es", auth_method="private_key_jwt", public_key=key.as_pem(private=False)
    )
    creds = cc(
        oauth_server,
        client_id="es",
        client_secret=None,
        private_key=key.as_pem(private=True),
        jwt_alg="ES256",
    )
    with client_of(SYNC, creds) as client:
        assert client.get(oauth_server.url + "/api/items").status_code == 200
    assert [(c.client_auth, c.status) for c in oauth_server.token_log] == [("private_key_jwt", 200)]


def test_client_secret_basic_with_special_characters(oauth_server: OAuthServer) -> None:
    """RFC 6749 §2.3.1: the id and secret are form-encoded before they go into Basic, and the
    authorization server (authlib here) decodes them. A secret with ``%`` or ``+`` in it must
    still authenticate."""
    secret = "50%25+off/=="
    oauth_server.add_client("odd", secret)
    creds = cc(oauth_server, client_id="odd", client_secret=secret)
    with client_of(SYNC, creds) as client:
        assert client.get(oauth_server.url + "/api/items").status_code == 200
    assert [(c.client_id, c.client_auth, c.status) for c in oauth_server.token_log] == [
        ("odd", "client_secret_basic", 200)
    ]


# -- refresh tokens -------------------------------------------------------------------------


def test_refresh_token_rotation(mode: Mode, oauth_server: OAuthServer) -> None:
    pair = oauth_server.issue_token("app", "read")
    saved: list[dict[str, Any]] = []
    creds = RefreshToken(
        oauth_server.token_url, "app", token=pair, client_secret="s3cret", on_token=saved.append
    )
    items = oauth_server.url + "/api/items"
    with client_of(mode, creds) as client:
        assert client.get(items).status_code == 200
        assert oauth_server.token_requests == 0  # the stored access token is still good
        for _ in range(2):
            oauth_server.expire_all()
            assert client.get(items).status_code == 200
    assert [(c.grant_type, c.status) for c in oauth_server.token_log] == [
        ("refresh_token", 200),
        ("refresh_token", 200),
    ]
    refresh_tokens = [pair["refresh_token"]] + [t["refresh_token"] for t in saved]
    assert len(set(refresh_tokens)) == 3  # rotated twice, each new one kept and used
    assert creds.token["refresh_token"] == refresh_tokens[-1]
    assert statuses(oauth_server) == [200, 401, 200, 401, 200]


def test_refresh_token_kept_when_not_rotated() -> None:
    with OAuthServer(rotate_refresh_tokens=False) as server:
        server.add_client("app", "s3cret")
        pair = server.issue_token("app", "read")
        saved: list[dict[str, Any]] = []
        creds = RefreshToken(
            server.token_url, "app", token=pair, client_secret="s3cret", on_token=saved.append
        )
        with client_of(SYNC, creds) as client:
            for _ in range(2):
                server.expire_all()
                assert client.get(server.url + "/api/items").status_code == 200
        assert [t["refresh_token"] for t in saved] == [pair["refresh_token"]] * 2
        assert next(t["access_token"] for t in saved) != pair["access_token"]
        assert server.token_requests == 2


def test_revoked_refresh_token_is_invalid_grant_once(mode: Mode, oauth_server: OAuthServer) -> None:
    pair = oauth_server.issue_token("app", "read")
    creds = RefreshToken(oauth_server.token_url, "app", token=pair, client_secret="s3cret")
    items = oauth_server.url + "/api/items"
    with client_of(mode, creds) as client:
        oauth_server.revoke_refresh_tokens()
        oauth_server.expire_all()
        with pytest.raises(remedy.InvalidGrant) as first:
            client.get(items)
        with pytest.raises(ReauthenticationRequired) as second:
            client.get(items)
        assert second.value.cause is first.value
        assert oauth_server.token_requests == 1
        creds.set_token(oauth_server.issue_token("app", "read"))  # the user signed in again
        assert client.get(items).status_code == 200
    assert oauth_server.token_requests == 1


# -- token sources --------------------------------------------------------------------------


class VaultSource:
    """A token source that gets its tokens from the real server, with plain httpx."""

    def __init__(self, server: OAuthServer) -> None:
        self.server = server
        self.calls: list[str | None] = []
        self.threads: set[int] = set()

    def fetch_token(self, scope: str | None) -> Mapping[str, Any]:
        self.calls.append(scope)
        self.threads.add(threading.get_ident())
        response = httpx.post(
            self.server.token_url,
            data={"grant_type": "client_credentials", "scope": scope or "read"},
            auth=("app", "s3cret"),
        )
        return dict(response.json())


class AsyncVaultSource(VaultSource):
    async def afetch_token(self, scope: str | None) -> Mapping[str, Any]:
        self.calls.append(scope)
        async with httpx.AsyncClient() as client:
            response = await client.post(
                self.server.token_url,
                data={"grant_type": "client_credentials", "scope": scope or "read"},
                auth=("app", "s3cret"),
            )
        return dict(response.json())


def test_token_source(mode: Mode, oauth_server: OAuthServer) -> None:
    """A sync source: the async transport calls it in a worker thread."""
    source = VaultSource(oauth_server)
    with client_of(mode, source) as client:
        assert client.get(oauth_server.url + "/api/items").status_code == 200
        oauth_server.revoke_all()
        assert client.get(oauth_server.url + "/api/items").status_code == 200
        caller = mode.run(threading.get_ident)  # the thread the client is called from
    assert source.calls == [None, None]
    assert statuses(oauth_server) == [200, 401, 200]
    if mode.is_async:
        assert caller not in source.threads  # never on the event loop
    else:
        assert source.threads == {caller}


@pytest.mark.anyio
async def test_async_token_source(oauth_server: OAuthServer) -> None:
    source = AsyncVaultSource(oauth_server)
    transport = remedy.AsyncRemedyTransport(credentials=source, retry=None)
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:
        assert (await client.get(oauth_server.url + "/api/items")).status_code == 200
        oauth_server.revoke_all()
        assert (await client.get(oauth_server.url + "/api/items")).status_code == 200
    assert source.calls == [None, None]
    assert source.threads == set()  # fetch_token was never used


# -- proactive and reactive refresh ---------------------------------------------------------


def test_proactive_refresh(mode: Mode, oauth_server: OAuthServer, clock: FakeClock) -> None:
    items = oauth_server.url + "/api/items"
    with client_of(mode, cc(oauth_server), clock) as client:
        client.get(items)
        clock.now += 3509  # not due yet
        client.get(items)
        assert oauth_server.token_requests == 1
        clock.now += 32  # due: refreshed before the request, which never sees a 401
        client.get(items)
    assert oauth_server.token_requests == 2
    assert statuses(oauth_server) == [200, 200, 200]


def test_reactive_refresh_and_replay(mode: Mode, oauth_server: OAuthServer) -> None:
    items = oauth_server.url + "/api/items"
    with client_of(mode, cc(oauth_server, scope="read write")) as client:
        client.get(items)
        oauth_server.revoke_all()
        response = client.post(items, json={"name": "fig"})
        assert response.status_code == 201
        # httpx 0.28 writes compact JSON, 0.27 with spaces: compare what it means.
        assert json.loads(response.json()["received"]) == {"name": "fig"}
    assert oauth_server.token_requests == 2
    assert statuses(oauth_server) == [200, 401, 201]


def test_a_new_token_rejected_again_is_not_refreshed_again(
    mode: Mode, oauth_server: OAuthServer
) -> None:
    with client_of(mode, cc(oauth_server)) as client:
        client.get(oauth_server.url + "/api/items")
        oauth_server.reject_new_tokens(True)
        oauth_server.revoke_all()
        with pytest.raises(remedy.InvalidToken) as caught:
            client.get(oauth_server.url + "/api/items")
    assert oauth_server.token_requests == 2  # exactly one extra: no loop
    assert actions(caught.value) == ["refresh", "raise"]
    assert statuses(oauth_server) == [200, 401, 401]


# -- single flight --------------------------------------------------------------------------


def hammer(mode: Mode, client: Client, url: str) -> list[object]:
    """The statuses of CONCURRENCY requests sent at the same moment (threads, or tasks)."""
    outcomes = mode.at_once([client.later("GET", url) for _ in range(CONCURRENCY)])
    return [getattr(outcome, "status_code", outcome) for outcome, _ in outcomes]


def test_single_flight_expired_token(
    mode: Mode, oauth_server: OAuthServer, clock: FakeClock
) -> None:
    items = oauth_server.url + "/api/items"
    with client_of(mode, cc(oauth_server), clock) as client:
        client.get(items)
        clock.now += 3600  # expired, by the transport's clock
        oauth_server.expire_all()  # and by the server's
        assert hammer(mode, client, items) == [200] * CONCURRENCY
    assert oauth_server.token_requests == 2


def test_single_flight_revoked_token(mode: Mode, oauth_server: OAuthServer) -> None:
    items = oauth_server.url + "/api/items"
    with client_of(mode, cc(oauth_server)) as client:
        client.get(items)
        oauth_server.revoke_all()
        assert hammer(mode, client, items) == [200] * CONCURRENCY
    assert oauth_server.token_requests == 2


# -- token endpoint errors ------------------------------------------------------------------


def test_wrong_secret_is_invalid_client_once(mode: Mode, oauth_server: OAuthServer) -> None:
    items = oauth_server.url + "/api/items"
    with client_of(mode, cc(oauth_server, client_secret="wrong")) as client:
        with pytest.raises(remedy.InvalidClient) as first:
            client.get(items)
        assert first.value.status_code == 401
        with pytest.raises(ReauthenticationRequired) as second:
            client.get(items)
    assert second.value.cause is first.value
    assert oauth_server.token_requests == 1
    assert oauth_server.api_requests == 0


def test_invalid_scope(oauth_server: OAuthServer) -> None:
    with (
        client_of(SYNC, cc(oauth_server, scope="read bogus")) as client,
        pytest.raises(remedy.InvalidScope),
    ):
        client.get(oauth_server.url + "/api/items")
    assert oauth_server.token_requests == 1


def test_unauthorized_client(oauth_server: OAuthServer) -> None:
    oauth_server.add_client("rt-only", "s3cret", grant_types=["refresh_token"])
    with (
        client_of(SYNC, cc(oauth_server, client_id="rt-only")) as client,
        pytest.raises(remedy.UnauthorizedClient),
    ):
        client.get(oauth_server.url + "/api/items")
    assert oauth_server.token_requests == 1


def test_unsupported_grant_type() -> None:
    with OAuthServer(grant_types=["client_credentials"]) as server:
        server.add_client("app", "s3cret")
        creds = RefreshToken(
            server.token_url, "app", token={"refresh_token": "r"}, client_secret="s3cret"
        )
        with client_of(SYNC, creds) as client, pytest.raises(remedy.UnsupportedGrantType):
            client.get(server.url + "/api/items")
        assert server.token_requests == 1


def test_html_error_page_is_typed_and_retried(oauth_server: OAuthServer, clock: FakeClock) -> None:
    oauth_server.fail_next_token_requests(3, 500, None)
    with (
        client_of(SYNC, cc(oauth_server), clock) as client,
        pytest.raises(remedy.InternalServerError) as caught,
    ):
        client.get(oauth_server.url + "/api/items")
    assert caught.value.server_message is not None
    assert "Internal Server Error" in caught.value.server_message
    assert actions(caught.value) == ["retry", "retry", "raise"]
    assert oauth_server.token_requests == 3


def test_html_instead_of_a_token(oauth_server: OAuthServer) -> None:
    oauth_server.fail_next_token_requests(
        1, 200, None, body="<html><title>Sign in</title><form>...</form></html>"
    )
    with client_of(SYNC, cc(oauth_server)) as client:
        with pytest.raises(TokenResponseError) as caught:
            client.get(oauth_server.url + "/api/items")
        assert "Sign in" in str(caught.value)
        assert client.get(oauth_server.url + "/api/items").status_code == 200
    assert oauth_server.token_requests == 2


def test_2xx_with_an_error_body(oauth_server: OAuthServer) -> None:
    oauth_server.fail_next_token_requests(1, 200, "invalid_client")
    with client_of(SYNC, cc(oauth_server)) as client, pytest.raises(remedy.InvalidClient):
        client.get(oauth_server.url + "/api/items")


@pytest.mark.parametrize(
    ("status", "error", "retry_after"),
    [
        (503, "temporarily_unavailable", 1.0),
        (500, "server_error", None),
        (429, None, 2.0),
        (503, None, None),
    ],
)
def test_transient_token_endpoint_errors_are_retried(
    mode: Mode,
    oauth_server: OAuthServer,
    clock: FakeClock,
    status: int,
    error: str | None,
    retry_after: float | None,
) -> None:
    oauth_server.fail_next_token_requests(2, status, error, retry_after)
    with client_of(mode, cc(oauth_server), clock) as client:
        assert client.get(oauth_server.url + "/api/items").status_code == 200
    assert [c.status for c in oauth_server.token_log] == [status, status, 200]
    assert len(clock.sleeps) == 2
    if retry_after is not None:
        assert clock.sleeps == [retry_after, retry_after]


# -- insufficient_scope and step-up ---------------------------------------------------------


def test_insufficient_scope(oauth_server: OAuthServer) -> None:
    with (
        client_of(SYNC, cc(oauth_server)) as client,
        pytest.raises(remedy.InsufficientScope) as caught,
    ):
        client.get(oauth_server.url + "/api/admin")
    assert caught.value.scope == "admin"
    assert oauth_server.token_requests == 1


def test_step_up(mode: Mode, oauth_server: OAuthServer) -> None:
    oauth_server.add_client("boss", "s3cret", scope="read write admin")
    with client_of(mode, cc(oauth_server, client_id="boss"), step_up=True) as client:
        assert client.get(oauth_server.url + "/api/items").json()["scope"] == "read"
        assert client.get(oauth_server.url + "/api/admin").json()["scope"] == "read admin"
    assert [c.scope for c in oauth_server.token_log] == ["read", "read admin"]
    assert statuses(oauth_server) == [200, 403, 200]


def test_step_up_that_still_fails_does_not_loop(oauth_server: OAuthServer) -> None:
    with client_of(SYNC, cc(oauth_server), step_up=True) as client:  # "app" may not have admin
        client.get(oauth_server.url + "/api/items")
        with pytest.raises(remedy.InsufficientScope) as caught:
            client.get(oauth_server.url + "/api/admin")
    assert [c.scope for c in oauth_server.token_log] == ["read", "read admin"]
    assert actions(caught.value) == ["refresh", "raise"]
    assert statuses(oauth_server) == [200, 403, 403]


# -- bodies that cannot be replayed ---------------------------------------------------------


def test_a_generator_body_is_not_replayed(mode: Mode, oauth_server: OAuthServer) -> None:
    def chunks() -> object:
        return mode.one_shot(b'{"name":', b'"fig"}')

    items = oauth_server.url + "/api/items"
    with client_of(mode, cc(oauth_server, scope="read write")) as client:
        assert client.post(items, content=chunks()).json()["received"] == '{"name":"fig"}'
        oauth_server.revoke_all()
        with pytest.raises(remedy.InvalidToken) as caught:
            client.post(items, content=chunks())
    assert not isinstance(caught.value, httpx.StreamConsumed)
    assert "one-shot" in str(caught.value)
    assert oauth_server.token_requests == 1
    assert statuses(oauth_server) == [201, 401]


# -- the token never leaves its origin ------------------------------------------------------


def test_cross_origin_redirect_never_carries_the_token(
    mode: Mode, oauth_server: OAuthServer, other_server: OAuthServer
) -> None:
    target = other_server.url + "/api/echo-auth"
    with client_of(mode, cc(oauth_server), follow_redirects=True) as client:
        # the very first request binds the credentials to its origin, the redirect's own
        hop = client.get(oauth_server.url + "/redirect", params={"to": target})
        assert hop.json() == {"authorization": False, "scheme": None, "valid_token": False}
        assert client.get(oauth_server.url + "/api/items").status_code == 200
        hop = client.get(oauth_server.url + "/redirect", params={"to": target})
        assert hop.json()["authorization"] is False
    assert [c.authorization for c in other_server.api_log] == [False, False]


def test_cross_origin_redirect_with_bound_origins(
    oauth_server: OAuthServer, other_server: OAuthServer
) -> None:
    target = other_server.url + "/api/echo-auth"
    origins = [oauth_server.url]
    with client_of(SYNC, cc(oauth_server), origins=origins, follow_redirects=True) as client:
        assert client.get(target).json()["authorization"] is False  # never bound
        hop = client.get(oauth_server.url + "/redirect", params={"to": target})
        assert hop.json()["authorization"] is False
    assert oauth_server.token_requests == 1  # for the redirect to the bound origin


def test_same_origin_redirect_keeps_the_token(oauth_server: OAuthServer) -> None:
    target = oauth_server.url + "/api/echo-auth"
    with client_of(SYNC, cc(oauth_server), follow_redirects=True) as client:
        hop = client.get(oauth_server.url + "/redirect", params={"to": target})
    assert hop.json() == {"authorization": True, "scheme": "Bearer", "valid_token": True}


# -- secrets stay secret --------------------------------------------------------------------


def test_no_secret_in_logs_errors_or_reprs(
    oauth_server: OAuthServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A whole life: bind, fetch, refresh through a retried 503, a failed proactive refresh,
    a refused new token, refresh-token rotation, a revoked grant. Nothing secret gets out."""
    items = oauth_server.url + "/api/items"
    creds = cc(oauth_server)
    errors: list[BaseException] = []
    caplog.set_level(logging.DEBUG)
    with client_of(SYNC, creds, clock) as client:
        client.get(items)
        oauth_server.revoke_all()
        oauth_server.fail_next_token_requests(1, 503, retry_after=1)
        client.get(items)
        clock.now += 3541
        oauth_server.fail_next_token_requests(3, 503)
        client.get(items)  # the refresh fails; the current token carries on
        oauth_server.reject_new_tokens(True)
        oauth_server.revoke_all()
        with pytest.raises(remedy.InvalidToken) as refused:
            client.get(items)
        errors.append(refused.value)
        oauth_server.reject_new_tokens(False)
    refresh = RefreshToken(
        oauth_server.token_url,
        "app",
        token=oauth_server.issue_token("app", "read"),
        client_secret="s3cret",
    )
    with client_of(SYNC, refresh, clock) as client:
        oauth_server.expire_all()
        client.get(items)
        oauth_server.revoke_refresh_tokens()
        oauth_server.expire_all()
        with pytest.raises(remedy.InvalidGrant) as revoked:
            client.get(items)
        with pytest.raises(ReauthenticationRequired) as again:
            client.get(items)
        errors += [revoked.value, again.value]

    # The server's own threads log what they like (authlib logs issued tokens at DEBUG):
    # only what ran in this thread, the client's side, is checked.
    mine = [r for r in caplog.records if r.thread == threading.get_ident()]
    messages = [r.getMessage() for r in mine]
    assert any("binding credentials" in m for m in messages)
    assert any(m.startswith("retrying POST") for m in messages)
    assert any("token refresh failed" in m for m in messages)
    texts = [*messages, repr(creds), repr(refresh), repr(refresh.manager.token)]
    for error in errors:
        texts += [str(error), repr(error)]
        texts += [str(a) for a in remedy.attempts_of(error)]
        texts += [repr(a) for a in remedy.attempts_of(error)]
    secrets = oauth_server.secrets()
    assert len(secrets) > 5
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a secret leaked into {text!r}"
