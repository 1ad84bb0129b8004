"""Pacing on the quota servers announce: the parsers, the pacer's bookings, and the transports
waiting for a reset (or refusing at once) instead of collecting a 429."""

from __future__ import annotations

import math

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy import MemoryStore, Pacer, PacingRefused, Retry, RetryBudget
from httpx_remedy._pacer import DEFAULT_PACER
from httpx_remedy._quota import Quota, mentions_quota, quota

from .helpers import FakeClock, Mode

URL = "https://api.example.com/items"
ORIGIN = ("https", "api.example.com", None)
NOW = 1_764_000_000.0


def parsed(**headers: str) -> Quota | None:
    return quota(httpx.Headers({k.replace("_", "-"): v for k, v in headers.items()}), NOW)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # draft-10: several policies, the most constraining wins, its policy gives limit/window
        (
            {
                "RateLimit": '"burst";r=40;t=1, "daily";r=3;t=3600',
                "RateLimit-Policy": '"burst";q=50;w=1, "daily";q=1000;w=86400',
            },
            Quota(3, 3600, 1000, 86400, "ratelimit"),
        ),
        ({"RateLimit": "default;r=0;t=30"}, Quota(0, 30, None, None, "ratelimit")),
        # draft-07 dictionary
        (
            {"RateLimit": "limit=100, remaining=7, reset=5"},
            Quota(7, 5, 100, None, "ratelimit"),
        ),
        # draft-06 separate fields, with a w= window on the limit
        (
            {
                "RateLimit-Limit": "100, 100;w=60",
                "RateLimit-Remaining": "9",
                "RateLimit-Reset": "12",
            },
            Quota(9, 12, 100, 60, "ratelimit-reset"),
        ),
        # GitHub: X-RateLimit-Reset is epoch seconds
        (
            {
                "X-RateLimit-Limit": "5000",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(NOW) + 1800),
            },
            Quota(0, 1800, 5000, None, "x-ratelimit-reset"),
        ),
        # epoch milliseconds, and the X-Rate-Limit- spelling
        (
            {"X-Rate-Limit-Remaining": "4", "X-Rate-Limit-Reset": str(int(NOW * 1000) + 2500)},
            Quota(4, 2.5, None, None, "x-rate-limit-reset"),
        ),
        # a reset in the past is 0
        (
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) - 10)},
            Quota(0, 0.0, None, None, "x-ratelimit-reset"),
        ),
    ],
)
def test_quota_sources(headers: dict[str, str], expected: Quota) -> None:
    found = quota(httpx.Headers(headers), NOW)
    assert found is not None
    assert found._replace(reset=round(found.reset, 3)) == expected


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-RateLimit-Remaining": "3"},  # no reset: nothing to pace on
        {"X-RateLimit-Reset": "30"},
        {"X-RateLimit-Remaining": "many", "X-RateLimit-Reset": "30"},
        {"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "-1"},
        {"RateLimit": "garbage"},
        {"RateLimit": '"a";r=x;t=1'},
        {"RateLimit": "limit=5, reset=3"},
    ],
)
def test_no_usable_quota(headers: dict[str, str]) -> None:
    assert quota(httpx.Headers(headers), NOW) is None


def test_the_gate_looks_at_names_only() -> None:
    assert not mentions_quota(httpx.Headers({"content-type": "text/plain", "x-rate": "1"}))
    assert mentions_quota(httpx.Headers({"X-RateLimit-Remaining": "1"}))
    assert mentions_quota(httpx.Headers({"x-rate-limit-remaining": "1"}))
    assert not mentions_quota(httpx.Headers({"x-ratelimit-reset": "1"}))  # no count: no quota
    assert not mentions_quota(httpx.Headers({"RateLimit-Policy": '"a";q=1;w=1'}))  # no count
    assert mentions_quota({"anything": "else"})  # not httpx's: parsed, not guessed


def spent(reset: float, limit: float | None = None, window: float | None = None) -> Quota:
    return Quota(0, reset, limit, window, "x-ratelimit-reset")


def test_a_spent_quota_waits_for_the_reset_and_is_announced_once() -> None:
    pacer = Pacer(margin=0.0)
    assert pacer.heard(ORIGIN, spent(10), 100.0) == 10.0
    assert pacer.heard(ORIGIN, spent(9.5), 100.5) is None  # the same window: said already
    assert pacer.book(ORIGIN, 101.0, 60)[0] == pytest.approx(9.0)
    # Past the reset, with no limit known, the pacer forgets and the next answer tells.
    assert pacer.book(ORIGIN, 110.0, 60) == (0.0, None)
    assert not pacer._windows


def test_waiters_beyond_the_limit_go_to_the_window_after() -> None:
    pacer = Pacer(margin=0.0, spread_below=0)
    pacer.heard(ORIGIN, spent(2, limit=3, window=5), 0.0)
    waits = [pacer.book(ORIGIN, 0.0, 60)[0] for _ in range(7)]
    assert waits == [2, 2, 2, 7, 7, 7, 12]


