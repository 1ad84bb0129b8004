"""The command line: ``httpx-remedy explain CODE`` and ``httpx-remedy catalog [--json]``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ._catalog import Entry, catalog


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="httpx-remedy",
        description="Typed, catchable HTTP and OAuth errors for httpx, with their fixes.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    explain = commands.add_parser("explain", help="explain a status or OAuth error code")
    explain.add_argument("code", help="an HTTP status (429) or OAuth code (invalid_grant)")
    listing = commands.add_parser("catalog", help="list every code the library knows")
    listing.add_argument("--json", action="store_true", help="print the catalog as JSON")
    args = parser.parse_args(argv)
    if args.command == "explain":
        return _explain(args.code)
    return _catalog(args.json)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
