"""The success path's caches and shortcuts (``_first_send.begin``): what is made once per token
or per origin, when it is made again, and that what is kept per origin stays bounded.

The shortcuts must decide exactly as the long way does: these tests pin the cases where they
must step aside (a new token, a DPoP token, a header of the request's own, a new slot of the
budget, a clock that went back).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import httpx
import pytest
import tenacity

import httpx_remedy as remedy
import httpx_remedy.testing
from httpx_remedy import RetryBudget, Token
from httpx_remedy._budget import MAX_BUDGET_ORIGINS
from httpx_remedy._first_send import begin
from httpx_remedy._http import origin_of
from httpx_remedy._manager import TokenManager

from .helpers import API, SECRET, TOKEN_URL, FakeAS, FakeClock, Mode

ORIGIN = origin_of(httpx.URL(API))


def cc() -> remedy.ClientCredentials:
    return remedy.ClientCredentials(TOKEN_URL, "app", SECRET)


# -- the header row, made once per token -------------------------------------------------------


def test_a_token_makes_its_header_row_once() -> None:
    token = Token("abc", "Bearer")
    assert token.header_row == (b"Authorization", b"authorization", b"Bearer abc")
    assert token.header_row is token.header_row


def test_a_copy_of_a_token_makes_its_own_header_row() -> None:
    """``dataclasses.replace`` (a token read back from a store, a DPoP binding) runs
    ``__post_init__`` again: the row follows the new token, never the old one's."""
    token = Token("abc", "Bearer")
    copy = dataclasses.replace(token, access_token="xyz")
    assert copy.header_row == (b"Authorization", b"authorization", b"Bearer xyz")


def test_a_dpop_bound_token_has_no_header_row() -> None:
    """No Bearer shortcut for a DPoP token: each of its requests needs a fresh proof."""
    manager = TokenManager(object(), remedy.DPoPKey.generate("ES256"))
    token = manager.store(Token("abc", "DPoP"))
    assert token.header_row is None
    assert token._dpop is not None


def test_a_new_token_puts_its_own_header_bytes_on_the_next_request(
    mode: Mode, clock: FakeClock
) -> None:
    """Rotation: the row appended is the current token's, read afresh for every request."""
    fake = FakeAS()
    with mode.client(fake, clock, credentials=cc()) as client:
        assert client.get(API + "/items").status_code == 200
        fake.revoke_all()  # the next request meets a 401 and refreshes
        assert client.get(API + "/items").status_code == 200
        assert client.get(API + "/items").status_code == 200
    assert [token for _, token in fake.calls] == ["access-1", "access-1", "access-2", "access-2"]


def test_a_token_due_for_refresh_is_not_appended(mode: Mode, clock: FakeClock) -> None:
    fake = FakeAS(expires_in=100)
    with mode.client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        clock.advance(99)  # past the refresh point, before the expiry
        client.get(API + "/items")
    assert [token for _, token in fake.calls] == ["access-1", "access-2"]
    assert len(fake.token_requests) == 2


def test_the_header_goes_once_and_the_callers_own_wins(mode: Mode, clock: FakeClock) -> None:
    fake = FakeAS()
    fake.valid.add("mine")
    fake.scopes["mine"] = "read"
    with mode.client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        client.get(API + "/items")
        assert fake.api_requests[-1].headers.get_list("authorization") == ["Bearer access-1"]
        own = client.get(API + "/items", headers={"Authorization": "Bearer mine"})
        assert fake.api_requests[-1].headers.get_list("authorization") == ["Bearer mine"]
        assert own.request.headers.get_list("authorization") == ["Bearer mine"]


def test_a_token_goes_to_no_origin_outside_the_binding(mode: Mode, clock: FakeClock) -> None:
    fake = FakeAS()
    with mode.client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        client.get("https://elsewhere.example.com/items")
    assert "authorization" in fake.api_requests[0].headers
    assert "authorization" not in fake.api_requests[-1].headers


def test_a_callers_header_in_any_case_is_seen(mode: Mode, clock: FakeClock) -> None:
    fake = FakeAS()
    fake.valid.add("mine")
    fake.scopes["mine"] = "read"
    with mode.client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        client.get(API + "/items", headers={"AUTHORIZATION": "Bearer mine"})
        assert fake.api_requests[-1].headers.get_list("authorization") == ["Bearer mine"]


