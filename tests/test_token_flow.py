"""The token flows driven directly, command by command, without a transport.

Which token fix answers a 401 or a 403 (``token_fix``), the recovery flow carrying it out (a
refresh, a step up, never a loop), the single-flight fetch under the credentials' lock
(``first_token``, ``authorize``, ``fetch``), and the path through a store shared with other
processes. Each test steps the flows with ``helpers.Steps`` and checks every command they yield
(the first send and the retry decisions are in ``test_flow.py``).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy._body import MAX_BODY_SECONDS, ReadBody
from httpx_remedy._commands import CallSource, Close, Locked, Send, Sleep, StoreOp
from httpx_remedy._first_send import begin
from httpx_remedy._grants import MAX_TOKEN_BODY
from httpx_remedy._manager import TokenManager
from httpx_remedy._recovery import assess, run
from httpx_remedy._settings import Auth, Settings
from httpx_remedy._token import Token, token_record
from httpx_remedy._token_fix import MAX_TOKEN_RESENDS, TokenFix, token_fix
from httpx_remedy._token_flow import TOKEN_TIMEOUT, authorize, first_token, token_call

from .helpers import FakeClock, Steps, iter_once

URL = "https://api.example.com/items"
TOKEN_URL = "https://auth.example.com/token"
TOKEN = "a-token-0123456789"
NEW = "new-token-0123456789"
BOUND = frozenset({("https", "api.example.com", None)})
LIMIT = 1024


class Source:
    """A user's token source (what a ``CallSource`` calls)."""

    scope = "read"

    def fetch_token(self, scope: str | None) -> dict[str, Any]:
        raise AssertionError("the tests answer CallSource themselves")


def settings(
    source: object | None = None,
    *,
    clock: FakeClock | None = None,
    step_up: bool = False,
    token: Token | None = None,
    **changes: Any,
) -> Settings:
    """Settings whose credentials (``source``, a :class:`Source` by default) hold ``token``
    (TOKEN, scope read, by default), bound to the API's origin, on ``clock``."""
    clock = clock or FakeClock()
    source = source or Source()
    manager = getattr(source, "manager", None) or TokenManager(source)
    manager.store(token or Token(access_token=TOKEN, scope="read"))
    store = getattr(source, "store", None)
    options: dict[str, Any] = {
        "retry": remedy.Retry(budget=remedy.RetryBudget()),
        "raise_errors": True,
        "max_error_body": LIMIT,
        "auth": Auth(source, manager, BOUND, step_up=step_up, store=store),
        "clock": clock.monotonic,
        "wall_clock": clock.time,
    }
    options.update(changes)
    return Settings(**options)


def recover(config: Settings, request: httpx.Request, first: httpx.Response) -> Steps:
    """The recovery flow after ``first``, for a request the transport authorized."""
    start = begin(config, request)
    token = None
    if start.auth is not None:
        token = start.auth.manager.current(start.started)
        assert token is not None
        request.headers["Authorization"] = token.authorization
    first.request = request
    return Steps(run(config, request, first, start, token))


def challenge(status: int, value: str, **options: Any) -> httpx.Response:
    return httpx.Response(status, headers={"WWW-Authenticate": value}, **options)


def read(response: httpx.Response, limit: int = LIMIT) -> ReadBody:
    return ReadBody(response, limit, MAX_BODY_SECONDS)


def locked_for(config: Settings, wait: float = TOKEN_TIMEOUT) -> Any:
    """A check that a command is the credentials' single-flight fetch, waited for ``wait``."""

    def single_flight(command: object) -> bool:
        assert config.auth is not None
        return (
            isinstance(command, Locked)
            and command.manager is config.auth.manager
            and command.wait == wait
        )

    return single_flight


# --------------------------------------------------------------------------------------------
# token_fix: which fix answers a 401 or a 403
# --------------------------------------------------------------------------------------------


def fix_for(
    config: Settings, response: httpx.Response, *, minted: bool = False, resends: int = 0
) -> TokenFix | None:
    request = httpx.Request("GET", URL)
    response.request = request
    assert config.auth is not None
    token = config.auth.manager.token
    assert token is not None
    found = assess(config, request, None, response, None, 0.0)
    return token_fix(config.auth, token, response, None, found.code, minted, resends)


