"""The whole transport against a hostile server: whatever it answers, every call ends well.

Hypothesis drives ``RemedyTransport`` and ``AsyncRemedyTransport`` (asyncio and trio) inside a
real client, with and without credentials, with any status, header bytes and body, delivered
whole or as a stream that may break, in sequences (the transport retries and refreshes, so one
call may see several answers). The property, for every call:

- it returns a response or raises a documented exception: a typed ``HTTPError`` for the last
  answer sent (its class the catalog's for that status), a ``RemedyError`` where one is
  documented, or the very exception the server raised on purpose; nothing else;
- a response comes back with exactly the status, header bytes and body bytes the server sent;
- the sends are bounded (``max_attempts`` plus two token replays per request, and as many
  token requests as there are token fixes), and so is the time: no wait over
  ``max_retry_after``, and each call well under two seconds of wall time;
- no secret (client secret, access or refresh token) appears in the error's text, its
  attempts, its pickled or redacted copy, or the log, even when the server echoes it back;
  no token goes to an origin it is not bound to.

A smaller variant writes raw response heads with odd bytes on a socket (``rawserver``) for the
real ``httpx.HTTPTransport`` to parse, through the remedy transports.

Every example set is derandomized, so the suite cannot flake. To hunt for bugs, run longer on
fresh random examples::

    HTTPX_REMEDY_FUZZ_EXAMPLES=5000 pytest --no-cov tests/test_transport_fuzz.py
"""

from __future__ import annotations

import base64
import functools
import gc
import logging
import math
import os
import pickle
import ssl
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import httpx_remedy as remedy

from .helpers import FakeClock, on_clock
from .hostile import (
    API,
    CLIENT_ID,
    CLIENT_SECRET,
    NEW_TOKEN,
    SOURCE_ANSWERS,
    TOKEN_URL,
    Answer,
    AsyncFuzzSource,
    FuzzSource,
    Hostile,
    RawAnswer,
    Sent,
    Stage,
    answers,
    raw_answers,
)
from .rawserver import RawServer, answer

# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------

#: HTTPX_REMEDY_FUZZ_EXAMPLES=N runs each property N times on fresh random examples.
LONG_RUN = int(os.environ.get("HTTPX_REMEDY_FUZZ_EXAMPLES") or 0)


def fuzz(examples: int) -> settings:
    """A fixed, derandomized set of ``examples`` (or the long run's count, random)."""
    return settings(
        max_examples=LONG_RUN or examples,
        deadline=None,
        derandomize=not LONG_RUN,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )


#: Bounds the redirects a call may follow (each hop is a request of its own to the transport).
MAX_REDIRECTS = 3
#: Each call, sync or async, ends within this much wall time, even on a loaded machine.
CALL_SECONDS = 2.0
REMEDY_DIR = str(Path(remedy.__file__).parent)


# --------------------------------------------------------------------------------------------
# The setup of one example
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicySpec:
    max_attempts: int
    max_retry_after: float
    deadline: float | str | None
    budget: bool
    idempotency_keys: bool

    def build(self) -> remedy.Retry:
        options: dict[str, Any] = {}
        if self.deadline != "default":
            options["deadline"] = self.deadline
        return remedy.Retry(
            max_attempts=self.max_attempts,
            max_retry_after=self.max_retry_after,
            budget=remedy.RetryBudget() if self.budget else None,
            idempotency_keys=self.idempotency_keys,
            **options,
        )


@dataclass(frozen=True)
class Setup:
    policy: PolicySpec | None
    #: None; "basic" or "post": ClientCredentials with client_secret_<it>; "refresh": a
    #: RefreshToken holding a pair already; "source": a TokenSource.
    credentials: str | None
    raise_errors: bool
    method: str
    follow: bool
    store: bool
    max_error_body: int
    step_up: bool
    calls: int


