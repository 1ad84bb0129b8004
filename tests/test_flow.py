"""The core driven directly, command by command, without a transport: the first send and the
recovery flow.

Each test builds the core's inputs (settings on a fake clock, a request, what the first send
gave), steps the flow generator itself (``helpers.Steps``), and checks each command it yields
and what it returns or raises: what a driver would carry out, with no driver in the way (h11's
and hishel's core tests are the model). The token flows are in ``test_token_flow.py``; the same
decisions through the two transports, in ``test_retry.py`` and ``test_tokens.py``.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import tenacity

import httpx_remedy as remedy
from httpx_remedy._body import MAX_BODY_SECONDS, ReadBody
from httpx_remedy._commands import Close, Send, Sleep, StoreOp, sleep_seconds
from httpx_remedy._entry import Remedy
from httpx_remedy._first_send import Start, begin, enters_flow, pause_before_send
from httpx_remedy._manager import TokenManager
from httpx_remedy._recovery import assess, run
from httpx_remedy._settings import Auth, Settings
from httpx_remedy.testing import no_wait

from .helpers import FakeClock, Mode, Steps, iter_once

URL = "https://api.example.com/items"
ORIGIN = "https://api.example.com"
TOKEN = "a-token-0123456789"
#: What a ReadBody of an error body asks for when no deadline is near: 1 KiB (these settings'
#: max_error_body), for MAX_BODY_SECONDS.
LIMIT = 1024


def settings(clock: FakeClock | None = None, **changes: Any) -> Settings:
    """Settings with a policy of its own budget and a fixed backoff, on ``clock`` (one that
    stands still when none is given)."""
    clock = clock or FakeClock()
    options: dict[str, Any] = {
        "retry": policy(),
        "raise_errors": True,
        "max_error_body": LIMIT,
        "clock": clock.monotonic,
        "wall_clock": clock.time,
    }
    options.update(changes)
    return Settings(**options)


def policy(**options: Any) -> remedy.Retry:
    """A policy with a budget of its own and a fixed 0.5 s backoff (no jitter to predict)."""
    options.setdefault("budget", remedy.RetryBudget())
    options.setdefault("wait", tenacity.wait_fixed(0.5))
    return remedy.Retry(**options)


def answer(status: int, request: httpx.Request, **options: Any) -> httpx.Response:
    return httpx.Response(status, request=request, **options)


def recover(config: Settings, request: httpx.Request, first: httpx.Response | Exception) -> Steps:
    """The recovery flow after ``first``, as a driver starts it."""
    return Steps(run(config, request, first, begin(config, request)))


def read(response: httpx.Response, seconds: float = MAX_BODY_SECONDS) -> ReadBody:
    """The command that reads an error body."""
    return ReadBody(response, LIMIT, seconds, by_deadline=seconds < MAX_BODY_SECONDS)


# --------------------------------------------------------------------------------------------
# begin: what every request goes through
# --------------------------------------------------------------------------------------------


def test_begin_notes_the_policy_the_time_the_credentials_and_the_stream() -> None:
    clock = FakeClock()
    config = settings(clock)
    request = httpx.Request("GET", URL)
    start = begin(config, request)
    assert isinstance(start, Start)
    assert (start.policy, start.started, start.auth) == (config.retry, clock.now, None)
    assert start.stream is request.stream
    assert start.recovers


def test_begin_takes_the_requests_own_policy_and_refuses_what_is_not_one() -> None:
    config = settings()
    own = policy(max_attempts=7)
    assert begin(config, httpx.Request("GET", URL, extensions={"remedy.retry": own})).policy is own
    off = begin(config, httpx.Request("GET", URL, extensions={"remedy.retry": None}))
    assert off.policy is None
    with pytest.raises(TypeError, match=r'extensions\["remedy.retry"\] must be'):
        begin(config, httpx.Request("GET", URL, extensions={"remedy.retry": 3}))


def test_begin_adds_one_idempotency_key_to_post_and_patch_only() -> None:
    config = settings(retry=policy(idempotency_keys=True))
    post = httpx.Request("POST", URL)
    begin(config, post)
    key = post.headers["Idempotency-Key"]
    begin(config, post)  # a resend of the same request keeps its key
    assert post.headers["Idempotency-Key"] == key
    get = httpx.Request("GET", URL)
    begin(config, get)
    assert "Idempotency-Key" not in get.headers
    own = httpx.Request("PATCH", URL, headers={"Idempotency-Key": '"mine"'})
    begin(config, own)
    assert own.headers["Idempotency-Key"] == '"mine"'
    plain = httpx.Request("POST", URL)
    begin(settings(), plain)  # idempotency_keys off: none added
    assert "Idempotency-Key" not in plain.headers


def test_begin_counts_the_first_attempt_in_the_retry_budget() -> None:
    budget = remedy.RetryBudget(ratio=1.0, minimum=0, reserve=0)
    config = settings(retry=policy(budget=budget))
    origin = ("https", "api.example.com", None)
    assert not budget.try_spend(origin, 1_000.0)  # nothing earned yet
    begin(config, httpx.Request("GET", URL))
    assert budget.try_spend(origin, 1_000.0)  # one first attempt: one retry at ratio 1


def test_begin_fits_the_timeouts_into_a_deadline_the_user_set_only() -> None:
    timeout = {"timeout": httpx.Timeout(30.0).as_dict()}
    chosen = httpx.Request("GET", URL, extensions=dict(timeout))
    begin(settings(retry=policy(deadline=12)), chosen)
    assert set(chosen.extensions["timeout"].values()) == {12}
    default = httpx.Request("GET", URL, extensions=dict(timeout))
    begin(settings(retry=policy()), default)  # the default 120 s bounds waiting only
    assert set(default.extensions["timeout"].values()) == {30.0}


def test_begin_gives_the_token_only_to_a_bound_origin_and_a_request_without_its_own() -> None:
    config = with_token()
    assert begin(config, httpx.Request("GET", URL)).auth is config.auth
    assert begin(config, httpx.Request("GET", "https://other.example.com/")).auth is None
    own = httpx.Request("GET", URL, headers={"Authorization": "Bearer mine"})
    assert begin(config, own).auth is None


def test_a_2xx_never_enters_the_flow_and_an_error_enters_only_when_something_is_to_be_done() -> (
    None
):
    request = httpx.Request("GET", URL)
    start = begin(settings(), request)
    assert not enters_flow(start, 200)
    assert not enters_flow(start, 304)
    assert enters_flow(start, 503)
    assert enters_flow(start, None)  # a transport error, with a policy to retry it
    bare = begin(settings(retry=None, raise_errors=False), request)
    assert not bare.recovers
    assert not enters_flow(bare, 503)  # nothing to retry, refresh or raise
    assert not enters_flow(bare, None)
    typed_only = begin(settings(retry=None), request)
    assert enters_flow(typed_only, 404)  # the typed error is raised
    assert not enters_flow(typed_only, None)
    token_only = begin(with_token(retry=None, raise_errors=False), request)
    assert enters_flow(token_only, 401)  # a token to refresh


# --------------------------------------------------------------------------------------------
# pause_before_send: a pause another process heard
# --------------------------------------------------------------------------------------------


def paused(seconds: float) -> tuple[remedy.MemoryStore, FakeClock]:
    clock = FakeClock()
    store = remedy.MemoryStore(clock=clock.monotonic)
    if seconds:
        store.pause(ORIGIN, seconds)
    return store, clock


def test_no_pause_heard_no_wait() -> None:
    store, _ = paused(0)
    config = settings(store=store)
    assert pause_before_send(config, httpx.Request("GET", URL), config.retry) is None


def test_a_pause_heard_is_waited_out_before_the_first_send() -> None:
    store, clock = paused(5)
    config = settings(store=store)
    assert pause_before_send(config, httpx.Request("GET", URL), config.retry) == Sleep(5.0)
    clock.advance(2)
    assert pause_before_send(config, httpx.Request("GET", URL), None) == Sleep(3.0)  # no policy
    other = httpx.Request("GET", "https://other.example.com/")
    assert pause_before_send(config, other, config.retry) is None


@pytest.mark.parametrize(
    ("limits", "why"),
    [({"max_retry_after": 4}, "more than max_retry_after (4s)"), ({"deadline": 5}, "deadline")],
)
def test_a_pause_longer_than_the_policy_waits_raises_at_once(
    limits: dict[str, float], why: str
) -> None:
    store, _ = paused(5)
    config = settings(store=store)
    with pytest.raises(remedy.OriginPaused, match=re.escape(why)) as caught:
        pause_before_send(config, httpx.Request("GET", URL), policy(**limits))
    assert (caught.value.origin, caught.value.retry_after) == (ORIGIN, 5.0)


def test_a_pause_comes_out_of_a_deadline_the_user_set() -> None:
    store, _ = paused(5)
    config = settings(store=store)
    request = httpx.Request("GET", URL, extensions={"timeout": httpx.Timeout(60).as_dict()})
    assert pause_before_send(config, request, policy(deadline=30)) == Sleep(5.0)
    assert set(request.extensions["timeout"].values()) == {25.0}


def test_a_retry_wait_is_skipped_in_testing_mode_and_a_wait_for_another_process_is_not() -> None:
    assert sleep_seconds(Sleep(1.5)) == 1.5
    assert sleep_seconds(Sleep(0.0)) == 0.0
    assert sleep_seconds(Sleep(-1.0)) == 0.0
    with no_wait():
        assert sleep_seconds(Sleep(1.5)) == 0.0
        assert sleep_seconds(Sleep(1.5, always=True)) == 1.5
    assert sleep_seconds(Sleep(1.5)) == 1.5


# --------------------------------------------------------------------------------------------
# assess: what a failed attempt was
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ConnectError, Remedy.BACK_OFF),  # never reached the server
        (httpx.PoolTimeout, Remedy.BACK_OFF),
        (httpx.ReadTimeout, Remedy.RETRY_IF_SAFE),  # may have been processed
        (httpx.RemoteProtocolError, Remedy.RETRY_IF_SAFE),
        (httpx.UnsupportedProtocol, None),  # sending again changes nothing
    ],
)
def test_assess_says_how_a_transport_error_may_be_retried(
    error: type[httpx.TransportError], kind: Remedy | None
) -> None:
    config = settings()
    request = httpx.Request("GET", URL)
    found = assess(config, request, config.retry, error("down", request=request), None, 0.0)
    assert (found.response, found.status, found.code, found.delay, found.pause) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert found.kind is kind


def test_assess_says_what_a_429_was_and_how_long_every_process_should_pause() -> None:
    store = remedy.MemoryStore()
    config = settings(store=store, retry=policy(budget=None, max_retry_after=5))
    request = httpx.Request("GET", URL)
    limited = answer(429, request, headers={"Retry-After": "30"})
    found = assess(config, request, config.retry, limited, None, 1_764_000_000.0)
    assert (found.status, found.kind, found.delay) == (429, Remedy.BACK_OFF, (30.0, "retry-after"))
    assert found.pause == 5  # no longer than this policy would wait itself
    assert found.details is None  # decided without reading the body
    without_policy = assess(config, request, None, limited, None, 1_764_000_000.0)
    assert (without_policy.kind, without_policy.pause) == (None, 30.0)
    # No store, or no delay, or another status: nothing to announce.
    assert assess(settings(), request, None, limited, None, 0.0).pause is None
    busy = answer(503, request)
    assert assess(config, request, config.retry, busy, None, 0.0).pause is None
    gone = answer(410, request, headers={"Retry-After": "30"})
    assert assess(config, request, config.retry, gone, None, 0.0).pause is None


def test_assess_reads_the_code_from_the_body_when_it_was_read_else_from_the_challenge() -> None:
    config = settings()
    request = httpx.Request("GET", URL)
    challenged = answer(401, request, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    found = assess(config, request, config.retry, challenged, None, 0.0)
    assert (found.code, found.shown, found.details) == ("invalid_token", "invalid_token", None)
    body = b'{"error": "temporarily_unavailable"}'
    refused = answer(400, request, content=body)
    found = assess(config, request, config.retry, refused, body, 0.0)
    assert found.details is not None
    assert (found.code, found.kind) == ("temporarily_unavailable", Remedy.BACK_OFF)


def test_assess_scrubs_a_secret_a_server_put_in_the_code() -> None:
    config = settings()
    request = httpx.Request("GET", URL, headers={"Authorization": f"Bearer {TOKEN}"})
    echoed = answer(401, request, headers={"WWW-Authenticate": f'Bearer error="{TOKEN}"'})
    found = assess(config, request, config.retry, echoed, None, 0.0)
    assert found.code == TOKEN  # what the decisions see
    assert TOKEN not in (found.shown or "")  # what is logged and recorded


# --------------------------------------------------------------------------------------------
# run: retry, or not, and why
# --------------------------------------------------------------------------------------------


def test_a_503_with_retry_after_closes_sleeps_and_sends_again() -> None:
    config = settings()
    request = httpx.Request("GET", URL)
    busy = answer(503, request, headers={"Retry-After": "2"})
    flow = recover(config, request, busy)
    flow.expect(Close(busy))  # before the wait: the connection goes back to the pool
    flow.expect(Sleep(2.0))  # the server's delay, not the backoff
    ok = answer(200, request)
    flow.expect(Send(request), reply=ok)
    assert flow.result() is ok


def test_without_a_server_delay_the_backoff_is_waited() -> None:
    config = settings()
    request = httpx.Request("GET", URL)
    busy = answer(503, request)
    flow = recover(config, request, busy)
    flow.expect(Close(busy))
    flow.expect(Sleep(0.5))
    flow.expect(Send(request), reply=answer(503, request))
    second = flow.expect(Close)
    flow.expect(Sleep(0.5))
    flow.expect(Send(request), reply=(third := answer(503, request)))
    flow.expect(read(third), reply=(b"", None))  # max_attempts (3): the typed error
    with pytest.raises(remedy.ServiceUnavailable) as caught:
        flow.result()
    assert second.response.status_code == 503
    attempts = caught.value.attempts
    assert [(a.action, a.wait, a.wait_reason) for a in attempts] == [
        ("retry", 0.5, "backoff"),
        ("retry", 0.5, "backoff"),
        ("raise", None, None),
    ]
    assert attempts[-1].note == "max_attempts (3) reached"


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_refused_request_is_retried_whatever_its_method(method: str) -> None:
    config = settings()
    request = httpx.Request(method, URL, content=b"{}")
    limited = answer(429, request, headers={"Retry-After": "1"})
    flow = recover(config, request, limited)
    flow.expect(Close(limited))
    flow.expect(Sleep(1.0))
    flow.expect(Send(request), reply=answer(201, request))
    assert flow.result().status_code == 201


def test_a_post_that_may_have_been_processed_is_not_retried() -> None:
    config = settings()
    request = httpx.Request("POST", URL, content=b"{}")
    failed = answer(500, request)
    flow = recover(config, request, failed)
    flow.expect(read(failed), reply=(b'{"detail": "oops"}', None))
    with pytest.raises(remedy.InternalServerError) as caught:
        flow.result()
    (attempt,) = caught.value.attempts
    assert attempt.action == "raise"
    assert "POST is not idempotent and may have been processed" in (attempt.note or "")
    assert "not retried: POST is not idempotent" in str(caught.value)


def test_a_post_with_an_idempotency_key_is_retried() -> None:
    config = settings()
    request = httpx.Request("POST", URL, content=b"{}", headers={"Idempotency-Key": '"k"'})
    failed = answer(502, request)
    flow = recover(config, request, failed)
    flow.expect(Close(failed))
    flow.expect(Sleep(0.5))
    flow.expect(Send(request), reply=answer(200, request))
    assert flow.result().status_code == 200


def test_a_connect_error_is_retried_for_a_post_and_the_failed_send_is_not_closed() -> None:
    config = settings()
    request = httpx.Request("POST", URL, content=b"{}")
    flow = recover(config, request, httpx.ConnectError("refused", request=request))
    flow.expect(Sleep(0.5))  # no response to close
    flow.expect(Send(request), reply=answer(200, request))
    assert flow.result().status_code == 200


def test_a_read_timeout_on_a_post_is_raised_as_it_is_with_its_attempts() -> None:
    config = settings()
    request = httpx.Request("POST", URL, content=b"{}")
    error = httpx.ReadTimeout("slow", request=request)
    flow = recover(config, request, error)
    with pytest.raises(httpx.ReadTimeout) as caught:
        flow.result()
    assert caught.value is error
    (attempt,) = remedy.attempts_of(error)
    assert (attempt.error, attempt.action) == ("ReadTimeout", "raise")
    assert "not idempotent" in (attempt.note or "")


def test_a_transport_error_on_a_resend_is_judged_like_the_first() -> None:
    config = settings()
    request = httpx.Request("GET", URL)
    busy = answer(503, request, headers={"Retry-After": "1"})
    flow = recover(config, request, busy)
    flow.expect(Close(busy))
    flow.expect(Sleep(1.0))
    flow.expect(Send(request), reply=httpx.ConnectError("refused", request=request))
    flow.expect(Sleep(0.5))
    flow.expect(Send(request), reply=answer(200, request))
    assert flow.result().status_code == 200


def test_an_oauth_code_that_asks_for_a_retry_is_read_from_the_body_first() -> None:
    """A 400 is not retryable by its status: its body is read before deciding, and its
    ``temporarily_unavailable`` makes it a retry after all (no Close: the body read closed it)."""
    config = settings()
    request = httpx.Request("POST", URL, content=b"grant_type=x")
    refused = answer(400, request)
    flow = recover(config, request, refused)
    flow.expect(read(refused), reply=(b'{"error": "temporarily_unavailable"}', None))
    flow.expect(Sleep(0.5))
    flow.expect(Send(request), reply=answer(200, request))
    assert flow.result().status_code == 200


def test_a_server_delay_over_max_retry_after_is_raised_not_slept() -> None:
    config = settings(retry=policy(max_retry_after=60))
    request = httpx.Request("GET", URL)
    limited = answer(429, request, headers={"Retry-After": "120"})
    flow = recover(config, request, limited)
    flow.expect(read(limited), reply=(b"", None))
    with pytest.raises(remedy.TooManyRequests) as caught:
        flow.result()
    assert caught.value.retry_after == 120
    assert caught.value.attempts[-1].note == (
        "the server asked for 120s, more than max_retry_after (60s)"
    )


def test_a_deadline_shrinks_the_resend_and_stops_a_wait_that_would_overrun_it() -> None:
    clock = FakeClock()
    config = settings(clock, retry=policy(deadline=10))
    request = httpx.Request("GET", URL, extensions={"timeout": httpx.Timeout(30).as_dict()})
    busy = answer(503, request, headers={"Retry-After": "4"})
    flow = recover(config, request, busy)
    flow.expect(Close(busy))
    flow.expect(Sleep(4.0))
    clock.sleep(4)  # what the driver's sleep takes
    flow.expect(Send(request), reply=(again := answer(503, request, headers={"Retry-After": "7"})))
    assert set(request.extensions["timeout"].values()) == {6.0}  # what the deadline leaves
    flow.expect(read(again, seconds=6.0), reply=(b"", None))  # 4 + 7 >= 10: not waited
    with pytest.raises(remedy.ServiceUnavailable) as caught:
        flow.result()
    assert caught.value.attempts[-1].note == "a 7s wait would overrun the deadline (10s, 4s used)"
    assert "gave up after 2 attempts" in str(caught.value)


def test_a_spent_retry_budget_is_not_drawn_on_and_says_so() -> None:
    config = settings(retry=policy(budget=remedy.RetryBudget(ratio=0, minimum=0, reserve=0)))
    request = httpx.Request("GET", URL)
    busy = answer(503, request, headers={"Retry-After": "1"})
    flow = recover(config, request, busy)
    flow.expect(read(busy), reply=(b"", None))
    with pytest.raises(remedy.ServiceUnavailable) as caught:
        flow.result()
    note = caught.value.attempts[-1].note or ""
    assert note.startswith(f"the retry budget for {ORIGIN} is spent")


def test_a_one_shot_body_is_never_sent_again() -> None:
    config = settings()
    request = httpx.Request("POST", URL, content=iter_once([b"chunk"]))
    busy = answer(503, request, headers={"Retry-After": "1"})
    flow = recover(config, request, busy)
    flow.expect(read(busy), reply=(b"", None))
    with pytest.raises(remedy.ServiceUnavailable) as caught:
        flow.result()
    assert caught.value.attempts[-1].note == (
        "the request body is a one-shot stream and cannot be replayed"
    )


def test_an_error_that_is_not_retried_reads_its_body_and_raises_the_typed_error() -> None:
    config = settings()
    request = httpx.Request("GET", URL)
    missing = answer(404, request, stream=httpx.ByteStream(b"{}"))
    flow = recover(config, request, missing)
    flow.expect(read(missing), reply=(b'{"detail": "no such item"}', None))
    with pytest.raises(remedy.NotFound) as caught:
        flow.result()
    assert caught.value.server_message == "no such item"
    (attempt,) = caught.value.attempts
    assert (attempt.status, attempt.action, attempt.note) == (404, "raise", None)


@pytest.mark.parametrize(
    ("cut", "seconds", "note"),
    [
        ("size", MAX_BODY_SECONDS, "[error body cut at 1024 bytes (max_error_body)]"),
        ("time", MAX_BODY_SECONDS, "[error body cut: still arriving after 10s (MAX_BODY_SECONDS)]"),
        ("time", 2.5, "[error body cut: still arriving when the deadline came, 2.5s in]"),
    ],
)
def test_a_body_cut_short_says_which_cap_cut_it(cut: str, seconds: float, note: str) -> None:
    clock = FakeClock()
    retry = policy(deadline=seconds) if seconds < MAX_BODY_SECONDS else policy()
    config = settings(clock, retry=retry)
    request = httpx.Request("GET", URL)
    missing = answer(404, request)
    flow = recover(config, request, missing)
    flow.expect(read(missing, seconds), reply=(b'{"detail": "partial', cut))
    with pytest.raises(remedy.NotFound) as caught:
        flow.result()
    assert note in str(caught.value)


def test_raise_errors_false_returns_the_error_response_after_the_retries() -> None:
    config = settings(raise_errors=False)
    request = httpx.Request("GET", URL)
    busy = answer(503, request)
    flow = recover(config, request, busy)
    flow.expect(Close(busy))
    flow.expect(Sleep(0.5))
    flow.expect(Send(request), reply=(last := answer(404, request)))
    assert flow.result() is last  # unread: the caller reads it


def test_a_pause_is_announced_first_and_a_store_that_fails_closes_the_response() -> None:
    store = remedy.MemoryStore()
    config = settings(store=store)
    request = httpx.Request("GET", URL)
    limited = answer(429, request, headers={"Retry-After": "3"})
    flow = recover(config, request, limited)
    flow.expect(StoreOp(store, "pause", (ORIGIN, 3.0)))
    flow.expect(Close(limited))
    flow.expect(Sleep(3.0))
    flow.expect(Send(request), reply=answer(200, request))
    assert flow.result().status_code == 200
    # A store is user code too: its error goes up, after the response was closed.
    flow = recover(config, request, limited)
    broken = RuntimeError("the store broke")
    flow.expect(StoreOp(store, "pause", (ORIGIN, 3.0)), reply=broken)
    flow.expect(Close(limited))
    with pytest.raises(RuntimeError, match="the store broke"):
        flow.result()


def test_the_retry_hook_sees_the_record_before_the_wait() -> None:
    seen: list[remedy.Attempt] = []
    config = settings(retry=policy(on_retry=seen.append))
    request = httpx.Request("GET", URL)
    busy = answer(503, request, headers={"Retry-After": "2"})
    flow = recover(config, request, busy)
    flow.expect(Close(busy))
    assert seen == []
    flow.expect(Sleep(2.0))  # the hook ran between the Close and the Sleep
    (record,) = seen
    assert (record.number, record.status, record.action, record.wait) == (1, 503, "retry", 2.0)


# --------------------------------------------------------------------------------------------
# The drivers
# --------------------------------------------------------------------------------------------


def with_token(**changes: Any) -> Settings:
    """Settings whose credentials hold TOKEN, bound to the API's origin."""

    class Source:
        def fetch_token(self, scope: str | None) -> dict[str, Any]:
            return {"access_token": TOKEN}

    source = Source()
    manager = TokenManager(source)
    manager.store(remedy.Token(access_token=TOKEN))
    origin = ("https", "api.example.com", None)
    return settings(auth=Auth(source, manager, frozenset({origin}), step_up=False), **changes)


def test_a_driver_refuses_what_is_not_a_command(mode: Mode) -> None:
    """Every command has its branch in a driver; anything else is an error, not a token call."""
    transport = mode.transport(lambda request: httpx.Response(200))
    with pytest.raises(TypeError, match="which is not a command"):
        mode.run(transport._execute, "fetch a token?")
