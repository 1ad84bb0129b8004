"""Local stand-ins for the hosts the documentation's snippets name (``<!-- snippet:
standin=NAME -->``, see tests/docs_snippets.py and CONTRIBUTING.md).

A stand-in registers pytest-httpx responses for a provider's hosts, answering as that provider
documents (the token endpoint's form, its error bodies, its rate-limit headers), and may set
environment variables, put names in the snippet's namespace and add checks that run after it
(that the Auth0 ``audience`` reached the token endpoint, say). Requests reach no network.
"""

from __future__ import annotations

import json
import sys
import time
import types
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from httpx_remedy.testing import error_response


@dataclass
class Context:
    httpx_mock: HTTPXMock
    monkeypatch: pytest.MonkeyPatch
    tmp_path: Path
    request: pytest.FixtureRequest
    #: Names the snippet finds defined (hidden setup), kept few and named in the page's text.
    names: dict[str, Any] = field(default_factory=dict)
    #: Run after the snippet: what the stand-in saw.
    checks: list[Callable[[], None]] = field(default_factory=list)


STANDINS: dict[str, Callable[[Context], None]] = {}


def standin(function: Callable[[Context], None]) -> Callable[[Context], None]:
    STANDINS[function.__name__.replace("_", "-")] = function
    return function


def form(request: httpx.Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.content.decode()))


def token_answer(
    seen: list[dict[str, str]] | None = None,
    token_type: str = "Bearer",
    expires_in: int = 3600,
    check: Callable[[dict[str, str]], None] | None = None,
) -> Callable[[httpx.Request], httpx.Response]:
    """A token endpoint: records each request's form, answers a fresh token."""
    count = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        fields = form(request)
        if seen is not None:
            seen.append(fields)
        if check is not None:
            check(fields)
        body = {"access_token": f"at-{count}", "token_type": token_type, "expires_in": expires_in}
        if fields.get("grant_type") == "refresh_token":
            body["refresh_token"] = f"rt-{count}"
        return httpx.Response(200, json=body)

    return answer


def api_answer(payload: Any = None, *, needs_token: bool = True) -> Callable[..., httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        if needs_token and "authorization" not in request.headers:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="api"'})
        return httpx.Response(200, json=payload if payload is not None else {"items": []})

    return answer


def always(ctx: Context, url: Any, answer: Callable[..., httpx.Response], **match: Any) -> None:
    ctx.httpx_mock.add_callback(answer, url=url, is_reusable=True, is_optional=True, **match)


@standin
def example(ctx: Context) -> None:
    """``auth.example.com`` (a token endpoint) and ``api.example.com`` (an API), answering 200."""
    import re

    always(ctx, re.compile(r"https://auth\.example\.com/.*"), token_answer(), method="POST")
    always(ctx, re.compile(r"https://api\.example\.com/.*"), api_answer(needs_token=False))
    always(ctx, re.compile(r"https://status\.example\.org/.*"), no_token_here)
    ctx.monkeypatch.setenv("SECRET", "example-secret")


def no_token_here(request: httpx.Request) -> httpx.Response:
    """Another origin: a token arriving here is a leak, and fails the snippet."""
    assert "authorization" not in request.headers, "a token went to an origin it is not for"
    return httpx.Response(200, json={"status": "ok"})


@standin
def expired_token(ctx: Context) -> None:
    """``api.example.com`` answers 401 ``invalid_token`` ("The access token expired")."""
    import re

    always(
        ctx,
        re.compile(r"https://api\.example\.com/.*"),
        lambda request: httpx.Response(
            **error_response("invalid_token", description="The access token expired")
        ),
    )


@standin
def redis(ctx: Context) -> None:
    """A redis-server of the tests' own (``REDIS_URL``); skipped without one unless
    ``HTTPX_REMEDY_REQUIRE_REDIS=1``, like every fleet test."""
    server = ctx.request.getfixturevalue("redis_server")
    ctx.monkeypatch.setenv("REDIS_URL", server.url)
