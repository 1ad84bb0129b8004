"""Which statuses ``raise_for_status`` raises for, beside httpx's own ``raise_for_status``.

httpx raises ``HTTPStatusError`` for every status that is not 2xx, 1xx and 3xx included; ours
raises for 4xx and 5xx only, because a response hook runs on every hop of a redirect chain
before httpx follows it. These tests pin both behaviours, so the difference the docstring
explains stays true.
"""

from __future__ import annotations

import httpx
import pytest

import httpx_remedy as remedy

URL = "https://api.example.com"


def redirecting(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/old":
        return httpx.Response(302, headers={"Location": "/new"})
    if request.url.path == "/cached":
        return httpx.Response(304)
    if request.url.path == "/gone":
        return httpx.Response(301, headers={"Location": "/missing"})
    if request.url.path == "/missing":
        return httpx.Response(404, json={"detail": "no such item"})
    return httpx.Response(200, json={"ok": True})


def client(hook: object, *, follow: bool) -> httpx.Client:
    return httpx.Client(
        base_url=URL,
        transport=httpx.MockTransport(redirecting),
        event_hooks={"response": [hook]},
        follow_redirects=follow,
    )


def httpx_own(response: httpx.Response) -> None:
    response.raise_for_status()


def test_httpx_own_hook_breaks_a_followed_redirect() -> None:
    """What the docstring warns about: httpx's raise_for_status raises on the 302 hop."""
    with client(httpx_own, follow=True) as c, pytest.raises(httpx.HTTPStatusError) as caught:
        c.get("/old")
    assert caught.value.response.status_code == 302
    assert "Redirect response" in str(caught.value)


def test_our_hook_lets_a_followed_redirect_through() -> None:
    with client(remedy.raise_for_status, follow=True) as c:
        response = c.get("/old")
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [302]


def test_our_hook_returns_an_unfollowed_redirect() -> None:
    with client(remedy.raise_for_status, follow=False) as c:
        response = c.get("/old")
    assert response.status_code == 302
    assert response.is_redirect
    assert response.next_request is not None
    assert response.next_request.url == URL + "/new"


def test_our_hook_returns_304() -> None:
    with client(remedy.raise_for_status, follow=True) as c:
        assert c.get("/cached").status_code == 304
    with client(httpx_own, follow=True) as c, pytest.raises(httpx.HTTPStatusError):
        c.get("/cached")


def test_an_error_at_the_end_of_a_redirect_chain_is_typed() -> None:
    with client(remedy.raise_for_status, follow=True) as c, pytest.raises(remedy.NotFound) as e:
        c.get("/gone")
    assert e.value.request.url == URL + "/missing"
    assert e.value.server_message == "no such item"


@pytest.mark.parametrize("status", [600, 999])
def test_a_status_past_599_raises_as_a_5xx(status: int) -> None:
    response = httpx.Response(status, request=httpx.Request("GET", URL), content=b"odd")
    with pytest.raises(remedy.ServerError):
        remedy.raise_for_status(response)


@pytest.mark.anyio
async def test_the_async_hook_lets_a_followed_redirect_through() -> None:
    async with httpx.AsyncClient(
        base_url=URL,
        transport=httpx.MockTransport(redirecting),
        event_hooks={"response": [remedy.araise_for_status]},
        follow_redirects=True,
    ) as c:
        response = await c.get("/old")
        assert response.status_code == 200
        assert (await c.get("/cached")).status_code == 304
        with pytest.raises(remedy.NotFound):
            await c.get("/gone")
