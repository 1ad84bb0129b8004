"""The testing OAuthServer's device grant (RFC 8628) and DPoP (RFC 9449), by plain httpx.

Proofs are made here with joserfc alone, so that a fault in the server is not mistaken for one
in the library (which the examples and the demo run against it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey

from httpx_remedy.testing.oauth_server import OAuthServer

from .dpop_server import hand_proof

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def server() -> Iterator[OAuthServer]:
    with OAuthServer(device_interval=1, dpop_nonce=True) as started:
        started.add_client("cli", auth_method="none", scope="read write")
        started.add_client("app", "s3cret", scope="read")
        yield started


@pytest.fixture
def key() -> ECKey:
    return ECKey.generate_key("P-256")


def codes_for(server: OAuthServer, client: str = "cli", scope: str = "read") -> dict[str, Any]:
    response = httpx.post(
        server.device_authorization_url, data={"client_id": client, "scope": scope}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def poll(server: OAuthServer, device_code: str, **headers: str) -> httpx.Response:
    data = {"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": "cli"}
    return httpx.post(server.token_url, data=data, headers=headers)


def test_a_device_login(server: OAuthServer) -> None:
    codes = codes_for(server)
    assert codes["interval"] == 1
    assert codes["expires_in"] == 600
    assert codes["verification_uri"] == server.url + "/device"
    assert codes["verification_uri_complete"].endswith("user_code=" + codes["user_code"])
    assert codes["device_code"] in server.secrets()
    assert poll(server, codes["device_code"]).json()["error"] == "authorization_pending"
    # Sooner than the interval: slow_down, and the interval is 5 s longer for this code.
    assert poll(server, codes["device_code"]).json()["error"] == "slow_down"
    server.approve(codes["user_code"])
    token = poll(server, codes["device_code"]).json()
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "read"
    assert token["refresh_token"]
    # A device code gets one token response.
    assert poll(server, codes["device_code"]).json()["error"] == "invalid_request"
    with pytest.raises(KeyError, match="no pending device login"):
        server.approve(codes["user_code"])
    calls = [(c.grant_type, c.client_auth, c.error) for c in server.token_log]
    assert calls[-1] == (DEVICE_GRANT, "none", "invalid_request")


def test_a_device_login_denied_or_expired() -> None:
    with OAuthServer(device_expires_in=0) as quick:
        quick.add_client("cli", auth_method="none")
        assert poll(quick, codes_for(quick)["device_code"]).json()["error"] == "expired_token"
    with OAuthServer() as server:
        server.add_client("cli", auth_method="none")
        codes = codes_for(server)
        server.deny(codes["user_code"])
        assert poll(server, codes["device_code"]).json()["error"] == "access_denied"
        with pytest.raises(KeyError):
            server.deny("NOPE-NOPE")


def test_a_public_client_gets_no_client_credentials(server: OAuthServer) -> None:
    answer = httpx.post(
        server.token_url, data={"grant_type": "client_credentials", "client_id": "cli"}
    )
    assert answer.json()["error"] in ("invalid_client", "unauthorized_client")
    confidential = httpx.post(
        server.device_authorization_url, data={"scope": "read"}, auth=("app", "s3cret")
    )
    assert confidential.status_code == 200
    as_public = httpx.post(
        server.device_authorization_url, data={"scope": "read", "client_id": "app"}
    )
    assert as_public.json()["error"] == "invalid_client"
    with pytest.raises(ValueError, match="needs a client_secret"):
        server.add_client("x", auth_method="client_secret_post")


def dpop_token(server: OAuthServer, key: ECKey, scope: str = "read") -> dict[str, Any]:
    data = {"grant_type": "client_credentials", "scope": scope}
    first = httpx.post(
        server.token_url,
        data=data,
        auth=("app", "s3cret"),
        headers={"DPoP": hand_proof(key, "POST", server.token_url)},
    )
    assert (first.status_code, first.json()["error"]) == (400, "use_dpop_nonce")
    proof = hand_proof(key, "POST", server.token_url, nonce=first.headers["DPoP-Nonce"])
    second = httpx.post(
        server.token_url, data=data, auth=("app", "s3cret"), headers={"DPoP": proof}
    )
    assert second.status_code == 200, second.text
    assert "DPoP-Nonce" not in second.headers  # it carried the current one
    assert server.token_log[-1].dpop
    return dict(second.json())


def test_dpop_tokens_and_their_proofs(server: OAuthServer, key: ECKey) -> None:
    token = dpop_token(server, key)
    assert token["token_type"] == "DPoP"
    access, url = token["access_token"], server.url + "/api/items"
    nonce = server.rotate_dpop_nonce()
    old_nonce_proof = hand_proof(key, "GET", url, access_token=access, nonce="stale")
    refused = httpx.get(url, headers={"Authorization": f"DPoP {access}", "DPoP": old_nonce_proof})
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'DPoP realm="api", error="use_dpop_nonce"'
    assert refused.headers["DPoP-Nonce"] == nonce
    proof = hand_proof(key, "GET", url + "?page=2", access_token=access, nonce=nonce)
    headers = {"Authorization": f"DPoP {access}", "DPoP": proof}
    good = httpx.get(url + "?page=2", headers=headers)
    assert good.status_code == 200, good.text
    assert server.api_log[-1].scheme == "DPoP"
    replayed = httpx.get(url, headers=headers)
    assert replayed.json()["error"] == "invalid_dpop_proof"
    for bad in (
        {"access_token": "another"},
        {"htu": server.url + "/api/admin"},
        {"htm": "POST"},
        {"key": ECKey.generate_key("P-256")},
    ):
        made = hand_proof(
            bad.get("key", key),
            bad.get("htm", "GET"),
            bad.get("htu", url),
            access_token=bad.get("access_token", access),
            nonce=nonce,
        )
        answer = httpx.get(url, headers={"Authorization": f"DPoP {access}", "DPoP": made})
        assert answer.status_code == 401, bad
    as_bearer = httpx.get(url, headers={"Authorization": f"Bearer {access}"})
    assert as_bearer.json()["error"] == "invalid_token"
    assert as_bearer.headers["WWW-Authenticate"].startswith("DPoP ")
    admin = hand_proof(key, "GET", server.url + "/api/admin", access_token=access, nonce=nonce)
    forbidden = httpx.get(
        server.url + "/api/admin", headers={"Authorization": f"DPoP {access}", "DPoP": admin}
    )
    assert forbidden.status_code == 403
    assert 'error="insufficient_scope", scope="admin"' in forbidden.headers["WWW-Authenticate"]


def test_a_2xx_announces_the_next_nonce(server: OAuthServer, key: ECKey) -> None:
    access = dpop_token(server, key)["access_token"]
    url = server.url + "/api/items"
    current = server.rotate_dpop_nonce()
    previous = server._dpop._nonces[0]
    proof = hand_proof(key, "GET", url, access_token=access, nonce=previous)
    answer = httpx.get(url, headers={"Authorization": f"DPoP {access}", "DPoP": proof})
    assert answer.status_code == 200
    assert answer.headers["DPoP-Nonce"] == current


def test_a_public_clients_refresh_token_is_bound_to_its_key(
    server: OAuthServer, key: ECKey
) -> None:
    codes = codes_for(server)
    server.approve(codes["user_code"])
    nonce = server.rotate_dpop_nonce()
    proof = hand_proof(key, "POST", server.token_url, nonce=nonce)
    token = poll(server, codes["device_code"], DPoP=proof).json()
    assert token["token_type"] == "DPoP"
    refresh = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    refresh["client_id"] = "cli"
    unproven = httpx.post(server.token_url, data=refresh)
    assert unproven.json()["error"] == "invalid_grant"
    other = hand_proof(ECKey.generate_key("P-256"), "POST", server.token_url, nonce=nonce)
    assert httpx.post(server.token_url, data=refresh, headers={"DPoP": other}).status_code == 400
    proof = hand_proof(key, "POST", server.token_url, nonce=nonce)
    again = httpx.post(server.token_url, data=refresh, headers={"DPoP": proof})
    assert again.status_code == 200, again.text
    assert again.json()["token_type"] == "DPoP"


def test_proofs_are_checked_at_the_token_endpoint(server: OAuthServer, key: ECKey) -> None:
    nonce = server.rotate_dpop_nonce()
    data = {"grant_type": "client_credentials"}
    for proofs in (
        [hand_proof(key, "POST", server.url + "/elsewhere", nonce=nonce)],
        ["not.a.jwt"],
        [hand_proof(key, "POST", server.token_url, nonce=nonce)] * 2,
    ):
        answer = httpx.post(
            server.token_url,
            data=data,
            auth=("app", "s3cret"),
            headers=[("DPoP", p) for p in proofs],
        )
        assert answer.json()["error"] == "invalid_dpop_proof", proofs


def _jwt(header: dict[str, Any], claims: dict[str, Any], key: ECKey | None = None) -> str:
    import base64
    import json

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    if key is not None:
        from joserfc import jwt

        return str(jwt.encode(header, claims, key))
    return f"{part(header)}.{part(claims)}.c2ln"


def test_the_checker_refuses_what_rfc_9449_refuses(key: ECKey) -> None:
    import time as clock

    from httpx_remedy.testing._server_dpop import DPoPChecker, ProofRejected

    checker = DPoPChecker()
    url = "https://rs.example.com/x"
    now = clock.time()
    jwk = key.as_dict(private=False)
    good_header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}
    base = {"jti": "j1", "htm": "GET", "htu": url, "iat": int(now)}
    cases: list[tuple[list[str], str, str | None]] = [
        ([], "0 DPoP headers", None),
        (["x.y"], "not a JWT", None),
        ([_jwt({"typ": "dpop+jwt"}, base)[:-5]], "not a JWT", None),
        (["WyJhIl0.WyJiIl0.c2ln"], "not a JWT", None),
        ([_jwt({**good_header, "typ": "JWT"}, base)], "typ", None),
        ([_jwt({**good_header, "alg": "HS256"}, base)], "alg 'HS256'", None),
        ([_jwt({**good_header, "jwk": key.as_dict(private=True)}, base)], "private key", None),
        ([_jwt(good_header, base)], "bad signature", None),
        ([_jwt(good_header, {**base, "jti": ""}, key)], "no jti", None),
        ([_jwt(good_header, {**base, "htm": "POST"}, key)], "htm mismatch", None),
        ([_jwt(good_header, {**base, "htu": "https://rs.example.com:x/"}, key)], "htu", None),
        ([_jwt(good_header, {**base, "iat": int(now) - 600}, key)], "iat", None),
        ([_jwt(good_header, {**base, "jti": "a"}, key)], "ath mismatch", "token"),
        ([_jwt(good_header, {**base, "jti": "b", "ath": "x"}, key)], "ath without", None),
    ]
    for proofs, why, token in cases:
        with pytest.raises(ProofRejected, match=why):
            checker.check(proofs, "GET", url, now, token)
    proof = _jwt(good_header, {**base, "jti": "once"}, key)
    assert checker.check([proof], "GET", url, now).jkt == key.thumbprint()
    with pytest.raises(ProofRejected, match="jti replayed"):
        checker.check([proof], "GET", url, now)
    # Old jtis are forgotten once there are many.
    checker._jtis = {f"k:{i}": now - 1000 for i in range(10_001)}
    checker.check([_jwt(good_header, {**base, "jti": "late"}, key)], "GET", url, now)
    assert len(checker._jtis) == 1
    # An IPv6 host keeps its brackets.
    from httpx_remedy.testing._server_dpop import expected_htu

    assert expected_htu("https://[::1]:8443/a?b#c") == "https://[::1]:8443/a"
