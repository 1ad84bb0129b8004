"""How to test YOUR code that uses httpx-remedy, with pytest-httpx (no server needed).

``error_response(code)`` builds a realistic error response (status, WWW-Authenticate
challenge, JSON body, Retry-After) for any catalog code. Retry waits become zero with the
``no_wait`` fixture or the ``@pytest.mark.remedy_no_wait`` marker (from httpx-remedy's pytest
plugin, installed with the package: nothing to import) or the ``no_wait()`` context manager, so
a test of "we retry on 429" takes milliseconds.
Run: ``pytest --no-cov examples/test_with_pytest_httpx.py`` (needs ``pip install pytest-httpx``;
``--no-cov`` only because this repository's pytest settings enforce coverage for its own suite).
"""

from __future__ import annotations

import httpx
import pytest
from pytest_httpx import HTTPXMock

import httpx_remedy as remedy
from httpx_remedy.testing import error_response, no_wait

# -- the code under test: a small piece of an application ----------------------------------

API = "https://api.example.com"


def make_client(access_token: str) -> httpx.Client:
    transport = remedy.RemedyTransport()  # typed errors, and retries for 429/503
    headers = {"Authorization": f"Bearer {access_token}"}
    return httpx.Client(base_url=API, headers=headers, transport=transport)


def item_names(client: httpx.Client) -> list[str] | None:
    """The names of the items, or None when the user has to sign in again."""
    try:
        response = client.get("/items")
    except remedy.InvalidToken:
        return None  # the app shows its sign-in page
    return [item["name"] for item in response.json()["items"]]


def admin_report(client: httpx.Client) -> dict[str, object]:
    return dict(client.get("/admin").json())


# -- the tests --------------------------------------------------------------------------------

ITEMS = {"items": [{"name": "apple"}, {"name": "pear"}]}


def test_item_names(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{API}/items", json=ITEMS)
    assert item_names(make_client("t0k3n")) == ["apple", "pear"]


def test_an_expired_token_means_signing_in_again(httpx_mock: HTTPXMock) -> None:
    # A 401 with WWW-Authenticate: Bearer error="invalid_token", as a real API sends it.
    httpx_mock.add_response(**error_response("invalid_token"))
    assert item_names(make_client("expired")) is None


def test_a_rate_limit_is_retried(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(**error_response(429, retry_after=2))
    httpx_mock.add_response(json=ITEMS)
    with no_wait():  # the 2 s wait is decided (and recorded), not slept
        assert item_names(make_client("t0k3n")) == ["apple", "pear"]
    assert len(httpx_mock.get_requests()) == 2


@pytest.mark.remedy_no_wait  # the plugin's marker: waits are zero for this whole test
def test_a_rate_limit_that_does_not_clear_is_raised(httpx_mock: HTTPXMock) -> None:
    # "Rate limited until further notice": one reusable response answers every attempt
    # (pytest-httpx 0.34+), however many the policy makes.
    httpx_mock.add_response(**error_response(429, retry_after=2), is_reusable=True)
    with pytest.raises(remedy.TooManyRequests) as caught:
        item_names(make_client("t0k3n"))
    assert caught.value.retry_after == 2
    assert [a.action for a in caught.value.attempts] == ["retry", "retry", "raise"]


def test_a_service_that_stays_down(httpx_mock: HTTPXMock, no_wait: None) -> None:
    # The plugin's no_wait fixture: the same, as a fixture.
    httpx_mock.add_response(**error_response(503), is_reusable=True)
    with pytest.raises(remedy.ServiceUnavailable) as caught:
        item_names(make_client("t0k3n"))
    assert len(caught.value.attempts) == 3  # the default max_attempts


def test_a_missing_scope_names_the_scope(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(**error_response("insufficient_scope", scope="admin"))
    with pytest.raises(remedy.InsufficientScope) as caught:
        admin_report(make_client("t0k3n"))
    assert caught.value.scope == "admin"
    assert caught.value.status_code == 403
    assert len(httpx_mock.get_requests()) == 1  # not retried: only a new token can fix it
