"""A hostile server for the transport fuzz tests: strategies for its answers, and the server.

``Hostile`` plays an API and a token endpoint behind ``httpx.MockTransport``: each answers a
script of :class:`Answer` in turn (any status, header bytes, body, compression, a stream that
breaks midway, or a transport error instead of an answer), echoes the credentials it was sent
when the script says so, and records everything: each request, each exception it raised, each
token it handed out. ``Stage`` is the same for ``rawserver``: raw response heads on a socket.
"""

from __future__ import annotations

import email.utils
import functools
import gzip
import json
import re
import socket
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import anyio
import httpcore
import httpx
from hypothesis import strategies as st

import httpx_remedy as remedy

from .conftest import FakeClock
from .rawserver import RawServer, Received, gzip_bomb, head

API = "https://api.example.com"
TOKEN_URL = "https://auth.example.com/oauth/token"
CLIENT_ID = "fuzz-client"
CLIENT_SECRET = "cs-Zq8Xv3Lp7Rw2Tn5K"
#: Placeholders the server fills in when it answers. ``NEW_TOKEN``: a fresh, unique access token
#: (the token endpoint and the token source hand them out); the others echo back what the
#: request carried: its token (or, to the token endpoint, the client secret), percent-encoded,
#: the whole ``Authorization`` value, or the whole request body (a token request's form).
NEW_TOKEN = "@@NEW@@"
ECHOES = (b"@@TOKEN@@", b"@@QTOKEN@@", b"@@AUTH@@", b"@@BODY@@")


# --------------------------------------------------------------------------------------------
# Strategies: header bytes
# --------------------------------------------------------------------------------------------

OAUTH_CODES = [str(entry.code) for entry in remedy.catalog.oauth_codes()]
WALL = FakeClock().time()


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


CODES = st.one_of(
    st.sampled_from(OAUTH_CODES),
    st.sampled_from(OAUTH_CODES).map(lambda code: f" {code.upper()} "),
    st.text(max_size=12),
)
TEXT = st.text(max_size=30)
#: Bytes a header value may hold, control bytes and bytes outside ASCII included (not CR, LF
#: or NUL, which no HTTP/1.1 or HTTP/2 parser lets through).
ODD = st.binary(max_size=30).map(lambda b: b.translate(None, b"\r\n\x00"))
HUGE = st.builds(
    lambda unit, n: unit * n,
    st.sampled_from([b"a", b"\xff", b"9", b'"', b"\\", b", ", b"=", b"\xc3\xa9"]),
    st.integers(1_000, 100_000),
)
NUMBER = st.one_of(
    st.integers(-5, 120).map(str),
    st.floats().map(repr),
    st.integers(10**9, 10**13).map(str),  # Unix timestamps, seconds and milliseconds
    st.sampled_from(
        ["1e309", "NaN", "-0", "9" * 30, "0x10", " 5 ", "5, 6", "", "2.5", "31536000", "-1"]
    ),
)
DATE = st.one_of(
    st.integers(-(10**6), 10**8).map(lambda d: email.utils.formatdate(WALL + d, usegmt=True)),
    st.sampled_from(
        [
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Mon, 32 Foo 2025 99:99:99 GMT",
        ]
    ),
)
SECONDS = st.integers(0, 90).map(lambda n: str(n).encode())
DELAY = st.one_of(SECONDS, SECONDS, NUMBER.map(_utf8), DATE.map(_utf8), ODD, HUGE)
DELAY_HEADER = st.tuples(
    st.sampled_from(
        [
            b"Retry-After",
            b"Retry-After",
            b"Retry-After",
            b"Retry-After",
            b"retry-after",
            b"RETRY-AFTER",
            b"retry-after-ms",
            b"x-ms-retry-after-ms",
            b"RateLimit-Reset",
            b"X-RateLimit-Reset",
            b"X-RateLimit-Remaining",
            b"RateLimit-Remaining",
        ]
    ),
    DELAY,
)
RATELIMIT = st.one_of(
    st.builds(lambda r, t: _utf8(f'"default";r={r};t={t}'), NUMBER, NUMBER),
    st.builds(lambda r, t: _utf8(f"limit=10, remaining={r}, reset={t}"), NUMBER, NUMBER),
    ODD,
)
PARAMS = st.sampled_from(
    [
        "error",
        "error",
        "error_description",
        "error_uri",
        "scope",
        "realm",
        "nonce",
        "algs",
        "acr_values",
        "max_age",
        "resource_metadata",
        "",
        "e\u0301rror",
    ]
)


