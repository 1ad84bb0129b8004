"""What a 2xx costs, in instructions per request, beside bare httpx and the anchors, in one run.

Every case sends the same GET to an in-memory transport that answers a prebuilt 200, so httpx's
own work is the whole baseline and any overhead shows. Counted with valgrind's callgrind (see
``_callgrind.py``): instruction counts stay put where wall time moves by several percent between
runs. Printed as ratios to bare httpx (and to bare httpx2 for the httpx2 rows).

Run: ``python benchmarks/instructions.py`` (about a minute; needs valgrind and gcc).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

import httpx
from _callgrind import measure, report

import httpx_remedy as remedy

BODY = b'{"items": [1, 2, 3]}'
API = "https://api.example.com"
TOKEN_URL = "https://auth.example.com/token"
TOKEN = {"access_token": "bench-token", "token_type": "Bearer", "expires_in": 10**8}


def fixed(stack: ModuleType = httpx) -> Any:
    """A transport of ``stack`` answering one small 200 (a token to the token endpoint)."""

    class Fixed(stack.BaseTransport):  # type: ignore[name-defined,misc]
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/token":
                return stack.Response(200, json=TOKEN)  # type: ignore[no-any-return]
            return stack.Response(  # type: ignore[no-any-return]
                200, content=BODY, headers={"content-type": "application/json"}
            )

    return Fixed()


def _httpx2() -> ModuleType | None:
    try:
        import httpx2
    except ImportError:
        return None
    return httpx2 if httpx2 is not httpx else None


def cases() -> dict[str, Callable[[], object]]:
    from httpx_retries import Retry as HRRetry
    from httpx_retries import RetryTransport

    def get(client: Any) -> Callable[[], object]:
        url = API + "/items"
        return lambda: client.get(url)

    credentials = remedy.ClientCredentials(TOKEN_URL, "app", "bench-secret-value")
    built: dict[str, Callable[[], object]] = {
        "bare httpx": get(httpx.Client(transport=fixed())),
        "bare httpx + static Authorization header on the client": get(
            httpx.Client(transport=fixed(), headers={"Authorization": "Bearer bench-token"})
        ),
        "httpx-retries RetryTransport(Retry(total=3))": get(
            httpx.Client(transport=RetryTransport(transport=fixed(), retry=HRRetry(total=3)))
        ),
        "httpx-remedy, retry=None": get(
            httpx.Client(transport=remedy.RemedyTransport(fixed(), retry=None))
        ),
        "httpx-remedy, default policy": get(
            httpx.Client(transport=remedy.RemedyTransport(fixed()))
        ),
        "httpx-remedy, default + ClientCredentials (token held)": get(
            httpx.Client(
                transport=remedy.RemedyTransport(fixed(), credentials=credentials, origins=[API])
            )
        ),
    }
    stack = _httpx2()
    if stack is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # authlib >= 1.9 warns about plain httpx
            from authlib.integrations.httpx_client import OAuth2Client
        authlib_token = {**TOKEN, "expires_at": 4_000_000_000}
        built["bare httpx2"] = get(stack.Client(transport=fixed(stack)))
        built["httpx-remedy default on httpx2"] = get(
            stack.Client(transport=remedy.RemedyTransport(fixed(stack)))
        )
        built["httpx-remedy default + ClientCredentials on httpx2"] = get(
            stack.Client(
                transport=remedy.RemedyTransport(
                    fixed(stack),
                    credentials=remedy.ClientCredentials(TOKEN_URL, "app", "bench-secret-value"),
                    origins=[API],
                )
            )
        )
        built["authlib OAuth2Client on httpx2 (token set)"] = get(
            OAuth2Client("app", "secret", token=authlib_token, transport=fixed(stack))
        )
    return built


# ---- DPoP beside Bearer (kept apart from the cases above, so that both evolve on their own)

DPOP_TOKEN = {"access_token": "bench-token", "token_type": "DPoP", "expires_in": 10**8}


def dpop_cases() -> dict[str, Callable[[], object]]:
    """The credentials row with a DPoP-bound token: a proof signed per request (``jti``,
    ``iat``, ``htm``, ``htu``, the cached ``ath``; the header encoded once per key), and the
    ``DPoP-Nonce`` check of each answer; and one proof signed alone, for the signature's part."""

    class FixedDPoP(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/token":
                return httpx.Response(200, json=DPOP_TOKEN)
            return httpx.Response(200, content=BODY, headers={"content-type": "application/json"})

    def get(alg: str) -> Callable[[], object]:
        key = remedy.DPoPKey.generate(alg)
        creds = remedy.ClientCredentials(TOKEN_URL, "app", "bench-secret-value", dpop=key)
        transport = remedy.RemedyTransport(FixedDPoP(), credentials=creds, origins=[API])
        client = httpx.Client(transport=transport)
        url = API + "/items"
        return lambda: client.get(url)

    es256 = remedy.DPoPKey.generate("ES256")
    return {
        "httpx-remedy, default + ClientCredentials, DPoP ES256": get("ES256"),
        "httpx-remedy, default + ClientCredentials, DPoP EdDSA": get("EdDSA"),
        "httpx-remedy, default + ClientCredentials, DPoP RS256": get("RS256"),
        "one ES256 proof alone (DPoPKey.sign)": lambda: es256.sign(
            "GET", API + "/items", 1_700_000_000, None, "ath"
        ),
    }


def main() -> None:
    counts = measure({**cases(), **dpop_cases()})
    if counts is None:  # inside valgrind: the outer process prints
        return
    report("In-memory transport, instructions per request (callgrind)", counts, "bare httpx")


if __name__ == "__main__":
    main()
