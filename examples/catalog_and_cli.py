"""The catalog: what each status and OAuth code means, how to fix it, what the library does.

Read it from Python, or from the command line (``httpx-remedy explain|catalog|probe``; the same
as ``python -m httpx_remedy ...``). ``probe`` is run against a real API on 127.0.0.1.
Run: ``python examples/catalog_and_cli.py``.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import httpx_remedy as remedy
from httpx_remedy.testing import OAuthServer


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``httpx-remedy ARGS`` with this Python (so the venv's install is the one used)."""
    command = [sys.executable, "-m", "httpx_remedy", *args]
    print("$ httpx-remedy", shlex.join(args))
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)


def main() -> None:
    # 1. From Python: look a code up by status or by OAuth name.
    # The catalog is a read-only mapping (a remedy.Catalog) of remedy.Entry rows.
    assert isinstance(remedy.catalog, remedy.Catalog)
    entry: remedy.Entry = remedy.catalog[429]
    print("catalog[429]:", entry.title, "->", entry.exception.__name__, "/", entry.remedy)
    print("  fix:", entry.fix)
    grant = remedy.catalog["invalid_grant"]
    print("catalog['invalid_grant']:", grant.exception.__name__, "/", grant.remedy)
    print("  usually HTTP", grant.status, "-", grant.description)
    print(f"codes known: {len(remedy.catalog)}\n")

    # 2. explain: the whole entry, for people.
    print(cli("explain", "invalid_grant").stdout)

    # 3. catalog --json: every entry, for scripts (exit status 0); "code" is always a string.
    listing = json.loads(cli("catalog", "--json").stdout)
    fail_fast = [e["code"] for e in listing if e["remedy"] == "fail fast"]
    print(f"  {len(listing)} entries; {len(fail_fast)} are 'fail fast', e.g. {fail_fast[:4]}\n")

    # 4. probe: one request through the transport, the outcome explained. Exit status 1
    # means "the server answered with an error" (0: no error, 2: bad input such as a URL
    # without http:// or https://, 3: no answer at all); `httpx-remedy probe --help` lists them.
    with OAuthServer() as server:
        result = cli("probe", server.url + "/api/items", "-H", "Authorization: Bearer expired")
        print(result.stdout.rstrip())
        print("  exit status:", result.returncode)


if __name__ == "__main__":
    main()