# -- begin(): what a request gets from the shortcut --------------------------------------------


def test_begin_sets_the_held_token_and_asks_no_detour() -> None:
    transport = remedy.RemedyTransport(
        httpx.MockTransport(lambda r: httpx.Response(200)),
        credentials=cc(),
        origins=[API],
    )
    settings = transport._settings
    assert settings.auth is not None
    token = settings.auth.manager.store(Token("held", "Bearer"))
    request = httpx.Request("GET", API + "/items")
    start = begin(settings, request)
    assert (start.token, start.detour, start.auth) == (token, False, settings.auth)
    assert start.sent.headers["authorization"] == "Bearer held"
    # On httpx a copy carries it, the caller's request as it was built (test_request_untouched).
    assert (start.sent is request) is (httpx.Request.__module__ != "httpx")


def test_begin_asks_a_detour_for_a_missing_token_and_a_store() -> None:
    inner = httpx.MockTransport(lambda r: httpx.Response(200))
    settings = remedy.RemedyTransport(inner, credentials=cc(), origins=[API])._settings
    start = begin(settings, httpx.Request("GET", API + "/items"))
    assert (start.token, start.detour) == (None, True)
    stored = remedy.RemedyTransport(inner, retry=None, store=remedy.MemoryStore())._settings
    assert begin(stored, httpx.Request("GET", API)).detour
    plain = remedy.RemedyTransport(inner, retry=None)._settings
    assert not begin(plain, httpx.Request("GET", API)).detour


# -- the budget's count: no lock, no division, and bounded -------------------------------------


def _firsts(budget: RetryBudget, origin: object) -> int:
    counts = budget._origins[origin]
    return int(sum(counts[1:11]))


def test_first_attempts_are_counted_in_the_slot_of_their_time() -> None:
    budget = RetryBudget(window=10.0)  # slots of 1 s
    for _ in range(3):
        budget.record_request(ORIGIN, 100.2)  # the first one opens the slot, two go fast
    budget.record_request(ORIGIN, 100.9)
    assert _firsts(budget, ORIGIN) == 4
    assert budget._origins[ORIGIN][1 + 100 % 10] == 4
    budget.record_request(ORIGIN, 101.0)  # the next slot: counted apart
    assert budget._origins[ORIGIN][1 + 101 % 10] == 1
    budget.record_request(ORIGIN, 111.5)  # a whole window later: the old slots are cleared
    assert _firsts(budget, ORIGIN) == 1


def test_a_clock_that_goes_back_is_counted_in_its_own_slot() -> None:
    """Transports on different clocks share the process-wide budget: a reading before the
    current slot never lands in it by the shortcut."""
    budget = RetryBudget(window=10.0)
    budget.record_request(ORIGIN, 100.5)
    budget.record_request(ORIGIN, 53.5)
    counts = budget._origins[ORIGIN]
    assert counts[0] == 53
    assert (counts[1 + 53 % 10], counts[1 + 100 % 10]) == (1, 1)


def test_the_counted_firsts_pay_for_retries() -> None:
    budget = RetryBudget(ratio=0.5, minimum=0, window=10.0, reserve=0)
    for _ in range(10):
        budget.record_request(ORIGIN, 5.0)
    assert sum(budget.try_spend(ORIGIN, 5.0) for _ in range(100)) == 5


def test_the_budget_keeps_a_bounded_number_of_origins() -> None:
    budget = RetryBudget()
    for n in range(MAX_BUDGET_ORIGINS + 50):
        budget.record_request(("https", f"h{n}.example.com", None), 1.0)
    assert len(budget._origins) == MAX_BUDGET_ORIGINS
    assert ("https", "h0.example.com", None) not in budget._origins  # the oldest went first
    assert ("https", f"h{MAX_BUDGET_ORIGINS + 49}.example.com", None) in budget._origins