def _challenge(scheme: str, params: list[tuple[str, str]], style: str) -> str:
    items = []
    for name, value in params:
        if style == "quoted":
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            items.append(f'{name}="{escaped}"')
        elif style == "bare":
            items.append(f"{name}={value}")
        else:  # a quote that never closes
            items.append(f'{name}="{value}')
    return f"{scheme} {', '.join(items)}".strip()


CHALLENGE = st.builds(
    _challenge,
    st.sampled_from(["Bearer", "bearer", "DPoP", "Basic", "Negotiate", "Digest", "X", ""]),
    st.lists(st.tuples(PARAMS, st.one_of(CODES, TEXT)), max_size=4),
    st.sampled_from(["quoted", "quoted", "bare", "broken"]),
)
CHALLENGES = st.one_of(
    st.lists(CHALLENGE, min_size=1, max_size=3).map(lambda cs: _utf8(", ".join(cs))),
    st.sampled_from([b"Bearer", b'Bearer error="invalid_token"', b"Basic realm=x", b"Basic abc=="]),
    ODD,
    HUGE,
)
CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            b"application/json",
            b"application/problem+json",
            b"application/json; charset=utf-8",
            b"application/json; charset=latin-1",
            b"application/json; charset=utf-32",
            b"application/json; charset=\xff\xfe",
            b"text/html; charset=utf-8",
            b"text/html",
            b"application/xml",
            b"text/xml",
            b"text/plain",
            b"text/plain; charset=nonexistent",
            b"application/x-www-form-urlencoded",
            b"multipart/form-data; boundary=x",
            b"garbage",
            b"",
            b";;;",
        ]
    ),
    ODD,
)
LOCATIONS = st.one_of(
    st.sampled_from(
        [
            b"/moved",
            b"https://api.example.com/elsewhere",
            b"https://evil.example.net/steal",
            b"//evil.example.net/steal",
            b"http://api.example.com/plain",
            b"https://API.EXAMPLE.COM:443/upper",
            b"ftp://api.example.com/x",
            b"https://",
            b"",
            b"https://[::1/",
            b"https://xn--/",
            b"https://\xff\xfe/",
        ]
    ),
    ODD,
)
NAMES = st.one_of(
    st.from_regex(rb"\A[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}\Z"),
    st.sampled_from([b"X Odd", b"\xff-name", b"Content-Type ", b"WWW-AUTHENTICATE"]),
)
HEADER = st.one_of(
    DELAY_HEADER,
    st.tuples(st.just(b"RateLimit"), RATELIMIT),
    st.tuples(st.sampled_from([b"WWW-Authenticate", b"www-authenticate"]), CHALLENGES),
    st.tuples(st.just(b"DPoP-Nonce"), st.one_of(ODD, HUGE)),
    st.tuples(st.just(b"Content-Type"), CONTENT_TYPES),
    st.tuples(st.just(b"Location"), LOCATIONS),
    st.tuples(
        st.sampled_from(
            [
                b"Allow",
                b"X-Error-Message",
                b"Set-Cookie",
                b"Link",
                b"Warning",
                b"Content-Length",
                b"Content-Disposition",
                b"Transfer-Encoding",
                b"Connection",
            ]
        ),
        st.one_of(ODD, HUGE, TEXT.map(_utf8)),
    ),
    st.tuples(NAMES, st.one_of(ODD, HUGE)),
)

# --------------------------------------------------------------------------------------------
# Strategies: bodies
# --------------------------------------------------------------------------------------------

JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
JSON_ANY = st.recursive(
    JSON_LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
ECHO = st.sampled_from([e.decode() for e in ECHOES])
WORDS = st.one_of(st.text(max_size=40), ECHO, JSON_ANY)
OAUTH_BODY = st.fixed_dictionaries(
    {},
    optional={
        "error": st.one_of(
            CODES, JSON_ANY, st.fixed_dictionaries({"message": WORDS, "code": JSON_ANY})
        ),
        "error_description": WORDS,
        "error_uri": WORDS,
        "message": WORDS,
        "detail": WORDS,
        "title": WORDS,
        "type": WORDS,
        "status": JSON_ANY,
        "errorSummary": WORDS,
        "errors": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "loc": st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=3),
                    "msg": WORDS,
                    "message": WORDS,
                    "field": WORDS,
                },
            ),
            max_size=4,
        ),
        "retry_after": JSON_ANY,
        "scope": WORDS,
        "access_token": WORDS,
        "expires_in": JSON_ANY,
    },
)
JSON_BODY = st.builds(
    lambda value, ascii_only: _utf8(json.dumps(value, ensure_ascii=ascii_only)),
    st.one_of(OAUTH_BODY, JSON_ANY),
    st.booleans(),
)
DEEP = st.builds(
    lambda pair, n: pair[0] * n + pair[1] * n,
    st.sampled_from(
        [(b"[", b"]"), (b'{"error":', b"}"), (b"[", b""), (b'{"a":[', b"]}"), (b"<div>", b"")]
    ),
    st.integers(1, 200_000),
)
HUGE_JSON = st.builds(
    lambda unit, n: b'{"error":"invalid_request","error_description":"' + unit * n + b'"}',
    st.sampled_from([b"x", b"\\u00e9", b"\\\\", b"\xc3\xa9", b"@@TOKEN@@ "]),
    st.integers(1, 300_000),
)
HTML = st.builds(
    lambda title, h1, p, n: _utf8(
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
        + "<div>" * n
        + f"<h1>{h1}</h1><p>{p}</p><pre>{title}</pre></body></html>"
    ),
    st.one_of(st.text(max_size=20), ECHO),
    st.text(max_size=20),
    st.one_of(st.text(max_size=40), ECHO),
    st.integers(0, 3_000),
)
XML = st.builds(
    lambda code, message: _utf8(
        f'<?xml version="1.0"?><error><code>{code}</code><message>{message}</message></error>'
    ),
    CODES,
    st.one_of(st.text(max_size=30), ECHO),
)
FORM = st.builds(
    lambda code, words: _utf8(urlencode({"error": code, "error_description": words})),
    CODES,
    st.one_of(st.text(max_size=30), ECHO),
)
#: An error that quotes the request's credentials back, as some servers do.
ECHO_BODY = st.builds(
    lambda code, echo, where: _utf8(json.dumps({"error": code, where: f"bad credential {echo}"})),
    CODES,
    ECHO,
    st.sampled_from(["error_description", "message", "detail"]),
)
BODY = st.one_of(
    st.just(b""),
    ECHO_BODY,
    JSON_BODY,
    JSON_BODY,
    st.binary(max_size=200),
    st.text(max_size=60).map(_utf8),
    HTML,
    XML,
    FORM,
    DEEP,
    HUGE_JSON,
)
#: Any body, or a body cut short at any point.
BODIES = st.one_of(
    BODY,
    st.builds(lambda body, share: body[: int(len(body) * share)], BODY, st.floats(0, 1)),
)
ENCODINGS = st.sampled_from(
    [
        b"gzip",
        b"gzip, gzip",
        b"deflate",
        b"br",
        b"zstd",
        b"identity",
        b"x-gzip",
        b"GZIP",
        b" gzip ",
        b"deflate, gzip",
        b"gzip,identity",
        b"compress",
        b"\xff",
        b"",
    ]
)


@functools.cache
def bomb(layers: int) -> bytes:
    """Zeros that inflate to 8 MiB through ``layers`` rounds of gzip."""
    return gzip_bomb(8 << 20, layers)