SETUPS = st.builds(
    Setup,
    policy=st.one_of(
        st.none(),
        st.builds(
            PolicySpec,
            max_attempts=st.integers(2, 4),
            max_retry_after=st.sampled_from([1.0, 60.0]),
            deadline=st.just("default"),
            budget=st.just(True),
            idempotency_keys=st.just(False),
        ),
        st.builds(
            PolicySpec,
            max_attempts=st.integers(1, 4),
            max_retry_after=st.sampled_from([0.0, 1.0, 5.0, 60.0]),
            deadline=st.sampled_from(["default", "default", None, 2.0, 30.0]),
            budget=st.booleans(),
            idempotency_keys=st.booleans(),
        ),
    ),
    credentials=st.sampled_from([None, None, "basic", "post", "refresh", "source"]),
    raise_errors=st.booleans(),
    method=st.sampled_from(
        ["GET", "GET", "DELETE", "POST", "POST-key", "POST-stream", "POST-stream", "PUT"]
    ),
    follow=st.booleans(),
    store=st.booleans(),
    max_error_body=st.sampled_from([64 * 1024, 64 * 1024, 0, 100]),
    step_up=st.booleans(),
    calls=st.integers(1, 2),
)


def transport_options(
    setup: Setup, server: Hostile, source_script: list[Any], is_async: bool
) -> tuple[dict[str, Any], FuzzSource | None]:
    """The transport's keyword arguments, and the token source (None unless one is used)."""
    options: dict[str, Any] = {
        "retry": setup.policy.build() if setup.policy is not None else None,
        "raise_errors": setup.raise_errors,
        "max_error_body": setup.max_error_body,
        "step_up": setup.step_up,
        "store": remedy.MemoryStore() if setup.store else None,
    }
    source: FuzzSource | None = None
    if setup.credentials in ("basic", "post"):
        options["credentials"] = remedy.ClientCredentials(
            TOKEN_URL,
            CLIENT_ID,
            CLIENT_SECRET,
            scope="read",
            auth_method=f"client_secret_{setup.credentials}",
        )
    elif setup.credentials == "refresh":
        pair = {"access_token": server.new_token(), "refresh_token": server.new_token()}
        server.remember(pair)
        options["credentials"] = remedy.RefreshToken(
            TOKEN_URL,
            CLIENT_ID,
            token={**pair, "expires_in": 3600},
            client_secret=CLIENT_SECRET,
            on_token=server.remember,
        )
    elif setup.credentials == "source":
        source = (AsyncFuzzSource if is_async else FuzzSource)(source_script, server)
        options["credentials"] = source
    return options, source


def request_kwargs(method: str, *, is_async: bool) -> tuple[str, dict[str, Any]]:
    if method in ("GET", "DELETE"):
        return method, {}
    if method == "PUT":
        return "PUT", {"json": {"item": 1}}
    if method == "POST-key":
        return "POST", {"content": b"payload", "headers": {"Idempotency-Key": '"k-1"'}}
    if method == "POST":
        return "POST", {"content": b"payload"}

    def once() -> Iterator[bytes]:
        yield b"pay"
        yield b"load"

    async def aonce() -> AsyncIterator[bytes]:
        yield b"pay"
        yield b"load"

    return "POST", {"content": aonce() if is_async else once()}


# --------------------------------------------------------------------------------------------
# Running one example, and the property
# --------------------------------------------------------------------------------------------


@dataclass
class Call:
    """What one call gave, and what happened during it."""

    request: httpx.Request
    response: httpx.Response | None = None
    raw: bytes | None = None
    error: Exception | None = None
    seconds: float = 0.0
    sends: list[Sent] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    source_calls: int = 0
    source_unusable: int = 0
    #: Where the records stood when the call began.
    marks: tuple[int, int, int, int] = (0, 0, 0, 0)
    started: float = 0.0

    @property
    def hops(self) -> int:
        """The requests the transport was handed (one, and one per redirect followed)."""
        return len({id(sent.request) for sent in self.sends if sent.route == "api"})


