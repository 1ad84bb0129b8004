"""The command line: ``explain``, ``catalog``, ``probe`` and ``demo``.

Exit statuses, the same for every command (each ``--help`` lists its own): 0 done; 1 ``probe``:
the server answered with an error, ``demo``: a fix did not work; 2 bad usage or input (an
unknown code, a URL without ``http://`` or ``https://``, a header that is not ``NAME:VALUE``,
the ``demo`` extra missing); 3 ``probe``: no answer (the connection failed, timed out or broke).
"""

from __future__ import annotations

import argparse
import dataclasses
import http
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._catalog import catalog
from ._entry import Entry

if TYPE_CHECKING:
    from ._exceptions import HTTPError
    from ._policy import Attempt

EXIT_OK = 0
EXIT_ERROR_ANSWER = 1
EXIT_BAD_INPUT = 2
EXIT_NO_ANSWER = 3

_EXITS = {
    "ok": f"{EXIT_OK}  done",
    "any error": f"{EXIT_ERROR_ANSWER}  probe: the server answered with an error; demo: a fix did "
    "not work",
    "any input": f"{EXIT_BAD_INPUT}  bad usage or input: an unknown code, a bad URL or header, the "
    "demo extra missing",
    "answered": f"{EXIT_ERROR_ANSWER}  the server answered with an error (shown, with its fix)",
    "demo": f"{EXIT_ERROR_ANSWER}  a fix did not work",
    "usage": f"{EXIT_BAD_INPUT}  bad usage",
    "code": f"{EXIT_BAD_INPUT}  an unknown code (not in the catalog, not a status 100-599)",
    "url": f"{EXIT_BAD_INPUT}  bad input: a URL without http:// or https://, a header that is "
    "not NAME:VALUE",
    "extra": f"{EXIT_BAD_INPUT}  the demo extra is not installed",
    "silent": f"{EXIT_NO_ANSWER}  no answer: the connection failed, timed out or broke",
}


def _exit_statuses(*which: str) -> str:
    return "exit status:\n" + "\n".join(f"  {_EXITS[key]}" for key in which)


# ---- explain ---------------------------------------------------------------------------------

# What a status the catalog does not list is, by class, when it is not an error.
_NOT_ERRORS = {
    1: (
        "informational",
        "An interim answer before the final one: httpx handles it (a client never sees most of "
        "them), and httpx-remedy raises nothing for it.",
    ),
    2: ("successful", "httpx-remedy returns it untouched, its body unread."),
    3: (
        "redirection",
        "httpx follows it with follow_redirects=True (a token never goes along to another "
        "origin) and returns it otherwise; httpx-remedy raises nothing for it.",
    ),
}


def _status_number(code: str) -> int | None:
    """``code`` as an HTTP status (100-599), or None."""
    text = code.strip()
    if len(text) == 3 and text.isdigit() and 100 <= int(text) <= 599:
        return int(text)
    return None


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _explain_unlisted(status: int) -> str:
    """A valid status the catalog has no row for: what its class means."""
    phrase = _phrase(status)
    kind = status // 100
    if kind in _NOT_ERRORS:
        name, what = _NOT_ERRORS[kind]
        head = f"{status} {phrase}".rstrip()
        return (
            f"{head}\n\n  Not in the catalog: a {kind}xx ({name}) status, not an error.\n  {what}"
        )
    fallback = catalog.for_status(status)
    entry = dataclasses.replace(fallback, code=status, title=phrase or fallback.title)
    head, *rest = entry.explain().split("\n")
    note = (
        f"  Not in the catalog: what any {fallback.code} status means ({fallback.title}), "
        "and what httpx-remedy does about it."
    )
    return "\n".join([head, "", note, *rest[1:]])


def _explain(code: str) -> int:
    if code in catalog:
        print(catalog[code].explain())
        return EXIT_OK
    status = _status_number(code)
    if status is not None:
        print(_explain_unlisted(status))
        return EXIT_OK
    print(f"httpx-remedy: unknown code {code!r}.", file=sys.stderr)
    close = catalog.suggest(code)
    if close:
        print("Did you mean: " + ", ".join(close) + "?", file=sys.stderr)
    print("Run `httpx-remedy catalog` for the full list.", file=sys.stderr)
    return EXIT_BAD_INPUT


# ---- catalog ---------------------------------------------------------------------------------


