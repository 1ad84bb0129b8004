"""The oidc rig itself (``tests/oidc/server.mjs``), driven by plain httpx and hand-made proofs.

What the library's DPoP and device-grant tests will lean on is shown to work here first: the
token endpoint's and the resource's DPoP nonces, the resource's proof checks (``ath``, ``htu``,
``htm``, a replayed ``jti``, another key), the device approval, denial, expiry and ``slow_down``,
and that the rig's process never outlives its user.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.oidc_server import (
    DEVICE_GRANT,
    SESSION_POLL_SPACING,
    OIDCRig,
    oidc_rig_fixture,  # noqa: F401  (the session fixture "oidc")
    oidc_rig_for_tests,
    start_oidc_rig,
)

pytestmark = pytest.mark.integration


def dpop_proof(
    key: ECKey,
    htm: str,
    htu: str,
    *,
    nonce: str | None = None,
    access_token: str | None = None,
    jti: str | None = None,
    iat: int | None = None,
) -> str:
    """An RFC 9449 §4.2 proof, ES256, made here and nowhere else."""
    claims: dict[str, Any] = {
        "jti": jti or str(uuid.uuid4()),
        "htm": htm,
        "htu": htu,
        "iat": int(time.time()) if iat is None else iat,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        digest = hashlib.sha256(access_token.encode("ascii")).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def key() -> ECKey:
    return ECKey.generate_key("P-256")


def dpop_token(oidc: OIDCRig, http: httpx.Client, key: ECKey, scope: str = "read") -> str:
    """A DPoP-bound client_credentials token for the ``dpop`` client (nonce dance included)."""
    auth = ("dpop", oidc.secrets["dpop"] or "")
    data = {"grant_type": "client_credentials", "scope": scope}
    proof = dpop_proof(key, "POST", oidc.token_url)
    first = http.post(oidc.token_url, auth=auth, data=data, headers={"DPoP": proof})
    nonce = first.headers["DPoP-Nonce"]
    proof = dpop_proof(key, "POST", oidc.token_url, nonce=nonce)
    second = http.post(oidc.token_url, auth=auth, data=data, headers={"DPoP": proof})
    assert second.status_code == 200, second.text
    assert second.json()["token_type"] == "DPoP"
    return str(second.json()["access_token"])


def challenge(response: httpx.Response) -> str:
    return response.headers.get("WWW-Authenticate", "")


# ---- DPoP at the token endpoint


def test_token_endpoint_demands_a_server_nonce(
    oidc: OIDCRig, http: httpx.Client, key: ECKey
) -> None:
    auth = ("dpop", oidc.secrets["dpop"] or "")
    data = {"grant_type": "client_credentials", "scope": "read"}
    proof = dpop_proof(key, "POST", oidc.token_url)
    first = http.post(oidc.token_url, auth=auth, data=data, headers={"DPoP": proof})
    assert first.status_code == 400
    assert first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["DPoP-Nonce"]
    proof = dpop_proof(key, "POST", oidc.token_url, nonce=nonce)
    second = http.post(oidc.token_url, auth=auth, data=data, headers={"DPoP": proof})
    assert second.status_code == 200, second.text
    assert second.json()["token_type"] == "DPoP"
    # A stale or made-up nonce is answered with a fresh one, never accepted.
    proof = dpop_proof(key, "POST", oidc.token_url, nonce="not-a-nonce-of-ours")
    third = http.post(oidc.token_url, auth=auth, data=data, headers={"DPoP": proof})
    assert third.json()["error"] == "use_dpop_nonce"
    assert third.headers["DPoP-Nonce"]


def test_a_dpop_client_without_a_proof_is_refused(oidc: OIDCRig, http: httpx.Client) -> None:
    auth = ("dpop", oidc.secrets["dpop"] or "")
    response = http.post(oidc.token_url, auth=auth, data={"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_token_endpoint_checks_the_proof_itself(
    oidc: OIDCRig, http: httpx.Client, key: ECKey
) -> None:
    auth = ("dpop", oidc.secrets["dpop"] or "")
    data = {"grant_type": "client_credentials", "scope": "read"}
    nonce = oidc.dpop_nonce()
    wrong_htu = dpop_proof(key, "POST", oidc.issuer + "/elsewhere", nonce=nonce)
    response = http.post(oidc.token_url, auth=auth, data=data, headers={"DPoP": wrong_htu})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


# ---- DPoP at the protected resource


def test_the_resource_accepts_a_good_proof_with_its_nonce(
    oidc: OIDCRig, http: httpx.Client, key: ECKey
) -> None:
    token = dpop_token(oidc, http, key)
    nonce = oidc.dpop_nonce()
    proof = dpop_proof(key, "GET", oidc.resource_url, nonce=nonce, access_token=token)
    response = http.get(
        oidc.resource_url, headers={"Authorization": f"DPoP {token}", "DPoP": proof}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "client_id": "dpop",
        "scope": "read",
        "token_type": "DPoP",
        "method": "GET",
    }
    # The query and fragment are not part of htu (RFC 9449 §4.2).
    proof = dpop_proof(key, "GET", oidc.resource_url + "?x=1#y", nonce=nonce, access_token=token)
    response = http.get(
        oidc.resource_url + "?x=1", headers={"Authorization": f"DPoP {token}", "DPoP": proof}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("nonce", [None, "not-a-nonce-of-ours"])
def test_the_resource_asks_for_its_nonce(
    oidc: OIDCRig, http: httpx.Client, key: ECKey, nonce: str | None
) -> None:
    token = dpop_token(oidc, http, key)
    proof = dpop_proof(key, "GET", oidc.resource_url, nonce=nonce, access_token=token)
    response = http.get(
        oidc.resource_url, headers={"Authorization": f"DPoP {token}", "DPoP": proof}
    )
    assert response.status_code == 401
    assert challenge(response).startswith('DPoP realm="')
    assert 'error="use_dpop_nonce"' in challenge(response)
    fresh = response.headers["DPoP-Nonce"]
    # ... and accepts the very same request once the proof carries it.
    proof = dpop_proof(key, "GET", oidc.resource_url, nonce=fresh, access_token=token)
    response = http.get(
        oidc.resource_url, headers={"Authorization": f"DPoP {token}", "DPoP": proof}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("what", "change", "description"),
    [
        ("ath", {"access_token": "another token"}, "DPoP proof ath mismatch"),
        ("htu", {"htu": "/api/write"}, "DPoP proof htu mismatch"),
        ("htm", {"htm": "POST"}, "DPoP proof htm mismatch"),
    ],
)
def test_the_resource_refuses_a_proof_for_something_else(
    oidc: OIDCRig,
    http: httpx.Client,
    key: ECKey,
    what: str,
    change: dict[str, str],
    description: str,
) -> None:
    token = dpop_token(oidc, http, key)
    nonce = oidc.dpop_nonce()
    htm = change.get("htm", "GET")
    htu = oidc.issuer + change["htu"] if "htu" in change else oidc.resource_url
    proof = dpop_proof(key, htm, htu, nonce=nonce, access_token=change.get("access_token", token))
    response = http.get(
        oidc.resource_url, headers={"Authorization": f"DPoP {token}", "DPoP": proof}
    )
    assert response.status_code == 401, what
    assert 'error="invalid_dpop_proof"' in challenge(response)
    assert response.json() == {"error": "invalid_dpop_proof", "error_description": description}


def test_the_resource_refuses_a_replayed_proof(
    oidc: OIDCRig, http: httpx.Client, key: ECKey
) -> None:
    token = dpop_token(oidc, http, key)
    nonce = oidc.dpop_nonce()
    proof = dpop_proof(key, "GET", oidc.resource_url, nonce=nonce, access_token=token)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    assert http.get(oidc.resource_url, headers=headers).status_code == 200
    replayed = http.get(oidc.resource_url, headers=headers)
    assert replayed.status_code == 401
    assert 'DPoP realm="' in challenge(replayed)
    assert replayed.json()["error"] == "invalid_token"
    assert "replay" in replayed.json()["error_description"].lower()


def test_the_resource_refuses_a_proof_by_another_key(
    oidc: OIDCRig, http: httpx.Client, key: ECKey
) -> None:
    token = dpop_token(oidc, http, key)
    nonce = oidc.dpop_nonce()
    thief = ECKey.generate_key("P-256")
    proof = dpop_proof(thief, "GET", oidc.resource_url, nonce=nonce, access_token=token)
    response = http.get(
        oidc.resource_url, headers={"Authorization": f"DPoP {token}", "DPoP": proof}
    )
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "failed jkt verification",
    }


def test_a_dpop_token_is_not_a_bearer_token_nor_the_other_way_round(
    oidc: OIDCRig, http: httpx.Client, key: ECKey
) -> None:
    token = dpop_token(oidc, http, key)
    as_bearer = http.get(oidc.resource_url, headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401
    assert challenge(as_bearer).startswith('DPoP realm="')
    assert 'error="invalid_token"' in challenge(as_bearer)

    bearer = http.post(
        oidc.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": "post",
            "client_secret": oidc.secrets["post"],
            "scope": "read",
        },
    ).json()["access_token"]
    nonce = oidc.dpop_nonce()
    proof = dpop_proof(key, "GET", oidc.resource_url, nonce=nonce, access_token=bearer)
    as_dpop = http.get(
        oidc.resource_url, headers={"Authorization": f"DPoP {bearer}", "DPoP": proof}
    )
    assert as_dpop.status_code == 401
    assert "not sender-constrained" in as_dpop.json()["error_description"]


def test_the_resource_challenges_for_bearer_tokens_too(oidc: OIDCRig, http: httpx.Client) -> None:
    nothing = http.get(oidc.resource_url)
    assert nothing.status_code == 401
    schemes = nothing.headers.get_list("WWW-Authenticate")
    assert [s.split(" ")[0] for s in schemes] == ["Bearer", "DPoP"]
    assert all("error=" not in s for s in schemes)  # RFC 6750 §3.1: no error without a token

    unknown = http.get(oidc.resource_url, headers={"Authorization": "Bearer not-a-token"})
    assert unknown.status_code == 401
    assert challenge(unknown).startswith('Bearer realm="')
    assert 'error="invalid_token"' in challenge(unknown)


def test_the_resource_names_the_scope_it_needs(oidc: OIDCRig, http: httpx.Client) -> None:
    token = http.post(
        oidc.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": "post",
            "client_secret": oidc.secrets["post"],
            "scope": "read",
        },
    ).json()["access_token"]
    response = http.get(oidc.write_url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in challenge(response)
    assert 'scope="write"' in challenge(response)


# ---- the device grant


def poll(oidc: OIDCRig, http: httpx.Client, device_code: str) -> httpx.Response:
    return http.post(
        oidc.token_url,
        data={"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": "device"},
    )


def test_device_codes_are_approved_by_the_test(oidc: OIDCRig, http: httpx.Client) -> None:
    codes = oidc.device_authorization(scope="openid offline_access read")
    assert codes["interval"] == 1
    assert codes["verification_uri"] == f"{oidc.issuer}/device"
    assert poll(oidc, http, codes["device_code"]).json()["error"] == "authorization_pending"
    oidc.approve(codes["user_code"], account_id="bob")
    time.sleep(SESSION_POLL_SPACING)  # the rig's pacing
    token = poll(oidc, http, codes["device_code"])
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read"
    assert {"refresh_token", "id_token"} <= set(body)
    used = http.get(oidc.resource_url, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert used.json()["sub"] == "bob"
    # A device code is good for one token response.
    time.sleep(SESSION_POLL_SPACING)
    assert poll(oidc, http, codes["device_code"]).json()["error"] == "invalid_grant"


def test_a_device_code_can_be_denied_or_expire(oidc: OIDCRig, http: httpx.Client) -> None:
    denied = oidc.device_authorization()
    oidc.deny(denied["user_code"])
    assert poll(oidc, http, denied["device_code"]).json()["error"] == "access_denied"
    expired = oidc.device_authorization()
    oidc.expire(expired["user_code"])
    assert poll(oidc, http, expired["device_code"]).json()["error"] == "expired_token"
    with pytest.raises(AssertionError, match="404"):
        oidc.approve(expired["user_code"])


def test_polling_too_fast_is_slowed_down(oidc: OIDCRig, http: httpx.Client) -> None:
    codes = oidc.device_authorization()
    assert poll(oidc, http, codes["device_code"]).json()["error"] == "authorization_pending"
    # Too early: slow_down, and the spacing grows by the rig's step (1 s) for good.
    assert poll(oidc, http, codes["device_code"]).json()["error"] == "slow_down"
    time.sleep(SESSION_POLL_SPACING + 0.1)
    assert poll(oidc, http, codes["device_code"]).json()["error"] == "slow_down"


def test_slow_down_on_demand(oidc: OIDCRig, http: httpx.Client) -> None:
    codes = oidc.device_authorization()
    oidc.slow_down(codes["user_code"], times=2)
    assert poll(oidc, http, codes["device_code"]).json()["error"] == "slow_down"
    assert poll(oidc, http, codes["device_code"]).json()["error"] == "slow_down"


def test_device_tokens_can_be_dpop_bound_with_nonces(
    oidc: OIDCRig, http: httpx.Client, key: ECKey
) -> None:
    codes = oidc.device_authorization()
    oidc.approve(codes["user_code"])
    data = {"grant_type": DEVICE_GRANT, "device_code": codes["device_code"], "client_id": "device"}
    first = http.post(
        oidc.token_url, data=data, headers={"DPoP": dpop_proof(key, "POST", oidc.token_url)}
    )
    assert first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["DPoP-Nonce"]
    time.sleep(SESSION_POLL_SPACING)
    proof = dpop_proof(key, "POST", oidc.token_url, nonce=nonce)
    token = http.post(oidc.token_url, data=data, headers={"DPoP": proof}).json()
    assert token["token_type"] == "DPoP"
    # A public client's refresh token is bound to the key too: no proof, no refresh.
    refresh = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    refresh["client_id"] = "device"
    assert http.post(oidc.token_url, data=refresh).json()["error"] == "invalid_grant"
    proof = dpop_proof(key, "POST", oidc.token_url, nonce=nonce)
    again = http.post(oidc.token_url, data=refresh, headers={"DPoP": proof})
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] != token["refresh_token"]


# ---- the rig's bookkeeping and its process


def test_the_rig_logs_what_reached_it(oidc: OIDCRig, http: httpx.Client) -> None:
    oidc.forget_requests()
    http.post(oidc.token_url, data={"grant_type": "client_credentials", "client_id": "nobody"})
    http.get(oidc.resource_url)
    assert oidc.requests() == [
        {
            "method": "POST",
            "path": "/token",
            "grant_type": "client_credentials",
            "dpop": False,
            "status": 401,
            "error": "invalid_client",
        },
        {
            "method": "GET",
            "path": "/api/resource",
            "dpop": False,
            "status": 401,
            "error": "invalid_token",
        },
    ]


def test_the_rig_stops_with_its_context(tmp_path: Any, key: ECKey, http: httpx.Client) -> None:
    """And its options are the server's: here DPoP proofs need no nonce, and device polls
    are not paced (for a client on a fake clock), but for the slow_down the test asks for."""
    with start_oidc_rig(tmp_path, dpop_nonce=False, poll_spacing_ms=0) as rig:
        process = rig.process
        assert process.poll() is None
        codes = rig.device_authorization()
        polls = [poll(rig, http, codes["device_code"]).json()["error"] for _ in range(3)]
        rig.slow_down(codes["user_code"])
        polls += [poll(rig, http, codes["device_code"]).json()["error"] for _ in range(2)]
        assert polls == ["authorization_pending"] * 3 + ["slow_down", "authorization_pending"]
        proof = dpop_proof(key, "POST", rig.token_url)
        token = httpx.post(
            rig.token_url,
            auth=("dpop", rig.secrets["dpop"] or ""),
            data={"grant_type": "client_credentials"},
            headers={"DPoP": proof},
        )
        assert token.status_code == 200, token.text
    assert process.poll() is not None
    assert not alive(process.pid)


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting for its reaper does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_rig_dies_with_the_test_process(tmp_path: Any) -> None:
    """Even a SIGKILLed test process leaves no rig behind: the rig's stdin closes."""
    script = (
        "import sys, time\n"
        "from tests.oidc_server import start_oidc_rig\n"
        "with start_oidc_rig() as rig:\n"
        "    print(rig.process.pid, flush=True)\n"
        "    time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=5)
        give_up = time.monotonic() + 5
        while alive(pid) and time.monotonic() < give_up:
            time.sleep(0.02)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
            pytest.fail("the rig outlived its test process")
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def test_a_missing_node_skips_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("HTTPX_REMEDY_REQUIRE_OIDC", raising=False)
    with pytest.raises(pytest.skip.Exception, match="node is not installed"):
        next(oidc_rig_for_tests())
    monkeypatch.setenv("HTTPX_REMEDY_REQUIRE_OIDC", "1")
    with pytest.raises(pytest.fail.Exception, match="HTTPX_REMEDY_REQUIRE_OIDC=1"):
        next(oidc_rig_for_tests())