class Collect(logging.Handler):
    """Every record of the library's logger, as the text a log would show."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            self.lines.append(str(record.exc_info[1]))


@contextmanager
def collected_logs() -> Iterator[Collect]:
    logger = logging.getLogger("httpx_remedy")
    handler, level, propagate = Collect(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # thousands of examples: kept here, not in pytest's report
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


class Example:
    """One example: its server, clock, token source, transport options, and calls."""

    def __init__(
        self,
        setup: Setup,
        api: list[Answer],
        token: list[Answer],
        script: list[Any],
        *,
        is_async: bool,
    ) -> None:
        self.setup = setup
        self.is_async = is_async
        self.server = Hostile(api, token, is_async=is_async)
        self.clock = FakeClock()
        self.options, self.source = transport_options(setup, self.server, script, is_async)
        self.policy: remedy.Retry | None = self.options["retry"]
        self.client_options = {
            "follow_redirects": setup.follow,
            "max_redirects": MAX_REDIRECTS,
            "trust_env": False,
        }
        self.calls: list[Call] = []

    def begin(self, client: httpx.Client | httpx.AsyncClient) -> Call:
        method, kwargs = request_kwargs(self.setup.method, is_async=self.is_async)
        client.cookies.clear()  # httpx cannot send back a cookie with a byte outside ASCII
        call = Call(client.build_request(method, API + "/items?page=1", **kwargs))
        source = self.source
        call.marks = (
            len(self.server.log),
            len(self.clock.sleeps),
            source.calls if source else 0,
            source.unusable if source else 0,
        )
        call.started = time.perf_counter()
        return call

    def end(self, call: Call) -> None:
        call.seconds = time.perf_counter() - call.started
        call.sends = self.server.log[call.marks[0] :]
        call.sleeps = self.clock.sleeps[call.marks[1] :]
        if self.source is not None:
            call.source_calls = self.source.calls - call.marks[2]
            call.source_unusable = self.source.unusable - call.marks[3]
        self.calls.append(call)


def run_sync(example: Example) -> None:
    mock = httpx.MockTransport(example.server)
    transport = on_clock(remedy.RemedyTransport(mock, **example.options), example.clock)
    with httpx.Client(transport=transport, **example.client_options) as client:
        for _ in range(example.setup.calls):
            call = example.begin(client)
            try:
                response = call.response = client.send(call.request, stream=True)
                try:
                    call.raw = _raw(response)
                    if call.raw is None:
                        call.raw = b"".join(response.iter_raw())
                finally:
                    response.close()
            except Exception as error:
                call.error = error
            example.end(call)


def run_async(example: Example, backend: str) -> None:
    mock = httpx.MockTransport(example.server)
    transport = on_clock(remedy.AsyncRemedyTransport(mock, **example.options), example.clock)

    async def main() -> None:
        async with httpx.AsyncClient(transport=transport, **example.client_options) as client:
            for _ in range(example.setup.calls):
                call = example.begin(client)
                try:
                    response = call.response = await client.send(call.request, stream=True)
                    try:
                        call.raw = _raw(response)
                        if call.raw is None:
                            async with aclosing(response.aiter_raw()) as parts:
                                call.raw = b"".join([part async for part in parts])
                    finally:
                        await response.aclose()
                except Exception as error:
                    call.error = error
                example.end(call)

    with warnings.catch_warnings():
        # httpx's own, with or without this library: following a redirect whose body does not
        # decode (DecodingError) leaves the response's aiter_raw() unfinished, which trio
        # reports when it is collected. This library never calls aiter_raw().
        redirects_to_decode = backend == "trio" and example.setup.follow
        redirects_to_decode &= any(
            300 <= a.status < 400 and a.coding is not None for a in example.server.scripts["api"]
        )
        if redirects_to_decode:
            warnings.filterwarnings(
                "ignore", "Async generator 'httpx._models.Response.aiter_raw'", ResourceWarning
            )
        anyio.run(main, backend=backend)
        if redirects_to_decode:
            gc.collect()  # within the filter


def _raw(response: httpx.Response) -> bytes | None:
    """The body of a response made with ``content=`` (read already), else None."""
    return response.content if response.is_stream_consumed else None


def check_example(example: Example, logs: Collect) -> None:
    secrets = _secret_forms(example.server.secrets)
    for number, call in enumerate(example.calls):
        if call.error is not None:
            event(f"outcome: {type(call.error).__name__}")
        elif call.response is not None:
            event(f"outcome: {call.response.status_code // 100}xx")
        event(f"sends of the request: {sum(s.request is call.request for s in call.sends)}")
        assert call.seconds < CALL_SECONDS, f"the call took {call.seconds:.2f}s"
        check_sends(example, call)
        check_waits(example, call)
        if call.error is None:
            check_response(example.setup, call)
        else:
            check_error(example, call, number, secrets)
    for line in logs.lines:
        _assert_hidden(line, secrets, "a log line")
    assert not example.server.reread, "a body stream was read twice"


#: The body each method sends, as it must arrive on every send.
PAYLOADS = {"POST": b"payload", "POST-key": b"payload", "POST-stream": b"payload", "PUT": None}


def check_sends(example: Example, call: Call) -> None:
    """Bounded sends, the body sent unchanged, and no token where it is not bound."""
    setup, policy, issued = example.setup, example.policy, example.server.issued
    attempts = policy.max_attempts if policy is not None else 1
    per_request: dict[int, list[Sent]] = {}
    for sent in call.sends:
        sends = per_request.setdefault(id(sent.request), [])
        sends.append(sent)
        limit = attempts + (2 if setup.credentials and sent.route == "api" else 0)
        assert len(sends) <= limit, f"{len(sends)} sends of one request"
        assert sent.content == sends[0].content, "a request replayed with another body"
        if sent.request is call.request and setup.method in ("POST", "POST-key", "POST-stream"):
            assert sent.content == PAYLOADS[setup.method]
        authorization = sent.authorization or ""
        if sent.route == "api" and authorization:
            url = sent.request.url
            assert (url.scheme, url.host, url.port) == ("https", "api.example.com", None), (
                f"a token went to {url}"
            )
            assert authorization.partition(" ")[2] in issued, "a token nobody issued"
        if sent.route == "token":
            assert not authorization.startswith(("Bearer", "DPoP")), "a token went to the IdP"
    if setup.method == "POST-stream":
        assert len(per_request.get(id(call.request), ())) <= 1, "a one-shot body sent twice"
    hops = call.hops
    tokens = sum(1 for sends in per_request.values() if sends[0].route == "token")
    assert hops <= MAX_REDIRECTS + 1
    # Per request: one token before it is sent, and at most two refreshes for it.
    assert tokens <= 3 * max(hops, 1), f"{tokens} token requests for {hops} requests"
    assert call.source_calls <= 3 * max(hops, 1), f"{call.source_calls} token source calls"


def check_waits(example: Example, call: Call) -> None:
    policy = example.policy
    for slept in call.sleeps:
        assert math.isfinite(slept)
        assert slept >= 0
        if policy is not None:
            assert slept <= policy.max_retry_after, f"slept {slept}s"
        else:
            # No retrying: the only wait is for a pause another call heard, capped by the store.
            assert example.setup.store, f"slept {slept}s without a policy or a store"
            assert slept <= 300
    if policy is not None and policy.deadline is not None:
        assert sum(call.sleeps) < policy.deadline * max(call.hops, 1)


def check_response(setup: Setup, call: Call) -> None:
    """A response is the last answer, exactly as sent."""
    response = call.response
    assert response is not None
    assert call.sends, "a response nobody sent"
    last = call.sends[-1]
    assert last.route == "api"
    assert last.response is not None
    assert response.status_code == last.answer.status
    if setup.raise_errors:
        assert response.status_code < 400, "an error status came back with raise_errors=True"
    assert response is last.response, "not the response the server sent"
    assert list(response.headers.raw) == list(last.response.headers.raw)
    assert call.raw == last.body


def check_error(example: Example, call: Call, number: int, secrets: set[str]) -> None:
    """The error is documented for what happened, and shows no secret."""
    setup, server, source = example.setup, example.server, example.source
    error = call.error
    assert error is not None
    last = call.sends[-1] if call.sends else None
    if isinstance(error, remedy.HTTPError):
        assert last is not None, f"{error!r} before any send"
        assert last.response is not None, f"{error!r} after no answer"
        status = last.answer.status
        assert error.status_code == status
        assert isinstance(error, remedy.catalog.for_status(status).exception)
        assert error.request.url.host == last.request.url.host
        if not setup.raise_errors:
            assert last.route == "token", "an API error raised with raise_errors=False"
        assert error.attempts, "an error without attempts"
        assert error.retry_after is None or (
            math.isfinite(error.retry_after) and error.retry_after >= 0
        )
        check_typed(error, secrets)
        copy = _pickled(error)
        if copy is None:
            return
        assert isinstance(copy, remedy.catalog.for_status(status).exception)
        assert type(copy).__name__ == type(error).__name__
        assert copy.status_code == status
        return
    if isinstance(error, remedy.RemedyError):
        check_typed(error, secrets)
        copy = _pickled(error)
        assert copy is None or type(copy) is type(error)
        if isinstance(error, remedy.TokenResponseError):
            assert last is not None
            assert last.route == "token"
            assert last.answer.status < 400
        elif isinstance(error, remedy.ReauthenticationRequired):
            assert number > 0 or call.hops > 1, "a rejection remembered before there was one"
        elif isinstance(error, remedy.PacingRefused):
            # The process-wide pacer heard a spent quota in an earlier call's headers.
            assert error.retry_after > 0
            assert error.source
        elif isinstance(error, remedy.OriginPaused):
            assert setup.store
        elif isinstance(error, remedy.TokenEndpointUnreachable):
            # The token endpoint's own transport error, named for the token URL (and still
            # that transport error: except httpx.ConnectError keeps working).
            assert isinstance(error, httpx.TransportError)
            assert any(raised is error.__cause__ for raised in server.raised)
            assert TOKEN_URL in str(error)
        else:
            pytest.fail(f"{error!r} has no reason to be raised here")
        return
    if any(error is raised for raised in server.raised):
        return  # the server's own failure, raised as it is
    if source is not None and any(error is raised for raised in source.raised):
        return
    if isinstance(error, (ValueError, TypeError)) and call.source_unusable:
        _assert_hidden(str(error), secrets, "a token source error")
        return  # documented: a token source's token that cannot be sent
    if isinstance(error, httpx.TooManyRedirects):
        assert setup.follow
        return
    if isinstance(error, httpx.StreamConsumed):
        # httpx follows a 307 / 308 with the body: a one-shot body cannot go twice.
        assert setup.method == "POST-stream"
        assert setup.follow
        assert any(sent.answer.status in (307, 308) for sent in call.sends)
        return
    if not _through_remedy(error):
        if isinstance(error, httpx.HTTPError):
            return  # httpx's own, after the transport returned (a bad Location, a bad gzip)
        if _raised_in(error, "_build_redirect_request"):
            return  # httpx's own parsing of a Location (idna.IDNAError for "https://xn--/")
    raise AssertionError(f"undocumented {type(error).__name__}: {error!r}") from error


def check_typed(error: Exception, secrets: set[str]) -> None:
    """The text of a typed error, its attempts and its copies show no secret."""
    texts = [str(error), repr(error)]
    for name in ("error", "error_description", "error_uri", "server_message"):
        value = getattr(error, name, None)
        if value is not None:
            texts.append(str(value))
    texts += [str(attempt) for attempt in getattr(error, "attempts", ())]
    copy = remedy.redacted(error)
    assert type(copy) is type(error) or type(copy).__name__ == type(error).__name__
    texts += [str(copy), repr(copy)]
    request = getattr(copy, "request", None) if isinstance(copy, remedy.HTTPError) else None
    if request is not None:
        assert "authorization" not in request.headers
    if isinstance(error, remedy.HTTPError):
        assert "\n" not in str(error), "str(e) is not one line"
        assert "\r" not in str(error), "str(e) is not one line"
    for text in texts:
        _assert_hidden(text, secrets, type(error).__name__)


def _pickled(error: Exception) -> Any:
    """The error through pickle."""
    return pickle.loads(pickle.dumps(error))


def _secret_forms(secrets: set[str]) -> set[str]:
    forms = set()
    for secret in secrets:
        forms |= {secret, quote(secret, safe="")}
    pair = f"{CLIENT_ID}:{CLIENT_SECRET}".encode()
    forms.add(base64.b64encode(pair).decode().rstrip("="))
    return {form for form in forms if len(form) >= 8}


def _assert_hidden(text: str, secrets: set[str], where: str) -> None:
    for secret in secrets:
        assert secret not in text, f"a secret in {where}: {text[:300]!r}"


def _raised_in(error: BaseException, function: str) -> bool:
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == function:
            return True
        tb = tb.tb_next
    return False


def _through_remedy(error: BaseException) -> bool:
    """Whether the exception passed through this library's code on its way up."""
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(REMEDY_DIR):
            return True
        tb = tb.tb_next
    return False


