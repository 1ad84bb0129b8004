"""The examples and the demo run end to end, as a user would run them.

Every ``examples/*.py`` script is run with this interpreter, warnings as errors, in its own
process (so a new example is picked up without editing this file); the pytest example is run
with pytest; ``python -m httpx_remedy demo`` is run and timed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # every example is a process of its own

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("test_"))
PYTEST_EXAMPLES = sorted(EXAMPLES.glob("test_*.py"))
TIMEOUT = 60

# What each script must print: the lines a reader is meant to see. A script not listed here
# still has to run and print something.
EXPECTED: dict[str, list[str]] = {
    "catch_by_name.py": [
        "InvalidToken: The access token provided is expired",
        "also an Unauthorized: True",
        "TooManyRequests: the server asks us to retry in 120.0 seconds",
        "MethodNotAllowed: allowed methods:",
        "NotFound: 404",
        "InsufficientScope: this call needs the scope 'admin'",
        "InternalServerError (caught as HTTPError)",
        "str(e) is one line: 500 ",
        "Authorization in the report: False",
    ],
    "sync_and_async.py": [
        "sync, httpx.Client + RemedyTransport",
        "asyncio, httpx.AsyncClient + AsyncRemedyTransport",
        "trio, httpx.AsyncClient + AsyncRemedyTransport",
    ],
    "client_credentials.py": [
        "authenticate with client_secret_basic",
        "authenticate with client_secret_post",
        "authenticate with private_key_jwt",
        "3 calls, 0.6 s apart -> 3 token requests",
        "the API answered [200, 200, 200]",
        "the request fetching the token: TokenEndpointUnreachable[ReadTimeout], 3 attempts",
        "it names the token endpoint: True",
        "the request waiting for it: TokenWaitTimeout after 0.5s, a TimeoutError: True",
    ],
    "refresh_tokens.py": [
        "first call: 200, 0 token requests",
        "the refresh token was rotated: True",
        "with the saved pair: 200, 0 token requests",
        "InvalidGrant: 400",
        "ReauthenticationRequired; first cause: InvalidGrant",
        "token requests for these two calls: 1",
        "after signing in again: 200",
    ],
    "retry_policy.py": [
        "on_retry: attempt 1/4: 503 -> retry after 0.1s (retry-after)",
        "-> 201 with Idempotency-Key",
        "attempt 1/1: 503 -> raise [max_attempts (1) reached]",
        "TooManyRequests, retry_after = 3600.0",
        "more than max_retry_after (5s)",
        "would overrun the deadline",
    ],
    "event_hooks_and_wrap.py": [
        "InvalidClient: ",
        "InsufficientScope: needs 'admin'",
        "after a 503: 200 (the API answered [503, 200])",
        "Unauthorized: 'no access token'",
    ],
    "token_source.py": [
        "sync: 10 x 200, vault calls: 1",
        "after a revocation: 200 vault calls: 2",
        "async: 200 vault calls: 1",
    ],
    "fleet_with_redis.py": [
        "token requests for both workers: 1",
        "worker one: TooManyRequests, retry after 1s",
        "worker two: OriginPaused for",
        "worker one, patient: 200 after waiting",
    ],
    "dpop.py": [
        "the key: DPoPKey(alg='ES256', thumbprint='",
        "GET /api/items -> 200 with Authorization: DPoP",
        "token endpoint: use_dpop_nonce, then 200 DPoP",
        "the token stolen and sent as Bearer: 401 invalid_token",
        "nonce changed: 3 calls, 0 refusals",
        "loaded from PEM, same key: True",
        "a token source's DPoP token: 200",
    ],
    "device_login.py": [
        "To sign in, open http://127.0.0.1:",
        "first run: 200 after the user approved",
        "saved: ['key.pem', 'tokens.json']",
        "second run: 200, no login (0 polls)",
        "after expiry: 200, refreshed (DPoP-bound: True)",
        "AccessDenied: access_denied",
        "LoginTimeout: DeviceCode(timeout=1.5) ran out after 1 poll(s)",
        "LoginCancelled: after ",
    ],
    "catalog_and_cli.py": [
        "catalog[429]: Too Many Requests -> TooManyRequests / back off and retry",
        "invalid_grant (Invalid Grant)",
        "entries; ",
        "-> InvalidToken (401",
        "exit status: 1",
    ],
}

# Lines that must appear several times (once per client kind, once per auth method...).
REPEATED: dict[str, dict[str, int]] = {
    "sync_and_async.py": {
        "the API answered: 200 401 200 429 200 403": 3,
        "token requests: 2": 3,
        "InsufficientScope, needs 'admin'": 3,
    },
    "client_credentials.py": {
        "3 calls -> 1 token request": 3,
        "after expire_all(): 200, the API answered [401, 200]": 3,
        "fixed with 1 token request": 3,
    },
}


def run(*args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_every_example_is_checked() -> None:
    assert SCRIPTS, "no examples found"
    assert PYTEST_EXAMPLES, "no pytest example found"
    names = {p.name for p in SCRIPTS}
    assert set(EXPECTED) <= names, f"EXPECTED names a script that is gone: {set(EXPECTED) - names}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_runs(script: Path) -> None:
    result = run("-W", "error", str(script.relative_to(ROOT)))
    output = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, output
    assert "Traceback" not in result.stderr, output
    assert result.stdout.strip(), output
    if "a MemoryStore stands in for Redis" in result.stdout and (
        os.environ.get("HTTPX_REMEDY_REQUIRE_REDIS") == "1"
    ):
        pytest.fail(f"{script.name} should have used redis-server, which CI installs\n{output}")
    for text in EXPECTED.get(script.name, []):
        assert text in result.stdout, f"{text!r} missing\n{output}"
    for text, count in REPEATED.get(script.name, {}).items():
        assert result.stdout.count(text) == count, f"{text!r} not {count} times\n{output}"


@pytest.mark.parametrize("module", PYTEST_EXAMPLES, ids=lambda p: p.name)
def test_pytest_example_passes(module: Path) -> None:
    # --no-cov: pyproject.toml's coverage threshold is for the whole suite, not one module.
    args = ("-m", "pytest", "-q", "--no-cov", "-p", "no:cacheprovider")
    result = run(*args, str(module.relative_to(ROOT)))
    output = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, output
    assert re.search(r"\b\d+ passed\b", result.stdout), output
    assert not re.search(r"\b\d+ (failed|errors?|skipped)\b", result.stdout), output


DEMO_HEADINGS = [
    "1. An access token expires mid-run",
    "2. 20 concurrent requests meet a revoked token",
    "3. 429 Too Many Requests with Retry-After",
    "4. A 503 storm",
    "5. 403 insufficient_scope",
    "6. 400 invalid_request",
    "7. A wrong client secret",
    "8. DPoP: the server's nonce asked for once, then carried",
]


def test_demo_command_end_to_end() -> None:
    started = time.monotonic()
    result = run("-m", "httpx_remedy", "demo")
    took = time.monotonic() - started
    output = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, output
    passed = re.search(r"(\d+)/(\d+) checks passed: every fix worked\.", result.stdout)
    assert passed is not None, output
    assert passed[1] == passed[2], output
    for heading in DEMO_HEADINGS:
        assert heading in result.stdout, f"{heading!r} missing\n{output}"
    assert "FAIL" not in result.stdout, output
    assert "\033[" not in result.stdout  # not a terminal: no colour codes
    assert took < 20, f"the demo took {took:.1f}s\n{output}"