def test_a_forgotten_origin_starts_counting_afresh() -> None:
    budget = RetryBudget()
    budget.record_request(ORIGIN, 1.0)
    for n in range(MAX_BUDGET_ORIGINS):
        budget.record_request(("https", f"h{n}.example.com", None), 1.0)
    assert ORIGIN not in budget._origins
    budget.record_request(ORIGIN, 1.0)
    assert _firsts(budget, ORIGIN) == 1


@pytest.mark.parametrize("policy", [remedy.Retry(), remedy.Retry(deadline=5)])
def test_first_send_work_is_derived(policy: remedy.Retry) -> None:
    assert policy.first_send_work is policy.shrinks_timeouts
    assert remedy.Retry(idempotency_keys=True).first_send_work
    assert dataclasses.replace(policy, idempotency_keys=True).first_send_work


# -- import: what waits for the grant that needs it ---------------------------------------------


@pytest.mark.integration  # starts two interpreters
def test_importing_the_package_loads_no_authlib_until_a_grant_is_made() -> None:
    code = (
        "import sys, httpx_remedy\n"
        "heavy = ('authlib', 'joserfc', 'cryptography', 'difflib')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
        "httpx_remedy.ClientCredentials('https://a.example/token', 'app', 'secret')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split("\n")[:2] == ["[]", "['authlib']"]


def test_a_grant_sends_the_same_token_request_with_authlib_loaded_late() -> None:
    request = cc().token_request("read")
    assert request.headers["authorization"].startswith("Basic ")
    assert request.content == b"grant_type=client_credentials&scope=read"


# -- the origin memos: the budget's last origin, the transport's last bound origin ------------


def test_the_budget_memo_follows_the_origin_counted() -> None:
    budget = RetryBudget(window=10.0)
    other = ("https", "other.example.com", None)
    for origin in (ORIGIN, other, ORIGIN, ORIGIN, other):
        budget.record_request(origin, 5.5)
    assert (_firsts(budget, ORIGIN), _firsts(budget, other)) == (3, 2)
    assert budget._last[0] == other


def test_a_forgotten_origin_held_by_the_memo_is_counted_afresh() -> None:
    """The memo may still hold an origin the budget forgot: its slot can match no reading,
    so the count goes to the origin's new counts, never to the forgotten list."""
    budget = RetryBudget(window=10.0)
    budget.record_request(ORIGIN, 5.5)
    forgotten = budget._last[1]
    for n in range(MAX_BUDGET_ORIGINS):  # fills the budget without moving the memo
        budget._counts(("https", f"h{n}.example.com", None), 5)
    assert ORIGIN not in budget._origins
    assert budget._last == (ORIGIN, forgotten)
    transport = remedy.RemedyTransport(
        httpx.MockTransport(lambda r: httpx.Response(200)), retry=remedy.Retry(budget=budget)
    )
    remedy.testing.use_clock(transport, monotonic=lambda: 5.5)
    with httpx.Client(transport=transport) as client:
        client.get(API + "/items")
        client.get(API + "/items")
    assert _firsts(budget, ORIGIN) == 2
    assert sum(forgotten[1:11]) == 1  # untouched since it was forgotten


def test_the_transport_counts_each_first_attempt_once(mode: Mode, clock: FakeClock) -> None:
    budget = RetryBudget(window=10.0)
    with mode.client(
        lambda r: httpx.Response(200), clock, retry=remedy.Retry(budget=budget)
    ) as client:
        for _ in range(3):
            client.get(API + "/items")
        client.get("https://other.example.com/")
        client.get(API + "/items")
    assert _firsts(budget, ORIGIN) == 4
    assert _firsts(budget, ("https", "other.example.com", None)) == 1


def test_the_bound_origin_memo_sends_the_token_nowhere_else(mode: Mode, clock: FakeClock) -> None:
    fake = FakeAS()
    with mode.client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        client.get("https://elsewhere.example.com/a")
        client.get(API + "/items")
        client.get("https://elsewhere.example.com/b")
    assert [token for _, token in fake.calls] == ["access-1", None, "access-1", None]


# -- Settings.plain: no policy, no credentials, no store ----------------------------------------


def test_plain_settings_send_without_prepare(
    mode: Mode, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing to do before a send, the drivers skip ``prepare`` (its call is most of
    what retry=None costs) and still raise the typed error, with the attempt's time."""
    from httpx_remedy import _transport

    def refuse(*args: object) -> None:
        raise AssertionError("prepare ran for a plain transport")

    monkeypatch.setattr(_transport, "prepare", refuse)

    def answer(request: httpx.Request) -> httpx.Response:
        clock.now += 0.25  # the attempt takes a quarter of a second
        return httpx.Response(200 if request.url.path == "/ok" else 404)

    with mode.client(answer, clock, retry=None) as client:
        assert client.transport._settings.plain
        assert client.get(API + "/ok").status_code == 200
        with pytest.raises(remedy.NotFound) as raised:
            client.get(API + "/missing")
    assert [attempt.elapsed for attempt in raised.value.attempts] == [0.25]


def test_a_request_naming_a_policy_is_not_plain(mode: Mode, clock: FakeClock) -> None:
    sends: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sends.append(1)
        return httpx.Response(503 if len(sends) == 1 else 200)

    policy = remedy.Retry(wait=tenacity.wait_none(), budget=None)
    with mode.client(answer, clock, retry=None) as client:
        response = client.get(API, extensions={"remedy.retry": policy})
    assert (response.status_code, len(sends)) == (200, 2)


def test_settings_are_plain_only_with_nothing_to_do() -> None:
    inner = httpx.MockTransport(lambda r: httpx.Response(200))
    assert remedy.RemedyTransport(inner, retry=None)._settings.plain
    assert not remedy.RemedyTransport(inner)._settings.plain
    assert not remedy.RemedyTransport(inner, retry=None, store=remedy.MemoryStore())._settings.plain
    plain_creds = remedy.RemedyTransport(inner, retry=None, credentials=cc(), origins=[API])
    assert not plain_creds._settings.plain


def _hot_path_objects() -> list[object]:
    """An instance of each class whose attributes the hot path reads on every request."""
    transport = remedy.RemedyTransport(
        httpx.MockTransport(lambda request: httpx.Response(200)), credentials=cc()
    )
    settings = transport._settings
    assert settings.retry is not None
    assert settings.auth is not None
    policy = settings.retry
    auth = settings.auth
    token = auth.manager.store(Token("held", "Bearer"))
    return [settings, auth, auth.manager, token, policy, policy.budget, policy.pace]


def test_the_hot_paths_objects_read_attributes_the_plain_way() -> None:
    # A __getattr__ (or __getattribute__) of a class's own makes every attribute read of its
    # instances one CPython cannot specialize: about 350 instructions a read instead of 20.
    # Retry had one (for its lazily built default wait) and the default policy paid it four
    # times per request: 1.4k instructions, a fifth of the library's whole cost on a 2xx.
    for obj in _hot_path_objects():
        kind = type(obj)
        assert kind.__getattribute__ is object.__getattribute__, kind
        assert not hasattr(kind, "__getattr__"), kind


def test_every_policy_sets_its_attributes_in_one_order() -> None:
    # Instances that set their attributes in one order share their keys, which is what keeps
    # an attribute read specialized; a policy that set one only sometimes (the wait) broke it.
    policies = [
        remedy.Retry(),
        remedy.Retry(wait=tenacity.wait_fixed(1), pace=False, budget=None, deadline=None),
        remedy.Retry(max_attempts=5, idempotency_keys=True, on_retry=lambda attempt: None),
        dataclasses.replace(remedy.Retry(), max_attempts=2),
    ]
    orders = {tuple(vars(policy)) for policy in policies}
    assert len(orders) == 1, orders


def test_the_default_wait_survives_replace_and_pickling_as_the_default() -> None:
    import pickle

    from httpx_remedy._policy import DEFAULT_WAIT

    policy = remedy.Retry(budget=None)  # a budget holds a lock: not picklable
    for other in (
        dataclasses.replace(policy, max_attempts=2),
        pickle.loads(pickle.dumps(policy)),
    ):
        assert other._wait is DEFAULT_WAIT
        assert "wait=" not in repr(other)
    assert isinstance(policy.wait, tenacity.wait_random_exponential)  # read as tenacity's
    chosen = tenacity.wait_fixed(2)
    assert dataclasses.replace(remedy.Retry(wait=chosen), max_attempts=2).wait is chosen