@pytest.mark.parametrize(
    ("value", "fix"),
    [
        ('Bearer error="invalid_token"', TokenFix()),
        ('Bearer realm="api"', TokenFix()),  # no code: a rejected token
        ('DPoP error="invalid_token"', TokenFix()),
        ('Basic realm="x", Bearer realm="api"', TokenFix()),  # Bearer is among them
        ('Basic realm="x"', None),  # a new Bearer token would not answer it
        ('Negotiate, Digest realm="x"', None),
        ('Bearer error="invalid_client"', None),  # a code with another fix
        ('Bearer error="insufficient_user_authentication"', None),
    ],
)
def test_which_token_fix_answers_a_401(value: str, fix: TokenFix | None) -> None:
    assert fix_for(settings(), challenge(401, value)) == fix


def test_a_bare_401_is_a_rejected_token() -> None:
    assert fix_for(settings(), httpx.Response(401)) == TokenFix()


def test_no_fix_for_a_token_minted_for_this_request_nor_past_the_resend_cap() -> None:
    rejected = challenge(401, 'Bearer error="invalid_token"')
    assert fix_for(settings(), rejected, minted=True) is None  # no loop
    assert fix_for(settings(), rejected, resends=MAX_TOKEN_RESENDS) is None
    assert fix_for(settings(), rejected, resends=MAX_TOKEN_RESENDS - 1) == TokenFix()


def test_a_403_insufficient_scope_is_stepped_up_only_when_asked_to() -> None:
    scope = challenge(403, 'Bearer error="insufficient_scope", scope="admin"')
    assert fix_for(settings(), scope) is None  # step_up off
    assert fix_for(settings(step_up=True), scope) == TokenFix("read admin")  # the union
    bare = challenge(403, 'Bearer error="insufficient_scope"')
    assert fix_for(settings(step_up=True), bare) is None  # no scope named: nothing to ask for
    assert fix_for(settings(step_up=True), httpx.Response(403)) is None


# --------------------------------------------------------------------------------------------
# run: the token fixes carried out
# --------------------------------------------------------------------------------------------


def resend(token: str) -> Any:
    """A check for the replay of a request with ``token``: sent on a copy of its own on httpx
    (the request sent before keeps the token it carried), on the request itself on httpx2."""

    def resent(command: object) -> bool:
        return (
            isinstance(command, Send)
            and command.request.url == URL
            and command.request.headers["Authorization"] == f"Bearer {token}"
        )

    return resent


def answer(status: int) -> Any:
    """A reply to a ``Send``, a response to the request it sent."""
    return lambda command: httpx.Response(status, request=command.request)


def test_invalid_token_is_refreshed_once_and_the_request_replayed() -> None:
    config = settings()
    assert config.auth is not None
    request = httpx.Request("GET", URL)
    rejected = challenge(401, 'Bearer error="invalid_token"')
    flow = recover(config, request, rejected)
    flow.expect(read(rejected), reply=(b"", None))  # a 401 is not retryable: read first
    locked = flow.expect(locked_for(config))
    # Under the lock: the rejected token is not reused; the source is asked for a new one.
    inner = Steps(locked.flow)
    inner.expect(CallSource(config.auth.source, None), reply={"access_token": NEW})
    token, fetched = inner.result()
    assert (token.access_token, fetched) == (NEW, True)
    assert config.auth.manager.token is token  # every request uses it from now on
    flow.reply((token, fetched))  # what the driver answers the Locked with
    rejected_with = request.headers["Authorization"]
    sent = flow.expect(resend(NEW), reply=answer(200))
    # On httpx the replay is a copy: the rejected request keeps the token it carried.
    copies = httpx.Request.__module__ == "httpx"  # httpx2 (CI's alias leg): the request itself
    assert (sent.request is not request) is copies
    if copies:
        assert request.headers["Authorization"] == rejected_with != f"Bearer {NEW}"
    assert flow.result().request is sent.request


