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


# ---- Listeners (issue 14): what observing costs, on a 2xx and on a request retried once


def listener_cases() -> dict[str, Callable[[], object]]:
    """A 2xx with listeners installed (no event is made: the same as none), and a request
    answered 503 then 200 (retried at once: no wait) with no listener, the logging listener
    (its INFO lines off, as by default, then on into a null handler), and the OpenTelemetry
    listener (the SDK's providers, in memory; no span current)."""
    import logging

    import tenacity

    remedy.set_listeners([])  # the process-wide ones; each row brings its own
    logging.getLogger("httpx_remedy").propagate = False
    quiet = remedy.LoggingListener(logging.getLogger("bench.quiet"))
    logging.getLogger("bench.quiet").setLevel(logging.WARNING)
    loud_logger = logging.getLogger("bench.loud")
    loud_logger.setLevel(logging.DEBUG)
    loud_logger.addHandler(logging.NullHandler())
    loud_logger.propagate = False
    loud = remedy.LoggingListener(loud_logger)
    listeners: dict[str, list[Any]] = {
        "no listener": [],
        "logging listener, INFO off": [quiet],
        "logging listener, every line to a handler": [loud],
    }
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider

        from httpx_remedy.otel import OpenTelemetryListener

        listeners["OpenTelemetry listener"] = [
            OpenTelemetryListener(
                tracer_provider=TracerProvider(),
                meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]),
            )
        ]
    except ImportError:  # the otel extra is not installed
        pass

    class Flaky(httpx.BaseTransport):
        """503 and 200 in turn."""

        def __init__(self) -> None:
            self.sends = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            self.sends += 1
            status = 503 if self.sends % 2 else 200
            return httpx.Response(status, content=BODY, headers={"content-type": "text/plain"})

    at_once = remedy.Retry(wait=tenacity.wait_none(), budget=None)
    url = API + "/items"
    built: dict[str, Callable[[], object]] = {}
    every = [one for found in listeners.values() for one in found]
    ok = httpx.Client(transport=remedy.RemedyTransport(fixed(), listeners=every))
    built["2xx, default policy, every listener below installed"] = lambda: ok.get(url)
    for name, installed in listeners.items():
        transport = remedy.RemedyTransport(Flaky(), retry=at_once, listeners=installed)
        client = httpx.Client(transport=transport)
        built[f"503 then 200 (one retry), {name}"] = lambda c=client: c.get(url)
    return built


def main() -> None:
    counts = measure({**cases(), **dpop_cases(), **listener_cases()})
    if counts is None:  # inside valgrind: the outer process prints
        return
    report("In-memory transport, instructions per request (callgrind)", counts, "bare httpx")


if __name__ == "__main__":
    main()
