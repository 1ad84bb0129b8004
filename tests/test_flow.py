"""The core driven directly, command by command, without a transport.

Each test builds the core's inputs (settings, a request, what the first send gave), steps the
flow generator itself, and checks each command it yields and what it returns or raises: what a
driver would carry out, with no driver in the way (h11's and hishel's core tests are the model).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy._body import ReadBody
from httpx_remedy._commands import Close, Locked, Send, Sleep, StoreOp, sleep_seconds
from httpx_remedy._first_send import Start, begin, enters_flow
from httpx_remedy._manager import TokenManager
from httpx_remedy._recovery import assess, run
from httpx_remedy._settings import Auth, Settings
from httpx_remedy._token_fix import TokenFix, token_fix
from httpx_remedy.testing import no_wait

URL = "https://api.example.com/items"
TOKEN = "a-token-0123456789"


class Source:
    """A token source that hands out TOKEN."""

    def fetch_token(self, scope: str | None) -> dict[str, Any]:
        return {"access_token": TOKEN, "expires_in": 3600}


def settings(**changes: Any) -> Settings:
    """Settings with a policy of its own budget, on a clock that stands still."""
    options: dict[str, Any] = {
        "retry": remedy.Retry(budget=remedy.RetryBudget()),
        "raise_errors": True,
        "max_error_body": 1024,
        "clock": lambda: 1_000.0,
        "wall_clock": lambda: 1_764_000_000.0,
    }
    options.update(changes)
    return Settings(**options)


def with_token(**changes: Any) -> Settings:
    """Settings whose credentials hold TOKEN, bound to the API's origin."""
    source = Source()
    manager = TokenManager(source)
    manager.store(remedy.Token(access_token=TOKEN))
    origin = ("https", "api.example.com", None)
    return settings(auth=Auth(source, manager, frozenset({origin}), step_up=False), **changes)


def step(flow: Generator[Any, Any, Any], answer: object = None) -> Any:
    """The flow's next command after ``answer`` (the result of the one before)."""
    return flow.send(answer)


def test_a_2xx_never_enters_the_flow_and_an_error_enters_only_when_something_is_to_be_done() -> (
    None
):
    request = httpx.Request("GET", URL)
    start = begin(settings(), request)
    assert isinstance(start, Start)
    assert not enters_flow(start, 200)
    assert not enters_flow(start, 304)
    assert enters_flow(start, 503)
    assert enters_flow(start, None)  # a transport error, with a policy to retry it
    bare = begin(settings(retry=None, raise_errors=False), request)
    assert not enters_flow(bare, 503)  # nothing to retry, refresh or raise
    assert not enters_flow(bare, None)
    typed_only = begin(settings(retry=None), request)
    assert enters_flow(typed_only, 404)  # the typed error is raised
    assert not enters_flow(typed_only, None)


def test_a_retry_wait_is_skipped_in_testing_mode_and_a_wait_for_another_process_is_not() -> None:
    assert sleep_seconds(Sleep(1.5)) == 1.5
    assert sleep_seconds(Sleep(0.0)) == 0.0
    assert sleep_seconds(Sleep(-1.0)) == 0.0
    with no_wait():
        assert sleep_seconds(Sleep(1.5)) == 0.0
        assert sleep_seconds(Sleep(1.5, always=True)) == 1.5
    assert sleep_seconds(Sleep(1.5)) == 1.5


def test_a_503_with_retry_after_closes_sleeps_and_sends_again() -> None:
    config = settings()
    request = httpx.Request("GET", URL)
    start = begin(config, request)
    busy = httpx.Response(503, headers={"Retry-After": "2"}, request=request)
    flow = run(config, request, busy, start)
    assert step(flow) == Close(busy)  # before the wait: the connection goes back to the pool
    assert step(flow) == Sleep(2.0)
    assert step(flow) == Send(request)
    ok = httpx.Response(200, request=request)
    with pytest.raises(StopIteration) as done:
        step(flow, ok)
    assert done.value.value is ok


