"""What a DPoP proof per request costs, beside the same request with a Bearer token, in wall time.

Every case sends the same GET through an ``httpx.Client`` to an in-memory transport answering
a prebuilt 200, with the token already held: the Bearer row sets one header, the DPoP rows sign
a proof for each request (ES256, EdDSA, RS256) and check the answer for a ``DPoP-Nonce``. Measured
in interleaved rounds (``_common.compare``); the instruction counts of the same rows are in
``instructions.py``. Run: ``python benchmarks/dpop.py [--quick]``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import httpx
from _common import compare, report

import httpx_remedy as remedy

BODY = b'{"items": [1, 2, 3]}'
API = "https://api.example.com"
TOKEN_URL = "https://auth.example.com/token"


def fixed(token_type: str) -> httpx.BaseTransport:
    """A transport answering a token of ``token_type`` at /token and a small 200 elsewhere."""

    class Fixed(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/token":
                token = {"access_token": "bench-token", "token_type": token_type}
                return httpx.Response(200, json={**token, "expires_in": 10**8})
            return httpx.Response(200, content=BODY, headers={"content-type": "application/json"})

    return Fixed()


def client(token_type: str, key: remedy.DPoPKey | None = None) -> Callable[[], object]:
    creds = remedy.ClientCredentials(TOKEN_URL, "app", "bench-secret-value", dpop=key)
    transport = remedy.RemedyTransport(fixed(token_type), credentials=creds, origins=[API])
    http = httpx.Client(transport=transport)
    url = API + "/items"
    return lambda: http.get(url)


def main() -> None:
    quick = "--quick" in sys.argv
    bare = httpx.Client(transport=fixed("Bearer"))
    cases: dict[str, Callable[[], object]] = {
        "bare httpx": lambda: bare.get(API + "/items"),
        "ClientCredentials, Bearer token": client("Bearer"),
        "ClientCredentials, DPoP ES256": client("DPoP", remedy.DPoPKey.generate("ES256")),
        "ClientCredentials, DPoP EdDSA": client("DPoP", remedy.DPoPKey.generate("EdDSA")),
        "ClientCredentials, DPoP RS256": client("DPoP", remedy.DPoPKey.generate("RS256")),
    }
    results = compare(cases, calls=200 if quick else 1000, rounds=3 if quick else 9)
    report("In-memory transport, a token held (wall time)", results, "bare httpx")
    bearer = results["ClientCredentials, Bearer token"]
    print("\n  a DPoP proof per request, over the Bearer row:")
    for name, value in results.items():
        if "DPoP" in name:
            print(f"  {name:<46} {(value - bearer) * 1e6:>+8.1f} us")


if __name__ == "__main__":
    main()