# --------------------------------------------------------------------------------------------
# The properties, through httpx.MockTransport
# --------------------------------------------------------------------------------------------

API_SCRIPTS = st.lists(answers(), min_size=1, max_size=5)
TOKEN_SCRIPTS = st.lists(answers(token=True), min_size=1, max_size=3)
SOURCE_SCRIPTS = st.lists(SOURCE_ANSWERS, min_size=1, max_size=3)


#: Drawn rather than parametrized: with a fixed seed, each mode would see the same examples.
MODES = st.sampled_from(["sync", "asyncio", "trio"])


@fuzz(750)
@given(mode=MODES, setup=SETUPS, api=API_SCRIPTS, token=TOKEN_SCRIPTS, script=SOURCE_SCRIPTS)
def test_every_call_returns_the_answer_or_raises_a_documented_error(
    mode: str, setup: Setup, api: list[Answer], token: list[Answer], script: list[Any]
) -> None:
    example = Example(setup, api, token, script, is_async=mode != "sync")
    with collected_logs() as logs:
        if mode == "sync":
            run_sync(example)
        else:
            run_async(example, mode)
    check_example(example, logs)


# --------------------------------------------------------------------------------------------
# The same property on the wire: raw heads parsed by httpx's own transport
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stage() -> Iterator[tuple[RawServer, Stage]]:
    script = Stage()
    with RawServer(script) as server:
        yield server, script


