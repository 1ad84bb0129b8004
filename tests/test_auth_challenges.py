"""A 401 is answered with a new token only when a new token can answer it.

A challenge set that is empty or names Bearer (or DPoP) asks for a token: refresh and replay. A
401 whose challenges all name another scheme (``Basic``, ``Negotiate``) asks for something a
Bearer token is not: it is raised at once, with a note saying so, and no token is fetched.
"""

from __future__ import annotations

import httpx
import pytest

import httpx_remedy as remedy

from .helpers import API, FakeAS, FakeClock, Mode, cc

#: WWW-Authenticate field values (one item per field line), and the schemes a 401 with them
#: asks for instead of a token (None: it asks for a token, so refresh and replay).
CASES = [
    pytest.param([], None, id="no-challenge"),
    pytest.param(['Bearer realm="api"'], None, id="bearer"),
    pytest.param(['Bearer error="invalid_token"'], None, id="bearer-invalid-token"),
    pytest.param(['DPoP algs="ES256"'], None, id="dpop"),
    pytest.param(['Basic realm="x", Bearer realm="api"'], None, id="basic-and-bearer"),
    pytest.param(['Basic realm="x"', 'Bearer error="invalid_token"'], None, id="lines-bearer"),
    pytest.param(['Basic realm="x"'], "Basic", id="basic"),
    pytest.param(["Negotiate"], "Negotiate", id="negotiate"),
    pytest.param(['Basic realm="x", Negotiate'], "Basic, Negotiate", id="basic-and-negotiate"),
    pytest.param(['Basic realm="x"', "Negotiate abc=="], "Basic, Negotiate", id="lines-no-bearer"),
    pytest.param(['Digest realm="x", nonce="n", Basic realm="y"'], "Digest, Basic", id="digest"),
]


def challenged(values: list[str]) -> httpx.Response:
    return httpx.Response(401, headers=[("WWW-Authenticate", v) for v in values])


def check(fake: FakeAS, schemes: str | None, outcome: object) -> None:
    if schemes is None:
        assert isinstance(outcome, httpx.Response)
        assert outcome.json() == {"ok": True, "token": "access-2"}
        assert len(fake.token_requests) == 2
        return
    assert isinstance(outcome, remedy.Unauthorized)
    assert len(fake.token_requests) == 1  # the first token only: no refresh, no replay
    assert len(fake.api_requests) == 1
    assert remedy.attempts_of(outcome)[-1].note == (
        f"the server asks for {schemes} authentication, not a Bearer token: "
        "a new token would not answer it"
    )


@pytest.mark.parametrize(("values", "schemes"), CASES)
def test_a_401_is_refreshed_only_when_it_asks_for_a_token(
    mode: Mode, clock: FakeClock, values: list[str], schemes: str | None
) -> None:
    fake = FakeAS()
    fake.api_script.append(challenged(values))
    outcome: object
    with mode.client(fake, clock, credentials=cc()) as client:
        try:
            outcome = client.get(API + "/items")
        except remedy.Unauthorized as error:
            outcome = error
    check(fake, schemes, outcome)