def compress(body: bytes, coding: bytes | None, how: str) -> bytes:
    """The body as the server sends it: encoded per ``coding`` (``valid``), left as it is
    whatever the header says (``plain``), or a gzip bomb (``bomb``)."""
    if coding is None or how == "plain":
        return body
    if how == "bomb":
        return bomb(2 if coding.count(b"gzip") > 1 else 1)
    for name in coding.split(b","):
        name = name.strip().lower()
        if name in (b"gzip", b"x-gzip"):
            body = gzip.compress(body, compresslevel=1)
        elif name == b"deflate":
            body = zlib.compress(body, 1)
    return body


# --------------------------------------------------------------------------------------------
# Strategies: answers
# --------------------------------------------------------------------------------------------

#: Errors a server "raises" instead of answering, as httpx's transports raise them.
FAILURES: dict[str, type[httpx.TransportError]] = {
    "connect": httpx.ConnectError,
    "connect-timeout": httpx.ConnectTimeout,
    "pool-timeout": httpx.PoolTimeout,
    "read-timeout": httpx.ReadTimeout,
    "read": httpx.ReadError,
    "write": httpx.WriteError,
    "protocol": httpx.RemoteProtocolError,
}
#: Errors a body stream raises midway.
BREAKS: dict[str, type[httpx.TransportError]] = {
    "read": httpx.ReadError,
    "protocol": httpx.RemoteProtocolError,
    "read-timeout": httpx.ReadTimeout,
}

#: The interesting ones often (the ones the transport retries, refreshes on, or follows), any
#: other now and then.
INTERESTING = st.sampled_from([200, 401, 429, 503, 500, 502, 504, 408])
STATUSES = st.one_of(
    st.sampled_from([401, 429, 503]),
    INTERESTING,
    INTERESTING,
    st.sampled_from(
        [200, 201, 204, 301, 302, 303, 307, 308, 400, 403, 404, 405, 409, 410, 413, 415]
    ),
    st.sampled_from([422, 425, 428, 431, 599]),
    st.integers(100, 599),
)


def short_repr(answer: object) -> str:
    """A dataclass's repr with long bytes cut, for Hypothesis's report of a failing example."""

    def cut(value: object) -> str:
        if isinstance(value, bytes) and len(value) > 120:
            return f"{value[:100]!r}...({len(value)} bytes)"
        if isinstance(value, tuple):
            return (
                "("
                + ", ".join(cut(item) for item in value)
                + ("," if len(value) == 1 else "")
                + ")"
            )
        return repr(value)

    fields = ", ".join(
        f"{name}={cut(getattr(answer, name))}" for name in answer.__dataclass_fields__
    )
    return f"{type(answer).__name__}({fields})"


