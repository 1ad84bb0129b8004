"""httpx-remedy's pytest plugin: fixtures for testing code that uses httpx-remedy.

Installing httpx-remedy installs it (the ``pytest11`` entry point ``httpx_remedy``): no
``conftest.py`` glue. Loading it imports nothing but pytest; httpx-remedy, httpx, authlib and
Flask are imported when a test first asks for one of its fixtures or its marker, so a pytest run
that does not use it pays nothing for it, and coverage of your own code is not disturbed. It
lives outside the ``httpx_remedy`` package for that reason (importing a module of a package runs
the package's ``__init__``). ``-p no:httpx_remedy`` turns it off.

Fixtures:

- ``no_wait``: every retry wait is zero from this fixture's setup to its teardown
  (:func:`httpx_remedy.testing.no_wait`); list it first to cover the other fixtures too, or use
  the marker. The decisions are unchanged
  (a server delay over ``max_retry_after`` is still raised at once, the attempts record the
  waits decided), and the process-wide retry budget is not drawn on, so one test's retries
  cannot use up the next one's.
- ``remedy_oauth_server``: a started :class:`httpx_remedy.testing.OAuthServer`, a real OAuth 2.0
  authorization server and protected API on 127.0.0.1, stopped after the test. It has no client
  until you add one (``remedy_oauth_server.add_client("app", "s3cret")``). Needs the ``demo``
  extra (``pip install 'httpx-remedy[demo]'``): without it, a test that asks for it errors,
  saying so. For other settings (``expires_in=...``), use ``OAuthServer(...)`` as a context
  manager.

Marker:

- ``@pytest.mark.remedy_no_wait``: what the ``no_wait`` fixture does, for a test, a class or a
  module (``pytestmark = pytest.mark.remedy_no_wait``), from the start of the test's setup to
  the end of its teardown.

With pytest-httpx (not required; the plugin works without it):
:func:`httpx_remedy.testing.error_response` gives the keyword arguments of a realistic error
response for any catalog code (status, ``WWW-Authenticate`` challenge, JSON body,
``Retry-After``), and ``is_reusable=True`` (pytest-httpx 0.34 and later) answers every request
with it, so a test of "this endpoint answers 503 until further notice" does not register
exactly ``max_attempts`` responses::

    def test_the_api_stays_down(httpx_mock, no_wait):
        httpx_mock.add_response(**error_response(503), is_reusable=True)
        with pytest.raises(remedy.ServiceUnavailable) as caught:
            fetch_items()
        assert len(caught.value.attempts) == 3  # the default max_attempts

pytest-httpx answers every httpx request, the embedded server's included: beside
``remedy_oauth_server``, let those through with
``@pytest.mark.httpx_mock(should_mock=lambda request: request.url.host != "127.0.0.1")``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from httpx_remedy.testing import OAuthServer

#: The marker that turns waits off for a test, a class or a module.
NO_WAIT_MARKER = "remedy_no_wait"

_waits_off = pytest.StashKey[AbstractContextManager[None]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{NO_WAIT_MARKER}: every httpx-remedy retry wait is zero from the start of the "
        "test's setup to the end of its teardown (httpx_remedy.testing.no_wait())",
    )


@pytest.fixture
def no_wait() -> Iterator[None]:
    """Every httpx-remedy retry wait is zero while the test runs
    (``httpx_remedy.testing.no_wait()``); the decisions and the attempt records are unchanged."""
    from httpx_remedy.testing import no_wait as waits_off

    with waits_off():
        yield


@pytest.fixture
def remedy_oauth_server() -> Iterator[OAuthServer]:
    """A started ``httpx_remedy.testing.OAuthServer`` (an OAuth 2.0 authorization server and a
    protected API on 127.0.0.1), stopped after the test; add a client with
    ``add_client("app", "s3cret")``. Needs ``pip install 'httpx-remedy[demo]'``."""
    from httpx_remedy.testing.oauth_server import OAuthServer, require_demo_extra

    missing = None
    try:
        require_demo_extra("the remedy_oauth_server fixture")
    except ModuleNotFoundError as error:
        missing = str(error)
    if missing is not None:  # failed out here, the message comes without the import's traceback
        pytest.fail(missing, pytrace=False)
    with OAuthServer() as server:
        yield server


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker(NO_WAIT_MARKER) is None:
        return
    from httpx_remedy.testing import no_wait as waits_off

    block = waits_off()
    block.__enter__()
    item.stash[_waits_off] = block


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    try:
        return (yield)
    finally:
        block = item.stash.get(_waits_off, None)
        if block is not None:
            del item.stash[_waits_off]
            block.__exit__(None, None, None)
