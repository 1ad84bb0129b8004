"""The command line: ``explain``, ``catalog``, ``probe`` and ``demo``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from ._catalog import catalog
from ._entry import Entry


def _explain(code: str) -> int:
    if code not in catalog:
        print(f"httpx-remedy: unknown code {code!r}.", file=sys.stderr)
        close = catalog.suggest(code)
        if close:
            print("Did you mean: " + ", ".join(close) + "?", file=sys.stderr)
        print("Run `httpx-remedy catalog` for the full list.", file=sys.stderr)
        return 2
    print(catalog[code].explain())
    return 0


def _as_json(entry: Entry) -> dict[str, object]:
    return {
        "code": entry.code,
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
        print(json.dumps([_as_json(e) for e in entries], indent=2))
        return 0
    width = max(len(str(e.code)) for e in entries)
    for e in entries:
        print(f"{e.code!s:<{width}}  {e.exception.__name__:<31} {e.remedy.value:<19} {e.title}")
    return 0


def _say(text: str) -> None:
    """Print a line that holds what a server sent: control characters become spaces (no
    terminal escapes, no forged lines), and what the terminal's encoding cannot show is
    escaped (``\\xe9``) rather than fatal."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    line = "".join(c if c.isprintable() else " " for c in text)
    print(line.encode(encoding, "backslashreplace").decode(encoding, "replace"))


def _probe(url: str, method: str, headers: list[str], data: str | None, retries: bool) -> int:
    from ._exceptions import HTTPError
    from ._http import REQUEST_ERRORS, Client
    from ._policy import Retry
    from ._recovery import attempts_of
    from ._redact import redact_url
    from ._transport import RemedyTransport

    failures: tuple[type[Exception], ...] = (*REQUEST_ERRORS, ValueError)
    pairs = []
    for header in headers:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            print(f"httpx-remedy: --header takes NAME:VALUE, not {header!r}", file=sys.stderr)
            return 2
        pairs.append((name.strip(), value.strip()))
    retry = Retry() if retries else None
    _say(f"{method.upper()} {redact_url(url)}")
    try:
        with Client(transport=RemedyTransport(retry=retry), timeout=30) as client:
            response = client.request(method.upper(), url, headers=pairs, content=data)
    except HTTPError as e:
        _say(f"-> {type(e).__name__} ({e.status_code} {e.response.reason_phrase})")
        if e.error:
            _say(f"   error:       {e.error}")
        words = e.error_description or e.server_message
        if words:
            _say(f"   server said: {words}")
        if e.retry_after is not None:
            _say(f"   retry after: {e.retry_after:g}s")
        _say(f"   means:       {e.entry.description}")
        _say(f"   fix:         {e.entry.fix}")
        _print_attempts(e.attempts)
        return 1
    except failures as e:
        _say(f"-> {type(e).__name__}: {e}")
        _print_attempts(attempts_of(e))
        return 3
    size = len(response.content)
    _say(f"-> {response.status_code} {response.reason_phrase} ({size} bytes): no error to fix")
    return 0


def _print_attempts(attempts: Sequence[object]) -> None:
    if attempts:
        print("   attempts:")
        for attempt in attempts:
            _say(f"     {attempt}")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # `httpx-remedy catalog | head`: the reader left. Point stdout at /dev/null so the
        # interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="httpx-remedy",
        description="Typed, catchable HTTP and OAuth errors for httpx, with their fixes.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    explain = commands.add_parser("explain", help="explain a status or OAuth error code")
    explain.add_argument("code", help="an HTTP status (429) or OAuth code (invalid_grant)")
    listing = commands.add_parser("catalog", help="list every code the library knows")
    listing.add_argument("--json", action="store_true", help="print the catalog as JSON")
    probe = commands.add_parser(
        "probe", help="make one request through the transport and explain the outcome"
    )
    probe.add_argument("url")
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
    probe.add_argument("--no-retry", action="store_true", help="send once, do not retry")
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
    )
    args = parser.parse_args(argv)
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
