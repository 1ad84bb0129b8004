"""``set_listeners([])`` silences the library: every line it logs comes from an event.

The lines that were logged straight on the ``httpx_remedy`` logger (binding the credentials, a
paced wait, a DPoP nonce replay at the API and at the token endpoint, a device login told to
slow down, the Redis pause listener's own failure) are events now. For each: with no listener
at all, nothing is logged, at any level; with the default ``LoggingListener``, the same line as
before at the same level (the format strings below are the ones the library used to log with);
and a listener of the transport hears the event, with its fields.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy import (
    CredentialsBound,
    DeviceCode,
    DPoPKey,
    Event,
    NonceReplayed,
    Pacer,
    PollingSlowed,
    RedisStore,
    RequestPaced,
    Retry,
    RetryBudget,
    StoreFault,
)
from httpx_remedy.testing import OAuthServer

from .helpers import API, FakeAS, FakeClock, Mode, cc

SECRET_URL = API + "/items?api_key=hunter2"
SHOWN_URL = API + "/items?api_key=[redacted]"

Scenario = Callable[[Mode, FakeClock, list[Any]], None]


# ---- the scenarios: each makes the library do one thing it used to log directly


def bind(mode: Mode, clock: FakeClock, listeners: list[Any]) -> None:
    """Credentials without ``origins=``: the first request binds them."""
    with mode.client(FakeAS(), clock, credentials=cc(), listeners=listeners) as client:
        assert client.get(API + "/items").status_code == 200
        assert client.get(API + "/items").status_code == 200  # bound once


def pace(mode: Mode, clock: FakeClock, listeners: list[Any]) -> None:
    """A spent quota: the next first send waits for the reset."""

    def api(request: httpx.Request) -> httpx.Response:
        quota = {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "7"}
        return httpx.Response(200, headers=quota)

    retry = Retry(budget=RetryBudget(), pace=Pacer(margin=0.0))
    with mode.client(api, clock, retry=retry, listeners=listeners) as client:
        client.get(SECRET_URL)
        client.get(SECRET_URL)
    assert clock.sleeps == [7]


def nonces(mode: Mode, clock: FakeClock, listeners: list[Any]) -> None:
    """DPoP with nonces: the token endpoint asks for one, then (rotated) the API does."""
    key = DPoPKey.generate()
    with OAuthServer(dpop_nonce=True) as server:
        server.add_client("app", "app-secret-0123456789", scope="read")
        creds = remedy.ClientCredentials(
            server.token_url, "app", "app-secret-0123456789", scope="read", dpop=key
        )
        transport = mode.transport(mode.network(), credentials=creds, listeners=listeners)
        with mode.wrap(transport, timeout=10) as client:
            assert client.get(server.url + "/api/items?api_key=hunter2").status_code == 200
            server.rotate_dpop_nonce()
            server.rotate_dpop_nonce()  # the nonce the client knows is stale now
            assert client.get(server.url + "/api/items?api_key=hunter2").status_code == 200
        asked = [(c.status, c.error) for c in [*server.token_log, *server.api_log]]
        assert asked.count((400, "use_dpop_nonce")) == 1
        assert asked.count((401, "use_dpop_nonce")) == 1


DEVICE_URL = "https://auth.example.com/device"
DEVICE_TOKEN_URL = "https://auth.example.com/token"


def slow_down(mode: Mode, clock: FakeClock, listeners: list[Any]) -> None:
    """A device login whose first poll is answered ``slow_down``."""
    answers = ["slow_down"]

    def server(request: httpx.Request) -> httpx.Response:
        if str(request.url) == DEVICE_URL:
            codes = {
                "device_code": "dev-code-0123456789",
                "user_code": "WDJB-MJHT",
                "verification_uri": "https://auth.example.com/activate",
                "expires_in": 600,
                "interval": 5,
            }
            return httpx.Response(200, json=codes)
        if str(request.url) == DEVICE_TOKEN_URL:
            if answers:
                return httpx.Response(400, json={"error": answers.pop()})
            token = {"access_token": "access-1", "token_type": "Bearer", "expires_in": 3600}
            return httpx.Response(200, json=token)
        return httpx.Response(200, json={"ok": True})

    device = DeviceCode(DEVICE_URL, DEVICE_TOKEN_URL, "cli", on_user_code=lambda codes: None)
    options = {"credentials": device, "origins": [API], "listeners": listeners}
    with mode.client(server, clock, **options) as client:
        assert client.get(API + "/items").status_code == 200
    assert clock.sleeps == [5, 10]


SCENARIOS: dict[str, Scenario] = {
    "bind": bind,
    "pace": pace,
    "nonces": nonces,
    "slow_down": slow_down,
}

#: What each scenario used to log, word for word: (level, the format string, its arguments
#: taken from the event that replaces it).
FORMATS: dict[type[Event], tuple[int, str, Callable[[Any], tuple[Any, ...]]]] = {
    CredentialsBound: (
        logging.INFO,
        "binding credentials to %s (the first origin requested with them)",
        lambda e: (e.origin,),
    ),
    RequestPaced: (
        logging.INFO,
        "waiting %.3gs before %s %s: pacing on the quota the server announced (%s)",
        lambda e: (e.seconds, e.method, e.url, e.source),
    ),
    PollingSlowed: (
        logging.INFO,
        "the token endpoint said slow_down: polling every %gs now",
        lambda e: (e.interval,),
    ),
}
NONCE_FORMATS = {
    "resource": (
        logging.INFO,
        "%s use_dpop_nonce for %s %s: replaying with the server's nonce",
        lambda e: (e.status, e.method, e.url),
    ),
    "token_endpoint": (
        logging.INFO,
        "the token endpoint asked for a DPoP nonce; sending the token request again with it",
        lambda e: (),
    ),
}
KINDS = {
    "bind": CredentialsBound,
    "pace": RequestPaced,
    "nonces": NonceReplayed,
    "slow_down": PollingSlowed,
}


def old_line(event: Any) -> tuple[int, str]:
    if isinstance(event, NonceReplayed):
        level, text, args = NONCE_FORMATS[event.where]
    else:
        level, text, args = FORMATS[type(event)]
    return level, text % args(event)


def library_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("httpx_remedy")]


@pytest.fixture(
    params=[
        # The DPoP nonces against a real OAuth server on 127.0.0.1.
        pytest.param(name, marks=[pytest.mark.integration] if name == "nonces" else [])
        for name in SCENARIOS
    ]
)
def scenario(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="httpx_remedy")
    return caplog


def test_no_listener_no_line(
    scenario: str, mode: Mode, clock: FakeClock, debug_log: pytest.LogCaptureFixture
) -> None:
    remedy.set_listeners([])
    SCENARIOS[scenario](mode, clock, [])
    assert library_records(debug_log) == []


def test_the_transports_listener_hears_the_event(
    scenario: str, mode: Mode, clock: FakeClock, debug_log: pytest.LogCaptureFixture
) -> None:
    remedy.set_listeners([])
    heard: list[Event] = []
    SCENARIOS[scenario](mode, clock, [heard.append])
    assert library_records(debug_log) == []
    found = [e for e in heard if isinstance(e, KINDS[scenario])]
    assert found
    for event in found:
        # No token, secret or request in any of them: the URL's secret is redacted.
        assert "hunter2" not in repr(event)
        assert "access-1" not in repr(event)
        assert not any(isinstance(v, (httpx.Request, httpx.Response)) for v in vars_of(event))
    if scenario == "bind":
        assert [(e.origin, e.at) for e in found] == [("https://api.example.com", clock.now)]
    elif scenario == "pace":
        (event,) = found
        assert (event.method, event.url, event.seconds) == ("GET", SHOWN_URL, 7)
        assert event.source == "x-ratelimit-reset"
        assert event.at == clock.start
    elif scenario == "nonces":
        assert [(e.where, e.status, e.method) for e in found] == [
            ("token_endpoint", 400, "POST"),
            ("resource", 401, "GET"),
        ]
        assert found[0].url.endswith("/oauth/token")
        assert found[1].url.endswith("/api/items?api_key=[redacted]")
    else:
        assert [e.interval for e in found] == [10]


def test_the_logging_listener_logs_the_line_it_used_to(
    scenario: str, mode: Mode, clock: FakeClock, debug_log: pytest.LogCaptureFixture
) -> None:
    remedy.set_listeners([remedy.LoggingListener()])
    heard: list[Event] = []
    SCENARIOS[scenario](mode, clock, [heard.append])
    lines = [(r.levelno, r.getMessage()) for r in library_records(debug_log)]
    wanted = [old_line(e) for e in heard if isinstance(e, KINDS[scenario])]
    assert wanted
    for line in wanted:
        assert line in lines
    assert all("hunter2" not in text for _, text in lines)


def vars_of(event: Event) -> list[Any]:
    return [getattr(event, name) for name in type(event).__dataclass_fields__]


# ---- RedisStore's pause listener, on an error that is not Redis's


class _Quick(threading.Event):
    """The store's ``_closed``, whose waits after a failure last no time: the test need not
    wait the listener's second before it tries again."""

    def wait(self, timeout: float | None = None) -> bool:
        return super().wait(0)