@dataclass(frozen=True)
class Answer:
    """One answer of the hostile server."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    coding: bytes | None = None
    compression: str = "plain"
    #: None: the body in memory (``content=``); else a stream of chunks this long...
    chunk: int | None = None
    #: ... that raises ``BREAKS[breaks]`` after ``break_after`` chunks.
    breaks: str | None = None
    break_after: int = 0
    #: The send raises ``FAILURES[fail]`` instead of answering.
    fail: str | None = None

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(short_repr(self))


TOKEN_STRINGS = st.one_of(
    st.just(NEW_TOKEN),
    st.just(NEW_TOKEN),
    st.just(NEW_TOKEN),
    st.sampled_from(["", "ATbad token with spaces", "ATcaf\u00e9-token", "AT\x7fcontrol-token"]),
    JSON_ANY,
)
TOKEN_JSON = st.fixed_dictionaries(
    {"access_token": TOKEN_STRINGS},
    optional={
        "token_type": st.one_of(
            st.sampled_from(["Bearer", "bearer", "DPoP", "", "Bad Type", "MAC", "B\u00e9"]),
            JSON_ANY,
        ),
        "expires_in": st.one_of(st.sampled_from([3600, 0, -1, 1, 30, 1e308, "60"]), JSON_ANY),
        "refresh_token": st.one_of(st.just(NEW_TOKEN), JSON_ANY),
        "scope": st.one_of(st.text(max_size=10), JSON_ANY),
        "error": CODES,
    },
)

GOOD_TOKEN_JSON = st.fixed_dictionaries(
    {"access_token": st.just(NEW_TOKEN), "token_type": st.sampled_from(["Bearer", "bearer"])},
    optional={
        "expires_in": st.sampled_from([3600, 60, 1, 0]),
        "refresh_token": st.just(NEW_TOKEN),
        "scope": st.sampled_from(["read", "read write", ""]),
    },
)
GOOD_TOKEN = GOOD_TOKEN_JSON.map(lambda data: _utf8(json.dumps(data)))


@st.composite
def answers(draw: st.DrawFn, *, token: bool = False) -> Answer:
    """An answer: mostly a well-formed token response from the token endpoint; from the API,
    anything, with the headers its status makes interesting more likely."""
    fail = draw(st.sampled_from(list(FAILURES))) if draw(st.integers(0, 15)) == 0 else None
    if token and draw(st.integers(0, 3)) > 0:
        # Mostly a good token: the API's answers are what the example is about.
        return Answer(200, ((b"Content-Type", b"application/json"),), draw(GOOD_TOKEN), fail=fail)
    status = draw(STATUSES)
    headers = list(draw(st.lists(HEADER, max_size=4)))
    if 300 <= status < 400 and draw(st.booleans()):
        headers.append((b"Location", draw(LOCATIONS)))
    if status in (401, 403) and draw(st.integers(0, 3)) > 0:
        headers.append((b"WWW-Authenticate", draw(CHALLENGES)))
    if draw(st.integers(0, 7)) == 0:
        echo = draw(ECHO).encode()
        headers.append(
            draw(
                st.sampled_from(
                    [
                        (b"X-Error-Message", b"rejected: " + echo),
                        (
                            b"WWW-Authenticate",
                            b'Bearer error="invalid_token", error_description="' + echo + b'"',
                        ),
                    ]
                )
            )
        )
    if status in (429, 503, 500) and draw(st.integers(0, 3)) > 0:
        headers.append(draw(DELAY_HEADER))
    if draw(st.booleans()):
        headers.append((b"Content-Type", draw(CONTENT_TYPES)))
    if token and 200 <= status < 300 and draw(st.booleans()):
        body = _utf8(json.dumps(draw(TOKEN_JSON)))
    else:
        body = draw(BODIES)
    coding = draw(st.one_of(st.none(), st.none(), ENCODINGS))
    compression = draw(st.sampled_from(["valid", "valid", "plain", "bomb"]))
    if coding is not None:
        headers.append((b"Content-Encoding", coding))
    if headers and draw(st.booleans()):
        headers.append(draw(st.sampled_from(headers)))  # a duplicated header
    headers = draw(st.permutations(headers))
    chunk = draw(st.one_of(st.none(), st.integers(1, 4096)))
    breaks = draw(st.sampled_from([None] * 6 + list(BREAKS))) if chunk is not None else None
    return Answer(
        status,
        tuple(headers),
        body,
        coding,
        compression,
        chunk,
        breaks,
        draw(st.integers(0, 3)),
        fail,
    )


# --------------------------------------------------------------------------------------------
# The hostile server
# --------------------------------------------------------------------------------------------


class ChunkStream(httpx.SyncByteStream):
    """A body in chunks that may break midway; iterating it twice is a bug of the reader."""

    def __init__(self, server: Hostile, body: bytes, answer: Answer) -> None:
        self.server, self.body, self.answer = server, body, answer
        self.pieces = _pieces(body, answer.chunk or 1)
        self.started = False

    def _next(self, index: int) -> bytes:
        if index == 0:
            if self.started:
                self.server.reread.append(self.answer)
            self.started = True
        breaks = self.answer.breaks
        if breaks is not None and index >= self.answer.break_after:
            error = BREAKS[breaks](f"fuzz: the body broke off ({breaks})")
            self.server.raised.append(error)
            raise error
        if index >= len(self.pieces):
            raise StopIteration
        return self.pieces[index]

    def __iter__(self) -> Iterator[bytes]:
        index = 0
        while True:
            try:
                piece = self._next(index)
            except StopIteration:
                return
            index += 1
            yield piece


class AsyncChunkStream(httpx.AsyncByteStream):
    """The async twin, as an iterator object rather than an async generator: an async
    generator left unfinished is reported when collected (trio turns it into a warning)."""

    def __init__(self, server: Hostile, body: bytes, answer: Answer) -> None:
        self.sync = ChunkStream(server, body, answer)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _AsyncPieces(self.sync)


class _AsyncPieces:
    def __init__(self, stream: ChunkStream) -> None:
        self.stream, self.index = stream, 0

    def __aiter__(self) -> _AsyncPieces:
        return self

    async def __anext__(self) -> bytes:
        try:
            piece = self.stream._next(self.index)
        except StopIteration:
            raise StopAsyncIteration from None
        self.index += 1
        return piece


def _pieces(body: bytes, size: int) -> list[bytes]:
    size = max(size, len(body) // 256)  # a huge body in at most 256 chunks: time goes to us
    return [body[i : i + size] for i in range(0, len(body), size)]


#: Far more requests than an example may cause: past it, the server stops the example.
RUNAWAY = 400


class Runaway(BaseException):
    """Raised by the server to end a loop: not an Exception, so nothing can swallow it."""


@dataclass
class Sent:
    """One request the server received, and what it did."""

    route: str  # "api" or "token"
    request: httpx.Request
    answer: Answer
    authorization: str | None
    content: bytes  # the request body as it arrived
    response: httpx.Response | None = None
    body: bytes = b""  # the body bytes as sent, after echoes and compression


class Hostile:
    """The API and the token endpoint: each answers its script in turn, the last answer for
    ever after. Records every request, every exception it raised, every token it issued."""

    def __init__(self, api: list[Answer], token: list[Answer], *, is_async: bool) -> None:
        self.scripts = {"api": api, "token": token}
        self.used = {"api": 0, "token": 0}
        self.is_async = is_async
        self.log: list[Sent] = []
        self.raised: list[BaseException] = []
        self.reread: list[Answer] = []
        #: Every access and refresh token handed out, good or not: never to be shown.
        self.secrets: set[str] = {CLIENT_SECRET}
        #: Every access token handed out that could be sent, however short.
        self.issued: set[str] = set()
        self.minted = 0

    def new_token(self) -> str:
        self.minted += 1
        token = f"ATfz{self.minted}x9Qm2Kp7Wv"
        self.secrets.add(token)
        return token

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if len(self.log) >= RUNAWAY:
            raise Runaway(f"{len(self.log)} requests in one example: a loop")
        route = "token" if request.url.host == "auth.example.com" else "api"
        script = self.scripts[route]
        answer = script[min(self.used[route], len(script) - 1)]
        self.used[route] += 1
        sent = Sent(route, request, answer, request.headers.get("authorization"), request.content)
        self.log.append(sent)
        if answer.fail is not None:
            error = FAILURES[answer.fail](f"fuzz: {answer.fail}", request=request)
            self.raised.append(error)
            raise error
        echo = _echoes(request, route)
        body = answer.body
        if route == "token":
            body = self._issue(body)
        body = compress(_echo(body, echo), answer.coding, answer.compression)
        headers = [(name, _echo(value, echo)) for name, value in answer.headers]
        if answer.chunk is None and not any(n.lower() == b"content-encoding" for n, _ in headers):
            # Read at once, as a mock's response usually is.
            response = httpx.Response(answer.status, headers=headers, content=body)
        elif answer.chunk is None:
            # In memory but unread: httpx would decode (and fail on) a body given as content.
            response = httpx.Response(answer.status, headers=headers, stream=httpx.ByteStream(body))
        else:
            kind = AsyncChunkStream if self.is_async else ChunkStream
            response = httpx.Response(
                answer.status, headers=headers, stream=kind(self, body, answer)
            )
        sent.response, sent.body = response, body
        return response

    def _issue(self, body: bytes) -> bytes:
        while NEW_TOKEN.encode() in body:
            body = body.replace(NEW_TOKEN.encode(), self.new_token().encode(), 1)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return body
        if isinstance(data, dict):
            self.remember(data)
        return body

    def remember(self, data: dict[str, Any]) -> None:
        """Note the tokens of a token response: where they may go, and what to hide."""
        access = data.get("access_token")
        if isinstance(access, str):
            self.issued.add(access)
        for name in ("access_token", "refresh_token"):
            value = data.get(name)
            if isinstance(value, str) and len(value) >= 8:
                self.secrets.add(value)


def _echoes(request: httpx.Request, route: str) -> dict[bytes, bytes]:
    authorization = request.headers.get("authorization") or ""
    secret = CLIENT_SECRET if route == "token" else authorization.partition(" ")[2]
    return {
        b"@@TOKEN@@": secret.encode(),
        b"@@QTOKEN@@": quote(secret, safe="").encode(),
        b"@@AUTH@@": authorization.encode(),
        b"@@BODY@@": request.content,
    }


def _echo(data: bytes, echo: dict[bytes, bytes]) -> bytes:
    if b"@@" not in data:
        return data
    for placeholder, value in echo.items():
        data = data.replace(placeholder, value)
    return data


class VaultDown(Exception):
    """What a user's token source raises when its own backend fails."""


