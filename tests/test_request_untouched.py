"""On httpx the token travels on a copy: the request the user built stays as it was built.

What the transport adds for a send (the token's ``Authorization``, a DPoP proof) goes on a
shallow copy of the request (``_http.carrying``); the server gets it, while the request httpx
hands back as ``response.request`` carries none of it. Why: httpx 0.28 copies every header of
``response.request`` into its cookie jar's view after each response (a token there cost each
request 3%). httpx2 copies nothing when no cookie is set: there the token goes on the request
itself (the copy would be pure cost). CI runs this file on both stacks (``alias_httpx()``).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy._http import COPIED_REQUESTS, UNCOPIED_REQUESTS, carrying
from httpx_remedy.testing import error_response

from .helpers import API, SECRET, TOKEN_URL, FakeAS, FakeClock, Mode, bearer, on_clock, sync_client

#: Whether ``httpx`` here is httpx itself (False where ``httpx2.alias_httpx()`` made it httpx2).
COPIES = httpx.Request.__module__ == "httpx"


def cc() -> remedy.ClientCredentials:
    return remedy.ClientCredentials(TOKEN_URL, "app", SECRET)


def kept_off(request: httpx.Request) -> bool:
    """The token is off the user's request on httpx, and on it on httpx2."""
    return ("authorization" not in request.headers) is COPIES


def test_the_server_gets_the_token_and_the_users_request_keeps_none(
    mode: Mode, clock: FakeClock
) -> None:
    fake = FakeAS()
    with mode.client(fake, clock, credentials=cc()) as client:
        first = client.get(API + "/items")  # the token fetched first (the detour)
        second = client.get(API + "/items")  # the token held (the hot path)
    assert [bearer(sent) for sent in fake.api_requests] == ["access-1", "access-1"]
    for response, sent in zip((first, second), fake.api_requests, strict=True):
        assert kept_off(response.request)
        assert (response.request is not sent) is COPIES


def test_a_refreshed_token_is_sent_and_kept_off_the_users_request(
    mode: Mode, clock: FakeClock
) -> None:
    fake = FakeAS()
    with mode.client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        fake.api_script.append(httpx.Response(**error_response("invalid_token")))
        response = client.get(API + "/items")
    assert response.json()["token"] == "access-2"
    assert [token for _, token in fake.calls] == ["access-1", "access-1", "access-2"]
    assert kept_off(response.request)
    # A recorder keeping request objects (pytest-httpx, a MockTransport's list) sees on each
    # send the token that went with it: the replay goes on a copy of its own, not on the one
    # sent before. On httpx2 the request itself carries the token, so both sends are one object.
    rejected, replayed = fake.api_requests[1:]
    assert (rejected is replayed) is not COPIES
    seen = [bearer(sent) for sent in fake.api_requests]
    if COPIES:
        assert seen == ["access-1", "access-1", "access-2"]
    else:  # one object, sent twice
        assert seen[1:] == ["access-2", "access-2"]


def test_the_copy_carries_the_body_the_timeouts_and_the_idempotency_key(
    mode: Mode, clock: FakeClock
) -> None:
    fake = FakeAS()
    retry = remedy.Retry(idempotency_keys=True, budget=remedy.RetryBudget())
    with mode.client(fake, clock, credentials=cc(), retry=retry, timeout=3.0) as client:
        client.get(API + "/items")
        response = client.post(API + "/items", content=b"payload")
    sent = fake.api_requests[-1]
    assert (sent.content, sent.headers["content-length"]) == (b"payload", "7")
    assert sent.extensions["timeout"]["read"] == 3.0
    # The key is the user's request's (set before the copy): the caller can log it.
    assert sent.headers["idempotency-key"] == response.request.headers["idempotency-key"]
    assert kept_off(response.request)


def test_a_one_shot_body_is_sent_once_through_the_copy(mode: Mode, clock: FakeClock) -> None:
    fake = FakeAS()

    def chunks() -> Iterator[bytes]:
        yield b"one-"
        yield b"shot"

    async def achunks():  # type: ignore[no-untyped-def]
        yield b"one-"
        yield b"shot"

    with mode.client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        body = achunks() if mode.is_async else chunks()
        response = client.post(API + "/items", content=body)
    assert fake.bodies[-1] == b"one-shot"
    assert bearer(fake.api_requests[-1]) == "access-1"
    assert kept_off(response.request)


def test_a_same_origin_redirect_carries_the_current_token_once(
    mode: Mode, clock: FakeClock
) -> None:
    fake = FakeAS()
    with mode.client(fake, clock, credentials=cc()) as client:
        client.httpx.follow_redirects = True
        client.get(API + "/items")
        fake.api_script.append(httpx.Response(302, headers={"Location": API + "/items"}))
        response = client.get(API + "/old")
    assert [sent.headers.get_list("authorization") for sent in fake.api_requests[1:]] == [
        ["Bearer access-1"],
        ["Bearer access-1"],
    ]
    assert [r.url.path for r in response.history] == ["/old"]
    assert kept_off(response.request)
    assert kept_off(response.history[0].request)


