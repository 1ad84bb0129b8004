"""Sender-constrained tokens (DPoP, RFC 9449): a stolen token is useless without the key.

Give the credentials a ``DPoPKey``: the token request and every API request then carry a proof
signed by it (method, URL, time, and the token's hash), and the server binds the token to the
key. Servers may ask for their nonce in the proofs: the transport sends the request again once
with it, and remembers each server's latest nonce from any answer, so that asking happens once.
Against a real OAuth server on 127.0.0.1 that requires nonces.
Run: ``python examples/dpop.py``.
"""

from __future__ import annotations

from typing import Any

import httpx

import httpx_remedy as remedy
from httpx_remedy.testing import OAuthServer

SECRET = "svc-secret-0123456789"


def main() -> None:
    with OAuthServer(dpop_nonce=True) as server:
        server.add_client("svc", SECRET, scope="read")

        # ES256 unless you ask for RS256, PS256, EdDSA...; or load yours: DPoPKey(pem_or_jwk).
        key = remedy.DPoPKey.generate()
        print("the key:", key)  # the algorithm and the public thumbprint, never the private key
        creds = remedy.ClientCredentials(server.token_url, "svc", SECRET, scope="read", dpop=key)
        transport = remedy.RemedyTransport(credentials=creds)
        with httpx.Client(base_url=server.url, transport=transport) as client:
            print("GET /api/items ->", client.get("/api/items").status_code, end=" ")
            print("with Authorization:", server.api_log[-1].scheme)
            said = [(c.status, c.error) for c in server.token_log]
            print(f"  token endpoint: {said[0][1]}, then {said[1][0]} DPoP (asked for its nonce)")

            # Someone copies the token out of a log and tries it without the key.
            token = creds.manager.token
            assert token is not None
            stolen = httpx.get(
                server.url + "/api/items",
                headers={"Authorization": f"Bearer {token.access_token}"},
            )
            print("the token stolen and sent as Bearer:", stolen.status_code, end=" ")
            print(stolen.json()["error"])

            # The server moves to a new nonce: the next answer announces it (DPoP-Nonce), the
            # one after carries it. No refusal, no extra round trip.
            server.rotate_dpop_nonce()
            before = len(server.api_log)
            for _ in range(3):
                client.get("/api/items")
            refusals = sum(1 for c in server.api_log[before:] if c.error == "use_dpop_nonce")
            print(f"nonce changed: 3 calls, {refusals} refusals")

        # The same key from its PEM (keep it where you keep secrets).
        print("loaded from PEM, same key:", remedy.DPoPKey(key.private_pem()) == key)

        # A token source whose tokens are DPoP-bound names its key on the transport.
        class Vault:
            def fetch_token(self, scope: str | None) -> dict[str, Any]:
                proof = key.proof("POST", server.token_url, nonce=server.rotate_dpop_nonce())
                answer = httpx.post(
                    server.token_url,
                    data={"grant_type": "client_credentials"},
                    auth=("svc", SECRET),
                    headers={"DPoP": proof},
                )
                return dict(answer.json())

        vault_transport = remedy.RemedyTransport(credentials=Vault(), dpop=key)
        with httpx.Client(base_url=server.url, transport=vault_transport) as client:
            print("a token source's DPoP token:", client.get("/api/items").status_code)


if __name__ == "__main__":
    main()