class FuzzSource:
    """A user's token source: answers its script in turn (a token, garbage, or a failure)."""

    def __init__(self, script: list[Any], server: Hostile) -> None:
        self.script, self.server = script, server
        self.calls = 0
        self.raised: list[BaseException] = []
        self.unusable = 0

    def fetch_token(self, scope: str | None) -> Any:
        answer = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if answer == "raise":
            error = VaultDown("the vault is sealed")
            self.raised.append(error)
            raise error
        data = {
            key: self.server.new_token() if value == NEW_TOKEN else value
            for key, value in answer.items()
        }
        self.server.remember(data)
        try:
            token = remedy.Token.from_response(data)
        except (ValueError, TypeError):
            self.unusable += 1  # no token can be made of it: the transport raises ValueError
        else:
            if token.token_type.lower() == "dpop":
                # A DPoP-bound token, and no DPoP key on the fuzzed transports: refused where
                # it arrives (ValueError), never sent as a Bearer one.
                self.unusable += 1
        return data


class AsyncFuzzSource(FuzzSource):
    async def afetch_token(self, scope: str | None) -> Any:
        await anyio.sleep(0)
        return self.fetch_token(scope)


SOURCE_ANSWERS = st.one_of(
    GOOD_TOKEN_JSON, GOOD_TOKEN_JSON, GOOD_TOKEN_JSON, TOKEN_JSON, st.just("raise")
)


