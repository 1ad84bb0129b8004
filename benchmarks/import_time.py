"""What ``import httpx_remedy`` costs over ``import httpx``, in wall time, and what it loads.

Each import runs in a fresh interpreter (``python -c "import ..."``), alternated, ``--runs``
times each; the figure is the median of the runs, with the fastest beside it (the machine's
noise only ever adds time). Two more rows send one 2xx through a client after the import (an
in-memory transport: no TLS set-up), bare httpx and wrapped in a ``RemedyTransport``, what a
program does first: what the import leaves for later must not all come back there. Then the
modules that must wait for their first use are checked: each is reported loaded or not after
``import httpx_remedy`` alone (authlib, joserfc and cryptography wait for the grant or the DPoP
key that needs them; httpx2 for the user's own ``import httpx2``; tenacity for the first
backoff; the event records for the first event; the error body parser for the first error).

``--instructions`` also counts each import's instructions with valgrind's callgrind (needs
``apt-get install valgrind``): a count does not move with the machine's load, where wall time
on a shared machine moves by tens of percent.

Run: ``python benchmarks/import_time.py [--runs N] [--instructions]`` (default 21 runs).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

#: Loaded only when first needed, never by ``import httpx_remedy``.
LAZY = (
    "authlib",
    "joserfc",
    "cryptography",
    "httpx_remedy.testing",
    "httpx2",
    "tenacity",
    "anyio.lowlevel",
    "httpx_remedy._events",
    "httpx_remedy._error_body",
)

_OK = "httpx.MockTransport(lambda request: httpx.Response(200))"
_SEND = "with httpx.Client(transport={}) as c: c.get('https://api.example.com/')"

#: The timed cases: what ``python -c`` runs.
CASES = {
    "python -c pass": "pass",
    "httpx": "import httpx",
    "httpx_remedy": "import httpx_remedy",
    "httpx, one 2xx": "import httpx\n" + _SEND.format(_OK),
    "httpx_remedy, one 2xx": "import httpx, httpx_remedy\n"
    + _SEND.format(f"httpx_remedy.RemedyTransport({_OK})"),
}
#: Each remedy row against the httpx row doing the same.
AGAINST = {"httpx_remedy": "httpx", "httpx_remedy, one 2xx": "httpx, one 2xx"}


# With bytecode caching on, as users run (a checkout may set PYTHONDONTWRITEBYTECODE=1, which
# would time the compiler instead).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


#: With ``--without-httpx2``: ``import httpx2`` fails, as where it is not installed (the
#: library then binds httpx alone).
HIDE = ""


def once(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"{HIDE}{code}"], check=True, env=ENV)
    return time.perf_counter() - start


def instructions(code: str) -> int:
    """The instructions ``python -c code`` executes, start-up included (callgrind)."""
    valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    done = subprocess.run(
        [*valgrind, sys.executable, "-c", f"{HIDE}{code}"],
        check=True,
        env=ENV,
        capture_output=True,
        text=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output: {done.stderr[-500:]}")
    return int(found.group(1))


def loaded_after_import() -> list[str]:
    probe = (
        f"{HIDE}import sys, httpx_remedy; "
        f"print(' '.join(m for m in {LAZY!r} if any(k == m or k.startswith(m + '.') "
        "for k in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return done.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count each import's instructions with valgrind (not moved by the load)",
    )
    parser.add_argument(
        "--without-httpx2",
        action="store_true",
        help="as if httpx2 were not installed (with it, the library imports it beside httpx)",
    )
    args = parser.parse_args()
    runs = args.runs
    if args.without_httpx2:
        global HIDE
        HIDE = "import sys; sys.modules['httpx2'] = None; "
    times: dict[str, list[float]] = {name: [] for name in CASES}
    once(CASES["httpx_remedy, one 2xx"])  # writes the bytecode caches
    for _ in range(runs):
        for name, code in CASES.items():
            times[name].append(once(code))
    stacks = "httpx alone" if HIDE else "httpx2 installed too"
    print(f"\nImport, wall time of a fresh interpreter ({runs} runs each, alternated; {stacks})")
    print(f"  {'import':<24} {'median ms':>10} {'fastest ms':>11}")
    for name, values in times.items():
        print(f"  {name:<24} {statistics.median(values) * 1e3:>10.1f} {min(values) * 1e3:>11.1f}")
    for name, base in AGAINST.items():
        over = statistics.median(times[name]) - statistics.median(times[base])
        fastest = min(times[name]) - min(times[base])
        print(
            f"  {name} over {base}: {over * 1e3:+.1f} ms (median), {fastest * 1e3:+.1f} ms "
            "(fastest)"
        )
    lazy = loaded_after_import()
    print(f"  loaded by 'import httpx_remedy' of {', '.join(LAZY)}: {', '.join(lazy) or 'none'}")
    if args.instructions:
        counts = {name: instructions(code) for name, code in CASES.items()}
        own = counts["httpx"] - counts["python -c pass"]
        print("\nImport, instructions of a fresh interpreter (callgrind; start-up included)")
        print(f"  {'import':<24} {'instructions':>14} {'over httpx':>12} {'vs import httpx':>16}")
        for name, count in counts.items():
            if name in AGAINST:
                extra = count - counts[AGAINST[name]]
                print(f"  {name:<24} {count:>14,} {extra:>+12,} {extra / own:>+16.0%}")
            else:
                print(f"  {name:<24} {count:>14,}")


if __name__ == "__main__":
    main()
