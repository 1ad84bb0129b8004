"""What ``import httpx_remedy`` loads, and that what it leaves for later still works (issue 13).

httpx2, tenacity, anyio's lowlevel module, the event records, the error body parser, the
recovery flow and the token flow wait for their first use (``benchmarks/import_time.py``
measures what that saves). Each check runs in a fresh interpreter: this process imported them
all long ago.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap

import httpx
import pytest

import httpx_remedy as remedy

#: Never loaded by ``import httpx_remedy`` alone.
DEFERRED = (
    "httpx2",
    "tenacity",
    "anyio.lowlevel",
    "httpx_remedy._events",
    "httpx_remedy._error_body",
    # The recovery flow and the token flow: the first error, the first token fetched.
    "httpx_remedy._recovery",
    "httpx_remedy._token_flow",
    "httpx_remedy._token_fix",
    "httpx_remedy._flow_events",
)

try:
    import httpx2
except ImportError:  # pragma: no cover - httpx2 is a dev dependency
    httpx2 = None

needs_two_stacks = pytest.mark.skipif(
    httpx2 is None or httpx is httpx2, reason="needs httpx2 installed and httpx not aliased to it"
)


def run(code: str) -> str:
    """Run ``code`` in a fresh interpreter; its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_loads_none_of_the_deferred_modules() -> None:
    out = run(
        f"""
        import json, sys
        import httpx_remedy
        print(json.dumps([m for m in {DEFERRED!r} if m in sys.modules]))
        """
    )
    assert json.loads(out) == []


def test_a_transport_and_its_default_policy_load_none_of_them_either() -> None:
    # Building what a program builds first is not where the cost moved to.
    out = run(
        f"""
        import json, sys
        import httpx, httpx_remedy
        client = httpx.Client(transport=httpx_remedy.RemedyTransport())
        repr(client._transport)
        client.close()
        print(json.dumps([m for m in {DEFERRED!r} if m in sys.modules]))
        """
    )
    assert json.loads(out) == []


def test_a_2xx_needs_no_flow_and_the_first_error_or_token_loads_it() -> None:
    out = run(
        """
        import json, sys
        import httpx, httpx_remedy

        flows = ("httpx_remedy._recovery", "httpx_remedy._token_flow")
        loaded = lambda: [m for m in flows if m in sys.modules]
        answers = [httpx.Response(200), httpx.Response(404)]
        mock = httpx.MockTransport(lambda request: answers.pop(0))
        seen = []
        with httpx.Client(transport=httpx_remedy.RemedyTransport(mock)) as client:
            client.get("https://api.example.com/items")
            seen.append(loaded())
            try:
                client.get("https://api.example.com/items")
            except httpx_remedy.NotFound as error:
                seen.append([loaded(), len(httpx_remedy.attempts_of(error))])

        def token_endpoint(request):
            if request.url.path == "/token":
                return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer"})
            return httpx.Response(200, json={"auth": request.headers["authorization"]})

        credentials = httpx_remedy.ClientCredentials(
            "https://auth.example.com/token", "app", "secret"
        )
        transport = httpx_remedy.RemedyTransport(
            httpx.MockTransport(token_endpoint), credentials=credentials
        )
        with httpx.Client(transport=transport) as client:
            seen.append(client.get("https://api.example.com/items").json()["auth"])
        print(json.dumps(seen))
        """
    )
    no_flow_after_2xx, (after_error, attempts), sent = json.loads(out)
    assert no_flow_after_2xx == []
    assert after_error == ["httpx_remedy._recovery", "httpx_remedy._token_flow"]
    assert attempts == 1
    assert sent == "Bearer t"


#: What a process may do first with httpx2 imported after httpx_remedy: each is where the
#: library looks for httpx2 (``_http.see_httpx2``), and each must find it on its own.
FIRST_CONTACT = {
    "an httpx2 transport wrapped": """
        seen = []

        def flaky(request):
            seen.append(request)
            if len(seen) == 1:
                raise httpx2.ConnectError("refused", request=request)  # retried: a transport error
            challenge = 'Bearer error="invalid_token"'
            return httpx2.Response(401, headers={"WWW-Authenticate": challenge})

        transport = remedy.RemedyTransport(httpx2.MockTransport(flaky))
        with httpx2.Client(transport=transport) as client:
            try:
                client.get("https://api.example.com/items")
            except httpx2.HTTPStatusError as error:
                result = [len(seen), type(error).__name__, type(error.response).__name__]
    """,
    "an httpx2 client wrapped": """
        client = remedy.wrap(httpx2.Client(transport=httpx2.MockTransport(lambda r: None)))
        result = type(client._transport).__name__
    """,
    "an httpx2 response raised for": """
        request = httpx2.Request("GET", "https://api.example.com/")
        unread = httpx2.Response(503, stream=httpx2.ByteStream(b"busy"), request=request)
        try:
            remedy.raise_for_status(unread)
        except httpx2.HTTPStatusError as error:
            result = type(error).__name__
    """,
    "an error made on httpx's stack": """
        try:
            early.get("https://api.example.com/")
        except httpx2.HTTPStatusError as error:
            result = type(error).__name__
    """,
    "an error unpickled": """
        result = isinstance(pickle.loads(made_before), httpx2.HTTPStatusError)
    """,
}