# --------------------------------------------------------------------------------------------
# On the wire: raw response heads for httpx's own transport to parse
# --------------------------------------------------------------------------------------------

_FIELD_SPACE = re.compile(rb"[\x00\t\n\x0b\x0c\r ]+")
_TOKEN = re.compile(rb"\A[-!#$%&'*+.^_`|~0-9a-zA-Z]+\Z")
#: The head's framing is the script's own; the fuzzed headers may not set it.
_FRAMING = {b"content-length", b"transfer-encoding", b"connection"}


def wire_value(value: bytes) -> bytes:
    """``value`` as an HTTP/1.1 parser lets it through: any byte but NUL and whitespace, words
    joined by single spaces (control bytes and bytes outside ASCII stay)."""
    return b" ".join(word for word in _FIELD_SPACE.split(value) if word)


@dataclass(frozen=True)
class RawAnswer:
    status: int
    reason: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    #: "length", "chunked", "close" (the body ends with the connection), or a broken one:
    #: "short" (Content-Length promises more than comes), "cut" (a chunked body that stops).
    framing: str
    #: An interim 100 / 103 answer first.
    interim: bytes | None

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(short_repr(self))

    @property
    def broken(self) -> bool:
        """A framing that breaks, or a head over h11's limit: httpx raises a transport error."""
        size = len(head(self.status, self.head_headers(), reason=self.reason))
        return (
            self.framing in ("short", "cut")
            or size > httpcore.HTTP11Connection.MAX_INCOMPLETE_EVENT_SIZE
        )

    def head_headers(self) -> list[tuple[bytes, bytes]]:
        headers = list(self.headers)
        if self.status in (204, 304):
            return headers
        if self.framing in ("length", "short"):
            extra = 7 if self.framing == "short" else 0
            headers.append((b"Content-Length", b"%d" % (len(self.body) + extra)))
        elif self.framing in ("chunked", "cut"):
            headers.append((b"Transfer-Encoding", b"chunked"))
        return headers

    def wire(self) -> bytes:
        data = self.interim or b""
        data += head(self.status, self.head_headers(), reason=self.reason)
        if self.status in (204, 304):
            return data
        if self.framing in ("chunked", "cut"):
            for piece in _pieces(self.body, 7):
                data += b"%x\r\n%s\r\n" % (len(piece), piece)
            return data + (b"" if self.framing == "cut" else b"0\r\n\r\n")
        return data + self.body


