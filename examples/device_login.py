"""A command-line login (the device grant, RFC 8628): show a code, wait for the user, keep going.

The way ``gh auth login`` works: the tool shows a code and a URL; the user opens the URL on any
device, types the code and approves; the tool, polling meanwhile, gets its tokens. It saves them
(and the DPoP key they are bound to) so that the next run needs no login: the refresh token takes
over. Against a real OAuth server on 127.0.0.1; this script also plays the user, approving a
moment after the code is shown. Run: ``python examples/device_login.py``.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import httpx

import httpx_remedy as remedy
from httpx_remedy.testing import OAuthServer


def open_client(server: OAuthServer, home: Path, **options: Any) -> httpx.Client:
    """What the tool does at start-up: the saved key and tokens if any, and a login if not."""
    key_file, token_file = home / "key.pem", home / "tokens.json"
    if not key_file.exists():
        # The tokens will be bound to this key: it is kept with them, private (0600).
        key_file.write_bytes(remedy.DPoPKey.generate().private_pem())
        key_file.chmod(0o600)
    saved = json.loads(token_file.read_text()) if token_file.exists() else None

    def save(tokens: dict[str, Any]) -> None:
        token_file.write_text(json.dumps(tokens))
        token_file.chmod(0o600)

    creds = remedy.DeviceCode(
        server.device_authorization_url,
        server.token_url,
        "my-cli",
        scope="read",
        token=saved,
        on_token=save,
        dpop=remedy.DPoPKey(key_file.read_bytes()),
        **options,
    )
    return httpx.Client(base_url=server.url, transport=remedy.RemedyTransport(credentials=creds))


def show_and_approve(server: OAuthServer) -> Any:
    def show(codes: remedy.DeviceAuthorization) -> None:
        print(" ", codes)  # "To sign in, open ... and enter the code ABCD-EFGH"
        # Here the user approves in their browser, a moment later.
        threading.Timer(1.5, server.approve, args=(codes.user_code,)).start()

    return show


def logins(server: OAuthServer) -> int:
    return sum(1 for c in server.token_log if c.grant_type and "device_code" in c.grant_type)


def main() -> None:
    with (
        OAuthServer(device_interval=1, dpop_nonce=True) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        server.add_client("my-cli", auth_method="none", scope="read")  # a public client
        home = Path(tmp)

        print("first run")
        with open_client(server, home, on_user_code=show_and_approve(server)) as client:
            status = client.get("/api/items").status_code
            print(f"  first run: {status} after the user approved ({logins(server)} polls)")
        print("  saved:", sorted(os.listdir(home)))

        print("\nsecond run (a new process would do exactly this)")
        before = logins(server)
        with open_client(server, home) as client:
            status = client.get("/api/items").status_code
            print(f"  second run: {status}, no login ({logins(server) - before} polls)")
            server.expire_all()  # the access token expires: the refresh token takes over
            status = client.get("/api/items").status_code
            dpop = server.token_log[-1].dpop
            print(f"  after expiry: {status}, refreshed (DPoP-bound: {dpop})")

        print("\nwhen the login does not happen")
        elsewhere = Path(tmp) / "other"
        elsewhere.mkdir()

        def deny(codes: remedy.DeviceAuthorization) -> None:
            server.deny(codes.user_code)

        with open_client(server, elsewhere, on_user_code=deny) as client:
            try:
                client.get("/api/items")
            except remedy.AccessDenied as e:
                print("  AccessDenied:", e.error)

        with open_client(server, elsewhere, on_user_code=lambda codes: None, timeout=1.5) as client:
            try:
                client.get("/api/items")
            except remedy.LoginTimeout as e:  # also a TimeoutError
                print(f"  LoginTimeout: {e.cap} ran out after {e.polls} poll(s)")

        cancel = threading.Event()  # set it from a Cancel button, a signal handler...
        threading.Timer(0.5, cancel.set).start()
        with open_client(
            server, elsewhere, on_user_code=lambda codes: None, cancel=cancel
        ) as client:
            try:
                client.get("/api/items")
            except remedy.LoginCancelled as e:
                print(f"  LoginCancelled: after {e.waited:.1f}s")


if __name__ == "__main__":
    main()