def _as_json(entry: Entry) -> dict[str, object]:
    return {
        "code": str(entry.code),
        "kind": "oauth" if entry.is_oauth else "status",
        "title": entry.title,
        "description": entry.description,
        "causes": list(entry.causes),
        "fix": entry.fix,
        "exception": entry.exception.__name__,
        "remedy": entry.remedy.value,
        "status": entry.status,
        "source": entry.source,
    }


def _catalog(as_json: bool) -> int:
    entries = (*catalog.statuses(), *catalog.oauth_codes())
    if as_json:
        print(json.dumps([_as_json(e) for e in entries], indent=2, ensure_ascii=False))
        return EXIT_OK
    width = max(len(str(e.code)) for e in entries)
    for e in entries:
        print(f"{e.code!s:<{width}}  {e.exception.__name__:<31} {e.remedy.value:<19} {e.title}")
    return EXIT_OK


# ---- probe -----------------------------------------------------------------------------------


def _say(text: str) -> None:
    """Print a line that holds what a server sent: control characters become spaces (no
    terminal escapes, no forged lines), and what the terminal's encoding cannot show is
    escaped (``\\xe9``) rather than fatal."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    line = "".join(c if c.isprintable() else " " for c in text)
    print(line.encode(encoding, "backslashreplace").decode(encoding, "replace"))


def _url_problem(url: str) -> str | None:
    """Why ``url`` cannot be probed (it must be an absolute http:// or https:// URL), or None."""
    from ._http import REQUEST_ERRORS, URL

    try:
        parsed = URL(url)
    except REQUEST_ERRORS as error:
        return f"probe takes an absolute http:// or https:// URL; {url!r} is not one ({error})"
    if parsed.scheme in ("http", "https") and parsed.host:
        return None
    hint = f" (did you mean 'https://{url}'?)" if "://" not in url else ""
    return f"probe takes an absolute http:// or https:// URL, not {url!r}{hint}"


def _probe(url: str, method: str, headers: list[str], data: str | None, retries: bool) -> int:
    from ._exceptions import HTTPError
    from ._http import REQUEST_ERRORS, Client
    from ._policy import Retry, attempts_of
    from ._redact import redact_url
    from ._transport import RemedyTransport

    problem = _url_problem(url)
    if problem:
        print(f"httpx-remedy: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    pairs = []
    for header in headers:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            print(f"httpx-remedy: --header takes NAME:VALUE, not {header!r}", file=sys.stderr)
            return EXIT_BAD_INPUT
        pairs.append((name.strip(), value.strip()))
    retry = Retry(on_retry=_waiting) if retries else None
    _say(f"{method.upper()} {redact_url(url)}")
    try:
        with Client(transport=RemedyTransport(retry=retry), timeout=30) as client:
            response = client.request(method.upper(), url, headers=pairs, content=data)
    except HTTPError as e:
        _explain_error(e, retries)
        return EXIT_ERROR_ANSWER
    except REQUEST_ERRORS as e:
        _say(f"-> {type(e).__name__}: {e}")
        _print_attempts(attempts_of(e))
        return EXIT_NO_ANSWER
    except ValueError as e:  # a header or body the request cannot carry
        print(f"httpx-remedy: cannot send this request: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    size = len(response.content)
    _say(f"-> {response.status_code} {response.reason_phrase} ({size} bytes): no error to fix")
    return EXIT_OK


def _waiting(attempt: Attempt) -> None:
    """The probe's retry hook: say what is being waited for, as it happens."""
    if attempt.wait is not None:
        _say(
            f"   waiting {attempt.wait:.3g}s ({attempt.wait_reason}) before attempt "
            f"{attempt.number + 1} of {attempt.max_attempts}"
        )


def _explain_error(e: HTTPError, retried: bool) -> None:
    from ._catalog_errors import MethodNotAllowed

    _say(f"-> {type(e).__name__} ({e.status_code} {e.response.reason_phrase})")
    if e.error:
        _say(f"   error:       {e.error}")
    words = e.error_description or e.server_message
    if words:
        _say(f"   server said: {words}")
    if isinstance(e, MethodNotAllowed):
        _say(f"   allow:       {', '.join(e.allowed_methods) or '(no Allow header)'}")
    if e.retry_after is not None:
        _say(f"   retry after: {e.retry_after:g}s")
    _say(f"   means:       {e.entry.description}")
    _say(f"   fix:         {e.entry.fix}")
    if not retried:
        _say(f"   next:        {_would_retry(e)}")
    _print_attempts(e.attempts)


def _would_retry(e: HTTPError) -> str:
    """What the default policy would do after this answer, as the transport decides it."""
    from ._classify import describe
    from ._policy import Retry
    from ._recovery import first_retry

    policy = Retry(budget=None)
    now = time.time()
    said = describe(e.status_code, e.response.headers, e.response.content, now)
    decision = first_retry(policy, e.request, e.status_code, said.error, said.delay, now)
    if decision is None:
        return f"would not retry: {e.entry.remedy} (the catalog's remedy for it)"
    if not decision.retry:
        return f"would not retry: {decision.note}"
    return (
        f"would retry after {decision.wait:.3g}s ({decision.wait_reason}), "
        f"attempt 1 of {policy.max_attempts}"
    )


def _print_attempts(attempts: Sequence[object]) -> None:
    if attempts:
        print("   attempts:")
        for attempt in attempts:
            _say(f"     {attempt}")


# ---- the parser ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # `httpx-remedy catalog | head`: the reader left. Point stdout at /dev/null so the
        # interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="httpx-remedy",
        description="Typed, catchable HTTP and OAuth errors for httpx, with their fixes.",
        epilog=_exit_statuses("ok", "any error", "any input", "silent")
        + "\n  (each command's --help lists its own)",
        formatter_class=raw,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    explain = commands.add_parser(
        "explain",
        help="explain a status or OAuth error code",
        description="What a code means, why it happens, how to fix it, the class raised for it, "
        "what the transport does about it and where the text comes from. A status 100-599 the "
        "catalog does not list is explained by its class (4xx, 5xx, or not an error).",
        epilog=_exit_statuses("ok", "code"),
        formatter_class=raw,
    )
    explain.add_argument("code", help="an HTTP status (429) or OAuth code (invalid_grant)")
    listing = commands.add_parser(
        "catalog",
        help="list every code the library knows",
        description="One line per code: the code, the class raised, the default remedy and "
        "the title. --json gives every field of every entry; `code` is always a string "
        '("429", "invalid_grant"), `kind` says which ("status" or "oauth"), `status` is the '
        "HTTP status as a number (null for a code that arrives in a redirect).",
        epilog=_exit_statuses("ok", "usage"),
        formatter_class=raw,
    )
    listing.add_argument("--json", action="store_true", help="print the catalog as JSON")
    probe = commands.add_parser(
        "probe",
        help="make one request through the transport and explain the outcome",
        description="Sends the request through RemedyTransport with the default retry policy "
        "(each wait is shown as it starts) and explains the outcome: the typed error, what the "
        "server said, the Allow header of a 405, the fix and every attempt. With --no-retry it "
        "sends once and says what the policy would do next.",
        epilog=_exit_statuses("ok", "answered", "url", "silent"),
        formatter_class=raw,
    )
    probe.add_argument("url", help="an absolute http:// or https:// URL")
    probe.add_argument("--method", "-X", default="GET", help="the HTTP method (default GET)")
    probe.add_argument(
        "--header",
        "-H",
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="a request header; repeat for more",
    )
    probe.add_argument("--data", "-d", help="the request body")
    probe.add_argument(
        "--no-retry", action="store_true", help="send once; say what a retry would be"
    )
    commands.add_parser(
        "demo",
        help="watch every fix work against a real OAuth server and API on 127.0.0.1",
        description="Starts an OAuth 2.0 authorization server and a flaky protected API on "
        "127.0.0.1 (no network, nothing to configure) and drives a client through each fix: "
        "a token expiring mid-run, a burst of requests with a revoked token, a 429 with "
        "Retry-After, a 503 storm stopped by the retry budget, insufficient_scope, "
        "invalid_request and a wrong client secret. Prints a timeline of what the server said "
        "and what the library did; exits 0 when every fix worked. Needs the demo extra: "
        "pip install 'httpx-remedy[demo]'.",
        epilog=_exit_statuses("ok", "demo", "extra"),
        formatter_class=raw,
    )
    return parser


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from ._demo import main as demo

        return demo()
    if args.command == "explain":
        return _explain(args.code)
    if args.command == "probe":
        return _probe(args.url, args.method, args.header, args.data, not args.no_retry)
    return _catalog(args.json)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