RAW_SETUPS = st.tuples(
    st.one_of(st.none(), st.integers(1, 3)),  # max_attempts, or no retrying
    st.booleans(),  # raise_errors
    st.booleans(),  # with a token source
)


@dataclass
class RawCall:
    response: httpx.Response | None = None
    raw: bytes | None = None
    error: Exception | None = None
    seconds: float = 0.0


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every example (plain http:// never uses it; making one per
    transport would cost more than the example)."""
    return httpx.create_ssl_context()


def raw_transport(
    is_async: bool, attempts: int | None, raise_errors: bool, source: FuzzSource | None
) -> Any:
    """A remedy transport around a fresh httpx transport (a fresh pool: no connection is
    shared between examples)."""
    options: dict[str, Any] = {
        "retry": remedy.Retry(max_attempts=attempts, budget=remedy.RetryBudget())
        if attempts
        else None,
        "raise_errors": raise_errors,
        "credentials": source,
    }
    if is_async:
        return remedy.AsyncRemedyTransport(httpx.AsyncHTTPTransport(verify=_tls()), **options)
    return remedy.RemedyTransport(httpx.HTTPTransport(verify=_tls()), **options)


@fuzz(45)
@given(mode=MODES, setup=RAW_SETUPS, answers=st.lists(raw_answers(), min_size=1, max_size=3))
def test_raw_heads_through_httpx_transport_end_in_a_response_or_a_documented_error(
    stage: tuple[RawServer, Stage],
    mode: str,
    setup: tuple[int | None, bool, bool],
    answers: list[RawAnswer],
) -> None:
    server, script = stage
    script.reset(answers)
    attempts, raise_errors, with_source = setup
    clock = FakeClock()
    tokens = Hostile([], [], is_async=mode != "sync")
    source = None
    if with_source:
        kind = AsyncFuzzSource if mode != "sync" else FuzzSource
        source = kind([{"access_token": NEW_TOKEN, "expires_in": 3600}], tokens)
    transport = on_clock(raw_transport(mode != "sync", attempts, raise_errors, source), clock)
    url = server.url + "/items?page=1"
    timeout = httpx.Timeout(1.0)
    call = RawCall()
    with collected_logs() as logs:
        if mode == "sync":
            with httpx.Client(transport=transport, timeout=timeout) as client:
                started = time.perf_counter()
                try:
                    with client.stream("GET", url) as response:
                        call.response = response
                        call.raw = b"".join(response.iter_raw())
                except Exception as error:
                    call.error = error
                call.seconds = time.perf_counter() - started
        else:

            async def main() -> None:
                async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
                    started = time.perf_counter()
                    try:
                        async with client.stream("GET", url) as response:
                            call.response = response
                            async with aclosing(response.aiter_raw()) as parts:
                                call.raw = b"".join([part async for part in parts])
                    except Exception as error:
                        call.error = error
                    call.seconds = time.perf_counter() - started

            anyio.run(main, backend=mode)
    check_raw_call(call, script, clock, attempts, raise_errors, tokens, logs)


def check_raw_call(
    call: RawCall,
    script: Stage,
    clock: FakeClock,
    attempts: int | None,
    raise_errors: bool,
    tokens: Hostile,
    logs: Collect,
) -> None:
    assert call.seconds < CALL_SECONDS, f"the call took {call.seconds:.2f}s"
    sent = script.sent
    assert 1 <= len(sent) <= (attempts or 1) + (2 if tokens.issued else 0)
    for request, _ in sent:
        authorization = request.header("authorization")
        if authorization is not None:
            assert authorization.decode().partition(" ")[2] in tokens.issued
    for slept in clock.sleeps:
        assert attempts, "slept without a policy"
        assert 0 <= slept <= remedy.Retry().max_retry_after
    last = sent[-1][1]
    secrets = _secret_forms(tokens.secrets)
    for line in logs.lines:
        _assert_hidden(line, secrets, "a log line")
    error = call.error
    if error is None:
        response = call.response
        assert response is not None
        assert response.status_code == last.status
        if raise_errors:
            assert response.status_code < 400
        assert list(response.headers.raw) == last.head_headers()
        assert call.raw == last.body or last.status in (204, 304)
        return
    if isinstance(error, remedy.HTTPError):
        assert error.status_code == last.status
        assert isinstance(error, remedy.catalog.for_status(last.status).exception)
        assert raise_errors
        assert error.attempts
        check_typed(error, secrets)
        copy = _pickled(error)
        assert copy is None or copy.status_code == last.status
        return
    broken = any(answer.broken for _, answer in sent)
    if (
        broken
        and isinstance(error, httpx.TransportError)
        and not isinstance(error, (httpx.LocalProtocolError, httpx.TimeoutException))
    ):
        return  # the server broke the framing: httpx's own error, raised as it is
    raise AssertionError(f"undocumented {type(error).__name__}: {error!r}") from error


# --------------------------------------------------------------------------------------------
# Bugs the fuzzing found, each kept as its minimal reproduction.
# --------------------------------------------------------------------------------------------


def _error_with_header(value: bytes) -> remedy.HTTPError:
    """The typed error for a 400 carrying ``X-Error-Message: <value>``."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, headers=[(b"X-Error-Message", value)], content=b"{}")

    transport = remedy.RemedyTransport(httpx.MockTransport(handler), retry=None)
    with httpx.Client(transport=transport) as client, pytest.raises(remedy.HTTPError) as info:
        client.get(API + "/items")
    return info.value


