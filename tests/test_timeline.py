"""``Timeline``: the events of a block of calls, in order, printable; bounded; and gone from
the process's listeners when the block ends."""

from __future__ import annotations

import io

import httpx_remedy as remedy
from httpx_remedy import RetryScheduled, Timeline

from .helpers import FakeClock, Server, sync_client

URL = "https://api.example.test/items"


def test_a_block_of_calls_printed_in_order(clock: FakeClock) -> None:
    with Timeline(clock=clock.monotonic) as timeline:
        timeline.note("client", "GET /items")
        with sync_client(Server((503, {"Retry-After": "2"}), 200), clock) as client:
            client.get(URL)
    assert timeline not in remedy.get_listeners()
    assert str(timeline).splitlines() == [
        "  +  0.00s  client   GET /items",
        f"  +  0.00s  library  sent GET {URL} (attempt 1)",
        f"  +  0.00s  library  GET {URL}: 503 on attempt 1 (retryable)",
        f"  +  0.00s  library  retrying GET {URL} after 503 in 2s (retry-after), attempt 1 of 3",
        f"  +  2.00s  library  sent GET {URL} (attempt 2)",
        f"  +  2.00s  library  GET {URL} recovered: 200 after 2 attempts in 2s",
    ]
    (retry,) = timeline.of(RetryScheduled)
    assert retry.wait == 2.0
    assert len(timeline.events) == 5
    assert repr(timeline) == "<Timeline: 6 entries>"


def test_printed_as_it_happens_and_on_one_transport(clock: FakeClock) -> None:
    out = io.StringIO()
    timeline = Timeline(out=out, clock=clock.monotonic)
    with sync_client(Server(503, 200), clock, listeners=[timeline]) as client:
        client.get(URL)
    with sync_client(Server(503, 200), clock) as other:
        other.get(URL)  # not this transport: not on the timeline
    printed = out.getvalue().splitlines()
    assert len(printed) == 5
    assert printed[-1].endswith("recovered: 200 after 2 attempts in " + printed[-1].split()[-1])
    timeline.clear()
    assert timeline.events == []
    assert str(timeline) == ""


def test_bounded(clock: FakeClock) -> None:
    timeline = Timeline(clock=clock.monotonic, limit=3)
    for n in range(10):
        timeline.note("client", f"call {n}")
    assert [line.split()[-1] for line in timeline.lines()] == ["7", "8", "9"]