def test_a_token_another_request_fetched_meanwhile_is_used_without_fetching() -> None:
    config = settings()
    assert config.auth is not None
    request = httpx.Request("GET", URL)
    rejected = challenge(401, 'Bearer error="invalid_token"')
    flow = recover(config, request, rejected)
    flow.expect(read(rejected), reply=(b"", None))
    locked = flow.expect(locked_for(config))
    newer = config.auth.manager.store(Token(access_token=NEW))  # another request's refresh
    found = Steps(locked.flow).result()
    assert found == (newer, False)  # nothing asked of the source
    flow.reply(found)
    flow.expect(resend(NEW), reply=answer(401))
    flow.expect(ReadBody, reply=(b"", None))  # rejected again, but not a token fetched for it
    flow.expect(locked_for(config), reply=(Token(access_token="third-token"), True))
    flow.expect(resend("third-token"), reply=answer(200))
    assert flow.result().status_code == 200


def test_a_token_fetched_for_this_request_and_rejected_again_is_not_refreshed_again() -> None:
    config = settings()
    request = httpx.Request("GET", URL)
    rejected = challenge(401, 'Bearer error="invalid_token"')
    flow = recover(config, request, rejected)
    flow.expect(read(rejected), reply=(b"", None))
    flow.expect(locked_for(config), reply=(Token(access_token=NEW), True))
    again = challenge(401, 'Bearer error="invalid_token"', request=request)
    flow.expect(resend(NEW), reply=again)
    flow.expect(read(again), reply=(b"", None))
    with pytest.raises(remedy.InvalidToken) as caught:
        flow.result()
    assert [a.action for a in caught.value.attempts] == ["refresh", "raise"]
    assert caught.value.attempts[-1].note == (
        "the token fetched for this request was rejected too; not refreshing again"
    )


def test_insufficient_scope_is_stepped_up_to_the_union_of_scopes() -> None:
    config = settings(step_up=True)
    assert config.auth is not None
    request = httpx.Request("GET", URL)
    forbidden = challenge(403, 'Bearer error="insufficient_scope", scope="admin"')
    flow = recover(config, request, forbidden)
    flow.expect(read(forbidden), reply=(b"", None))
    locked = flow.expect(locked_for(config))
    inner = Steps(locked.flow)
    inner.expect(
        CallSource(config.auth.source, "read admin"),
        reply={"access_token": NEW, "scope": "read admin"},
    )
    token, fetched = inner.result()
    assert (token.scope, fetched) == ("read admin", True)
    flow.reply((token, fetched))
    flow.expect(resend(NEW), reply=answer(200))
    assert flow.result().status_code == 200


def test_a_401_asking_for_another_scheme_is_raised_at_once_and_says_so() -> None:
    config = settings()
    request = httpx.Request("GET", URL)
    basic = challenge(401, 'Basic realm="x"')
    flow = recover(config, request, basic)
    flow.expect(read(basic), reply=(b"", None))
    with pytest.raises(remedy.Unauthorized) as caught:
        flow.result()
    assert caught.value.attempts[-1].note == (
        "the server asks for Basic authentication, not a Bearer token: "
        "a new token would not answer it"
    )


def test_a_one_shot_body_is_not_replayed_with_a_new_token() -> None:
    config = settings()
    request = httpx.Request("POST", URL, content=iter_once([b"chunk"]))
    rejected = challenge(401, 'Bearer error="invalid_token"')
    flow = recover(config, request, rejected)
    flow.expect(read(rejected), reply=(b"", None))
    with pytest.raises(remedy.InvalidToken) as caught:
        flow.result()  # no Locked: nothing is fetched for a request that cannot be sent again
    assert caught.value.attempts[-1].note == (
        "the request body is a one-shot stream and cannot be replayed with a new token"
    )


def test_a_401_to_a_request_that_carried_no_token_names_the_bound_origin() -> None:
    config = settings()
    request = httpx.Request("GET", "https://other.example.com/items")
    flow = recover(config, request, httpx.Response(401))
    assert "Authorization" not in request.headers  # not a bound origin: no token sent
    flow.expect(ReadBody, reply=(b"", None))
    with pytest.raises(remedy.Unauthorized) as caught:
        flow.result()
    assert caught.value.attempts[-1].note == (
        "no token was sent: the credentials are bound to https://api.example.com; pass "
        'origins=[..., "https://other.example.com"] to send it here'
    )


