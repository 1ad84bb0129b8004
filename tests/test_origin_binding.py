"""Where the token goes when no ``origins=`` is given: one binding per credentials object.

The binding is decided once, under a lock, by the first request any transport using those
credentials sends (or, for ``wrap()``, by the client's ``base_url``), and shared by every mount
and every transport using them. A 401 from an origin the token is not bound to says so.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy._budget import RetryBudget

from .helpers import API, FakeAS, Mode, cc

OTHER = "https://other.example.com"
FILES = "https://files.example.com"


def retry() -> remedy.Retry:
    return remedy.Retry(budget=RetryBudget())


def tokens(fake: FakeAS) -> list[tuple[str, str | None]]:
    """(host, bearer token) of each API request, in order."""
    return [
        (r.url.host, r.headers.get("authorization", "").removeprefix("Bearer ") or None)
        for r in fake.api_requests
    ]


# -- wrap(): mounts share one binding; base_url decides it -------------------------------------


def test_wrap_mounts_share_the_credentials_binding(mode: Mode) -> None:
    """Each mount used to bind to its own first origin, so a second mounted host got the token."""
    fake = FakeAS()
    client = mode.httpx_client(
        mounts={
            API: httpx.MockTransport(fake),
            FILES: httpx.MockTransport(fake),
            "https://auth.example.com": httpx.MockTransport(fake),
        }
    )
    remedy.wrap(client.httpx, credentials=cc(), retry=retry())
    with client:
        assert client.get(API + "/items").json()["token"] == "access-1"
        assert client.get(FILES + "/f").json()["token"] is None
        assert client.get(API + "/items").json()["token"] == "access-1"
    assert tokens(fake) == [
        ("api.example.com", "access-1"),
        ("files.example.com", None),
        ("api.example.com", "access-1"),
    ]


def test_wrap_mounts_are_bound_by_the_first_request_whichever_mount_it_takes(mode: Mode) -> None:
    fake = FakeAS()
    client = mode.httpx_client(
        mounts={API: httpx.MockTransport(fake), FILES: httpx.MockTransport(fake)},
        transport=httpx.MockTransport(fake),
    )
    remedy.wrap(client.httpx, credentials=cc(), retry=retry())
    with client:
        assert client.get(FILES + "/f").json()["token"] == "access-1"
        with pytest.raises(remedy.Unauthorized):
            client.get(API + "/items")
    # The first request (to the files mount) bound the credentials: the API mount sends none.
    assert tokens(fake) == [("files.example.com", "access-1"), ("api.example.com", None)]


def base_url_client(fake: FakeAS) -> httpx.Client:
    return httpx.Client(base_url=API, transport=httpx.MockTransport(fake))


def test_wrap_binds_to_the_base_url_not_the_first_request(mode: Mode) -> None:
    """A first request to another host used to take the token there, and the API then failed."""
    fake = FakeAS()
    client = mode.httpx_client(base_url=API, transport=httpx.MockTransport(fake))
    remedy.wrap(client.httpx, credentials=cc(), retry=retry())
    with client:
        assert client.get(OTHER + "/x").json()["token"] is None
        assert client.get("/items").json() == {"ok": True, "token": "access-1"}
    assert tokens(fake) == [("other.example.com", None), ("api.example.com", "access-1")]


def test_wrap_explicit_origins_win_over_the_base_url() -> None:
    fake = FakeAS()
    with remedy.wrap(
        base_url_client(fake), credentials=cc(), retry=retry(), origins=[FILES]
    ) as client:
        assert client.get(FILES + "/f").json()["token"] == "access-1"
        with pytest.raises(remedy.Unauthorized):
            client.get("/items")
    assert tokens(fake) == [("files.example.com", "access-1"), ("api.example.com", None)]


def test_wrap_refuses_a_plain_http_base_url_with_credentials() -> None:
    client = httpx.Client(base_url="http://api.example.com")
    with pytest.raises(remedy.InsecureTransportError):
        remedy.wrap(client, credentials=cc())
    client.close()


# -- transports sharing credentials ------------------------------------------------------------


def test_two_transports_without_origins_share_one_binding() -> None:
    fake = FakeAS()
    creds = cc()
    one, two = (
        httpx.Client(transport=remedy.RemedyTransport(httpx.MockTransport(fake), credentials=creds))
        for _ in range(2)
    )
    with one, two:
        one.get(API + "/items")
        assert two.get(OTHER + "/x").json()["token"] is None
    assert tokens(fake) == [("api.example.com", "access-1"), ("other.example.com", None)]


def test_explicit_origins_apply_to_their_own_transport_only() -> None:
    """Two transports sharing credentials with different ``origins=``: each sends the token to
    its own list; the credentials' own binding (for transports naming none) is left alone."""
    fake = FakeAS()
    creds = cc()

    def client(**options: Any) -> httpx.Client:
        transport = remedy.RemedyTransport(httpx.MockTransport(fake), credentials=creds, **options)
        return httpx.Client(transport=transport)

    with client(origins=[API]) as api, client(origins=[FILES]) as files, client() as free:
        assert api.get(FILES + "/f").json()["token"] is None
        assert files.get(FILES + "/f").json()["token"] == "access-1"
        assert files.get(OTHER + "/x").json()["token"] is None
        assert api.get(API + "/items").json()["token"] == "access-1"
        assert free.get(OTHER + "/x").json()["token"] == "access-1"  # bound by first use
        assert free.get(FILES + "/f").json()["token"] is None
    assert creds.manager.origins == frozenset({("https", "other.example.com", None)})