def test_an_error_that_is_not_retried_reads_its_body_and_raises_the_typed_error() -> None:
    config = settings()
    request = httpx.Request("GET", URL)
    start = begin(config, request)
    missing = httpx.Response(404, request=request, stream=httpx.ByteStream(b"{}"))
    flow = run(config, request, missing, start)
    command = step(flow)
    assert isinstance(command, ReadBody)
    assert (command.response, command.limit) == (missing, 1024)
    with pytest.raises(remedy.NotFound) as caught:
        step(flow, (b'{"detail": "no such item"}', None))
    assert caught.value.server_message == "no such item"
    (attempt,) = caught.value.attempts
    assert (attempt.status, attempt.action) == (404, "raise")


def test_assess_says_what_a_429_was_and_how_long_every_process_should_pause() -> None:
    store = remedy.MemoryStore()
    config = settings(store=store, retry=remedy.Retry(budget=None, max_retry_after=5))
    request = httpx.Request("GET", URL)
    limited = httpx.Response(429, headers={"Retry-After": "30"}, request=request)
    found = assess(config, request, config.retry, limited, None, 1_764_000_000.0)
    assert (found.status, found.kind, found.delay) == (
        429,
        remedy.Remedy.BACK_OFF,
        (30.0, "retry-after"),
    )
    assert found.pause == 5  # no longer than this policy would wait itself
    assert found.details is None  # decided without reading the body
    # The flow announces that pause to the store before anything else.
    flow = run(config, request, limited, begin(config, request))
    assert step(flow) == StoreOp(store, "pause", ("https://api.example.com", 5))


def test_which_token_fix_answers_a_401() -> None:
    config = with_token()
    assert config.auth is not None
    token = config.auth.manager.token
    assert token is not None
    request = httpx.Request("GET", URL)

    def fix(status: int, challenge: str, minted: bool = False) -> TokenFix | None:
        response = httpx.Response(status, headers={"WWW-Authenticate": challenge}, request=request)
        code = found.code if (found := assess(config, request, None, response, None, 0.0)) else None
        assert config.auth is not None
        return token_fix(config.auth, token, response, None, code, minted, 0)

    assert fix(401, 'Bearer error="invalid_token"') == TokenFix()
    assert fix(401, 'Basic realm="x"') is None  # a new Bearer token would not answer it
    assert fix(401, 'Bearer error="invalid_token"', minted=True) is None  # no loop
    assert fix(403, 'Bearer error="insufficient_scope", scope="admin"') is None  # step_up off


def test_a_request_that_gives_up_waiting_for_the_token_never_repeats_an_echoed_token() -> None:
    """A hostile server echoes the token as the challenge's error code; the request gives up
    waiting for another's refresh: the error's message and attempt records hold no token (with
    ``raise_errors=False`` the code is read from the challenge alone, the body left unread)."""
    config = with_token(raise_errors=False)
    request = httpx.Request("GET", URL, headers={"Authorization": f"Bearer {TOKEN}"})
    start = begin(config, request)
    assert start.auth is not None
    rejected = httpx.Response(401, headers={"WWW-Authenticate": f'Bearer error="{TOKEN}"'})
    rejected.request = request
    flow = run(config, request, rejected, start, config.auth.manager.token)  # type: ignore[union-attr]
    assert step(flow) == Close(rejected)
    locked = step(flow)
    assert isinstance(locked, Locked)
    locked.flow.close()
    with pytest.raises(remedy.TokenWaitTimeout) as caught:
        flow.throw(locked.timed_out())
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value.attempts)
    (attempt,) = caught.value.attempts
    assert attempt.action == "raise"
    assert "gave up waiting for another's token fetch" in (attempt.note or "")


def test_a_driver_refuses_what_is_not_a_command() -> None:
    """Every command has its branch in a driver; anything else is an error, not a token call."""
    with pytest.raises(TypeError, match="which is not a command"):
        remedy.RemedyTransport()._execute("fetch a token?")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_an_async_driver_refuses_what_is_not_a_command() -> None:
    with pytest.raises(TypeError, match="which is not a command"):
        await remedy.AsyncRemedyTransport()._execute("fetch a token?")  # type: ignore[arg-type]