def test_a_request_that_gives_up_waiting_for_the_token_never_repeats_an_echoed_token() -> None:
    """A hostile server echoes the token as the challenge's error code; the request gives up
    waiting for another's refresh: the error's message and attempt records hold no token (with
    ``raise_errors=False`` the code is read from the challenge alone, the body left unread)."""
    config = settings(raise_errors=False)
    request = httpx.Request("GET", URL)
    rejected = challenge(401, f'Bearer error="{TOKEN}"')
    flow = recover(config, request, rejected)
    flow.expect(Close(rejected))
    locked = flow.expect(Locked)
    locked.flow.close()  # the driver's wait for the lock ran out: the inner flow never ran
    with pytest.raises(remedy.TokenWaitTimeout) as caught:
        flow.flow.throw(locked.timed_out())
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value.attempts)
    (attempt,) = caught.value.attempts
    assert attempt.action == "raise"
    assert "gave up waiting for another's token fetch" in (attempt.note or "")
    assert caught.value.holder == "another request in this process"


# --------------------------------------------------------------------------------------------
# The single-flight fetch: first_token, authorize
# --------------------------------------------------------------------------------------------


def test_the_first_token_is_fetched_under_the_lock_within_the_requests_time() -> None:
    config = settings()
    assert config.auth is not None
    config.auth.manager.reset()  # no token yet
    timeouts = httpx.Timeout(2, read=7).as_dict()
    request = httpx.Request("GET", URL, extensions={"timeout": timeouts})
    locked = first_token(config, request, begin(config, request))
    assert locked_for(config, wait=7.0)(locked)  # the request's longest timeout
    inner = Steps(locked.flow)
    inner.expect(CallSource(config.auth.source, None), reply=Token(access_token=NEW))
    token, fetched = inner.result()
    assert (token.access_token, fetched) == (NEW, True)
    error = locked.timed_out()
    assert error.cap == "its longest timeout (7s)"
    assert f"before sending GET {URL}" in str(error)


def test_a_passing_failure_keeps_the_current_token_until_it_expires() -> None:
    clock = FakeClock()
    due = Token.from_response({"access_token": TOKEN, "expires_in": 100}, now=clock.now - 80)
    assert not due.fresh(clock.now)  # past its refresh point...
    assert due.usable(clock.now)  # ...not yet expired
    config = settings(clock=clock, token=due)
    assert config.auth is not None
    request = httpx.Request("GET", URL)
    call = token_call(config, request, config.retry, clock.now, "before sending")
    flow = Steps(authorize(config, None, None, call))
    flow.expect(CallSource(config.auth.source, None), reply=ConnectionError("vault down"))
    assert flow.result() == (due, False)
    assert config.auth.manager.rejection is None  # not for good: asked again next time


def test_a_rejection_for_good_is_remembered_and_not_asked_again() -> None:
    config = settings()
    assert config.auth is not None
    manager = config.auth.manager
    current = manager.token
    request = httpx.Request("GET", URL)
    call = token_call(config, request, config.retry, 1_000.0, "before sending")
    # What a token request answered invalid_client raises (through the recovery flow).
    token_response = httpx.Response(
        401, json={"error": "invalid_client"}, request=httpx.Request("POST", TOKEN_URL)
    )
    with pytest.raises(remedy.InvalidClient) as rejected:
        remedy.raise_for_status(token_response)
    flow = Steps(authorize(config, current, None, call))  # the current token was rejected
    flow.expect(CallSource(config.auth.source, None), reply=rejected.value)
    with pytest.raises(remedy.InvalidClient):
        flow.result()
    assert manager.token is None
    with pytest.raises(remedy.ReauthenticationRequired) as again:
        Steps(authorize(config, None, None, call)).result()  # refused before any command
    assert again.value.cause is rejected.value


# --------------------------------------------------------------------------------------------
# fetch: the token request, recovered like any request
# --------------------------------------------------------------------------------------------


def grant(store: remedy.Store | None = None) -> remedy.ClientCredentials:
    return remedy.ClientCredentials(TOKEN_URL, "app", "s3cret-value", scope="read", store=store)


def token_request(timeouts: dict[str, float], deadline: float | None = None) -> Any:
    """A check that a command sends the token request, with ``timeouts`` and, when the request
    that needs the token has a deadline, a policy within it."""

    def the_token_request(command: object) -> bool:
        if not isinstance(command, Send) or str(command.request.url) != TOKEN_URL:
            return False
        extensions = command.request.extensions
        policy = extensions.get("remedy.retry")
        return (
            extensions["remedy.idempotent"] is True
            and extensions["timeout"] == timeouts
            and (deadline is None) == (policy is None)
            and (deadline is None or policy.deadline == pytest.approx(deadline))
        )

    return the_token_request


