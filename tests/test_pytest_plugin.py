"""The pytest plugin (``_httpx_remedy_pytest``), tested the way a user meets it: test files run by
an inner pytest (``pytester``), with pytest-httpx and without it."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

#: An inner test file's preamble: a transport whose waits would take 30 s each, for real.
PREAMBLE = """
import time

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy import _policy


def flaky():
    answers = iter([503, 503, 200])

    def handler(request):
        return httpx.Response(next(answers), headers={"Retry-After": "30"})

    return httpx.Client(transport=remedy.RemedyTransport(httpx.MockTransport(handler)))


def retried_quickly():
    began = time.monotonic()
    with flaky() as client:
        assert client.get("https://api.example.com/items").status_code == 200
    assert time.monotonic() - began < 5
"""


#: Without hypothesis's plugin: it imports hypothesis at the end of every inner run (and
#: pytester forgets it after each), which takes seconds.
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--strict-markers")


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_inner=PREAMBLE + source)
    return pytester.runpytest(*QUIET, *args)


def uninstall(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Importing ``name`` (or a module of it) fails from now on, as if it were not installed."""
    for module in list(sys.modules):
        if module.split(".")[0] == name:
            monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, name, None)


def without_pytest_httpx(monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    """Run the inner pytest as if pytest-httpx were not installed: importing it fails, and no
    plugin is loaded from the installed packages (pytest would import pytest-httpx's to rewrite
    its asserts) but this one, named."""
    uninstall(monkeypatch, "pytest_httpx")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return ("-p", "_httpx_remedy_pytest")


def test_installing_the_package_registers_the_plugin() -> None:
    found = importlib.metadata.entry_points(group="pytest11", name="httpx_remedy")
    assert [entry.value for entry in found] == ["_httpx_remedy_pytest"], (
        "reinstall the package (pip install -e .) to register the entry point"
    )


@pytest.mark.integration
def test_loading_the_plugin_imports_nothing_heavy() -> None:
    """Every pytest run loads it: it must not import httpx-remedy (which would also make
    coverage miss the package's module-level lines), httpx, authlib or Flask."""
    probe = (
        "import sys, _httpx_remedy_pytest\n"
        "heavy = {'httpx_remedy', 'httpx', 'httpx2', 'authlib', 'flask', 'anyio', 'tenacity',"
        " 'pytest_httpx'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


# ---- no_wait: the fixture and the marker ------------------------------------------------------

NO_WAIT_TESTS = """
def test_the_fixture(no_wait):
    assert _policy.waits_disabled()
    retried_quickly()


@pytest.mark.remedy_no_wait
def test_the_marker():
    retried_quickly()


@pytest.fixture
def warmed_up():
    retried_quickly()  # a fixture's own retries: the marker covers setup too
    yield
    retried_quickly()  # ... and teardown


@pytest.mark.remedy_no_wait
def test_the_marker_covers_fixtures(warmed_up):
    assert _policy.waits_disabled()


@pytest.mark.remedy_no_wait
class TestAClass:
    def test_one(self):
        retried_quickly()


def test_both_at_once(no_wait):
    pass


test_both_at_once = pytest.mark.remedy_no_wait(test_both_at_once)


def test_waits_are_back_after_them():
    assert not _policy.waits_disabled()
"""


def test_no_wait_fixture_and_marker(pytester: pytest.Pytester) -> None:
    result = run(pytester, NO_WAIT_TESTS)
    result.assert_outcomes(passed=6)


def test_no_wait_without_pytest_httpx(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = (
        NO_WAIT_TESTS
        + """

def test_pytest_httpx_is_not_there():
    with pytest.raises(ModuleNotFoundError):
        import pytest_httpx
"""
    )
    result = run(pytester, source, *without_pytest_httpx(monkeypatch))
    result.assert_outcomes(passed=7)
    assert not re.search(r"plugins:.*\bhttpx-\d", result.stdout.str())


def test_the_marker_on_a_module(pytester: pytest.Pytester) -> None:
    source = """
pytestmark = pytest.mark.remedy_no_wait


def test_one():
    retried_quickly()
"""
    run(pytester, source).assert_outcomes(passed=1)


def test_the_marker_is_released_when_setup_fails(pytester: pytest.Pytester) -> None:
    source = """
@pytest.fixture
def broken():
    raise RuntimeError("setup failed")


@pytest.mark.remedy_no_wait
def test_setup_fails(broken):
    pass


def test_after():
    assert not _policy.waits_disabled()
"""
    run(pytester, source).assert_outcomes(passed=1, errors=1)


def test_without_them_waits_are_real(pytester: pytest.Pytester) -> None:
    """What the fixture and the marker turn off: the transport would sleep the 30 s asked."""
    source = """
def test_waits(monkeypatch):
    slept = []
    monkeypatch.setattr(remedy.RemedyTransport, "_sleep", staticmethod(slept.append))
    with flaky() as client:
        client.get("https://api.example.com/items")
    assert slept == [30.0, 30.0]
"""
    run(pytester, source).assert_outcomes(passed=1)


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*QUIET, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.remedy_no_wait: every httpx-remedy retry wait*"])


def test_the_fixtures_are_listed_with_their_docs(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*QUIET, "--fixtures")
    result.stdout.fnmatch_lines(
        [
            "no_wait -- *_httpx_remedy_pytest.py:*",
            "*Every httpx-remedy retry wait is zero*",
            "remedy_oauth_server -- *_httpx_remedy_pytest.py:*",
            "*A started ``httpx_remedy.testing.OAuthServer``*",
        ],
        consecutive=False,
    )


# ---- remedy_oauth_server ----------------------------------------------------------------------

SERVER_TESTS = """
from httpx_remedy.testing import OAuthServer

seen = []


def test_the_server(remedy_oauth_server):
    assert isinstance(remedy_oauth_server, OAuthServer)
    remedy_oauth_server.add_client("app", "s3cret-0123456789")
    creds = remedy.ClientCredentials(remedy_oauth_server.token_url, "app", "s3cret-0123456789")
    transport = remedy.RemedyTransport(credentials=creds)
    with httpx.Client(base_url=remedy_oauth_server.url, transport=transport) as client:
        assert client.get("/api/items").status_code == 200
    assert remedy_oauth_server.token_requests == 1
    seen.append(remedy_oauth_server.url)


def test_each_test_gets_its_own(remedy_oauth_server):
    assert remedy_oauth_server.token_requests == 0
    with pytest.raises(httpx.ConnectError):  # the previous one was stopped
        httpx.get(seen[0] + "/api/items")
"""


@pytest.mark.integration
def test_remedy_oauth_server(pytester: pytest.Pytester) -> None:
    run(pytester, SERVER_TESTS).assert_outcomes(passed=2)


@pytest.mark.integration
def test_remedy_oauth_server_without_pytest_httpx(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(pytester, SERVER_TESTS, *without_pytest_httpx(monkeypatch))
    result.assert_outcomes(passed=2)


def test_remedy_oauth_server_without_the_demo_extra(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    uninstall(monkeypatch, "flask")
    source = """
def test_needs_it(remedy_oauth_server):
    pass
"""
    result = run(pytester, source)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*the remedy_oauth_server fixture needs the demo extra: "
            "pip install 'httpx-remedy[[]demo[]]'"
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")


# ---- with pytest-httpx -----------------------------------------------------------------------

WITH_PYTEST_HTTPX = """
from httpx_remedy.testing import error_response


def client():
    return httpx.Client(transport=remedy.RemedyTransport())


def test_down_until_further_notice(httpx_mock, no_wait):
    httpx_mock.add_response(**error_response(503), is_reusable=True)
    with client() as c, pytest.raises(remedy.ServiceUnavailable) as caught:
        c.get("https://api.example.com/items")
    assert [a.action for a in caught.value.attempts] == ["retry", "retry", "raise"]
    assert len(httpx_mock.get_requests()) == 3


@pytest.mark.remedy_no_wait
def test_rate_limited_then_fine(httpx_mock):
    httpx_mock.add_response(**error_response(429, retry_after=30))
    httpx_mock.add_response(json={"ok": True})
    with client() as c:
        assert c.get("https://api.example.com/items").json() == {"ok": True}


@pytest.mark.httpx_mock(should_mock=lambda request: request.url.host != "127.0.0.1")
def test_beside_the_embedded_server(httpx_mock, remedy_oauth_server):
    httpx_mock.add_response(url="https://other.example.com/", json={"mocked": True})
    remedy_oauth_server.add_client("app", "s3cret-0123456789")
    creds = remedy.ClientCredentials(remedy_oauth_server.token_url, "app", "s3cret-0123456789")
    transport = remedy.RemedyTransport(credentials=creds)
    with httpx.Client(transport=transport) as c:
        assert c.get(remedy_oauth_server.url + "/api/items").status_code == 200
    with client() as c:
        assert c.get("https://other.example.com/").json() == {"mocked": True}
"""


@pytest.mark.integration
def test_with_pytest_httpx(pytester: pytest.Pytester) -> None:
    run(pytester, WITH_PYTEST_HTTPX).assert_outcomes(passed=3)