@needs_two_stacks
@pytest.mark.parametrize("first", FIRST_CONTACT)
def test_httpx2_imported_after_the_library_joins_the_stacks(first: str) -> None:
    # The user imports httpx2 after httpx_remedy: its transports, errors, responses and clients
    # are recognised all the same, and the typed errors are httpx2's HTTPStatusError too.
    prologue = """
        import json, pickle, sys
        import httpx
        import httpx_remedy as remedy

        request = httpx.Request("GET", "https://api.example.com/")
        try:
            remedy.raise_for_status(httpx.Response(410, request=request))
        except remedy.Gone as error:
            made_before = pickle.dumps(error)
        early = httpx.Client(
            transport=remedy.RemedyTransport(httpx.MockTransport(lambda r: httpx.Response(404)))
        )
        assert "httpx2" not in sys.modules
        import httpx2
    """
    code = textwrap.dedent(prologue) + textwrap.dedent(FIRST_CONTACT[first])
    out = run(code + "\nprint(json.dumps(result))\n")
    expected = {
        "an httpx2 transport wrapped": [2, "InvalidToken", "Response"],
        "an httpx2 client wrapped": "RemedyTransport",
        "an httpx2 response raised for": "ServiceUnavailable",
        "an error made on httpx's stack": "NotFound",
        "an error unpickled": True,
    }
    assert json.loads(out) == expected[first]


def test_httpx2_still_being_imported_is_looked_for_again_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import ModuleType

    from httpx_remedy import _http

    stacks = _http.STACKS
    monkeypatch.setattr(_http, "_httpx2_pending", True)
    monkeypatch.setitem(sys.modules, "httpx2", ModuleType("httpx2"))  # no classes yet
    _http.see_httpx2()
    assert _http.STACKS is stacks
    assert _http._httpx2_pending


@needs_two_stacks
def test_httpx2_imported_first_joins_at_import() -> None:
    out = run(
        """
        import json
        import httpx, httpx2
        from httpx_remedy import _http
        import httpx_remedy as remedy
        print(json.dumps([
            [stack.__name__ for stack in _http.STACKS],
            issubclass(remedy.HTTPError, httpx2.HTTPStatusError),
            httpx2.TransportError in _http.TRANSPORT_ERRORS,
        ]))
        """
    )
    assert json.loads(out) == [["httpx", "httpx2"], True, True]


@needs_two_stacks
def test_httpx2_aliased_is_one_stack() -> None:
    out = run(
        """
        import json
        import httpx2
        httpx2.alias_httpx()
        from httpx_remedy import _http
        _http.see_httpx2()
        print(json.dumps([stack.__name__ for stack in _http.STACKS]))
        """
    )
    assert json.loads(out) == ["httpx2"]


def test_the_default_wait_is_tenacitys_full_jitter_backoff() -> None:
    import tenacity

    policy = remedy.Retry()
    wait = policy.wait
    # tenacity's own, drawing from the library's generator (tests/test_own_random.py).
    assert isinstance(wait, tenacity.wait_random_exponential)
    assert type(wait).__module__ == "httpx_remedy._jitter"
    assert vars(wait) == vars(tenacity.wait_random_exponential(multiplier=0.5, max=8))
    assert remedy.Retry().wait is wait  # one strategy for every default policy
    assert "wait=" not in repr(policy)
    assert "wait=" not in repr(remedy.Retry(wait=copy.deepcopy(wait)))  # a copy of the default
    # tenacity's own draws from random's shared state: not the default.
    assert "wait=" in repr(remedy.Retry(wait=tenacity.wait_random_exponential(0.5, 8)))
    assert "wait=" in repr(remedy.Retry(wait=tenacity.wait_fixed(1)))
    assert "wait=" in repr(remedy.Retry(wait=lambda state: 1.0))
    for attempt in (1, 2, 5, 30):
        assert 0 <= policy.backoff(attempt, 0.0) <= min(8, 0.5 * 2 ** (attempt - 1))
    # The stand-in in Retry's signature is the same strategy, called directly.
    from httpx_remedy._policy import DEFAULT_WAIT

    assert repr(DEFAULT_WAIT) == "wait_random_exponential(multiplier=0.5, max=8)"
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    state.attempt_number = 3
    assert 0 <= DEFAULT_WAIT(state) <= 2.0
    with pytest.raises(AttributeError):
        _ = policy.no_such_field  # type: ignore[attr-defined]


def test_the_event_records_are_public_names_of_the_package() -> None:
    out = run(
        """
        import json, pickle, sys
        import httpx_remedy
        from httpx_remedy import RequestSent
        names = {}
        exec("from httpx_remedy import *", names)
        sent = RequestSent(1.0, "GET", "https://a.example/", 2)
        print(json.dumps([
            RequestSent.__module__,
            httpx_remedy.GaveUp is sys.modules["httpx_remedy._events"].GaveUp,
            all(name in names for name in httpx_remedy.__all__),
            "TokenFetched" in dir(httpx_remedy),
            pickle.loads(pickle.dumps(sent)) == sent,
        ]))
        """
    )
    assert json.loads(out) == ["httpx_remedy", True, True, True, True]
    with pytest.raises(AttributeError):
        _ = remedy.NoSuchName  # type: ignore[attr-defined]


def test_httpx2_aliased_or_already_joined_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from httpx_remedy import _http

    stacks = _http.STACKS
    # alias_httpx(): sys.modules["httpx2"] is the module the library imported as httpx.
    monkeypatch.setattr(_http, "_httpx2_pending", True)
    monkeypatch.setitem(sys.modules, "httpx2", _http.httpx)
    _http.see_httpx2()
    assert _http.STACKS is stacks
    assert not _http._httpx2_pending
    # Another thread joined it first: the one that waited for the lock finds nothing to do.
    _http._join(_http.httpx)
    assert _http.STACKS is stacks