def test_a_wait_longer_than_allowed_is_not_booked() -> None:
    pacer = Pacer(margin=0.0, spread_below=0)
    pacer.heard(ORIGIN, spent(30, limit=1, window=30), 0.0)
    assert pacer.book(ORIGIN, 0.0, 10)[0] == 30  # refused: not booked
    assert pacer.book(ORIGIN, 0.0, 60)[0] == 30  # so the next one still gets that window


def test_a_low_quota_is_spread_over_the_time_left() -> None:
    pacer = Pacer(margin=0.0, spread_below=0.2)
    pacer.heard(ORIGIN, Quota(4, 8, 100, 60, "ratelimit"), 0.0)
    waits = [pacer.book(ORIGIN, 0.0, 60)[0] for _ in range(4)]
    assert waits == pytest.approx([0, 2, 4, 6])


def test_the_server_count_wins_when_lower() -> None:
    pacer = Pacer(margin=0.0, spread_below=0)
    pacer.heard(ORIGIN, Quota(50, 10, 100, 60, "ratelimit"), 0.0)
    pacer.heard(ORIGIN, Quota(0, 9.8, 100, 60, "ratelimit"), 0.2)  # other clients spent it
    assert pacer.book(ORIGIN, 0.2, 60)[0] == pytest.approx(9.8)


class Limited:
    """A fixed-window limiter on a fake clock, answering with X-RateLimit-* headers."""

    def __init__(self, clock: FakeClock, limit: int, window: float, epoch: bool = False) -> None:
        self.clock, self.limit, self.window, self.epoch = clock, limit, window, epoch
        self.counts: dict[int, int] = {}
        self.refused = self.sent = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        elapsed = self.clock.now - self.clock.start
        index = math.floor(elapsed / self.window)
        used = self.counts[index] = self.counts.get(index, 0) + 1
        reset = (index + 1) * self.window - elapsed
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.limit - used, 0)),
            "X-RateLimit-Reset": str(self.clock.time() + reset) if self.epoch else str(reset),
        }
        if used > self.limit:
            self.refused += 1
            return httpx.Response(429, headers={**headers, "Retry-After": str(reset)})
        return httpx.Response(200, headers=headers)


def test_a_client_far_from_its_limit_is_never_slowed(mode: Mode, clock: FakeClock) -> None:
    """Pacing is on by default because of this: a burst well inside the quota, and a steady
    rate just under the limit through many windows, never wait."""
    server = Limited(clock, limit=1000, window=60)
    with mode.client(server, clock, retry=Retry(budget=RetryBudget(), pace=Pacer())) as client:
        for _ in range(500):  # a burst: half the quota at once
            client.get(URL)
        assert clock.sleeps == []
        clock.advance(60)
        for _ in range(2000):  # 90% of the allowed rate, steadily, for about two windows
            client.get(URL)
            clock.advance(60 / 900)
    assert clock.sleeps == []
    assert server.refused == 0


def test_a_spent_quota_is_waited_out_not_sent(mode: Mode, clock: FakeClock) -> None:
    server = Limited(clock, limit=5, window=10, epoch=True)
    retry = Retry(budget=RetryBudget(), pace=Pacer(margin=0.0))
    with mode.client(server, clock, retry=retry) as client:
        statuses = [client.get(URL).status_code for _ in range(12)]
    assert statuses == [200] * 12
    assert server.refused == 0
    assert server.sent == 12
    assert clock.now - clock.start >= 20  # three windows


def test_without_pacing_the_429s_come(mode: Mode, clock: FakeClock) -> None:
    server = Limited(clock, limit=5, window=10)
    retry = Retry(budget=RetryBudget(), pace=False)
    with mode.client(server, clock, retry=retry) as client:
        for _ in range(7):
            client.get(URL)
    assert server.refused == 1  # then its Retry-After is waited out


def test_one_request_turns_pacing_off(mode: Mode, clock: FakeClock) -> None:
    server = Limited(clock, limit=1, window=10)
    retry = Retry(budget=RetryBudget(), pace=Pacer(), max_attempts=1)
    with mode.client(server, clock, retry=retry, raise_errors=False) as client:
        client.get(URL)
        response = client.get(URL, extensions={"remedy.pace": False})
    assert response.status_code == 429
    assert clock.sleeps == []


