"""Instruction counts per case with valgrind's callgrind, all cases in one process.

Wall time on a shared machine moves by several percent between runs; the number of instructions
a request executes does not. A benchmark script calls :func:`measure` with its cases: run
normally, it re-runs itself under ``valgrind --tool=callgrind`` with collection off, and inside
valgrind each case is counted alone (counters zeroed, collection switched on for exactly the
case's calls, then dumped under the case's name). The dumps are read back and returned as
instructions per call.

The switch is four lines of C using valgrind's client requests (``valgrind/callgrind.h``),
compiled on first use into ``benchmarks/.build/`` with the system's C compiler. Needs valgrind
(Debian: ``apt-get install valgrind``) and gcc.
"""

from __future__ import annotations

import ctypes
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

_SOURCE = r"""
#include <valgrind/callgrind.h>
int remedy_on_valgrind(void) { return RUNNING_ON_VALGRIND; }
void remedy_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_TOGGLE_COLLECT; }
void remedy_stop(const char *name) { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS_AT(name); }
"""

_BUILD = Path(__file__).resolve().parent / ".build"
_ENV = "HTTPX_REMEDY_CALLGRIND_DIR"


def _library() -> ctypes.CDLL:
    _BUILD.mkdir(exist_ok=True)
    source = _BUILD / "callgrind_switch.c"
    library = _BUILD / "callgrind_switch.so"
    current = source.read_text() if source.exists() else ""
    if not library.exists() or current != _SOURCE:
        source.write_text(_SOURCE)
        subprocess.run(
            ["gcc", "-O2", "-shared", "-fPIC", "-o", str(library), str(source)], check=True
        )
    return ctypes.CDLL(str(library))


def _calls_of(fn: Callable[[], object], calls: int) -> int:
    """How many times a case is called: ``calls``, divided by the requests one call makes (a
    case's ``requests`` attribute: an async case sends a batch per call)."""
    return max(1, calls // getattr(fn, "requests", 1))


def under_valgrind() -> bool:
    return os.environ.get(_ENV) is not None


def _count(cases: dict[str, Callable[[], object]], calls: int, warmup: int) -> None:
    """Inside valgrind: count each case's ``calls`` calls on their own."""
    switch = _library()
    switch.remedy_stop.argtypes = [ctypes.c_char_p]
    if not switch.remedy_on_valgrind():
        raise RuntimeError(f"{_ENV} is set but this process is not running under valgrind")
    for index, fn in enumerate(cases.values()):
        times = _calls_of(fn, calls)
        for _ in range(max(1, warmup * times // calls)):  # imports, pools, caches, the token
            fn()
        gc.collect()
        gc.disable()
        switch.remedy_start()
        for _ in range(times):
            fn()
        switch.remedy_stop(f"case{index}".encode())
        gc.enable()


def measure(
    cases: dict[str, Callable[[], object]],
    *,
    calls: int = 200,
    warmup: int = 50,
    keep: Path | None = None,
) -> dict[str, float] | None:
    """Instructions per call of each case; None inside valgrind (the outer process reports).

    Call it from the benchmark's ``main``: the first run re-executes the script under valgrind,
    which builds the same cases and counts them; the counts come back to this process.
    ``keep``: a folder to copy the dumps to (``callgrind.out.N-case<K>``, one per case), for
    ``callgrind_annotate --inclusive=yes FILE`` to say where the instructions go.
    """
    if under_valgrind():
        _count(cases, calls, warmup)
        return None
    if shutil.which("valgrind") is None or shutil.which("gcc") is None:
        raise SystemExit("instruction counts need valgrind and gcc (apt-get install valgrind gcc)")
    _library()  # compiled outside valgrind: faster, and errors show plainly
    with tempfile.TemporaryDirectory(prefix="remedy-callgrind-") as folder:
        env = {**os.environ, _ENV: folder, "PYTHONHASHSEED": "0"}
        command = [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            f"--callgrind-out-file={folder}/callgrind.out",
            sys.executable,
            *sys.argv,
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            raise SystemExit(f"valgrind exited with {done.returncode}")
        totals = _read_dumps(Path(folder))
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for dump in Path(folder).glob("callgrind.out*"):
                shutil.copy(dump, keep / dump.name)
    names = list(cases)
    fns = list(cases.values())
    return {
        names[index]: total / (_calls_of(fns[index], calls) * getattr(fns[index], "requests", 1))
        for index, total in sorted(totals.items())
    }


def _read_dumps(folder: Path) -> dict[int, int]:
    """``case<N>`` dump -> its total instruction count."""
    totals: dict[int, int] = {}
    for dump in folder.glob("callgrind.out*"):
        text = dump.read_text(errors="replace")
        trigger = re.search(r"^desc: Trigger: Client Request: case(\d+)$", text, re.M)
        total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        if trigger and total:
            totals[int(trigger.group(1))] = int(total.group(1))
    return totals


def report(
    title: str,
    counts: dict[str, float],
    baseline: str,
    own: dict[str, str] | None = None,
) -> None:
    """Print each case's instructions per call and its ratio to ``baseline``; with ``own`` (case
    -> the bare row it is read against), its ratio to that row too."""
    base = counts[baseline]
    print(f"\n{title}")
    header = f"  {'case':<64} {'Ir/request':>11} {'vs ' + baseline:>16}"
    print(header + (f"  {'vs its own bare row':>20}" if own else ""))
    for name, value in counts.items():
        ratio = value / base
        line = f"  {name:<64} {value:>11,.0f} {ratio:>9.3f} ({(ratio - 1) * 100:+.1f}%)"
        if own:
            mine = value / counts[own[name]]
            line += f"  {mine:>12.3f} ({(mine - 1) * 100:+.1f}%)"
        print(line)
