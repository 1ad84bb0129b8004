"""A user's token pair, refreshed for you and saved so that it survives a restart.

After the user signs in, your app holds an access token and a refresh token. ``RefreshToken``
refreshes the access token when it expires or is rejected; most servers then *rotate* the
refresh token (the old one stops working), so the new pair must be saved every time:
``on_token`` does that. Against a real OAuth server on 127.0.0.1.
Run: ``python examples/refresh_tokens.py``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import httpx

import httpx_remedy as remedy
from httpx_remedy.testing import OAuthServer

SECRET = "app-secret-0123456789"


def open_client(server: OAuthServer, token_file: Path) -> tuple[httpx.Client, remedy.RefreshToken]:
    """What the app does at start-up: load the saved pair, save every new one."""

    def save(token: dict[str, Any]) -> None:
        # Called after every refresh with the whole pair. A real app would keep it somewhere
        # private (a keyring, a 0600 file, a database), never in a log.
        token_file.write_text(json.dumps(token))
        print("  on_token: saved the new pair to", token_file.name)

    creds = remedy.RefreshToken(
        server.token_url,
        "app",
        token=json.loads(token_file.read_text()),
        client_secret=SECRET,
        on_token=save,
    )
    transport = remedy.RemedyTransport(credentials=creds)
    return httpx.Client(base_url=server.url, transport=transport), creds


def main() -> None:
    with OAuthServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.add_client("app", SECRET, scope="read write")
        token_file = Path(tmp) / "token.json"
        # The pair the user got when they signed in (normally from the authorization code flow).
        token_file.write_text(json.dumps(server.issue_token("app", scope="read")))
        first_refresh_token = json.loads(token_file.read_text())["refresh_token"]

        print("first run")
        client, _ = open_client(server, token_file)
        with client:
            print("  first call:", client.get("/api/items").status_code, end=", ")
            print(server.token_requests, "token requests (the access token is still good)")
            server.expire_all()  # the access token expires: 401, refresh, replay
            print("  after expiry:", client.get("/api/items").status_code)
        rotated = json.loads(token_file.read_text())["refresh_token"]
        print("  the refresh token was rotated:", rotated != first_refresh_token)

        print("\nrestart (a new process would do exactly this)")
        client, creds = open_client(server, token_file)
        with client:
            before = server.token_requests
            print("  with the saved pair:", client.get("/api/items").status_code, end=", ")
            print(server.token_requests - before, "token requests (the saved token is reused)")
            server.expire_all()  # refreshed with the *rotated* refresh token from the file
            print("  after expiry:", client.get("/api/items").status_code)

            print("\nthe user revokes the app's access")
            server.revoke_refresh_tokens()
            server.expire_all()
            before = server.token_requests
            try:
                client.get("/api/items")
            except remedy.InvalidGrant as e:  # the refresh token is dead: no retry can fix it
                print("  InvalidGrant:", e)  # one line: the token request, the code, the fix
            try:
                client.get("/api/items")
            except remedy.ReauthenticationRequired as e:
                # Remembered: the token endpoint is not asked again on every request.
                print("  ReauthenticationRequired; first cause:", type(e.cause).__name__)
            print("  token requests for these two calls:", server.token_requests - before)

            # The user signs in again: give the credentials the new pair and carry on.
            creds.set_token(server.issue_token("app", scope="read"))
            print("  after signing in again:", client.get("/api/items").status_code)


if __name__ == "__main__":
    main()