def test_cookies_still_work_with_the_token_off_the_users_request(
    mode: Mode, clock: FakeClock
) -> None:
    fake = FakeAS()
    with mode.client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        fake.api_script.append(httpx.Response(200, headers={"Set-Cookie": "session=s1; Path=/"}))
        client.get(API + "/items")
        client.get(API + "/items")
        assert client.httpx.cookies["session"] == "s1"
    assert fake.api_requests[-1].headers["cookie"] == "session=s1"
    assert bearer(fake.api_requests[-1]) == "access-1"


# -- carrying(): the copy itself ---------------------------------------------------------------


@pytest.mark.skipif(not COPIES, reason="httpx2 aliased as httpx: its requests are not copied")
def test_carrying_copies_httpx_requests_field_by_field() -> None:
    request = httpx.Request("POST", API + "/items", content=b"x", extensions={"k": 1})
    sent = carrying(request)
    assert type(request) in COPIED_REQUESTS
    sent.headers["Authorization"] = "Bearer t"
    assert (sent.method, sent.url, sent.content) == ("POST", request.url, b"x")
    assert sent.extensions is request.extensions
    assert sent.stream is request.stream
    assert "authorization" not in request.headers
    assert list(sent.headers.items())[:-1] == list(request.headers.items())


@pytest.mark.skipif(not COPIES, reason="httpx2 aliased as httpx: its requests are not copied")
def test_carrying_a_streaming_request_leaves_it_unread() -> None:
    request = httpx.Request("POST", API, content=iter([b"a"]))
    sent = carrying(request)
    with pytest.raises(httpx.RequestNotRead):
        _ = sent.content
    assert sent.stream is request.stream


@pytest.mark.skipif(not COPIES, reason="httpx2 aliased as httpx: its requests are not copied")
def test_carrying_copies_a_request_subclass_whole() -> None:
    class Tagged(httpx.Request):
        tag: str

    request = Tagged("GET", API)
    request.tag = "mine"
    sent = carrying(request)
    assert type(sent) is Tagged
    assert sent.tag == "mine"
    assert Tagged not in COPIED_REQUESTS
    sent.headers["Authorization"] = "Bearer t"
    assert "authorization" not in request.headers


def test_carrying_leaves_an_httpx2_request_itself() -> None:
    httpx2 = pytest.importorskip("httpx2")
    request = httpx2.Request("GET", API)
    assert carrying(request) is request
    assert httpx2.Request in UNCOPIED_REQUESTS


def test_on_httpx2_the_token_is_on_the_request_itself(clock: FakeClock) -> None:
    httpx2 = pytest.importorskip("httpx2")
    seen: list[object] = []

    def api(request: object) -> object:
        seen.append(request)
        if request.url.path == "/token":  # type: ignore[attr-defined]
            return httpx2.Response(200, json={"access_token": "access-1", "token_type": "Bearer"})
        return httpx2.Response(200)

    transport = remedy.RemedyTransport(httpx2.MockTransport(api), credentials=cc(), origins=[API])
    on_clock(transport, clock)
    with httpx2.Client(transport=transport) as client:
        responses = [client.get(API + "/items") for _ in range(2)]  # the detour, the hot path
    api_sends = [sent for sent in seen if sent.url.path == "/items"]  # type: ignore[attr-defined]
    for response, sent in zip(responses, api_sends, strict=True):
        assert response.request is sent
        assert response.request.headers["authorization"] == "Bearer access-1"


def test_the_copy_carries_the_timeouts_fitted_to_the_deadline(mode: Mode, clock: FakeClock) -> None:
    """The deadline's timeouts are fitted on the user's request before the copy is made: the
    copy must send those, not the client's."""
    fake = FakeAS()
    retry = remedy.Retry(deadline=1.0, budget=remedy.RetryBudget())
    with mode.client(fake, clock, credentials=cc(), retry=retry, timeout=3.0) as client:
        client.get(API + "/items")
        client.get(API + "/items")  # the token held: the hot path's copy
    assert [sent.extensions["timeout"]["read"] for sent in fake.api_requests] == [1.0, 1.0]
    assert bearer(fake.api_requests[-1]) == "access-1"


@pytest.mark.skipif(not COPIES, reason="httpx2 aliased as httpx: its requests are not copied")
def test_a_request_subclass_sent_with_a_held_token_is_copied_whole(clock: FakeClock) -> None:
    class Tagged(httpx.Request):
        tag: str

    fake = FakeAS()
    with sync_client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")  # the token, fetched
        request = Tagged("GET", API + "/items")
        request.tag = "mine"
        response = client.send(request)
    sent = fake.api_requests[-1]
    assert type(sent) is Tagged
    assert sent.tag == "mine"  # type: ignore[attr-defined]
    assert bearer(sent) == "access-1"
    assert response.request is request
    assert "authorization" not in request.headers
