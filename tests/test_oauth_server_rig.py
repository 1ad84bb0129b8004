"""The test rig itself: a real authlib authorization server and protected API on 127.0.0.1.

Plain httpx only (no remedy transport), so that a fault in the rig is not mistaken for one in
the library.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from httpx_remedy.testing.oauth_server import OAuthServer

pytestmark = pytest.mark.integration  # a real server on 127.0.0.1 in every test


@pytest.fixture
def oauth_server() -> Iterator[OAuthServer]:
    with OAuthServer() as server:
        server.add_client("app", "s3cret", scope="read write")
        yield server


def get_token(server: OAuthServer, scope: str | None = "read", **data: str) -> dict[str, object]:
    form = {"grant_type": "client_credentials", **data}
    if scope is not None:
        form["scope"] = scope
    response = httpx.post(server.token_url, data=form, auth=("app", "s3cret"))
    assert response.status_code == 200, response.text
    return dict(response.json())


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_endpoint_issues_bearer_tokens(oauth_server: OAuthServer) -> None:
    response = httpx.post(
        oauth_server.token_url,
        data={"grant_type": "client_credentials", "scope": "read"},
        auth=("app", "s3cret"),
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    data = response.json()
    assert data["token_type"] == "Bearer"
    assert data["expires_in"] == 3600
    assert data["scope"] == "read"
    assert "refresh_token" not in data  # RFC 6749 §4.4.3
    assert oauth_server.url.startswith("http://127.0.0.1:")
    assert oauth_server.token_url == oauth_server.url + "/oauth/token"
    assert oauth_server.token_requests == 1
    (call,) = oauth_server.token_log
    assert (call.grant_type, call.client_id, call.scope, call.client_auth, call.status) == (
        "client_credentials",
        "app",
        "read",
        "client_secret_basic",
        200,
    )


def test_no_scope_asked_gets_the_clients_whole_scope(oauth_server: OAuthServer) -> None:
    assert get_token(oauth_server, scope=None)["scope"] == "read write"


def test_each_client_authenticates_only_its_own_way(oauth_server: OAuthServer) -> None:
    oauth_server.add_client("poster", "p0st", auth_method="client_secret_post")
    as_post = {"grant_type": "client_credentials", "client_id": "poster", "client_secret": "p0st"}
    assert httpx.post(oauth_server.token_url, data=as_post).status_code == 200
    as_basic = httpx.post(
        oauth_server.token_url,
        data={"grant_type": "client_credentials"},
        auth=("poster", "p0st"),
    )
    assert as_basic.status_code == 401
    assert as_basic.json()["error"] == "invalid_client"
    assert as_basic.headers["www-authenticate"].startswith("Basic ")
    wrong = httpx.post(
        oauth_server.token_url, data={"grant_type": "client_credentials"}, auth=("app", "nope")
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    log = oauth_server.token_log
    assert [c.client_auth for c in log] == [
        "client_secret_post",
        "client_secret_basic",
        "client_secret_basic",
    ]
    assert [c.error for c in log] == [None, "invalid_client", "invalid_client"]


def test_token_endpoint_errors(oauth_server: OAuthServer) -> None:
    oauth_server.add_client("cc-only", "s3cret", grant_types=["client_credentials"])
    url = oauth_server.token_url
    bogus = httpx.post(
        url, data={"grant_type": "client_credentials", "scope": "bogus"}, auth=("app", "s3cret")
    )
    assert (bogus.status_code, bogus.json()["error"]) == (400, "invalid_scope")
    password = httpx.post(url, data={"grant_type": "password"}, auth=("app", "s3cret"))
    assert password.json()["error"] == "unsupported_grant_type"
    refresh = httpx.post(
        url, data={"grant_type": "refresh_token", "refresh_token": "x"}, auth=("cc-only", "s3cret")
    )
    assert refresh.json()["error"] == "unauthorized_client"
    unknown = httpx.post(
        url, data={"grant_type": "refresh_token", "refresh_token": "x"}, auth=("app", "s3cret")
    )
    assert unknown.json()["error"] == "invalid_grant"


def test_grant_types_can_be_switched_off() -> None:
    with OAuthServer(grant_types=["client_credentials"]) as server:
        server.add_client("app", "s3cret")
        pair = server.issue_token("app", "read")
        response = httpx.post(
            server.token_url,
            data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
            auth=("app", "s3cret"),
        )
        assert response.json()["error"] == "unsupported_grant_type"


def test_api_answers_rfc6750_challenges(oauth_server: OAuthServer) -> None:
    items = oauth_server.url + "/api/items"
    missing = httpx.get(items)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="api"'  # no error code: §3.1
    unknown = httpx.get(items, headers=bearer("not-a-token"))
    assert unknown.status_code == 401
    challenge = unknown.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="api", error="invalid_token"')
    token = get_token(oauth_server)["access_token"]
    ok = httpx.get(items, headers=bearer(token))
    assert ok.status_code == 200
    assert ok.json()["items"]
    admin = httpx.get(oauth_server.url + "/api/admin", headers=bearer(token))
    assert admin.status_code == 403
    assert 'error="insufficient_scope"' in admin.headers["www-authenticate"]
    assert 'scope="admin"' in admin.headers["www-authenticate"]
    write = httpx.post(items, headers=bearer(token), json={"a": 1})
    assert write.status_code == 403  # POST needs "write"
    assert 'scope="write"' in write.headers["www-authenticate"]
    assert oauth_server.api_requests == 5
    assert [(c.method, c.path, c.authorization, c.status) for c in oauth_server.api_log] == [
        ("GET", "/api/items", False, 401),
        ("GET", "/api/items", True, 401),
        ("GET", "/api/items", True, 200),
        ("GET", "/api/admin", True, 403),
        ("POST", "/api/items", True, 403),
    ]


def test_post_echoes_the_body(oauth_server: OAuthServer) -> None:
    token = get_token(oauth_server, scope="read write")["access_token"]
    response = httpx.post(oauth_server.url + "/api/items", headers=bearer(token), content=b"hi")
    assert response.status_code == 201
    assert response.json() == {"received": "hi", "length": 2}


@pytest.mark.parametrize("knob", ["expire_all", "revoke_all"])
def test_expire_and_revoke_invalidate_existing_tokens_only(
    oauth_server: OAuthServer, knob: str
) -> None:
    items = oauth_server.url + "/api/items"
    old = get_token(oauth_server)["access_token"]
    getattr(oauth_server, knob)()
    rejected = httpx.get(items, headers=bearer(old))
    assert rejected.status_code == 401
    assert 'error="invalid_token"' in rejected.headers["www-authenticate"]
    new = get_token(oauth_server)["access_token"]
    assert httpx.get(items, headers=bearer(new)).status_code == 200


def test_reject_new_tokens(oauth_server: OAuthServer) -> None:
    items = oauth_server.url + "/api/items"
    before = get_token(oauth_server)["access_token"]
    oauth_server.reject_new_tokens(True)
    during = get_token(oauth_server)["access_token"]  # issued normally...
    assert httpx.get(items, headers=bearer(during)).status_code == 401  # ...then refused
    assert httpx.get(items, headers=bearer(before)).status_code == 200
    oauth_server.reject_new_tokens(False)
    after = get_token(oauth_server)["access_token"]
    assert httpx.get(items, headers=bearer(after)).status_code == 200
    assert httpx.get(items, headers=bearer(during)).status_code == 401


def refresh(server: OAuthServer, refresh_token: object) -> httpx.Response:
    return httpx.post(
        server.token_url,
        data={"grant_type": "refresh_token", "refresh_token": str(refresh_token)},
        auth=("app", "s3cret"),
    )


def test_refresh_tokens_rotate(oauth_server: OAuthServer) -> None:
    pair = oauth_server.issue_token("app", "read", expires_in=120)
    assert pair["expires_in"] == 120
    items = oauth_server.url + "/api/items"
    assert httpx.get(items, headers=bearer(pair["access_token"])).status_code == 200
    first = refresh(oauth_server, pair["refresh_token"])
    assert first.status_code == 200
    data = first.json()
    assert data["refresh_token"] != pair["refresh_token"]
    assert data["scope"] == "read"
    assert httpx.get(items, headers=bearer(data["access_token"])).status_code == 200
    reused = refresh(oauth_server, pair["refresh_token"])
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    assert refresh(oauth_server, data["refresh_token"]).status_code == 200


def test_rotation_can_be_switched_off() -> None:
    with OAuthServer(rotate_refresh_tokens=False) as server:
        server.add_client("app", "s3cret")
        pair = server.issue_token("app", "read")
        for _ in range(2):
            response = refresh(server, pair["refresh_token"])
            assert response.status_code == 200
            assert "refresh_token" not in response.json()
        server.revoke_refresh_tokens()
        assert refresh(server, pair["refresh_token"]).json()["error"] == "invalid_grant"


def test_fail_next_token_requests(oauth_server: OAuthServer) -> None:
    oauth_server.fail_next_token_requests(1, retry_after=2)
    oauth_server.fail_next_token_requests(1, 500, None)
    oauth_server.fail_next_token_requests(1, 200, None, body="<html>login</html>")
    form = {"grant_type": "client_credentials"}
    busy = httpx.post(oauth_server.token_url, data=form, auth=("app", "s3cret"))
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "2"
    assert busy.json()["error"] == "temporarily_unavailable"
    page = httpx.post(oauth_server.token_url, data=form, auth=("app", "s3cret"))
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>500 Internal Server Error</title>" in page.text
    login = httpx.post(oauth_server.token_url, data=form, auth=("app", "s3cret"))
    assert (login.status_code, login.text) == (200, "<html>login</html>")
    assert httpx.post(oauth_server.token_url, data=form, auth=("app", "s3cret")).json()[
        "access_token"
    ]
    assert [(c.status, c.error) for c in oauth_server.token_log] == [
        (503, "temporarily_unavailable"),
        (500, None),
        (200, None),
        (200, None),
    ]


def test_fail_next_api_requests(oauth_server: OAuthServer) -> None:
    token = get_token(oauth_server)["access_token"]
    oauth_server.fail_next_api_requests(2, 429, retry_after=1)
    oauth_server.fail_next_api_requests(1, 503)
    items = oauth_server.url + "/api/items"
    statuses = [httpx.get(items, headers=bearer(token)) for _ in range(4)]
    assert [r.status_code for r in statuses] == [429, 429, 503, 200]
    assert statuses[0].headers["retry-after"] == "1"
    assert statuses[0].headers["content-type"] == "application/problem+json"
    assert statuses[0].json()["status"] == 429


def test_redirect_and_echo_auth(oauth_server: OAuthServer) -> None:
    token = get_token(oauth_server)["access_token"]
    echo = oauth_server.url + "/api/echo-auth"
    assert httpx.get(echo).json() == {
        "authorization": False,
        "scheme": None,
        "valid_token": False,
    }
    assert httpx.get(echo, headers=bearer(token)).json() == {
        "authorization": True,
        "scheme": "Bearer",
        "valid_token": True,
    }
    hop = httpx.get(oauth_server.url + "/redirect", params={"to": echo})
    assert (hop.status_code, hop.headers["location"]) == (302, echo)


def test_jwt_client_authentication(oauth_server: OAuthServer) -> None:
    """RFC 7523 client assertions, signed here with joserfc directly."""
    secret = "a-shared-secret-of-enough-bytes"
    key = RSAKey.generate_key(2048)
    oauth_server.add_client("hs", secret, auth_method="client_secret_jwt")
    oauth_server.add_client(
        "rs", auth_method="private_key_jwt", public_key=key.as_pem(private=False)
    )

    def assertion(client_id: str, signing_key: object, alg: str, jti: str) -> str:
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": oauth_server.token_url,
            "exp": 4_000_000_000,
            "jti": jti,
        }
        return jwt.encode({"alg": alg}, claims, signing_key)  # type: ignore[arg-type]

    def post(client_id: str, value: str) -> httpx.Response:
        return httpx.post(
            oauth_server.token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": value,
            },
        )

    hs = assertion("hs", OctKey.import_key(secret), "HS256", "1")
    assert post("hs", hs).status_code == 200
    assert post("hs", hs).json()["error"] == "invalid_client"  # the jti was used
    rs = assertion("rs", key, "RS256", "2")
    assert post("rs", rs).status_code == 200
    forged = assertion("rs", RSAKey.generate_key(2048), "RS256", "3")
    assert post("rs", forged).json()["error"] == "invalid_client"
    assert [c.client_auth for c in oauth_server.token_log] == [
        "client_secret_jwt",
        "client_secret_jwt",
        "private_key_jwt",
        "private_key_jwt",
    ]


def test_counters_are_thread_safe(oauth_server: OAuthServer) -> None:
    barrier = threading.Barrier(20)

    def fetch() -> None:
        barrier.wait()
        get_token(oauth_server)

    threads = [threading.Thread(target=fetch) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert oauth_server.token_requests == 20
    assert len(oauth_server.secrets()) == 21  # the client secret and 20 access tokens


def test_secrets_lists_everything_secret(oauth_server: OAuthServer) -> None:
    pair = oauth_server.issue_token("app", "read")
    assert {"s3cret", pair["access_token"], pair["refresh_token"]} <= oauth_server.secrets()


def test_stop_closes_the_port() -> None:
    server = OAuthServer().start()
    assert server.start() is server  # starting twice is harmless
    url = server.url
    assert "127.0.0.1" in repr(server)
    server.stop()
    server.stop()
    assert repr(server) == "<OAuthServer stopped>"
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/api/echo-auth")


def test_basic_credentials_are_form_decoded(oauth_server: OAuthServer) -> None:
    """RFC 6749 §2.3.1: the id and secret are form-encoded before Basic; the server decodes."""
    oauth_server.add_client("odd", "50%+off:/=")
    encoded = base64.b64encode(b"odd:50%25%2Boff%3A%2F%3D").decode()
    response = httpx.post(
        oauth_server.token_url,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {encoded}"},
    )
    assert response.status_code == 200
    assert response.json()["access_token"]
    ((client_id, status),) = [(c.client_id, c.status) for c in oauth_server.token_log]
    assert (client_id, status) == ("odd", 200)


def test_flask_is_imported_only_when_a_server_starts() -> None:
    code = (
        "import sys\n"
        "from httpx_remedy.testing.oauth_server import OAuthServer\n"
        "server = OAuthServer()\n"
        "server.add_client('app', 's3cret')\n"
        "assert 'flask' not in sys.modules, 'flask imported too early'\n"
        "with server:\n"
        "    assert 'flask' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