def test_origins_may_be_any_iterable() -> None:
    fake = FakeAS()
    transport = remedy.RemedyTransport(
        httpx.MockTransport(fake), credentials=cc(), origins=(o for o in [API, FILES])
    )
    with httpx.Client(transport=transport) as client:
        assert client.get(FILES + "/f").json()["token"] == "access-1"
        assert client.get(API + "/items").json()["token"] == "access-1"


def test_once_bound_a_request_takes_no_lock() -> None:
    """The binding is read without a lock: the lock is taken once, to bind."""
    fake = FakeAS()
    creds = cc()
    taken: list[int] = []
    real = creds.manager._bind_lock

    class Counting:
        def __enter__(self) -> None:
            taken.append(1)
            real.acquire()

        def __exit__(self, *exc: object) -> None:
            real.release()

    creds.manager._bind_lock = Counting()  # type: ignore[assignment]
    transport = remedy.RemedyTransport(httpx.MockTransport(fake), credentials=creds)
    with httpx.Client(transport=transport) as client:
        for _ in range(20):
            client.get(API + "/items")
            client.get(OTHER + "/x")
    assert taken == [1]


# -- two first requests at once --------------------------------------------------------------


class InstantSource:
    def fetch_token(self, scope: str | None) -> dict[str, Any]:
        return {"access_token": "t", "expires_in": 3600}


@pytest.mark.integration  # a race hunted over 1,500 trials: seconds of threads switching
def test_two_first_requests_at_once_bind_exactly_one_origin() -> None:
    """Two threads send the first requests, to two hosts, at the same moment, many times over,
    with the interpreter switching threads as often as it can: exactly one host ever gets the
    token. (Binding by a check-then-set without a lock gave both the token in about 1% of
    the trials.)"""
    hosts = ("https://a.example.com", "https://b.example.com")
    trials = 1500
    both: list[int] = []
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for trial in range(trials):
            sent: dict[str, str | None] = {}

            def handler(request: httpx.Request, sent: dict[str, str | None] = sent) -> Any:
                sent[request.url.host] = request.headers.get("authorization")
                return httpx.Response(200)

            transport = remedy.RemedyTransport(
                httpx.MockTransport(handler), credentials=InstantSource(), retry=None
            )
            barrier = threading.Barrier(2)

            def first(url: str, transport: Any = transport, barrier: Any = barrier) -> None:
                barrier.wait()
                transport.handle_request(httpx.Request("GET", url))

            threads = [threading.Thread(target=first, args=(url,)) for url in hosts]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            with_token = [host for host, value in sent.items() if value is not None]
            assert len(sent) == 2
            if len(with_token) != 1:
                both.append(trial)
    finally:
        sys.setswitchinterval(switch)
    assert both == [], f"{len(both)} of {trials} trials sent the token to both hosts"


# -- a 401 from an origin the token is not bound to ------------------------------------------


NOTE = (
    "no token was sent: the credentials are bound to https://other.example.com; "
    'pass origins=[..., "https://api.example.com"] to send it here'
)


def check_unsent_note(error: remedy.HTTPError) -> None:
    assert NOTE in str(error)
    assert remedy.attempts_of(error)[-1].note == NOTE
    assert "access-1" not in str(error)


def test_a_401_where_no_token_was_sent_names_the_bound_origin(mode: Mode) -> None:
    fake = FakeAS()
    with mode.client(fake, credentials=cc(), retry=retry()) as client:
        client.get(OTHER + "/x")  # binds the credentials to other.example.com
        with pytest.raises(remedy.Unauthorized) as raised:
            client.get(API + "/items")
    check_unsent_note(raised.value)
    assert len(fake.token_requests) == 1  # no refresh: no token of ours was rejected


def test_a_401_to_a_request_with_its_own_authorization_has_no_such_note() -> None:
    fake = FakeAS()
    transport = remedy.RemedyTransport(httpx.MockTransport(fake), credentials=cc(), retry=retry())
    with httpx.Client(transport=transport) as client, pytest.raises(remedy.Unauthorized) as raised:
        client.get(API + "/items", headers={"Authorization": "Bearer mine"})
    assert "no token was sent" not in str(raised.value)


def test_the_note_joins_a_retry_note() -> None:
    """A 401 the policy retries (401 in ``statuses``) keeps the cap's note beside ours."""
    fake = FakeAS()
    policy = remedy.Retry(budget=RetryBudget(), statuses={401}, max_attempts=2, wait=lambda s: 0)
    transport = remedy.RemedyTransport(
        httpx.MockTransport(fake), credentials=cc(), retry=policy, origins=[OTHER]
    )
    with httpx.Client(transport=transport) as client, pytest.raises(remedy.Unauthorized) as raised:
        client.get(API + "/items")
    note = remedy.attempts_of(raised.value)[-1].note
    assert note == "max_attempts (2) reached; " + NOTE