@st.composite
def raw_answers(draw: st.DrawFn) -> RawAnswer:
    status = draw(st.one_of(INTERESTING, INTERESTING, st.integers(200, 599)))
    reason = draw(
        st.one_of(
            st.sampled_from([b"OK", b"", b"Too Many Requests", b"\xff\xfe caf\xe9", b"\t x \x7f"]),
            st.binary(max_size=20).map(lambda b: b.translate(None, b"\x00\n\x0b\x0c\r")),
        )
    )
    headers = []
    for name, value in draw(st.lists(HEADER, max_size=5)):
        if _TOKEN.match(name) and name.lower() not in _FRAMING | {b"content-encoding"}:
            headers.append((name, wire_value(value)))
    if status in (401, 403) and draw(st.booleans()):
        headers.append((b"WWW-Authenticate", wire_value(draw(CHALLENGES))))
    if status in (429, 503) and draw(st.booleans()):
        name, value = draw(DELAY_HEADER)
        headers.append((name, wire_value(value)))
    body = draw(BODIES)
    coding = draw(st.one_of(st.none(), ENCODINGS.map(wire_value)))
    if coding is not None:
        headers.append((b"Content-Encoding", coding))
        body = compress(body, coding, draw(st.sampled_from(["valid", "plain", "bomb"])))
    if headers and draw(st.booleans()):
        headers.append(draw(st.sampled_from(headers)))
    interim = draw(
        st.sampled_from(
            [
                None,
                None,
                None,
                b"HTTP/1.1 100 Continue\r\n\r\n",
                b"HTTP/1.1 103 Early\r\nLink: </x>\r\n\r\n",
            ]
        )
    )
    framing = draw(st.sampled_from(["length", "length", "chunked", "close", "short", "cut"]))
    return RawAnswer(status, reason, tuple(headers), body, framing, interim)


class Stage:
    """The raw server's script: answers in turn (the last for ever after), recorded."""

    def __init__(self) -> None:
        self.answers: list[RawAnswer] = []
        self.sent: list[tuple[Received, RawAnswer]] = []

    def reset(self, answers: list[RawAnswer]) -> None:
        self.answers, self.sent = answers, []

    def __call__(self, conn: socket.socket, request: Received, server: RawServer) -> None:
        if len(self.sent) >= RUNAWAY:
            server.stopping.wait(5)  # the client times out: the example fails
            return
        answer = self.answers[min(len(self.sent), len(self.answers) - 1)]
        self.sent.append((request, answer))
        conn.sendall(answer.wire())
        if answer.framing in ("close", "short", "cut"):
            conn.shutdown(socket.SHUT_RDWR)
