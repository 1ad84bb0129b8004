"""What ``import httpx_remedy`` costs over ``import httpx``, in wall time, and what it loads.

Each import runs in a fresh interpreter (``python -c "import ..."``), alternated, ``--runs``
times each; the figure is the median of the runs, with the fastest beside it (the machine's
noise only ever adds time). Then the heavy packages that must wait for the grant that needs
them (authlib and its OAuth server modules, joserfc, cryptography) are checked: each is
reported loaded or not after ``import httpx_remedy`` alone.

Run: ``python benchmarks/import_time.py [--runs N]`` (default 21).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

#: Loaded only when a grant or a DPoP key needs them, never by ``import httpx_remedy``.
LAZY = ("authlib", "joserfc", "cryptography", "httpx_remedy.testing")


# With bytecode caching on, as users run (a checkout may set PYTHONDONTWRITEBYTECODE=1, which
# would time the compiler instead).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


#: With ``--without-httpx2``: ``import httpx2`` fails, as where it is not installed (the
#: library then binds httpx alone).
HIDE = ""


def once(module: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"{HIDE}import {module}"], check=True, env=ENV)
    return time.perf_counter() - start


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
        "--without-httpx2",
        action="store_true",
        help="as if httpx2 were not installed (with it, the library imports it beside httpx)",
    )
    args = parser.parse_args()
    runs = args.runs
    if args.without_httpx2:
        global HIDE
        HIDE = "import sys; sys.modules['httpx2'] = None; "
    times: dict[str, list[float]] = {"python -c pass": [], "httpx": [], "httpx_remedy": []}
    once("httpx_remedy")  # writes the bytecode caches
    for _ in range(runs):
        times["python -c pass"].append(once("sys"))
        times["httpx"].append(once("httpx"))
        times["httpx_remedy"].append(once("httpx_remedy"))
    stacks = "httpx alone" if HIDE else "httpx2 installed too"
    print(f"\nImport, wall time of a fresh interpreter ({runs} runs each, alternated; {stacks})")
    print(f"  {'import':<22} {'median ms':>10} {'fastest ms':>11}")
    for name, values in times.items():
        print(f"  {name:<22} {statistics.median(values) * 1e3:>10.1f} {min(values) * 1e3:>11.1f}")
    over = statistics.median(times["httpx_remedy"]) - statistics.median(times["httpx"])
    fastest = min(times["httpx_remedy"]) - min(times["httpx"])
    print(
        f"  httpx_remedy over httpx: {over * 1e3:+.1f} ms (median), {fastest * 1e3:+.1f} ms "
        "(fastest)"
    )
    lazy = loaded_after_import()
    print(f"  loaded by 'import httpx_remedy' of {', '.join(LAZY)}: {', '.join(lazy) or 'none'}")


if __name__ == "__main__":
    main()
