"""Shared helpers for the benchmarks: interleaved timing rounds, reported as ratios."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable


def per_call(fn: Callable[[], object], calls: int) -> float:
    """Seconds per call of ``fn`` over ``calls`` calls."""
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - start) / calls
    finally:
        gc.enable()


def compare(cases: dict[str, Callable[[], object]], *, calls: int, rounds: int) -> dict[str, float]:
    """Median seconds per call of each case, measured in interleaved rounds.

    Interleaving puts every case through the same machine noise; the median of the rounds drops
    the rounds a neighbour disturbed.
    """
    for fn in cases.values():  # warm up: imports, pools, caches
        per_call(fn, max(calls // 10, 10))
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            samples[name].append(per_call(fn, calls))
    return {name: statistics.median(values) for name, values in samples.items()}


def report(title: str, results: dict[str, float], baseline: str) -> None:
    """Print each case's cost per request and its ratio to ``baseline``."""
    base = results[baseline]
    print(f"\n{title}")
    print(f"  {'case':<46} {'us/request':>11} {'vs ' + baseline:>20}")
    for name, value in results.items():
        ratio = value / base
        print(f"  {name:<46} {value * 1e6:>11.2f} {ratio:>15.3f}x ({(ratio - 1) * 100:+.1f}%)")