def token_body(access_token: str = NEW, **extra: Any) -> bytes:
    return json.dumps({"access_token": access_token, "expires_in": 3600, **extra}).encode()


def ok(command: Send) -> httpx.Response:
    """A 200 for the token request ``command`` sends (its body comes with the ReadBody)."""
    return httpx.Response(200, request=command.request)


def reads_the_token_response(command: object) -> bool:
    return (
        isinstance(command, ReadBody)
        and str(command.response.request.url) == TOKEN_URL
        and (command.limit, command.seconds) == (MAX_TOKEN_BODY, MAX_BODY_SECONDS)
    )


def test_a_grant_sends_the_token_request_with_the_requests_time_and_reads_its_answer() -> None:
    clock = FakeClock()
    config = settings(grant(), clock=clock, retry=remedy.Retry(deadline=20))
    config.auth.manager.reset()  # type: ignore[union-attr]
    request = httpx.Request("GET", URL, extensions={"timeout": httpx.Timeout(5).as_dict()})
    start = begin(config, request)
    clock.advance(2)  # the deadline leaves 18 s to the token request
    locked = first_token(config, request, start)
    inner = Steps(locked.flow)
    timeouts = dict.fromkeys(("connect", "read", "write", "pool"), 5.0)
    send = inner.expect(token_request(timeouts, deadline=18), reply=ok)
    assert send.request.headers["Authorization"].startswith("Basic ")
    inner.expect(reads_the_token_response, reply=(token_body(), None))
    token, fetched = inner.result()
    assert (token.access_token, fetched) == (NEW, True)
    assert token.expires_at == pytest.approx(clock.now + 3600)


def test_a_busy_token_endpoint_is_retried_like_any_request() -> None:
    config = settings(grant())
    config.auth.manager.reset()  # type: ignore[union-attr]
    request = httpx.Request("GET", URL)
    locked = first_token(config, request, begin(config, request))
    inner = Steps(locked.flow)
    timeouts = dict.fromkeys(("connect", "read", "write", "pool"), TOKEN_TIMEOUT)
    busy = httpx.Response(503, headers={"Retry-After": "1"})
    send = inner.expect(token_request(timeouts), reply=busy)
    inner.expect(Close(busy))
    inner.expect(Sleep(1.0))
    inner.expect(Send(send.request), reply=ok)
    inner.expect(reads_the_token_response, reply=(token_body(), None))
    assert inner.result()[0].access_token == NEW


def test_a_token_response_cut_short_says_so() -> None:
    config = settings(grant())
    config.auth.manager.reset()  # type: ignore[union-attr]
    request = httpx.Request("GET", URL)
    inner = Steps(first_token(config, request, begin(config, request)).flow)
    inner.expect(Send, reply=ok)
    inner.expect(reads_the_token_response, reply=(b'{"acc', "size"))
    with pytest.raises(remedy.TokenResponseError) as caught:
        inner.result()
    assert "[token response cut at 262144 bytes (MAX_TOKEN_BODY)]" in str(caught.value)


# --------------------------------------------------------------------------------------------
# Through a store shared with other processes
# --------------------------------------------------------------------------------------------


def shared(clock: FakeClock) -> tuple[Settings, remedy.ClientCredentials, remedy.MemoryStore]:
    store = remedy.MemoryStore(clock=clock.monotonic)
    credentials = grant(store)
    config = settings(credentials, clock=clock)
    credentials.manager.reset()
    return config, credentials, store


def test_a_good_token_another_process_stored_is_adopted_without_a_lock() -> None:
    clock = FakeClock()
    config, credentials, store = shared(clock)
    theirs = Token.from_response({"access_token": NEW, "expires_in": 3600}, now=clock.now)
    record, _ = token_record(theirs, clock.now, clock.time())
    request = httpx.Request("GET", URL)
    inner = Steps(first_token(config, request, begin(config, request)).flow)
    inner.expect(StoreOp(store, "get", (credentials.shared_key,)), reply=record)
    token, fetched = inner.result()
    assert (token.access_token, fetched) == (NEW, False)