class _PubSub:
    def __init__(self, store: RedisStore) -> None:
        self.store = store

    def subscribe(self, channel: str) -> None:
        pass

    def get_message(self, timeout: float) -> None:
        self.store._closed.set()  # one round, then the listener stops


class _Client:
    """Enough of a redis client for the pause listener: its first ``pubsub()`` breaks."""

    def __init__(self) -> None:
        self.store: RedisStore | None = None
        self.calls = 0

    def register_script(self, script: str) -> Callable[..., Any]:
        return lambda **kwargs: None

    def pubsub(self, **options: Any) -> _PubSub:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("a client that is not quite redis-py's")
        assert self.store is not None
        return _PubSub(self.store)


def run_pause_listener() -> _Client:
    client = _Client()
    store = RedisStore("redis://:pw@127.0.0.1:1/0", client=client)
    client.store = store
    store._closed = _Quick()
    worker = threading.Thread(target=store._listen_forever)
    worker.start()  # fails, tries again, works once
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert client.calls == 2
    return client


def test_the_pause_listeners_own_error_is_a_store_fault(
    debug_log: pytest.LogCaptureFixture,
) -> None:
    """Told once, as a StoreFault (the pauses of other processes go unheard meanwhile), and
    told again when it works; not a DEBUG traceback every second on the logger."""
    heard: list[Event] = []
    remedy.set_listeners([heard.append])
    run_pause_listener()
    assert library_records(debug_log) == []
    faults = [e for e in heard if isinstance(e, StoreFault)]
    where = "the pause listener of Redis at redis://127.0.0.1:1/0"  # no password
    assert [(e.store, e.error, e.recovered) for e in faults] == [
        (where, "RuntimeError", False),
        (where, "", True),
    ]
    assert "pw" not in repr(faults)

    debug_log.clear()
    remedy.set_listeners([remedy.LoggingListener()])
    run_pause_listener()
    lines = [(r.levelno, r.getMessage()) for r in library_records(debug_log)]
    assert lines == [
        (
            logging.WARNING,
            f"{where} is unavailable (RuntimeError); sharing is off, each process goes on by "
            "itself until it answers again",
        ),
        (logging.INFO, f"{where} answers again; sharing is back on"),
    ]

    debug_log.clear()
    remedy.set_listeners([])
    run_pause_listener()
    assert library_records(debug_log) == []


# ---- and no line of the library's own bypasses the listeners again


def test_only_the_hooks_log_directly() -> None:
    """Every ``logging`` call in the package is the logging listener's, or ``_hooks``' (a
    listener's or hook's own failure, documented as such): a new line must be an event."""
    import ast
    from pathlib import Path

    package = Path(remedy.__file__).parent
    allowed = {"_hooks.py", "_log_listener.py"}
    methods = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.name in allowed or "testing" in path.relative_to(package).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in methods
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"logger", "logging", "log"}
            ):
                found.append(f"{path.name}:{node.lineno}")
    assert found == []