def test_a_reset_too_far_raises_pacing_refused_at_once(mode: Mode, clock: FakeClock) -> None:
    sent: list[httpx.Request] = []

    def github(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(
            200,
            headers={
                "X-RateLimit-Limit": "5000",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(clock.time()) + 1800),
            },
        )

    retry = Retry(budget=RetryBudget(), pace=Pacer(), max_retry_after=60)
    with mode.client(github, clock, retry=retry) as client:
        client.get(URL)
        with pytest.raises(PacingRefused) as caught:
            client.get(URL)
    error = caught.value
    assert isinstance(error, remedy.OriginPaused)
    assert len(sent) == 1
    assert clock.sleeps == []
    assert (error.remaining, error.limit, error.source) == (0, 5000, "x-ratelimit-reset")
    assert 1790 < error.retry_after <= 1801
    assert "the client's pacing refused" in str(error)
    assert "remaining=0 of limit=5000" in str(error)
    assert "max_retry_after (60s)" in str(error)


def test_the_deadline_bounds_a_pacing_wait(mode: Mode, clock: FakeClock) -> None:
    server = Limited(clock, limit=1, window=50)
    retry = Retry(budget=RetryBudget(), pace=Pacer(), deadline=20, max_retry_after=100)
    with mode.client(server, clock, retry=retry) as client:
        client.get(URL)
        with pytest.raises(PacingRefused, match="past the deadline"):
            client.get(URL)


def test_a_spent_quota_is_shared_through_the_store(mode: Mode, clock: FakeClock) -> None:
    store = MemoryStore(clock=clock.monotonic)
    server = Limited(clock, limit=2, window=30)
    retry = Retry(budget=RetryBudget(), pace=Pacer(margin=0.0))
    with mode.client(server, clock, retry=retry, store=store) as client:
        client.get(URL)
        assert store.paused_for("https://api.example.com") == 0
        client.get(URL)  # remaining=0: every process sharing the store should wait
        assert store.paused_for("https://api.example.com") == pytest.approx(30)


def test_a_2xx_without_quota_headers_leaves_the_pacer_alone(mode: Mode, clock: FakeClock) -> None:
    pacer = Pacer()
    with mode.client(lambda r: httpx.Response(200), clock, retry=Retry(pace=pacer)) as client:
        client.get(URL)
    assert pacer._windows == {}


def test_pacing_is_on_by_default_and_shared_by_the_process() -> None:
    assert Retry().pace is DEFAULT_PACER
    assert Retry(pace=False).pace is None
    assert "pace" not in repr(Retry())
    assert "pace=False" in repr(Retry(pace=False))
    assert "pace=Pacer(spread_below=0.1" in repr(Retry(pace=Pacer(spread_below=0.1)))
    with pytest.raises(TypeError, match="pace"):
        Retry(pace="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"spread_below": -1}, "spread_below"),
        ({"spread_below": 2}, "spread_below"),
        ({"margin": float("nan")}, "margin"),
        ({"spread_min": 1.5}, "spread_min"),
    ],
)
def test_pacer_arguments_are_checked(options: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Pacer(**options)  # type: ignore[arg-type]


def test_a_retry_is_counted_in_the_quota_and_its_answer_heard(mode: Mode, clock: FakeClock) -> None:
    quota_headers = {"X-RateLimit-Limit": "5", "X-RateLimit-Reset": "2"}
    answers = iter(
        [
            httpx.Response(
                429, headers={**quota_headers, "X-RateLimit-Remaining": "0", "Retry-After": "2"}
            ),
            httpx.Response(200, headers={**quota_headers, "X-RateLimit-Remaining": "3"}),
        ]
    )
    pacer = Pacer(margin=0.0)
    retry = Retry(budget=RetryBudget(), pace=pacer)
    with mode.client(lambda request: next(answers), clock, retry=retry) as client:
        assert client.get(URL).status_code == 200
    assert clock.sleeps == [2.0]  # the server's Retry-After, as it said
    assert pacer._inflight == {}  # the retry was counted, and its answer heard
    assert pacer._windows[ORIGIN].left == 3


def test_a_github_style_403_with_the_quota_spent_holds_the_next_request(
    mode: Mode, clock: FakeClock
) -> None:
    """GitHub answers a spent primary limit with a 403 carrying ``x-ratelimit-remaining: 0`` and
    the reset (docs/recipes/github.md): the 403 is raised as ``Forbidden``, and its quota is
    heard like a 2xx's, so the next request waits for the reset instead of collecting another."""
    reset_at = clock.time() + 30
    spent = {
        "X-RateLimit-Limit": "5000",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(reset_at)),
    }
    answers = [
        httpx.Response(403, headers=spent, json={"message": "API rate limit exceeded"}),
        httpx.Response(200, json={"ok": True}),
    ]
    sent_at: list[float] = []

    def github(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock.time())
        return answers.pop(0)

    retry = Retry(budget=RetryBudget(), pace=Pacer(margin=0.0))
    with mode.client(github, clock, retry=retry) as client:
        with pytest.raises(remedy.Forbidden):
            client.get(URL)
        assert client.get(URL).status_code == 200
    assert sent_at[1] >= reset_at - 1  # the reset is whole seconds
    assert clock.sleeps  # waited for it, not sent into another 403