def _error_from_token_endpoint_2xx() -> remedy.HTTPError:
    """The typed error for a token endpoint that answers 200 with an OAuth error."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example.com":
            return httpx.Response(200, json={"error": "invalid_client"})
        return httpx.Response(200)

    credentials = remedy.ClientCredentials(TOKEN_URL, CLIENT_ID, CLIENT_SECRET)
    transport = remedy.RemedyTransport(httpx.MockTransport(handler), credentials=credentials)
    with httpx.Client(transport=transport) as client, pytest.raises(remedy.HTTPError) as info:
        client.get(API + "/items")
    return info.value


def _trio_warnings_for_long_error_body() -> list[str]:
    """The ResourceWarnings trio gives while the async transport reads a 500 whose body is
    longer than ``max_error_body``, from httpx's own transport (a real socket)."""

    async def main(url: str) -> None:
        transport = remedy.AsyncRemedyTransport(httpx.AsyncHTTPTransport(), retry=None)
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(remedy.InternalServerError):
                await client.get(url)
        gc.collect()

    with (
        RawServer(answer(500, b"x" * 200_000)) as server,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        anyio.run(main, server.url, backend="trio")
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def test_the_portable_copy_keeps_non_ascii_header_bytes() -> None:
    error = _error_with_header(b"caf\xe9")
    copy = pickle.loads(pickle.dumps(error))
    assert copy.response.headers.raw == [(b"X-Error-Message", b"caf\xe9")] or (
        copy.response.headers["x-error-message"] == error.response.headers["x-error-message"]
    )
    assert str(remedy.redacted(error)) == str(error)


def test_a_token_endpoint_2xx_error_has_its_attempt() -> None:
    error = _error_from_token_endpoint_2xx()
    assert isinstance(error, remedy.InvalidClient)
    assert len(error.attempts) == 1
    assert error.attempts[0].status == 200
    assert error.attempts[0].action == "raise"


def test_trio_long_error_body_leaves_no_generator_behind() -> None:
    assert _trio_warnings_for_long_error_body() == []
