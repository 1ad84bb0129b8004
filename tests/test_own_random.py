"""The library's jitter (the default backoff, the token refresh's) comes from generators of its
own: ``random``'s shared state, which a program may seed for its own sequence (and which
Hypothesis watches while it generates examples), is left alone, from whatever thread a retry or
a token fetch runs in."""

from __future__ import annotations

import random

import httpx

import httpx_remedy as remedy
from httpx_remedy._jitter import RANDOM, wait_random_exponential

from .helpers import API, SECRET, TOKEN_URL, FakeAS, FakeClock, Mode


def test_a_retried_request_and_a_token_fetch_leave_the_random_module_alone(
    mode: Mode, clock: FakeClock
) -> None:
    answers = iter([httpx.Response(503), httpx.Response(200)])
    fake = FakeAS()

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.host != "api.example.com":
            return fake(request)
        fake(request)  # the token was checked as usual; the answer is scripted
        return next(answers)

    credentials = remedy.ClientCredentials(TOKEN_URL, "app", SECRET)
    random.seed(1234)
    before = random.getstate()
    with mode.client(api, clock, credentials=credentials, retry=remedy.Retry()) as client:
        assert client.get(API + "/items").status_code == 200
    assert len(clock.sleeps) == 1  # a backoff was drawn: no Retry-After
    assert fake.token_requests  # a token was fetched: its refresh jitter was drawn
    assert random.getstate() == before


def test_the_default_backoff_is_tenacitys_full_jitter_on_its_own_generator() -> None:
    import tenacity

    wait = remedy.Retry().wait
    assert isinstance(wait, tenacity.wait_random_exponential)
    assert type(wait) is wait_random_exponential
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    state.attempt_number = 4  # a window of 0.5 s x 2^3 = 4 s
    RANDOM.seed(7)
    drawn = [wait(state) for _ in range(200)]
    assert all(0.0 <= value <= 4.0 for value in drawn)
    assert max(drawn) > 3.0  # uniform over the whole window, not a fixed wait
    RANDOM.seed(7)
    assert wait(state) == drawn[0]
