"""``httpx_remedy.testing``: what importing it costs, the server loaded on first use, the
``demo`` extra's message, ``use_clock`` and ``no_wait``."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy import testing

from .helpers import FakeClock, Mode


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    script = textwrap.dedent(code) + "\nimport sys\nprint('\\n'.join(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


@pytest.mark.integration  # starts three interpreters
def test_importing_the_testing_helpers_loads_no_server() -> None:
    """Neither the OAuth server, nor authlib's server parts it uses, nor Flask/Werkzeug: the
    testing package costs what the library costs, plus itself."""
    library = modules_after("import httpx_remedy")
    helpers = modules_after("import httpx_remedy.testing")
    added = helpers - library
    assert added == {"httpx_remedy.testing"}
    for name in helpers:
        assert not name.startswith(("flask", "werkzeug")), name
    assert "httpx_remedy.testing.oauth_server" not in helpers
    assert "authlib.oauth2.rfc7523" not in helpers  # the server's client assertions
    assert "authlib.integrations.flask_oauth2" not in helpers
    # ... and the server is there on first use, by either public path.
    used = modules_after("from httpx_remedy.testing import OAuthServer")
    assert "httpx_remedy.testing.oauth_server" in used
    assert not any(name.startswith(("flask", "werkzeug")) for name in used)


def test_the_server_names_load_on_first_use() -> None:
    from httpx_remedy.testing import oauth_server

    assert testing.OAuthServer is oauth_server.OAuthServer
    assert testing.TokenCall is oauth_server.TokenCall
    assert testing.ApiCall is oauth_server.ApiCall
    assert {"OAuthServer", "use_clock"} <= set(dir(testing))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        testing.Nope  # type: ignore[attr-defined]  # noqa: B018


@pytest.mark.parametrize("missing", ["flask", "werkzeug.serving"])
def test_starting_the_server_without_the_demo_extra_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    from httpx_remedy.testing.oauth_server import OAuthServer

    monkeypatch.setitem(sys.modules, missing, None)  # makes `import <missing>` fail
    server = OAuthServer()
    with pytest.raises(ModuleNotFoundError) as caught:
        server.start()
    assert str(caught.value) == (
        "OAuthServer needs the demo extra: pip install 'httpx-remedy[demo]'"
    )
    assert caught.value.name == missing
    assert "stopped" in repr(server)  # nothing half-started


def test_the_demo_command_says_the_same(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from httpx_remedy import _demo

    monkeypatch.setitem(sys.modules, "werkzeug.serving", None)
    assert _demo.main() == 2
    assert capsys.readouterr().err == (
        "httpx-remedy demo needs the demo extra: pip install 'httpx-remedy[demo]'\n"
    )


def busy_then_ok() -> httpx.MockTransport:
    answers = iter([httpx.Response(503, headers={"Retry-After": "7"}), httpx.Response(200)])
    return httpx.MockTransport(lambda request: next(answers))


def test_use_clock_puts_a_transport_on_your_clock(mode: Mode, clock: FakeClock) -> None:
    transport = mode.transport(busy_then_ok(), retry=remedy.Retry(budget=None))
    sleep = clock.asleep if mode.is_async else clock.sleep
    assert (
        testing.use_clock(transport, monotonic=clock.monotonic, wall=clock.time, sleep=sleep)
        is transport
    )
    seen: list[remedy.Attempt] = []
    hook = remedy.Retry(budget=None, on_retry=seen.append)
    with mode.wrap(transport) as client:
        response = client.get("https://api.example.com/", extensions={"remedy.retry": hook})
    assert response.status_code == 200
    assert clock.sleeps == [7.0]  # waited on the fake clock, not slept
    assert seen[0].elapsed == 0.0  # timed on the fake clock


def test_use_clock_leaves_out_what_it_is_not_given(clock: FakeClock) -> None:
    transport = remedy.RemedyTransport(busy_then_ok(), retry=remedy.Retry(budget=None))
    testing.use_clock(transport, sleep=clock.sleep)
    with httpx.Client(transport=transport) as client:
        assert client.get("https://api.example.com/").status_code == 200
    assert clock.sleeps == [7.0]
    with pytest.raises(TypeError, match="takes a RemedyTransport"):
        testing.use_clock(httpx.MockTransport(lambda r: httpx.Response(200)))  # type: ignore[call-overload]


def test_no_wait_blocks_nest_and_the_mode_has_one_owner() -> None:
    from httpx_remedy import _policy

    assert not _policy.waits_disabled()
    with testing.no_wait():
        with testing.no_wait():
            assert _policy.waits_disabled()
        assert _policy.waits_disabled()
    assert not _policy.waits_disabled()
    with pytest.raises(RuntimeError, match="without a matching"):
        _policy.set_no_wait(False)
    assert not _policy.waits_disabled()