def test_one_process_fetches_under_the_stores_lock_and_shares_the_token() -> None:
    clock = FakeClock()
    config, credentials, store = shared(clock)
    key = credentials.shared_key
    request = httpx.Request("GET", URL)
    inner = Steps(first_token(config, request, begin(config, request)).flow)
    inner.expect(StoreOp(store, "get", (key,)), reply=None)
    inner.expect(StoreOp(store, "lock", ("lock:" + key,)), reply="fence-1")
    inner.expect(StoreOp(store, "get", (key,)), reply=None)  # a last look, under the lock
    inner.expect(Send, reply=ok)
    inner.expect(reads_the_token_response, reply=(token_body(), None))

    def fenced_write(command: object) -> bool:
        if not isinstance(command, StoreOp) or command.method != "put_fenced":
            return False
        lock, fence, written, record, _ = command.args
        return (lock, fence, written) == ("lock:" + key, "fence-1", key) and NEW.encode() in record

    inner.expect(fenced_write, reply=True)
    inner.expect(StoreOp(store, "unlock", ("lock:" + key, "fence-1")))
    token, fetched = inner.result()
    assert (token.access_token, fetched) == (NEW, True)


def test_a_token_written_just_before_the_lock_was_taken_is_used_and_the_lock_given_back() -> None:
    clock = FakeClock()
    config, credentials, store = shared(clock)
    key = credentials.shared_key
    theirs = Token.from_response({"access_token": NEW, "expires_in": 3600}, now=clock.now)
    record, _ = token_record(theirs, clock.now, clock.time())
    request = httpx.Request("GET", URL)
    inner = Steps(first_token(config, request, begin(config, request)).flow)
    inner.expect(StoreOp(store, "get", (key,)), reply=None)
    inner.expect(StoreOp(store, "lock", ("lock:" + key,)), reply="fence-1")
    inner.expect(StoreOp(store, "get", (key,)), reply=record)
    inner.expect(StoreOp(store, "unlock", ("lock:" + key, "fence-1")))
    assert inner.result()[0].access_token == NEW


def test_a_failed_fetch_gives_the_stores_lock_back() -> None:
    clock = FakeClock()
    config, credentials, store = shared(clock)
    key = credentials.shared_key
    request = httpx.Request("GET", URL)
    inner = Steps(first_token(config, request, begin(config, request)).flow)
    inner.expect(StoreOp(store, "get", (key,)), reply=None)
    inner.expect(StoreOp(store, "lock", ("lock:" + key,)), reply="fence-1")
    inner.expect(StoreOp(store, "get", (key,)), reply=None)
    inner.expect(Send, reply=httpx.ConnectError("refused"))
    inner.expect(Sleep)  # the token request is retried...
    inner.expect(Send, reply=httpx.ConnectError("refused"))
    inner.expect(Sleep)
    inner.expect(Send, reply=httpx.ConnectError("refused"))  # ...until max_attempts
    inner.expect(StoreOp(store, "unlock", ("lock:" + key, "fence-1")))
    with pytest.raises(httpx.ConnectError):
        inner.result()


def test_waiting_for_another_process_stops_when_the_requests_time_is_up() -> None:
    """Another process holds the store's lock and writes nothing: this one looks again every
    ``SHARED_POLL`` (a wait that testing mode does not skip) until its own time is up."""
    clock = FakeClock()
    config, credentials, store = shared(clock)
    key = credentials.shared_key
    request = httpx.Request("GET", URL, extensions={"timeout": httpx.Timeout(0.2).as_dict()})
    inner = Steps(first_token(config, request, begin(config, request)).flow)
    waits: list[float] = []

    def look_again_and_again() -> None:
        while True:
            inner.expect(StoreOp(store, "get", (key,)), reply=None)
            inner.expect(StoreOp(store, "lock", ("lock:" + key,)), reply=None)  # held
            wait = inner.expect(Sleep)
            assert wait.always
            waits.append(wait.seconds)
            clock.sleep(wait.seconds)

    with pytest.raises(remedy.TokenWaitTimeout) as caught:
        look_again_and_again()
    assert sum(waits) == pytest.approx(0.2)
    assert max(waits) <= 0.05
    assert caught.value.holder == "another process (through the shared store)"
    assert caught.value.cap == "its longest timeout (0.2s)"
