"""What a 2xx costs, in instructions per request, beside bare httpx and the anchors, in one run.

Every case sends the same GET to an in-memory transport that answers a prebuilt 200, so httpx's
own work is the whole baseline and any overhead shows. Counted with valgrind's callgrind (see
``_callgrind.py``): instruction counts stay put where wall time moves by several percent between
runs. Printed as ratios to bare httpx (and to bare httpx2 for the httpx2 rows).

Run: ``python benchmarks/instructions.py`` (about a minute; needs valgrind and gcc).
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from pathlib import Path
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
        "httpx-remedy, default policy with pace=False": get(
            httpx.Client(transport=remedy.RemedyTransport(fixed(), retry=remedy.Retry(pace=False)))
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


# ---- The async transport, under asyncio and trio, with 1 task and with 100 at once

BATCH = 100  # requests per call of an async case: one event loop run amortised over them


def afixed(stack: ModuleType = httpx) -> Any:
    """The async twin of :func:`fixed`."""

    class AFixed(stack.AsyncBaseTransport):  # type: ignore[name-defined,misc]
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/token":
                return stack.Response(200, json=TOKEN)  # type: ignore[no-any-return]
            return stack.Response(  # type: ignore[no-any-return]
                200, content=BODY, headers={"content-type": "application/json"}
            )

    return AFixed()


class Batch:
    """One call sends :data:`BATCH` GETs through ``client`` on ``backend`` (``asyncio`` or
    ``trio``): in one task one after the other (``tasks=1``), or in ``BATCH`` tasks at once.
    ``requests`` tells ``_callgrind`` to count per request."""

    requests = BATCH

    def __init__(self, client: Any, backend: str, tasks: int) -> None:
        self.client, self.backend, self.tasks = client, backend, tasks
        self.url = API + "/items"
        if backend == "asyncio":
            import asyncio

            self.loop = asyncio.new_event_loop()

    async def _one_task(self) -> None:
        for _ in range(BATCH):
            await self.client.get(self.url)

    async def _asyncio_tasks(self) -> None:
        import asyncio

        await asyncio.gather(*(self.client.get(self.url) for _ in range(BATCH)))

    async def _trio_tasks(self) -> None:
        import trio

        async with trio.open_nursery() as nursery:
            for _ in range(BATCH):
                nursery.start_soon(self.client.get, self.url)

    def __call__(self) -> None:
        if self.backend == "asyncio":
            batch = self._one_task() if self.tasks == 1 else self._asyncio_tasks()
            self.loop.run_until_complete(batch)
        else:
            import trio

            trio.run(self._one_task if self.tasks == 1 else self._trio_tasks)


def async_cases(stack: ModuleType = httpx) -> dict[str, Callable[[], object]]:
    """Bare ``AsyncClient``, the default policy and the credentials, per backend and task
    count; each row's ratio is read against the bare row of its group."""
    label = "" if stack is httpx else " on httpx2"
    built: dict[str, Callable[[], object]] = {}
    for backend in ("asyncio", "trio"):
        for tasks in (1, BATCH):
            group = f"{backend}, {tasks} task{'s' if tasks > 1 else ''}{label}"
            credentials = remedy.ClientCredentials(TOKEN_URL, "app", "bench-secret-value")
            clients = {
                f"bare AsyncClient [{group}]": stack.AsyncClient(transport=afixed(stack)),
                f"httpx-remedy default [{group}]": stack.AsyncClient(
                    transport=remedy.AsyncRemedyTransport(afixed(stack))
                ),
                f"httpx-remedy default + ClientCredentials [{group}]": stack.AsyncClient(
                    transport=remedy.AsyncRemedyTransport(
                        afixed(stack), credentials=credentials, origins=[API]
                    )
                ),
            }
            for name, client in clients.items():
                built[name] = Batch(client, backend, tasks)
    return built


def baseline_of(name: str) -> str:
    """The bare row a case is read against: its own stack's, backend's and task count's."""
    if name.endswith("]"):
        return "bare AsyncClient [" + name.rsplit("[", 1)[1]
    if "httpx2" in name and "authlib" not in name:
        return "bare httpx2"
    return "bare httpx"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="count only the cases whose name holds TEXT (repeatable; the bare rows they are "
        "read against are always counted)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the callgrind dumps in DIR, for callgrind_annotate --inclusive=yes",
    )
    args = parser.parse_args()
    everything: dict[str, Callable[[], object]] = {
        **cases(),
        **dpop_cases(),
        **listener_cases(),
        **async_cases(),
    }
    stack = _httpx2()
    if stack is not None:
        everything.update(async_cases(stack))
    chosen = everything
    if args.only:
        wanted = {n for n in everything if any(text in n for text in args.only)}
        wanted |= {baseline_of(n) for n in wanted} | {"bare httpx"}
        chosen = {n: fn for n, fn in everything.items() if n in wanted}
    counts = measure(chosen, keep=args.keep)
    if counts is None:  # inside valgrind: the outer process prints
        return
    report(
        "In-memory transport, instructions per request (callgrind)",
        counts,
        "bare httpx",
        {name: baseline_of(name) for name in counts},
    )


if __name__ == "__main__":
    main()
